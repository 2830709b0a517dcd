// Raw Engine.IO / Socket.IO checks with plain HTTP, a raw websocket and the
// official engine.io-client: handshakes, the upgrade sequence, payload encodings and
// the exact text of Socket.IO packets.
"use strict";

const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { Socket: EioSocket } = require("engine.io-client");
const L = require("./lib.js");

const NSP = L.NSP_ECHO;
const HELLO_PACKET = `42${NSP},["hello",{"message":"Hello Sockets!"}]`;

function checkHandshake(hs, upgrades) {
  assert.deepEqual(Object.keys(hs).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
  assert.equal(typeof hs.sid, "string");
  assert.ok(hs.sid.length >= 8, "sid long enough");
  assert.deepEqual(hs.upgrades, upgrades);
  for (const k of ["pingInterval", "pingTimeout", "maxPayload"]) {
    assert.ok(Number.isInteger(hs[k]) && hs[k] > 0, `${k} = ${hs[k]}`);
  }
}

// The next packets of a raw polling session (pings answered, noops dropped).
function nextPackets(p) {
  return p.next();
}

describe("Engine.IO handshake", () => {
  it("over polling: 200 text/plain, open packet with sid, upgrades [websocket], heartbeat and maxPayload", async (t) => {
    const r = await L.request("GET", L.eioPath("EIO=4&transport=polling"), { headers: L.authHeaders() });
    t.diagnostic(`${r.status} ${JSON.stringify(r.headers)} ${r.body}`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-type"]), /^text\/plain; ?charset=UTF-8$/i);
    assert.equal(r.body[0], "0");
    assert.ok(!r.body.includes("\x1e"), "one packet");
    checkHandshake(JSON.parse(r.body.slice(1)), ["websocket"]);
  });

  it("over a direct websocket: the open packet first, upgrades []", async () => {
    const { ws, hs } = await L.rawEio();
    checkHandshake(hs, []);
    ws.destroy();
  });

  it("gives every session its own sid, and extra query parameters are ignored", async () => {
    const sids = new Set();
    for (let i = 0; i < 5; i++) {
      const r = await L.request("GET", L.eioPath(`EIO=4&transport=polling&t=${Date.now()}${i}&foo=bar`), { headers: L.authHeaders() });
      assert.equal(r.status, 200);
      sids.add(JSON.parse(r.body.slice(1)).sid);
    }
    assert.equal(sids.size, 5);
  });

  it("polling: POST answers \"ok\"; packets are batched with \\x1e; binary is b<base64>", async () => {
    const p = await L.RawPolling.open();
    const post = await p.post(`40${NSP},`);
    assert.equal(post.status, 200);
    assert.equal(post.body, "ok");
    const [connect, hello] = await nextPackets(p);
    assert.match(connect, /^40\/echo\/1\.0\/echo,\{"sid":"[^"]+"\}$/);
    assert.equal(hello, HELLO_PACKET);
    // two events in one POST, the second with an ack id
    assert.equal((await p.post(`42${NSP},["echo","one"]\x1e42${NSP},7["ack","two",2]`)).status, 200);
    const got = [];
    while (got.length < 2) got.push(...(await nextPackets(p)));
    assert.deepEqual(got, [`42${NSP},["echo","one"]`, `43${NSP},7["two",2]`]);
    // a binary event: the header packet, then the attachment as b<base64>
    const bin = Buffer.from([0, 1, 2, 3, 254, 255]);
    const r = await p.post(`451-${NSP},["echo",{"_placeholder":true,"num":0}]\x1eb${bin.toString("base64")}`);
    assert.equal(r.status, 200);
    const echoed = [];
    while (echoed.length < 2) echoed.push(...(await nextPackets(p)));
    assert.deepEqual(echoed, [`451-${NSP},["echo",{"_placeholder":true,"num":0}]`, `b${bin.toString("base64")}`]);
  });

  it("the upgrade sequence: 2probe/3probe, the held poll released with 6, 5 switches, then polling is refused", async () => {
    const p = await L.RawPolling.open();
    assert.equal((await p.post(`40${NSP},`)).status, 200);
    await nextPackets(p);
    const ws = await L.RawWs.connect(L.eioPath(`EIO=4&transport=websocket&sid=${p.sid}`), { headers: p.headers });
    ws.on("message", (m) => { if (m === "2") ws.send("3"); });
    const held = p.get();
    ws.send("2probe");
    assert.equal(await ws.next(), "3probe");
    // the held GET is released with a noop (a ping may have released it before:
    // then the next one is)
    let released = await held;
    for (let i = 0; i < 5 && released.status === 200 && released.body === "2"; i++) {
      await p.post("3");
      released = await p.get();
    }
    assert.equal(released.status, 200);
    assert.deepEqual(released.body.split("\x1e").filter((m) => m !== "2"), ["6"], "the held GET is released with a noop");
    ws.send("5");
    ws.send(`42${NSP},["echo","over websocket"]`);
    let m;
    do m = await ws.next(); while (m === "2");
    assert.equal(m, `42${NSP},["echo","over websocket"]`);
    const g = await p.get();
    assert.equal(g.status, 400);
    assert.deepEqual(JSON.parse(g.body), { code: 3, message: "Bad request" });
    ws.destroy();
  });

  it("events sent over polling during the probe are delivered before the switch", async () => {
    const p = await L.RawPolling.open();
    assert.equal((await p.post(`40${NSP},`)).status, 200);
    await nextPackets(p);
    const ws = await L.RawWs.connect(L.eioPath(`EIO=4&transport=websocket&sid=${p.sid}`), { headers: p.headers });
    ws.send("2probe");
    assert.equal(await ws.next(), "3probe");
    // still on polling until 5: an event posted now is answered on polling
    assert.equal((await p.post(`42${NSP},["echo","before 5"]`)).status, 200);
    // the server may release polls with noops "6" meanwhile (Node does every 100 ms)
    let answer = [];
    for (let i = 0; i < 50 && answer.length === 0; i++) {
      answer = (await nextPackets(p)).filter((x) => x !== "6");
    }
    assert.deepEqual(answer, [`42${NSP},["echo","before 5"]`]);
    ws.send("5");
    ws.send(`42${NSP},["echo","after 5"]`);
    let m;
    do m = await ws.next(); while (m === "2");
    assert.equal(m, `42${NSP},["echo","after 5"]`);
    ws.destroy();
  });
});

describe("Socket.IO packet encodings (raw websocket)", () => {
  it("CONNECT answer, hello, events, acks and binary attachments", async () => {
    const { ws } = await L.rawEio();
    ws.on("message", (m) => { if (m === "2") ws.send("3"); });
    const next = async () => {
      let m;
      do m = await ws.next(); while (m === "2");
      return m;
    };
    ws.send(`40${NSP},`);
    assert.match(await next(), /^40\/echo\/1\.0\/echo,\{"sid":"[^"]+"\}$/);
    assert.equal(await next(), HELLO_PACKET);
    ws.send(`42${NSP},["echo",{"a":[1,2.5,"x",null,true]}]`);
    assert.equal(await next(), `42${NSP},["echo",{"a":[1,2.5,"x",null,true]}]`);
    ws.send(`42${NSP},12["ack",1,"b"]`);
    assert.equal(await next(), `43${NSP},12[1,"b"]`);
    ws.send(`42${NSP},13["echo","with ack"]`);
    assert.equal(await next(), `42${NSP},["echo","with ack"]`);
    assert.equal(await next(), `43${NSP},13[null,null]`);
    // binary: header with the attachment count, then one binary frame per attachment
    ws.send(`452-${NSP},["echo",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]`);
    ws.send(Buffer.from([1, 2, 3]));
    ws.send(Buffer.from([]));
    assert.equal(await next(), `452-${NSP},["echo",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]`);
    assert.deepEqual(await next(), Buffer.from([1, 2, 3]));
    assert.deepEqual(await next(), Buffer.from([]));
    // a binary ack
    ws.send(`451-${NSP},14["ack",{"_placeholder":true,"num":0}]`);
    ws.send(Buffer.from("ack bytes"));
    assert.equal(await next(), `461-${NSP},14[{"_placeholder":true,"num":0}]`);
    assert.deepEqual(await next(), Buffer.from("ack bytes"));
    // the server asks for an ack: please-ack carries an id, answered with 43
    ws.send(`42${NSP},["server-ack","q"]`);
    const ask = await next();
    const mm = /^42\/echo\/1\.0\/echo,(\d+)\["please-ack","q"\]$/.exec(ask);
    assert.ok(mm, ask);
    ws.send(`43${NSP},${mm[1]}["answer",{"k":1}]`);
    assert.equal(await next(), `42${NSP},["acked","answer",{"k":1}]`);
    ws.destroy();
  });

  it("CONNECT to an unknown namespace: 44 with {\"message\":\"Invalid namespace\"}", async () => {
    const { ws } = await L.rawEio();
    ws.send("40/no/such/nsp,");
    let m;
    do m = await ws.next(); while (m === "2");
    assert.equal(m, '44/no/such/nsp,{"message":"Invalid namespace"}');
    // the connection stays usable
    ws.send(`40${NSP},`);
    do m = await ws.next(); while (m === "2");
    assert.match(m, /^40\/echo\/1\.0\/echo,\{"sid"/);
    ws.destroy();
  });

  it("CONNECT to the default namespace: 40{\"sid\":...}", async () => {
    const { ws } = await L.rawEio();
    ws.send("40");
    let m;
    do m = await ws.next(); while (m === "2");
    assert.match(m, /^40\{"sid":"[^"]+"\}$/);
    ws.destroy();
  });

  it("a CONNECT with an auth payload is accepted", async () => {
    const { ws } = await L.rawEio();
    ws.send(`40${NSP},{"token":"abc"}`);
    let m;
    do m = await ws.next(); while (m === "2");
    assert.match(m, /^40\/echo\/1\.0\/echo,\{"sid":"[^"]+"\}$/);
    ws.destroy();
  });
});

describe("engine.io-client", () => {
  for (const [name, transports, upgrade] of [
    ["websocket", ["websocket"], false],
    ["polling", ["polling"], false],
    ["polling+upgrade", ["polling", "websocket"], true],
  ]) {
    it(`opens a session over ${name} and carries Socket.IO packets`, async () => {
      const cookie = L.newCookie();
      const sock = new EioSocket(L.URL1, {
        path: L.PATH,
        transports,
        upgrade,
        extraHeaders: cookie ? { Cookie: cookie } : undefined,
      });
      const upgraded = upgrade ? L.once(sock, "upgrade") : null;
      if (upgraded) upgraded.catch(() => {});
      const [hs] = await L.once(sock, "handshake");
      checkHandshake(hs, name === "websocket" ? [] : ["websocket"]);
      assert.equal(sock.id, hs.sid);
      // engine.io-client adds and strips the Engine.IO message type "4" itself
      const msgs = L.collect(sock, "message", 2);
      sock.send(`0${NSP},`);
      const [[connect], [hello]] = await msgs;
      assert.match(connect, /^0\/echo\/1\.0\/echo,\{"sid"/);
      assert.equal(hello, HELLO_PACKET.slice(1));
      if (upgraded) {
        await upgraded;
        assert.equal(sock.transport.name, "websocket");
      }
      const back = L.once(sock, "message");
      sock.send(`2${NSP},["echo","raw"]`);
      assert.deepEqual(await back, [`2${NSP},["echo","raw"]`]);
      // binary messages
      const bin = L.collect(sock, "message", 2);
      sock.send(`51-${NSP},["echo",{"_placeholder":true,"num":0}]`);
      sock.send(Buffer.from([9, 8, 7]));
      const [[header], [attachment]] = await bin;
      assert.equal(header, `51-${NSP},["echo",{"_placeholder":true,"num":0}]`);
      assert.deepEqual(Buffer.from(attachment), Buffer.from([9, 8, 7]));
      const closed = L.once(sock, "close");
      sock.close();
      assert.equal((await closed)[0], "forced close");
    });
  }
});
