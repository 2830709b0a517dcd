"""Integration: the worker's HTTP core (routes, keep-alive, limits)."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import (Raind, check, done, get, http_request,  # noqa: E402
                       parse_response, wait_until)


def test_routes(r):
    st, h, body, _ = get(r.port, "/healthz")
    check(st == 200 and h["content-type"] == "application/json"
          and b'"pid"' in body and b'"slot"' in body
          and b'"connections"' in body, "/healthz: 200 JSON")
    st, _, _, _ = get(r.port, "/nope")
    check(st == 404, "unknown path: 404")
    raw = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" \
        b"Connection: close\r\n\r\nhi"
    st, h, _, _ = parse_response(http_request(r.port, raw))
    check(st == 405 and h.get("allow") == "GET, HEAD", "wrong method: 405 + Allow")
    raw = b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = http_request(r.port, raw)
    check(data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n"),
          "HEAD: head only")


def test_keepalive_pipelining(r):
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        s.sendall(req * 3 + b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    statuses = []
    while data:
        p = parse_response(data)
        if p is None:
            break
        statuses.append(p[0])
        data = p[3]
    check(statuses == [200, 200, 200, 404],
          "pipelined requests answered in order on one connection (%r)" % statuses)


def status_of(port, raw):
    p = parse_response(http_request(port, raw))
    return p[0] if p else None


def test_limits(r):
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + \
        b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(100)) + b"\r\n"
    check(status_of(r.port, big) == 431, "oversize head: 431")
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + \
        b"".join(b"X-%d: 1\r\n" % i for i in range(60)) + b"\r\n"
    check(status_of(r.port, many) == 431, "too many headers: 431")
    line = b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    check(status_of(r.port, line) == 414, "long request line: 414")
    body = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n"
    check(status_of(r.port, body) == 413, "body over max_body_size: 413")
    ch = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    check(status_of(r.port, ch) == 411, "chunked body: 411")
    check(status_of(r.port, b"HELLO\r\n\r\n") == 400, "garbage: 400")
    check(status_of(r.port, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n") == 505,
          "HTTP/2.0 request line: 505")
    check(status_of(r.port, b"GET / HTTP/1.1\r\n\r\n") == 400,
          "HTTP/1.1 without Host: 400")


def test_slowloris(r):
    """Slow heads are cut off after header_timeout; others are served."""
    n = 200
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        socks.append(s)
    stop = threading.Event()

    def trickle():
        # One header byte per socket every 200 ms: never a complete head.
        while not stop.is_set():
            for s in socks:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            stop.wait(0.2)
    t = threading.Thread(target=trickle)
    t.start()
    served = 0
    try:
        for _ in range(20):
            if r.healthz() is not None:
                served += 1
        check(served == 20, "healthy client served during a slowloris attack")
        closed = 0
        for s in socks:
            s.settimeout(10)
            try:
                data = s.recv(4096)
                while data and not data.endswith(b"\n"):
                    more = s.recv(4096)
                    if not more:
                        break
                    data += more
                if not data or data.startswith(b"HTTP/1.1 408"):
                    closed += 1
            except OSError:
                closed += 1
        check(closed == n, "every slow head cut off (%d/%d)" % (closed, n))
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()
    h = wait_until(r.healthz, 5, "healthz")
    check(h["connections"] <= 2, "slow connections released (%d open)" %
          h["connections"])


def test_idle_keepalive(r):
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = s.recv(65536)
    check(data.startswith(b"HTTP/1.1 200"), "keep-alive request served")
    s.settimeout(10)
    try:
        rest = s.recv(1)
    except OSError:
        rest = b""
    check(rest == b"", "idle keep-alive connection closed after keepalive_timeout")
    s.close()


def test_session_cap():
    """Engine.IO sessions count against max_connections."""
    r = Raind(conf="max_connections 5\n", workers=1)
    try:
        r.start()
        got = []
        for _ in range(7):
            res = get(r.port, "/socket.io/?EIO=4&transport=polling")
            got.append(res[0] if res else None)
        check(got[:5] == [200] * 5 and got[5:] == [503, 503],
              "handshakes beyond max_connections sessions: 503 (%r)" % got)
        check(r.healthz() is not None, "the worker still serves")
    finally:
        r.cleanup()


def main():
    conf = ("header_timeout 1s\nbody_timeout 1s\nkeepalive_timeout 1s\n"
            "max_request_line 2k\nmax_header_size 8k\nmax_headers 50\n"
            "max_body_size 64k\n")
    r = Raind(conf=conf, workers=2)
    try:
        r.start()
        test_routes(r)
        test_keepalive_pipelining(r)
        test_limits(r)
        test_slowloris(r)
        test_idle_keepalive(r)
    finally:
        r.cleanup()
    test_session_cap()
    done()


main()
