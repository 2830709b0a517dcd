"""Browser: headless Chromium runs the echo component's page from raind.

raind (4 workers, so that polling requests cross workers) serves the echo
component's client/ folder under /echo/1.0/ and the official client bundle
at /socket.io/socket.io.min.js (directive client_script).  Chromium,
driven through chromedriver's WebDriver HTTP API with urllib only, loads
/echo/1.0/?transports=websocket and ?transports=polling; the page
(handlers/echo/client/index.html) waits for "hello", sends an "echo" event
with unicode text and leaves what came back in window.echoResult, which
the test polls.  Static serving is checked over plain HTTP as well:
content types, conditional GET, the redirect to the slash form, and
traversal attempts answered 404.

Skipped (77) when /usr/bin/chromium or /usr/bin/chromedriver (or
$CHROMIUM, $CHROMEDRIVER) is missing, or when RAIND_CLIENT_SCRIPT does not
name socket.io-client's dist/socket.io.min.js, which npm provides at
set-up time: the bundle is never committed to this repository.
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
    script = os.environ.get("RAIND_CLIENT_SCRIPT")
    if script and not os.path.isfile(script):
        # The bundle comes from npm with the interop tests' modules.
        import subprocess
        modules = os.path.join(os.environ.get("RAIND_BUILDDIR", "."), "t",
                               "interop-modules")
        subprocess.run([os.path.join(os.path.dirname(os.path.abspath(
            __file__)), "interop", "setup.sh"), modules],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not script:
        return "RAIND_CLIENT_SCRIPT is not set (socket.io-client's " \
            "dist/socket.io.min.js from npm)"
    if not os.path.isfile(script):
        return "RAIND_CLIENT_SCRIPT=%s: no such file" % script
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
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

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


def main():
    why = missing()
    if why is not None:
        print("SKIP: " + why)
        sys.exit(SKIP)
    script = os.path.abspath(os.environ["RAIND_CLIENT_SCRIPT"])
    r = Raind(conf="components %s\nclient_script %s\n" % (
        raindtest.COMPONENTS, script), workers=4)
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
            if raindtest.failures:
                print("--- chromedriver log ---\n" + wd.logtext()[-20000:])
    finally:
        if wd is not None:
            wd.stop()
        r.cleanup()
    done()


if __name__ == "__main__":
    main()
