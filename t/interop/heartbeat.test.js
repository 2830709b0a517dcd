// Engine.IO v4 heartbeat: the server sends "2" every pingInterval and closes a
// session that has not answered "3" within pingTimeout.
//
// These tests need a server with a short heartbeat (raind: ping_interval and
// ping_timeout; the reference server: SIO_PING_INTERVAL and SIO_PING_TIMEOUT), e.g.
// 300 and 200 ms; they are skipped when pingInterval + pingTimeout exceeds 4 s.
//
// Node reference behaviour (what raind matches):
// - a silent websocket is closed pingInterval + pingTimeout after the handshake
//   (one "2" was sent) with a close frame, then TCP is closed;
// - a silent polling session: the GET held when the timeout fires is answered 200
//   with the close packet "1"; after that the sid is unknown (400, code 1).
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { Socket: EioSocket } = require("engine.io-client");
const L = require("./lib.js");

let I, TO, skip = false;
before(async () => {
  ({ pingInterval: I, pingTimeout: TO } = await L.limits());
  if (I + TO > 4000) skip = `server heartbeat ${I}+${TO} ms is too slow for these tests (use e.g. 300+200)`;
});

function maybeSkip(t) {
  if (skip) {
    t.skip(skip);
    return true;
  }
  return false;
}

describe("heartbeat", { concurrency: true }, () => {
  after(L.closeAll);

  for (const mode of L.MODES) {
    it(`a quiet socket.io-client over ${mode.name} stays connected across pings`, async (t) => {
      if (maybeSkip(t)) return;
      const s = await L.connect(mode);
      const disconnects = L.record(s, "disconnect");
      const N = 4;
      const times = [];
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${times.length} pings in ${N * I + 2 * TO + 2000} ms`)), N * I + 2 * TO + 2000);
        s.io.on("ping", () => {
          times.push(Date.now());
          if (times.length === N) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      for (let i = 1; i < N; i++) {
        assert.ok(times[i] - times[i - 1] >= I * 0.5, `pings ${times[i] - times[i - 1]} ms apart, pingInterval ${I}`);
      }
      assert.deepEqual(disconnects, []);
      assert.ok(s.connected);
      assert.deepEqual(await L.ack(s, "ack", "alive"), ["alive"]);
      s.disconnect();
    });
  }

  it("a raw websocket that answers pings stays open", async (t) => {
    if (maybeSkip(t)) return;
    const { ws } = await L.rawEio();
    let pings = 0;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${pings} pings`)), 3 * I + 2 * TO + 2000);
      ws.on("message", (m) => {
        if (m !== "2") return;
        ws.send("3");
        if (++pings === 3) {
          clearTimeout(timer);
          resolve();
        }
      });
      ws.on("end", () => reject(new Error("closed although it answered every ping")));
    });
    ws.inbox.length = 0;
    ws.send(`40${L.NSP_ECHO},`);
    let m;
    do m = await ws.next(); while (m === "2");
    assert.match(m, /^40\/echo\/1\.0\/echo,\{"sid":"[^"]+"\}$/);
    ws.destroy();
  });

  it("a raw websocket that never answers is closed after pingInterval + pingTimeout", async (t) => {
    if (maybeSkip(t)) return;
    const t0 = Date.now();
    const { ws, hs } = await L.rawEio();
    assert.equal(hs.pingInterval, I);
    const { closeFrame, messages } = await ws.closed(I + TO + 3000);
    const elapsed = Date.now() - t0;
    t.diagnostic(`closed after ${elapsed} ms, close frame ${JSON.stringify(closeFrame)}, messages ${JSON.stringify(messages)}`);
    assert.deepEqual(messages, ["2"], "one ping, then the close");
    assert.ok(elapsed >= (I + TO) * 0.8, `closed after ${elapsed} ms, expected about ${I + TO}`);
    assert.ok(elapsed <= I + TO + 1500, `closed after ${elapsed} ms, expected about ${I + TO}`);
  });

  it("a raw polling session that never answers is closed after pingInterval + pingTimeout", async (t) => {
    if (maybeSkip(t)) return;
    const t0 = Date.now();
    const p = await L.RawPolling.open();
    assert.deepEqual(await p.poll({ timeout: I + TO + 2000 }), ["2"], "the first held GET brings the ping");
    const t1 = Date.now() - t0;
    assert.ok(t1 >= I * 0.8, `ping after ${t1} ms, pingInterval ${I}`);
    const r = await p.get({ timeout: TO + 2000 });
    const elapsed = Date.now() - t0;
    t.diagnostic(`ping after ${t1} ms; GET answered after ${elapsed} ms: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.split("\x1e"), ["1"], "the held GET gets the close packet");
    assert.ok(elapsed >= (I + TO) * 0.8 && elapsed <= I + TO + 1500, `closed after ${elapsed} ms`);
    const gone = await p.get();
    assert.equal(gone.status, 400);
    assert.deepEqual(JSON.parse(gone.body), { code: 1, message: "Session ID unknown" });
  });

  for (const transport of ["websocket", "polling"]) {
    it(`an engine.io-client over ${transport} with its pongs suppressed is dropped`, async (t) => {
      if (maybeSkip(t)) return;
      const cookie = L.newCookie();
      const sock = new EioSocket(L.URL1, {
        path: L.PATH,
        transports: [transport],
        upgrade: false,
        extraHeaders: cookie ? { Cookie: cookie } : undefined,
      });
      const origSend = sock._sendPacket;
      assert.equal(typeof origSend, "function", "engine.io-client internals changed");
      sock._sendPacket = function (type, ...rest) {
        if (type === "pong") return;
        return origSend.call(this, type, ...rest);
      };
      await L.once(sock, "open");
      const t0 = Date.now();
      const pings = L.record(sock, "ping");
      const [reason] = await L.once(sock, "close", I + TO + 3000);
      const elapsed = Date.now() - t0;
      t.diagnostic(`closed after ${elapsed} ms: ${reason}`);
      assert.equal(pings.length, 1, "one ping before the close");
      // the server closes (transport close) before the client's own timer, which
      // would only fire pingInterval + pingTimeout after the ping
      assert.equal(reason, "transport close");
      assert.ok(elapsed <= I + TO + 1500, `closed after ${elapsed} ms`);
    });
  }
});
