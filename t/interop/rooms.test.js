// Rooms and namespace broadcasts among several clients: every recipient exactly
// once, non-members nothing. No fixed waits: a later message on the same path is
// the barrier that shows an earlier duplicate or stray message would have arrived.
"use strict";

const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

for (const mode of L.MODES) {
  // the other clients use the other modes, so every mix meets
  const others = L.MODES.filter((m) => m !== mode);

  describe(`rooms and broadcast, sender over ${mode.name}`, () => {
    after(L.closeAll);

    it("to-room reaches every member exactly once, non-members never; join/leave ack the room", async () => {
      const room = `room ${mode.name} ✓ ${process.pid}-${Date.now()}`;
      const a = await L.connect(mode);
      const b = await L.connect(others[0]);
      const c = await L.connect(others[1]);
      const ra = L.record(a, "room-message");
      const rb = L.record(b, "room-message");
      const rc = L.record(c, "room-message");
      const m = (n) => [room, { n, text: `message ${n}` }];

      assert.deepEqual(await L.ack(a, "join", room), [room]);
      assert.deepEqual(await L.ack(b, "join", room), [room]);

      // 1: a and b are members, a sends
      assert.deepEqual(await L.ack(a, "to-room", ...m(1)), [true]);
      await Promise.all([L.until(a, ra, "room-message", m(1)), L.until(b, rb, "room-message", m(1))]);

      // 2: c joins; its first room message must be 2, not 1
      assert.deepEqual(await L.ack(c, "join", room), [room]);
      assert.deepEqual(await L.ack(a, "to-room", ...m(2)), [true]);
      await Promise.all([
        L.until(a, ra, "room-message", m(2)),
        L.until(b, rb, "room-message", m(2)),
        L.until(c, rc, "room-message", m(2)),
      ]);

      // 3: b leaves and, no longer a member, sends: a and c get it, b does not
      assert.deepEqual(await L.ack(b, "leave", room), [room]);
      assert.deepEqual(await L.ack(b, "to-room", ...m(3)), [true]);
      await Promise.all([L.until(a, ra, "room-message", m(3)), L.until(c, rc, "room-message", m(3))]);

      // 4: b joins again; its next room message must be 4, not 3
      assert.deepEqual(await L.ack(b, "join", room), [room]);
      assert.deepEqual(await L.ack(c, "to-room", ...m(4)), [true]);
      await Promise.all([
        L.until(a, ra, "room-message", m(4)),
        L.until(b, rb, "room-message", m(4)),
        L.until(c, rc, "room-message", m(4)),
      ]);

      assert.deepEqual(ra, [m(1), m(2), m(3), m(4)], "a: every message once, in order");
      assert.deepEqual(rb, [m(1), m(2), m(4)], "b: nothing while not a member");
      assert.deepEqual(rc, [m(2), m(3), m(4)], "c: nothing before it joined");

      // a room nobody joined: the ack still comes, nobody gets a message; then 5 to
      // the real room is everyone's next one
      assert.deepEqual(await L.ack(a, "to-room", room + " (empty)", "lost"), [true]);
      assert.deepEqual(await L.ack(a, "to-room", ...m(5)), [true]);
      await Promise.all([
        L.until(a, ra, "room-message", m(5)),
        L.until(b, rb, "room-message", m(5)),
        L.until(c, rc, "room-message", m(5)),
      ]);
      assert.deepEqual(ra.at(-2), m(4));
      assert.deepEqual(rb.at(-2), m(4));
      assert.deepEqual(rc.at(-2), m(4));

      // binary payloads go to rooms too
      const blob = Buffer.from([0, 1, 2, 250, 255]);
      assert.deepEqual(await L.ack(a, "to-room", room, { blob }), [true]);
      const want = [room, { blob }];
      await Promise.all([L.until(b, rb, "room-message", want), L.until(c, rc, "room-message", want)]);
      assert.ok(Buffer.isBuffer(rb.at(-1)[1].blob));

      // to-room without an ack works as well
      a.emit("to-room", room, "no ack");
      await L.until(c, rc, "room-message", [room, "no ack"]);

      for (const s of [a, b, c]) s.disconnect();
    });

    it("broadcast reaches every socket of the namespace exactly once, sender included", async () => {
      const clients = [
        await L.connect(mode),
        await L.connect(others[0]),
        await L.connect(others[1]),
        await L.connect(mode),
      ];
      const chat = await L.connect(mode, { nsp: L.NSP_CHAT });
      const chatBroadcasts = L.record(chat, "broadcast");
      const recs = clients.map((s) => L.record(s, "broadcast"));
      const tag = `${mode.name}-${process.pid}-${Date.now()}`;
      const mine = (rec) => rec.filter((args) => args[0] && args[0].tag === tag);

      assert.deepEqual(await L.ack(clients[0], "broadcast", { tag, n: 1 }), [true]);
      await Promise.all(clients.map((s, i) => L.until(s, recs[i], "broadcast", [{ tag, n: 1 }])));
      assert.deepEqual(await L.ack(clients[2], "broadcast", { tag, n: 2, blob: Buffer.from("bin") }), [true]);
      await Promise.all(clients.map((s, i) => L.until(s, recs[i], "broadcast", [{ tag, n: 2, blob: Buffer.from("bin") }])));
      // without an ack
      clients[1].emit("broadcast", { tag, n: 3 });
      await Promise.all(clients.map((s, i) => L.until(s, recs[i], "broadcast", [{ tag, n: 3 }])));

      for (const rec of recs) {
        assert.deepEqual(mine(rec).map((a) => a[0].n), [1, 2, 3], "each broadcast exactly once, in order");
      }
      assert.deepEqual(chatBroadcasts, [], "broadcasts stay in their namespace");
      for (const s of clients) s.disconnect();
      chat.disconnect();
    });
  });
}
