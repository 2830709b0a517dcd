"""rawsio: a minimal WebSocket / Engine.IO v4 / Socket.IO v5 client.

Written over raw sockets so that tests control every byte: they can send
what a browser would (an Origin), what a hostile client would (garbage,
oversized frames), or simply stop reading.  Only what the tests need:

    ws = WSClient(port, origin="http://a.example")   # the upgrade
    ws.status                                        # 101, 403, ...
    ws.eio_open()                                    # the "0{...}" packet
    ws.sio_connect("/echo/1.0/echo")                 # "40..." -> "40...{sid}"
    ws.emit("/echo/1.0/echo", "echo", "hi")          # "42/echo/1.0/echo,[...]"
    ws.wait_event("/echo/1.0/echo", "echo")          # the next such event

Engine.IO pings ("2") are answered with pongs ("3") whenever the client
reads, as a healthy client does.  Client frames are masked (RFC 6455).
"""

import base64
import json
import os
import socket
import struct
import time

WS_TEXT = 0x1
WS_BINARY = 0x2
WS_CLOSE = 0x8
WS_PING = 0x9
WS_PONG = 0xA
EIO_PATH = "/socket.io/?EIO=4&transport=websocket"


class Closed(Exception):
    """The server closed the connection (or the websocket)."""


def ws_frame(opcode, payload, fin=True, mask=True, length=None):
    """One client frame; length overrides the declared payload length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    # XOR with the key repeated: through int for speed on big payloads.
    rep = (key * (len(payload) // 4 + 1))[:len(payload)]
    masked = (int.from_bytes(payload, "big") ^
              int.from_bytes(rep, "big")).to_bytes(len(payload), "big")
    return head + key + masked


def upgrade_request(path=EIO_PATH, origin=None, host="127.0.0.1", extra=""):
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n" % (path, host, key))
    if origin is not None:
        req += "Origin: %s\r\n" % origin
    return (req + extra + "\r\n").encode()


class WSClient:
    """One websocket connection to raind's Engine.IO endpoint."""

    def __init__(self, port, path=EIO_PATH, origin=None, timeout=10.0,
                 rcvbuf=None, host="127.0.0.1", extra=""):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so that the window the server sees is small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.pending = []       # Engine.IO text packets read but not taken
        self.pings = 0
        # extra: more header lines, each ending with CRLF (a Cookie).
        self.sock.sendall(upgrade_request(path, origin,
                                          host="%s:%d" % (host, port),
                                          extra=extra))
        head = self._read_head()
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        self.status = int(line.split(" ")[1])
        self.head = head

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            b = self.sock.recv(65536)
            if not b:
                raise Closed("closed before the response head")
            self.buf += b
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_text(self, text):
        self.sock.sendall(ws_frame(WS_TEXT, text.encode()))

    def _need(self, n):
        while len(self.buf) < n:
            b = self.sock.recv(65536)
            if not b:
                raise Closed("connection closed")
            self.buf += b

    def recv_frame(self):
        """(opcode, payload) of the next whole frame (fragments joined)."""
        data = b""
        first = None
        while True:
            self._need(2)
            b0, b1 = self.buf[0], self.buf[1]
            n = b1 & 0x7F
            off = 2
            if n == 126:
                self._need(4)
                n = struct.unpack("!H", self.buf[2:4])[0]
                off = 4
            elif n == 127:
                self._need(10)
                n = struct.unpack("!Q", self.buf[2:10])[0]
                off = 10
            self._need(off + n)
            payload = self.buf[off:off + n]
            self.buf = self.buf[off + n:]
            op = b0 & 0x0F
            if op >= 0x8:
                return op, payload
            if first is None:
                first = op
            data += payload
            if b0 & 0x80:
                return first, data

    def recv_eio(self, end=None):
        """The next Engine.IO text packet; pings are answered on the way.

        end: a time.monotonic() after which TimeoutError is raised (the
        socket's own timeout never fires while pings keep coming).
        """
        if self.pending:
            return self.pending.pop(0)
        while True:
            if end is not None and time.monotonic() > end:
                raise TimeoutError("nothing but pings")
            op, payload = self.recv_frame()
            if op == WS_CLOSE:
                raise Closed("close frame %r" % payload[:2])
            if op == WS_PING:
                self.sock.sendall(ws_frame(WS_PONG, payload))
                continue
            if op != WS_TEXT:
                continue
            text = payload.decode()
            if text == "2":
                self.pings += 1
                self.send_text("3")
                continue
            return text

    def eio_open(self):
        p = self.recv_eio()
        if not p.startswith("0"):
            raise ValueError("expected an open packet, got %r" % p[:80])
        return json.loads(p[1:])

    def sio_connect(self, nsp, auth=None):
        """CONNECT (with an auth payload); ("40", data) or ("44", data)."""
        self.send_text("40" + sio_nsp(nsp) +
                       (json.dumps(auth) if auth is not None else ""))
        return self.wait_packet(nsp, ("40", "44"))

    def wait_packet(self, nsp, types, deadline=10.0):
        """The next Socket.IO packet of nsp whose type is in types."""
        end = time.monotonic() + deadline
        kept = []
        try:
            while time.monotonic() < end:
                p = self.recv_eio(end)
                for t in types:
                    rest = sio_body(p, t, nsp)
                    if rest is not None:
                        return t, (json.loads(rest) if rest else None)
                kept.append(p)
        finally:
            self.pending = kept + self.pending
        raise TimeoutError("no %r packet for %s" % (types, nsp))

    def emit(self, nsp, event, *args):
        self.send_text("42%s%s" % (sio_nsp(nsp),
                                   json.dumps([event] + list(args))))

    def emit_ack(self, nsp, ack_id, event, *args):
        self.send_text("42%s%d%s" % (sio_nsp(nsp), ack_id,
                                     json.dumps([event] + list(args))))

    def call(self, nsp, ack_id, event, *args, deadline=10.0):
        """Emit with an acknowledgement; its arguments (other packets kept)."""
        self.emit_ack(nsp, ack_id, event, *args)
        end = time.monotonic() + deadline
        pre = "%d[" % ack_id
        kept = []
        try:
            while time.monotonic() < end:
                p = self.recv_eio(end)
                rest = sio_body(p, "43", nsp)
                if rest is not None and rest.startswith(pre):
                    return json.loads(rest[len(pre) - 1:])
                kept.append(p)
        finally:
            self.pending = kept + self.pending
        raise TimeoutError("no acknowledgement %d for %s" % (ack_id, nsp))

    def wait_event(self, nsp, event, deadline=10.0):
        """The arguments of the next event named event in nsp."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            rest = sio_body(self.recv_eio(end), "42", nsp)
            if rest:
                data = json.loads(rest)
                if data and data[0] == event:
                    return data[1:]
        raise TimeoutError("no %s event in %s" % (event, nsp))

    def wait_ack(self, nsp, ack_id, deadline=10.0):
        end = time.monotonic() + deadline
        pre = "%d[" % ack_id
        while time.monotonic() < end:
            rest = sio_body(self.recv_eio(end), "43", nsp)
            if rest is not None and rest.startswith(pre):
                return json.loads(rest[len(pre) - 1:])
        raise TimeoutError("no ack %d in %s" % (ack_id, nsp))


def sio_nsp(nsp):
    """The namespace part of an encoded packet ("/" is left out)."""
    return "" if nsp == "/" else nsp + ","


def sio_body(packet, ptype, nsp):
    """What follows type and namespace in packet, or None if not theirs."""
    if not packet.startswith(ptype):
        return None
    rest = packet[len(ptype):]
    if nsp == "/":
        return None if rest.startswith("/") else rest
    pre = nsp + ","
    return rest[len(pre):] if rest.startswith(pre) else None


def sio_client(port, nsp, origin=None, auth=None, **kw):
    """A websocket client with Engine.IO open and nsp connected."""
    ws = WSClient(port, origin=origin, **kw)
    if ws.status != 101:
        raise Closed("upgrade refused: %d" % ws.status)
    ws.eio_open()
    t, data = ws.sio_connect(nsp, auth)
    if t != "40":
        raise Closed("connect refused: %r" % (data,))
    return ws
