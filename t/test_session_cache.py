"""Integration: the workers' session cache (Redis client-side caching).

Two raind nodes, A and B, one worker each, on one private redis-server,
with the echo component (useSession) and one session shared by a
websocket client on each node (a cookie signed here).  Checked:

- tracking: each worker's command connection tracks with REDIRECT to its
  pub/sub connection (CLIENT LIST), and raind says it is on;
- a write from node B (a handler saving the session), or from redis-cli
  (HSET on the session's key), between two events on node A is seen on
  A as soon as its invalidation came (within a second; stale answers
  before it are counted: Redis gives no ordering between the writer's
  acknowledgement and the invalidation), many times over, while A's
  cache answers the loads of the unchanged session (its hit counter
  grows);
- the invalidation connection is killed and the hash changed in the same
  MULTI/EXEC, so that no invalidation can ever reach A: the next event on
  A still sees the new value (the cache was flushed), tracking comes back
  with the new connection's id, hits resume, and a later write is seen;
- round trips: N events on an unchanged session cost far fewer than N
  HGETALLs (INFO commandstats), where a node with session_cache_size 0
  makes two per event; /metrics counts the hits and misses.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawsio  # noqa: E402
import raindtest  # noqa: E402
import redistest  # noqa: E402
from raindtest import COMPONENTS, SKIP, Raind, check, done, get, wait_until  # noqa: E402

NSP = "/echo/1.0/echo"
STALE_MAX_S = 1.0       # a write made elsewhere is seen within this
PREFIX = "rain:"
SECRET = b"session cache test secret"
WAIT = 10.0
ROUNDS = 25       # alternations of writer and reader
EVENTS = 60       # events on an unchanged session, for the round trips


def sign(sid):
    mac = hmac.new(SECRET, sid.encode(), hashlib.sha256).digest()
    sig = base64.b64encode(mac).decode().rstrip("=")
    return urllib.parse.quote("%s.%s" % (sid, sig), safe="")


class Client:
    """A websocket client of the echo namespace with the session's cookie."""

    def __init__(self, node, sid, name):
        self.name = name
        self.ws = rawsio.WSClient(node.port, extra="Cookie: rain.sid=%s\r\n" %
                                  sign(sid))
        if self.ws.status != 101:
            raise RuntimeError("%s: upgrade refused: %d" % (name, self.ws.status))
        self.ws.eio_open()
        t, data = self.ws.sio_connect(NSP)
        if t != "40":
            raise RuntimeError("%s: connect refused: %r" % (name, data))
        self.ack = 0

    def call(self, event, *args):
        self.ack += 1
        return self.ws.call(NSP, self.ack, event, *args, deadline=WAIT)

    def close(self):
        self.ws.close()


def metric(node, name):
    st, _, body, _ = get(node.port, "/metrics")
    if st != 200:
        raise RuntimeError("/metrics: %d" % st)
    m = re.search(r"^%s (\d+)" % re.escape(name), body.decode(), re.M)
    return int(m.group(1)) if m else 0


def hits(node):
    return metric(node, "raind_session_cache_hits_total")


def hgetall_calls(redis):
    m = re.search(r"cmdstat_hgetall:calls=(\d+)", redis.cli("INFO", "commandstats"))
    return int(m.group(1)) if m else 0


def tracking_on(node):
    return node.logtext().count("client-side caching on")


def tracking_clients(redis):
    """(id, redir) of the clients with tracking on."""
    out = []
    for line in redis.cli("CLIENT", "LIST").splitlines():
        f = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
        if "t" in f.get("flags", "") and f.get("redir", "-1") != "-1":
            out.append((f["id"], f["redir"]))
    return out


def pubsub_ids(redis):
    ids = []
    for line in redis.cli("CLIENT", "LIST").splitlines():
        f = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
        if f.get("cmd") in ("subscribe", "psubscribe", "client|id") or \
                int(f.get("sub", "0")) + int(f.get("psub", "0")) > 0:
            ids.append(f["id"])
    return ids


def warm(a, ca, value):
    """Events on A until its cache answers them; each must see value."""
    before = hits(a)
    for _ in range(20):
        got = ca.call("session-get")
        if got != [value]:
            return got
        if hits(a) > before + 1:
            return [value]
    raise RuntimeError("node A's cache never answered")


def test_tracking(redis, a, b):
    wait_until(lambda: tracking_on(a) >= 1 and tracking_on(b) >= 1, WAIT,
               "tracking on in both nodes")
    clients = tracking_clients(redis)
    check(len(clients) == 2, "two command connections track (%r)" % clients)
    subs = pubsub_ids(redis)
    check(all(redir in subs for _, redir in clients),
          "each redirects to a pub/sub connection (%r, %r)" % (clients, subs))


def seen_within(ca, v):
    """Events on A until it sees v (bounded by STALE_MAX_S): the number of
    stale answers first, or None when it never did.  Then once more: A's
    cache may answer now, and must still be right."""
    end = time.monotonic() + STALE_MAX_S
    stale = 0
    while ca.call("session-get") != [v]:
        stale += 1
        if time.monotonic() > end:
            return None
    return stale if ca.call("session-get") == [v] else None


def test_writes_seen(redis, a, b, ca, cb, sid):
    """With the cache, a write made elsewhere is seen once its invalidation
    came (raind.conf(5), session_cache_size): on a quiet machine by the very
    next event; stale answers before it are counted, not failed, since
    Redis sends the invalidation on another connection than the writer's
    acknowledgement, and a loaded machine may delay it by milliseconds."""
    check(ca.call("session-set", "start") == [True], "A: session-set")
    check(warm(a, ca, "start") == ["start"], "A: the cache answers, with the value")
    seen = stale = 0
    for i in range(ROUNDS):
        v = "from B %d" % i
        if cb.call("session-set", v) != [True]:
            break
        n = seen_within(ca, v)
        if n is None:
            check(False, "A sees B's write %d within %g s" % (i, STALE_MAX_S))
            break
        stale += n
        seen += 1
    check(seen == ROUNDS, "A saw each of %d writes from node B (%d stale "
          "answers before them)" % (ROUNDS, stale))
    key = "%ss:%s:echo" % (PREFIX, sid)
    seen = stale = 0
    for i in range(ROUNDS):
        v = "from redis-cli %d" % i
        redis.cli("HSET", key, "value", json.dumps(v))
        n = seen_within(ca, v)
        if n is None:
            break
        stale += n
        seen += 1
    check(seen == ROUNDS, "A saw each of %d HSETs from redis-cli (%d stale "
          "answers before them)" % (ROUNDS, stale))
    h0 = hits(a)
    for _ in range(5):
        ca.call("session-get")
    check(hits(a) >= h0 + 5, "A's cache answered the unchanged session")


def test_invalidations_lost(redis, a, ca, sid):
    key = "%ss:%s:echo" % (PREFIX, sid)
    redis.cli("HSET", key, "value", json.dumps("before the kill"))
    check(warm(a, ca, "before the kill") == ["before the kill"],
          "A: cached before the kill")
    on = tracking_on(a)
    lost = a.logtext().count("redis pub/sub: connection lost")
    # One transaction: the pub/sub connections die, then the hash
    # changes; the invalidation has nowhere to go.
    r = subprocess.run([redistest.REDIS_CLI, "-s", redis.socket],
                       input="MULTI\nCLIENT KILL TYPE pubsub\n"
                       "HSET %s value %s\nEXEC\n" % (
                           key, json.dumps(json.dumps("while down"))),
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, "MULTI: kill and HSET (%r)" % r.stdout)
    check(ca.call("session-get") == ["while down"],
          "A sees the value changed while its invalidations were lost")
    wait_until(lambda: a.logtext().count("redis pub/sub: connection lost") > lost,
               WAIT, "A noticed its pub/sub connection lost")
    wait_until(lambda: tracking_on(a) > on, WAIT, "tracking on again in A")
    check(ca.call("session-get") == ["while down"], "A still sees it")
    clients = tracking_clients(redis)
    subs = pubsub_ids(redis)
    check(len(clients) == 2 and all(redir in subs for _, redir in clients),
          "tracking redirects to the new pub/sub connections (%r, %r)" %
          (clients, subs))
    check(warm(a, ca, "while down") == ["while down"], "A's cache answers again")
    redis.cli("HSET", key, "value", json.dumps("after"))
    check(ca.call("session-get") == ["after"], "A sees a write made after")


def test_round_trips(redis, a, ca, secret, sid):
    check(warm(a, ca, "after") == ["after"], "A: warm")
    h0, c0 = hits(a), hgetall_calls(redis)
    for _ in range(EVENTS):
        ca.call("session-get")
    h1, c1 = hits(a), hgetall_calls(redis)
    check(c1 - c0 <= EVENTS // 10,
          "%d events, %d HGETALLs with the cache" % (EVENTS, c1 - c0))
    check(h1 - h0 >= 2 * EVENTS - (c1 - c0),
          "hits counted: %d for %d events" % (h1 - h0, EVENTS))
    check(metric(a, "raind_session_cache_misses_total") > 0, "misses counted")
    off = Raind(conf=node_conf(redis, secret, "node-c", 0), workers=1).start()
    try:
        cc = Client(off, sid, "C")
        c0 = hgetall_calls(redis)
        for _ in range(EVENTS):
            cc.call("session-get")
        c1 = hgetall_calls(redis)
        check(c1 - c0 >= 2 * EVENTS,
              "%d events, %d HGETALLs without the cache" % (EVENTS, c1 - c0))
        check(hits(off) == 0, "session_cache_size 0: no hits")
        check(tracking_on(off) == 0, "session_cache_size 0: no tracking")
        cc.close()
    finally:
        off.stop()
        off.cleanup()


def node_conf(redis, secret, node_id, cache=None):
    conf = ("components %s\nredis %s\ncookie_secret_file %s\nnode_id %s\n"
            "redis_timeout 1s\n" % (COMPONENTS, redis.address, secret, node_id))
    if cache is not None:
        conf += "session_cache_size %d\n" % cache
    return conf


def main():
    if not redistest.available():
        print("# redis-server or redis-cli not found")
        sys.exit(SKIP)
    redis = redistest.Redis().start()
    secret = raindtest.secret_file(SECRET.decode())
    sid = os.urandom(16).hex()
    redis.cli("HSET", "%ss:%s" % (PREFIX, sid), "created", "1")
    a = Raind(conf=node_conf(redis, secret, "node-a", 4096), workers=1)
    b = Raind(conf=node_conf(redis, secret, "node-b", 64), workers=1)
    ca = cb = None
    try:
        a.start()
        b.start()
        test_tracking(redis, a, b)
        ca = Client(a, sid, "A")
        cb = Client(b, sid, "B")
        test_writes_seen(redis, a, b, ca, cb, sid)
        test_invalidations_lost(redis, a, ca, sid)
        test_round_trips(redis, a, ca, secret, sid)
        for n in (a, b):
            log = n.logtext()
            check("killed by signal" not in log and "exited with status" not in log,
                  "no worker died")
    finally:
        for c in (ca, cb):
            if c is not None:
                c.close()
        for n in (a, b):
            n.stop()
            n.cleanup()
        redis.cleanup()
        os.unlink(secret)
    done()


if __name__ == "__main__":
    main()
