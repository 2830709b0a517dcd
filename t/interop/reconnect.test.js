// The echo component's `drop` (mode?): about 50 ms later the server closes the
// socket's Engine.IO connection without a Socket.IO DISCONNECT packet ("hard": TCP
// is aborted without a close frame), so socket.io-client reconnects by itself.
"use strict";

const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300, randomizationFactor: 0 };

describe("reconnection after drop", { concurrency: true }, () => {
  after(L.closeAll);

  for (const mode of L.MODES) {
    for (const how of ["soft", "hard"]) {
      it(`${how} drop over ${mode.name}: disconnect, automatic reconnection, hello again`, async (t) => {
        const s = await L.connect(mode, RECONNECT);
        const firstId = s.id;
        const reasons = [];
        s.on("disconnect", (reason) => reasons.push(reason));
        const hello = L.once(s, "disconnect").then(() => L.once(s, "hello"));
        const t0 = Date.now();
        if (how === "hard") s.emit("drop", "hard");
        else s.emit("drop");
        const [again] = await hello;
        t.diagnostic(`disconnect reason ${JSON.stringify(reasons)}; back after ${Date.now() - t0} ms`);
        assert.deepEqual(again, L.HELLO);
        assert.equal(reasons.length, 1);
        // "io server disconnect" would mean a DISCONNECT packet, and no reconnection
        assert.ok(["transport close", "transport error"].includes(reasons[0]), `reason ${reasons[0]}`);
        assert.ok(s.connected);
        assert.notEqual(s.id, firstId);
        assert.deepEqual(await L.ack(s, "ack", "back"), ["back"]);
        if (mode.upgrade) {
          await L.waitForUpgrade(s.io);
          assert.deepEqual(await L.ack(s, "ack", "upgraded again"), ["upgraded again"]);
        }
        s.disconnect();
      });
    }
  }

  it("raw websocket, soft drop: a close frame and no Socket.IO DISCONNECT", async (t) => {
    const { ws } = await L.rawSio(L.NSP_ECHO);
    await L.rawHello(ws);
    ws.send(`42${L.NSP_ECHO},["drop"]`);
    const { closeFrame, messages } = await ws.closed();
    t.diagnostic(`close frame ${JSON.stringify(closeFrame)}, messages ${JSON.stringify(messages)}`);
    assert.ok(closeFrame, "the server sent a close frame");
    assert.deepEqual(messages.filter((m) => m !== "2"), [], "nothing but pings before the close");
  });

  it("raw websocket, hard drop: TCP closed without a close frame", async () => {
    const { ws } = await L.rawSio(L.NSP_ECHO);
    await L.rawHello(ws);
    ws.send(`42${L.NSP_ECHO},["drop","hard"]`);
    const { closeFrame, messages } = await ws.closed();
    assert.equal(closeFrame, null, "no close frame");
    assert.deepEqual(messages.filter((m) => m !== "2"), []);
  });

  it("raw polling, soft drop: the held GET gets the close packet, then the sid is gone", async (t) => {
    const p = await L.RawPolling.open();
    assert.equal((await p.post(`40${L.NSP_ECHO},`)).status, 200);
    const first = await p.next();
    assert.match(first[0], /^40\/echo\/1\.0\/echo,/);
    const held = p.get();
    assert.equal((await p.post(`42${L.NSP_ECHO},["drop"]`)).status, 200);
    // pings may come before (they are answered); then the close packet "1" and
    // nothing else
    let r = await held;
    let packets;
    for (let i = 0; i < 10; i++) {
      t.diagnostic(`held GET: ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.status, 200);
      packets = r.body.split("\x1e").filter((m) => m !== "2");
      if (packets.length) break;
      await p.post("3");
      r = await p.get();
    }
    assert.deepEqual(packets, ["1"], "only the Engine.IO close packet");
    const gone = await p.get();
    assert.equal(gone.status, 400);
    assert.deepEqual(JSON.parse(gone.body), { code: 1, message: "Session ID unknown" });
  });

  it("raw polling, hard drop: the held GET's connection is aborted, then the sid is gone", async (t) => {
    const p = await L.RawPolling.open();
    assert.equal((await p.post(`40${L.NSP_ECHO},`)).status, 200);
    await p.next();
    const outcome = (req) => req.then(
      (r) => ({ status: r.status, body: r.body }),
      (e) => ({ error: e.code || e.message }),
    );
    let held = outcome(p.get());
    assert.equal((await p.post(`42${L.NSP_ECHO},["drop","hard"]`)).status, 200);
    let o;
    for (let i = 0; i < 10; i++) {
      o = await held;
      t.diagnostic(`held GET: ${JSON.stringify(o)}`);
      // a ping released the poll before the drop: answer it and poll again
      if (o.status === 200 && o.body.split("\x1e").every((m) => m === "2" || m === "6")) {
        await p.post("3");
        held = outcome(p.get());
        continue;
      }
      break;
    }
    if (o.error) {
      assert.match(o.error, /^(ECONNRESET|socket hang up)$/);
    } else {
      // no poll was held at the moment of the drop: the session is simply gone
      assert.equal(o.status, 400, JSON.stringify(o));
      assert.deepEqual(JSON.parse(o.body), { code: 1, message: "Session ID unknown" });
    }
    const gone = await p.get();
    assert.equal(gone.status, 400);
    assert.deepEqual(JSON.parse(gone.body), { code: 1, message: "Session ID unknown" });
  });
});
