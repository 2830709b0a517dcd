"""Three raind nodes behind HAProxy in round-robin mode, with no stickiness.

One private redis-server, three raind masters with two workers each, their
own node_id and the same Redis and cookie secret, and the real HAProxy
($HAPROXY, found by configure) in front of them: `balance roundrobin`, no
cookie, no source hashing, every request balanced on its own.  The official
socket.io-client (t/interop/balancer.js) connects through the balancer,
polling-only, websocket-only and with the default upgrade:

 - echo, client and server acknowledgements, room emits, broadcasts and
   sessions behave as with one node; every room message and broadcast
   arrives exactly once;
 - a polling session's requests land on the three nodes in turn (from the
   balancer's log) and all succeed, the other nodes forwarding them to the
   session's owner;
 - a node is killed (SIGKILL to its master and workers) under nine
   clients: those it served reconnect through the balancer within 2 s,
   every client's saved session is intact, and rooms work across the two
   nodes that are left.

Skipped (77) without haproxy, redis-server or Node.js and npm.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import raindtest  # noqa: E402
import redistest  # noqa: E402
from raindtest import SKIP, Raind, check, done, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = raindtest.INTEROP_MODULES
HAPROXY = os.environ.get("HAPROXY", "")
NODES = ("node-1", "node-2", "node-3")
# A heartbeat well above the 2 s of the reconnection: the clients of the
# killed node must learn it from their connections, not from a missing ping.
PING_INTERVAL_MS = 10000
PING_TIMEOUT_MS = 5000
REDIS_TIMEOUT_MS = 1000
CLIENT_TIMEOUT_S = 50   # bound of the whole client script
RECONNECT_S = 2

# The balancer: round-robin over the nodes, each request on its own
# (http-server-close), no stickiness of any kind.  Long-polls are held up
# to ping_interval: `timeout server` is above it; websockets live under
# `timeout tunnel`.  A node that refuses connections is left at once
# (short `timeout connect`, redispatch) and marked down by its health check.
HAPROXY_CONF = """\
global
    log stdout format raw local0
    maxconn 2000

defaults
    mode http
    log global
    log-format "%%rt %%s %%ST %%HM %%HU"
    option http-server-close
    option redispatch 1
    retries 3
    timeout connect 200ms
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout tunnel 1h

frontend socketio
    bind 127.0.0.1:%(port)d
    default_backend raind

backend raind
    balance roundrobin
    option httpchk GET /healthz
    default-server check inter 200ms fall 1 rise 2
%(servers)s
"""


def node_conf(redis, secret, node_id):
    return raindtest.node_conf(
        redis, secret, node_id, "ping_interval %dms\nping_timeout %dms\n"
        "redis_timeout %dms\n" % (PING_INTERVAL_MS, PING_TIMEOUT_MS,
                                  REDIS_TIMEOUT_MS))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Haproxy:
    """The real haproxy in the foreground (-db), its log on stdout."""

    def __init__(self, nodes):
        self.dir = tempfile.mkdtemp(prefix="haproxytest.")
        self.conf_path = os.path.join(self.dir, "haproxy.cfg")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.names = {}
        servers = ""
        for i, n in enumerate(nodes):
            name = "n%d" % (i + 1)
            self.names[name] = n
            servers += "    server %s 127.0.0.1:%d\n" % (name, n.port)
        self.servers = servers
        self.proc = None

    def start(self):
        # The port is free when picked; another process could take it
        # before haproxy binds it, hence a few tries.
        for _ in range(3):
            self.port = free_port()
            with open(self.conf_path, "w") as f:
                f.write(HAPROXY_CONF % {"port": self.port, "servers": self.servers})
            self.log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.conf_path],
                                         stdout=self.log, stderr=subprocess.STDOUT)
            try:
                wait_until(self.ready, 10, "haproxy")
                return self
            except RuntimeError:
                continue
        raise RuntimeError("haproxy did not start:\n" + self.logtext())

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("haproxy exited with %d" % self.proc.returncode)
        try:
            r = raindtest.get(self.port, "/healthz", timeout=2)
        except OSError:
            return False
        return r is not None and r[0] == 200

    def logtext(self):
        return raindtest.read_text(self.log_path)

    def requests(self):
        """(counter, server, status, method, uri) of every logged request."""
        out = []
        for line in self.logtext().splitlines():
            m = re.match(r"^(\d+) (n\d) (-?\d+) (\S+) (\S+)$", line.strip())
            if m:
                out.append((int(m.group(1)), m.group(2), int(m.group(3)),
                            m.group(4), m.group(5)))
        return sorted(out)

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if raindtest.failures:
            sys.stdout.write("--- haproxy log ---\n" + self.logtext()[-10000:])
        shutil.rmtree(self.dir, ignore_errors=True)


def sid_tag(node):
    """The node tag of node: the first characters of a sid it hands out."""
    r = raindtest.get(node.port, "/socket.io/?EIO=4&transport=polling")
    return json.loads(r[2][1:])["sid"][:4]


class Client:
    """t/interop/balancer.js, read line by line with a deadline."""

    def __init__(self, url, secret):
        env = dict(os.environ, SIO_URL=url, SIO_COOKIE_SECRET_FILE=secret,
                   NODE_PATH=os.path.join(MODULES, "node_modules"))
        self.proc = subprocess.Popen(
            ["node", os.path.join(HERE, "interop", "balancer.js")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env)
        self.buf = b""
        self.deadline = time.monotonic() + CLIENT_TIMEOUT_S

    def line(self):
        """The next line, or None at the end or when the deadline passed."""
        while b"\n" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                return None
            b = os.read(self.proc.stdout.fileno(), 65536)
            if not b:
                if not self.buf:
                    return None
                self.buf += b"\n"
            self.buf += b
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode(errors="replace")

    def tell(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self):
        """Wait a little for its exit after DONE, else kill it."""
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def check_lone_polling(lb, sid, tags, nodes):
    """The lone polling session's requests went round the three nodes."""
    reqs = [r for r in lb.requests() if "sid=" + sid in r[4]]
    # Up to its last GET the session was alone on the balancer; the
    # POSTs of its disconnection race the next clients' handshakes.
    last_get = max((i for i, r in enumerate(reqs) if r[3] == "GET"), default=-1)
    servers = [r[1] for r in reqs[:last_get + 1]]
    print("# the polling session's requests: " + " ".join(
        "%s:%s:%d" % (r[3], r[1], r[2]) for r in reqs))
    check(len(reqs) >= 9, "the polling session made %d requests" % len(reqs))
    check(set(servers) == set(lb.names), "they landed on every node (%s)" %
          ", ".join(sorted(set(servers))))
    check(all(a != b for a, b in zip(servers, servers[1:])),
          "up to its last GET, each on another node than the one before")
    # Its last long-poll may race the close it POSTed: reaching the owner
    # after the session ended, it is told "Session ID unknown" (400), as
    # the reference server tells it.
    late = len(reqs) - 1 if reqs and reqs[-1][3] == "GET" and \
        reqs[-1][2] == 400 and any(r[3] == "POST" for r in reqs[:-1]) else None
    check(all(r[2] == 200 for i, r in enumerate(reqs) if i != late),
          "every one of them answered 200%s" %
          (" (but a last GET after the close: 400)" if late is not None else ""))
    owner = next(n for n, t in zip(nodes, tags) if t == sid[:4])
    forwarding = [n for n in nodes if n is not owner]
    check(all("forwarded to" in n.logtext() for n in forwarding),
          "the two other nodes forwarded requests to the owner")


def kill_node(node):
    """SIGKILL the master and its workers, as a crash of the machine would."""
    pids = node.worker_pids() + [node.master_pid()]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    node.proc.wait()
    return pids


def run_clients(lb, secret, nodes, tags):
    client = Client("http://127.0.0.1:%d" % lb.port, secret)
    sid = None
    killed = None
    try:
        while True:
            line = client.line()
            if line is None:
                check(False, "the client script ran to its end in time")
                break
            if line.startswith("ok - "):
                check(True, line[5:])
            elif line.startswith("FAIL - "):
                check(False, line[7:])
            elif line.startswith("POLLSID "):
                sid = line.split(" ", 1)[1]
            elif line.startswith("CLIENTS "):
                clients = json.loads(line[8:])
                per = {t: sum(1 for c in clients if c["sid"].startswith(t))
                       for t in tags}
                print("# survivors per node: %r" % per)
                victim_tag = max(tags, key=lambda t: per[t])
                killed = nodes[tags.index(victim_tag)]
                kill_node(killed)
                client.tell("killed " + victim_tag)
            elif line == "DONE":
                break
            else:
                print(line if line.startswith("#") else "# " + line)
    finally:
        client.stop()
    check(client.proc.returncode == 0, "the client script passed")
    return sid, killed


def main():
    if not HAPROXY or not os.access(HAPROXY, os.X_OK):
        print("# HAPROXY is not set (haproxy not found by configure)")
        sys.exit(SKIP)
    if not redistest.available():
        print("# redis-server or redis-cli not found")
        sys.exit(SKIP)
    raindtest.interop_require()

    redis = redistest.Redis().start()
    secret = raindtest.secret_file()
    nodes = [Raind(conf=node_conf(redis, secret, n), workers=2) for n in NODES]
    lb = None
    try:
        for n in nodes:
            n.start()
        tags = [sid_tag(n) for n in nodes]
        check(len(set(tags)) == 3, "the nodes have different tags (%s)" %
              " ".join(tags))
        lb = Haproxy(nodes).start()
        sid, killed = run_clients(lb, secret, nodes, tags)
        if sid is not None:
            check_lone_polling(lb, sid, tags, nodes)
        else:
            check(False, "the lone polling session told its sid")
        check(killed is not None, "a node was killed under the clients")
        for n in nodes:
            if n is killed:
                continue
            log = n.logtext()
            check("killed by signal" not in log and "exited with status" not in log,
                  "no worker of %s died" % n.conf_path)
            check("malformed" not in log, "no malformed message logged")
    finally:
        if lb is not None:
            lb.cleanup()
        for n in nodes:
            n.cleanup()
        redis.cleanup()
        os.unlink(secret)
    done()


main()
