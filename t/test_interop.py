"""Interop: the official socket.io-client and engine.io-client (npm) against raind.

Runs every test of t/interop/ (Node's built-in test runner) against raind
with four workers and the bundled echo and chat components, so that the
polling requests of a client land on different workers and are handed
over, and room emits and broadcasts cross workers.  The npm modules are
installed from t/interop/package-lock.json into the build tree.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import (COMPONENTS, Raind, check, done,  # noqa: E402
                       interop_require, interop_run, secret_file)
import redistest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HANDLER_TIMEOUT_MS = 500


def main():
    interop_require()
    secret = None
    extra = ""
    redis = None
    if redistest.available():
        # Sessions need Redis: the echo component's session events too.
        redis = redistest.Redis().start()
        secret = secret_file()
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
        p, npass, nfail = interop_run(files, env, timeout=600)
        sys.stdout.write(p.stdout[-30000:])
        sys.stderr.write(p.stderr[-5000:])
        check(p.returncode == 0 and nfail == 0,
              "interop suite passes (%s passed, %s failed)" %
              ("?" if npass is None else npass, "?" if nfail is None else nfail))
        check(npass is not None and npass >= 150,
              "the suite really ran (%s tests passed)" % (npass or 0))
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
