// tls-client.js URL CAFILE: socket.io-client over TLS against raind.
//
// Connects to URL (https://127.0.0.1:PORT) in the echo component's namespace,
// verifying the server's certificate against CAFILE, once per transport
// setting, and round-trips `echo` events, a large binary one among them (it
// crosses workers through the TLS relay in more than one piece). A client
// without the CA must be refused. Prints one line per check and "OK" when all
// passed; exits 1 otherwise. socket.io-client is found through NODE_PATH
// (t/interop/setup.sh).
"use strict";

const fs = require("node:fs");
const { io } = require("socket.io-client");

const [url, caFile] = process.argv.slice(2);
if (!url || !caFile) {
  console.error("usage: node tls-client.js https://HOST:PORT CAFILE");
  process.exit(2);
}
const ca = fs.readFileSync(caFile);
const NSP = "/echo/1.0/echo";
const T = 5000;
const ROUNDS = 20;
const BIG = 200 * 1024;

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("timeout: " + what)), T);
    }),
  ]).finally(() => clearTimeout(timer));
}

function connect(opts) {
  const s = io(url + NSP, {
    forceNew: true,
    reconnection: false,
    timeout: T,
    ...opts,
  });
  return withTimeout(new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", (err) => {
      s.close();
      reject(err);
    });
  }), "connect");
}

function echo(s, ...args) {
  return withTimeout(new Promise((resolve) => {
    s.once("echo", (...got) => resolve(got));
    s.emit("echo", ...args);
  }), "echo");
}

async function roundTrips(name, opts) {
  const s = await connect({ ca, rejectUnauthorized: true, ...opts });
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const [n, text] = await echo(s, i, "over " + name);
      if (n !== i || text !== "over " + name)
        throw new Error(`${name}: echo ${i} came back as ${n} ${text}`);
    }
    const big = Buffer.alloc(BIG);
    for (let i = 0; i < BIG; i++) big[i] = (i * 7) & 0xff;
    const [back] = await echo(s, big);
    if (!Buffer.isBuffer(back) || !back.equals(big))
      throw new Error(`${name}: the ${BIG}-byte attachment came back altered`);
    console.log(`ok - ${name}: ${ROUNDS + 1} echo round trips, transport ${s.io.engine.transport.name}`);
  } finally {
    s.close();
  }
}

async function refused() {
  try {
    const s = await connect({ transports: ["websocket"], rejectUnauthorized: true });
    s.close();
  } catch (err) {
    console.log("ok - a client without the CA is refused: " + (err.description?.message || err.message));
    return;
  }
  throw new Error("a client without the CA connected");
}

(async () => {
  await roundTrips("websocket", { transports: ["websocket"], upgrade: false });
  await roundTrips("polling", { transports: ["polling"], upgrade: false });
  await roundTrips("polling+upgrade", { transports: ["polling", "websocket"], upgrade: true });
  await refused();
  console.log("OK");
  process.exit(0);
})().catch((err) => {
  console.log("FAIL - " + (err.stack || err));
  process.exit(1);
});
