"""Interop: the official socket.io-client and engine.io-client (npm) against raind.

Runs every test of t/interop/ (Node's built-in test runner) against raind
with four workers and the bundled echo and chat components, so that the
polling requests of a client land on different workers and are handed
over, and room emits and broadcasts cross workers.  The npm modules are
installed from t/interop/package-lock.json into the build tree.
"""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import (BUILDDIR, COMPONENTS, SKIP, Raind, check,  # noqa: E402
                       done)
import redistest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = os.path.join(BUILDDIR, "t", "interop-modules")
HANDLER_TIMEOUT_MS = 500


def setup_modules():
    p = subprocess.run([os.path.join(HERE, "interop", "setup.sh"), MODULES],
                       capture_output=True, text=True)
    if p.returncode == SKIP:
        print("# " + p.stderr.strip())
        sys.exit(SKIP)
    if p.returncode != 0:
        print(p.stdout + p.stderr)
        sys.exit(1)


def main():
    setup_modules()
    secret = None
    extra = ""
    redis = None
    if redistest.available():
        # Sessions need Redis: the echo component's session events too.
        redis = redistest.Redis().start()
        fd, secret = tempfile.mkstemp(prefix="raind-secret.")
        os.write(fd, os.urandom(24).hex().encode() + b"\n")
        os.close(fd)
        os.chmod(secret, 0o600)
        # Each client signs a cookie for a fresh session id that no web
        # application made: session_create yes lets raind start them.
        extra = ("redis %s\ncookie_secret_file %s\nsession_create yes\n" %
                 (redis.address, secret))
    conf = ("components %s\nping_interval 500ms\nping_timeout 400ms\n"
            "handler_timeout %dms\n%s" % (COMPONENTS, HANDLER_TIMEOUT_MS, extra))
    r = Raind(conf=conf, workers=4)
    try:
        r.start()
        env = dict(os.environ)
        env["SIO_URL"] = "http://127.0.0.1:%d" % r.port
        env["SIO_HANDLER_TIMEOUT"] = str(HANDLER_TIMEOUT_MS)
        env["SIO_TEST_REPORTER"] = "tap"
        files = sorted(f for f in os.listdir(os.path.join(HERE, "interop"))
                       if f.endswith(".test.js"))
        if secret is None:
            # Without redis-server the session tests cannot run.
            env.pop("SIO_COOKIE_SECRET_FILE", None)
            files = [f for f in files if f != "session.test.js"]
        else:
            env["SIO_COOKIE_SECRET_FILE"] = secret
        files = [os.path.join(HERE, "interop", f) for f in files]
        p = subprocess.run([os.path.join(HERE, "interop", "run-tests.sh"),
                            MODULES] + files, env=env, capture_output=True,
                           text=True, timeout=600)
        sys.stdout.write(p.stdout[-30000:])
        sys.stderr.write(p.stderr[-5000:])
        m = re.search(r"^# fail (\d+)", p.stdout, re.M)
        n = re.search(r"^# pass (\d+)", p.stdout, re.M)
        check(p.returncode == 0 and m is not None and m.group(1) == "0",
              "interop suite passes (%s passed, %s failed)" %
              (n.group(1) if n else "?", m.group(1) if m else "?"))
        check(n is not None and int(n.group(1)) >= 150,
              "the suite really ran (%s tests passed)" % (n.group(1) if n else 0))
        log = r.logtext()
        handed = log.count("handed over to slot")
        check(handed > 0, "polling requests crossed workers (%d handoffs)" % handed)
        check("killed by signal" not in log and "exited with status" not in log,
              "no worker died")
    finally:
        r.cleanup()
        if redis is not None:
            redis.cleanup()
        if secret:
            os.unlink(secret)
    done()


main()
