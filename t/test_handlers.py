"""Integration: handler ABI 2 over the wire, with the real raind.

The test component tree t/components/abi2 (modules t/modules/mod_table.c
and mod_slow.c), served by raind with two workers, to raw Socket.IO
clients over websocket (t/rawsio.py):

- a module with only a listener table answers its events, with typed
  values built by the RAIN_* constructors;
- handle may defer (rain_defer_connect): an event sent right after the
  connect waits until handle settled, and is answered after what handle
  emitted; a handle that never settles is ended by handler_timeout and
  the socket's events then run.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import BUILDDIR, Raind, check, done  # noqa: E402
from rawsio import sio_body, sio_client  # noqa: E402

TREE = os.path.join(BUILDDIR, "t", "components-trees", "abi2")
TABLE = "/tab/1.0/table"
SLOW = "/tab/1.0/slow"


def main():
    r = Raind(conf="components %s\nhandler_timeout 1s\n" % TREE, workers=2).start()
    try:
        ws = sio_client(r.port, TABLE)
        ack = ws.call(TABLE, 1, "typed", "x")
        check(isinstance(ack, list) and ack[0] is None and ack[1]["i"] == -3 and
              ack[1]["arr"] == [1, None, "x"] and ack[1]["nan"] is None,
              "a listener-table module answers with typed values (%r)" % ack)
        ws.close()

        ws = sio_client(r.port, SLOW, auth={"ms": 300})
        # Sent at once: it must wait for the deferred handle.
        ws.emit_ack(SLOW, 1, "ping")
        order = []
        for _ in range(20):
            p = ws.recv_eio()
            if sio_body(p, "42", SLOW) == '["ready"]':
                order.append("ready")
            rest = sio_body(p, "43", SLOW)
            if rest is not None and rest.startswith("1["):
                order.append(rest[1:])
                break
        check(order == ["ready", "[null,1]"],
              "events wait for a deferred handle, then run (%r)" % order)
        ws.close()

        ws = sio_client(r.port, SLOW, auth={"never": True})
        ack = ws.call(SLOW, 1, "ping", deadline=5)
        # The count is per worker: 0 or 1 whichever worker this one got.
        check(isinstance(ack, list) and ack[0] is None and ack[1] in (0, 1),
              "a handle that never settles is ended by "
              "handler_timeout, and the events run (%r)" % ack)
        check("not settled within 1000 ms" in r.logtext(),
              "the timeout is logged")
        ws.close()
    finally:
        r.cleanup()
    done()


if __name__ == "__main__":
    main()
