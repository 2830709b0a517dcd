"""Publishing from backends: the Socket.IO Redis emitter and POST /publish.

Two raind nodes (A with two workers and admin_listen, B with one) share a
private redis-server.  Checked:

 - configuration: admin_listen needs admin_token_file and redis; a token
   file others can read, a missing one or a bad emitter_key are refused
   by raind -n with file:line;
 - the interop suite's emitter tests (t/interop/emitter.test.js): the npm
   package @socket.io/redis-emitter, unchanged, reaching clients of every
   transport on both nodes exactly once with of(nsp).emit, to(room),
   except(room), to([rooms]), binary and Date arguments; POST /publish
   with its 202, 400, 401, 405 and 413 answers; no /publish on the public
   port;
 - from Python: a POST /publish on A reaches a raw websocket client on B;
   the admin port serves neither Engine.IO nor files (a JSON 404);
 - malformed messages on the emitter's channels are dropped with a log
   line and counted in /metrics, and the nodes go on serving.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawsio  # noqa: E402
import raindtest  # noqa: E402
import redistest  # noqa: E402
from raindtest import (COMPONENTS, RAIND, SKIP, Raind, check, done,  # noqa: E402
                       http_request, parse_response, wait_until)

NSP = "/echo/1.0/echo"


def conf_check(text):
    """raind -n on a file holding text: (exit status, stderr)."""
    fd, path = tempfile.mkstemp(prefix="raind-conf.")
    os.write(fd, text.encode())
    os.close(fd)
    try:
        p = subprocess.run([RAIND, "-n", "-f", path], capture_output=True,
                           text=True, timeout=30)
        return p.returncode, p.stderr.replace(path, "FILE")
    finally:
        os.unlink(path)


def test_conf(redis, secret):
    token = raindtest.secret_file()
    loose = raindtest.secret_file(mode=0o644)
    base = "components %s\nredis %s\ncookie_secret_file %s\n" % (
        COMPONENTS, redis.address, secret)
    try:
        rc, err = conf_check(base + "admin_listen 127.0.0.1:0\n"
                             "admin_token_file %s\n" % token)
        check(rc == 0, "admin_listen with a token file: accepted (%r)" % err)
        rc, err = conf_check(base + "admin_listen 127.0.0.1:0\n")
        check(rc != 0 and re.search(r"FILE:4: admin_token_file is not set",
                                    err), "admin_listen without "
              "admin_token_file: refused at its line (%r)" % err)
        rc, err = conf_check(base + "admin_listen 127.0.0.1:0\n"
                             "admin_token_file %s\n" % loose)
        check(rc != 0 and "FILE:5: admin_token_file" in err and
              "chmod 600" in err,
              "a token file others can read: refused (%r)" % err)
        rc, err = conf_check("components %s\nadmin_listen 127.0.0.1:0\n"
                             "admin_token_file %s\n" % (COMPONENTS, token))
        check(rc != 0 and "FILE:2:" in err and "redis" in err,
              "admin_listen without redis: refused (%r)" % err)
        rc, err = conf_check(base + "admin_listen 127.0.0.1:0\n"
                             "admin_listen 127.0.0.1:0\n"
                             "admin_token_file %s\n" % token)
        check(rc != 0 and "FILE:5: duplicate directive \"admin_listen\"" in err,
              "admin_listen twice: refused (%r)" % err)
        rc, err = conf_check(base + "emitter_key a#b\n")
        check(rc != 0 and "FILE:4:" in err and "emitter_key" in err,
              "a bad emitter_key: refused (%r)" % err)
    finally:
        os.unlink(token)
        os.unlink(loose)


def post(port, path, body, token=None):
    head = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
        "Content-Length: %d\r\nConnection: close\r\n" % (path, len(body))
    if token is not None:
        head += "Authorization: Bearer %s\r\n" % token
    return parse_response(http_request(port, head.encode() + b"\r\n" + body))


def wait_event(ws, event, timeout=10):
    """The args of the next event named event on ws (others skipped)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        p = ws.recv_eio()
        body = rawsio.sio_body(p, "42", NSP)
        if body is None:
            continue
        msg = json.loads(body)
        if msg[0] == event:
            return msg[1:]
    return None


def metric(node, name):
    r = raindtest.get(node.port, "/metrics")
    m = re.search(r"^%s (\d+)" % re.escape(name), r[2].decode(), re.M)
    return int(m.group(1)) if m else None


def test_python_side(a, b, token):
    admin = a.ports[1][1]
    ws = rawsio.sio_client(b.port, NSP)
    st, _, body, _ = post(admin, "/publish", json.dumps({
        "namespace": NSP, "event": "news", "args": [{"from": "python"}]
    }).encode(), token)
    check(st == 202 and json.loads(body)["receivers"] >= 3,
          "POST /publish on A: 202, received by the three workers (%d %r)" %
          (st, body))
    got = wait_event(ws, "news")
    check(got == [{"from": "python"}],
          "a websocket client on node B got it (%r)" % got)
    r = raindtest.get(admin, "/socket.io/?EIO=4&transport=polling")
    check(r[0] == 404 and json.loads(r[2])["error"] == "Not Found",
          "the admin port serves no Engine.IO: JSON 404 (%r)" % (r,))
    r = raindtest.get(admin, "/healthz")
    check(r[0] == 200, "the admin port answers /healthz")
    check(metric(a, "raind_published_total") == 1,
          "raind_published_total counts the publish")
    ws.close()


def redis_publish(redis, channel, payload):
    """PUBLISH with the exact bytes of payload (redis-cli -x reads stdin)."""
    subprocess.run([redistest.REDIS_CLI, "-s", redis.socket, "-x", "PUBLISH",
                    channel], input=payload, capture_output=True, timeout=10,
                   check=True)


def test_malformed(a, b, redis):
    bad = [
        ("socket.io#%s#" % NSP, b"\xc1"),                  # never used
        ("socket.io#%s#" % NSP, b"\x93\xa7emitter\x80\x80"),  # no type, no data
        ("socket.io#%s#room#" % NSP, b"\x93\xa7emit"),      # truncated
    ]
    for channel, payload in bad:
        redis_publish(redis, channel, payload)
    wait_until(lambda: all(n.logtext().count("emitter message on socket.io#")
                           >= 3 * nw for n, nw in ((a, 2), (b, 1))),
               10, "the drops to be logged")
    for n, nw in ((a, 2), (b, 1)):
        log = n.logtext()
        check(log.count("dropped: not MessagePack") == nw and
              log.count("dropped: the packet is not an event") == nw and
              log.count("dropped: truncated MessagePack") == nw,
              "each malformed message is dropped with its reason (%r)" %
              re.findall(r"dropped: .*", log))
        check(metric(n, "raind_emitter_dropped_total") == 3 * nw,
              "raind_emitter_dropped_total counts every worker's drops")
    # Still serving: an emitter-format message from redis-cli gets through.
    ws = rawsio.sio_client(a.port, NSP)
    msg = (b"\x93\xa7emitter\x83\xa4type\x02\xa4data\x92\xa4news\xa2ok"
           b"\xa3nsp" + bytes([0xa0 + len(NSP)]) + NSP.encode() + b"\x80")
    redis_publish(redis, "socket.io#%s#" % NSP, msg)
    got = wait_event(ws, "news")
    check(got == ["ok"], "after the drops, messages still arrive (%r)" % got)
    ws.close()


def test_interop(a, b, redis, secret, token):
    with open(token) as f:
        tok = f.read().strip()
    raindtest.interop_check(
        ["emitter.test.js"], {"SIO_URL": "http://127.0.0.1:%d" % a.port,
                              "SIO_URL2": "http://127.0.0.1:%d" % b.port,
                              "SIO_REDIS_URL": "unix://" + redis.socket,
                              "SIO_ADMIN_URL": "http://127.0.0.1:%d" %
                              a.ports[1][1],
                              "SIO_ADMIN_TOKEN": tok,
                              "SIO_COOKIE_SECRET_FILE": secret},
        7, "interop emitter and publish tests", tail=60)


def main():
    if not redistest.available():
        print("# redis-server or redis-cli not found")
        sys.exit(SKIP)
    redis = redistest.Redis().start()
    secret = raindtest.secret_file()
    token = raindtest.secret_file()
    a = Raind(conf=raindtest.node_conf(redis, secret, "node-a",
                             "admin_listen 127.0.0.1:0\nadmin_token_file %s\n"
                             % token), workers=2)
    b = Raind(conf=raindtest.node_conf(redis, secret, "node-b"), workers=1)
    try:
        test_conf(redis, secret)
        a.start()
        b.start()
        with open(token) as f:
            tok = f.read().strip()
        test_python_side(a, b, tok)
        test_interop(a, b, redis, secret, token)
        test_malformed(a, b, redis)
        for n in (a, b):
            log = n.logtext()
            check("killed by signal" not in log and "exited with status" not in log,
                  "no worker died")
            check(not raindtest.sanitized() or "runtime error" not in log,
                  "no sanitizer report")
    except Exception:       # noqa: BLE001 - a failure, with the logs
        import traceback
        traceback.print_exc()
        check(False, "unexpected exception")
        for n in (a, b):
            sys.stdout.write("--- raind log ---\n" + n.logtext()[-6000:])
    finally:
        a.cleanup()
        b.cleanup()
        redis.cleanup()
        os.unlink(secret)
        os.unlink(token)
    done()


main()
