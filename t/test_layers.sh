#!/bin/sh
# The layering of src/: a module may include the headers of its own layer
# and of the layers below it, never one above.  Every module of src/ must
# be in the table; a new one is placed here on purpose, not by accident.
#
#   1 base        no protocol, no I/O of their own
#   2 formats     parsers and encoders, configuration, clients of other
#                 processes (Redis, the handoff channels), component files
#   3 transport   connections (HTTP/1.1, TLS, WebSocket) under a host:
#                 nothing here knows Engine.IO, Socket.IO or the worker
#   4 sockets     namespaces, rooms, the handler API, sessions, idleness
#   5 engine      Engine.IO sessions, forwarding between nodes, publishing
#   6 process     the worker's routes, the worker, the master, main
#
# Besides the includes, conn.c must not name any upper layer's symbols
# (eio_, nsp_, static_, worker_, route_): its routes come from the worker.
#
# Usage: t/test_layers.sh [SRCDIR] (default $RAIND_SRCDIR, or .).  It
# also shows that the check catches a violation, planted in a copy of src/.
set -u

srcdir=${1:-${RAIND_SRCDIR:-.}}

LAYERS='
util 1
log 1
xmalloc 1
sid 1
stats 1
notify 1
pool 1
json 1
secret 1
rain/handler 1
conf 2
http 2
cookie 2
ws_frame 2
eio_codec 2
sio_codec 2
emitter_codec 2
nsp_msg 2
handoff 2
listener 2
redis 2
component 2
handshake 2
session_cache 2
static 2
host 3
tls 3
conn 3
ws 3
nsp 4
room 4
handler 4
idle 4
session 4
eio 5
forward 5
publish 5
routes 6
worker 6
master 6
main 6
'

# check DIR: print every violation; return 1 if any.  (sh has no locals:
# check keeps to its own names.)
check() {
	dir=$1
	bad=0
	for f in "$dir"/*.c "$dir"/*.h "$dir"/rain/*.h; do
		[ -f "$f" ] || continue
		base=${f#"$dir"/}
		mod=${base%.[ch]}
		mine=$(printf '%s\n' "$LAYERS" | awk -v m="$mod" '$1 == m { print $2 }')
		if [ -z "$mine" ]; then
			echo "FAIL - $base: module $mod is not in the layer table of $0"
			bad=1
			continue
		fi
		for inc in $(sed -n 's/^#include "\([a-z_/]*\)\.h".*/\1/p' "$f"); do
			[ "$inc" = config ] && continue
			theirs=$(printf '%s\n' "$LAYERS" | awk -v m="$inc" '$1 == m { print $2 }')
			if [ -z "$theirs" ]; then
				echo "FAIL - $base includes $inc.h, which is not in the layer table"
				bad=1
			elif [ "$theirs" -gt "$mine" ]; then
				echo "FAIL - $base (layer $mine) includes $inc.h (layer $theirs)"
				bad=1
			fi
		done
	done
	if grep -nE '\b(eio|nsp|static|worker|route)_[a-z_]+\(' "$dir/conn.c"; then
		echo "FAIL - conn.c calls into an upper layer (above)"
		bad=1
	fi
	return $bad
}

if [ ! -f "$srcdir/src/conn.c" ]; then
	echo "no src/ in $srcdir"
	exit 99
fi
status=0
if check "$srcdir/src"; then
	echo "ok - every include goes to the same layer or one below; conn.c names no upper layer"
else
	status=1
fi

# The check itself: a lower module including an upper header must fail,
# and so must conn.c calling into the Engine.IO layer.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -R "$srcdir/src" "$scratch/src"
printf '#include "worker.h"\n' >> "$scratch/src/conn.h"
if check "$scratch/src" >/dev/null; then
	echo "FAIL - a planted include of worker.h in conn.h went unnoticed"
	status=1
else
	echo "ok - a planted include of worker.h in conn.h is caught"
fi
cp "$srcdir/src/conn.h" "$scratch/src/conn.h"
printf 'static void f(void) { eio_request(0, 0, 0, 0, 0); }\n' >> "$scratch/src/conn.c"
if check "$scratch/src" >/dev/null; then
	echo "FAIL - a planted call of eio_request in conn.c went unnoticed"
	status=1
else
	echo "ok - a planted call of eio_request in conn.c is caught"
fi
exit $status
