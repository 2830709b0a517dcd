"""Two raind nodes sharing one private redis-server.

Each node is a master with two workers, its own port and node_id; both
use the same Redis and cookie secret, as nodes behind one load balancer
would.  Checked:

 - a room emit from a client on one node reaches the members on both
   nodes exactly once (and nobody else);
 - a broadcast reaches every socket of the namespace on both nodes
   exactly once;
 - a polling-only client whose requests alternate between the nodes (the
   test picks the port of every request) completes a session with
   events, acknowledgements, a long-poll held on the other node and the
   heartbeat, its requests forwarded through Redis;
 - a websocket upgrade for a sid of the other node is refused with 400
   and the client goes on polling;
 - a forwarded request whose owner does not answer in time gets 504 and
   the late answer is dropped; one whose owner node is gone is told at
   once that its session is unknown;
 - the two-node tests of the Node interop suite (t/interop/twonode.test.js,
   official socket.io-client), when Node.js and npm are there.

"Exactly once" is checked with sentinels: after the message under test,
a last message is sent from each node; whatever copies of the first one
were on their way, on the bus or through Redis, arrive before the
sentinel that took the same way.
"""

import http.client
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawsio  # noqa: E402
import raindtest  # noqa: E402
import redistest  # noqa: E402
from raindtest import SKIP, Raind, check, done  # noqa: E402

NSP = "/echo/1.0/echo"
PING_INTERVAL_MS = 1500
PING_TIMEOUT_MS = 3000
REDIS_TIMEOUT_MS = 1000
# How long a requester waits for the owner (forward.c).
FORWARD_WAIT_S = (PING_INTERVAL_MS + PING_TIMEOUT_MS + REDIS_TIMEOUT_MS) / 1000.0
EIO = "/socket.io/?EIO=4&transport=polling"


def node_conf(redis, secret, node_id):
    return raindtest.node_conf(
        redis, secret, node_id, "ping_interval %dms\nping_timeout %dms\n"
        "redis_timeout %dms\n" % (PING_INTERVAL_MS, PING_TIMEOUT_MS,
                                  REDIS_TIMEOUT_MS))


class Member:
    """A websocket client connected to the echo namespace of one node."""

    def __init__(self, port, name):
        self.name = name
        self.ws = rawsio.sio_client(port, NSP)
        self.next_ack = 1
        self.events = []        # (event, args) seen while waiting

    def call(self, event, *args):
        """Emit with an ack id and wait for the ack (events are kept)."""
        ack = self.next_ack
        self.next_ack += 1
        self.ws.emit_ack(NSP, ack, event, *args)
        end = time.monotonic() + 10
        pre = "%d[" % ack
        while time.monotonic() < end:
            p = self.ws.recv_eio()
            rest = rawsio.sio_body(p, "43", NSP)
            if rest is not None and rest.startswith(pre):
                return json.loads(rest[len(pre) - 1:])
            self.keep(p)
        raise TimeoutError("%s: no ack for %s" % (self.name, event))

    def keep(self, p):
        rest = rawsio.sio_body(p, "42", NSP)
        if rest:
            data = json.loads(rest)
            self.events.append((data[0], data[1:]))

    def until(self, pred, deadline=10.0):
        """Read events until pred(events) holds."""
        end = time.monotonic() + deadline
        while not pred(self.events):
            if time.monotonic() > end:
                raise TimeoutError("%s: gave up, got %r" % (self.name, self.events))
            self.ws.sock.settimeout(max(0.05, end - time.monotonic()))
            self.keep(self.ws.recv_eio(end=end))
        self.ws.sock.settimeout(10)

    def count(self, event, args):
        return sum(1 for e in self.events if e == (event, args))

    def close(self):
        self.ws.close()


def has_all(event, argslist):
    return lambda evs: all((event, a) in evs for a in argslist)


def test_room(a, b):
    room = "two node room %d" % os.getpid()
    sender = Member(a.port, "sender@A")
    members = [Member(a.port, "m1@A"), Member(a.port, "m2@A"),
               Member(b.port, "m3@B"), Member(b.port, "m4@B"),
               Member(b.port, "m5@B")]
    outsider = Member(b.port, "outsider@B")
    try:
        for m in members:
            check(m.call("join", room) == [room], "%s joined the room" % m.name)
        msg = [room, {"n": 1}]
        check(sender.call("to-room", room, {"n": 1}) == [True],
              "room emit from node A acknowledged")
        for m in members:
            m.until(has_all("room-message", [msg]))
        # Sentinels from both nodes, sent by members (on A and on B).
        ends = [[room, {"end": "A"}], [room, {"end": "B"}]]
        check(members[0].call("to-room", room, {"end": "A"}) == [True],
              "sentinel from node A")
        check(members[3].call("to-room", room, {"end": "B"}) == [True],
              "sentinel from node B")
        for m in members:
            m.until(has_all("room-message", ends))
            check(m.count("room-message", msg) == 1,
                  "%s got the room emit exactly once (%d)" % (
                      m.name, m.count("room-message", msg)))
            check(all(m.count("room-message", e) == 1 for e in ends),
                  "%s got each sentinel exactly once" % m.name)
        outsider.call("echo", "x")
        check(not any(e[0] == "room-message" for e in outsider.events) and
              not any(e[0] == "room-message" for e in sender.events),
              "sockets outside the room got nothing")
        # After everyone left, the room emits reach nobody.
        for m in members:
            m.call("leave", room)
        sender.call("to-room", room, {"n": 2})
        members[2].call("echo", "sync")
        check(all(m.count("room-message", [room, {"n": 2}]) == 0 for m in members),
              "nothing after leaving the room")
    finally:
        for m in members + [sender, outsider]:
            m.close()


def test_broadcast(a, b):
    tag = "bcast-%d-%f" % (os.getpid(), time.time())
    clients = [Member(a.port, "c1@A"), Member(a.port, "c2@A"),
               Member(a.port, "c3@A"), Member(b.port, "c4@B"),
               Member(b.port, "c5@B"), Member(b.port, "c6@B")]
    try:
        check(clients[4].call("broadcast", {"tag": tag, "n": 1}) == [True],
              "broadcast from node B acknowledged")
        check(clients[0].call("broadcast", {"tag": tag, "end": "A"}) == [True],
              "sentinel broadcast from node A")
        check(clients[5].call("broadcast", {"tag": tag, "end": "B"}) == [True],
              "sentinel broadcast from node B")
        want = [[{"tag": tag, "n": 1}], [{"tag": tag, "end": "A"}],
                [{"tag": tag, "end": "B"}]]
        for c in clients:
            c.until(has_all("broadcast", want))
            check(all(c.count("broadcast", w) == 1 for w in want),
                  "%s got every broadcast exactly once" % c.name)
    finally:
        for c in clients:
            c.close()


class Polling:
    """A raw Engine.IO polling client; every request names its port."""

    def __init__(self, port):
        status, headers, body = self.request(port, "GET", EIO)
        if status != 200 or not body.startswith("0"):
            raise RuntimeError("handshake: %d %r" % (status, body))
        self.open = json.loads(body[1:])
        self.sid = self.open["sid"]
        self.cookie = headers.get("set-cookie", "").split(";", 1)[0]
        self.path = EIO + "&sid=" + self.sid

    def request(self, port, method, path, body=None, timeout=None):
        conn = http.client.HTTPConnection("127.0.0.1", port,
                                          timeout=timeout or FORWARD_WAIT_S + 10)
        headers = {}
        if getattr(self, "cookie", ""):
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "text/plain;charset=UTF-8"
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read().decode()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def post(self, port, text):
        return self.request(port, "POST", self.path, text.encode())

    def get(self, port):
        return self.request(port, "GET", self.path)


def test_polling(a, b, ports):
    turn = [0]

    def port():
        p = ports[turn[0] % 2]
        turn[0] += 1
        return p

    p = Polling(port())
    got = []

    def post(text):
        st, _, body = p.post(port(), text)
        check(st == 200 and body == "ok", "POST %r: %d %r" % (text[:40], st, body))

    def wait_for(pred, what):
        """GET (alternating) until pred(packets) holds; pings are answered."""
        end = time.monotonic() + 20
        while time.monotonic() < end:
            r = pred(got)
            if r:
                check(True, what)
                return r
            st, _, body = p.get(port())
            if st != 200:
                break
            for pkt in body.split("\x1e"):
                if pkt == "2":
                    post("3")
                elif pkt != "6":
                    got.append(pkt)
        check(False, "%s (got %r)" % (what, got))
        return None

    def expect(want, what):
        return wait_for(lambda g: all(w in g for w in want), what)

    post("40%s," % NSP)
    expect(['42%s,["hello",{"message":"Hello Sockets!"}]' % NSP],
           "namespace connected, hello received")
    check(any(g.startswith('40%s,{"sid":' % NSP) for g in got), "CONNECT answered")
    post('42%s,["echo","alternating \u2713"]' % NSP)
    expect(['42%s,["echo","alternating \u2713"]' % NSP], "echo event came back")
    post('42%s,1["ack",1,2]' % NSP)
    expect(['43%s,1[1,2]' % NSP], "ack of event 1 came back")
    post('42%s,["server-ack","q"]' % NSP)
    pre = '42%s,' % NSP
    ask = wait_for(lambda g: next((x for x in g if x.startswith(pre) and
                                   x.endswith('["please-ack","q"]')), None),
                   "the server asks for an ack")
    if ask is not None:
        ack_id = ask[len(pre):].split("[", 1)[0]
        post('43%s,%s["answer"]' % (NSP, ack_id))
        expect(['42%s,["acked","answer"]' % NSP], "the server got our ack")

    # A long-poll with nothing to send, held on the owner (through the
    # other node every second time) until the heartbeat's ping.
    for _ in range(2):
        t0 = time.monotonic()
        st, _, body = p.get(port())
        dt = time.monotonic() - t0
        check(st == 200 and body.split("\x1e") == ["2"],
              "a held GET brought the ping: %d %r after %.1fs" % (st, body, dt))
        post("3")
    post('42%s,["echo","after ping"]' % NSP)
    expect(['42%s,["echo","after ping"]' % NSP], "session alive after the heartbeats")
    post("1")


def sid_tag(node):
    """The node tag of node, from the sid of a fresh handshake."""
    p = Polling(node.port)
    return p.sid[:4]


def test_upgrade_refused(a, b):
    p = Polling(a.port)
    ws = rawsio.WSClient(b.port, path="/socket.io/?EIO=4&transport=websocket&sid="
                         + p.sid)
    check(ws.status == 400, "upgrade on node B of a sid of node A: %d" % ws.status)
    ws.close()
    st, _, body = p.post(a.port, "40%s," % NSP)
    check(st == 200 and body == "ok", "polling goes on after the refusal")
    end = time.monotonic() + 10
    seen = ""
    while "40%s," % NSP not in seen and time.monotonic() < end:
        st, _, body = p.get(b.port)
        seen += body
    check(seen.startswith("40%s," % NSP) or ("\x1e40%s," % NSP) in seen,
          "CONNECT answered through node B")
    p.post(b.port, "1")


def test_owner_stuck_then_gone(a, b):
    """SIGSTOP node B's workers: 504, and the late answer is dropped."""
    p = Polling(b.port)
    p.post(b.port, "40%s," % NSP)
    workers = b.worker_pids()
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        st, _, body = p.get(a.port)
        dt = time.monotonic() - t0
        check(st == 504, "owner stopped: 504 (%d %r)" % (st, body))
        check(FORWARD_WAIT_S * 0.8 <= dt <= FORWARD_WAIT_S + 5,
              "after ping_interval + ping_timeout + redis_timeout (%.1fs)" % dt)
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    raindtest.wait_until(lambda: "late answer" in a.logtext(), 10,
                         "the late answer")
    check(True, "the owner's late answer was dropped")

    # Node B goes away: nobody listens on its channels any more.
    q = Polling(b.port)
    b.stop()
    t0 = time.monotonic()
    st, _, body = q.get(a.port)
    dt = time.monotonic() - t0
    check(st == 400 and json.loads(body or "{}").get("code") == 1,
          "owner node gone: Session ID unknown (%d %r)" % (st, body))
    check(dt < FORWARD_WAIT_S / 2, "at once (%.2fs)" % dt)


def test_interop(a, b, secret):
    """The two-node tests of the interop suite, with the official client."""
    raindtest.interop_check(
        ["twonode.test.js"], {"SIO_URL": "http://127.0.0.1:%d" % a.port,
                              "SIO_URL2": "http://127.0.0.1:%d" % b.port,
                              "SIO_COOKIE_SECRET_FILE": secret},
        5, "interop two-node tests")


def main():
    if not redistest.available():
        print("# redis-server or redis-cli not found")
        sys.exit(SKIP)
    redis = redistest.Redis().start()
    secret = raindtest.secret_file()
    a = Raind(conf=node_conf(redis, secret, "node-a"), workers=2)
    b = Raind(conf=node_conf(redis, secret, "node-b"), workers=2)
    try:
        a.start()
        b.start()
        check(sid_tag(a) != sid_tag(b), "the nodes have different tags")
        test_room(a, b)
        test_broadcast(a, b)
        test_polling(a, b, [a.port, b.port])
        test_polling(a, b, [b.port, a.port])
        fa = a.logtext().count("forwarded to")
        fb = b.logtext().count("forwarded to")
        check(fa > 0 and fb > 0, "both nodes forwarded requests (%d, %d)" % (fa, fb))
        test_upgrade_refused(a, b)
        test_interop(a, b, secret)
        test_owner_stuck_then_gone(a, b)
        for n in (a, b):
            log = n.logtext()
            check("killed by signal" not in log and "exited with status" not in log,
                  "no worker died")
            check("malformed" not in log, "no malformed message logged")
    finally:
        a.cleanup()
        b.cleanup()
        redis.cleanup()
        os.unlink(secret)
    done()


main()
