"""Integration: raind under systemd, as far as a machine without systemd
as PID 1 lets a test see it.

- Type=notify: the test binds the datagram socket that $NOTIFY_SOCKET
  names, as systemd does, and starts raind in the foreground (-d, as the
  unit does): READY=1 once the workers serve, RELOADING=1 with
  MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1 on SIGTERM.
- The hardening of the unit: raind starts and serves in a mount namespace
  where / is read-only (ProtectSystem=strict), with only its own directory
  writable, an empty /home and /root (ProtectHome), and with the
  no_new_privs bit set (NoNewPrivileges), checked in /proc.
- The installed unit file passes "systemd-analyze verify" (skipped only
  when that command is absent).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import COMPONENTS, RAIND, Raind, check, done, wait_until  # noqa: E402
from rawsio import sio_client  # noqa: E402

ECHO = "/echo/1.0/echo"
WAIT = 10.0


class Notify:
    """The service manager's end of the notify protocol."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(WAIT)

    def next(self):
        """The fields of the next message, as a dict."""
        data = self.sock.recv(4096).decode()
        return dict(l.split("=", 1) for l in data.split("\n") if "=" in l)

    def close(self):
        self.sock.close()


def test_notify():
    r = Raind(conf="components %s\n" % COMPONENTS, workers=2)
    n = Notify(r.dir)
    try:
        r.start(env=dict(os.environ, NOTIFY_SOCKET=n.path))
        msg = n.next()
        check(msg.get("READY") == "1" and msg.get("MAINPID") == str(r.proc.pid),
              "READY=1 with MAINPID after start (%r)" % msg)
        check(r.healthz() is not None, "and it serves")
        r.signal(signal.SIGHUP)
        msg = n.next()
        usec = int(msg.get("MONOTONIC_USEC", "0"))
        now = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
        check(msg.get("RELOADING") == "1" and 0 < now - usec < WAIT * 1e6,
              "SIGHUP: RELOADING=1 with MONOTONIC_USEC (%r)" % msg)
        msg = n.next()
        check(msg.get("READY") == "1", "then READY=1 (%r)" % msg)
        r.signal(signal.SIGTERM)
        msg = n.next()
        check(msg.get("STOPPING") == "1", "SIGTERM: STOPPING=1 (%r)" % msg)
        check(r.proc.wait(WAIT) == 0, "and a clean exit")
    finally:
        n.close()
        r.cleanup()


def proc_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


def root_mount_ro(pid):
    with open("/proc/%d/mountinfo" % pid) as f:
        for line in f:
            parts = line.split()
            if parts[4] == "/":
                return "ro" in parts[5].split(",")
    return False


def test_hardening():
    if (os.geteuid() != 0 or not shutil.which("unshare") or
            not shutil.which("setpriv") or subprocess.run(
                ["unshare", "--mount", "true"], capture_output=True).returncode):
        print("# hardening part skipped: needs root, unshare (allowed here) "
              "and setpriv")
        return
    r = Raind(conf="components %s\n" % COMPONENTS, workers=2)
    # What the unit's sandbox does, with util-linux: / read-only but for
    # raind's own directory, /home and /root hidden, no new privileges.
    script = ("set -e; mount --bind '{d}' '{d}'; mount -o remount,bind,ro /; "
              "for h in /home /root; do [ -d $h ] && mount -t tmpfs -o ro,size=1k "
              "tmpfs $h; done; "
              "exec setpriv --no-new-privs \"$@\"").format(d=r.dir)
    r.cmd_prefix = ["unshare", "--mount", "--propagation", "private", "--",
                    "sh", "-c", script, "sh"]
    try:
        r.start()
        check(r.healthz() is not None, "hardened: raind starts and serves")
        ws = sio_client(r.port, ECHO)
        ws.emit(ECHO, "echo", "sandboxed")
        check(ws.wait_event(ECHO, "echo") == ["sandboxed"],
              "hardened: a Socket.IO echo works")
        ws.close()
        for pid in [r.master_pid()] + r.worker_pids():
            check(proc_field(pid, "NoNewPrivs") == "1",
                  "pid %d runs with no_new_privs" % pid)
            check(root_mount_ro(pid), "pid %d sees / read-only" % pid)
        r.signal(signal.SIGHUP)
        wait_until(lambda: "generation 2" in r.logtext(), WAIT, "reload")
        check(r.healthz() is not None, "hardened: a reload works")
    finally:
        r.cleanup()


def test_unit_file():
    unit = os.environ.get("RAIND_SERVICE")
    analyze = shutil.which("systemd-analyze")
    if not unit or not os.path.isfile(unit):
        check(False, "the built unit file is there (%r)" % unit)
        return
    text = open(unit).read()
    for want in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID",
                 "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ProtectHome=yes", "PrivateTmp=yes", " -d -f "):
        check(want in text, "the unit has %s" % want.strip())
    if analyze is None:
        print("systemd-analyze not found: the verify step is skipped")
        return
    d = Raind(conf="components %s\n" % COMPONENTS).dir
    try:
        conf = os.path.join(d, "raind.conf")
        lines = []
        for line in text.splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=")):
                key, cmd = line.split("=", 1)
                argv = cmd.split()
                argv[0] = RAIND
                argv[argv.index("-f") + 1] = conf
                line = key + "=" + " ".join(argv)
            lines.append(line)
        path = os.path.join(d, "raind.service")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        res = subprocess.run([analyze, "verify", "--man=no", path],
                             capture_output=True, text=True, timeout=60)
        check(res.returncode == 0, "systemd-analyze verify accepts the unit "
              "(%s)" % (res.stdout + res.stderr).strip())
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    test_notify()
    test_hardening()
    test_unit_file()
    done()


if __name__ == "__main__":
    main()
