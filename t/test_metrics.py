"""Integration: GET /metrics, the Prometheus text exposition of a node.

raind with three workers, its own redis-server and the bundled echo
component; raw Socket.IO clients (t/rawsio.py) make traffic over websocket
and polling, with sessions and room broadcasts.  Every scrape is checked
by a parser of the Prometheus text format 0.0.4 written here from its
rules: metric and label names, one HELP and one TYPE per family before
its samples, known types, counters named *_total, histogram buckets
cumulative with le="+Inf" equal to _count and a _sum, no series twice,
values that parse.  Then:

- scrapes over new connections reach different workers and all give the
  same figures (counters in shared memory, summed over the workers);
- the figures follow the traffic (messages, sockets per namespace,
  websocket and polling sessions, session load and save histograms,
  broadcasts, handoffs);
- counters never go back, across a worker killed and respawned and across
  a SIGHUP reload (whose generation the gauge reports);
- metrics_listen serves /metrics on its own address only.
"""

import math
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redistest  # noqa: E402
from raindtest import (COMPONENTS, SKIP, Raind, check, done, get,  # noqa: E402
                       http_request, parse_response, wait_until)
from rawsio import Closed, sio_body, sio_client  # noqa: E402

ECHO = "/echo/1.0/echo"
NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
# What a scrape itself changes, or what moves between scrapes by itself.
MOVING = ("raind_http_requests_total", "raind_connections",
          "raind_connections_by_state",
          "raind_connections_accepted_total", "raind_messages_sent_total",
          "raind_message_bytes_sent_total")


class FormatError(Exception):
    pass


def parse_labels(text):
    """{name: value} of a label set "a="x",b="y"", strictly."""
    labels = {}
    pos = 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if m is None:
            raise FormatError("bad label set %r" % text)
        if m.group(1) in labels:
            raise FormatError("label %s twice" % m.group(1))
        labels[m.group(1)] = m.group(2)
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                raise FormatError("bad label set %r" % text)
            pos += 1
    return labels


def family_of(name, types):
    """The family a sample name belongs to (histogram suffixes)."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return name


def parse(text):
    """{(name, labels tuple): value} of a scrape, checking every rule."""
    if not text.endswith("\n"):
        raise FormatError("no newline at the end")
    helps, types, samples, seen_families = {}, {}, {}, []
    for line in text.split("\n")[:-1]:
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                continue        # a plain comment
            name = parts[2]
            if not NAME_RE.match(name):
                raise FormatError("bad metric name %r" % name)
            if name in seen_families:
                raise FormatError("%s: HELP or TYPE after its samples" % name)
            if parts[1] == "HELP":
                if name in helps:
                    raise FormatError("%s: two HELP lines" % name)
                helps[name] = parts[3] if len(parts) > 3 else ""
            else:
                if name in types:
                    raise FormatError("%s: two TYPE lines" % name)
                if len(parts) != 4 or parts[3] not in TYPES:
                    raise FormatError("%s: bad TYPE %r" % (name, line))
                types[name] = parts[3]
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if m is None:
            raise FormatError("bad sample line %r" % line)
        name, labels, value = m.group(1), parse_labels(m.group(2) or ""), m.group(3)
        try:
            v = float(value)
        except ValueError:
            raise FormatError("%s: value %r" % (name, value))
        fam = family_of(name, types)
        if fam not in types or fam not in helps:
            raise FormatError("%s: no TYPE and HELP before it" % name)
        if seen_families and seen_families[-1] != fam and fam in seen_families:
            raise FormatError("%s: samples of the family not together" % fam)
        if not seen_families or seen_families[-1] != fam:
            seen_families.append(fam)
        if types[fam] == "counter" and not name.endswith("_total"):
            raise FormatError("counter %s not named *_total" % name)
        key = (name, tuple(sorted(labels.items())))
        if key in samples:
            raise FormatError("series twice: %r" % (key,))
        samples[key] = v
    for fam, t in types.items():
        if t != "histogram":
            continue
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                          if k[0] == fam + "_bucket"), key=lambda x: x[0])
        if not buckets or not math.isinf(buckets[-1][0]):
            raise FormatError("%s: no +Inf bucket" % fam)
        if any(b[1] > c[1] for b, c in zip(buckets, buckets[1:])):
            raise FormatError("%s: buckets not cumulative" % fam)
        if (fam + "_count", ()) not in samples or (fam + "_sum", ()) not in samples:
            raise FormatError("%s: _count or _sum missing" % fam)
        if buckets[-1][1] != samples[(fam + "_count", ())]:
            raise FormatError("%s: +Inf bucket differs from _count" % fam)
    return samples, types


def scrape(port):
    """(pid of the answering worker, samples, types); a new connection each."""
    raw = ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
    st, h, body, _ = parse_response(http_request(port, raw))
    if st != 200:
        raise FormatError("status %d" % st)
    if h.get("content-type") != "text/plain; version=0.0.4; charset=utf-8":
        raise FormatError("content type %r" % h.get("content-type"))
    samples, types = parse(body.decode("utf-8"))
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def steady(samples):
    return {k: v for k, v in samples.items() if k[0] not in MOVING}


def counters(samples, types):
    return {k: v for k, v in samples.items()
            if types.get(k[0]) == "counter"
            or (k[0].endswith(("_bucket", "_count", "_sum"))
                and types.get(k[0].rsplit("_", 1)[0]) == "histogram")}


def monotonic(before, after, what):
    back = [(k, v, after.get(k)) for k, v in before.items()
            if after.get(k) is None or after[k] < v]
    check(not back, "%s: no counter went back (%r)" % (what, back[:3]))


def call(c, aid, event, *args):
    """Emit with an acknowledgement and return its arguments."""
    c.emit_ack(ECHO, aid, event, *args)
    pre = "%d[" % aid
    for _ in range(1000):
        rest = sio_body(c.recv_eio(), "43", ECHO)
        if rest is not None and rest.startswith(pre):
            return rest[len(pre) - 1:]
    raise TimeoutError("no acknowledgement of %s" % event)


def traffic(r):
    """Websocket clients that echo, join a room, broadcast, use the session."""
    clients = [sio_client(r.port, ECHO) for _ in range(6)]
    echoed = 0
    for c in clients:
        for k in range(5):
            c.emit(ECHO, "echo", k)
            echoed += c.wait_event(ECHO, "echo") == [k]
    check(echoed == 30, "30 echoes answered (%d)" % echoed)
    aid = 1
    for c in clients:
        call(c, aid, "join", "lobby")
    clients[0].emit_ack(ECHO, aid + 1, "to-room", "lobby", "hi")
    for c in clients:
        c.wait_event(ECHO, "room-message")
    stored = sum(call(c, aid + 2, "session-set", {"n": 1}) == "[true]"
                 for c in clients[:3])
    check(stored == 3, "3 session values stored (%d)" % stored)
    return clients


def polling_session(port):
    """A polling session with a namespace, over several requests."""
    st, _, b, _ = parse_response(http_request(port, (
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n").encode()))
    sid = b[b.index(b'"sid":"') + 7:].split(b'"')[0].decode()
    body = ("40%s," % ECHO).encode()
    # Each request comes on a new connection, which the kernel gives any
    # of the 3 workers: with 12, one stays with the session's owner for
    # all of them with a chance of 3**-12, and the handoffs are counted.
    for _ in range(12):
        http_request(port, ("POST /socket.io/?EIO=4&transport=polling&sid=%s "
                            "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                            "Content-Type: text/plain;charset=UTF-8\r\n"
                            "Content-Length: %d\r\n\r\n" % (sid, len(body))
                            ).encode() + body)
        body = b"3"
    return sid


def test_metrics(redis):
    secret = os.path.join(redis.dir, "secret")
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"metrics secret\n")
    os.close(fd)
    r = Raind(conf="components %s\nredis %s\ncookie_secret_file %s\n"
              "session_create yes\n" % (COMPONENTS, redis.address, secret),
              workers=3).start()
    try:
        clients = traffic(r)
        psid = polling_session(r.port)
        pids, scrapes = set(), []
        for _ in range(40):
            h = r.healthz()
            pids.add(h["pid"] if h else None)
            scrapes.append(scrape(r.port))
        check(len(pids) >= 2, "scrapes and probes reached several workers")
        first = steady(scrapes[0][0])
        moved = sorted({k for s, _ in scrapes for k in
                        set(steady(s)) ^ set(first) |
                        {k for k in first if steady(s).get(k) != first[k]}})
        check(not moved, "40 scrapes over new connections give the same "
              "figures (moved: %r)" % moved[:5])
        s, types = scrapes[-1]
        check(len(types) >= 20, "the families are there (%d)" % len(types))
        check(value(s, "raind_events_received_total") >= 6 * 5 + 6 + 1 + 3,
              "events received cover the traffic (%r)"
              % value(s, "raind_events_received_total"))
        check(value(s, "raind_messages_received_total") >=
              value(s, "raind_events_received_total"),
              "Engine.IO messages received >= Socket.IO events")
        check(value(s, "raind_sockets", namespace=ECHO) == 7,
              "7 sockets in %s, 6 on websocket and 1 on polling (%r)" % (
                  ECHO, value(s, "raind_sockets", namespace=ECHO)))
        check(value(s, "raind_eio_sessions", transport="websocket") == 6 and
              value(s, "raind_eio_sessions", transport="polling") == 1,
              "sessions by transport: 6 websocket, 1 polling")
        check(value(s, "raind_broadcasts_total") >= 1 and
              value(s, "raind_broadcast_deliveries_total") >= 6,
              "the room emit and its deliveries are counted")
        check(value(s, "raind_session_save_seconds_count") >= 3 and
              value(s, "raind_session_load_seconds_count") >= 3,
              "session loads and saves are in the histograms")
        check(value(s, "raind_handoffs_total") >= 1,
              "polling requests handed between workers are counted")
        states = sum(v for k, v in s.items()
                     if k[0] == "raind_connections_by_state")
        check(states == value(s, "raind_connections") and
              value(s, "raind_connections_by_state", state="websocket") == 6,
              "connections by state add up, 6 of them websockets (%r)" % states)
        check(value(s, "raind_workers") == 3 and
              value(s, "raind_redis_connected_workers") == 3,
              "3 workers, each with Redis")
        check(value(s, "raind_reload_generation") == 1, "generation 1")

        # A worker killed: counters stay, its sockets are gone.
        before = counters(s, types)
        victim = r.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(r.worker_pids()) == 3 and
                   victim not in r.worker_pids(), 5, "respawn")
        alive = 0
        for c in clients:
            try:
                c.emit(ECHO, "echo", "alive?")
                alive += c.wait_event(ECHO, "echo", 3) == ["alive?"]
            except (Closed, OSError, TimeoutError):
                pass
        s2, t2 = scrape(r.port)
        monotonic(before, counters(s2, t2), "after a worker was killed")
        open_ws = value(s2, "raind_eio_sessions", transport="websocket")
        check(open_ws == alive and value(s2, "raind_workers") == 3,
              "the dead worker's sessions are no longer counted (%r open, "
              "%d clients alive)" % (open_ws, alive))

        # A reload: the new generation goes on from the same figures, the
        # old one drains while its clients are connected.
        r.signal(signal.SIGHUP)
        wait_until(lambda: value(scrape(r.port)[0], "raind_reload_generation") == 2,
                   10, "generation 2")
        s3, t3 = scrape(r.port)
        monotonic(counters(s2, t2), counters(s3, t3), "across a reload")
        check(value(s3, "raind_draining_workers") >= 1,
              "old workers with clients drain (%r)" % value(s3, "raind_draining_workers"))
        for c in clients:
            c.close()
        # The polling client leaves too (an Engine.IO close packet).
        http_request(r.port, ("POST /socket.io/?EIO=4&transport=polling&sid=%s "
                              "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              "Content-Type: text/plain;charset=UTF-8\r\n"
                              "Content-Length: 1\r\n\r\n1" % psid).encode())
        wait_until(lambda: value(scrape(r.port)[0], "raind_draining_workers") == 0
                   and value(scrape(r.port)[0], "raind_workers") == 3, 10,
                   "the old generation gone once its clients left")
        s4, t4 = scrape(r.port)
        monotonic(counters(s3, t3), counters(s4, t4), "after the drain")
        check(value(s4, "raind_eio_sessions", transport="websocket") == 0,
              "no websocket session left")
    finally:
        r.cleanup()


def test_metrics_listen():
    r = Raind(conf="components %s\nmetrics_listen 127.0.0.1:0\n" % COMPONENTS,
              workers=2).start()
    try:
        ports = r.read_ports()
        check(len(ports) == 2, "the port file lists metrics_listen too (%r)" % ports)
        mport = ports[1][1]
        st = get(r.port, "/metrics")[0]
        check(st == 404, "the public port does not answer /metrics (%d)" % st)
        samples, _ = scrape(mport)
        check(value(samples, "raind_workers") == 2,
              "metrics_listen answers /metrics for the node")
        check(get(mport, "/healthz")[0] == 200, "and /healthz")
        st = get(mport, "/socket.io/?EIO=4&transport=polling")[0]
        check(st == 404, "but no Engine.IO (%d)" % st)
        check(get(mport, "/echo/1.0/")[0] == 404, "nor component files")
    finally:
        r.cleanup()


def test_parser_refuses():
    """The checker is no rubber stamp: broken expositions are refused."""
    bad = [
        "raind_x_total 1\n",                                   # no TYPE
        "# HELP a_total h\n# TYPE a_total counter\na_total 1\na_total 2\n",
        "# HELP a h\n# TYPE a counter\na 1\n",                 # no _total
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",       # not cumulative
        "# HELP g h\n# TYPE g gauge\ng{a=\"x} 1\n",             # bad labels
        "# HELP g h\n# TYPE g gauge\ng 1\n# HELP g h\n",       # HELP after
    ]
    refused = 0
    for text in bad:
        try:
            parse(text)
        except FormatError:
            refused += 1
    check(refused == len(bad), "the format checker refuses %d of %d broken "
          "expositions" % (refused, len(bad)))


def main():
    test_parser_refuses()
    test_metrics_listen()
    if not redistest.available():
        print("redis-server not found: the traffic part is skipped")
        done()
        sys.exit(SKIP)
    redis = redistest.Redis().start()
    try:
        test_metrics(redis)
    finally:
        redis.cleanup()
    done()


if __name__ == "__main__":
    main()
