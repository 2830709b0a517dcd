#!/bin/sh
# run.sh: benchmark raind against the official Node socket.io server and a
# bare epoll server, in one invocation, and print the figures side by side.
#
# Each server runs in turn pinned to one core (BENCH_SERVER_CPU) while
# loadgen runs on another (BENCH_CLIENT_CPU).  Per server:
#   echo       BENCH_ECHO_CONNS connections in a closed echo loop: messages/s,
#              p50/p99 latency, server CPU time per round trip
#   broadcast  BENCH_BCAST_CONNS sockets, one of them emitting `broadcast`:
#              deliveries/s, server CPU time per delivery
#   idle       on a fresh server: RSS with BENCH_IDLE_BASE connections, then
#              with BENCH_IDLE_CONNS more; the difference divided by
#              BENCH_IDLE_CONNS is the resident memory per idle connection
# See README.md in this folder for what each figure means.
#
# A server that cannot start, or a phase that fails, is reported as such
# and the run goes on with the rest.  Every process started here is stopped
# by its pid on exit.
#
# Environment (all optional):
#   RAIND               raind binary (default ../../src/raind from here)
#   RAIND_COMPONENTS    components folder with the built echo component
#                       (default ../../handlers/built from here)
#   RAIND_CONF_EXTRA    more raind.conf lines, added as they are; the text
#                       @REDIS_SOCKET@ in them starts a private redis-server
#                       and stands for its unix socket
#   RAIND_CONF_OPTIONAL directives added only when `raind -n` accepts them
#                       (default "session_create yes"), one per line
#   LOADGEN, EPOLLSRV   the two C programs; built here with cc when unset
#                       and not found next to this script
#   NODE_SERVER         the Node reference server (../interop/echo-server.js)
#   NODE_MODULES        where t/interop/setup.sh installs socket.io
#                       (default $TMPDIR/raind-interop-modules-$USER)
#   BENCH_SERVERS       which columns to run (default "raind node epollsrv")
#   BENCH_DURATION      measured seconds per phase (default 10)
#   BENCH_WARMUP        warm-up seconds before each window (default 2)
#   BENCH_PAYLOAD       characters in the string sent (default 32)
#   BENCH_ECHO_CONNS    (default 100)
#   BENCH_BCAST_CONNS   (default 1000)
#   BENCH_BCAST_WINDOW  broadcasts in flight (default 8)
#   BENCH_IDLE_CONNS    (default 10000)
#   BENCH_IDLE_BASE     connections open when the baseline RSS is read
#                       (default 100)
#   BENCH_IDLE_PER_PROC connections per loadgen process (default 15000; a
#                       process may open 20000 descriptors here)
#   BENCH_SERVER_CPU, BENCH_CLIENT_CPU   cores to pin to (default 0 and 1)
#   BENCH_HEADER        one more request header for every connection, e.g.
#                       "Cookie: rain.sid=..." when raind wants a session
#   BENCH_KEEP=1        keep the work folder (logs, outputs) and say where
#   BENCH_ECHO_EVENT    the event raind gets in the echo phase (default echo;
#                       session-echo loads and saves the session around it)
#   BENCH_REDIS_CPU=1   count the private redis-server's CPU time as raind's
#   BENCH_PHASES        which phases to run (default "echo broadcast idle
#                       sessions scale"; the last two for raind only)
#   BENCH_SCALE_CONNS   idle sessions of the scale phase (default 100000)
#   BENCH_SCALE_WORKERS raind's workers in it (default 8)
#   BENCH_SCALE_HOLD    seconds they are held, over heartbeats (default 15)
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

RAIND=${RAIND:-$top/src/raind}
RAIND_COMPONENTS=${RAIND_COMPONENTS:-$top/handlers/built}
RAIND_CONF_EXTRA=${RAIND_CONF_EXTRA:-}
RAIND_CONF_OPTIONAL=${RAIND_CONF_OPTIONAL-"session_create yes"}
LOADGEN=${LOADGEN:-}
EPOLLSRV=${EPOLLSRV:-}
NODE_SERVER=${NODE_SERVER:-$top/t/interop/echo-server.js}
NODE_MODULES=${NODE_MODULES:-${TMPDIR:-/tmp}/raind-interop-modules-$(id -un)}
BENCH_SERVERS=${BENCH_SERVERS:-raind node epollsrv}
BENCH_DURATION=${BENCH_DURATION:-10}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_PAYLOAD=${BENCH_PAYLOAD:-32}
BENCH_ECHO_CONNS=${BENCH_ECHO_CONNS:-100}
BENCH_BCAST_CONNS=${BENCH_BCAST_CONNS:-1000}
BENCH_BCAST_WINDOW=${BENCH_BCAST_WINDOW:-8}
BENCH_IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
BENCH_IDLE_BASE=${BENCH_IDLE_BASE:-100}
BENCH_IDLE_PER_PROC=${BENCH_IDLE_PER_PROC:-15000}
BENCH_SERVER_CPU=${BENCH_SERVER_CPU:-0}
BENCH_CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
BENCH_HEADER=${BENCH_HEADER:-}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_ECHO_EVENT=${BENCH_ECHO_EVENT:-echo}
BENCH_REDIS_CPU=${BENCH_REDIS_CPU:-0}
BENCH_PHASES=${BENCH_PHASES:-echo broadcast idle sessions scale}
BENCH_SCALE_CONNS=${BENCH_SCALE_CONNS:-100000}
BENCH_SCALE_WORKERS=${BENCH_SCALE_WORKERS:-8}
BENCH_SCALE_HOLD=${BENCH_SCALE_HOLD:-15}

# Bounds of every wait, in tenths of a second.
START_WAIT=150		# a server to listen
STOP_WAIT=50		# a process to exit after SIGTERM
READY_WAIT=900		# idle connections to be ready
SETTLE_TRIES=20		# RSS readings, half a second apart, to settle
CONNECT_TIMEOUT=60	# loadgen -t: seconds for all connections

work=$(mktemp -d "${TMPDIR:-/tmp}/raind-bench.XXXXXX") || exit 1
pids=""			# every process started, for cleanup
results=$work/results	# lines "server key value"
: >"$results"
# raind's configuration for the phase at hand (raind_conf).
default_maxconn=$((BENCH_IDLE_CONNS + BENCH_IDLE_BASE + BENCH_BCAST_CONNS + 1000))
raind_workers=1
raind_maxconn=$default_maxconn
raind_extra=$RAIND_CONF_EXTRA
raind_listens="127.0.0.1:0"
srv_targets=""		# "host:port ..." of every listener, when several

log() {
	printf '%s\n' "run.sh: $*" >&2
}

# ---------------------------------------------------------------- processes

track() {
	pids="$pids $1"
}

untrack() {
	_n=""
	for _p in $pids; do
		[ "$_p" = "$1" ] || _n="$_n $_p"
	done
	pids=$_n
}

# stop PID: SIGTERM, a bounded wait, then SIGKILL; reaps it.
stop() {
	_pid=$1
	if kill -0 "$_pid" 2>/dev/null; then
		kill -TERM "$_pid" 2>/dev/null
		_i=0
		while kill -0 "$_pid" 2>/dev/null && [ $_i -lt $STOP_WAIT ]; do
			# a child of ours stays a zombie until waited for
			if ! ps -o stat= -p "$_pid" 2>/dev/null | grep -qv Z; then
				break
			fi
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$_pid" 2>/dev/null
	fi
	wait "$_pid" 2>/dev/null
	untrack "$_pid"
}

cleanup() {
	trap - EXIT INT TERM HUP
	for _p in $pids; do
		kill -TERM "$_p" 2>/dev/null
	done
	for _p in $pids; do
		stop "$_p"
	done
	if [ "$BENCH_KEEP" = 1 ]; then
		log "outputs kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The processes of a server: the pid and its children (raind's workers).
family() {
	echo "$1"
	pgrep -P "$1" 2>/dev/null
}

# Resident memory of a server and its children, in KiB.
rss_kb() {
	_sum=0
	for _p in $(family "$1"); do
		_r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$_p/status" 2>/dev/null)
		_sum=$((_sum + ${_r:-0}))
	done
	echo "$_sum"
}

# RSS once it stops moving (two readings within 0.5 %), bounded.
rss_settled() {
	_prev=$(rss_kb "$1")
	_i=0
	while [ $_i -lt $SETTLE_TRIES ]; do
		sleep 0.5
		_cur=$(rss_kb "$1")
		_d=$((_cur - _prev))
		[ $_d -lt 0 ] && _d=$((-_d))
		if [ $((_d * 200)) -le "$_cur" ]; then
			break
		fi
		_prev=$_cur
		_i=$((_i + 1))
	done
	echo "$_cur"
}

# ---------------------------------------------------------------- programs

# loadgen and epollsrv: given, next to this script (in-tree build), or
# built here from the sources with the same flags as the project.
build_tools() {
	[ -n "$LOADGEN" ] || { [ -x "$here/loadgen" ] && LOADGEN=$here/loadgen; }
	[ -n "$EPOLLSRV" ] || { [ -x "$here/epollsrv" ] && EPOLLSRV=$here/epollsrv; }
	if [ -n "$LOADGEN" ] && [ -n "$EPOLLSRV" ]; then
		return 0
	fi
	log "building loadgen and epollsrv in $work"
	mkdir -p "$work/inc"
	echo '#define _GNU_SOURCE 1' >"$work/inc/config.h"
	_flags=$(pkg-config --cflags --libs libevent_core libcrypto) || return 1
	for _t in loadgen epollsrv; do
		# shellcheck disable=SC2086
		${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -I"$work/inc" -I"$top/src" \
		    -o "$work/$_t" "$here/$_t.c" "$top/src/ws_frame.c" \
		    "$top/src/log.c" "$top/src/xmalloc.c" $_flags || return 1
	done
	[ -n "$LOADGEN" ] || LOADGEN=$work/loadgen
	[ -n "$EPOLLSRV" ] || EPOLLSRV=$work/epollsrv
}

# ---------------------------------------------------------------- servers
#
# start_SERVER NAME sets srv_pid, srv_port and srv_cpu_pids (the processes
# whose CPU time counts), or returns 1 with the reason in srv_why.

wait_listening() {		# file pid
	_i=0
	while [ $_i -lt $START_WAIT ]; do
		srv_port=$(sed -n 's/^LISTENING \([0-9][0-9]*\)$/\1/p' "$1" 2>/dev/null | head -n 1)
		[ -n "$srv_port" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

redis_pid=""
srv_redis=""		# with BENCH_REDIS_CPU=1, counted with raind
redis_sock=$work/redis.sock
start_redis() {
	[ -n "$redis_pid" ] && return 0
	if ! command -v redis-server >/dev/null 2>&1; then
		srv_why="RAIND_CONF_EXTRA names @REDIS_SOCKET@ but redis-server is missing"
		return 1
	fi
	redis-server --port 0 --unixsocket "$redis_sock" --unixsocketperm 700 \
	    --save '' --appendonly no --dir "$work" \
	    --logfile "$work/redis.log" >/dev/null 2>&1 &
	redis_pid=$!
	track "$redis_pid"
	_i=0
	while [ ! -S "$redis_sock" ] && [ $_i -lt $START_WAIT ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -S "$redis_sock" ] || { srv_why="redis-server did not start"; return 1; }
}

raind_conf() {
	_conf=$work/raind.conf
	{
		echo "# written by t/bench/run.sh"
		for _l in $raind_listens; do
			echo "listen $_l"
		done
		echo "workers $raind_workers"
		echo "log_level warn"
		echo "shutdown_timeout 2s"
		echo "max_connections $raind_maxconn"
		echo "components \"$RAIND_COMPONENTS\""
		if [ -n "$raind_extra" ]; then
			printf '%s\n' "$raind_extra" |
			    sed -e "s|@REDIS_SOCKET@|$redis_sock|g" \
			    -e "s|@WORK@|$work|g"
		fi
	} >"$_conf"
	# Directives of later versions, kept when this raind knows them.
	printf '%s\n' "$RAIND_CONF_OPTIONAL" | while IFS= read -r _line; do
		[ -n "$_line" ] || continue
		cp "$_conf" "$_conf.try"
		printf '%s\n' "$_line" >>"$_conf.try"
		if "$RAIND" -n -f "$_conf.try" >/dev/null 2>&1; then
			printf '%s\n' "$_line" >>"$_conf"
		fi
	done
	rm -f "$_conf.try"
}

start_raind() {
	srv_why=""
	if [ ! -x "$RAIND" ]; then
		srv_why="no executable at $RAIND"
		return 1
	fi
	if [ ! -d "$RAIND_COMPONENTS/echo" ]; then
		srv_why="no echo component in $RAIND_COMPONENTS (set RAIND_COMPONENTS)"
		return 1
	fi
	case $raind_extra in
	*@REDIS_SOCKET@*) start_redis || return 1 ;;
	esac
	raind_conf
	if ! "$RAIND" -n -f "$work/raind.conf" >"$work/raind.check" 2>&1; then
		srv_why="configuration refused: $(tail -n 3 "$work/raind.check")"
		return 1
	fi
	rm -f "$work/raind.ports"
	taskset -c "$BENCH_SERVER_CPU" "$RAIND" -d -f "$work/raind.conf" \
	    -p "$work/raind.ports" >>"$work/raind.log" 2>&1 &
	srv_pid=$!
	track "$srv_pid"
	_i=0
	srv_port=""
	while [ $_i -lt $START_WAIT ]; do
		if [ -s "$work/raind.ports" ]; then
			srv_port=$(sed -n 's/^.*:\([0-9][0-9]*\)$/\1/p' "$work/raind.ports" | head -n 1)
			[ -n "$srv_port" ] && [ -n "$(pgrep -P "$srv_pid")" ] && break
		fi
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	if [ -z "$srv_port" ] || ! kill -0 "$srv_pid" 2>/dev/null ||
	    [ -z "$(pgrep -P "$srv_pid")" ]; then
		srv_why="no listening worker; log: $(tail -n 3 "$work/raind.log")"
		stop "$srv_pid"
		return 1
	fi
	srv_targets=$(sed -n 's/^\(.*\):\([0-9][0-9]*\)$/\1:\2/p' "$work/raind.ports" |
	    tr '\n' ' ')
	# With workers 1 the master does no client work, but count it too.
	srv_cpu_pids=$(family "$srv_pid")
	srv_redis=""
	case $raind_extra in
	*@REDIS_SOCKET@*) [ "$BENCH_REDIS_CPU" = 1 ] && srv_redis=$redis_pid ;;
	esac
	# The workers are stopped by the master; tracked in case it cannot.
	for _p in $srv_cpu_pids; do
		[ "$_p" = "$srv_pid" ] || track "$_p"
	done
}

node_ready=""
start_node() {
	srv_why=""
	if [ ! -f "$NODE_SERVER" ]; then
		srv_why="no $NODE_SERVER"
		return 1
	fi
	if [ -z "$node_ready" ]; then
		if ! "$top/t/interop/setup.sh" "$NODE_MODULES" >"$work/setup.log" 2>&1; then
			srv_why="socket.io could not be installed: $(tail -n 3 "$work/setup.log")"
			return 1
		fi
		node_ready=1
	fi
	# Emptied here, not by the redirection of the background job, which
	# may run after the first look for LISTENING.
	: >"$work/node.out"
	NODE_PATH="$NODE_MODULES/node_modules" HOST=127.0.0.1 PORT=0 \
	    taskset -c "$BENCH_SERVER_CPU" node "$NODE_SERVER" \
	    >"$work/node.out" 2>>"$work/node.log" &
	srv_pid=$!
	track "$srv_pid"
	if ! wait_listening "$work/node.out" "$srv_pid"; then
		srv_why="did not listen; log: $(tail -n 3 "$work/node.log")"
		stop "$srv_pid"
		return 1
	fi
	srv_cpu_pids=$srv_pid
	srv_redis=""
}

start_epollsrv() {
	srv_why=""
	: >"$work/epollsrv.out"
	taskset -c "$BENCH_SERVER_CPU" "$EPOLLSRV" -p 0 \
	    >"$work/epollsrv.out" 2>>"$work/epollsrv.log" &
	srv_pid=$!
	track "$srv_pid"
	if ! wait_listening "$work/epollsrv.out" "$srv_pid"; then
		srv_why="did not listen; log: $(tail -n 3 "$work/epollsrv.log")"
		stop "$srv_pid"
		return 1
	fi
	srv_cpu_pids=$srv_pid
	srv_redis=""
}

# ---------------------------------------------------------------- phases

put() {				# server key value
	echo "$1 $2 $3" >>"$results"
}

field() {			# key line
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# loadgen on the client core; its output goes to FILE; returns its status.
loadgen() {			# file args...
	_out=$1
	shift
	_s=""
	for _p in $srv_cpu_pids $srv_redis; do
		_s="$_s -S $_p"
	done
	if [ -n "$BENCH_HEADER" ]; then
		set -- -A "$BENCH_HEADER" "$@"
	fi
	# shellcheck disable=SC2086
	taskset -c "$BENCH_CLIENT_CPU" "$LOADGEN" -p "$srv_port" \
	    -t "$CONNECT_TIMEOUT" -K "$BENCH_SERVER_CPU" $_s "$@" >"$_out" 2>&1 &
	_lpid=$!
	track "$_lpid"
	wait "$_lpid"
	_st=$?
	untrack "$_lpid"
	return $_st
}

phase_failed() {		# server phase file
	log "$1: $2 failed; loadgen said:"
	grep -v '^RESULT' "$3" | tail -n 8 | sed -e 's/^/    /' >&2
}

run_echo() {			# server [key prefix] [event] [extra loadgen args...]
	_srv=$1
	_k=${2:-echo}
	# Only raind's echo component has the other events.
	_e=echo
	[ "$_srv" = raind ] && _e=${3:-$BENCH_ECHO_EVENT}
	[ $# -ge 3 ] && shift 3 || set --
	_f=$work/$_srv.$_k.out
	log "$_srv: echo ($_e), $BENCH_ECHO_CONNS connections, ${BENCH_DURATION}s"
	if ! loadgen "$_f" -m echo -c "$BENCH_ECHO_CONNS" -d "$BENCH_DURATION" \
	    -w "$BENCH_WARMUP" -s "$BENCH_PAYLOAD" -e "$_e" "$@"; then
		phase_failed "$_srv" "$_k" "$_f"
		put "$_srv" "${_k}_fail" 1
		return
	fi
	_r=$(sed -n 's/^RESULT //p' "$_f")
	put "$_srv" "${_k}_rate" "$(field rate "$_r")"
	put "$_srv" "${_k}_p50" "$(field p50_us "$_r")"
	put "$_srv" "${_k}_p99" "$(field p99_us "$_r")"
	put "$_srv" "${_k}_cpu" "$(field server_cpu_us_per_op "$_r")"
	put "$_srv" "${_k}_core" "$(field core_us_per_op "$_r")"
	put "$_srv" "${_k}_lg" "$(field lg_cpu_pct "$_r")"
}

# raind with sessions in a private Redis: the echo component's
# session-echo event reloads the session before every event (RAIN's
# rule), with the session cache on (the default) and off.
run_sessions() {
	_secret=$work/cookie-secret
	( umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$_secret" )
	_redis_cpu=$BENCH_REDIS_CPU
	BENCH_REDIS_CPU=1	# the session store's work is the server's
	for _c in on off; do
		_size=4096
		_k=secho
		[ $_c = off ] && { _size=0; _k=secho0; }
		raind_extra="redis unix:@REDIS_SOCKET@
cookie_secret_file $_secret
session_create yes
session_cache_size $_size"
		if ! start_raind; then
			log "raind: with sessions: failed to start: $srv_why"
			put raind "${_k}_fail" 1
			continue
		fi
		log "raind: sessions in Redis, session cache $_c"
		run_echo raind "$_k" session-echo
		stop_server
	done
	BENCH_REDIS_CPU=$_redis_cpu
	raind_extra=$RAIND_CONF_EXTRA
}

# Many idle sessions on several workers: the ramp (connections a second
# until all are up), the RSS per connection over the workers, and that
# none is lost while held over several heartbeats (pings answered).
run_scale() {
	raind_workers=$BENCH_SCALE_WORKERS
	raind_listens="127.0.0.1:0 127.0.0.2:0 127.0.0.3:0 127.0.0.4:0 127.0.0.5:0 127.0.0.6:0 127.0.0.7:0 127.0.0.8:0"
	raind_maxconn=$((BENCH_SCALE_CONNS / BENCH_SCALE_WORKERS + 2000))
	raind_extra="$RAIND_CONF_EXTRA
ping_interval 5s
ping_timeout 10s"
	if ! start_raind; then
		log "raind: scale: failed to start: $srv_why"
		put raind scale_fail 1
		raind_workers=1
		raind_extra=$RAIND_CONF_EXTRA
		return
	fi
	log "raind: $BENCH_SCALE_CONNS idle sessions on $BENCH_SCALE_WORKERS workers, held ${BENCH_SCALE_HOLD}s"
	idle_pids=""
	_rss0=$(rss_kb "$srv_pid")
	_t0=$(date +%s.%N)
	idle_targets=$srv_targets
	if idle_open raind scale "$BENCH_SCALE_CONNS"; then
		_t1=$(date +%s.%N)
		sleep "$BENCH_SCALE_HOLD"
		_rss1=$(rss_settled "$srv_pid")
		put raind scale_rate "$(echo "$_t0 $_t1" |
		    awk -v n="$BENCH_SCALE_CONNS" '{ printf "%.0f", n / ($2 - $1) }')"
		put raind scale_rss "$(((_rss1 - _rss0) * 1024 / BENCH_SCALE_CONNS))"
	else
		put raind scale_fail 1
	fi
	idle_targets=""
	for _p in $idle_pids; do
		stop "$_p"
	done
	_lost=$(grep -h '^RESULT' "$work"/raind.idle.scale.*.out 2>/dev/null |
	    sed -n 's/.* lost=\([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
	put raind scale_lost "$_lost"
	stop_server
	raind_workers=1
	raind_maxconn=$default_maxconn
	raind_extra=$RAIND_CONF_EXTRA
	raind_listens="127.0.0.1:0"
}

# Twice: with one broadcast in flight, every server must write each
# delivery on its own (the fair comparison of CPU per delivery, and the one
# where loopback TCP shows); with BENCH_BCAST_WINDOW in flight, a server
# may coalesce the frames queued for one socket into one write.
run_broadcast() {		# server
	_windows=1
	[ "$BENCH_BCAST_WINDOW" = 1 ] || _windows="1 $BENCH_BCAST_WINDOW"
	for _w in $_windows; do
		if [ "$_w" = 1 ]; then _k="bc1"; else _k="bc"; fi
		_f=$work/$1.broadcast.$_w.out
		log "$1: broadcast, $BENCH_BCAST_CONNS sockets, window $_w, ${BENCH_DURATION}s"
		if ! loadgen "$_f" -m broadcast -c "$BENCH_BCAST_CONNS" \
		    -d "$BENCH_DURATION" -w "$BENCH_WARMUP" -s "$BENCH_PAYLOAD" \
		    -k "$_w"; then
			phase_failed "$1" "broadcast (window $_w)" "$_f"
			put "$1" "${_k}_fail" 1
			continue
		fi
		_r=$(sed -n 's/^RESULT //p' "$_f")
		put "$1" "${_k}_rate" "$(field rate "$_r")"
		put "$1" "${_k}_cpu" "$(field server_cpu_us_per_op "$_r")"
		put "$1" "${_k}_core" "$(field core_us_per_op "$_r")"
		put "$1" "${_k}_lg" "$(field lg_cpu_pct "$_r")"
	done
}

# Start idle loadgens for N connections, spread over processes; their pids
# go to idle_pids.  Then wait until each printed READY with its count.
idle_open() {			# server tag count
	_io_srv=$1
	_io_tag=$2
	_left=$3
	_k=0
	_started=""
	set --
	if [ -n "$BENCH_HEADER" ]; then
		set -- -A "$BENCH_HEADER"
	fi
	idle_targets=${idle_targets:-}
	# One client address has about 28,000 ports for one server address:
	# with several listeners (the scale phase), processes take turns.
	set -- $idle_targets "--" "$@"
	_ntargets=0
	while [ "$1" != "--" ]; do
		_ntargets=$((_ntargets + 1))
		eval "_target_$_ntargets=\$1"
		shift
	done
	shift
	while [ "$_left" -gt 0 ]; do
		_n=$_left
		[ "$_n" -gt "$BENCH_IDLE_PER_PROC" ] && _n=$BENCH_IDLE_PER_PROC
		_f=$work/$_io_srv.idle.$_io_tag.$_k.out
		_host=127.0.0.1
		_port=$srv_port
		if [ "$_ntargets" -gt 0 ]; then
			eval "_t=\$_target_$((_k % _ntargets + 1))"
			_host=${_t%:*}
			_port=${_t##*:}
		fi
		taskset -c "$BENCH_CLIENT_CPU" "$LOADGEN" -H "$_host" -p "$_port" \
		    -m idle -c "$_n" -t "$CONNECT_TIMEOUT" -l 600 "$@" >"$_f" 2>&1 &
		track $!
		idle_pids="$idle_pids $!"
		_started="$_started $!:$_n:$_f"
		_left=$((_left - _n))
		_k=$((_k + 1))
	done
	for _e in $_started; do
		_pid=${_e%%:*}
		_rest=${_e#*:}
		_n=${_rest%%:*}
		_f=${_rest#*:}
		_i=0
		while ! grep -q "^READY $_n\$" "$_f" 2>/dev/null; do
			if ! kill -0 "$_pid" 2>/dev/null || [ $_i -ge $READY_WAIT ]; then
				phase_failed "$_io_srv" "idle ($_io_tag, $_n connections)" "$_f"
				return 1
			fi
			sleep 0.1
			_i=$((_i + 1))
		done
	done
}

run_idle() {			# server
	log "$1: idle, RSS with $BENCH_IDLE_BASE then $((BENCH_IDLE_BASE + BENCH_IDLE_CONNS)) connections"
	idle_pids=""
	_ok=1
	if idle_open "$1" base "$BENCH_IDLE_BASE"; then
		_rss0=$(rss_settled "$srv_pid")
		if idle_open "$1" main "$BENCH_IDLE_CONNS"; then
			_rss1=$(rss_settled "$srv_pid")
		else
			_ok=0
		fi
	else
		_ok=0
	fi
	for _p in $idle_pids; do
		stop "$_p"
	done
	# A connection the server dropped while held spoils the figure.
	if [ $_ok = 1 ] && grep -h '^RESULT' "$work/$1".idle.*.out |
	    grep -qv ' lost=0 '; then
		log "$1: idle connections were lost while held"
		_ok=0
	fi
	if [ $_ok = 0 ]; then
		put "$1" idle_fail 1
		return
	fi
	put "$1" idle_rss "$(((_rss1 - _rss0) * 1024 / BENCH_IDLE_CONNS))"
	put "$1" idle_base_kb "$_rss0"
	put "$1" idle_total_kb "$_rss1"
}

# The server and, for raind, the workers it should have stopped itself.
stop_server() {
	stop "$srv_pid"
	for _p in $srv_cpu_pids; do
		[ "$_p" = "$srv_pid" ] || stop "$_p"
	done
}

bench_server() {		# server
	_name=$1
	if ! "start_$_name"; then
		log "$_name: failed to start: $srv_why"
		put "$_name" start_fail 1
		return
	fi
	log "$_name: pid $srv_pid, port $srv_port"
	case " $BENCH_PHASES " in *" echo "*) run_echo "$_name" ;; esac
	case " $BENCH_PHASES " in *" broadcast "*) run_broadcast "$_name" ;; esac
	stop_server
	if [ "$_name" = raind ]; then
		case " $BENCH_PHASES " in *" sessions "*) run_sessions ;; esac
		case " $BENCH_PHASES " in *" scale "*) run_scale ;; esac
	fi
	case " $BENCH_PHASES " in *" idle "*) ;; *) return ;; esac
	# A fresh server for memory: the other phases leave caches behind.
	if ! "start_$_name"; then
		log "$_name: failed to restart: $srv_why"
		put "$_name" idle_fail 1
		return
	fi
	run_idle "$_name"
	stop_server
}

# ---------------------------------------------------------------- report

report() {
	awk -v servers="raind node epollsrv" -v run="$BENCH_SERVERS" \
	    -v echo_conns="$BENCH_ECHO_CONNS" -v bc_conns="$BENCH_BCAST_CONNS" \
	    -v window="$BENCH_BCAST_WINDOW" -v idle_conns="$BENCH_IDLE_CONNS" \
	    -v scale_conns="$BENCH_SCALE_CONNS" -v scale_workers="$BENCH_SCALE_WORKERS" '
	{ v[$1, $2] = $3 }
	function has(s, k) { return ((s, k) in v) && v[s, k] != "" && v[s, k] >= 0 }
	function cell(s, k, fail,   t) {
		if (index(" " run " ", " " s " ") == 0) return "-"
		if ((s, "start_fail") in v) return "no start"
		if ((s, fail) in v) return "failed"
		if (!has(s, k)) return "n/a"
		t = v[s, k] + 0
		if (t >= 1000) return sprintf("%.0f", t)
		if (t >= 10) return sprintf("%.1f", t)
		return sprintf("%.2f", t)
	}
	function num(s, k, fail) { return cell(s, k, fail) ~ /^[0-9.]+$/ }
	function ratio(a, b, k, fail) {
		if (!num(a, k, fail) || !num(b, k, fail) || v[b, k] + 0 == 0) return "-"
		return sprintf("%.2f", v[a, k] / v[b, k])
	}
	# with_ratios 0: a row whose ratio would mean nothing
	function row(label, k, fail, with_ratios) {
		if (k == "") {
			print label
			return
		}
		printf "%-40s %10s %10s %10s %10s %11s\n", label, cell("raind", k, fail),
		    cell("node", k, fail), cell("epollsrv", k, fail),
		    with_ratios ? ratio("raind", "node", k, fail) : "",
		    with_ratios ? ratio("raind", "epollsrv", k, fail) : ""
	}
	function verdict(ok, known) { return known ? (ok ? "met" : "missed") : "not measured" }
	END {
		printf "\n%-40s %10s %10s %10s %10s %11s\n", "", "raind", "node", "epollsrv", "raind/node", "raind/epoll"
		row("echo messages/s (" echo_conns " connections)", "echo_rate", "echo_fail", 1)
		row("echo latency p50 (us)", "echo_p50", "echo_fail", 1)
		row("echo latency p99 (us)", "echo_p99", "echo_fail", 1)
		row("server CPU per echo round trip (us)", "echo_cpu", "echo_fail", 1)
		row("  server core busy per echo (us)", "echo_core", "echo_fail", 1)
		row("  loadgen CPU (%)", "echo_lg", "echo_fail", 0)
		row("RSS per idle connection (bytes)", "idle_rss", "idle_fail", 1)
		row("broadcast to " bc_conns ", 1 in flight:", "", "", 0)
		row("  deliveries/s", "bc1_rate", "bc1_fail", 1)
		row("  server CPU per delivery (us)", "bc1_cpu", "bc1_fail", 1)
		row("  server core busy per delivery (us)", "bc1_core", "bc1_fail", 1)
		row("  loadgen CPU (%)", "bc1_lg", "bc1_fail", 0)
		row("broadcast to " bc_conns ", " window " in flight:", "", "", 0)
		row("  deliveries/s", "bc_rate", "bc_fail", 1)
		row("  server CPU per delivery (us)", "bc_cpu", "bc_fail", 1)
		row("  server core busy per delivery (us)", "bc_core", "bc_fail", 1)
		row("  loadgen CPU (%)", "bc_lg", "bc_fail", 0)
		row("echo with sessions in Redis (raind + redis-server):", "", "", 0)
		row("  server CPU per round trip (us)", "secho_cpu", "secho_fail", 0)
		row("  ... session cache off (us)", "secho0_cpu", "secho0_fail", 0)
		row("  messages/s, cache on", "secho_rate", "secho_fail", 0)
		row(scale_conns " idle sessions, " scale_workers " workers:", "", "", 0)
		row("  ramp (connections/s)", "scale_rate", "scale_fail", 0)
		row("  RSS per connection (bytes)", "scale_rss", "scale_fail", 0)
		row("  lost while held over heartbeats", "scale_lost", "scale_fail", 0)

		print "\ntargets (issue 11), on server process CPU time, against epollsrv (the floor):"
		m = cell("raind", "idle_rss", "idle_fail")
		printf "  RSS per idle connection <= 1536 B (" idle_conns "):    raind %-9s %s\n", m, verdict(m + 0 <= 1536, num("raind", "idle_rss", "idle_fail"))
		m = cell("raind", "scale_rss", "scale_fail")
		printf "  RSS per idle connection <= 1536 B (" scale_conns "):   raind %-9s %s\n", m, verdict(m + 0 <= 1536, num("raind", "scale_rss", "scale_fail"))
		r = num("raind", "secho_cpu", "secho_fail") && num("epollsrv", "echo_cpu", "echo_fail") && v["epollsrv", "echo_cpu"] > 0 ? sprintf("%.2f", v["raind", "secho_cpu"] / v["epollsrv", "echo_cpu"]) : "-"
		printf "  echo with sessions <= 1.3x the floor:       raind/epoll %-6s %s\n", r, verdict(r + 0 <= 1.3, r != "-")
		r = ratio("raind", "epollsrv", "echo_cpu", "echo_fail")
		printf "  echo without sessions <= 1.2x the floor:    raind/epoll %-6s %s\n", r, verdict(r + 0 <= 1.2, r != "-")
		r = ratio("raind", "epollsrv", "bc1_cpu", "bc1_fail")
		printf "  broadcast delivery <= 1.1x the floor:       raind/epoll %-6s %s\n", r, verdict(r + 0 <= 1.1, r != "-")
		m = cell("raind", "scale_lost", "scale_fail")
		printf "  " scale_conns " held with pings answered:          lost %-10s %s\n", m, verdict(m == "0.00" || m == "0", num("raind", "scale_lost", "scale_fail"))
		m = cell("raind", "scale_rate", "scale_fail")
		printf "  ramp >= 4000 connections/s:                 raind %-9s %s\n", m, verdict(m + 0 >= 4000, num("raind", "scale_rate", "scale_fail"))

		print "\ndesign targets (issue 4), on server process CPU time:"
		r = ratio("raind", "node", "echo_cpu", "echo_fail")
		printf "  CPU per echo <= 1/5 of node:                  raind/node  %-6s %s\n", r, verdict(r + 0 <= 0.2, r != "-")
		m = cell("raind", "idle_rss", "idle_fail")
		r = ratio("raind", "node", "idle_rss", "idle_fail")
		printf "  RSS per idle connection < 1536 bytes:         raind %-12s %s\n", m, verdict(m + 0 < 1536, num("raind", "idle_rss", "idle_fail"))
		printf "  RSS per idle connection <= 1/10 of node:      raind/node  %-6s %s\n", r, verdict(r + 0 <= 0.1, r != "-")
		r = ratio("raind", "node", "bc1_cpu", "bc1_fail")
		printf "  CPU per delivery below node (1 in flight):    raind/node  %-6s %s\n", r, verdict(r + 0 < 1, r != "-")
		r = ratio("raind", "epollsrv", "bc1_cpu", "bc1_fail")
		printf "  CPU per delivery <= 1.3x epollsrv (1 in fl.): raind/epoll %-6s %s\n", r, verdict(r + 0 <= 1.3, r != "-")

		n = split(servers, sv, " ")
		for (i = 1; i <= n; i++) {
			s = sv[i]
			if (has(s, "echo_lg") && v[s, "echo_lg"] >= 90)
				printf "note: loadgen used %s%% of its core in the echo run against %s: that rate is bounded by the client\n", v[s, "echo_lg"], s
			if (has(s, "bc1_lg") && v[s, "bc1_lg"] >= 90)
				printf "note: loadgen used %s%% of its core in the broadcast run (1 in flight) against %s: that rate is bounded by the client\n", v[s, "bc1_lg"], s
			if (has(s, "bc_lg") && v[s, "bc_lg"] >= 90)
				printf "note: loadgen used %s%% of its core in the broadcast run (%s in flight) against %s: that rate is bounded by the client\n", v[s, "bc_lg"], window, s
		}
	}' "$results"
}

# Busy percentage of a core over half a second, from /proc/stat.
core_busy_pct() {
	_a=$(grep "^cpu$1 " /proc/stat)
	sleep 0.5
	_b=$(grep "^cpu$1 " /proc/stat)
	printf '%s\n%s\n' "$_a" "$_b" | awk '
	{ busy[NR] = $2 + $3 + $4 + $7 + $8; all[NR] = busy[NR] + $5 + $6 + $9 }
	END { d = all[2] - all[1]; print (d > 0 ? int(100 * (busy[2] - busy[1]) / d) : 0) }'
}

# Other work on the two cores disturbs rates and latencies (CPU time per
# operation much less): say so.
check_quiet() {
	for _c in "$BENCH_SERVER_CPU" "$BENCH_CLIENT_CPU"; do
		_b=$(core_busy_pct "$_c")
		if [ "$_b" -gt 5 ]; then
			log "note: CPU $_c is already ${_b}% busy with other processes; rates and latencies will suffer"
			echo "note: CPU $_c was ${_b}% busy with other processes at the start" >>"$work/notes"
		fi
	done
}

# ---------------------------------------------------------------- main

main() {
	for _t in taskset pgrep awk; do
		if ! command -v "$_t" >/dev/null 2>&1; then
			log "$_t is required"
			exit 1
		fi
	done
	if ! build_tools; then
		log "cannot build loadgen and epollsrv"
		exit 1
	fi
	log "server on CPU $BENCH_SERVER_CPU, loadgen on CPU $BENCH_CLIENT_CPU; work folder $work"
	check_quiet
	for _srv in $BENCH_SERVERS; do
		case $_srv in
		raind|node|epollsrv) bench_server "$_srv" ;;
		*) log "unknown server $_srv (raind, node, epollsrv)" ;;
		esac
	done
	for _srv in $BENCH_SERVERS; do
		if grep -q "^$_srv start_fail" "$results"; then
			echo "$_srv: failed to start"
		fi
	done
	report
	# Figures, not a verdict: a missed target or a server that failed is
	# in the table, and the run itself succeeded (status 0).
	if [ -f "$work/notes" ]; then
		cat "$work/notes"
	fi
}

main
