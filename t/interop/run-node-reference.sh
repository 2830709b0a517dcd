#!/bin/sh
# run-node-reference.sh [DEST] [TEST.js ...] - run the interop tests against the
# official Node socket.io server (echo-server.js), which proves the tests right.
#
# DEST holds the npm modules (setup.sh; default: $TMPDIR/raind-interop-modules-$USER).
# The server gets a short heartbeat (500 + 400 ms), a 500 ms handler timeout and a
# cookie secret, and the tests the same settings; the two-node tests run with
# SIO_URL2 = SIO_URL (one server standing in for two nodes).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-${TMPDIR:-/tmp}/raind-interop-modules-$(id -un)}
[ $# -gt 0 ] && shift

"$here/setup.sh" "$dest"
dest=$(cd "$dest" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/raind-interop-ref.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
echo >>"$work/secret"

SIO_PING_INTERVAL=500
SIO_PING_TIMEOUT=400
SIO_HANDLER_TIMEOUT=500
SIO_COOKIE_SECRET_FILE=$work/secret
export SIO_PING_INTERVAL SIO_PING_TIMEOUT SIO_HANDLER_TIMEOUT SIO_COOKIE_SECRET_FILE

: >"$work/server.out"
: >"$work/server.err"
NODE_PATH="$dest/node_modules" PORT=0 SIO_EXIT_WITH_PARENT=1 \
	node "$here/echo-server.js" >"$work/server.out" 2>"$work/server.err" &
pid=$!

# wait (bounded) for "LISTENING <port>"
port=
i=0
while [ $i -lt 100 ]; do
	port=$(sed -n 's/^LISTENING \([0-9][0-9]*\)$/\1/p' "$work/server.out")
	[ -n "$port" ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$port" ]; then
	echo "run-node-reference.sh: echo-server.js did not start" >&2
	cat "$work/server.err" >&2
	exit 1
fi
echo "run-node-reference.sh: reference server on port $port" >&2

SIO_URL=http://127.0.0.1:$port
SIO_URL2=$SIO_URL
export SIO_URL SIO_URL2
status=0
"$here/run-tests.sh" "$dest" "$@" || status=$?
if [ -s "$work/server.err" ]; then
	echo "run-node-reference.sh: server stderr:" >&2
	cat "$work/server.err" >&2
fi
exit $status
