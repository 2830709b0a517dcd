#!/bin/sh
# run-tests.sh DEST [TEST.js ...] - run the interop tests against the server at
# $SIO_URL, with the npm modules installed (by setup.sh) in DEST/node_modules.
# Without test files every t/interop/*.test.js runs.
#
# Environment (see lib.js): SIO_URL (required), SIO_URL2, SIO_PATH,
# SIO_HANDLER_TIMEOUT, SIO_COOKIE_SECRET_FILE, SIO_COOKIE_NAME, SIO_TIMEOUT, and
# SIO_TEST_REPORTER (node --test reporter, default: tap, or spec on a terminal).
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 DEST [TEST.js ...]" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
dest=$1
shift
if [ -z "${SIO_URL:-}" ]; then
	echo "run-tests.sh: SIO_URL is not set" >&2
	exit 2
fi

"$here/setup.sh" "$dest"
dest=$(cd "$dest" && pwd)

if [ $# -eq 0 ]; then
	set -- "$here"/*.test.js
fi
if [ -n "${SIO_TEST_REPORTER:-}" ]; then
	reporter=$SIO_TEST_REPORTER
elif [ -t 1 ]; then
	reporter=spec
else
	reporter=tap
fi

NODE_PATH="$dest/node_modules${NODE_PATH:+:$NODE_PATH}"
export NODE_PATH
# every single test is bounded; the tests bound each wait themselves
exec node --test --test-timeout=60000 --test-reporter="$reporter" "$@"
