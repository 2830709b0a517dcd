// The client side of t/test_balancer.py: the official socket.io-client talks to
// three raind nodes through a round-robin load balancer at SIO_URL (see lib.js for
// the environment). Not a node:test file: it prints one "ok - " or "FAIL - " line per
// check and a few lines for the Python side, which drives the phases:
//
//   POLLSID <sid>      the Engine.IO sid of the lone polling session (phase 1);
//                      the test finds its requests in the balancer's log
//   CLIENTS <json>     [{name, sid}] of the clients that are to survive a node's
//                      death; the script then waits for a line "killed" on stdin
//   DONE               the end
//
// Every wait is bounded (lib.js's SIO_TIMEOUT, and the 2 s of the reconnection).
"use strict";

const readline = require("node:readline");
const L = require("./lib.js");

const NSP = L.NSP_ECHO;
const [WS, POLL, UP] = L.MODES;
const RECONNECT_MS = 2000;
const tag = `${process.pid}-${Date.now()}`;

let failures = 0;
function check(cond, what) {
  if (!cond) failures++;
  console.log(`${cond ? "ok" : "FAIL"} - ${what}`);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const count = (rec, want) => rec.filter((a) => same(a, want)).length;

// Runs one step; an exception is one failed check, and the script goes on.
async function step(what, fn) {
  try {
    await fn();
  } catch (e) {
    check(false, `${what}: ${e && e.message}`);
  }
}

const nodeOf = (s) => (s.io.engine && s.io.engine.id ? s.io.engine.id.slice(0, 4) : "?");

// Echo, a client ack and a server ack on one socket.
async function basics(s, name) {
  const text = `echo through the balancer ${name} ✓`;
  const echoed = L.once(s, "echo");
  s.emit("echo", text);
  check(same(await echoed, [text]), `${name}: echo`);
  check(same(await L.ack(s, "ack", 1, { two: 2 }), [1, { two: 2 }]), `${name}: ack`);
  const asked = L.once(s, "please-ack");
  const acked = L.once(s, "acked");
  s.emit("server-ack", "q");
  const args = await asked;
  check(args[0] === "q" && typeof args[1] === "function", `${name}: the server asks for an ack`);
  args[1]("answer");
  check(same(await acked, ["answer"]), `${name}: the server got the ack`);
}

// Phase 1: one polling-only client alone, so that its requests take the
// balancer's turns one after the other.
async function lonePolling() {
  const s = await L.connect(POLL);
  console.log(`POLLSID ${s.io.engine.id}`);
  for (let i = 0; i < 3; i++) await basics(s, `lone polling client, round ${i + 1}`);
  s.disconnect();
}

// Room emits and broadcasts: every member gets each message exactly once. After
// the message under test every socket sends a sentinel; a copy of the message on
// its way (through Redis or a node's bus) arrives before the sentinel that its
// sender sent after it along the same way.
async function roomsAndBroadcast() {
  const members = [];
  for (const mode of [WS, POLL, UP, WS, POLL, UP]) {
    members.push({ mode: mode.name, s: await L.connect(mode, { waitUpgrade: false }) });
  }
  const sender = await L.connect(WS);
  const outsider = await L.connect(POLL);
  const all = members.map((m) => m.s).concat([sender]);
  const nodes = new Set(all.map(nodeOf));
  console.log(`# room members on nodes ${[...nodes].join(" ")}`);
  for (const [i, m] of members.entries()) await basics(m.s, `${m.mode} client ${i}`);
  const room = `balanced room ${tag}`;
  const recs = members.map((m) => L.record(m.s, "room-message"));
  const outRec = L.record(outsider, "room-message");
  for (const [i, m] of members.entries()) {
    check(same(await L.ack(m.s, "join", room), [room]), `member ${i} (${m.mode}) joined the room`);
  }
  const msg = [room, { n: 1 }];
  check(same(await L.ack(sender, "to-room", ...msg), [true]), "room emit acknowledged");
  const ends = [];
  for (const [i, s] of all.entries()) {
    ends.push([room, { end: i }]);
    check(same(await L.ack(s, "to-room", room, { end: i }), [true]), `sentinel ${i} sent`);
  }
  for (const [i, m] of members.entries()) {
    await L.within(Promise.all([msg, ...ends].map((w) => L.until(m.s, recs[i], "room-message", w))),
      L.T, `member ${i}: the room emit and every sentinel`);
    check(count(recs[i], msg) === 1 && ends.every((e) => count(recs[i], e) === 1),
      `member ${i} (${m.mode}, node ${nodeOf(m.s)}) got the room emit and each sentinel exactly once`);
  }
  await L.ack(outsider, "echo", "sync");
  check(outRec.length === 0, "the socket outside the room got nothing");

  const bRecs = all.map((s) => L.record(s, "broadcast"));
  const want = [[{ tag, n: 1 }]];
  check(same(await L.ack(members[1].s, "broadcast", { tag, n: 1 }), [true]), "broadcast acknowledged");
  for (const [i, s] of all.entries()) {
    want.push([{ tag, end: i }]);
    check(same(await L.ack(s, "broadcast", { tag, end: i }), [true]), `broadcast sentinel ${i} sent`);
  }
  for (const [i, s] of all.entries()) {
    await L.within(Promise.all(want.map((w) => L.until(s, bRecs[i], "broadcast", w))),
      L.T, `socket ${i}: every broadcast`);
    check(want.every((w) => count(bRecs[i], w) === 1),
      `socket ${i} (node ${nodeOf(s)}) got every broadcast exactly once`);
  }
  const upgraded = members.filter((m) => m.mode === UP.name && L.transportName(m.s) === "websocket");
  console.log(`# ${upgraded.length} of 2 default clients upgraded to websocket`);
  for (const s of all.concat([outsider])) s.disconnect();
}

// One session (one cookie) used by a client of each mode at once.
async function sessions() {
  const cookie = L.newCookie();
  const a = await L.connect(WS, { cookie });
  const b = await L.connect(POLL, { cookie });
  const c = await L.connect(UP, { cookie, waitUpgrade: false });
  check(same(await L.ack(a, "deferred-set", { from: "websocket" }, 10), [true]), "session set (websocket)");
  check(same(await L.ack(b, "session-get"), [{ from: "websocket" }]), "session read (polling)");
  check(same(await L.ack(c, "session-put", "k2", "default"), [true]), "session put (default)");
  check(same(await L.ack(b, "session-put", "k3", [3]), [true]), "session put (polling)");
  check(same(await L.ack(a, "session-dump"), [{ value: { from: "websocket" }, k2: "default", k3: [3] }]),
    "the whole session read back (websocket)");
  check(same(await L.ack(c, "session-get"), [{ from: "websocket" }]), "session read (default)");
  for (const s of [a, b, c]) s.disconnect();
}

// Phase 2: clients that reconnect on their own; the test kills a node under them.
async function survivors(lines) {
  const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200,
    randomizationFactor: 0, timeout: RECONNECT_MS };
  const clients = [];
  for (let i = 0; i < 9; i++) {
    const mode = [WS, POLL, UP][i % 3];
    const s = await L.connect(mode, { ...opts, waitUpgrade: false });
    const c = { name: `survivor ${i} (${mode.name})`, s, value: { i, tag }, connects: 0 };
    s.on("connect", () => {
      c.connects++;
      c.at = Date.now();
    });
    check(same(await L.ack(s, "session-put", "saved", c.value), [true]), `${c.name}: session saved`);
    c.sid = s.io.engine.id;
    clients.push(c);
  }
  console.log(`CLIENTS ${JSON.stringify(clients.map((c) => ({ name: c.name, sid: c.sid })))}`);
  const killed = await lines.next();
  if (killed.done || !killed.value.startsWith("killed ")) {
    check(false, `told which node was killed (${killed.value})`);
    return;
  }
  const dead = killed.value.split(" ")[1];
  const t0 = Date.now();
  const victims = clients.filter((c) => c.sid.startsWith(dead));
  check(victims.length > 0, `${victims.length} clients were on the killed node`);
  // Wait (bounded) until every victim has reconnected to another node.
  const back = (c) => c.connects > 0 && c.s.connected && !nodeOf(c.s).startsWith(dead);
  const deadline = t0 + RECONNECT_MS + L.T;
  while (!victims.every(back) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const c of victims) {
    const ms = c.connects ? c.at - t0 : NaN;
    check(back(c) && ms <= RECONNECT_MS,
      `${c.name} reconnected through the balancer to node ${nodeOf(c.s)} within 2 s (${ms} ms)`);
  }
  for (const c of clients) {
    await step(`${c.name} after the kill`, async () => {
      if (!c.s.connected) await L.once(c.s, "connect");
      check(same(await L.ack(c.s, "session-dump"), [{ saved: c.value }]),
        `${c.name}: the saved session is intact`);
      const echoed = L.once(c.s, "echo");
      c.s.emit("echo", `after ${c.name}`);
      check(same(await echoed, [`after ${c.name}`]), `${c.name}: echo after the kill`);
    });
  }
  // The room works again across the two nodes that are left.
  const room = `after the kill ${tag}`;
  const recs = clients.map((c) => L.record(c.s, "room-message"));
  for (const c of clients) await L.ack(c.s, "join", room);
  check(same(await L.ack(clients[0].s, "to-room", room, { n: 2 }), [true]), "room emit after the kill");
  for (const [i, c] of clients.entries()) {
    await L.ack(c.s, "to-room", room, { end: i });
  }
  for (const [i, c] of clients.entries()) {
    const want = [[room, { n: 2 }], ...clients.map((_, j) => [room, { end: j }])];
    await step(`${c.name}: room after the kill`, async () => {
      await L.within(Promise.all(want.map((w) => L.until(c.s, recs[i], "room-message", w))),
        L.T, "room messages");
      check(want.every((w) => count(recs[i], w) === 1), `${c.name}: each room message exactly once after the kill`);
    });
  }
  for (const c of clients) {
    c.s.io.reconnection(false);
    c.s.disconnect();
  }
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  await step("lone polling client", lonePolling);
  await step("rooms and broadcast", roomsAndBroadcast);
  await step("sessions", sessions);
  await step("a node killed", () => survivors(lines));
  L.closeAll();
  console.log("DONE");
  process.exit(failures ? 1 : 0);
}

main();
