"""Integration: a reload never drops a client.

raind with two workers and the echo component.  Four websocket clients
and two Engine.IO polling clients echo without pause (each waits for its
echo before sending the next, and checks it) while the master gets three
SIGHUPs.  After each reload the new generation takes the new connections
while the old one drains: it keeps its websocket clients, and polling
requests for its sessions, which now reach the new workers, are passed
to it.  Checked:

- zero disconnects and zero failed requests on every client, every echo
  answered, in order, before, between and after the reloads;
- every client echoed after the last reload;
- the old generations' workers exit once their clients are gone;
- then a binary upgrade (SIGUSR2): a new master is started from the
  executable's path with the listening sockets and the channels to the
  old workers; the clients go on, again without a disconnect, the old
  master drains and exits, and the pid file is the new master's;
- with a short reload_drain_timeout, the clients left on the old workers
  are closed cleanly (a WebSocket close) once it has passed, and the old
  workers exit;
- a new master that cannot start (a broken configuration) leaves the
  running one serving, with its pid file.
"""

import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import (COMPONENTS, Raind, check, done, http_request,  # noqa: E402
                       parse_response, wait_until)
from rawsio import Closed, sio_body, sio_client  # noqa: E402

ECHO = "/echo/1.0/echo"
WS_CLIENTS = 4
POLL_CLIENTS = 2
RELOADS = 3
WAIT = 10.0


class PollClient:
    """An Engine.IO polling client with the echo namespace."""

    def __init__(self, port):
        self.port = port
        self.sid = None
        st, body = self.request("GET")
        if st != 200:
            raise RuntimeError("handshake %d" % st)
        self.sid = json.loads(body[1:])["sid"]
        self.post("40%s," % ECHO)
        self.inbox = []
        self.wait(lambda p: p.startswith("40%s," % ECHO))

    def request(self, method, body=b""):
        path = "/socket.io/?EIO=4&transport=polling"
        if self.sid:
            path += "&sid=" + self.sid
        head = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % (method, path)
        if method == "POST":
            head += ("Content-Type: text/plain;charset=UTF-8\r\n"
                     "Content-Length: %d\r\n" % len(body))
        r = parse_response(http_request(self.port, head.encode() + b"\r\n" + body,
                                        timeout=WAIT + 30))
        if r is None:
            raise RuntimeError("no answer to %s" % method)
        return r[0], r[2].decode()

    def post(self, text):
        st, body = self.request("POST", text.encode())
        if st != 200:
            raise RuntimeError("POST %d %r" % (st, body))

    def wait(self, pred):
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            for i, p in enumerate(self.inbox):
                if pred(p):
                    return self.inbox.pop(i)
            st, body = self.request("GET")
            if st != 200:
                raise RuntimeError("GET %d %r" % (st, body))
            for p in body.split("\x1e"):
                if p == "2":
                    self.post("3")
                elif p == "1":
                    raise RuntimeError("closed by the server")
                elif p:
                    self.inbox.append(p)
        raise TimeoutError("nothing came")

    def echo(self, n):
        self.post('42%s,["echo",%d]' % (ECHO, n))
        p = self.wait(lambda p: sio_body(p, "42", ECHO) is not None and
                      json.loads(sio_body(p, "42", ECHO))[0] == "echo")
        return json.loads(sio_body(p, "42", ECHO))[1]

    def close(self):
        try:
            self.post("1")
        except (RuntimeError, OSError):
            pass


class WsClient:
    def __init__(self, port):
        self.ws = sio_client(port, ECHO)

    def echo(self, n):
        self.ws.emit(ECHO, "echo", n)
        return self.ws.wait_event(ECHO, "echo", WAIT)[0]

    def close(self):
        self.ws.close()


class Echoer(threading.Thread):
    """Echo n, n+1, ... until told to stop; any failure is kept."""

    def __init__(self, client, name):
        super().__init__(daemon=True)
        self.client = client
        self.name = name
        self.n = 0
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set() and self.n < 100000:
            try:
                got = self.client.echo(self.n)
            except (Closed, OSError, RuntimeError, TimeoutError, ValueError) as e:
                self.errors.append("%s at echo %d: %r" % (self.name, self.n, e))
                return
            if got != self.n:
                self.errors.append("%s: echo %d came back as %r" % (
                    self.name, self.n, got))
                return
            self.n += 1
            self.stop.wait(0.02)        # the client's pace


def read_pid(r):
    try:
        with open(r.pid_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def stop_pid(pid):
    """End a master we started (through the upgrade) and wait for it."""
    if not pid:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + WAIT
    while time.monotonic() < end and os.path.exists("/proc/%d" % pid):
        time.sleep(0.05)        # polling its exit, bounded


def healthy(r):
    return r.healthz() is not None


def generation(r):
    h = r.healthz()
    return h["generation"] if h else None


def test_reloads():
    r = Raind(conf="components %s\nreload_drain_timeout 60s\n" % COMPONENTS,
              workers=2).start()
    echoers = []
    try:
        first = set(r.worker_pids())
        for i in range(WS_CLIENTS):
            echoers.append(Echoer(WsClient(r.port), "ws%d" % i))
        for i in range(POLL_CLIENTS):
            echoers.append(Echoer(PollClient(r.port), "poll%d" % i))
        for e in echoers:
            e.start()
        for k in range(RELOADS):
            marks = [e.n for e in echoers]
            r.signal(signal.SIGHUP)
            wait_until(lambda: all(generation(r) == k + 2 for _ in range(4)),
                       WAIT, "generation %d" % (k + 2))
            # Every client goes on across the reload.
            wait_until(lambda: all(e.n >= m + 5 or e.errors
                                   for e, m in zip(echoers, marks)),
                       WAIT * 2, "echoes after reload %d" % (k + 1))
        # A binary upgrade: a new master from the executable's path.
        marks = [e.n for e in echoers]
        old_master = r.proc.pid
        r.signal(signal.SIGUSR2)
        new_master = wait_until(lambda: (lambda p: p if p and p != old_master
                                         else None)(read_pid(r)), WAIT,
                                "the new master's pid file")
        wait_until(lambda: all(generation(r) == RELOADS + 2 for _ in range(4)),
                   WAIT, "the new master's workers")
        wait_until(lambda: all(e.n >= m + 5 or e.errors
                               for e, m in zip(echoers, marks)),
                   WAIT * 2, "echoes after the upgrade")
        check("upgrade: the new master (pid %d) serves" % new_master in r.logtext(),
              "the old master saw the new one serve")
        for e in echoers:
            e.stop.set()
        for e in echoers:
            e.join(WAIT)
        errors = [x for e in echoers for x in e.errors]
        check(not errors, "no disconnect, no failed request through %d reloads "
              "and a binary upgrade (%r)" % (RELOADS, errors[:3]))
        check(all(e.n >= 5 * (RELOADS + 1) for e in echoers),
              "every client echoed throughout (%r)" % [e.n for e in echoers])
        check(first & set(r.worker_pids()),
              "the first generation's workers still drain while their clients "
              "are connected")
        for e in echoers:
            e.client.close()
        check(r.proc.wait(WAIT) == 0,
              "the old master exits once its workers drained")
        check(r.logtext().count("drained: exiting") >= 2,
              "draining workers say so when they exit")
        check(not os.path.exists(r.pid_file + ".oldbin") and
              read_pid(r) == new_master, "the pid file is the new master's")
        check(healthy(r), "the new master serves")
    finally:
        for e in echoers:
            e.stop.set()
        stop_pid(read_pid(r))
        r.cleanup()


def test_drain_timeout():
    r = Raind(conf="components %s\nreload_drain_timeout 500ms\n"
              "reload_drain_spread 500ms\n" % COMPONENTS, workers=1).start()
    try:
        old = set(r.worker_pids())
        ws = WsClient(r.port)
        check(ws.echo(1) == 1, "a client on the first generation")
        t0 = time.monotonic()
        r.signal(signal.SIGHUP)
        closed = None
        ws.ws.sock.settimeout(WAIT)
        try:
            while time.monotonic() - t0 < WAIT:
                ws.ws.recv_eio()
        except Closed as e:
            closed = e
        except OSError as e:
            closed = e
        took = time.monotonic() - t0
        check(closed is not None and 0.4 <= took < 5,
              "after reload_drain_timeout its connection is closed (%.1f s, %r)"
              % (took, closed))
        wait_until(lambda: not old & set(r.worker_pids()), WAIT,
                   "the old worker to exit")
        check("reload_drain_timeout: closing 1 sessions" in r.logtext(),
              "the drain timeout is logged")
        again = WsClient(r.port)
        check(again.echo(2) == 2, "the client can come back to the new worker")
        again.close()
    finally:
        r.cleanup()


def test_upgrade_fails():
    """A new master that cannot start leaves the running one serving."""
    r = Raind(conf="components %s\n" % COMPONENTS, workers=1).start()
    try:
        pids = r.worker_pids()
        with open(r.conf_path, "a") as f:
            f.write("\nbogus_directive 1\n")
        r.signal(signal.SIGUSR2)
        wait_until(lambda: "upgrade failed" in r.logtext(), WAIT, "the failure")
        check(read_pid(r) == r.proc.pid and
              not os.path.exists(r.pid_file + ".oldbin"),
              "the pid file is still the running master's")
        check(r.worker_pids() == pids and healthy(r),
              "the same workers go on serving")
    finally:
        r.cleanup()


def main():
    test_reloads()
    test_drain_timeout()
    test_upgrade_fails()
    done()


if __name__ == "__main__":
    main()
