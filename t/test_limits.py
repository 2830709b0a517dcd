"""Integration: origins, connection and namespace limits, the idle policy.

- allowed_origins / require_origin: websocket upgrades and polling
  requests from another origin get 403, with and without a session;
  requests without Origin pass unless require_origin is yes.
- max_connections: with one worker and max_connections 50, the 51st and
  later connections are refused at once (503 or closed), and served again
  once others closed; with three workers of 5, all 15 connections are
  served however the kernel spreads them (a full worker passes new ones
  to a worker with room), and the 16th is refused at once.
- EMFILE: raind under RLIMIT_NOFILE 64 gets more connections than it has
  descriptors; the worker stays (same pid) and serves them all afterwards.
- max_namespaces_per_connection: the namespace beyond the limit gets
  CONNECT_ERROR "too many namespaces"; the others keep working.
- RAIN's idle policy: idle sockets get a Socket.IO DISCONNECT and their
  connection closes only when disconnect_idle is yes AND the worker holds
  at least disconnect_idle_on_max_conn Engine.IO connections (all four
  combinations); active sockets stay, and so does a socket the server only
  pushes to.

Clients are raw sockets (t/rawsio.py); waits poll, and the few "nothing
happens" checks read with a bounded timeout.
"""

import json
import os
import resource
import socket
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import (COMPONENTS, Raind, check, done, http_request,  # noqa: E402
                       parse_response, wait_until)
from rawsio import Closed, WSClient, sio_client  # noqa: E402

ECHO = "/echo/1.0/echo"
CHAT = "/chat/1.0/chat"
GOOD = "http://good.example"
EVIL = "http://evil.example"
QUIET = 1.0        # s to wait when checking that nothing happens


def unexpected():
    """An exception in a test: a failure, so that cleanup shows the log."""
    check(False, "unexpected exception:\n" + traceback.format_exc())


def polling(port, origin=None, sid=None, method="GET", body=b""):
    """One raw Engine.IO polling request: (status, headers, body)."""
    path = "/socket.io/?EIO=4&transport=polling"
    if sid:
        path += "&sid=" + sid
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (
        method, path, port)
    if origin is not None:
        head += "Origin: %s\r\n" % origin
    if method == "POST":
        head += "Content-Type: text/plain;charset=UTF-8\r\n"
        head += "Content-Length: %d\r\n" % len(body)
    data = http_request(port, head.encode() + b"\r\n" + body)
    st, h, b, _ = parse_response(data)
    return st, h, b


def ws_status(port, origin=None):
    ws = WSClient(port, origin=origin)
    st = ws.status
    if st == 101:
        ws.eio_open()
    ws.close()
    return st


def test_origins():
    r = Raind(conf="components %s\nallowed_origins %s\n" % (COMPONENTS, GOOD),
              workers=2).start()
    try:
        p = r.port
        check(ws_status(p, EVIL) == 403, "websocket from another origin: 403")
        check(ws_status(p, GOOD) == 101, "websocket from allowed_origins: 101")
        check(ws_status(p) == 101, "websocket without Origin: 101")
        check(ws_status(p, "http://127.0.0.1:%d" % p) == 101,
              "websocket from the server's own origin: 101")
        check(ws_status(p, "null") == 403, "websocket from Origin null: 403")

        st, h, b = polling(p, EVIL)
        check(st == 403 and json.loads(b) == {"code": 4, "message": "Forbidden"}
              and "access-control-allow-origin" not in h,
              "polling handshake from another origin: 403 Forbidden")
        st, h, b = polling(p, GOOD)
        check(st == 200 and b.startswith(b"0{") and
              h.get("access-control-allow-origin") == GOOD,
              "polling handshake from allowed_origins: 200 with CORS")
        sid = json.loads(b[1:])["sid"]
        st, _, b = polling(p)
        check(st == 200 and b.startswith(b"0{"), "polling without Origin: 200")

        # A session opened by the good page, used from another site.
        st, _, _ = polling(p, EVIL, sid, "POST", b"40")
        check(st == 403, "polling POST to a session from another origin: 403")
        st, _, _ = polling(p, EVIL, sid)
        check(st == 403, "polling GET of a session from another origin: 403")
        st, _, b = polling(p, GOOD, sid, "POST", b"40" + ECHO.encode() + b",")
        check(st == 200 and b == b"ok", "the session goes on from its origin")
        st, _, b = polling(p, GOOD, sid)
        check(st == 200 and b"40" + ECHO.encode() + b",{\"sid\"" in b,
              "its namespace connect is answered")
        ws = WSClient(p, "/socket.io/?EIO=4&transport=websocket&sid=" + sid,
                      origin=EVIL)
        check(ws.status == 403,
              "upgrade of that session from another origin: 403")
        ws.close()
    except Exception:       # noqa: BLE001 - a failure, with the log
        unexpected()
    finally:
        r.cleanup()

    r = Raind(conf="components %s\nallowed_origins %s\nrequire_origin yes\n" % (
        COMPONENTS, GOOD), workers=2).start()
    try:
        p = r.port
        check(ws_status(p) == 403, "require_origin: websocket without Origin: 403")
        st, _, b = polling(p)
        check(st == 403 and json.loads(b)["code"] == 4,
              "require_origin: polling without Origin: 403")
        check(ws_status(p, GOOD) == 101, "require_origin: allowed origin: 101")
        st, _, b = polling(p, GOOD)
        check(st == 200 and b.startswith(b"0{"),
              "require_origin: allowed origin polls")
        check(ws_status(p, EVIL) == 403, "require_origin: other origin: 403")
    except Exception:       # noqa: BLE001 - a failure, with the log
        unexpected()
    finally:
        r.cleanup()


def send_get(s):
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")


def answered(s, timeout):
    """Did a response arrive on s within timeout?"""
    return outcome(s, timeout) == "served"


def wait_idle_worker(r):
    """Until the worker holds only the connection asking (start-up's are gone)."""
    wait_until(lambda: (r.healthz() or {}).get("connections") == 1, 10,
               "the start-up connections to close")


def outcome(s, timeout):
    """served (a 200), refused (a 503 or a close) or waiting."""
    s.settimeout(timeout)
    try:
        data = s.recv(65536)
    except socket.timeout:
        return "waiting"
    except OSError:
        return "refused"
    if data.startswith(b"HTTP/1.1 200"):
        return "served"
    if data == b"" or data.startswith(b"HTTP/1.1 503"):
        return "refused"
    return "other: %r" % data[:40]


def refused_at_once(s, timeout):
    """A 503 or a close within timeout: refused, not left hanging."""
    return outcome(s, timeout) == "refused"


def test_max_connections():
    limit, extra = 50, 10
    r = Raind(conf="max_connections %d\nheader_timeout 60s\n" % limit,
              workers=1).start()
    socks = []
    try:
        pids = r.worker_pids()
        wait_idle_worker(r)
        for _ in range(limit + extra):
            s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
            send_get(s)
            socks.append(s)
        # Which of them is refused is the kernel's and the scheduler's
        # business (the probe that found the worker idle may also hold a
        # place a moment longer); what counts is that each is either
        # served or refused at once, and that the limit holds.
        got = [outcome(s, 5) for s in socks]
        served, refused = got.count("served"), got.count("refused")
        check(limit - 1 <= served <= limit,
              "at most max_connections are served (%d of %d)" % (
                  served, limit + extra))
        check(served + refused == limit + extra,
              "the others are refused at once (503 or closed), none left "
              "waiting (%d refused, %d waiting)" % (
                  refused, got.count("waiting")))
        check("every worker at max_connections (50)" in r.logtext(),
              "the refusals are logged")
        for s in [s for s, g in zip(socks, got) if g == "served"][:extra * 2]:
            s.close()
        wait_until(lambda: (r.healthz() or {}).get("connections", 99) <=
                   limit - extra, 5, "room again")
        again = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        send_get(again)
        socks.append(again)
        check(answered(again, 5), "with room again, a new connection is served")
        check(r.worker_pids() == pids and r.proc.poll() is None,
              "the worker and the master are the same processes")
    except Exception:       # noqa: BLE001
        unexpected()
    finally:
        for s in socks:
            s.close()
        r.cleanup()


def test_accept_full_worker():
    """No connection waits behind a full worker while another has room."""
    workers, limit = 3, 5
    r = Raind(conf="max_connections %d\nheader_timeout 60s\n"
              "keepalive_timeout 60s\n" % limit, workers=workers).start()
    socks = []
    try:
        wait_until(lambda: all((r.healthz() or {}).get("connections", 9) <= 1
                               for _ in range(6)), 10, "idle workers")
        counts = {}
        served = 0
        for i in range(workers * limit):
            s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
            socks.append(s)
            send_get(s)
            s.settimeout(5)
            try:
                data = s.recv(65536)
            except (socket.timeout, OSError):
                data = b""
            if data.startswith(b"HTTP/1.1 200"):
                served += 1
                body = json.loads(data.split(b"\r\n\r\n", 1)[1])
                counts[body["pid"]] = max(counts.get(body["pid"], 0),
                                          body["connections"])
        check(served == workers * limit,
              "all %d connections up to the node's limit are served at once, "
              "wherever the kernel put them (%d)" % (workers * limit, served))
        check(all(n <= limit for n in counts.values()),
              "no worker went over max_connections (%r)" % counts)
        check(r.logtext().count("passed to slot") > 0 or len(counts) == workers,
              "connections reaching a full worker were passed to one with room")
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        socks.append(s)
        send_get(s)
        check(refused_at_once(s, 3), "at the node's limit a new connection "
              "is refused at once")
    except Exception:       # noqa: BLE001
        unexpected()
    finally:
        for s in socks:
            s.close()
        r.cleanup()


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_emfile():
    n = 150
    r = Raind(conf="header_timeout 60s\n", workers=1)
    r.start(preexec_fn=low_nofile)
    socks = []
    try:
        pids = r.worker_pids()
        wait_idle_worker(r)
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
            send_get(s)
            socks.append(s)
        first = [answered(s, 5) for s in socks[:20]]
        check(all(first), "connections within the descriptor limit are served")
        wait_until(lambda: "Too many open files" in r.logtext(), 10,
                   "accept to hit EMFILE")
        check(True, "accept hits EMFILE and says so")
        check(r.worker_pids() == pids, "the worker survives EMFILE")
        # Close what was served; everyone else gets a turn.
        pending = []
        bad = 0
        for s in socks[:20]:
            s.close()
        for s in socks[20:]:
            s.setblocking(False)
            try:
                got = s.recv(65536)
            except BlockingIOError:
                pending.append(s)
                continue
            except OSError:
                got = b""
            bad += not got.startswith(b"HTTP/1.1 200")
            s.close()
        check(bad == 0, "what was accepted was served (%d bad)" % bad)
        check(len(pending) > 0, "some connections waited for a descriptor "
              "(%d of %d)" % (len(pending), n))
        waited = len(pending)
        ok = 0
        while pending:
            s = pending.pop(0)
            if answered(s, 10):
                ok += 1
            s.close()
        check(ok == waited and r.healthz() is not None,
              "the waiting connections are served afterwards (%d of %d)"
              % (ok, waited))
        check(r.worker_pids() == pids and r.proc.poll() is None,
              "same worker, same master after EMFILE")
    except Exception:       # noqa: BLE001
        unexpected()
    finally:
        for s in socks:
            s.close()
        r.cleanup()


def test_namespaces():
    r = Raind(conf="components %s\nmax_namespaces_per_connection 2\n" %
              COMPONENTS, workers=2).start()
    try:
        ws = WSClient(r.port)
        ws.eio_open()
        check(ws.sio_connect("/")[0] == "40", "namespace 1 of 2 connects")
        check(ws.sio_connect(ECHO)[0] == "40", "namespace 2 of 2 connects")
        t, data = ws.sio_connect(CHAT)
        check(t == "44" and data == {"message": "too many namespaces"},
              "namespace 3 of 2: CONNECT_ERROR too many namespaces (%r)" % (data,))
        ws.emit(ECHO, "echo", "still here")
        check(ws.wait_event(ECHO, "echo") == ["still here"],
              "the connected namespaces keep working")
        t, data = ws.sio_connect("/nope")
        check(t == "44" and data == {"message": "Invalid namespace"},
              "an unknown namespace is still named as such")
        ws.send_text("41")      # leave "/"
        t, data = ws.sio_connect(CHAT)
        check(t == "40", "after leaving one, another namespace connects")
        ws.close()
        wait_until(lambda: r.healthz() is not None, 5, "raind answering")
    except Exception:       # noqa: BLE001 - a failure, with the log
        unexpected()
    finally:
        r.cleanup()


def expect_server_disconnect(ws, nsp, deadline):
    """The DISCONNECT of nsp, then the end of the connection."""
    try:
        t, _ = ws.wait_packet(nsp, ("41",), deadline)
    except (TimeoutError, Closed, OSError):
        return False
    if t != "41":
        return False
    end = time.monotonic() + deadline
    try:
        while True:
            ws.recv_eio(end)
    except (Closed, ConnectionError):
        return True
    except (TimeoutError, OSError):
        return False


def stays_connected(ws, nsp, seconds):
    """No DISCONNECT for nsp within seconds (pings answered meanwhile)."""
    ws.sock.settimeout(seconds / 4)
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            try:
                ws.wait_packet(nsp, ("41",), end - time.monotonic())
                return False
            except (TimeoutError, socket.timeout):
                continue
    except (Closed, OSError):
        return False
    finally:
        ws.sock.settimeout(10)
    return True


def chat_active(ws, seconds):
    """Echo every 100 ms for seconds; all come back, no DISCONNECT."""
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        ws.emit(ECHO, "echo", i)
        if ws.wait_event(ECHO, "echo", 5) != [i]:
            return False
        i += 1
        time.sleep(0.1)     # the client's pace, not a wait for the server
    return i > 0


IDLE = "idle_time 1s\nidle_check_interval 200ms\nping_interval 300ms\n"


def test_idle_disconnect():
    r = Raind(conf="components %s\n%sdisconnect_idle yes\n"
              "disconnect_idle_on_max_conn 0\n" % (COMPONENTS, IDLE),
              workers=2).start()
    try:
        t0 = time.monotonic()
        quiet = sio_client(r.port, ECHO)
        busy = sio_client(r.port, ECHO)
        result = []
        chat = threading.Thread(target=lambda: result.append(
            chat_active(busy, 2.5)), daemon=True)
        chat.start()
        check(expect_server_disconnect(quiet, ECHO, 4),
              "an idle socket gets DISCONNECT and its connection closes")
        took = time.monotonic() - t0
        check(1.0 <= took < 1.0 + 0.2 + 2.0,
              "after idle_time, within a check or so (%.2f s)" % took)
        check(quiet.pings > 0, "pings were answered: they are no activity")
        chat.join(10)
        check(result == [True], "an active socket keeps its echoes meanwhile")
        check(chat_active(busy, 0.5), "the active one is still connected")
        check("idle for" in r.logtext(), "idle disconnects are logged")
        busy.close()
    except Exception:       # noqa: BLE001 - a failure, with the log
        unexpected()
    finally:
        r.cleanup()


def test_idle_on_max_conn():
    """disconnect_idle yes, at or above the threshold: idle sockets go."""
    r = Raind(conf="components %s\n%sdisconnect_idle yes\n"
              "disconnect_idle_on_max_conn 3\n" % (COMPONENTS, IDLE),
              workers=1).start()
    try:
        a = sio_client(r.port, ECHO)
        b = sio_client(r.port, ECHO)
        check(stays_connected(a, ECHO, 1.8) and stays_connected(b, ECHO, 0.4),
              "yes, 2 connections, below disconnect_idle_on_max_conn 3: idle stays")
        c = sio_client(r.port, ECHO)
        check(expect_server_disconnect(a, ECHO, 3) and
              expect_server_disconnect(b, ECHO, 3),
              "yes, a 3rd connection reaches the threshold: the idle ones are shed")
        check(stays_connected(c, ECHO, 1.8),
              "the new one stays: below the threshold again, nothing is shed")
        c.emit(ECHO, "echo", "c")
        check(c.wait_event(ECHO, "echo") == ["c"], "and it still works")
        c.close()
    except Exception:       # noqa: BLE001 - a failure, with the log
        unexpected()
    finally:
        r.cleanup()


def test_idle_off():
    """disconnect_idle no: nothing is disconnected for idleness, whatever the load."""
    for maxconn, n, what in ((2, 3, "above"), (100, 1, "below")):
        r = Raind(conf="components %s\n%sdisconnect_idle no\n"
                  "disconnect_idle_on_max_conn %d\n" % (COMPONENTS, IDLE, maxconn),
                  workers=1).start()
        try:
            socks = [sio_client(r.port, ECHO) for _ in range(n)]
            check(stays_connected(socks[0], ECHO, 2.0) and
                  all(stays_connected(s, ECHO, 0.3) for s in socks[1:]),
                  "no, %d connection(s), %s disconnect_idle_on_max_conn %d: "
                  "all stay" % (n, what, maxconn))
            socks[-1].emit(ECHO, "echo", "still")
            check(socks[-1].wait_event(ECHO, "echo") == ["still"],
                  "no, %s the threshold: the idle socket still works" % what)
            check("idle for" not in r.logtext(), "no, %s: no idle disconnect "
                  "logged" % what)
            for s in socks:
                s.close()
        except Exception:       # noqa: BLE001 - a failure, with the log
            unexpected()
        finally:
            r.cleanup()


def test_idle_push_only():
    """What the server sends a socket is activity: a push-only socket stays."""
    r = Raind(conf="components %s\n%sdisconnect_idle yes\n"
              "disconnect_idle_on_max_conn 0\n" % (COMPONENTS, IDLE),
              workers=1).start()
    try:
        dash = sio_client(r.port, ECHO)
        quiet = sio_client(r.port, CHAT)
        pusher = sio_client(r.port, ECHO)
        stop = threading.Event()

        def push():
            i = 0
            while not stop.is_set() and i < 100:
                pusher.emit(ECHO, "broadcast", i)
                i += 1
                stop.wait(0.2)      # the pusher's pace
        t = threading.Thread(target=push, daemon=True)
        t.start()
        check(expect_server_disconnect(quiet, CHAT, 4),
              "a socket with no traffic either way is still shed")
        check(stays_connected(dash, ECHO, 2.5),
              "a socket that only receives broadcasts is not idle")
        stop.set()
        t.join(5)
        check(expect_server_disconnect(dash, ECHO, 4),
              "once the pushes stop, it goes idle like any other")
        pusher.close()
    except Exception:       # noqa: BLE001 - a failure, with the log
        unexpected()
    finally:
        r.cleanup()


def test_idle_polling():
    """Over polling, the DISCONNECT and the close ride on the next GETs."""
    r = Raind(conf="components %s\n%sdisconnect_idle yes\n"
              "disconnect_idle_on_max_conn 0\n" % (COMPONENTS, IDLE),
              workers=1).start()
    try:
        st, _, b = polling(r.port)
        sid = json.loads(b[1:])["sid"]
        polling(r.port, sid=sid, method="POST", body=b"40" + ECHO.encode() + b",")
        got = b""
        deadline = time.monotonic() + 5
        while b"\x1e1" not in got and got != b"1" and time.monotonic() < deadline:
            st, _, body = polling(r.port, sid=sid)
            if st != 200:
                break
            if body == b"2":
                polling(r.port, sid=sid, method="POST", body=b"3")
            got += b"\x1e" + body
        check(b"41" + ECHO.encode() + b"," in got and got.endswith(b"\x1e1"),
              "polling: DISCONNECT, then the Engine.IO close (%r)" % got[-80:])
    except Exception:       # noqa: BLE001 - a failure, with the log
        unexpected()
    finally:
        r.cleanup()


def test_attachments():
    """A packet's attachments together are bounded by max_payload."""
    from rawsio import WS_BINARY, ws_frame
    r = Raind(conf="components %s\nmax_payload 64k\n" % COMPONENTS,
              workers=1).start()
    try:
        ws = sio_client(r.port, ECHO)
        ph = '{"_placeholder":true,"num":%d}'
        ws.send_text('452-%s,["echo",%s,%s]' % (ECHO, ph % 0, ph % 1))
        ws.send_raw(ws_frame(WS_BINARY, b"a" * 40000))
        ws.send_raw(ws_frame(WS_BINARY, b"b" * 40000))
        closed = False
        try:
            while True:
                ws.recv_eio(end=time.monotonic() + 5)
        except (Closed, OSError):
            closed = True
        except TimeoutError:
            closed = False
        check(closed, "two 40k attachments with max_payload 64k close the "
              "connection")
        ok = sio_client(r.port, ECHO)
        ok.send_text('451-%s,["echo",%s]' % (ECHO, ph % 0))
        ok.send_raw(ws_frame(WS_BINARY, b"c" * 40000))
        t, data = ok.wait_packet(ECHO, ("451-",))
        check(data is not None and data[0] == "echo",
              "one 40k attachment is echoed (%r)" % (data,))
        ok.close()
    except Exception:       # noqa: BLE001 - a failure, with the log
        unexpected()
    finally:
        r.cleanup()


TESTS = (test_origins, test_namespaces, test_max_connections,
         test_accept_full_worker, test_emfile,
         test_idle_disconnect, test_idle_on_max_conn, test_idle_off,
         test_idle_push_only, test_idle_polling,
         test_attachments)


def main():
    # Names on the command line run only those tests (for debugging).
    for t in TESTS:
        if len(sys.argv) < 2 or t.__name__ in sys.argv[1:]:
            t()
    done()


if __name__ == "__main__":
    main()
