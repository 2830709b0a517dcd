// Publishing from a backend: the npm package @socket.io/redis-emitter, unchanged,
// and POST /publish on raind's admin_listen. Skipped without SIO_REDIS_URL (the
// nodes' Redis, e.g. redis://127.0.0.1:6390 or unix:///path/redis.sock); the
// POST /publish tests also need SIO_ADMIN_URL and SIO_ADMIN_TOKEN. Clients are
// spread over SIO_URL and SIO_URL2 (when set) and over the three transports.
//
// "Exactly once": after the message under test, a sentinel goes the same way
// (the same Redis connection, so every subscriber gets it after the first);
// once every client has the sentinel, each must have had the message once.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

const REDIS_URL = process.env.SIO_REDIS_URL || null;
const ADMIN_URL = process.env.SIO_ADMIN_URL || null;
const ADMIN_TOKEN = process.env.SIO_ADMIN_TOKEN || null;
const NSP = L.NSP_ECHO;
const skip = REDIS_URL ? false : "SIO_REDIS_URL is not set";

function redisOptions() {
  if (REDIS_URL && REDIS_URL.startsWith("unix://")) {
    return { socket: { path: REDIS_URL.slice("unix://".length) } };
  }
  return { url: REDIS_URL };
}

// Six clients: each transport on each node; their socket id and a record of "news".
async function clients() {
  const urls = [L.URL1, L.URL2 || L.URL1];
  const out = [];
  for (const url of urls) {
    for (const mode of L.MODES) {
      const s = await L.connect(mode, { url });
      out.push({ s, news: L.record(s, "news"), mark: L.record(s, "mark") });
    }
  }
  return out;
}

async function join(c, room) {
  assert.deepEqual(await L.ack(c.s, "join", room), [room]);
}

// Wait until every client in cs has the sentinel `mark` tagged tag.
function marked(cs, tag) {
  return Promise.all(cs.map((c) => L.until(c.s, c.mark, "mark", [tag])));
}

function newsOf(c, tag) {
  return c.news.filter((a) => a[0] && a[0].tag === tag);
}

describe("the Socket.IO redis emitter", { skip }, () => {
  let Emitter, redis, emitter;

  before(async () => {
    ({ Emitter } = require("@socket.io/redis-emitter"));
    const { createClient } = require("redis");
    redis = createClient(redisOptions());
    await redis.connect();
    emitter = new Emitter(redis);
  });
  after(async () => {
    L.closeAll();
    if (redis) await redis.quit();
  });

  it("of(nsp).emit reaches every socket of the namespace on every node once", async () => {
    const cs = await clients();
    const tag = `all ${process.pid}-${Date.now()}`;
    emitter.of(NSP).emit("news", { tag, n: 1 }, "two", 3, [true, null]);
    emitter.of(NSP).emit("mark", tag);
    await marked(cs, tag);
    for (const c of cs) {
      assert.deepEqual(newsOf(c, tag), [[{ tag, n: 1 }, "two", 3, [true, null]]]);
    }
    for (const c of cs) c.s.disconnect();
  });

  it("to(room) reaches the room's members only; except(room) leaves some out", async () => {
    const cs = await clients();
    const room = `room ${process.pid}-${Date.now()}`;
    const vip = `vip ${process.pid}-${Date.now()}`;
    // Members: 0, 2, 3, 5 (both nodes, all transports); 3 and 5 are also vips.
    for (const i of [0, 2, 3, 5]) await join(cs[i], room);
    for (const i of [3, 5]) await join(cs[i], vip);
    const t1 = `to ${process.pid}-${Date.now()}`;
    emitter.of(NSP).to(room).emit("news", { tag: t1 });
    const t2 = `except ${process.pid}-${Date.now()}`;
    emitter.of(NSP).to(room).except(vip).emit("news", { tag: t2 });
    const t3 = `except-all ${process.pid}-${Date.now()}`;
    emitter.of(NSP).except(vip).emit("news", { tag: t3 });
    const t4 = `union ${process.pid}-${Date.now()}`;
    emitter.of(NSP).to([room, vip]).emit("news", { tag: t4 });
    const end = `end ${process.pid}-${Date.now()}`;
    emitter.of(NSP).emit("mark", end);
    await marked(cs, end);
    cs.forEach((c, i) => {
      const member = [0, 2, 3, 5].includes(i);
      const isVip = [3, 5].includes(i);
      assert.equal(newsOf(c, t1).length, member ? 1 : 0, `client ${i}: to(room)`);
      assert.equal(newsOf(c, t2).length, member && !isVip ? 1 : 0, `client ${i}: to(room).except(vip)`);
      assert.equal(newsOf(c, t3).length, isVip ? 0 : 1, `client ${i}: except(vip)`);
      assert.equal(newsOf(c, t4).length, member ? 1 : 0, `client ${i}: to([room, vip]) once`);
    });
    for (const c of cs) c.s.disconnect();
  });

  it("binary arguments arrive as binary", async () => {
    const cs = await clients();
    const tag = `bin ${process.pid}-${Date.now()}`;
    emitter.of(NSP).emit("news", { tag }, Buffer.from([0, 1, 2, 255]), { nested: Buffer.from("xyz") });
    emitter.of(NSP).emit("mark", tag);
    await marked(cs, tag);
    for (const c of cs) {
      const got = newsOf(c, tag);
      assert.equal(got.length, 1);
      assert.deepEqual([...new Uint8Array(got[0][1])], [0, 1, 2, 255]);
      assert.equal(Buffer.from(got[0][2].nested).toString(), "xyz");
    }
    for (const c of cs) c.s.disconnect();
  });

  it("a Date arrives as JSON gives it", async () => {
    const cs = await clients();
    const tag = `date ${process.pid}-${Date.now()}`;
    const when = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
    emitter.of(NSP).emit("news", { tag, when });
    emitter.of(NSP).emit("mark", tag);
    await marked(cs, tag);
    for (const c of cs) assert.deepEqual(newsOf(c, tag), [[{ tag, when: when.toJSON() }]]);
    for (const c of cs) c.s.disconnect();
  });
});

const skipAdmin = ADMIN_URL && ADMIN_TOKEN ? false : "SIO_ADMIN_URL or SIO_ADMIN_TOKEN is not set";

function publish(body, { token = ADMIN_TOKEN, raw } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  return L.request("POST", "/publish", {
    url: ADMIN_URL, headers, body: raw !== undefined ? raw : JSON.stringify(body),
  });
}

describe("POST /publish on admin_listen", { skip: skipAdmin }, () => {
  after(L.closeAll);

  it("publishes to a namespace, a room, except rooms, on every node once", async () => {
    const cs = await clients();
    const room = `p-room ${process.pid}-${Date.now()}`;
    const vip = `p-vip ${process.pid}-${Date.now()}`;
    for (const i of [1, 2, 4]) await join(cs[i], room);
    await join(cs[4], vip);
    const t1 = `p-all ${process.pid}-${Date.now()}`;
    let r = await publish({ namespace: NSP, event: "news", args: [{ tag: t1 }, 1.5, "é"] });
    assert.equal(r.status, 202, r.body);
    assert.equal(r.headers["content-type"], "application/json");
    assert.ok(JSON.parse(r.body).receivers >= 1);
    const t2 = `p-room ${process.pid}-${Date.now()}`;
    r = await publish({ namespace: NSP, room, except: [vip], event: "news", args: [{ tag: t2 }] });
    assert.equal(r.status, 202, r.body);
    const end = `p-end ${process.pid}-${Date.now()}`;
    r = await publish({ namespace: NSP, event: "mark", args: [end] });
    assert.equal(r.status, 202, r.body);
    await marked(cs, end);
    cs.forEach((c, i) => {
      assert.deepEqual(newsOf(c, t1), [[{ tag: t1 }, 1.5, "é"]], `client ${i}`);
      assert.equal(newsOf(c, t2).length, [1, 2].includes(i) ? 1 : 0, `client ${i}: room except vip`);
    });
    for (const c of cs) c.s.disconnect();
  });

  it("refuses without the token, with a bad body, and beyond max_payload", async () => {
    const ok = { namespace: NSP, event: "news", args: [] };
    let r = await publish(ok, { token: null });
    assert.equal(r.status, 401);
    assert.match(r.headers["www-authenticate"], /^Bearer/);
    assert.ok(JSON.parse(r.body).error);
    r = await publish(ok, { token: ADMIN_TOKEN + "x" });
    assert.equal(r.status, 401);
    r = await publish(ok, { token: ADMIN_TOKEN.slice(1) });
    assert.equal(r.status, 401);
    for (const [body, why] of [
      [{ event: "news" }, /namespace/],
      [{ namespace: "nope", event: "news" }, /namespace/],
      [{ namespace: "/no/such/ns", event: "news" }, /namespace/],
      [{ namespace: NSP }, /event/],
      [{ namespace: NSP, event: "connect" }, /reserved/],
      [{ namespace: NSP, event: "news", args: {} }, /args/],
      [{ namespace: NSP, event: "news", room: 5 }, /room/],
      [{ namespace: NSP, event: "news", except: [""] }, /except/],
      [{ namespace: NSP, event: "news", colour: "red" }, /unknown field/],
    ]) {
      r = await publish(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(JSON.parse(r.body).error, why);
    }
    r = await publish(null, { raw: "{not json" });
    assert.equal(r.status, 400);
    r = await publish(null, { raw: JSON.stringify({ ...ok, args: ["x".repeat(2 * 1024 * 1024)] }) });
    assert.equal(r.status, 413);
    assert.equal(r.headers["content-type"], "application/json");
    assert.ok(JSON.parse(r.body).error);
    r = await L.request("GET", "/publish", { url: ADMIN_URL });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "POST");
  });

  it("is not on the public port", async () => {
    const r = await L.request("POST", "/publish", {
      url: L.URL1, body: JSON.stringify({ namespace: NSP, event: "news" }),
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(r.status, 404);
  });
});
