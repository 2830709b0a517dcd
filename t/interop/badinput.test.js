// Bad inputs over raw HTTP and raw TCP, each answered exactly as the official Node
// socket.io 4 server (engine.io 6, ws 8) answers it; after every batch a healthy
// client still works. The expected answers were established against the reference
// server (echo-server.js); the list is summed up in README.md.
"use strict";

const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const L = require("./lib.js");

const E = {
  0: { code: 0, message: "Transport unknown" },
  1: { code: 1, message: "Session ID unknown" },
  2: { code: 2, message: "Bad handshake method" },
  3: { code: 3, message: "Bad request" },
  5: { code: 5, message: "Unsupported protocol version" },
};

function assertJsonError(r, code, what) {
  assert.equal(r.status, 400, `${what}: status`);
  assert.match(String(r.headers["content-type"]), /^application\/json/, `${what}: content type`);
  assert.deepEqual(JSON.parse(r.body), E[code], `${what}: body`);
  assert.equal(r.body, JSON.stringify(E[code]), `${what}: exact body`);
}

async function assertGone(p, what) {
  assertJsonError(await p.get(), 1, `${what}: the session is closed`);
}

// Shows that a polling session is alive: connect the default namespace and read
// the answer.
async function assertAlive(p, what) {
  const r = await p.post("40");
  assert.equal(r.status, 200, `${what}: POST status`);
  const packets = await p.next();
  assert.match(packets[0], /^40\{"sid":"[^"]+"\}$/, `${what}: the session still answers`);
}

describe("bad Engine.IO HTTP requests", () => {
  const cases = [
    ["GET", "EIO=4&transport=foo", 0],
    ["GET", "EIO=4&transport=Polling", 0],
    ["GET", "EIO=4", 0],
    ["GET", "EIO=4&transport=", 0],
    ["GET", "EIO=4&transport=webtransport", 0],
    ["GET", "EIO=3&transport=foo", 0], // the transport is checked first
    ["POST", "EIO=4&transport=foo", 0],
    ["GET", "EIO=4&transport=polling&sid=nope", 1],
    ["POST", "EIO=4&transport=polling&sid=nope", 1],
    ["GET", "EIO=4&transport=websocket&sid=nope", 1],
    ["GET", "EIO=3&transport=polling&sid=nope", 1], // the sid before the version
    ["POST", "EIO=4&transport=polling", 2],
    ["PUT", "EIO=4&transport=polling", 2],
    ["DELETE", "EIO=4&transport=polling", 2],
    ["POST", "EIO=3&transport=polling", 2], // the method before the version
    ["GET", "EIO=4&transport=websocket", 3], // a websocket handshake without Upgrade
    ["GET", "EIO=3&transport=websocket", 3],
    ["GET", "EIO=3&transport=polling", 5],
    ["GET", "transport=polling", 5],
    ["GET", "EIO=5&transport=polling", 5],
    ["GET", "EIO=abc&transport=polling", 5],
  ];
  for (const [method, query, code] of cases) {
    it(`${method} ?${query} -> 400 code ${code}`, async () => {
      const body = method === "POST" || method === "PUT" ? "40" : undefined;
      const r = await L.request(method, L.eioPath(query), { body, headers: L.authHeaders() });
      assertJsonError(r, code, `${method} ${query}`);
    });
  }

  it("a healthy client still works", L.assertHealthy);
});

describe("bad requests within a polling session", () => {
  it("handshake answer: 200 text/plain with the open packet", async () => {
    const p = await L.RawPolling.open();
    const r = p.hs.response;
    assert.match(String(r.headers["content-type"]), /^text\/plain; ?charset=UTF-8$/i);
    assert.deepEqual(Object.keys(p.hs).filter((k) => !["headers", "response"].includes(k)).sort(),
      ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    const post = await p.post("40");
    assert.equal(post.status, 200);
    assert.equal(post.body, "ok");
    assert.match(String(post.headers["content-type"]), /^text\/html/);
  });

  it("a second concurrent GET: 400, the held GET gets the close packet, the session is closed", async (t) => {
    const p = await L.RawPolling.open();
    // nothing is queued, so whichever GET the server reads first is held; the
    // other one overlaps it (unless a ping released the first one in between: then
    // answer it and try again)
    let outcomes;
    for (let i = 0; i < 5; i++) {
      outcomes = await Promise.all([p.get(), p.get()]);
      if (!outcomes.every((r) => r.status === 200)) break;
      await p.post("3");
    }
    t.diagnostic(outcomes.map((r) => `${r.status} ${JSON.stringify(r.headers["content-type"])} ${JSON.stringify(r.body)}`).join("; "));
    const refused = outcomes.filter((r) => r.status === 400);
    const held = outcomes.filter((r) => r.status === 200);
    assert.equal(refused.length, 1, "one GET is refused with 400");
    assert.equal(held.length, 1, "the held GET is answered 200");
    assert.ok(held[0].body.split("\x1e").includes("1"), "the held GET gets the close packet");
    await assertGone(p, "after the overlapping GET");
  });

  it("a second concurrent POST: 400 and the session is closed", async (t) => {
    const p = await L.RawPolling.open();
    const { hostname, port } = new URL(L.URL1);
    // a POST whose body never completes
    const slow = require("node:net").connect(Number(port), hostname);
    let slowGot = "";
    slow.on("data", (d) => { slowGot += d.toString("latin1"); });
    slow.on("error", () => {});
    let head = `POST ${p.path()} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 10\r\n`;
    for (const [k, v] of Object.entries(p.headers)) head += `${k}: ${v}\r\n`;
    await new Promise((resolve) => slow.on("connect", resolve));
    slow.write(head + "\r\n6abc");
    try {
      // until the server has read the slow POST's headers, a POST just succeeds
      let second;
      for (let i = 0; i < 50; i++) {
        second = await p.post("6");
        if (second.status !== 200) break;
      }
      t.diagnostic(`second POST: ${second.status} ${JSON.stringify(second.body)}`);
      assert.equal(second.status, 400);
      await assertGone(p, "after the overlapping POST");
    } finally {
      t.diagnostic(`the incomplete POST got ${JSON.stringify(slowGot.split("\r\n")[0])}, destroyed: ${slow.destroyed}`);
      slow.destroy();
    }
  });

  it("POST over max payload: 413, the session stays open", async (t) => {
    const p = await L.RawPolling.open();
    const r = await p.post("4" + "a".repeat(p.hs.maxPayload));
    t.diagnostic(`${r.status} ${JSON.stringify(r.headers["content-type"])} ${JSON.stringify(r.body)}`);
    assert.equal(r.status, 413);
    await assertAlive(p, "after 413");
  });

  it("POST of exactly max payload bytes is accepted", async () => {
    const p = await L.RawPolling.open();
    assert.equal((await p.post("40")).status, 200);
    await p.next();
    const prefix = '42["x","';
    const body = prefix + "a".repeat(p.hs.maxPayload - prefix.length - 2) + '"]';
    assert.equal(Buffer.byteLength(body), p.hs.maxPayload);
    const r = await p.post(body);
    assert.equal(r.status, 200);
    assert.equal(r.body, "ok");
    // still alive: a second namespace connect is answered
    assert.equal((await p.post(`40${L.NSP_ECHO},`)).status, 200);
    const packets = await p.next();
    assert.match(packets[0], /^40\/echo\/1\.0\/echo,\{"sid"/);
  });

  // [what, body, headers, POST status, how the session ends]: "now" - the sid is
  // unknown right away (Engine.IO-level errors); "close packet" - the next GET is
  // answered 200 with the close packet "1" (after noops "6"), then the sid is unknown
  // (Socket.IO-level errors make the server close the Engine.IO socket, which over
  // polling is done by sending the close packet with the next poll).
  const closing = [
    ["binary content type (application/octet-stream)", "4abc", { "Content-Type": "application/octet-stream" }, 400, "now"],
    ["an undecodable Engine.IO payload", "X", {}, 200, "now"],
    ["an empty payload", "", {}, 200, "now"],
    ["a ping from the client (wrong heartbeat direction)", "2", {}, 200, "now"],
    ["the close packet", "1", {}, 200, "now"],
    ["an undecodable Socket.IO packet", "4X", {}, 200, "close packet"],
    ["a Socket.IO event before any namespace CONNECT", '42["echo",1]', {}, 200, "close packet"],
    ["a Socket.IO packet with broken JSON", '40\x1e42["echo"', {}, 200, "close packet"],
  ];
  for (const [what, body, headers, status, end] of closing) {
    it(`POST with ${what}: ${status}, then the session is closed (${end})`, async (t) => {
      const p = await L.RawPolling.open();
      const r = await p.post(body, { headers });
      t.diagnostic(`${r.status} ${JSON.stringify(r.headers["content-type"])} ${JSON.stringify(r.body)}`);
      assert.equal(r.status, status);
      assert.equal(r.body, status === 200 ? "ok" : "");
      if (end === "close packet") {
        // pings may come first; the payload with the close packet holds nothing
        // but noops before it
        let packets;
        for (let i = 0; i < 10; i++) {
          const g = await p.get();
          t.diagnostic(`next GET: ${g.status} ${JSON.stringify(g.body)}`);
          assert.equal(g.status, 200);
          packets = g.body.split("\x1e").filter((m) => m !== "2");
          if (packets.length) break;
          await p.post("3");
        }
        assert.equal(packets.at(-1), "1", "ends with the close packet");
        assert.ok(packets.slice(0, -1).every((m) => m === "6" || (m.startsWith("40") && body.startsWith("40"))), JSON.stringify(packets));
      }
      await assertGone(p, what);
    });
  }

  it("PUT with a sid: 500, the session stays open", async () => {
    const p = await L.RawPolling.open();
    const r = await L.request("PUT", p.path(), { body: "40", headers: p.headers });
    assert.equal(r.status, 500);
    await assertAlive(p, "after PUT");
  });

  it("transport=websocket with a polling sid, without Upgrade: code 3, the session stays open", async () => {
    const p = await L.RawPolling.open();
    assertJsonError(await L.request("GET", L.eioPath(`EIO=4&transport=websocket&sid=${p.sid}`), { headers: p.headers }), 3, "mismatch");
    await assertAlive(p, "after the transport mismatch");
  });

  it("EIO=3 with a valid sid: code 3, the session stays open", async () => {
    const p = await L.RawPolling.open();
    assertJsonError(await L.request("GET", L.eioPath(`EIO=3&transport=polling&sid=${p.sid}`), { headers: p.headers }), 3, "EIO=3");
    await assertAlive(p, "after EIO=3");
  });

  it("a healthy client still works", L.assertHealthy);
});

describe("bad websocket upgrades (raw TCP)", () => {
  // Node answers a refused upgrade with a plain "400 Bad Request", Content-type
  // text/html, the error message as the body (not JSON), and closes.
  async function refused(path, opts = {}) {
    try {
      const ws = await L.RawWs.connect(path, { headers: L.authHeaders(), ...opts });
      ws.destroy();
      assert.fail(`upgrade ${path} was accepted`);
    } catch (e) {
      if (!e.response) throw e;
      return e.response;
    }
  }
  const cases = [
    ["EIO=4&transport=foo", "Transport unknown"],
    ["EIO=4&transport=websocket&sid=nope", "Session ID unknown"],
    ["EIO=3&transport=foo", "Transport unknown"],
  ];
  for (const [query, message] of cases) {
    it(`upgrade ?${query} -> 400 "${message}"`, async () => {
      const r = await refused(L.eioPath(query));
      assert.equal(r.status, 400);
      assert.match(String(r.headers["content-type"]), /^text\/html/i);
      assert.equal(r.body, message);
    });
  }

  it("upgrade of a polling sid with EIO=3 -> 400 \"Bad request\"; polling continues", async () => {
    const p = await L.RawPolling.open();
    const r = await refused(L.eioPath(`EIO=3&transport=websocket&sid=${p.sid}`), { headers: p.headers });
    assert.equal(r.status, 400);
    assert.equal(r.body, "Bad request");
    await assertAlive(p, "after the refused upgrade");
  });

  it("a POST with Upgrade -> 400 \"Bad handshake method\"", async () => {
    const { hostname, port } = new URL(L.URL1);
    const net = require("node:net");
    const sock = net.connect(Number(port), hostname);
    sock.write(`POST ${L.eioPath("EIO=4&transport=websocket")} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n");
    const text = await L.within(new Promise((resolve) => {
      let buf = "";
      sock.on("data", (d) => { buf += d.toString("latin1"); });
      sock.on("close", () => resolve(buf));
    }), L.T, "the server closes");
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.ok(text.endsWith("\r\n\r\nBad handshake method"), JSON.stringify(text));
  });

  it("an unsupported WebSocket version is refused, naming version 13", async () => {
    const r = await refused(L.eioPath("EIO=4&transport=websocket"), { version: "7" });
    assert.ok([400, 426].includes(r.status), `status ${r.status}`);
    assert.match(String(r.headers["sec-websocket-version"]), /\b13\b/);
  });

  it("a missing Sec-WebSocket-Key is refused with 400", async () => {
    const r = await refused(L.eioPath("EIO=4&transport=websocket"), { key: "" });
    assert.equal(r.status, 400);
  });

  it("EIO=3 over a websocket: no Engine.IO session is opened", async () => {
    // Node answers 101 and then writes an HTTP 400 into the upgraded stream before
    // closing; refusing before the 101 is just as good.
    let ws;
    try {
      ws = await L.RawWs.connect(L.eioPath("EIO=3&transport=websocket"), { headers: L.authHeaders() });
    } catch (e) {
      if (!e.response) throw e;
      assert.equal(e.response.status, 400);
      return;
    }
    const { messages } = await ws.closed();
    assert.ok(!messages.some((m) => typeof m === "string" && m.startsWith("0{")), JSON.stringify(messages));
  });

  it("upgrading a sid that is already upgraded: no probe answer, closed", async () => {
    const p = await L.RawPolling.open();
    const ws = await L.RawWs.connect(L.eioPath(`EIO=4&transport=websocket&sid=${p.sid}`), { headers: p.headers });
    ws.send("2probe");
    assert.equal(await ws.next(), "3probe");
    ws.send("5");
    // now polling is refused (code 3) ...
    assertJsonError(await p.get(), 3, "GET after the upgrade");
    assertJsonError(await p.post("40"), 3, "POST after the upgrade");
    // ... and so is a second upgrade
    let ws2;
    try {
      ws2 = await L.RawWs.connect(L.eioPath(`EIO=4&transport=websocket&sid=${p.sid}`), { headers: p.headers });
    } catch (e) {
      if (!e.response) throw e;
      assert.equal(e.response.status, 400);
      ws.destroy();
      return;
    }
    ws2.send("2probe");
    const { messages } = await ws2.closed();
    assert.deepEqual(messages, [], "the second websocket is closed without an answer");
    // the first one is unaffected
    ws.send("40");
    let m;
    do m = await ws.next(); while (m === "2");
    assert.match(m, /^40\{"sid"/);
    ws.destroy();
  });

  it("a healthy client still works", L.assertHealthy);
});

describe("malformed Engine.IO and Socket.IO packets over a raw websocket", () => {
  // Every one closes the connection (Node: a close frame without status code,
  // then TCP close). `pre` packets are sent first (answers to them are ignored).
  const cases = [
    ["an unknown Engine.IO packet type", [], "X"],
    ["an empty text message", [], ""],
    ["a ping from the client", [], "2"],
    ["a probe ping on an established websocket", [], "2probe"],
    ["an unknown Socket.IO packet type", [], "4X"],
    ["a Socket.IO event with broken JSON", ["40"], '42["echo"'],
    ["a Socket.IO event before any CONNECT", [], '42["echo","x"]'],
    ["an event for a namespace not joined", ["40"], `42${L.NSP_ECHO},["echo","x"]`],
    ["a second CONNECT to a joined namespace", ["40"], "40"],
    ["a CONNECT_ERROR packet from the client", [], "44"],
    ["a CONNECT with a non-object auth payload", [], '40"str"'],
    ["an event whose data is not an array", ["40"], '42{"a":1}'],
    ["an event with an empty array", ["40"], "42[]"],
    ["a binary message where none is expected", ["40"], Buffer.from([1, 2, 3])],
    ["a text packet while binary attachments are expected", ["40", '451-["echo",{"_placeholder":true,"num":0}]'], '42["x"]'],
    ["a BINARY_EVENT with a negative attachment count", ["40"], '45-1-["echo"]'],
  ];
  for (const [what, pre, bad] of cases) {
    it(`${what} closes the connection`, async (t) => {
      const { ws } = await L.rawEio();
      ws.on("message", (m) => { if (m === "2") ws.send("3"); });
      for (const m of pre) ws.send(m);
      ws.send(bad);
      const { closeFrame } = await ws.closed(L.T, { eioPong: true });
      t.diagnostic(`close frame ${JSON.stringify(closeFrame)}`);
    });
  }

  // These are ignored by the Node server: a round trip afterwards shows the
  // connection still works.
  const ignored = [
    ["a noop packet", "6"],
    ["an ack with an unknown id", `43${L.NSP_ECHO},999["x"]`],
    ["an event whose name is a number", `42${L.NSP_ECHO},[1,"x"]`],
  ];
  for (const [what, packet] of ignored) {
    it(`${what} is ignored`, async () => {
      const { ws } = await L.rawSio(L.NSP_ECHO);
      ws.send(packet);
      ws.send(`42${L.NSP_ECHO},1["ack","still"]`);
      let m;
      do m = await ws.next(); while (m === "2" || m.startsWith(`42${L.NSP_ECHO},["hello"`));
      assert.equal(m, `43${L.NSP_ECHO},1["still"]`);
      ws.destroy();
    });
  }

  it("a DISCONNECT from one namespace keeps the connection; the namespace can be joined again", async () => {
    const { ws } = await L.rawSio(L.NSP_ECHO);
    const next = async () => {
      let m;
      do m = await ws.next(); while (m === "2" || m.startsWith(`42${L.NSP_ECHO},["hello"`));
      return m;
    };
    ws.send(`41${L.NSP_ECHO},`);
    // a round trip on another namespace, so that the DISCONNECT has been handled
    // (Node closes the connection on a CONNECT to a namespace still joined)
    ws.send("40");
    assert.match(await next(), /^40\{"sid":"[^"]+"\}$/);
    ws.send(`40${L.NSP_ECHO},`);
    assert.match(await next(), /^40\/echo\/1\.0\/echo,\{"sid":"[^"]+"\}$/);
    ws.send(`42${L.NSP_ECHO},3["ack","rejoined"]`);
    assert.equal(await next(), `43${L.NSP_ECHO},3["rejoined"]`);
    ws.destroy();
  });

  it("a healthy client still works", L.assertHealthy);
});

describe("WebSocket protocol violations (RFC 6455)", () => {
  // [what, send(ws, hs), expected close code]
  const cases = [
    ["a message over max payload", (ws, hs) => ws.send("4" + "a".repeat(hs.maxPayload)), 1009],
    ["a frame declaring more than max payload (before its body)", (ws, hs) =>
      ws.sendFrame({ opcode: 1, payload: "4a", length: hs.maxPayload + 1 }), 1009],
    ["a frame declaring a 2^63-1 length", (ws) =>
      ws.sock.write(Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4])), 1009],
    ["a fragmented message over max payload", (ws, hs) => {
      const half = Math.ceil(hs.maxPayload / 2) + 1;
      ws.sendFrame({ opcode: 1, fin: false, payload: "4" + "a".repeat(half) });
      ws.sendFrame({ opcode: 0, fin: true, payload: "a".repeat(half) });
    }, 1009],
    ["invalid UTF-8 in a text frame", (ws) => ws.sendFrame({ opcode: 1, payload: Buffer.from([0x34, 0xff, 0xfe]) }), 1007],
    ["invalid UTF-8 across fragments", (ws) => {
      ws.sendFrame({ opcode: 1, fin: false, payload: Buffer.from([0x34, 0xe2, 0x82]) });
      ws.sendFrame({ opcode: 0, fin: true, payload: Buffer.from([0x41]) });
    }, 1007],
    ["an unmasked client frame", (ws) => ws.sendFrame({ opcode: 1, payload: "6", mask: false }), 1002],
    ["RSV1 without an extension", (ws) => ws.sendFrame({ opcode: 1, payload: "6", rsv: 4 }), 1002],
    ["RSV2", (ws) => ws.sendFrame({ opcode: 1, payload: "6", rsv: 2 }), 1002],
    ["RSV3", (ws) => ws.sendFrame({ opcode: 1, payload: "6", rsv: 1 }), 1002],
    ["a reserved data opcode (3)", (ws) => ws.sendFrame({ opcode: 3, payload: "6" }), 1002],
    ["a reserved control opcode (0xB)", (ws) => ws.sendFrame({ opcode: 0xb, payload: "" }), 1002],
    ["a continuation without a start", (ws) => ws.sendFrame({ opcode: 0, payload: "6" }), 1002],
    ["a new data frame inside a fragmented message", (ws) => {
      ws.sendFrame({ opcode: 1, fin: false, payload: "4a" });
      ws.sendFrame({ opcode: 1, fin: true, payload: "6" });
    }, 1002],
    ["a fragmented control frame", (ws) => ws.sendFrame({ opcode: 9, fin: false, payload: "x" }), 1002],
    ["a ping with a 126-byte payload", (ws) => ws.sendFrame({ opcode: 9, payload: Buffer.alloc(126) }), 1002],
    ["a close frame with a 1-byte payload", (ws) => ws.sendFrame({ opcode: 8, payload: Buffer.from([3]) }), 1002],
    ["a close frame with code 999", (ws) => ws.sendFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe7]) }), 1002],
    ["a close frame with code 1005", (ws) => ws.sendFrame({ opcode: 8, payload: Buffer.from([0x03, 0xed]) }), 1002],
    ["a close frame with invalid UTF-8 in the reason", (ws) =>
      ws.sendFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe8, 0xff]) }), 1007],
    ["a close frame with code 1000", (ws) => ws.sendFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) }), 1000],
    ["a close frame with code 4000 (private use)", (ws) =>
      ws.sendFrame({ opcode: 8, payload: Buffer.from([0x0f, 0xa0]) }), 4000],
  ];
  for (const [what, send, code] of cases) {
    it(`${what}: close ${code}`, async () => {
      const { ws, hs } = await L.rawEio();
      send(ws, hs);
      const { closeFrame } = await ws.closed(L.T, { eioPong: true });
      assert.ok(closeFrame, "a close frame");
      assert.equal(closeFrame.code, code);
    });
  }

  it("an empty close frame is answered with an empty close frame", async () => {
    const { ws } = await L.rawEio();
    ws.sendFrame({ opcode: 8 });
    const { closeFrame } = await ws.closed();
    assert.deepEqual(closeFrame, { code: null, reason: "" });
  });

  it("a TCP half-close closes the connection", async () => {
    const { ws } = await L.rawEio();
    ws.sock.end();
    await ws.closed();
  });

  it("a WebSocket ping is answered with a pong carrying the same payload", async () => {
    const { ws } = await L.rawEio();
    ws.autoPong = false;
    const pong = new Promise((resolve) => {
      const orig = ws._onFrame.bind(ws);
      ws._onFrame = (fin, opcode, payload) => {
        if (opcode === 0xa) resolve(payload);
        orig(fin, opcode, payload);
      };
    });
    ws.sendFrame({ opcode: 9, payload: "hey ✓" });
    assert.equal((await L.within(pong, L.T, "pong")).toString(), "hey ✓");
    ws.destroy();
  });

  it("a fragmented message with a ping between fragments is reassembled", async () => {
    const { ws } = await L.rawSio(L.NSP_ECHO);
    const msg = Buffer.from(`42${L.NSP_ECHO},["echo","fragmented ✓ message"]`);
    // the split falls inside the 3-byte UTF-8 sequence of ✓
    const cut = msg.indexOf(Buffer.from("✓")) + 1;
    ws.sendFrame({ opcode: 1, fin: false, payload: msg.subarray(0, 10) });
    ws.sendFrame({ opcode: 9, payload: "p" });
    ws.sendFrame({ opcode: 0, fin: false, payload: msg.subarray(10, cut) });
    ws.sendFrame({ opcode: 0, fin: true, payload: msg.subarray(cut) });
    let m;
    do m = await ws.next(); while (m === "2" || m.startsWith(`42${L.NSP_ECHO},["hello"`));
    assert.equal(m, `42${L.NSP_ECHO},["echo","fragmented ✓ message"]`);
    ws.destroy();
  });

  it("server frames are unmasked", async () => {
    const { ws } = await L.rawSio(L.NSP_ECHO);
    assert.equal(ws.serverMasked, false);
    ws.destroy();
  });

  it("a healthy client still works", L.assertHealthy);
});
