// The echo component's session events, deferred completion and handler timeout.
//
// SIO_HANDLER_TIMEOUT (ms) must be the server's handler timeout (raind:
// handler_timeout; the reference server reads the same variable); the never-resolve
// tests are skipped without it or when it is over 5000 ms.
// With SIO_COOKIE_SECRET_FILE set, sessions shared by several connections of one
// cookie are tested too.
"use strict";

const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

const HANDLER_TIMEOUT = process.env.SIO_HANDLER_TIMEOUT ? Number(process.env.SIO_HANDLER_TIMEOUT) : null;
const noTimeout = HANDLER_TIMEOUT === null || HANDLER_TIMEOUT > 5000
  ? "set SIO_HANDLER_TIMEOUT to the server's handler timeout (at most 5000 ms)"
  : false;

for (const mode of L.MODES) {
  describe(`session events over ${mode.name}`, { concurrency: true }, () => {
    after(L.closeAll);

    it("session-set/get/put/dump", async () => {
      const s = await L.connect(mode);
      assert.deepEqual(await L.ack(s, "session-get"), [null], "nothing stored yet");
      assert.deepEqual(await L.ack(s, "session-dump"), [{}]);
      const value = { text: "stored ✓", n: [1, 2.5, null], ok: true };
      assert.deepEqual(await L.ack(s, "session-set", value), [true]);
      assert.deepEqual(await L.ack(s, "session-get"), [value]);
      assert.deepEqual(await L.ack(s, "session-put", "other key", [1, "two"]), [true]);
      assert.deepEqual(await L.ack(s, "session-put", "n", 0), [true]);
      assert.deepEqual(await L.ack(s, "session-dump"), [{ value, "other key": [1, "two"], n: 0 }]);
      // overwrite, and store JSON scalars
      for (const v of ["string", 12.5, false, null, [], {}]) {
        assert.deepEqual(await L.ack(s, "session-set", v), [true]);
        assert.deepEqual(await L.ack(s, "session-get"), [v]);
      }
      s.disconnect();
    });

    it("deferred-set acknowledges true after the delay; session-get then returns the value", async () => {
      const s = await L.connect(mode);
      const t0 = Date.now();
      assert.deepEqual(await L.ack(s, "deferred-set", "later", 200), [true]);
      assert.ok(Date.now() - t0 >= 180, `acked after ${Date.now() - t0} ms`);
      assert.deepEqual(await L.ack(s, "session-get"), ["later"]);
      s.disconnect();
    });

    it("events queued behind a deferral wait for it, in order", async () => {
      const s = await L.connect(mode);
      const order = [];
      s.on("echo", (x) => order.push(`echo ${x}`));
      const p1 = L.ackInto(order, "deferred", s, "deferred-set", { v: 1 }, 300);
      const p2 = L.ackInto(order, "get", s, "session-get");
      s.emit("echo", "after");
      const p3 = L.ackInto(order, "deferred2", s, "deferred-set", { v: 2 }, 0);
      const p4 = L.ackInto(order, "get2", s, "session-get");
      await Promise.all([p1, p2, p3, p4]);
      assert.deepEqual(order, [
        "deferred [true]",
        'get [{"v":1}]',
        "echo after",
        "deferred2 [true]",
        'get2 [{"v":2}]',
      ]);
      s.disconnect();
    });

    it("never-resolve is rejected after the handler timeout with an error object", async (t) => {
      if (noTimeout) return t.skip(noTimeout);
      const s = await L.connect(mode);
      const t0 = Date.now();
      const order = [];
      s.on("echo", (x) => order.push(`echo ${x}`));
      const answer = new Promise((resolve, reject) => {
        s.timeout(HANDLER_TIMEOUT + L.T).emit("never-resolve", (err, ...args) => {
          if (err) reject(new Error("no ack at all"));
          else {
            order.push("never-resolve");
            resolve(args);
          }
        });
      });
      // an event sent after waits for the timeout
      const echoed = L.once(s, "echo", HANDLER_TIMEOUT + L.T);
      s.emit("echo", "behind");
      const args = await answer;
      const elapsed = Date.now() - t0;
      t.diagnostic(`ack after ${elapsed} ms: ${JSON.stringify(args)}`);
      assert.equal(args.length, 1, "error-first form with the error only: [{message}]");
      assert.equal(typeof args[0], "object");
      assert.notEqual(args[0], null);
      assert.equal(typeof args[0].message, "string");
      assert.ok(args[0].message.length > 0);
      assert.ok(elapsed >= HANDLER_TIMEOUT * 0.9, `rejected after ${elapsed} ms, handler timeout ${HANDLER_TIMEOUT}`);
      await echoed;
      assert.deepEqual(order, ["never-resolve", "echo behind"]);
      // the socket keeps working
      assert.deepEqual(await L.ack(s, "ack", "fine"), ["fine"]);
      s.disconnect();
    });
  });
}

describe("sessions shared by one cookie", { concurrency: true }, () => {
  after(L.closeAll);
  const noCookie = L.cookieSecret === null ? "set SIO_COOKIE_SECRET_FILE to test sessions across connections" : false;

  it("connections with the same cookie share the session; others do not", async (t) => {
    if (noCookie) return t.skip(noCookie);
    const cookie = L.newCookie();
    const a = await L.connect(L.MODES[0], { cookie });
    const b = await L.connect(L.MODES[1], { cookie });
    const c = await L.connect(L.MODES[2]); // another cookie
    assert.deepEqual(await L.ack(a, "session-set", "shared"), [true]);
    assert.deepEqual(await L.ack(b, "session-get"), ["shared"]);
    assert.deepEqual(await L.ack(c, "session-get"), [null]);
    assert.deepEqual(await L.ack(b, "session-put", "from b", 2), [true]);
    assert.deepEqual(await L.ack(a, "session-dump"), [{ value: "shared", "from b": 2 }]);
    // different keys changed from both connections at once are both kept
    await Promise.all([
      L.ack(a, "session-put", "ka", "A"),
      L.ack(b, "session-put", "kb", "B"),
    ]);
    assert.deepEqual(await L.ack(c, "session-dump"), [{}]);
    const [dump] = await L.ack(a, "session-dump");
    assert.equal(dump.ka, "A");
    assert.equal(dump.kb, "B");
    for (const s of [a, b, c]) s.disconnect();
  });

  it("the session outlives the connection", async (t) => {
    if (noCookie) return t.skip(noCookie);
    const cookie = L.newCookie();
    const a = await L.connect(L.MODES[0], { cookie });
    assert.deepEqual(await L.ack(a, "deferred-set", "persisted", 50), [true]);
    a.disconnect();
    const b = await L.connect(L.MODES[2], { cookie });
    assert.deepEqual(await L.ack(b, "session-get"), ["persisted"]);
    b.disconnect();
  });
});
