"""Integration: memory taken by slow readers is bounded and given back.

raind with four workers and the echo component.  200 websocket clients
join a room, shrink their receive buffers and never read again; a pusher
sends the room 200 messages of 1 KiB a second for 20 s.  Each slow
client's queue grows until it costs max_send_queue (default 1m, counted
with what each queued message costs beyond its bytes) and the client is
dropped, with a log line.  Checked, on the sum of the workers' VmRSS
(/proc/<pid>/status) against the figure before the clients came:

- it never grows by more than 64 MiB in all during the burst;
- it comes back to within 16 MiB of the start within 10 s after the slow
  clients are gone (raind gives freed memory back to the system).

These are bounds on memory, not timings: the sampling only has to see
the peak, and the return is polled.  Skipped (77) in a sanitizer build,
where RSS is AddressSanitizer's.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raindtest import COMPONENTS, SKIP, Raind, check, done, sanitized  # noqa: E402
from rawsio import sio_client  # noqa: E402

ECHO = "/echo/1.0/echo"
SLOW = 200
RATE = 200                  # messages a second
SECONDS = 20
PAYLOAD = "x" * 1024
MIB = 1024 * 1024
GROWTH_MAX = 64 * MIB
RETURN_MAX = 16 * MIB
RETURN_WITHIN = 10.0


def rss(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def main():
    if sanitized():
        # AddressSanitizer keeps freed memory in quarantine (hundreds of
        # MiB per process) and pads every allocation: RSS says nothing here.
        print("SKIP: raind is built with AddressSanitizer")
        sys.exit(SKIP)
    r = Raind(conf="components %s\n" % COMPONENTS, workers=4).start()
    try:
        pids = r.worker_pids()
        start = rss(pids)
        slow = []
        for i in range(SLOW):
            c = sio_client(r.port, ECHO)
            if c.call(ECHO, 1, "join", "lobby") != ["lobby"]:
                raise RuntimeError("join not acknowledged")
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.append(c)
        joined = rss(pids)
        pusher = sio_client(r.port, ECHO)
        peak = joined
        t0 = time.monotonic()
        sent = 0
        while sent < RATE * SECONDS and time.monotonic() - t0 < SECONDS * 3:
            due = int((time.monotonic() - t0) * RATE) + 1
            while sent < min(due, RATE * SECONDS):
                pusher.emit(ECHO, "to-room", "lobby", PAYLOAD)
                sent += 1
            if sent % RATE == 0:
                peak = max(peak, rss(pids))
            time.sleep(1.0 / RATE)      # the pusher's pace, not a wait
        peak = max(peak, rss(pids))
        print("# RSS: start %.1f MiB, %d joined %.1f MiB, peak %.1f MiB" % (
            start / MIB, SLOW, joined / MIB, peak / MIB))
        check(sent == RATE * SECONDS, "%d messages of 1 KiB sent to the room"
              % sent)
        check(peak - start <= GROWTH_MAX,
              "the workers grew by %.1f MiB at most (bound %d MiB)" % (
                  (peak - start) / MIB, GROWTH_MAX // MIB))
        dropped = r.logtext().count("client dropped as a slow reader")
        check(dropped >= SLOW * 9 // 10,
              "slow readers were dropped, each with a log line (%d)" % dropped)
        for c in slow:
            c.close()
        pusher.close()
        gone = time.monotonic()
        now = rss(pids)
        while now - start > RETURN_MAX and time.monotonic() - gone < RETURN_WITHIN:
            time.sleep(0.25)            # polling the figure, bounded
            now = rss(pids)
        print("# RSS %.1f s after: %.1f MiB" % (time.monotonic() - gone,
                                                 now / MIB))
        check(now - start <= RETURN_MAX,
              "back within %d MiB of the start within %d s (%.1f MiB over)" % (
                  RETURN_MAX // MIB, RETURN_WITHIN, (now - start) / MIB))
        check(r.worker_pids() == pids, "no worker died on the way")
    finally:
        r.cleanup()
    done()


if __name__ == "__main__":
    main()
