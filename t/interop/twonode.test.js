// Two nodes sharing one Redis: SIO_URL and SIO_URL2. Skipped without SIO_URL2.
// run-node-reference.sh runs these with SIO_URL2 = SIO_URL (one Node server) to
// check the tests themselves; the tests that need two distinct nodes are then
// skipped.
"use strict";

const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

const NSP = L.NSP_ECHO;
const skip = L.URL2 ? false : "SIO_URL2 is not set";
const sameNode = L.URL2 && new URL(L.URL2).host === new URL(L.URL1).host;

describe("two nodes", { skip }, () => {
  after(L.closeAll);
  const [WS, POLL, UP] = L.MODES;

  it("a room emit from node 1 reaches members on node 2 exactly once, and back", async () => {
    const room = `two-node room ${process.pid}-${Date.now()}`;
    const a = await L.connect(WS, { url: L.URL1 });
    const b = await L.connect(POLL, { url: L.URL2 });
    const c = await L.connect(WS, { url: L.URL2 });
    const d = await L.connect(UP, { url: L.URL2 });
    const recs = [a, b, c, d].map((s) => L.record(s, "room-message"));
    for (const s of [a, b, d]) assert.deepEqual(await L.ack(s, "join", room), [room]);
    const m = (n) => [room, { n }];
    assert.deepEqual(await L.ack(a, "to-room", ...m(1)), [true]);
    await Promise.all([a, b, d].map((s, i) => L.until(s, recs[[0, 1, 3][i]], "room-message", m(1))));
    assert.deepEqual(await L.ack(b, "to-room", ...m(2)), [true]);
    await Promise.all([a, b, d].map((s, i) => L.until(s, recs[[0, 1, 3][i]], "room-message", m(2))));
    // c joins late: its first room message is 3
    assert.deepEqual(await L.ack(c, "join", room), [room]);
    assert.deepEqual(await L.ack(d, "to-room", ...m(3)), [true]);
    await Promise.all([a, b, c, d].map((s, i) => L.until(s, recs[i], "room-message", m(3))));
    assert.deepEqual(recs[0], [m(1), m(2), m(3)]);
    assert.deepEqual(recs[1], [m(1), m(2), m(3)]);
    assert.deepEqual(recs[2], [m(3)]);
    assert.deepEqual(recs[3], [m(1), m(2), m(3)]);
    for (const s of [a, b, c, d]) s.disconnect();
  });

  it("a broadcast reaches every socket on both nodes exactly once", async () => {
    const clients = [
      await L.connect(WS, { url: L.URL1 }),
      await L.connect(POLL, { url: L.URL1 }),
      await L.connect(WS, { url: L.URL2 }),
      await L.connect(POLL, { url: L.URL2 }),
    ];
    const tag = `two-node ${process.pid}-${Date.now()}`;
    const recs = clients.map((s) => L.record(s, "broadcast"));
    assert.deepEqual(await L.ack(clients[0], "broadcast", { tag, n: 1 }), [true]);
    await Promise.all(clients.map((s, i) => L.until(s, recs[i], "broadcast", [{ tag, n: 1 }])));
    assert.deepEqual(await L.ack(clients[3], "broadcast", { tag, n: 2 }), [true]);
    await Promise.all(clients.map((s, i) => L.until(s, recs[i], "broadcast", [{ tag, n: 2 }])));
    for (const rec of recs) {
      assert.deepEqual(rec.filter((a) => a[0] && a[0].tag === tag).map((a) => a[0].n), [1, 2]);
    }
    for (const s of clients) s.disconnect();
  });

  it("a session set through node 1 is read through node 2", async (t) => {
    if (L.cookieSecret === null) return t.skip("set SIO_COOKIE_SECRET_FILE");
    const cookie = L.newCookie();
    const a = await L.connect(WS, { url: L.URL1, cookie });
    const b = await L.connect(POLL, { url: L.URL2, cookie });
    assert.deepEqual(await L.ack(a, "deferred-set", { from: "node 1" }, 10), [true]);
    assert.deepEqual(await L.ack(b, "session-get"), [{ from: "node 1" }]);
    assert.deepEqual(await L.ack(b, "session-put", "k2", "node 2"), [true]);
    assert.deepEqual(await L.ack(a, "session-dump"), [{ value: { from: "node 1" }, k2: "node 2" }]);
    a.disconnect();
    b.disconnect();
  });

  it("a polling-only session whose requests alternate between the nodes", async () => {
    const headers = L.authHeaders();
    const urls = [L.URL1, L.URL2];
    let turn = 0;
    const nextUrl = () => urls[turn++ % 2];
    const hs = await L.pollingHandshake({ url: nextUrl(), headers });
    const path = L.eioPath(`EIO=4&transport=polling&sid=${encodeURIComponent(hs.sid)}`);
    const post = async (body) => {
      const r = await L.request("POST", path, { url: nextUrl(), body, headers: { "Content-Type": "text/plain;charset=UTF-8", ...headers } });
      assert.equal(r.status, 200, `POST ${body}: ${r.status} ${r.body}`);
      assert.equal(r.body, "ok");
    };
    const poll = async () => {
      for (;;) {
        const r = await L.request("GET", path, { url: nextUrl(), headers });
        assert.equal(r.status, 200, `GET: ${r.status} ${r.body}`);
        const packets = r.body.split("\x1e").filter((m) => m !== "6");
        // answer pings through whichever node comes next
        const pings = packets.filter((m) => m === "2").length;
        for (let i = 0; i < pings; i++) await post("3");
        const rest = packets.filter((m) => m !== "2");
        if (rest.length) return rest;
      }
    };
    const expect = async (want) => {
      const got = [];
      while (got.length < want.length) got.push(...(await poll()));
      assert.deepEqual(got.map((m, i) => (want[i] instanceof RegExp ? want[i].test(m) : m === want[i]) || m), want.map(() => true));
    };
    await post(`40${NSP},`);
    await expect([/^40\/echo\/1\.0\/echo,\{"sid":"[^"]+"\}$/, `42${NSP},["hello",{"message":"Hello Sockets!"}]`]);
    await post(`42${NSP},["echo","alternating ✓"]`);
    await expect([`42${NSP},["echo","alternating ✓"]`]);
    await post(`42${NSP},5["ack",1,{"two":2}]`);
    await expect([`43${NSP},5[1,{"two":2}]`]);
    await post(`42${NSP},["server-ack","q"]\x1e42${NSP},6["join","alt room"]`);
    const [ask, joined] = await poll().then(async (p) => (p.length >= 2 ? p : p.concat(await poll())));
    const id = /^42\/echo\/1\.0\/echo,(\d+)\["please-ack","q"\]$/.exec(ask);
    assert.ok(id, ask);
    assert.equal(joined, `43${NSP},6["alt room"]`);
    await post(`43${NSP},${id[1]}["answer"]`);
    await expect([`42${NSP},["acked","answer"]`]);
    await post(`42${NSP},7["to-room","alt room",{"x":1}]`);
    await expect([`42${NSP},["room-message","alt room",{"x":1}]`, `43${NSP},7[true]`]);
    await post("1");
  });

  it("a websocket upgrade on node 2 of a sid owned by node 1 is refused with 400; polling continues", async (t) => {
    if (sameNode) return t.skip("SIO_URL2 is the same server as SIO_URL");
    const p = await L.RawPolling.open({ url: L.URL1 });
    try {
      const ws = await L.RawWs.connect(L.eioPath(`EIO=4&transport=websocket&sid=${p.sid}`), { url: L.URL2, headers: p.headers });
      ws.destroy();
      assert.fail("the upgrade was accepted");
    } catch (e) {
      if (!e.response) throw e;
      assert.equal(e.response.status, 400);
    }
    assert.equal((await p.post(`40${NSP},`)).status, 200);
    const packets = await p.next();
    assert.match(packets[0], /^40\/echo\/1\.0\/echo,/);
  });
});
