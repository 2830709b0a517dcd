// Shared helpers of the interop tests (t/interop/*.test.js).
//
// The tests talk to a server running the bundled `echo` and `chat` components:
// raind, or the Node reference server echo-server.js. They read:
//   SIO_URL                 base URL of the server, e.g. http://127.0.0.1:8080 (required)
//   SIO_URL2                a second node sharing the first one's Redis (optional; the
//                           two-node tests are skipped without it)
//   SIO_PATH                Engine.IO endpoint (default /socket.io/)
//   SIO_COOKIE_SECRET_FILE  RAIN cookie secret (optional); when set every client gets
//                           its own freshly signed `rain.sid` cookie, which a raind with
//                           `session_create no` requires, and the cross-connection
//                           session tests run
//   SIO_COOKIE_NAME         cookie name (default rain.sid)
//   SIO_TIMEOUT             bound in ms of every single wait (default 5000)
//   SIO_HANDLER_TIMEOUT     the server's handler timeout in ms (session.test.js)
// Modules (socket.io-client, engine.io-client) are found through NODE_PATH, see setup.sh.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const net = require("node:net");
const { io, Manager } = require("socket.io-client");

const URL1 = process.env.SIO_URL;
if (!URL1) {
  throw new Error("SIO_URL is not set (e.g. SIO_URL=http://127.0.0.1:8080); see t/interop/setup.sh");
}
const URL2 = process.env.SIO_URL2 || null;
const PATH = process.env.SIO_PATH || "/socket.io/";
const T = Number(process.env.SIO_TIMEOUT || 5000);
const NSP_ECHO = "/echo/1.0/echo";
const NSP_CHAT = "/chat/1.0/chat";
const HELLO = { message: "Hello Sockets!" };

const MODES = [
  { name: "websocket", transports: ["websocket"], upgrade: false },
  { name: "polling", transports: ["polling"], upgrade: false },
  { name: "polling+upgrade", transports: ["polling", "websocket"], upgrade: true },
];

// ---- cookies ----------------------------------------------------------------

const COOKIE_NAME = process.env.SIO_COOKIE_NAME || "rain.sid";
let cookieSecret = null;
if (process.env.SIO_COOKIE_SECRET_FILE) {
  cookieSecret = fs.readFileSync(process.env.SIO_COOKIE_SECRET_FILE, "utf8");
  if (cookieSecret.endsWith("\n")) cookieSecret = cookieSecret.slice(0, -1);
}

// A signed RAIN cookie for a fresh session id, or null without a secret.
function newCookie() {
  if (cookieSecret === null) return null;
  const sid = crypto.randomBytes(16).toString("hex");
  const sig = crypto.createHmac("sha256", cookieSecret).update(sid).digest("base64").replace(/=+$/, "");
  return `${COOKIE_NAME}=${encodeURIComponent(sid + "." + sig)}`;
}

// Headers for raw requests that open a namespace (a new session each call).
function authHeaders(cookie = newCookie()) {
  return cookie ? { Cookie: cookie } : {};
}

// ---- small async tools --------------------------------------------------------

// Resolves with the arguments of the next `event` on emitter (an array), rejects
// after ms.
function once(emitter, event, ms = T) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timeout after ${ms} ms waiting for "${event}"`));
    }, ms);
    function handler(...args) {
      clearTimeout(timer);
      emitter.off(event, handler);
      resolve(args);
    }
    emitter.on(event, handler);
  });
}

// Collects the argument arrays of n `event`s. Start it before causing the events.
function collect(emitter, event, n, ms = T) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timeout after ${ms} ms: got ${got.length} of ${n} "${event}"`));
    }, ms);
    function handler(...args) {
      got.push(args);
      if (got.length === n) {
        clearTimeout(timer);
        emitter.off(event, handler);
        resolve(got);
      }
    }
    emitter.on(event, handler);
  });
}

// Records every `event` into an array (for "exactly once" / "nothing" checks).
function record(emitter, event) {
  const got = [];
  emitter.on(event, (...args) => got.push(args));
  return got;
}

// Waits until rec (from record(emitter, event)) holds arguments deep-equal to want.
function until(emitter, rec, event, want, ms = T) {
  const w = JSON.stringify(want);
  const has = () => rec.some((a) => JSON.stringify(a) === w);
  if (has()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, check);
      reject(new Error(`timeout waiting for ${event} ${w.slice(0, 200)}; got ${JSON.stringify(rec).slice(0, 500)}`));
    }, ms);
    function check() {
      if (has()) {
        clearTimeout(timer);
        emitter.off(event, check);
        resolve();
      }
    }
    emitter.on(event, check);
  });
}

// Rejects if promise does not settle within ms.
function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Emits an event asking for an acknowledgement; resolves with the ack's arguments.
function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(T).emit(event, ...args, (err, ...answer) => {
      if (err) reject(new Error(`no ack for "${event}" within ${T} ms`));
      else resolve(answer);
    });
  });
}

// Like ack(), and pushes `${label} ${JSON of the answer}` to the array order from
// the ack callback itself, so that its place among events received in the same
// read is exact.
function ackInto(order, label, socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(T).emit(event, ...args, (err, ...answer) => {
      if (err) return reject(new Error(`no ack for "${event}" within ${T} ms`));
      order.push(`${label} ${JSON.stringify(answer)}`);
      resolve(answer);
    });
  });
}

// ---- socket.io-client ---------------------------------------------------------

function clientOptions(mode, extra = {}) {
  const cookie = extra.cookie !== undefined ? extra.cookie : newCookie();
  const opts = {
    path: PATH,
    transports: mode.transports,
    upgrade: mode.upgrade,
    forceNew: true,
    reconnection: false,
    timeout: T,
    ...extra,
  };
  delete opts.cookie;
  if (cookie) opts.extraHeaders = { ...(opts.extraHeaders || {}), Cookie: cookie };
  return opts;
}

const open = new Set();

// Connects a socket.io-client to a namespace. Resolves once the socket is connected
// and the component's `hello` arrived (and, in upgrade mode with waitUpgrade, once
// the transport is websocket). Options: url, nsp, cookie, waitUpgrade, plus any
// socket.io-client option.
async function connect(mode, options = {}) {
  const { url = URL1, nsp = NSP_ECHO, waitUpgrade = true, ...rest } = options;
  const socket = io(url + nsp, { ...clientOptions(mode, rest), autoConnect: false });
  open.add(socket);
  const upgraded = mode.upgrade && waitUpgrade ? waitForUpgrade(socket.io) : null;
  if (upgraded) upgraded.catch(() => {}); // awaited below once connected
  let onError;
  const failed = new Promise((_, reject) => {
    onError = (err) => reject(new Error(`connect_error: ${err && err.message}`));
    socket.once("connect_error", onError);
  });
  const hello = once(socket, "hello");
  socket.connect();
  let data;
  try {
    [data] = await Promise.race([hello, failed]);
  } finally {
    socket.off("connect_error", onError);
  }
  socket.helloData = data;
  if (upgraded) await upgraded;
  return socket;
}

// Resolves when the Manager's engine runs on websocket.
function waitForUpgrade(manager, ms = T) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const engine = manager.engine;
      if (!engine) return;
      if (engine.transport && engine.transport.name === "websocket") return done();
      engine.once("upgrade", done);
    };
    const timer = setTimeout(() => reject(new Error(`no upgrade to websocket within ${ms} ms`)), ms);
    function done() {
      clearTimeout(timer);
      resolve();
    }
    if (manager.engine) check();
    else manager.once("open", check);
  });
}

function transportName(socket) {
  return socket.io.engine && socket.io.engine.transport && socket.io.engine.transport.name;
}

// Closes every socket connect() made (call in after/afterEach).
function closeAll() {
  for (const s of open) {
    s.io.reconnection(false);
    s.disconnect();
  }
  open.clear();
}

// ---- raw HTTP -------------------------------------------------------------------

function baseOf(url) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 80) };
}

// One HTTP request on a fresh connection. Resolves {status, headers, body (string),
// raw (Buffer)}; errors (reset, timeout) reject.
function request(method, path, { url = URL1, body, headers = {}, timeout = T } = {}) {
  const { host, port } = baseOf(url);
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== undefined && h["Content-Length"] === undefined && h["content-length"] === undefined) {
      h["Content-Length"] = Buffer.byteLength(body);
    }
    const req = http.request({ host, port, method, path, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: raw.toString("utf8"), raw });
      });
      res.on("error", reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`HTTP ${method} ${path}: no answer within ${timeout} ms`)));
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

function eioPath(query) {
  return `${PATH}?${query}`;
}

// Opens an Engine.IO session over polling; resolves the parsed handshake plus sid.
async function pollingHandshake({ url = URL1, headers = authHeaders() } = {}) {
  const r = await request("GET", eioPath("EIO=4&transport=polling"), { url, headers });
  if (r.status !== 200) throw new Error(`handshake: HTTP ${r.status} ${r.body}`);
  if (r.body[0] !== "0") throw new Error(`handshake: unexpected body ${r.body}`);
  const hs = JSON.parse(r.body.slice(1));
  return { ...hs, headers, response: r };
}

// The server's advertised limits {maxPayload, pingInterval, pingTimeout}, from one
// polling handshake (the session is left to expire).
let limitsPromise = null;
function limits() {
  if (!limitsPromise) {
    limitsPromise = pollingHandshake().then((hs) => ({
      maxPayload: hs.maxPayload,
      pingInterval: hs.pingInterval,
      pingTimeout: hs.pingTimeout,
    }));
  }
  return limitsPromise;
}

// A raw Engine.IO polling session (for tests that need to misbehave).
class RawPolling {
  constructor(hs, url = URL1) {
    this.sid = hs.sid;
    this.hs = hs;
    this.url = url;
    this.headers = hs.headers || {};
  }
  static async open(opts = {}) {
    const hs = await pollingHandshake(opts);
    return new RawPolling(hs, opts.url || URL1);
  }
  path() {
    return eioPath(`EIO=4&transport=polling&sid=${encodeURIComponent(this.sid)}`);
  }
  get(opts = {}) {
    return request("GET", this.path(), { url: this.url, headers: this.headers, ...opts });
  }
  post(body, { headers = {}, ...rest } = {}) {
    return request("POST", this.path(), {
      url: this.url,
      body,
      headers: { "Content-Type": "text/plain;charset=UTF-8", ...this.headers, ...headers },
      ...rest,
    });
  }
  // One GET; returns the list of packets (strings) of its payload.
  async poll(opts) {
    const r = await this.get(opts);
    if (r.status !== 200) throw new Error(`poll: HTTP ${r.status} ${r.body}`);
    return r.body.split("\x1e");
  }
  // GETs until the payload holds packets other than pings (answered with a pong)
  // and noops (dropped unless keepNoop); returns them.
  async next({ keepNoop = false } = {}) {
    for (let i = 0; i < 100; i++) {
      const packets = await this.poll();
      if (packets.includes("2")) {
        const r = await this.post("3");
        if (r.status !== 200) throw new Error(`pong: HTTP ${r.status} ${r.body}`);
      }
      const rest = packets.filter((m) => m !== "2" && (keepNoop || m !== "6"));
      if (rest.length) return rest;
    }
    throw new Error("poll: nothing but pings and noops");
  }
}

// ---- raw WebSocket over TCP -------------------------------------------------------

// A minimal RFC 6455 client with full control of what goes on the wire.
// Events: "message" (data: string for text, Buffer for binary), "close-frame"
// ({code, reason}), "ping" (payload), "end" (TCP closed).
class RawWs extends require("node:events").EventEmitter {
  constructor() {
    super();
    this.buf = Buffer.alloc(0);
    this.frag = null; // {opcode, parts}
    this.inbox = []; // messages not yet taken by next()
    this.closeFrame = null;
    this.ended = false;
    this.autoPong = true; // WebSocket-level pings
  }

  // Connects and performs the opening handshake. Resolves the RawWs when the server
  // answered 101; otherwise rejects with err.response = {status, head, body}.
  static connect(path, { url = URL1, headers = {}, version = "13", key } = {}) {
    const { host, port } = baseOf(url);
    const ws = new RawWs();
    // key "" leaves the Sec-WebSocket-Key header out
    const k = key === undefined ? crypto.randomBytes(16).toString("base64") : key;
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, host);
      ws.sock = sock;
      let head = Buffer.alloc(0);
      let upgraded = false;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`websocket handshake: no answer within ${T} ms`));
      }, T);
      sock.on("connect", () => {
        let req = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\n" + (k === "" ? "" : `Sec-WebSocket-Key: ${k}\r\n`) +
          `Sec-WebSocket-Version: ${version}\r\n`;
        for (const [n, v] of Object.entries(headers)) req += `${n}: ${v}\r\n`;
        sock.write(req + "\r\n");
      });
      sock.on("error", (e) => {
        if (!upgraded) {
          clearTimeout(timer);
          reject(e);
        }
      });
      const onData = (d) => {
        if (upgraded) return ws._onData(d);
        head = Buffer.concat([head, d]);
        const i = head.indexOf("\r\n\r\n");
        if (i < 0) return;
        const text = head.subarray(0, i).toString("latin1");
        const lines = text.split("\r\n");
        const status = Number(lines[0].split(" ")[1]);
        const hdrs = {};
        for (const l of lines.slice(1)) {
          const j = l.indexOf(":");
          hdrs[l.slice(0, j).trim().toLowerCase()] = l.slice(j + 1).trim();
        }
        if (status === 101) {
          upgraded = true;
          clearTimeout(timer);
          const want = crypto.createHash("sha1").update(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
          if (hdrs["sec-websocket-accept"] !== want) {
            sock.destroy();
            reject(new Error("bad Sec-WebSocket-Accept"));
            return;
          }
          ws.responseHeaders = hdrs;
          resolve(ws);
          const rest = head.subarray(i + 4);
          if (rest.length) ws._onData(rest);
        } else {
          // collect the body until the server closes or Content-Length is reached
          const finish = () => {
            clearTimeout(timer);
            sock.destroy();
            const err = new Error(`websocket handshake refused: HTTP ${status}`);
            err.response = { status, headers: hdrs, body: head.subarray(i + 4).toString("utf8") };
            reject(err);
          };
          const len = Number(hdrs["content-length"]);
          if (Number.isFinite(len) && head.length - (i + 4) >= len) finish();
          else sock.once("close", finish);
        }
      };
      sock.on("data", onData);
      sock.on("close", () => {
        if (upgraded) {
          ws.ended = true;
          ws.emit("end");
        }
      });
    });
  }

  _onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      let mask = null;
      if (masked) {
        if (b.length < off + 4) return;
        mask = b.subarray(off, off + 4);
        off += 4;
      }
      if (b.length < off + len) return;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      this.buf = b.subarray(off + len);
      this.serverMasked = this.serverMasked || masked;
      this._onFrame(fin, opcode, payload);
    }
  }

  _onFrame(fin, opcode, payload) {
    if (opcode === 0x8) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      this.closeFrame = { code, reason: payload.subarray(2).toString("utf8") };
      this.emit("close-frame", this.closeFrame);
      if (!this.closeSent) this.sendFrame({ opcode: 0x8, payload: payload.subarray(0, 2) });
      return;
    }
    if (opcode === 0x9) {
      this.emit("ping", payload);
      if (this.autoPong) this.sendFrame({ opcode: 0xa, payload });
      return;
    }
    if (opcode === 0xa) return;
    if (opcode === 0x0) {
      if (!this.frag) return;
      this.frag.parts.push(payload);
      if (!fin) return;
      opcode = this.frag.opcode;
      payload = Buffer.concat(this.frag.parts);
      this.frag = null;
    } else if (!fin) {
      this.frag = { opcode, parts: [payload] };
      return;
    }
    const msg = opcode === 0x1 ? payload.toString("utf8") : payload;
    this.inbox.push(msg);
    this.emit("message", msg);
    this.emit("inbox");
  }

  // Writes one frame. Options: opcode (1 text), payload (string|Buffer), fin (true),
  // mask (true), rsv (0..7), length (override the declared length).
  sendFrame({ opcode = 1, payload = Buffer.alloc(0), fin = true, mask = true, rsv = 0, length } = {}) {
    if (this.ended || this.sock.destroyed) return;
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "utf8");
    const declared = length !== undefined ? length : data.length;
    let hdr;
    if (declared < 126) {
      hdr = Buffer.alloc(2);
      hdr[1] = declared;
    } else if (declared < 65536) {
      hdr = Buffer.alloc(4);
      hdr[1] = 126;
      hdr.writeUInt16BE(declared, 2);
    } else {
      hdr = Buffer.alloc(10);
      hdr[1] = 127;
      hdr.writeBigUInt64BE(BigInt(declared), 2);
    }
    hdr[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
    let body = data;
    if (mask) {
      hdr[1] |= 0x80;
      const m = crypto.randomBytes(4);
      body = Buffer.alloc(data.length);
      for (let i = 0; i < data.length; i++) body[i] = data[i] ^ m[i & 3];
      hdr = Buffer.concat([hdr, m]);
    }
    if (opcode === 0x8) this.closeSent = true;
    this.sock.write(Buffer.concat([hdr, body]));
  }

  send(data) {
    if (Buffer.isBuffer(data)) this.sendFrame({ opcode: 2, payload: data });
    else this.sendFrame({ opcode: 1, payload: data });
  }

  // Resolves with the next message not yet taken (messages are kept from the
  // handshake on), or rejects on timeout / end of connection.
  next(ms = T) {
    if (this.inbox.length) return Promise.resolve(this.inbox.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`raw websocket: no message within ${ms} ms`));
      }, ms);
      const onMsg = () => {
        cleanup();
        resolve(this.inbox.shift());
      };
      const onEnd = () => {
        cleanup();
        reject(new Error("raw websocket: connection closed while waiting for a message"));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.off("inbox", onMsg);
        this.off("end", onEnd);
      };
      if (this.ended) return onEnd();
      this.on("inbox", onMsg);
      this.on("end", onEnd);
    });
  }

  // Resolves when the TCP connection is closed by the server: {closeFrame, messages}
  // with the messages not taken by next() (Engine.IO pings are answered when eioPong
  // is set). Rejects if the server keeps the connection open for ms.
  closed(ms = T, { eioPong = false } = {}) {
    return new Promise((resolve, reject) => {
      const onMsg = (m) => {
        if (eioPong && m === "2") this.send("3");
      };
      const timer = setTimeout(() => {
        this.off("message", onMsg);
        reject(new Error(`raw websocket: server did not close within ${ms} ms (got ${JSON.stringify(this.inbox).slice(0, 200)})`));
      }, ms);
      this.on("message", onMsg);
      const done = () => {
        clearTimeout(timer);
        this.off("message", onMsg);
        resolve({ closeFrame: this.closeFrame, messages: this.inbox.splice(0) });
      };
      if (this.ended) done();
      else this.once("end", done);
    });
  }

  destroy() {
    if (this.sock) this.sock.destroy();
  }
}

// Opens an Engine.IO session over a direct websocket; resolves {ws, hs}.
async function rawEio({ url = URL1, headers = authHeaders() } = {}) {
  const ws = await RawWs.connect(eioPath("EIO=4&transport=websocket"), { url, headers });
  const first = await ws.next();
  if (typeof first !== "string" || first[0] !== "0") {
    ws.destroy();
    throw new Error(`expected an Engine.IO open packet, got ${JSON.stringify(first)}`);
  }
  return { ws, hs: JSON.parse(first.slice(1)) };
}

// Opens an Engine.IO session over a websocket and connects to a namespace; resolves
// {ws, hs, sid} once the CONNECT answer arrived (Engine.IO pings are answered).
async function rawSio(nsp = NSP_ECHO, opts = {}) {
  const { ws, hs } = await rawEio(opts);
  ws.on("message", (m) => {
    if (m === "2") ws.send("3");
  });
  ws.send(nsp === "/" ? "40" : `40${nsp},`);
  for (;;) {
    const m = await ws.next();
    if (m === "2") continue;
    const prefix = nsp === "/" ? "40" : `40${nsp},`;
    if (typeof m === "string" && m.startsWith(prefix)) {
      return { ws, hs, sid: JSON.parse(m.slice(prefix.length)).sid };
    }
    ws.destroy();
    throw new Error(`unexpected answer to CONNECT: ${JSON.stringify(m)}`);
  }
}

// Waits for the echo component's "hello" after a rawSio connect (it may come in
// its own read, after the CONNECT answer) and forgets everything received so far.
async function rawHello(ws, nsp = NSP_ECHO) {
  for (;;) {
    const m = await ws.next();
    if (typeof m === "string" && m.startsWith(`42${nsp},["hello"`)) break;
  }
  ws.inbox.length = 0;
}

// ---- health check -------------------------------------------------------------------

// A fresh client still works: connects (websocket and polling), gets hello and an
// echo round trip.
async function assertHealthy() {
  for (const mode of [MODES[0], MODES[1]]) {
    const s = await connect(mode);
    try {
      const [answer] = await Promise.all([once(s, "echo"), s.emit("echo", "still alive", 42)]);
      if (answer[0] !== "still alive" || answer[1] !== 42) {
        throw new Error(`healthy check: unexpected echo ${JSON.stringify(answer)}`);
      }
    } finally {
      open.delete(s);
      s.disconnect();
    }
  }
}

module.exports = {
  URL1, URL2, PATH, T, NSP_ECHO, NSP_CHAT, HELLO, MODES,
  io, Manager,
  newCookie, authHeaders, cookieSecret,
  once, collect, record, until, within, ack, ackInto,
  clientOptions, connect, waitForUpgrade, transportName, closeAll,
  request, eioPath, pollingHandshake, limits, RawPolling, RawWs, rawEio, rawSio, rawHello,
  assertHealthy,
};
