"""Integration: raind follows a Redis failover run by Redis Sentinel.

Real processes, all on private 127.0.0.1 ports in one temporary
directory: a redis-server master, a redis-server replica (--replicaof),
three redis-sentinel processes watching the master (quorum 2, down after
1 s) and raind with two workers that knows only the sentinels
(redis_sentinel, redis_sentinel_master).  Skipped (77) without
redis-server, redis-sentinel (env REDIS_SENTINEL) or redis-cli.

Under load -- websocket clients writing session keys with
acknowledgements, an echo client and room emits -- the master is killed
with SIGKILL; the sentinels promote the replica.  Then the old master
comes back as a replica and SENTINEL FAILOVER switches back to it while
the other server lives on (raind follows +switch-master).  Checked, each
time:

 - service resumes within 5 s of the promotion: every writer has a
   session write acknowledged as saved, on both workers, with no restart;
 - every acknowledgement in between says either saved or "session store
   unavailable..."; none is lost (each call gets its answer);
 - the echo and room traffic, which needs no session, never stops;
 - the guarantee documented in raind.conf(5) and README.md: a session
   write acknowledged by the old master may be lost if the old master had
   not replicated it when the replica was promoted, or if it took it
   after the promotion, before raind switched; nothing else is.  The
   test makes a replication point with WAIT on the master during the
   load: every write acknowledged before that point is read back from the
   new master, and so is every write acknowledged after both workers
   logged the new master.  Writes acknowledged in between may or may not
   be there (counted, not asserted);
 - the workers' pub/sub subscriptions are made again on the new master.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawsio  # noqa: E402
import redistest  # noqa: E402
from raindtest import COMPONENTS, SKIP, Raind, check, done, wait_until  # noqa: E402

REDIS_SENTINEL = os.environ.get("REDIS_SENTINEL") or shutil.which("redis-sentinel")
NSP = "/echo/1.0/echo"
MASTER_NAME = "raindtest"
PREFIX = "rain:"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000
RESUME_S = 5.0          # the promise: service within this after promotion
WRITERS = 4
WRITES_MAX = 3500       # per writer: below a session hash's 4096 keys
CALL_S = 10.0           # an acknowledgement must come within this


def free_port():
    """A port free now on 127.0.0.1 (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(port, *args, stdin=None):
    r = subprocess.run([redistest.REDIS_CLI, "-h", "127.0.0.1", "-p", str(port)] +
                       list(args), input=stdin, capture_output=True, text=True,
                       timeout=10)
    return r.stdout.strip()


class Proc:
    """One redis-server or redis-sentinel, stopped by its pid."""

    def __init__(self, argv, port):
        self.port = port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError("redis process on port %d exited with %d" %
                               (self.port, self.proc.returncode))
        try:
            return cli(self.port, "PING") == "PONG"
        except subprocess.SubprocessError:
            return False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    def __init__(self, d):
        self.dir = d
        self.procs = []

    def server(self, name, *extra, port=None):
        port = port or free_port()
        p = Proc([redistest.REDIS_SERVER, "--port", str(port), "--bind",
                  "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--repl-diskless-sync-delay", "0", "--dir",
                  self.dir, "--dbfilename", name + ".rdb", "--logfile",
                  os.path.join(self.dir, name + ".log")] + list(extra), port)
        self.procs.append(p)
        wait_until(p.alive, 10, name)
        return p

    def sentinel(self, i, master_port):
        port = free_port()
        conf = os.path.join(self.dir, "sentinel%d.conf" % i)
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds %s %d\n"
                    "sentinel failover-timeout %s %d\n" % (
                        port, self.dir,
                        os.path.join(self.dir, "sentinel%d.log" % i),
                        MASTER_NAME, master_port, MASTER_NAME, DOWN_AFTER_MS,
                        MASTER_NAME, FAILOVER_TIMEOUT_MS))
        p = Proc([REDIS_SENTINEL, conf], port)
        self.procs.append(p)
        wait_until(p.alive, 10, "sentinel %d" % i)
        return p

    def stop(self):
        for p in self.procs:
            p.stop()


def role(port):
    try:
        out = cli(port, "ROLE")
    except subprocess.SubprocessError:
        return None
    return out.split("\n", 1)[0] if out else None


def sentinels_ready(sentinels):
    """Each sentinel knows the replica and the two other sentinels."""
    for s in sentinels:
        if not cli(s.port, "SENTINEL", "CKQUORUM", MASTER_NAME).startswith("OK 3 "):
            return False
        if "slave" not in cli(s.port, "SENTINEL", "REPLICAS", MASTER_NAME):
            return False
    return True


def raind_channels(port):
    out = cli(port, "PUBSUB", "CHANNELS", PREFIX + "*")
    return set(l for l in out.split("\n") if l)


class Client:
    """A websocket client in the echo namespace, with its session."""

    def __init__(self, port):
        self.ws = rawsio.WSClient(port, timeout=CALL_S)
        if self.ws.status != 101:
            raise RuntimeError("upgrade refused: %d" % self.ws.status)
        head = self.ws.head.decode("latin-1")
        cookie = [l for l in head.split("\r\n")
                  if l.lower().startswith("set-cookie:")]
        value = cookie[0].split(":", 1)[1].strip().split(";")[0].split("=", 1)[1]
        self.sid = urllib.parse.unquote(value).split(".")[0]
        self.eio_sid = self.ws.eio_open()["sid"]
        self.slot = B64URL.index(self.eio_sid[4])
        t, data = self.ws.sio_connect(NSP)
        if t != "40":
            raise RuntimeError("connect refused: %r" % (data,))
        self.next_ack = 1

    def call(self, event, *args):
        """(the ack's arguments, time it arrived)."""
        aid = self.next_ack
        self.next_ack += 1
        ack = self.ws.call(NSP, aid, event, *args, deadline=CALL_S)
        return ack, time.monotonic()

    def close(self):
        self.ws.close()


def unavailable(ack):
    return (len(ack) == 1 and isinstance(ack[0], dict) and
            str(ack[0].get("message", "")).startswith("session store unavailable"))


class Writer(threading.Thread):
    """Puts key k<n> = n into its component session, one after the other."""

    def __init__(self, client, stop):
        super().__init__(daemon=True)
        self.c = client
        self.stop = stop
        self.log = []           # (n, ok, t_ack, ack)
        self.error = None

    def run(self):
        try:
            for n in range(1, WRITES_MAX + 1):
                ack, t = self.c.call("session-put", "k%d" % n, n)
                self.log.append((n, ack == [True], t, ack))
                # Stop only after a save that went through.
                if self.stop.is_set() and ack == [True]:
                    break
                if ack != [True]:
                    time.sleep(0.02)    # pacing while the store is away
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)


class Traffic(threading.Thread):
    """Echo acks and room emits, which need no session store."""

    def __init__(self, client, room, stop):
        super().__init__(daemon=True)
        self.c = client
        self.room = room
        self.stop = stop
        self.times = []
        self.bad = []
        self.error = None

    def run(self):
        i = 0
        try:
            while not self.stop.is_set() and i < 100000:
                i += 1
                ack, t = self.c.call("ack", {"i": i})
                if ack != [{"i": i}]:
                    self.bad.append(ack)
                ack, t = self.c.call("to-room", self.room, {"i": i})
                if ack != [True]:
                    self.bad.append(ack)
                self.times.append(t)
                time.sleep(0.01)
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)


def room_messages(member, room, deadline):
    """The "i" of the room messages member got until nothing came for a while."""
    got = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            p = member.ws.recv_eio(end)
        except (TimeoutError, socket.timeout):
            break
        rest = rawsio.sio_body(p, "42", NSP)
        if rest:
            data = json.loads(rest)
            if data[0] == "room-message" and data[1] == room:
                got.append(data[2]["i"])
                member.ws.sock.settimeout(0.5)
    member.ws.sock.settimeout(CALL_S)
    return got


def stored_keys(port, sid):
    out = cli(port, "HKEYS", "%ss:%s:echo" % (PREFIX, sid))
    return set(l for l in out.split("\n") if l)


def clients_on_both_workers(port, n):
    """n clients, at least one on each of the two workers."""
    out = []
    for _ in range(100):
        c = Client(port)
        if len(out) < n - 1 or len(set(x.slot for x in out + [c])) == 2:
            out.append(c)
        else:
            c.close()
        if len(out) >= n and len(set(x.slot for x in out)) == 2:
            return out
    raise RuntimeError("the clients landed on one worker only")


def failover(r, master, replica, how, trigger):
    """Load, trigger() the failover from master to replica, check."""
    room = "failover room " + how
    members = [Client(r.port), Client(r.port)]
    for m in members:
        check(m.call("join", room)[0] == [room], "member joined the room")
    writers_c = clients_on_both_workers(r.port, WRITERS)
    check(len(set(c.slot for c in writers_c)) == 2,
          "writers on both workers")
    stop = threading.Event()
    writers = [Writer(c, stop) for c in writers_c]
    traffic = Traffic(Client(r.port), room, stop)
    for t in writers + [traffic]:
        t.start()
    try:
        wait_until(lambda: all(len(w.log) >= 20 for w in writers) or
                   any(w.error for w in writers), 15, "writes before the failover")
        channels_before = raind_channels(master.port)
        # The replication point: once WAIT answers, everything the master
        # applied before the SET is on the replica.
        t_point = time.monotonic()
        out = cli(master.port, stdin="SET point 1\nWAIT 1 5000\n")
        check(out.split("\n")[-1] == "1",
              "WAIT: the replica has what was acknowledged so far (%r)" % out)
        wait_until(lambda: all(any(e[2] > t_point for e in w.log) for w in writers),
                   10, "writes after the replication point")

        named = "names 127.0.0.1:%d as the master" % replica.port
        named_before = r.logtext().count(named)
        t_kill = time.monotonic()
        trigger()
        wait_until(lambda: role(replica.port) == "master", 30, "the promotion")
        t_promoted = time.monotonic()
        print("# %s: promoted %.2f s after the trigger" % (
            how, t_promoted - t_kill))
        # Switched: both workers were told of the new master.  From then
        # on, no save can reach the old one.
        wait_until(lambda: r.logtext().count(named) >= named_before + 2, 30,
                   "the workers to switch")
        t_switched = time.monotonic()
        print("# %s: both workers switched %.2f s after the promotion" % (
            how, t_switched - t_promoted))

        def resumed():
            return all(any(e[1] and e[2] > t_switched for e in w.log) or w.error
                       for w in writers)
        try:
            wait_until(resumed, RESUME_S + 10, "the writers to resume")
        except TimeoutError:
            pass
        # Saves acknowledged after the switch are the new master's.
        firsts = [min((e[2] for e in w.log if e[1] and e[2] > t_switched),
                      default=None) for w in writers]
        late = [f - t_promoted if f is not None else None for f in firsts]
        check(all(f is not None and f - t_promoted <= RESUME_S for f in firsts),
              "%s: every writer saved again within %.0f s of the promotion "
              "(%s s)" % (how, RESUME_S, ", ".join("%.2f" % x if x is not None else
                                            "never" for x in late)))
        # Keep the load on for a few more saves each, then end it.
        t_back = time.monotonic()
        wait_until(lambda: all(sum(1 for e in w.log if e[1] and e[2] > t_back)
                               >= 20 or not w.is_alive() for w in writers),
                   10, "saves after the switch")
        stop.set()
        for t in writers + [traffic]:
            t.join(CALL_S * 2)
        check(not any(t.is_alive() for t in writers + [traffic]),
              "the clients stopped")
        errs = [w.error for w in writers if w.error] + (
            [traffic.error] if traffic.error else [])
        check(not errs, "every call got its acknowledgement (%r)" % errs[:2])

        # Acknowledgements: saved, or the documented error.
        window = [e for w in writers for e in w.log if e[2] > t_kill]
        odd = [e[3] for w in writers for e in w.log
               if not e[1] and not unavailable(e[3])]
        failed = [e for e in window if not e[1]]
        check(not odd, "every failed save says \"session store unavailable\" "
              "(%r)" % odd[:2])
        print("# %d saves failed during the failover, e.g. %r" % (
            len(failed), failed[0][3] if failed else None))
        check(not any(not e[1] for w in writers for e in w.log
                      if e[2] < t_kill), "no save failed before the failover")

        # What is guaranteed to be on the new master.
        lost_guaranteed = []
        lost_window = 0
        for w in writers:
            keys = stored_keys(replica.port, w.c.sid)
            for n, ok, t, _ in w.log:
                if not ok:
                    continue
                if (t < t_point or t > t_switched) and "k%d" % n not in keys:
                    lost_guaranteed.append((w.c.sid[:8], n))
                elif "k%d" % n not in keys:
                    lost_window += 1
        total = sum(1 for w in writers for e in w.log if e[1])
        check(not lost_guaranteed,
              "%s: every save acknowledged before the replication point or "
              "after the switch is on the new master (%d saves; missing %r)" %
              (how, total, lost_guaranteed[:5]))
        print("# saves the old master acknowledged after the point, before "
              "the switch, lost: %d" % lost_window)

        # Sessions are read back through raind too.
        c = writers_c[0]
        last = max(e[0] for e in writers[0].log if e[1])
        ack, _ = c.call("session-dump")
        check(ack and isinstance(ack[0], dict) and ack[0].get("k%d" % last) == last,
              "the session is read through raind from the new master")

        # Traffic without the session store never stopped.
        gaps = [b - a for a, b in zip(traffic.times, traffic.times[1:])]
        check(not traffic.bad and traffic.times and max(gaps or [0]) < 2.0,
              "echo and room emits went on during the failover (longest gap "
              "%.2f s, %d bad)" % (max(gaps or [0]), len(traffic.bad)))
        got = room_messages(members[0], room, 3.0)
        want = list(range(1, len(traffic.times) + 1))
        check(got == want, "a room member got every room emit once, in order "
              "(%d of %d)" % (len(got), len(want)))

        # Subscriptions were made again on the new master.
        def resubscribed():
            return channels_before <= raind_channels(replica.port)
        try:
            wait_until(resubscribed, 5, "the subscriptions")
        except TimeoutError:
            pass
        check(len(channels_before) >= 2 and resubscribed(),
              "the workers' channels are subscribed on the new master "
              "(%d before, %d after)" % (len(channels_before),
                                          len(raind_channels(replica.port))))
    finally:
        stop.set()
        for c in members + writers_c + [traffic.c]:
            c.close()


def main():
    if not (redistest.available() and REDIS_SENTINEL and
            os.access(REDIS_SENTINEL, os.X_OK)):
        print("# redis-server, redis-sentinel or redis-cli not found")
        sys.exit(SKIP)
    d = tempfile.mkdtemp(prefix="sentineltest.")
    cluster = Cluster(d)
    r = None
    try:
        master = cluster.server("master")
        replica = cluster.server("replica", "--replicaof", "127.0.0.1",
                                 str(master.port))
        wait_until(lambda: "master_link_status:up" in
                   cli(replica.port, "INFO", "replication"), 10, "replication")
        sentinels = [cluster.sentinel(i, master.port) for i in range(3)]
        wait_until(lambda: sentinels_ready(sentinels), 20, "the sentinels")
        check(True, "master, replica and three sentinels ready")

        secret = os.path.join(d, "secret")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, os.urandom(24).hex().encode() + b"\n")
        os.close(fd)
        conf = ("components %s\ncookie_secret_file %s\nsession_create yes\n"
                "redis_sentinel %s\nredis_sentinel_master %s\n"
                "redis_timeout 500ms\nhandler_timeout 3s\n" % (
                    COMPONENTS, secret,
                    " ".join("127.0.0.1:%d" % s.port for s in sentinels),
                    MASTER_NAME))
        r = Raind(conf=conf, workers=2).start()
        pids = r.worker_pids()

        def works():
            c = Client(r.port)
            try:
                return c.call("session-put", "probe", 1)[0] == [True]
            finally:
                c.close()
        wait_until(works, 10, "sessions through the sentinels' master")
        check(True, "raind found the master through the sentinels")
        check("names 127.0.0.1:%d as the master" % master.port in r.logtext(),
              "the sentinels' answer is logged")

        failover(r, master, replica, "kill -9", master.kill)
        log = r.logtext()
        check("names 127.0.0.1:%d as the master" % replica.port in log,
              "the new master is logged")

        # The old master comes back as a replica; the sentinels are told to
        # fail over to it (a graceful switch: the old master is demoted).
        old = cluster.server("old-master", "--replicaof", "127.0.0.1",
                             str(replica.port), port=master.port)
        wait_until(lambda: "master_link_status:up" in
                   cli(old.port, "INFO", "replication"), 20, "replication")

        def replica_known():
            """Every sentinel sees the returned server as a sound replica."""
            for s in sentinels:
                out = cli(s.port, "SENTINEL", "REPLICAS", MASTER_NAME).split("\n")
                pairs = dict(zip(out[0::2], out[1::2]))
                if pairs.get("flags") != "slave" or \
                        pairs.get("master-link-status") != "ok":
                    return False
            return True
        wait_until(replica_known, 30, "the sentinels to see the replica")

        def sentinel_failover():
            wait_until(lambda: cli(sentinels[0].port, "SENTINEL", "FAILOVER",
                                   MASTER_NAME) == "OK", 30,
                       "SENTINEL FAILOVER to be accepted")
        # On a loaded machine the sentinels may have switched back on their
        # own by now (a master that answered nothing within down-after):
        # fail over from whichever of the two is the master.
        wait_until(lambda: sorted([role(replica.port), role(old.port)]) ==
                   ["master", "slave"], 30, "one master and one replica")
        cur, nxt = (replica, old) if role(replica.port) == "master" else \
            (old, replica)
        print("# before SENTINEL FAILOVER: the master is on port %d" % cur.port)
        failover(r, cur, nxt, "SENTINEL FAILOVER", sentinel_failover)
        check(r.worker_pids() == pids, "no worker was restarted")
    finally:
        if r is not None:
            if os.environ.get("RAIND_KEEP_TMP"):
                shutil.copy(r.log_path, d)
            r.cleanup()
        cluster.stop()
        if os.environ.get("RAIND_KEEP_TMP"):
            print("# kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
