// Events, JSON of every type, binary attachments and acknowledgements, with the
// official socket.io-client over each transport mode.
"use strict";

const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

// JSON values of every type. Each must come back deep-equal.
const VALUES = [
  null,
  true,
  false,
  0,
  1,
  -1,
  42,
  -273.15,
  0.1,
  3.141592653589793,
  -0.000001,
  1e-300,
  1e21,
  1.7976931348623157e308,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  2 ** 53,
  2 ** 63,
  2 ** 64, // beyond int64: "18446744073709552000" on the wire
  -(2 ** 64),
  "",
  "plain ascii",
  "quotes \" and \\ backslash / slash",
  "controls \n\r\t\b\f \u0001 \u001f and nul \u0000 inside",
  "unicode: é ß 中文 Ελληνικά עברית",
  "emoji: 😀 🎉 👩‍👩‍👧 🇷🇴",
  "line separators: \u2028 and \u2029",
  "bom \ufeff and max bmp \uffff",
  "x".repeat(10000),
  [],
  {},
  [[]],
  [{}],
  { "": "" },
  [1, "two", null, true, { three: [3.5] }],
  { a: 1, b: [true, false, null], c: { d: { e: { f: "deep" } } }, "ключ 🔑": "значение" },
  { arr: Array.from({ length: 100 }, (_, i) => i * 1.5 - 50) },
  JSON.parse("[".repeat(30) + "\"deep\"" + "]".repeat(30)),
];

function bytes(n, seed = 0) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

for (const mode of L.MODES) {
  describe(`events over ${mode.name}`, () => {
    after(L.closeAll);

    it("connects and receives hello", async () => {
      const s = await L.connect(mode);
      assert.deepEqual(s.helloData, L.HELLO);
      assert.equal(typeof s.id, "string");
      assert.ok(s.id.length > 0);
      assert.equal(L.transportName(s), mode.name === "polling" ? "polling" : "websocket");
      s.disconnect();
    });

    it("echoes JSON values of every type, one per event", async () => {
      const s = await L.connect(mode);
      const got = L.collect(s, "echo", VALUES.length);
      for (const v of VALUES) s.emit("echo", v);
      const answers = await got;
      for (let i = 0; i < VALUES.length; i++) {
        assert.deepEqual(answers[i], [VALUES[i]], `value #${i}`);
      }
      s.disconnect();
    });

    it("echoes all arguments of one event", async () => {
      const s = await L.connect(mode);
      const [args] = await Promise.all([L.once(s, "echo"), s.emit("echo", ...VALUES)]);
      assert.deepEqual(args, VALUES);
      const [none] = await Promise.all([L.once(s, "echo"), s.emit("echo")]);
      assert.deepEqual(none, []);
      s.disconnect();
    });

    it("echoes binary attachments nested in objects and arrays", async () => {
      const s = await L.connect(mode);
      const payload = [
        { a: bytes(3), nested: [bytes(0), { deep: bytes(256, 1) }, "text", 7] },
        bytes(1000, 2),
        "after binaries",
        [bytes(1, 3), [bytes(2, 4), { x: bytes(5, 5) }]],
        { none: null, n: 1 },
      ];
      const [args] = await Promise.all([L.once(s, "echo"), s.emit("echo", ...payload)]);
      assert.equal(args.length, payload.length);
      assert.ok(Buffer.isBuffer(args[0].a), "binary arrives as a Buffer");
      assert.deepEqual(args, payload);
      // a lone binary argument, and a binary that is the only value of an array
      const [lone] = await Promise.all([L.once(s, "echo"), s.emit("echo", bytes(70000, 9))]);
      assert.deepEqual(lone, [bytes(70000, 9)]);
      s.disconnect();
    });

    it("acknowledges `ack` with exactly the same arguments", async () => {
      const s = await L.connect(mode);
      assert.deepEqual(await L.ack(s, "ack", 1, "two", { three: [3] }, null, [true]), [1, "two", { three: [3] }, null, [true]]);
      assert.deepEqual(await L.ack(s, "ack"), []);
      assert.deepEqual(await L.ack(s, "ack", ...VALUES), VALUES);
      const bin = { blob: bytes(100, 3), list: [bytes(4), "x"] };
      assert.deepEqual(await L.ack(s, "ack", bin, bytes(10)), [bin, bytes(10)]);
      s.disconnect();
    });

    it("answers other events asking for an ack with RAIN's default form [null, null]", async () => {
      const s = await L.connect(mode);
      const order = [];
      s.on("echo", () => order.push("echo"));
      const answer = await L.ackInto(order, "ack", s, "echo", "with ack");
      assert.deepEqual(answer, [null, null]);
      assert.deepEqual(order, ["echo", "ack [null,null]"], "the echo is emitted before the listener completes");
      s.disconnect();
    });

    it("server-ack: the server asks the client for an ack and reports the answer", async () => {
      const s = await L.connect(mode);
      s.on("please-ack", (...args) => {
        const cb = args.pop();
        assert.equal(typeof cb, "function", "please-ack asks for an acknowledgement");
        cb("answer", { to: args }, 42);
      });
      const [acked] = await Promise.all([L.once(s, "acked"), s.emit("server-ack", "q", { n: 1 })]);
      assert.deepEqual(acked, ["answer", { to: ["q", { n: 1 }] }, 42]);

      // with binary both ways (BINARY_EVENT to the client, BINARY_ACK from it)
      s.off("please-ack");
      s.on("please-ack", (...args) => {
        const cb = args.pop();
        cb({ got: args[0], extra: bytes(9, 9) });
      });
      const [backed] = await Promise.all([L.once(s, "acked"), s.emit("server-ack", bytes(33, 1))]);
      assert.deepEqual(backed, [{ got: bytes(33, 1), extra: bytes(9, 9) }]);

      // an answer with no arguments
      s.off("please-ack");
      s.on("please-ack", (cb) => cb());
      const [empty] = await Promise.all([L.once(s, "acked"), s.emit("server-ack")]);
      assert.deepEqual(empty, []);
      s.disconnect();
    });

    it("keeps the order of a burst of events, text and binary mixed", async () => {
      const s = await L.connect(mode);
      const N = 300;
      const got = L.collect(s, "echo", N, L.T * 2);
      for (let i = 0; i < N; i++) {
        if (i % 10 === 3) s.emit("echo", i, bytes(i, i));
        else s.emit("echo", i, "m".repeat(i));
      }
      const answers = await got;
      for (let i = 0; i < N; i++) {
        assert.equal(answers[i][0], i, "order");
        assert.deepEqual(answers[i][1], i % 10 === 3 ? bytes(i, i) : "m".repeat(i));
      }
      s.disconnect();
    });

    if (mode.upgrade) {
      it("delivers everything sent while the transport upgrades, in order", async () => {
        const s = await L.connect(mode, { waitUpgrade: false });
        const upgraded = L.waitForUpgrade(s.io);
        const N = 100;
        const got = L.collect(s, "echo", N);
        for (let i = 0; i < N; i++) s.emit("echo", i, i % 7 === 0 ? bytes(i) : "during upgrade");
        await upgraded;
        const answers = await got;
        assert.deepEqual(answers.map((a) => a[0]), Array.from({ length: N }, (_, i) => i));
        assert.equal(L.transportName(s), "websocket");
        assert.deepEqual(await L.ack(s, "ack", "after upgrade"), ["after upgrade"]);
        s.disconnect();
      });
    }
  });
}
