#!/usr/bin/env node
// Reference server for the interop tests and the benchmark: the official Node
// `socket.io` 4 server running the bundled `echo` and `chat` components with the
// behaviour that raind's C modules have (see handlers/echo and handlers/chat).
//
// It listens on HOST:PORT (default 127.0.0.1 and port 0, i.e. a free port) and
// prints "LISTENING <port>" on stdout once it accepts connections.
//
// Environment (all optional):
//   HOST, PORT               address to bind (default 127.0.0.1, 0)
//   SIO_PING_INTERVAL        Engine.IO pingInterval in ms (default 25000)
//   SIO_PING_TIMEOUT         Engine.IO pingTimeout in ms (default 20000)
//   SIO_MAX_PAYLOAD          maxHttpBufferSize in bytes (default 1048576, i.e. raind's
//                            max_payload of 1 MB; Node's own default is 1e6)
//   SIO_HANDLER_TIMEOUT      ms after which a deferred listener that never settles is
//                            rejected, as raind's handler_timeout (default 30000)
//   SIO_COOKIE_SECRET_FILE   file holding RAIN's cookie secret; when set, a valid
//                            signed `rain.sid` cookie selects the session (see below)
//   SIO_COOKIE_NAME          cookie name (default rain.sid)
//   SIO_VERBOSE              1: log connections and chat messages on stderr
//   SIO_EXIT_WITH_PARENT     1: exit when the parent process goes away (for scripts)
//
// Sessions: raind keeps sessions in Redis under the sid of RAIN's signed cookie
// `rain.sid=<32 hex>.<base64(HMAC-SHA256(secret, sid)) without padding>`. This server
// keeps them in memory: when the Engine.IO handshake carried a validly signed cookie
// (and SIO_COOKIE_SECRET_FILE is set) the session is the one of that sid, shared by
// every connection presenting the same cookie; otherwise each Engine.IO connection
// gets its own fresh session (what raind's `session_create yes` gives a client that
// does not keep the Set-Cookie). A component session is a map key -> JSON value per
// (session, component id).
//
// Events of one socket run strictly in order, like raind's per-socket event queue: a
// listener that defers (returns a promise) holds back the socket's later events until
// it settles or until SIO_HANDLER_TIMEOUT rejects it.
//
// Acknowledgements: the default form is RAIN's error-first one, [null, value] (value
// null when the listener returns nothing) on success and [{"message": "..."}] on
// rejection or timeout. Listeners that must answer with exact arguments return
// exact(...args); the ack is then exactly those arguments.
"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const fs = require("node:fs");
const { Server } = require("socket.io");

function envInt(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`echo-server: bad ${name}=${v}\n`);
    process.exit(2);
  }
  return n;
}

const HOST = process.env.HOST || "127.0.0.1";
const PORT = envInt("PORT", 0);
const PING_INTERVAL = envInt("SIO_PING_INTERVAL", 25000);
const PING_TIMEOUT = envInt("SIO_PING_TIMEOUT", 20000);
const MAX_PAYLOAD = envInt("SIO_MAX_PAYLOAD", 1048576);
const HANDLER_TIMEOUT = envInt("SIO_HANDLER_TIMEOUT", 30000);
const COOKIE_NAME = process.env.SIO_COOKIE_NAME || "rain.sid";
const VERBOSE = process.env.SIO_VERBOSE === "1";
let cookieSecret = null;
if (process.env.SIO_COOKIE_SECRET_FILE) {
  cookieSecret = fs.readFileSync(process.env.SIO_COOKIE_SECRET_FILE, "utf8");
  if (cookieSecret.endsWith("\n")) cookieSecret = cookieSecret.slice(0, -1);
}

function log(...a) {
  if (VERBOSE) process.stderr.write(`echo-server: ${a.join(" ")}\n`);
}

// ---- sessions -------------------------------------------------------------

const sessions = new Map(); // session key -> Map(component id -> Map(key -> JSON text))

function parseCookies(header) {
  const out = {};
  if (!header) return out;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    let v = part.slice(i + 1).trim();
    try { v = decodeURIComponent(v); } catch { /* keep raw */ }
    if (!(k in out)) out[k] = v;
  }
  return out;
}

// Returns the sid of a validly signed RAIN cookie, or null.
function cookieSid(req) {
  if (cookieSecret === null) return null;
  const v = parseCookies(req.headers.cookie)[COOKIE_NAME];
  if (!v) return null;
  const m = /^([0-9a-f]{32})\.([A-Za-z0-9+/]+)$/.exec(v);
  if (!m) return null;
  const want = crypto.createHmac("sha256", cookieSecret).update(m[1]).digest("base64").replace(/=+$/, "");
  const a = Buffer.from(want), b = Buffer.from(m[2]);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return null;
  return m[1];
}

function sessionKey(socket) {
  const conn = socket.conn;
  if (conn.raindSessionKey === undefined) {
    const sid = cookieSid(conn.request);
    conn.raindSessionKey = sid !== null ? "cookie:" + sid : "conn:" + conn.id;
    if (sid === null) {
      // a per-connection session dies with the connection
      conn.once("close", () => sessions.delete(conn.raindSessionKey));
    }
  }
  return conn.raindSessionKey;
}

function componentSession(socket, component) {
  const key = sessionKey(socket);
  let s = sessions.get(key);
  if (!s) sessions.set(key, (s = new Map()));
  let c = s.get(component);
  if (!c) s.set(component, (c = new Map()));
  return {
    get(k) {
      return c.has(k) ? JSON.parse(c.get(k)) : undefined;
    },
    set(k, v) {
      // values are stored as JSON text, as in Redis
      c.set(k, JSON.stringify(v === undefined ? null : v));
    },
    dump() {
      const o = {};
      for (const [k, v] of c) o[k] = JSON.parse(v);
      return o;
    },
  };
}

// ---- listeners with RAIN's semantics ---------------------------------------

const EXACT = Symbol("exact ack");
function exact(...args) {
  return { [EXACT]: args };
}

class Rejection extends Error {}

// on(socket, event, fn): fn(args, socket) returns a value, exact(...), or a promise
// of one (a deferral). Events of a socket are queued and run one at a time.
function on(socket, event, fn) {
  socket.on(event, (...args) => {
    const cb = args.length && typeof args[args.length - 1] === "function" ? args.pop() : null;
    enqueue(socket, async () => {
      let result;
      try {
        result = fn(args, socket);
        if (result && typeof result.then === "function") {
          let timer;
          const timeout = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Rejection(`handler timeout after ${HANDLER_TIMEOUT} ms`)), HANDLER_TIMEOUT);
          });
          try {
            result = await Promise.race([result, timeout]);
          } finally {
            clearTimeout(timer);
          }
        }
      } catch (e) {
        log(`${socket.nsp.name} ${socket.id} ${event}: ${e.message}`);
        if (cb) cb({ message: e.message });
        return;
      }
      if (!cb) return;
      if (result && result[EXACT]) cb(...result[EXACT]);
      else cb(null, result === undefined ? null : result);
    });
  });
}

const queues = new WeakMap(); // socket -> promise of its last queued event

function enqueue(socket, job) {
  const prev = queues.get(socket) || Promise.resolve();
  queues.set(socket, prev.then(job).catch((e) => log("listener failed:", e.stack)));
}

// ---- server ---------------------------------------------------------------

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found\n");
});

const io = new Server(httpServer, {
  pingInterval: PING_INTERVAL,
  pingTimeout: PING_TIMEOUT,
  maxHttpBufferSize: MAX_PAYLOAD,
  serveClient: false,
});

// The default namespace "/" exists and has no handlers, as in raind.

// echo component: id echo, version 1.0, channel echo
const echo = io.of("/echo/1.0/echo");
echo.on("connection", (socket) => {
  log(`connect ${socket.nsp.name} ${socket.id} transport=${socket.conn.transport.name}`);
  const session = () => componentSession(socket, "echo");

  socket.emit("hello", { message: "Hello Sockets!" });

  // echo (...args): emits `echo` back with the same arguments; an ack, if asked
  // for, has RAIN's default form [null, null].
  on(socket, "echo", (args) => {
    socket.emit("echo", ...args);
  });
  // ack (...args, cb): acknowledges with exactly the same arguments
  on(socket, "ack", (args) => exact(...args));
  // server-ack (...args): emits please-ack (...args) asking for an ack, then emits
  // acked (...answer) with the client's answer
  on(socket, "server-ack", (args) => {
    socket.emit("please-ack", ...args, (...answer) => {
      socket.emit("acked", ...answer);
    });
  });
  // join/leave (room, cb?): ack with the room
  on(socket, "join", ([room]) => {
    socket.join(String(room));
    return exact(room);
  });
  on(socket, "leave", ([room]) => {
    socket.leave(String(room));
    return exact(room);
  });
  // to-room (room, payload, cb?): room-message (room, payload) to every member
  on(socket, "to-room", ([room, payload]) => {
    echo.to(String(room)).emit("room-message", room, payload);
    return exact(true);
  });
  // broadcast (payload, cb?): to every socket of the namespace, sender included
  on(socket, "broadcast", ([payload]) => {
    echo.emit("broadcast", payload);
    return exact(true);
  });
  // session calls on the component session
  on(socket, "session-set", ([value]) => {
    session().set("value", value);
    return exact(true);
  });
  on(socket, "session-get", () => {
    const v = session().get("value");
    return exact(v === undefined ? null : v);
  });
  on(socket, "session-put", ([key, value]) => {
    session().set(String(key), value);
    return exact(true);
  });
  on(socket, "session-dump", () => exact(session().dump()));
  // deferred-set (value, ms, cb): stores value after ms on a timer, then cb(true)
  on(socket, "deferred-set", ([value, ms]) => new Promise((resolve) => {
    setTimeout(() => {
      session().set("value", value);
      resolve(exact(true));
    }, Math.max(0, Number(ms) || 0));
  }));
  // never-resolve (cb): defers forever; the timeout rejects it
  on(socket, "never-resolve", () => new Promise(() => {}));
  // drop (mode?): about 50 ms later closes the Engine.IO connection without a
  // Socket.IO DISCONNECT packet; "hard" aborts TCP without a close frame/packet.
  on(socket, "drop", ([mode]) => {
    setTimeout(() => dropConnection(socket.conn, mode === "hard"), 50);
  });
});

function dropConnection(conn, hard) {
  if (conn.readyState !== "open") return;
  if (!hard) {
    conn.close(); // websocket: close frame; polling: Engine.IO close packet
    return;
  }
  const t = conn.transport;
  const tcp = [];
  if (t.name === "websocket") {
    if (t.socket && t.socket._socket) tcp.push(t.socket._socket);
  } else {
    if (t.req && t.req.socket) tcp.push(t.req.socket);
    if (t.dataReq && t.dataReq.socket) tcp.push(t.dataReq.socket);
  }
  if (tcp.length === 0) {
    conn.close(true);
    return;
  }
  for (const s of tcp) s.destroy();
  if (t.name !== "websocket") conn.close(true);
}

// chat component: id chat, version 1.0, channel chat (the seed's example)
const chat = io.of("/chat/1.0/chat");
chat.on("connection", (socket) => {
  log(`connect ${socket.nsp.name} ${socket.id}`);
  socket.emit("hello", { message: "Hello Sockets!" });
  // new-message (data): logs data.text, stores data under `data` in the component
  // session and relays it to the other sockets of the channel (event `new-message`).
  on(socket, "new-message", ([data]) => {
    log(`chat: ${data && data.text}`);
    componentSession(socket, "chat").set("data", data);
    socket.broadcast.emit("new-message", data);
  });
});

httpServer.listen(PORT, HOST, () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});

function shutdown() {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

if (process.env.SIO_EXIT_WITH_PARENT === "1") {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown();
  }, 500).unref();
}
