"""redistest: a private redis-server for integration tests.

It listens on a unix socket in its own temporary directory only (no TCP
port, no persistence), is ready when redis-cli gets PONG from it, and is
stopped by its pid.  It can be killed and started again on the same
socket to test what raind does while Redis is away.

    r = Redis().start()
    r.cli("HGET", "key", "field")     # redis-cli's output, stripped
    r.kill(); r.start()               # an outage
    r.cleanup()
"""

import os
import shutil
import subprocess
import tempfile

import raindtest

REDIS_SERVER = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def available():
    return bool(REDIS_SERVER) and bool(REDIS_CLI)


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="redistest.")
        self.socket = os.path.join(self.dir, "redis.sock")
        self.log_path = os.path.join(self.dir, "redis.log")
        self.proc = None

    @property
    def address(self):
        """The value of raind's redis directive."""
        return "unix:" + self.socket

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", self.socket,
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--logfile", self.log_path],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        raindtest.wait_until(self.ping, 10, "redis-server")
        return self

    def ping(self):
        if self.proc.poll() is not None:
            raise RuntimeError("redis-server exited with %d" % self.proc.returncode)
        try:
            return self.cli("PING") == "PONG"
        except subprocess.SubprocessError:
            return False

    def cli(self, *args):
        r = subprocess.run([REDIS_CLI, "-s", self.socket] + list(args),
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def kill(self):
        """SIGKILL, as a crash would; the socket file stays behind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
