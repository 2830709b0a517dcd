"""Integration: hostile clients, all at once, against raind with 2 workers.

While these run together:

- HALF_OPEN TCP connections that send nothing or a partial head;
- SLOW_READERS websocket clients, with a tiny receive buffer, that join a
  room and never read again while a broadcaster fills that room with
  messages of BROADCAST_SIZE bytes: max_send_queue must drop them;
- random bytes, as an HTTP head and as websocket frames;
- oversized heads, oversized websocket frames (declared and real),
  oversized fragmented messages and oversized polling bodies;

two healthy websocket clients keep sending echo events and answering
the server's pings, and must get every echo back, in order.  ping_timeout
is long, so that the slow readers (which never answer a ping either) can
only be dropped by max_send_queue within the test.

Memory: the peak RSS (VmHWM) of each worker during the attack, minus its
RSS before, must stay under a bound derived from the limits in the
configuration and the attack: what the half-open connections may hold (a
fixed cost per connection and one read of a partial head), what the slow
readers may have queued (max_send_queue each), the messages in flight,
and a fixed allowance for the allocator, as if every hostile connection
had landed on that worker.  The broadcast is BROADCAST_OVER times that
bound: a stalled reader without a send queue limit would keep every
message sent after it stalled, and the test would fail (it does, with
max_send_queue raised to 1000m).

Bounded in count and time: a few thousand descriptors in this process
(well under its limit), a phase of at most ATTACK_SECONDS.
"""

import os
import random
import socket
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import (COMPONENTS, RAIND, Raind, check, done,  # noqa: E402
                       parse_response, wait_until)
from rawsio import (WS_BINARY, WS_CLOSE, WS_TEXT, Closed, WSClient,  # noqa: E402
                    sio_client, ws_frame)

ECHO = "/echo/1.0/echo"
ROOM = "busy"
KIB = 1024
MIB = 1024 * KIB

HALF_OPEN = 3000            # connections that never finish a head
SLOW_READERS = 40
SLOW_RCVBUF = 4 * KIB       # the slow readers' receive buffers
BROADCAST_SIZE = 48 * KIB
BROADCAST_OVER = 2.5        # the broadcast volume, in RSS bounds
ATTACK_SECONDS = 60         # the longest the attack may go on
HEALTHY_CLIENTS = 2
ASAN_QUARANTINE_MB = 16     # ASan's default (256) would hide any bound

MAX_SEND_QUEUE = 256 * KIB
MAX_PAYLOAD = 128 * KIB
MAX_HEADER_SIZE = 16 * KIB
CONF = """components %s
max_send_queue 256k
max_payload 128k
max_header_size 16k
header_timeout 30s
ping_interval 2s
ping_timeout 120s
""" % COMPONENTS

# The memory bound of one worker, from the limits above (see the docstring),
# as if every hostile connection had landed on it.  A connection's fixed
# cost: its struct conn, bufferevent, evbuffers, timers and libevent
# state, with room to spare; a half-open one holds at most one read's
# worth of its partial head (far less than max_header_size, which a
# client must send to make the server hold it).
CONN_COST = 8 * KIB
READ_CHUNK = 4 * KIB
ALLOCATOR_SLACK = 16 * MIB
IN_FLIGHT = 8 * (BROADCAST_SIZE + MAX_PAYLOAD)


def rss_bound(asan):
    b = (HALF_OPEN * (CONN_COST + READ_CHUNK) +
         SLOW_READERS * (MAX_SEND_QUEUE + CONN_COST) +
         IN_FLIGHT + ALLOCATOR_SLACK)
    if asan:
        # Red zones and shadow memory roughly double every allocation;
        # freed memory waits in the quarantine, capped for raind here.
        b = 2 * b + ASAN_QUARANTINE_MB * MIB
    return b


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def is_asan(path):
    """Was raind built with AddressSanitizer (--enable-sanitizers)?"""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


class Stop:
    """When the attack ends: an event and a deadline."""

    def __init__(self, seconds):
        self.ev = threading.Event()
        self.deadline = time.monotonic() + seconds

    def over(self):
        return self.ev.is_set() or time.monotonic() > self.deadline


class Healthy(threading.Thread):
    """Echo after echo; every one must come back, in order."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.sent = self.ok = 0
        self.error = None
        self.pings = 0

    def run(self):
        try:
            ws = sio_client(self.port, ECHO)
            while not self.stop.over():
                payload = {"n": self.sent, "text": "héllo %d" % self.sent}
                ws.emit(ECHO, "echo", payload)
                self.sent += 1
                if ws.wait_event(ECHO, "echo", 15) != [payload]:
                    self.error = "wrong echo for %d" % (self.sent - 1)
                    break
                self.ok += 1
            self.pings = ws.pings
            ws.close()
        except Exception as e:      # noqa: BLE001 - reported by the test
            self.error = "%s: %s" % (type(e).__name__, e)


class Broadcaster(threading.Thread):
    """Fills the room, one acknowledged to-room emit at a time."""

    def __init__(self, port, stop, count):
        super().__init__(daemon=True)
        self.port, self.stop, self.count = port, stop, count
        self.sent = 0
        self.error = None

    def run(self):
        blob = "x" * BROADCAST_SIZE
        try:
            ws = sio_client(self.port, ECHO)
            while self.sent < self.count and not self.stop.over():
                ws.emit_ack(ECHO, self.sent, "to-room", ROOM, blob)
                if ws.wait_ack(ECHO, self.sent, 15) != [True]:
                    self.error = "to-room %d not acknowledged" % self.sent
                    break
                self.sent += 1
            ws.close()
        except Exception as e:      # noqa: BLE001
            self.error = "%s: %s" % (type(e).__name__, e)


def slow_reader(port):
    ws = WSClient(port, rcvbuf=SLOW_RCVBUF)
    ws.eio_open()
    ws.sio_connect(ECHO)
    ws.emit_ack(ECHO, 1, "join", ROOM)
    ws.wait_ack(ECHO, 1)
    return ws           # and never read again


def gone(ws, seconds):
    """Has the server ended this connection?  Drains what is left."""
    ws.sock.settimeout(seconds)
    try:
        while True:
            b = ws.sock.recv(1 << 20)
            if not b:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True     # reset: dropped


def half_open(port, n, keep):
    partial = (b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n"
               b"Host: x\r\nX-Partial: ")
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if i % 2:
            s.sendall(partial)
        keep.append(s)


def exchange(port, data, timeout=5.0, eof=False):
    """Send data (then EOF if asked), read until the server closes."""
    out = []
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(data)
            if eof:
                s.shutdown(socket.SHUT_WR)
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out.append(b)
    except OSError:
        pass
    return b"".join(out)


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.bad = []

    def add(self, what, ok, detail=""):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1
            if not ok:
                self.bad.append("%s %s" % (what, detail))


def ws_then(port, frames, eof=False):
    """A websocket session, then frames: how did the server end it?"""
    ws = WSClient(port)
    if ws.status != 101:
        ws.close()
        return "status %d" % ws.status
    try:
        ws.eio_open()
        ws.send_raw(frames)
        if eof:
            ws.sock.shutdown(socket.SHUT_WR)
        ws.sock.settimeout(5)
        while True:
            op, payload = ws.recv_frame()
            if op == WS_CLOSE:
                return "close %d" % int.from_bytes(payload[:2], "big")
    except (Closed, OSError):
        return "closed"
    finally:
        ws.close()


def garbage(port, stop, counter, seed):
    rnd = random.Random(seed)
    while not stop.over():
        data = rnd.randbytes(rnd.randint(1, 4096))
        if rnd.random() < 0.5:
            data += b"\r\n\r\n"
        # The end of a head, or the end of the stream: the server must
        # answer with an HTTP error or close, never serve or hang.
        out = exchange(port, data, eof=True)
        counter.add("random head", out == b"" or out.startswith(b"HTTP/1.1 4"),
                    repr(out[:40]))
        frames = rnd.randbytes(rnd.randint(2, 2048))
        how = ws_then(port, frames, eof=True)
        counter.add("random frames", how.startswith(("close", "closed")), how)


def oversized(port, stop, counter):
    while not stop.over():
        head = (b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n" +
                b"X-Big: " + b"a" * (4 * MAX_HEADER_SIZE) + b"\r\n\r\n")
        out = exchange(port, head)
        counter.add("oversized head", out.startswith(b"HTTP/1.1 431") or out == b"",
                    repr(out[:40]))
        post = (b"POST /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA "
                b"HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" %
                (16 * MAX_PAYLOAD))
        st = parse_response(exchange(port, post))
        counter.add("oversized polling body", st is not None and st[0] == 413,
                    repr(st and st[0]))
        # A frame that only claims to be huge.
        how = ws_then(port, ws_frame(WS_TEXT, b"4", length=1 << 40)[:14])
        counter.add("declared huge frame", how in ("close 1009", "closed"), how)
        # A real one, just over max_payload.
        how = ws_then(port, ws_frame(WS_BINARY, os.urandom(MAX_PAYLOAD + 1)))
        counter.add("frame over max_payload", how in ("close 1009", "closed"), how)
        # Many small fragments adding up to too much.
        frag = [ws_frame(WS_TEXT if i == 0 else 0, b"4" * 8192, fin=False)
                for i in range(MAX_PAYLOAD // 8192 + 2)]
        how = ws_then(port, b"".join(frag))
        counter.add("fragmented message over max_payload",
                    how in ("close 1009", "closed"), how)


def main():
    r = Raind(conf=CONF, workers=2)
    asan = is_asan(RAIND)
    env = dict(os.environ)
    if asan:
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":quarantine_size_mb=%d" % ASAN_QUARANTINE_MB)
    r.start(env=env)
    keep = []
    slow = []
    try:
        pids = r.worker_pids()
        check(len(pids) == 2, "two workers")
        # Warm up: every code path the attack uses, once, before measuring.
        w = sio_client(r.port, ECHO)
        w.emit(ECHO, "echo", "warm")
        w.wait_event(ECHO, "echo")
        w.close()
        base = {pid: status_kib(pid, "VmRSS") for pid in pids}

        stop = Stop(ATTACK_SECONDS)
        counter = Counter()
        healthy = [Healthy(r.port, stop) for _ in range(HEALTHY_CLIENTS)]
        for h in healthy:
            h.start()
        for _ in range(SLOW_READERS):
            slow.append(slow_reader(r.port))
        opener = threading.Thread(target=half_open,
                                  args=(r.port, HALF_OPEN, keep), daemon=True)
        opener.start()
        attackers = [threading.Thread(target=garbage, args=(r.port, stop, counter, i),
                                      daemon=True) for i in range(2)]
        attackers.append(threading.Thread(target=oversized,
                                          args=(r.port, stop, counter), daemon=True))
        for t in attackers:
            t.start()
        # Without a send queue limit, a stalled reader would keep a
        # reference to every message after it stalled: the whole
        # broadcast, which is made larger than the bound.
        bound = rss_bound(asan)
        count = int(BROADCAST_OVER * bound / BROADCAST_SIZE) + 1
        bc = Broadcaster(r.port, stop, count)
        bc.start()

        bc.join(ATTACK_SECONDS + 20)
        opener.join(ATTACK_SECONDS)
        stop.ev.set()
        for t in attackers + healthy:
            t.join(30)
        peak = {pid: status_kib(pid, "VmHWM") for pid in pids}

        check(bc.error is None and bc.sent == count,
              "the broadcaster sent %d of %d messages (%s)" % (
                  bc.sent, count, bc.error))
        check(len(keep) == HALF_OPEN, "%d half-open connections held" % len(keep))
        for i, h in enumerate(healthy):
            check(h.error is None and h.ok == h.sent and h.ok > 0,
                  "healthy client %d got all of its %d echoes (%s)" % (
                      i, h.sent, h.error))
            check(h.pings > 0, "healthy client %d answered pings" % i)
        dropped = sum(1 for ws in slow if gone(ws, 5))
        check(dropped == SLOW_READERS,
              "slow readers dropped: %d of %d" % (dropped, SLOW_READERS))
        log = r.logtext()
        drops = log.count("send queue over") + log.count("over max_send_queue")
        check(drops >= SLOW_READERS,
              "the drops are max_send_queue's (%d logged)" % drops)
        for what in sorted(counter.counts):
            check(True, "%s: %d tried" % (what, counter.counts[what]))
        check(not counter.bad, "every hostile request answered as expected%s" % (
            ": " + "; ".join(counter.bad[:5]) if counter.bad else ""))
        for pid in pids:
            growth = (peak[pid] - base[pid]) * KIB
            check(growth < bound,
                  "worker %d: peak RSS growth %.1f MiB < %.1f MiB" % (
                      pid, growth / MIB, bound / MIB))
        check(bc.sent * BROADCAST_SIZE > 2 * bound,
              "the broadcast (%d MiB) is over twice the bound" %
              (bc.sent * BROADCAST_SIZE // MIB))
        check(r.worker_pids() == pids and r.proc.poll() is None,
              "no worker died, the master is up")

        # Afterwards: everything let go, a new client is served at once.
        for s in keep:
            s.close()
        for ws in slow:
            ws.close()
        w = sio_client(r.port, ECHO)
        w.emit(ECHO, "echo", "after")
        check(w.wait_event(ECHO, "echo") == ["after"], "a new client works after")
        w.close()
        seen = {}

        def all_quiet():
            h = r.healthz()
            if h is not None:
                seen[h["pid"]] = h["connections"]
            return len(seen) == len(pids) and max(seen.values()) <= 2

        wait_until(all_quiet, 30, "the connections to go")
        check(True, "both workers let the connections go")
    except Exception:       # noqa: BLE001 - a failure, with the log
        check(False, "unexpected exception:\n" + traceback.format_exc())
    finally:
        for s in keep:
            s.close()
        for ws in slow:
            ws.close()
        r.cleanup()
    done()


if __name__ == "__main__":
    main()
