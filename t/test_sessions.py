"""Integration: sessions in a real redis-server.

A private redis-server (t/redistest.py) and raind with four workers and
the echo component (useSession).  Clients speak Engine.IO polling over
raw HTTP, so a test can choose its cookie, see every header, and tell
which worker owns a session (the slot is sid[4], base64url).

- session_create no: a client without a cookie, with a tampered one, or
  with a well-signed one whose global session does not exist in Redis, is
  refused with CONNECT_ERROR {"message":"unauthorized"}; a cookie signed
  here with hmac/hashlib (an independent signer) for a session that
  exists is accepted.
- A component without useSession uses the global session (handle and
  RAIN_GLOBAL_SESSION listeners); another component sees its writes.
- A value set over one connection is read over another connection owned
  by another worker.
- A deferred save is acknowledged only once Redis holds the value
  (redis-cli HGET right when the ack arrives).
- Two workers changing different keys of one session at the same time
  (one of them inside a long deferral) keep both.
- session_create yes: Set-Cookie on the polling handshake and the 101,
  with Secure and Max-Age when configured; that cookie is then accepted.
- Redis killed during traffic: acks carry "session store unavailable";
  Redis started again: service resumes, the workers are the same.
- raind -n refuses redis without a usable cookie_secret_file (file:line).
"""

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redistest  # noqa: E402
from raindtest import (BUILDDIR, COMPONENTS, RAIND, SKIP, Raind, check, done,  # noqa: E402
                       http_request, parse_response, wait_until)

NSP = "/echo/1.0/echo"
SECRET = b"an independent secret\twith odd bytes \xc3\xa9"
WORKERS = 4
PREFIX = "rain:"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
WAIT = 10.0       # s for anything that should happen


def sign(sid, secret=SECRET):
    """RAIN's cookie value, URL-encoded as a browser sends it."""
    mac = hmac.new(secret, sid.encode(), hashlib.sha256).digest()
    sig = base64.b64encode(mac).decode().rstrip("=")
    return urllib.parse.quote("%s.%s" % (sid, sig), safe="")


def new_sid():
    return os.urandom(16).hex()


def app_session(redis, sid=None):
    """A session as the web application makes it: its global hash exists."""
    sid = sid or new_sid()
    redis.cli("HSET", "%ss:%s" % (PREFIX, sid), "created", "1")
    return sid


class Poller:
    """One Engine.IO session over HTTP long-polling."""

    def __init__(self, port, cookie=None, cookie_name="rain.sid", query=None,
                 headers=""):
        self.port = port
        self.cookie = cookie
        self.cookie_name = cookie_name
        self.query = query
        self.headers = headers
        self.packets = []
        st, h, b = self.request("GET")
        if st != 200 or not b.startswith(b"0{"):
            raise RuntimeError("handshake: %d %r" % (st, b))
        self.handshake = json.loads(b[1:])
        self.sid = self.handshake["sid"]
        self.slot = B64URL.index(self.sid[4])
        self.set_cookie = h.get("set-cookie")
        self.next_id = 1

    def request(self, method, body=b"", timeout=WAIT + 30):
        path = "/socket.io/?EIO=4&transport=polling"
        if getattr(self, "sid", None):
            path += "&sid=" + self.sid
        elif getattr(self, "query", None):
            path += "&" + self.query
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (
            method, path, self.port)
        if self.cookie:
            head += "Cookie: theme=dark; %s=%s\r\n" % (self.cookie_name, self.cookie)
        if not getattr(self, "sid", None):
            head += self.headers
        if method == "POST":
            head += "Content-Type: text/plain;charset=UTF-8\r\n"
            head += "Content-Length: %d\r\n" % len(body)
        data = http_request(self.port, head.encode() + b"\r\n" + body,
                            timeout=timeout)
        r = parse_response(data)
        if r is None:
            raise RuntimeError("no answer to %s" % method)
        return r[0], r[1], r[2]

    def post(self, *packets):
        st, _, b = self.request("POST", "\x1e".join(packets).encode())
        if st != 200:
            raise RuntimeError("POST: %d %r" % (st, b))

    def poll(self):
        st, _, b = self.request("GET")
        if st != 200:
            raise RuntimeError("GET: %d %r" % (st, b))
        for p in b.decode().split("\x1e"):
            if p == "2":
                self.post("3")
            elif p == "1":
                raise RuntimeError("closed by the server")
            elif p:
                self.packets.append(p)

    def wait_packet(self, prefixes):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for i, p in enumerate(self.packets):
                if p.startswith(prefixes):
                    return self.packets.pop(i)
            self.poll()
        raise TimeoutError("no packet %r" % (prefixes,))

    def connect(self, nsp=NSP):
        """True when connected, else the CONNECT_ERROR's data."""
        self.post("40%s," % nsp)
        p = self.wait_packet(("40%s," % nsp, "44%s," % nsp))
        if p.startswith("40"):
            return True
        return json.loads(p[len(nsp) + 3:])

    def emit(self, event, *args, nsp=NSP):
        """Send the event asking for an ack; returns the ack id."""
        aid = self.next_id
        self.next_id += 1
        self.post("42%s,%d%s" % (nsp, aid, json.dumps([event] + list(args))))
        return aid

    def wait_ack(self, aid, nsp=NSP):
        p = self.wait_packet("43%s,%d[" % (nsp, aid))
        return json.loads(p[len("43%s,%d" % (nsp, aid)):])

    def call(self, event, *args, nsp=NSP):
        return self.wait_ack(self.emit(event, *args, nsp=nsp), nsp=nsp)


def pollers_on_two_workers(port, cookie):
    """Two Engine.IO sessions with the cookie, owned by different workers."""
    first = Poller(port, cookie)
    for _ in range(200):
        other = Poller(port, cookie)
        if other.slot != first.slot:
            return first, other
    raise RuntimeError("every session landed on worker %d" % first.slot)


def start_raind(redis, secret_path, extra=""):
    conf = ("components %s\nredis %s\ncookie_secret_file %s\n"
            "redis_timeout 500ms\nhandler_timeout 3s\n%s" %
            (COMPONENTS, redis.address, secret_path, extra))
    return Raind(conf=conf, workers=WORKERS).start()


def write_secret(d, data=SECRET, mode=0o600):
    path = os.path.join(d, "secret")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data + b"\n")
    os.fchmod(fd, mode)
    os.close(fd)
    return path


def test_refused_and_accepted(r, redis):
    p = Poller(r.port)
    check(p.set_cookie is None, "session_create no: no Set-Cookie")
    check(p.connect() == {"message": "unauthorized"},
          "no cookie: CONNECT_ERROR unauthorized")
    sid = new_sid()
    good = sign(sid)
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    check(Poller(r.port, bad).connect() == {"message": "unauthorized"},
          "tampered cookie: CONNECT_ERROR unauthorized")
    other = sign(sid, b"another secret")
    check(Poller(r.port, other).connect() == {"message": "unauthorized"},
          "cookie of another secret: CONNECT_ERROR unauthorized")
    check(Poller(r.port, good).connect() == {"message": "unauthorized"},
          "signed cookie, no global session in redis: CONNECT_ERROR unauthorized")
    check("no global session in redis" in r.logtext(),
          "the refusal of a missing session is logged")
    app_session(redis, sid)
    raw = urllib.parse.unquote(good)
    p = Poller(r.port, raw)
    check(p.connect() is True, "raw (not URL-encoded) cookie accepted")
    p = Poller(r.port, good)
    check(p.connect() is True, "cookie from an independent signer accepted")
    check(p.call("session-get") == [None], "a new session is empty")
    check(p.call("session-set", {"n": 1, "s": "é"}) == [True], "session-set acked")
    stored = redis.cli("HGET", "%ss:%s:echo" % (PREFIX, sid), "value")
    check(json.loads(stored) == {"n": 1, "s": "é"},
          "the component hash in redis holds the JSON value")
    ttl = int(redis.cli("PTTL", "%ss:%s:echo" % (PREFIX, sid)))
    check(0 < ttl <= 24 * 3600 * 1000, "sliding expiry set (PTTL %d)" % ttl)


def test_other_worker(r, redis):
    sid = app_session(redis)
    a, b = pollers_on_two_workers(r.port, sign(sid))
    check(a.connect() is True and b.connect() is True,
          "two connections on workers %d and %d" % (a.slot, b.slot))
    check(a.call("session-set", "from a") == [True], "set over the first")
    check(b.call("session-get") == ["from a"],
          "read over the second, on another worker")
    check(b.call("session-put", "k2", [1, 2]) == [True], "put over the second")
    check(a.call("session-dump") == [{"value": "from a", "k2": [1, 2]}],
          "dump over the first sees both")


def test_deferred_save(r, redis):
    sid = app_session(redis)
    p = Poller(r.port, sign(sid))
    check(p.connect() is True, "connected")
    key = "%ss:%s:echo" % (PREFIX, sid)
    t0 = time.monotonic()
    aid = p.emit("deferred-set", "later", 400)
    early = redis.cli("HGET", key, "value")
    ack = p.wait_ack(aid)
    stored = redis.cli("HGET", key, "value")
    check(ack == [True] and time.monotonic() - t0 >= 0.35,
          "deferred-set acked after its delay")
    check(early == "", "not in redis while deferred")
    check(stored == '"later"', "in redis when the ack arrives (%r)" % stored)


def test_concurrent_keys(r, redis):
    sid = app_session(redis)
    a, b = pollers_on_two_workers(r.port, sign(sid))
    check(a.connect() is True and b.connect() is True, "two workers connected")
    # a loads, waits 500 ms, saves "value"; b saves "kb" in between.
    aid = a.emit("deferred-set", "A", 500)
    check(b.call("session-put", "kb", "B") == [True], "b's put acked first")
    check(a.wait_ack(aid) == [True], "a's deferred set acked")
    dump = b.call("session-dump")
    check(dump == [{"value": "A", "kb": "B"}],
          "a save inside another's load-save window keeps both keys (%r)" % dump)

    # Many events at once from both sides, each on its own keys.
    n = 25
    errors = []

    def burst(p, tag):
        try:
            for i in range(n):
                if p.call("session-put", "%s%d" % (tag, i), i) != [True]:
                    errors.append("%s%d" % (tag, i))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    ta = threading.Thread(target=burst, args=(a, "a"))
    tb = threading.Thread(target=burst, args=(b, "b"))
    ta.start()
    tb.start()
    ta.join()
    tb.join()
    check(not errors, "concurrent puts acked (%r)" % errors[:3])
    [dump] = a.call("session-dump")
    missing = [k for k in ["a%d" % i for i in range(n)] + ["b%d" % i for i in range(n)]
               if k not in dump]
    check(not missing, "no key lost to the other worker (missing %r)" % missing[:5])


def test_redis_outage(r, redis):
    pids = r.worker_pids()
    sid = app_session(redis)
    p = Poller(r.port, sign(sid))
    check(p.connect() is True, "connected before the outage")
    check(p.call("session-set", 1) == [True], "set before the outage")
    redis.kill()
    ack = p.call("session-set", 2)
    check(len(ack) == 1 and isinstance(ack[0], dict) and
          ack[0].get("message", "").startswith("session store unavailable"),
          "redis down: the ack carries a clear error (%r)" % ack)
    ack = p.call("session-get")
    check(len(ack) == 1 and isinstance(ack[0], dict) and
          "unavailable" in ack[0].get("message", ""),
          "redis down: a read fails too, clearly")
    # handle cannot run without its session: the CONNECT is refused.
    q = Poller(r.port, sign(sid))
    refused = q.connect()
    check(isinstance(refused, dict) and refused.get("message", "").startswith(
        "session store unavailable"),
        "redis down: the namespace CONNECT is refused with the reason (%r)" % refused)
    redis.start()
    # The restarted redis-server kept nothing (no persistence here): the
    # application makes the user's session again, as after a log-in.
    app_session(redis, sid)

    def works():
        return p.call("session-set", 3) == [True]
    try:
        wait_until(works, WAIT, "sessions to work again")
        check(True, "redis back: service resumes")
    except TimeoutError:
        check(False, "redis back: service resumes")
    check(p.call("session-get") == [3], "and the value is read back")
    q = Poller(r.port, sign(sid))
    check(q.connect() is True and q.call("session-get") == [3],
          "and over a new connection")
    log = r.logtext()
    check(log.count("redis: connection lost") <= WORKERS,
          "the outage is logged once per worker, not per command")

    # A Redis that accepts but does not answer: each command times out.
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        ack = p.call("session-set", 4)
        took = time.monotonic() - t0
        check(len(ack) == 1 and isinstance(ack[0], dict) and
              "no answer within 500 ms" in ack[0].get("message", "") and
              took < 3.0,
              "redis stopped: the ack says it timed out (%r, %.1f s)" % (ack, took))
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    try:
        wait_until(works, WAIT, "sessions to work again")
        check(True, "redis answering again: service resumes")
    except TimeoutError:
        check(False, "redis answering again: service resumes")
    check(r.worker_pids() == pids, "no worker was restarted")


def test_session_create(redis, d):
    secret = write_secret(d)
    r = start_raind(redis, secret, "session_create yes\ncookie_secure yes\n"
                    "cookie_max_age 1h\ncookie_name app.sid\n")
    try:
        p = Poller(r.port)
        sc = p.set_cookie or ""
        check(sc.startswith("app.sid="), "polling handshake: Set-Cookie (%s)" % sc)
        parts = [x.strip() for x in sc.split(";")]
        check(set(parts[1:]) == {"Path=/", "HttpOnly", "SameSite=Lax", "Secure",
                                 "Max-Age=3600"},
              "Set-Cookie attributes")
        value = parts[0].split("=", 1)[1]
        sid = urllib.parse.unquote(value).split(".")[0]
        check(value == sign(sid), "the cookie is RAIN's, signed with the secret")
        check(p.connect() is True, "the new session connects at once")
        check(p.call("session-set", "mine") == [True], "and stores")
        q = Poller(r.port, value, cookie_name="app.sid")
        check(q.set_cookie is None, "a valid cookie gets no new one")
        check(q.connect() is True and q.call("session-get") == ["mine"],
              "the cookie names the same session later")
        fresh = Poller(r.port, sign(new_sid()), cookie_name="app.sid")
        check(fresh.connect() is True and fresh.call("session-get") == [None],
              "session_create yes: a signed cookie of a session redis does not "
              "hold starts an empty one")

        # The websocket handshake: 101 with Set-Cookie.
        key = base64.b64encode(os.urandom(16)).decode()
        raw = ("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
               "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" %
               (r.port, key)).encode()
        with socket.create_connection(("127.0.0.1", r.port), timeout=WAIT) as s:
            s.sendall(raw)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
        lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        cookies = [l for l in lines if l.lower().startswith("set-cookie:")]
        check(lines[0].startswith("HTTP/1.1 101") and len(cookies) == 1 and
              "app.sid=" in cookies[0] and "HttpOnly" in cookies[0],
              "websocket 101: Set-Cookie (%r)" % cookies)
    finally:
        r.cleanup()


GNSP = "/gs/1.0/g"


def test_global_session(redis, d):
    """A component without useSession has the user's global session."""
    secret = write_secret(d)
    tree = os.path.join(BUILDDIR, "t", "components-trees", "global")
    conf = ("components %s\nredis %s\ncookie_secret_file %s\n"
            "redis_timeout 500ms\nhandler_timeout 3s\n" %
            (tree, redis.address, secret))
    r = Raind(conf=conf, workers=2).start()
    try:
        sid = app_session(redis)
        gkey = "%ss:%s" % (PREFIX, sid)
        redis.cli("HSET", gkey, "user", '"ann"')
        p = Poller(r.port, sign(sid))
        check(p.connect(GNSP) is True, "a component without useSession connects")
        hello = json.loads(p.wait_packet(("42%s," % GNSP,))[len(GNSP) + 3:])
        check(hello == ["hello", 1], "handle read and wrote the global session (%r)"
              % hello)
        check(redis.cli("HGET", gkey, "visits") == "1",
              "handle's global write is saved to redis")
        check(p.call("gget", "user", nsp=GNSP) == [None, "ann"],
              "a RAIN_GLOBAL_SESSION listener reads what the application stored")
        check(p.call("gset", "theme", {"dark": True}, nsp=GNSP) == [None, True],
              "and writes")
        check(json.loads(redis.cli("HGET", gkey, "theme")) == {"dark": True},
              "the write is in the global hash in redis after the ack")
        check(redis.cli("EXISTS", "%s:gs" % gkey) == "0",
              "no component hash for a component without useSession")
        redis.cli("HSET", gkey, "user", '"bob"')
        check(p.call("gget", "user", nsp=GNSP) == [None, "bob"],
              "each such listener sees the current global session")
        plain = p.call("plain", "user", nsp=GNSP)
        check(len(plain) == 1 and plain[0].get("message") ==
              "global session unavailable",
              "a listener without RAIN_GLOBAL_SESSION has no session loaded (%r)"
              % plain)
        cget = p.call("cget", nsp=GNSP)
        check(len(cget) == 1 and cget[0].get("message") == "no component session",
              "without useSession there is no component session (%r)" % cget)
        q = Poller(r.port, sign(sid))
        check(q.connect(GNSP) is True, "a second connection")
        hello = json.loads(q.wait_packet(("42%s," % GNSP,))[len(GNSP) + 3:])
        check(hello == ["hello", 2], "sees the count the first one saved (%r)"
              % hello)
        missing = Poller(r.port, sign(new_sid()))
        check(missing.connect(GNSP) == {"message": "unauthorized"},
              "no global session: unauthorized here too")
        test_handshake_facts(r, redis, sid)
    finally:
        r.cleanup()
    # The same behind a trusted proxy: X-Forwarded-For is believed.
    conf += "trusted_proxies 10.0.0.0/8 127.0.0.1\n"
    r = Raind(conf=conf, workers=2).start()
    try:
        p = Poller(r.port, sign(sid), headers="X-Forwarded-For: 203.0.113.9, "
                   "10.1.2.3\r\n")
        check(p.connect(GNSP) is True, "connected through a trusted proxy")
        facts = p.call("facts", "x-forwarded-for", "none", nsp=GNSP)
        check(facts[1] == "203.0.113.9",
              "trusted_proxies: the client's address from X-Forwarded-For, "
              "skipping trusted hops (%r)" % facts)
        p = Poller(r.port, sign(sid), headers="X-Forwarded-For: nonsense, "
                   "198.51.100.4\r\n")
        check(p.connect(GNSP) is True and
              p.call("facts", "a", "b", nsp=GNSP)[1] == "198.51.100.4",
              "X-Forwarded-For: the walk stops at what is not an address")
    finally:
        r.cleanup()


def test_handshake_facts(r, redis, sid):
    """What a handler knows of the handshake: rain_session_id and friends."""
    p = Poller(r.port, sign(sid), query="lang=fr%20CA&theme=dark+blue",
               headers="User-Agent: raind-test/1.0\r\n"
               "X-Forwarded-For: 203.0.113.9\r\n")
    check(p.connect(GNSP) is True, "a connection with a query and headers")
    facts = p.call("facts", "USER-AGENT", "lang", nsp=GNSP)
    check(facts[0] == sid, "rain_session_id is the cookie's session (%r)" % facts)
    check(facts[1] == "127.0.0.1",
          "rain_remote_address is the peer; X-Forwarded-For from a peer "
          "that is not a trusted proxy is ignored (%r)" % facts)
    check(facts[2] == "raind-test/1.0",
          "rain_handshake_header, case-insensitive (%r)" % facts[2])
    check(facts[3] == "fr CA", "rain_handshake_query, decoded (%r)" % facts[3])
    facts = p.call("facts", "cookie", "theme", nsp=GNSP)
    check(facts[3] == "dark blue" and "theme=dark" in facts[2],
          "'+' is a space; every header is there (%r)" % facts)
    facts = p.call("facts", "no-such-header", "nope", nsp=GNSP)
    check(facts[2] is None and facts[3] is None, "unknown names: null")


def test_check_config(redis, d):
    conf = os.path.join(d, "check.conf")

    def run(text):
        with open(conf, "w") as f:
            f.write(text)
        return subprocess.run([RAIND, "-n", "-f", conf], capture_output=True,
                              text=True, timeout=30)

    res = run("components %s\nredis %s\n" % (COMPONENTS, redis.address))
    check(res.returncode == 1 and res.stderr.startswith(conf + ":2:") and
          "cookie_secret_file is not set" in res.stderr,
          "raind -n: redis without cookie_secret_file (%s)" % res.stderr.strip())
    loose = write_secret(d, mode=0o644)
    res = run("components %s\nredis %s\ncookie_secret_file %s\n" %
              (COMPONENTS, redis.address, loose))
    check(res.returncode == 1 and res.stderr.startswith(conf + ":3:") and
          "mode 0644" in res.stderr,
          "raind -n: a secret readable by others (%s)" % res.stderr.strip())
    os.chmod(loose, 0o600)
    res = run("components %s\nredis %s\ncookie_secret_file %s\n" %
              (COMPONENTS, redis.address, loose))
    check(res.returncode == 0 and "configuration OK" in res.stdout,
          "raind -n: a 0600 secret is fine")


def main():
    if not redistest.available():
        print("redis-server or redis-cli not found: skipped")
        sys.exit(SKIP)
    redis = redistest.Redis().start()
    r = None
    try:
        secret = write_secret(redis.dir)
        r = start_raind(redis, secret)
        test_refused_and_accepted(r, redis)
        test_other_worker(r, redis)
        test_deferred_save(r, redis)
        test_concurrent_keys(r, redis)
        test_redis_outage(r, redis)
        r.cleanup()
        r = None
        test_session_create(redis, redis.dir)
        test_global_session(redis, redis.dir)
        test_check_config(redis, redis.dir)
    finally:
        if r is not None:
            r.cleanup()
        redis.cleanup()
    done()


if __name__ == "__main__":
    main()
