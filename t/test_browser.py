"""Browser: headless Chromium runs the component pages from raind.

raind (4 workers, so that polling requests cross workers) serves the echo
component's client/ folder under /echo/1.0/, the official client bundle
at /socket.io/socket.io.min.js (client_script) and rain.js at /rain.js
(rain_script).  Chromium, driven through chromedriver's WebDriver HTTP API
with urllib only, checks:

- the echo page (which uses rain.js's getSocket) over websocket and over
  polling: hello, then an "echo" with unicode text;
- cross-origin (page from http://localhost:P, raind at http://127.0.0.1:P):
  polling echoes handed between workers, pings, a close by the server that
  the page sees as "transport close" (not "transport error"), the upgrade
  and its NOOP answer, and an error answer the page can read: every
  answer carries the CORS headers;
- rain.js on the chat page against a raind whose idle rule disconnects:
  Rain.context() from the path, relative and absolute channels, one object
  per namespace over one Manager, emits queued before connect, acks as
  (err, value), and the next emit reconnecting after an idle disconnect.

Static serving is checked over plain HTTP as well: content types,
conditional GET, the redirect to the slash form, and traversal attempts
answered 404.

Skipped (77) when /usr/bin/chromium or /usr/bin/chromedriver (or
$CHROMIUM, $CHROMEDRIVER) is missing, or when the client bundle was not
built (configure --disable-client-bundle).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import raindtest  # noqa: E402
from raindtest import SKIP, Raind, check, done, get, wait_until  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER") or "/usr/bin/chromedriver"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--no-first-run", "--disable-quic",
    "--disable-component-update", "--disable-sync",
    # Containers often have a tiny /dev/shm; the browser must not die of it.
    "--disable-dev-shm-usage",
    # Loopback only: an http_proxy in the environment must not interfere.
    "--no-proxy-server",
    # No crash handler: it would leave the process tree that stop() cleans.
    "--disable-crash-reporter", "--disable-breakpad",
]
TRANSPORTS = ("websocket", "polling")
HELLO = {"message": "Hello Sockets!"}
ECHO_PAGE = "/echo/1.0/"
CLIENT_SCRIPT_URL = "/socket.io/socket.io.min.js"
TEXT_HTML = "text/html; charset=utf-8"
TEXT_JS = "application/javascript; charset=utf-8"
DRIVER_START_TIMEOUT = 20.0     # chromedriver answering /status
SESSION_TIMEOUT = 60.0          # a cold Chromium start in a slow container
PAGE_TIMEOUT = 20.0             # navigation, then the round trip
HTTP_TIMEOUT = 10.0
PORT_TRIES = 3                  # a free port may be taken before chromedriver binds

# Never through a proxy from the environment: everything here is loopback.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def missing():
    """Why this test cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return "%s not found" % path
    for var in ("RAIND_CLIENT_SCRIPT", "RAIND_RAIN_SCRIPT"):
        path = os.environ.get(var)
        if not path or not os.path.isfile(path):
            return "%s (%s) is not there: the client bundle is built by " \
                "make with npm (configure --disable-client-bundle skips it)" % (
                    var, path)
    return None


def http(method, url, body=None, headers=None, timeout=HTTP_TIMEOUT):
    """(status, headers, body) of one request; HTTP errors are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json; charset=utf-8")
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ours(marker):
    """Pids of processes whose command line holds marker (our temp folder)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if marker.encode() in f.read():
                    out.append(int(d))
        except OSError:
            continue
    return out


def descendants(pid):
    """Pids of every process below pid, from /proc (children first)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out[::-1]


class WebDriver:
    """chromedriver on a free port and one headless Chromium session."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="raindtest-browser.")
        self.profile = os.path.join(self.dir, "profile")
        os.mkdir(self.profile)
        self.log_path = os.path.join(self.dir, "chromedriver.log")
        self.proc = None
        self.session = None
        self.base = None
        self.pids = set()       # chromedriver's descendants seen so far

    def start(self):
        for _ in range(PORT_TRIES):
            port = free_port()
            self.base = "http://127.0.0.1:%d" % port
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [CHROMEDRIVER, "--port=%d" % port],
                    stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                    env=self.env())
            try:
                wait_until(self.ready, DRIVER_START_TIMEOUT, "chromedriver")
                break
            except RuntimeError:
                self.proc.wait()
                self.proc = None
        if self.proc is None:
            raise RuntimeError("chromedriver did not start:\n" + self.logtext())
        caps = {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": CHROMIUM_ARGS + ["--user-data-dir=" + self.profile],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }
        value = self.call("POST", "/session",
                          {"capabilities": {"alwaysMatch": caps}},
                          timeout=SESSION_TIMEOUT)
        self.session = value["sessionId"]
        self.pids.update(descendants(self.proc.pid))
        return self

    def env(self):
        """
        Chromium writes its crash database and caches under HOME and XDG
        folders: keep them in our temp folder, out of the user's home.  That
        also puts our folder on the command line of the crash handler, which
        detaches from the process tree, so that stop() can find it.
        """
        env = dict(os.environ)
        env["HOME"] = self.dir
        env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        env["XDG_CACHE_HOME"] = os.path.join(self.dir, "cache")
        return env

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("chromedriver exited with %d" % self.proc.returncode)
        try:
            st, _, body = http("GET", self.base + "/status", timeout=2)
        except OSError:
            return False
        return st == 200 and json.loads(body)["value"].get("ready", False)

    def call(self, method, path, body=None, timeout=HTTP_TIMEOUT):
        """One WebDriver command; its "value", or RuntimeError."""
        st, _, data = http(method, self.base + path, body, timeout=timeout)
        try:
            value = json.loads(data)["value"]
        except (ValueError, KeyError, TypeError):
            raise RuntimeError("WebDriver %s %s: %d %r" % (method, path, st, data))
        if st != 200:
            raise RuntimeError("WebDriver %s %s: %d %s: %s" % (
                method, path, st, value.get("error"), value.get("message")))
        return value

    def navigate(self, url):
        self.call("POST", "/session/%s/url" % self.session, {"url": url},
                  timeout=PAGE_TIMEOUT)

    def execute(self, script, *args):
        return self.call("POST", "/session/%s/execute/sync" % self.session,
                         {"script": script, "args": list(args)})

    def console(self):
        """The browser's console lines (chromedriver's log endpoint)."""
        try:
            entries = self.call("POST", "/session/%s/se/log" % self.session,
                                {"type": "browser"})
        except (RuntimeError, OSError):
            return []
        return [e.get("message", "") for e in entries]

    def logtext(self):
        return raindtest.read_text(self.log_path)

    def stop(self):
        """Quit the browser, then make sure every process we started is gone."""
        if self.proc is not None:
            if self.session is not None:
                try:
                    self.call("DELETE", "/session/%s" % self.session)
                except (RuntimeError, OSError):
                    pass
            self.pids.update(descendants(self.proc.pid))
            self.pids.update(ours(self.dir))
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for pid in self.pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


def test_static(r, script):
    """The page, the bundle and refusals, over plain HTTP (urllib)."""
    base = "http://127.0.0.1:%d" % r.port
    st, h, body = http("GET", base + ECHO_PAGE)
    check(st == 200 and h.get("Content-Type") == TEXT_HTML,
          "%s: 200 %s (%d %s)" % (ECHO_PAGE, TEXT_HTML, st, h.get("Content-Type")))
    check(CLIENT_SCRIPT_URL.encode() in body, "the page loads the client bundle")
    check(h.get("X-Content-Type-Options") == "nosniff", "page: nosniff")
    etag = h.get("ETag")
    check(etag is not None and h.get("Last-Modified") is not None,
          "page: ETag and Last-Modified")
    if etag is not None:
        st, h, body = http("GET", base + ECHO_PAGE, headers={"If-None-Match": etag})
        check(st == 304 and body == b"", "page: If-None-Match answered 304 (%d)" % st)

    st, h, body = http("GET", base + ECHO_PAGE + "index.html")
    check(st == 200 and h.get("Content-Type") == TEXT_HTML, "index.html by name")

    with open(script, "rb") as f:
        want = f.read()
    st, h, body = http("GET", base + CLIENT_SCRIPT_URL)
    check(st == 200 and h.get("Content-Type") == TEXT_JS and body == want,
          "%s: 200 %s, the npm file (%d %s, %d bytes)" % (
              CLIENT_SCRIPT_URL, TEXT_JS, st, h.get("Content-Type"), len(body)))

    # urllib follows redirects: look at the 301 itself over a raw socket.
    resp = get(r.port, ECHO_PAGE.rstrip("/"))
    check(resp is not None and resp[0] == 301 and
          resp[1].get("location") == ECHO_PAGE,
          "%s: 301 to %s" % (ECHO_PAGE.rstrip("/"), ECHO_PAGE))

    for path in ("/echo/1.0/../meta.json", "/echo/1.0/%2e%2e/meta.json",
                 "/echo/1.0/..%2fmeta.json", "/echo/1.0/..%5cmeta.json",
                 "/echo/1.0/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "/echo/1.0/index.html%00", "/echo/1.0/server/",
                 "/echo/1.0/nosuch.js"):
        st, _, body = http("GET", base + path)
        check(st == 404 and b'"id"' not in body and b"root:" not in body,
              "%s: 404 (%d)" % (path, st))


def test_roundtrip(r, wd, transport):
    """The page's hello and echo over one transport."""
    url = "http://127.0.0.1:%d%s?transports=%s" % (r.port, ECHO_PAGE, transport)
    result = None
    try:
        wd.navigate(url)
        result = wait_until(lambda: wd.execute("return window.echoResult;"),
                            PAGE_TIMEOUT, "the echo round trip over " + transport)
    except (RuntimeError, TimeoutError, OSError) as e:
        check(False, "%s: %s" % (transport, e))
    if result is not None:
        check(result.get("error") is None and result.get("ok") is True,
              "%s: echo round trip with unicode (%s)" % (transport, result.get("error")))
        check(result.get("hello") == HELLO, "%s: hello %r" % (transport,
                                                             result.get("hello")))
        check(result.get("transport") == transport,
              "%s: stayed on %s" % (transport, result.get("transport")))
        try:
            title = wd.execute("return document.title;")
        except (RuntimeError, OSError) as e:
            title = str(e)
        check(title == "echo ok", "%s: page title %r" % (transport, title))
    if result is None or result.get("ok") is not True:
        try:
            print("--- page log ---\n" + wd.execute(
                "return document.getElementById('log').textContent;"))
        except (RuntimeError, OSError):
            pass
        print("--- browser console ---\n" + "\n".join(wd.console()))


CORS_JS = r"""
var B = arguments[0], R = window.cors = {};
function sock(tr) {
    return io(B + "/echo/1.0/echo", {transports: tr, upgrade: tr.length > 1,
        withCredentials: true, reconnection: false, forceNew: true});
}
// Polling, cross-origin: echoes whose requests cross the workers (handoff),
// pings over a pause, then a close by the server ("drop").
var a = sock(["polling"]), n = 0;
a.on("connect_error", function (e) { R.a_error = "connect_error " + e.message; });
a.on("hello", function () { a.emit("echo", n); });
a.on("echo", function (v) {
    if (v !== n) { R.a_error = "echo " + v + " for " + n; return; }
    n++;
    if (n < 10) { a.emit("echo", n); return; }
    R.a_echoes = n;
    setTimeout(function () { R.a_alive = a.connected; a.emit("drop"); }, 1500);
});
a.on("disconnect", function (r) { R.a_disconnect = r; });
// Polling, then the upgrade: the waiting GET is answered with a NOOP.
var b = sock(["polling", "websocket"]);
b.on("connect_error", function (e) { R.b_error = "connect_error " + e.message; });
// The upgrade may finish before or after the namespace connects.
var bUp = false, bConn = false;
function bBoth() { if (bUp && bConn) b.emit("echo", "after upgrade"); }
b.io.engine.once("upgrade", function (t) {
    R.b_upgraded = t.name; bUp = true; bBoth();
});
b.on("connect", function () { bConn = true; bBoth(); });
b.on("echo", function (v) { R.b_echo = v; b.disconnect(); });
b.on("disconnect", function (r) { R.b_disconnect = r; });
// An error answer: readable by the page only if it carries the CORS headers.
fetch(B + "/socket.io/?EIO=4&transport=polling&sid=nosuchsessionatall0",
      {credentials: "include"})
    .then(function (r) { return r.json().then(function (j) {
        R.c_status = r.status; R.c_body = j; }); })
    .catch(function (e) { R.c_error = String(e); });
"""


def test_cors(r, wd):
    """Cross-origin polling: every answer carries the CORS headers."""
    other = "http://localhost:%d" % r.port
    target = "http://127.0.0.1:%d" % r.port
    handoffs = r.logtext().count("handed over to slot")
    try:
        wd.navigate(other + ECHO_PAGE + "?transports=polling")
        wait_until(lambda: wd.execute("return window.echoResult;"),
                   PAGE_TIMEOUT, "the page's own round trip")
        wd.execute(CORS_JS, target)

        def finished():
            R = wd.execute("return window.cors;")
            return R if R and "a_disconnect" in R and "b_disconnect" in R and \
                ("c_status" in R or "c_error" in R) else None
        R = wait_until(finished, PAGE_TIMEOUT, "the cross-origin scenarios")
    except (RuntimeError, TimeoutError, OSError) as e:
        check(False, "cross-origin: %s" % e)
        print("--- browser console ---\n" + "\n".join(wd.console()))
        try:
            print("cors: %r" % wd.execute("return window.cors;"))
        except (RuntimeError, OSError):
            pass
        return
    check(R.get("a_error") is None and R.get("a_echoes") == 10,
          "cross-origin polling: 10 echoes (%r)" % R.get("a_error"))
    check(R.get("a_alive") is True,
          "cross-origin polling: still connected after pings over 1.5 s")
    check(r.logtext().count("handed over to slot") > handoffs,
          "cross-origin polling requests were handed between workers")
    check(R.get("a_disconnect") == "transport close",
          "a close by the server reaches the page as 'transport close' (%r)"
          % R.get("a_disconnect"))
    check(R.get("b_error") is None and R.get("b_upgraded") == "websocket" and
          R.get("b_echo") == "after upgrade",
          "cross-origin upgrade: the waiting GET's NOOP is readable (%r)" % R)
    check(R.get("b_disconnect") == "io client disconnect",
          "no transport error around the upgrade (%r)" % R.get("b_disconnect"))
    check(R.get("c_status") == 400 and R.get("c_body") ==
          {"code": 1, "message": "Session ID unknown"},
          "a cross-origin error answer is readable (%r)" % (
              R.get("c_error") or R.get("c_body")))


FORWARD_JS = r"""
// A polling session opened on node A, then used through node B: B
// forwards the requests to A through Redis.  A page reads the answers
// only if they carry the CORS headers, whichever node wrote them.
var A = arguments[0], B = arguments[1], R = window.fwd = {};
var q = "/socket.io/?EIO=4&transport=polling";
function text(r) { return r.text().then(function (t) { return [r.status, t]; }); }
fetch(A + q, {credentials: "include"}).then(text).then(function (a) {
    var sid = JSON.parse(a[1].slice(1)).sid;
    R.sid = sid;
    return fetch(B + q + "&sid=" + sid, {method: "POST", credentials: "include",
        headers: {"Content-Type": "text/plain;charset=UTF-8"},
        body: "40/echo/1.0/echo,"}).then(text).then(function (p) {
        R.post = p;
        return fetch(B + q + "&sid=" + sid, {credentials: "include"});
    }).then(text).then(function (g) {
        R.get = g;
        return fetch(B + q + "&sid=" + sid.slice(0, -1) + (sid.slice(-1) === "Z" ? "Y" : "Z"),
            {credentials: "include"});
    }).then(text).then(function (e) { R.unknown = e; });
}).catch(function (e) { R.error = String(e); });
"""


def test_cors_forwarded(wd, script, rain):
    """CORS on answers that crossed nodes (forward.c), in the browser."""
    import redistest
    if not redistest.available():
        check(True, "cross-node CORS: skipped, no redis-server")
        return
    redis = redistest.Redis().start()
    nodes = []
    try:
        secret = os.path.join(redis.dir, "secret")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"browser test secret\n")
        os.close(fd)
        for name in ("na", "nb"):
            nodes.append(Raind(conf="components %s\nclient_script %s\n"
                               "rain_script %s\nallowed_origins *\nredis %s\n"
                               "cookie_secret_file %s\nsession_create yes\n"
                               "node_id %s\n" % (raindtest.COMPONENTS, script,
                                                  rain, redis.address, secret,
                                                  name), workers=1).start())
        a, b = nodes
        wd.navigate("http://localhost:%d%s?transports=polling" % (a.port, ECHO_PAGE))
        wait_until(lambda: wd.execute("return window.echoResult;"),
                   PAGE_TIMEOUT, "the page's own round trip")
        wd.execute(FORWARD_JS, "http://127.0.0.1:%d" % a.port,
                   "http://127.0.0.1:%d" % b.port)
        R = wait_until(lambda: (lambda r: r if r and ("unknown" in r or "error"
                                                      in r) else None)(
            wd.execute("return window.fwd;")), PAGE_TIMEOUT, "forwarded requests")
        forwarded = b.logtext().count("forwarded to")
    except (RuntimeError, TimeoutError, OSError) as e:
        check(False, "cross-node CORS: %s" % e)
        return
    finally:
        for n in nodes:
            n.cleanup()
        redis.cleanup()
    check(R.get("error") is None and R.get("post") == [200, "ok"],
          "cross-origin POST forwarded to the owner node is readable (%r)" % R)
    check(R.get("get", [0, ""])[0] == 200 and
          R["get"][1].startswith("40/echo/1.0/echo,"),
          "cross-origin GET forwarded to the owner node is readable (%r)"
          % R.get("get"))
    check(R.get("unknown", [0])[0] == 400,
          "a forwarded error answer is readable (%r)" % R.get("unknown"))
    check(forwarded >= 3, "node B did forward the requests (%d)" % forwarded)


RAINJS_JS = r"""
var R = window.rainjs = {log: []};
var ctx = Rain.context();
var m = ctx.messaging;
var chat = m.getSocket("chat");
var e1 = m.getSocket("/echo/1.0/echo");
var e2 = Rain.context("echo", "1.0").messaging.getSocket("echo");
R.prefix = ctx.id + "/" + ctx.version;
R.same = e1 === e2 && chat === m.getSocket("chat");
R.oneManager = chat.io === e1.io;
R.connectedBefore = e1.connected;
e1.on("echo", function (v) { R.log.push(v); });
e1.on("disconnect", function (r) {
    R.reason = r;
    // RAIN: the next emit connects again by itself.
    e1.emit("echo", "after idle");
});
e1.emit("echo", "queued");
e1.emit("ack", null, {v: 1}, function (err, value) { R.ok = [err, value]; });
e1.emit("join", function (err, value) { R.err = [err, value]; });
"""


def test_rainjs(wd, script, rain):
    """rain.js on the chat page, against a raind whose idle rule bites."""
    r = Raind(conf="components %s\nclient_script %s\nrain_script %s\n"
              "disconnect_idle yes\ndisconnect_idle_on_max_conn 0\n"
              "idle_time 1s\nidle_check_interval 200ms\n" % (
                  raindtest.COMPONENTS, script, rain), workers=2)
    try:
        r.start()
        st, h, body = http("GET", "http://127.0.0.1:%d/rain.js" % r.port)
        check(st == 200 and h.get("content-type", "").startswith(
            "application/javascript") and b"Rain" in body,
            "/rain.js is served as JavaScript")
        wd.navigate("http://127.0.0.1:%d/chat/1.0/" % r.port)
        wd.execute(RAINJS_JS)

        def finished():
            R = wd.execute("return window.rainjs;")
            return R if R and "after idle" in R.get("log", []) else None
        R = wait_until(finished, PAGE_TIMEOUT, "rain.js scenario")
    except (RuntimeError, TimeoutError, OSError) as e:
        check(False, "rain.js: %s" % e)
        print("--- browser console ---\n" + "\n".join(wd.console()))
        try:
            print("rainjs: %r" % wd.execute("return window.rainjs;"))
        except (RuntimeError, OSError):
            pass
        r.cleanup()
        return
    check(R.get("prefix") == "chat/1.0",
          "Rain.context() takes /chat/1.0/ from the page's path")
    check(R.get("same") is True,
          "getSocket: relative and absolute channels, one object per namespace")
    check(R.get("oneManager") is True, "every namespace over one Manager")
    check(R.get("connectedBefore") is False and R["log"][0] == "queued",
          "an emit before the connection is up is queued and sent on connect")
    check(R.get("ok") == [None, {"v": 1}], "ack as (err, value): %r" % R.get("ok"))
    check(isinstance(R.get("err"), list) and isinstance(R["err"][0], dict) and
          R["err"][0].get("message") == "join needs a room name",
          "a failing listener's ack as (err): %r" % R.get("err"))
    check(R.get("reason") == "io server disconnect",
          "the idle rule disconnects the socket (%r)" % R.get("reason"))
    check(R["log"][-1] == "after idle",
          "the next emit reconnects by itself and is answered")
    r.cleanup()


def main():
    why = missing()
    if why is not None:
        print("SKIP: " + why)
        sys.exit(SKIP)
    script = os.path.abspath(os.environ["RAIND_CLIENT_SCRIPT"])
    rain = os.path.abspath(os.environ["RAIND_RAIN_SCRIPT"])
    r = Raind(conf="components %s\nclient_script %s\nrain_script %s\n"
              "allowed_origins *\nping_interval 300ms\n" % (
                  raindtest.COMPONENTS, script, rain), workers=4)
    wd = None
    try:
        r.start()
        test_static(r, script)
        wd = WebDriver()
        try:
            wd.start()
        except (RuntimeError, TimeoutError, OSError) as e:
            check(False, "headless Chromium through chromedriver: %s" % e)
            print("--- chromedriver log ---\n" + wd.logtext()[-20000:])
        else:
            for transport in TRANSPORTS:
                test_roundtrip(r, wd, transport)
            test_cors(r, wd)
            test_cors_forwarded(wd, script, rain)
            test_rainjs(wd, script, rain)
            if raindtest.failures:
                print("--- chromedriver log ---\n" + wd.logtext()[-20000:])
    finally:
        if wd is not None:
            wd.stop()
        r.cleanup()
    done()


if __name__ == "__main__":
    main()
