"""Integration: the master process (workers, respawn, reload, stop)."""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import (COMPONENTS, RAIND, Raind, check, done, get, wait_until)  # noqa: E402
from rawsio import sio_client  # noqa: E402


def test_command_line(r):
    p = subprocess.run([RAIND, "-n", "-f", r.conf_path], capture_output=True,
                       text=True)
    check(p.returncode == 0 and p.stdout.strip() == "configuration OK",
          "raind -n accepts a good file")
    bad = os.path.join(r.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("listen 127.0.0.1:0\n# fine\nworkers lots\n")
    p = subprocess.run([RAIND, "-n", "-f", bad], capture_output=True,
                       text=True)
    check(p.returncode == 1 and (bad + ":3:") in p.stderr,
          "raind -n reports file:line (%r)" % p.stderr.strip())
    comp = os.path.join(r.dir, "comp.conf")
    with open(comp, "w") as f:
        f.write("listen 127.0.0.1:0\ncomponents %s\n" % COMPONENTS)
    p = subprocess.run([RAIND, "-n", "-v", "-f", comp], capture_output=True,
                       text=True)
    check(p.returncode == 0 and "/echo/1.0/echo" in p.stdout
          and "/chat/1.0/chat" in p.stdout and "echo.so" in p.stdout,
          "raind -n -v lists the namespaces with their modules")
    broken = os.path.join(r.dir, "broken", "x")
    os.makedirs(broken)
    with open(os.path.join(broken, "meta.json"), "w") as f:
        f.write('{"id": "x", "version": }')
    with open(comp, "w") as f:
        f.write("components %s\n" % os.path.dirname(broken))
    p = subprocess.run([RAIND, "-n", "-f", comp], capture_output=True,
                       text=True)
    check(p.returncode == 0 and os.path.join(broken, "meta.json") in p.stderr
          and "component skipped" in p.stderr and "1 component problem" in p.stdout,
          "raind -n names a broken meta.json, skips it and exits 0 (%r, %r)" %
          (p.stdout.strip(), p.stderr.strip()))
    p = subprocess.run([RAIND, "-n", "-S", "-f", comp], capture_output=True,
                       text=True)
    check(p.returncode == 1 and os.path.join(broken, "meta.json") in p.stderr
          and "refused by -S" in p.stderr,
          "raind -n -S: the same broken component fails the check (%r)" %
          p.stderr.strip())
    # A broken component next to the bundled ones: they are served.
    with open(comp, "w") as f:
        f.write("listen 127.0.0.1:0\ncomponents %s\ncomponents %s\n" % (
            COMPONENTS, os.path.dirname(broken)))
    p = subprocess.run([RAIND, "-n", "-v", "-f", comp], capture_output=True,
                       text=True)
    check(p.returncode == 0 and "/echo/1.0/echo" in p.stdout and
          "broken skipped" in p.stdout,
          "raind -n -v: the good components stay beside a broken one")
    bad = Raind(conf="components %s\ncomponents %s\n" % (
        COMPONENTS, os.path.dirname(broken)), workers=1).start()
    try:
        ws = sio_client(bad.port, "/echo/1.0/echo")
        ws.emit("/echo/1.0/echo", "echo", "still here")
        check(ws.wait_event("/echo/1.0/echo", "echo") == ["still here"],
              "raind starts and serves the good components beside a broken one")
        check(os.path.join(broken, "meta.json") in bad.logtext(),
              "the broken one is logged with its path")
        ws.close()
    finally:
        bad.cleanup()
    p = subprocess.run([RAIND, "-x"], capture_output=True, text=True)
    check(p.returncode == 1 and "usage:" in p.stderr,
          "unknown option prints usage and exits 1")
    p = subprocess.run([RAIND, "-V"], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.startswith("raind "), "raind -V")


def test_spread(r):
    pids = {}
    for _ in range(300):
        h = r.healthz()
        if h:
            pids[h["pid"]] = pids.get(h["pid"], 0) + 1
    print("# connections per worker pid: %r" % pids)
    check(sum(pids.values()) == 300, "300 /healthz requests answered")
    check(len(pids) >= 2, "answers come from more than one worker")
    check(set(pids) <= set(r.worker_pids()), "answering pids are workers")


def test_respawn(r):
    before = r.worker_pids()
    check(len(before) == 3, "three workers running (%r)" % before)
    victim = before[0]
    t0 = time.monotonic()
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = r.worker_pids()
        return len(now) == 3 and victim not in now
    try:
        wait_until(replaced, 2.0, "respawn")
        check(True, "killed worker replaced within 2 s (%.0f ms)" %
              ((time.monotonic() - t0) * 1000))
    except TimeoutError:
        check(False, "killed worker replaced within 2 s")
    ok = sum(1 for _ in range(100) if r.healthz() is not None)
    check(ok == 100, "no failed request after the respawn (%d/100)" % ok)
    check(("worker pid %d slot" % victim) in r.logtext(),
          "the master logs the death with pid and slot")


def test_reload_bad(r):
    pids = r.worker_pids()
    with open(r.conf_path, "a") as f:
        f.write("\nbogus_directive 1\n")
    r.signal(signal.SIGHUP)
    needle = r.conf_path + ":"
    wait_until(lambda: "reload failed" in r.logtext(), 5, "reload error")
    log = r.logtext()
    line = [l for l in log.splitlines() if "reload failed" in l][-1]
    check(needle in line and "bogus_directive" in line,
          "broken reload logs file:line (%s)" % line.split("reload failed")[1])
    check(r.healthz() is not None, "still serving after a broken reload")
    check(r.worker_pids() == pids, "workers untouched by a broken reload")


def test_reload_listen(r):
    old_port = r.port
    old_pids = r.worker_pids()
    # A second listener appears; the first one moves to a new port.
    r.write_conf(workers=2, listen=("127.0.0.2:0", "127.0.0.1:0"))
    os.unlink(r.port_file)
    r.signal(signal.SIGHUP)
    ports = wait_until(r.read_ports, 5, "new port file")
    check(len(ports) == 2 and ports[0][0] == "127.0.0.2",
          "port file lists listeners in configuration order (%r)" % ports)
    check(ports[1][1] == old_port, "an unchanged listener keeps its port")
    h = wait_until(lambda: _healthz_at(ports[0]), 5, "new listener")
    check(h is not None, "the new listener answers")

    def old_gone():
        now = r.worker_pids()
        return len(now) == 2 and not (set(old_pids) & set(now))
    wait_until(old_gone, 10, "old generation gone")
    check(True, "old generation replaced by 2 new workers")
    h = _healthz_at(("127.0.0.1", old_port))
    check(h is not None and h["generation"] == 2,
          "kept listener served by the new generation")
    # Now drop the 127.0.0.2 listener: its port must close.
    r.write_conf(workers=2, listen=("127.0.0.1:0",))
    os.unlink(r.port_file)
    r.signal(signal.SIGHUP)
    wait_until(r.read_ports, 5, "port file after removal")

    def closed():
        try:
            socket.create_connection(ports[0], timeout=1).close()
            return False
        except OSError:
            return True
    wait_until(closed, 10, "removed listener closed")
    check(True, "removed listener closed")


def _healthz_at(addr):
    import json
    try:
        res = get(addr[1], "/healthz", host=addr[0], timeout=2)
    except OSError:
        return None
    return json.loads(res[2]) if res and res[0] == 200 else None


def test_stop(r):
    t0 = time.monotonic()
    code = r.stop()
    took = time.monotonic() - t0
    check(code == 0, "SIGTERM: exit status 0 (%r)" % code)
    check(took < 5 + 2, "stopped within shutdown_timeout (%.2f s)" % took)
    check(not os.path.exists(r.pid_file), "pid file removed")


def main():
    r = Raind(workers=3)
    try:
        test_command_line(r)
        r.start()
        with open(r.pid_file) as f:
            check(int(f.read()) == r.proc.pid, "pid file holds the master pid")
        test_spread(r)
        test_respawn(r)
        test_reload_bad(r)
        test_reload_listen(r)
        test_stop(r)
    finally:
        r.cleanup()
    done()


main()
