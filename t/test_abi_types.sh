#!/bin/sh
# The handler API is typed: a module that passes the wrong type to a
# RAIN_* constructor does not compile (with the warnings every compiler
# gives for it made errors), and the same module typed right does.
set -u
srcdir=${RAIND_SRCDIR:-.}
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/raind-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0

try() {	# expect(0 compiles, 1 refused) name body
	expect=$1
	name=$2
	cat > "$tmp/$name.c" <<EOT
#include <rain/handler.h>
static int
on_x(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	$3
}
static const struct rain_listener listeners[] = {
	{ "x", on_x, 0 }, { NULL, NULL, 0 }
};
RAIN_WEBSOCKET("x", NULL, listeners);
EOT
	if $cc -std=c11 -Wall -Wextra -Werror -fPIC -shared -I"$srcdir/src" \
	    -o "$tmp/$name.so" "$tmp/$name.c" 2>"$tmp/$name.err"; then
		got=0
	else
		got=1
	fi
	if [ "$got" = "$expect" ]; then
		echo "ok - $name"
	else
		echo "FAIL - $name (expected $( [ "$expect" = 0 ] && echo compiling || echo a compile error))"
		cat "$tmp/$name.err"
		fails=$((fails + 1))
	fi
}

try 0 typed_right 'return (rain_reply(ev, RAIN_OBJECT(RAIN_KV("n", RAIN_INT(1)), RAIN_KV("s", RAIN_STR("a")))));'
try 1 int_as_string 'return (rain_reply(ev, RAIN_STR(42)));'
try 1 string_as_int 'return (rain_reply(ev, RAIN_INT("42")));'
try 1 event_as_value 'return (rain_reply(ev, RAIN_VALUE(ev)));'
try 1 raw_string_as_arg 'return (rain_reply(ev, "pong"));'
try 1 raw_list 'return (rain_ack(ev, "1, 2"));'
try 1 binary_length_as_pointer 'return (rain_reply(ev, RAIN_BINARY(3, "abc")));'
try 0 old_format_is_gone_right 'return (rain_ack(ev, RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0))));'
try 1 old_format_call 'return (rain_ack(ev, "%A", ev, 0));'

[ "$fails" = 0 ] || exit 1
