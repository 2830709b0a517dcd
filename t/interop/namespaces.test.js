// Several namespaces multiplexed on one Engine.IO connection, the default namespace,
// and unknown namespaces.
"use strict";

const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

// Connects socket (made with autoConnect false or not yet connected) and waits for
// hello; rejects on connect_error.
function helloOf(socket) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no hello")), L.T);
    socket.once("hello", (data) => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.once("connect_error", (e) => {
      clearTimeout(timer);
      reject(new Error(`connect_error: ${e.message}`));
    });
  });
}

const managers = new Set();
function manager(mode, opts = {}) {
  const m = new L.Manager(L.URL1, { ...L.clientOptions(mode), ...opts });
  managers.add(m);
  return m;
}
function closeManagers() {
  for (const m of managers) {
    m.reconnection(false);
    for (const s of Object.values(m.nsps)) s.disconnect();
    m._close();
  }
  managers.clear();
}

for (const [i, mode] of L.MODES.entries()) {
  describe(`namespaces over ${mode.name}`, () => {
    after(() => {
      closeManagers();
      L.closeAll();
    });

    it("multiplexes the echo and chat namespaces on one Engine.IO connection", async () => {
      const m = manager(mode);
      const echo = m.socket(L.NSP_ECHO);
      const chat = m.socket(L.NSP_CHAT);
      const [h1, h2] = await Promise.all([helloOf(echo), helloOf(chat)]);
      assert.deepEqual(h1, L.HELLO);
      assert.deepEqual(h2, L.HELLO);
      assert.equal(echo.io, chat.io, "one Manager");
      assert.ok(m.engine && m.engine.id, "one Engine.IO session");
      assert.notEqual(echo.id, chat.id, "a Socket.IO session per namespace");
      if (mode.upgrade) await L.waitForUpgrade(m);

      // events are routed by namespace
      const chatEchoes = L.record(chat, "echo");
      const [args] = await Promise.all([L.once(echo, "echo"), echo.emit("echo", "on echo")]);
      assert.deepEqual(args, ["on echo"]);

      // the chat component relays new-message to the other sockets of its channel
      const other = await L.connect(mode, { nsp: L.NSP_CHAT });
      const mine = L.record(chat, "new-message");
      const [relayed] = await Promise.all([
        L.once(other, "new-message"),
        chat.emit("new-message", { text: "hi from a multiplexed socket" }),
      ]);
      assert.deepEqual(relayed, [{ text: "hi from a multiplexed socket" }]);
      // the sender is not among the others: a copy of its own message would have
      // reached it before the reply that the other socket sends afterwards
      const [back] = await Promise.all([
        L.once(chat, "new-message"),
        other.emit("new-message", { text: "reply" }),
      ]);
      assert.deepEqual(back, [{ text: "reply" }]);
      assert.deepEqual(mine, [[{ text: "reply" }]], "no copy of its own message");
      assert.deepEqual(chatEchoes, [], "echo events stay in the echo namespace");

      // leaving one namespace keeps the connection and the other namespace
      const engineId = m.engine.id;
      chat.disconnect();
      assert.deepEqual(await L.ack(echo, "ack", "still here"), ["still here"]);
      assert.equal(m.engine.id, engineId, "same Engine.IO session");
      // and it can be joined again on the same connection
      chat.connect();
      assert.deepEqual(await helloOf(chat), L.HELLO);
      assert.equal(m.engine.id, engineId, "same Engine.IO session");
      echo.disconnect();
      chat.disconnect();
    });

    it("refuses an unknown namespace with connect_error \"Invalid namespace\"", async () => {
      const m = manager(mode);
      const echo = m.socket(L.NSP_ECHO);
      await helloOf(echo);
      for (const nsp of ["/nope", "/echo/1.0/nope", "/echo/9.9/echo", "/echo"]) {
        const bad = m.socket(nsp);
        const [err] = await L.once(bad, "connect_error");
        assert.equal(err.message, "Invalid namespace", nsp);
        assert.equal(bad.connected, false);
      }
      // the connection and the valid namespace are unaffected
      assert.deepEqual(await L.ack(echo, "ack", 1), [1]);
      echo.disconnect();
    });

    it("an unknown namespace alone: connect_error, then a valid one works", async () => {
      const bad = L.io(L.URL1 + "/does/not/exist", L.clientOptions(mode));
      const [err] = await L.once(bad, "connect_error");
      assert.equal(err.message, "Invalid namespace");
      bad.disconnect();
      const s = await L.connect(mode);
      assert.deepEqual(s.helloData, L.HELLO);
      s.disconnect();
    });

    it("connects to the default namespace / (no handlers)", async () => {
      const m = manager(mode);
      const root = m.socket("/");
      const echo = m.socket(L.NSP_ECHO);
      const roots = L.record(root, "hello");
      await Promise.all([L.once(root, "connect"), helloOf(echo)]);
      assert.ok(root.connected);
      assert.equal(typeof root.id, "string");
      // the echo namespace's hello went to the echo socket only
      assert.deepEqual(await L.ack(echo, "ack", "x"), ["x"]);
      assert.deepEqual(roots, []);
      root.disconnect();
      echo.disconnect();
    });

    if (i === 2) {
      // io(url + nsp) without forceNew shares one Manager per URL (the official
      // client's default, what a web page does); done once, since the cache is
      // per process.
      it("io(url + nsp) shares one connection among namespaces", async () => {
        const opts = L.clientOptions(mode);
        delete opts.forceNew;
        const echo = L.io(L.URL1 + L.NSP_ECHO, opts);
        const chat = L.io(L.URL1 + L.NSP_CHAT, opts);
        const [h1, h2] = await Promise.all([helloOf(echo), helloOf(chat)]);
        assert.deepEqual([h1, h2], [L.HELLO, L.HELLO]);
        assert.equal(echo.io, chat.io, "multiplexed");
        assert.deepEqual(await L.ack(echo, "ack", "m"), ["m"]);
        echo.disconnect();
        chat.disconnect();
      });
    }
  });
}
