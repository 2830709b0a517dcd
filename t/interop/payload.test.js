// Payloads near and over the server's max payload (raind's max_payload, Node's
// maxHttpBufferSize), as advertised in the Engine.IO handshake.
//
// Node reference behaviour: a websocket message longer than maxPayload is closed
// with close code 1009, a polling POST body longer than maxPayload is answered 413
// (see badinput.test.js); socket.io-client reports the first as "transport close" and
// the second as "transport error", then reconnects.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

let max;
before(async () => {
  ({ maxPayload: max } = await L.limits());
  assert.ok(max >= 1000000, `maxPayload ${max} is at least 1 MB`);
});

for (const mode of L.MODES) {
  describe(`payload limits over ${mode.name}`, () => {
    after(L.closeAll);

    it("echoes a text payload just under max payload", async () => {
      const s = await L.connect(mode);
      // 300 bytes of 3-byte characters plus ASCII: the whole Engine.IO packet stays
      // about 1 KiB under the limit.
      const text = "€".repeat(100) + "a".repeat(max - 1024 - 300);
      const [args] = await Promise.all([L.once(s, "echo", L.T * 2), s.emit("echo", text)]);
      assert.equal(args.length, 1);
      assert.equal(args[0].length, text.length);
      assert.ok(args[0] === text, "payload intact");
      s.disconnect();
    });

    it("echoes a binary payload just under max payload", async () => {
      const s = await L.connect(mode);
      // over polling a binary travels base64-encoded (4/3 the size)
      const n = mode.name === "polling" ? Math.floor(((max - 1024) * 3) / 4) : max - 1024;
      const blob = Buffer.alloc(n);
      for (let i = 0; i < n; i++) blob[i] = (i * 31 + 7) & 0xff;
      const [args] = await Promise.all([L.once(s, "echo", L.T * 2), s.emit("echo", { blob })]);
      assert.ok(Buffer.isBuffer(args[0].blob));
      assert.ok(args[0].blob.equals(blob), "binary intact");
      s.disconnect();
    });

    it("closes the connection on a payload over the limit; the client reconnects", async (t) => {
      const s = await L.connect(mode, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 });
      const firstId = s.id;
      const disconnected = L.once(s, "disconnect");
      const hello = disconnected.then(() => L.once(s, "hello"));
      s.emit("echo", "o".repeat(max + 1000));
      const [reason] = await disconnected;
      t.diagnostic(`disconnect reason: ${reason}`);
      assert.ok(["transport close", "transport error"].includes(reason), `disconnect reason: ${reason}`);
      const [again] = await hello;
      assert.deepEqual(again, L.HELLO);
      assert.notEqual(s.id, firstId, "a new Socket.IO session");
      assert.deepEqual(await L.ack(s, "ack", "reconnected"), ["reconnected"]);
      s.disconnect();
    });
  });
}
