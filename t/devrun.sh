#!/bin/sh
# make run: a private redis-server on a unix socket and raind in the
# foreground with conf/raind.conf and the bundled components, both in a
# fresh run directory under the build tree.  Ctrl-C stops both.
set -eu
builddir=$1
srcdir=$2
run=$builddir/run
mkdir -p "$run"
rm -f "$run"/redis.sock "$run"/raind.pid "$run"/ports

redis_pid=
raind_pid=
cleanup() {
	trap - INT TERM EXIT
	[ -n "$raind_pid" ] && kill -TERM "$raind_pid" 2>/dev/null && wait "$raind_pid" 2>/dev/null
	[ -n "$redis_pid" ] && kill -TERM "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	exit 0
}
trap cleanup INT TERM EXIT

if command -v redis-server >/dev/null 2>&1; then
	redis-server --port 0 --unixsocket "$run/redis.sock" --unixsocketperm 700 \
	    --save '' --appendonly no --dir "$run" --logfile "$run/redis.log" &
	redis_pid=$!
	i=0
	until redis-cli -s "$run/redis.sock" ping >/dev/null 2>&1; do
		kill -0 "$redis_pid" 2>/dev/null || { echo "redis-server failed to start" >&2; exit 1; }
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "redis-server is not answering" >&2; exit 1; }
		sleep 0.1
	done
	echo "redis-server: unix socket $run/redis.sock (pid $redis_pid)"
else
	echo "redis-server not found: run ./bootstrap as root to install it" >&2
	exit 1
fi

# The shipped configuration, pointed at the build tree and the run directory.
components=$builddir/handlers/built
sed -e "s|@PKGDATADIR@/components|$components|g" \
    -e "s|@PKGDATADIR@|$builddir|g" \
    -e "s|@RUNSTATEDIR@|$run|g" \
    -e "s|@REDIS_SOCKET@|$run/redis.sock|g" \
    "$srcdir/conf/raind.conf" > "$run/raind.conf"
if ! grep -q '^pid_file' "$run/raind.conf"; then
	echo "pid_file $run/raind.pid" >> "$run/raind.conf"
fi
# Sessions in the private Redis; a browser without a cookie gets one.
if [ ! -s "$run/cookie.secret" ]; then
	(umask 077 && openssl rand -hex 32 > "$run/cookie.secret")
fi
{
	echo "redis unix:$run/redis.sock"
	echo "cookie_secret_file $run/cookie.secret"
	echo "session_create yes"
} >> "$run/raind.conf"
# The browser side from the build tree: the bundle that make fetched and
# rain.js from the sources (installed, both are found in pkgdatadir).
bundle=$builddir/client/socket.io.min.js
if [ -f "$bundle" ]; then
	echo "client_script $bundle" >> "$run/raind.conf"
else
	echo "note: $bundle was not built (configured without npm?); /socket.io/socket.io.min.js will be 404"
	echo "client_script none" >> "$run/raind.conf"
fi
echo "rain_script $srcdir/client/rain.js" >> "$run/raind.conf"

"$builddir/src/raind" -d -f "$run/raind.conf" -p "$run/ports" &
raind_pid=$!
i=0
while [ ! -s "$run/ports" ] && [ $i -lt 100 ]; do
	kill -0 "$raind_pid" 2>/dev/null || { echo "raind failed to start" >&2; exit 1; }
	i=$((i + 1))
	sleep 0.1
done
echo "raind listening on: $(tr '\n' ' ' < "$run/ports")(Ctrl-C stops)"
first=$(head -n 1 "$run/ports")
case $first in
0.0.0.0:*) first=127.0.0.1:${first#0.0.0.0:} ;;
\[::\]:*) first=[::1]:${first#\[::\]:} ;;
esac
echo "chat page: http://$first/chat/1.0/"
echo "echo page: http://$first/echo/1.0/"
wait "$raind_pid"
