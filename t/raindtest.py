"""raindtest: start the real raind for integration tests.

Each test gets a private directory holding its configuration, pid file,
port file and log.  raind listens on port 0; the bound ports are read
back from the port file, and readiness is found by polling /healthz, never
by sleeping for a fixed time.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

RAIND = os.environ.get("RAIND") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "src", "raind")
SKIP = 77  # automake's "skipped" exit status
BUILDDIR = os.environ.get("RAIND_BUILDDIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")
# The bundled components as assembled in the build tree (make components-built).
COMPONENTS = os.path.join(BUILDDIR, "handlers", "built")

failures = 0

HERE = os.path.dirname(os.path.abspath(__file__))
# The npm modules of the interop suite, installed by t/interop/setup.sh.
INTEROP_MODULES = os.path.join(BUILDDIR, "t", "interop-modules")


def secret_file(content=None, mode=0o600):
    """A new file holding content (default: a random hex secret) and a
    newline, with mode; the caller removes it."""
    fd, path = tempfile.mkstemp(prefix="raind-secret.")
    os.write(fd, (content or os.urandom(24).hex()).encode() + b"\n")
    os.close(fd)
    os.chmod(path, mode)
    return path


def read_text(path):
    """A log file's text so far, or "" when there is none yet."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def interop_setup():
    """Install the interop suite's npm modules: the setup.sh process
    (returncode 0: ready, SKIP: no Node.js or npm)."""
    return subprocess.run([os.path.join(HERE, "interop", "setup.sh"),
                           INTEROP_MODULES], capture_output=True, text=True)


def interop_require():
    """interop_setup, or exit: SKIP without Node.js or npm, 1 on failure."""
    p = interop_setup()
    if p.returncode == SKIP:
        print("# " + p.stderr.strip())
        sys.exit(SKIP)
    if p.returncode != 0:
        print(p.stdout + p.stderr)
        sys.exit(1)


def node_conf(redis, secret, node_id, extra=""):
    """A node of several sharing redis and the cookie secret, with the
    bundled components, making sessions; then extra."""
    return ("components %s\nredis %s\ncookie_secret_file %s\n"
            "session_create yes\nnode_id %s\n%s" % (
                COMPONENTS, redis.address, secret, node_id, extra))


def interop_run(files, env, timeout=300):
    """Run t/interop test files with env: (process, passed, failed), the
    counts read from the TAP summary (None when absent)."""
    p = subprocess.run([os.path.join(HERE, "interop", "run-tests.sh"),
                        INTEROP_MODULES] +
                       [os.path.join(HERE, "interop", f) for f in files],
                       env=env, capture_output=True, text=True, timeout=timeout)
    counts = []
    for what in ("pass", "fail"):
        m = re.search(r"^# %s (\d+)" % what, p.stdout, re.M)
        counts.append(int(m.group(1)) if m else None)
    return p, counts[0], counts[1]


def interop_check(files, env, min_pass, what, tail=40):
    """One check: the interop files pass against the nodes env names, at
    least min_pass tests of them; skipped (said so) without Node.js."""
    p = interop_setup()
    if p.returncode == SKIP:
        print("# %s skipped: %s" % (what, p.stderr.strip()))
        return
    if p.returncode != 0:
        check(False, "interop modules installed:\n" + p.stdout + p.stderr)
        return
    env = dict(os.environ, SIO_TEST_REPORTER="tap", **env)
    p, npass, nfail = interop_run(files, env)
    sys.stdout.write("".join("# " + l + "\n"
                             for l in p.stdout.splitlines()[-tail:]))
    check(p.returncode == 0 and nfail == 0 and npass is not None and
          npass >= min_pass, "%s pass (%s passed, %s failed)" % (
              what, "?" if npass is None else npass,
              "?" if nfail is None else nfail))


def sanitized():
    """Is raind built with AddressSanitizer (memory figures mean less)?"""
    try:
        with open(RAIND, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False

# Lines that AddressSanitizer, LeakSanitizer and UBSan begin reports with.
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     ": runtime error: ")


def check(cond, what):
    """Record one assertion; the test fails at the end if any failed."""
    global failures
    if cond:
        print("ok - " + what)
    else:
        failures += 1
        print("FAIL - " + what)
    sys.stdout.flush()


def done():
    print("%d failure(s)" % failures)
    sys.exit(1 if failures else 0)


def wait_until(pred, timeout=10.0, what="condition"):
    """Poll pred() every 20 ms until true or timeout; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for " + what)
        time.sleep(0.02)


def http_request(port, raw, host="127.0.0.1", timeout=5.0, tls=None):
    """Send raw bytes, read until the server closes; returns the bytes.

    With tls (an ssl.SSLContext) the connection is made over TLS."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        if tls is not None:
            s = tls.wrap_socket(s, server_hostname=host)
        s.sendall(raw)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            except OSError as e:
                # A TLS peer that closes without close_notify.
                if tls is None or "EOF" not in str(e):
                    raise
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def parse_response(data):
    """Split one response: (status, headers dict lower-case, body, rest)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    return status, headers, rest[:n], rest[n:]


def get(port, path, host="127.0.0.1", extra="", timeout=5.0, tls=None):
    raw = ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n"
           % (path, extra)).encode()
    r = parse_response(http_request(port, raw, host, timeout, tls))
    return r


class Raind:
    """One raind master with its own directory and configuration."""

    def __init__(self, conf="", workers=3, listen=("127.0.0.1:0",), tls=None):
        """tls: an ssl.SSLContext when the first listener is "... tls";
        readiness is then polled over TLS with it."""
        self.dir = tempfile.mkdtemp(prefix="raindtest.")
        self.conf_path = os.path.join(self.dir, "raind.conf")
        self.pid_file = os.path.join(self.dir, "raind.pid")
        self.port_file = os.path.join(self.dir, "ports")
        self.log_path = os.path.join(self.dir, "raind.log")
        self.proc = None
        self.tls = tls
        # Run raind through this command (which must exec it, keeping
        # the pid), e.g. a sandbox.
        self.cmd_prefix = []
        self.write_conf(conf, workers, listen)

    def write_conf(self, conf="", workers=3, listen=("127.0.0.1:0",)):
        text = "".join("listen %s\n" % l for l in listen)
        text += "workers %s\npid_file %s\nlog_level debug\n" % (
            workers, self.pid_file)
        text += "shutdown_timeout 5s\n" + conf
        with open(self.conf_path, "w") as f:
            f.write(text)

    def start(self, preexec_fn=None, env=None):
        """Start raind; preexec_fn runs in the child (e.g. setrlimit)."""
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.cmd_prefix +
            [RAIND, "-d", "-f", self.conf_path, "-p", self.port_file],
            stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn, env=env)
        self.ports = wait_until(self.read_ports, 10, "port file")
        self.port = self.ports[0][1]
        wait_until(lambda: self.healthz() is not None, 10, "/healthz")
        return self

    def read_ports(self):
        if self.proc.poll() is not None:
            raise RuntimeError("raind exited with %d:\n%s" %
                               (self.proc.returncode, self.logtext()))
        try:
            with open(self.port_file) as f:
                lines = [l.strip() for l in f if l.strip()]
        except FileNotFoundError:
            return None
        out = []
        for l in lines:
            host, _, port = l.rpartition(":")
            out.append((host.strip("[]"), int(port)))
        return out or None

    def healthz(self, port=None):
        """The JSON of one /healthz answer, or None when not answering."""
        import json
        try:
            r = get(port or self.port, "/healthz", timeout=2,
                    tls=self.tls if port is None else None)
        except OSError:
            return None
        if r is None or r[0] != 200:
            return None
        return json.loads(r[2])

    def master_pid(self):
        return self.proc.pid

    def worker_pids(self):
        """The pids of the master's children, from /proc."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                out.append(int(d))
        return sorted(out)

    def logtext(self):
        return read_text(self.log_path)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def cleanup(self):
        self.stop()
        # Under --enable-sanitizers, a report in a worker is a failure even
        # when the master replaced the worker and the test went on.
        reports = [l for l in self.logtext().splitlines()
                   if any(m in l for m in SANITIZER_REPORTS)]
        check(not reports, "no sanitizer report in the raind log%s" % (
            ": " + reports[0] if reports else ""))
        if failures:
            sys.stdout.write("--- raind log ---\n" + self.logtext()[-20000:])
        shutil.rmtree(self.dir, ignore_errors=True)
