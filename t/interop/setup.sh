#!/bin/sh
# setup.sh DEST - install the npm modules of the interop tests into DEST/node_modules.
#
# Scheme: the modules live outside the source tree (which may be read-only in
# `make check`, e.g. during distcheck). This script copies package.json and
# package-lock.json next to it into DEST and runs `npm ci --no-audit --no-fund`
# there. The test files (t/interop/*.test.js) and echo-server.js stay where they
# are and find the modules through NODE_PATH:
#
#     t/interop/setup.sh "$builddir/t/interop-modules"
#     NODE_PATH="$builddir/t/interop-modules/node_modules" \
#         SIO_URL=http://127.0.0.1:PORT node --test t/interop/*.test.js
#
# (run-tests.sh does both.) Plain CommonJS require() consults NODE_PATH after the
# usual node_modules lookup, so a node_modules installed directly in t/interop for
# development works as well.
#
# The install is skipped when DEST/node_modules was made from the same
# package-lock.json (a checksum is kept in DEST/node_modules/.interop-lock.sum) by
# the same Node major version. Concurrent runs for one DEST wait for each other.
# Exit status: 0 ready, 77 (automake's SKIP) when node or npm is missing, other
# values on failure.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DEST" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
dest=$(cd "$1" && pwd)

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "setup.sh: $tool not found; the interop tests need Node.js >= 20 and npm" >&2
		exit 77
	fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "setup.sh: Node.js $(node --version) is too old; the interop tests need >= 20" >&2
	exit 77
fi

sum() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	else
		node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha256").update(f.readFileSync(process.argv[1])).digest("hex"))' "$1"
	fi
}
want="$(sum "$here/package-lock.json") node$major"
stamp="$dest/node_modules/.interop-lock.sum"

up_to_date() {
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]
}

if up_to_date; then
	exit 0
fi

# one installer at a time per DEST (mkdir is atomic); a lock older than 10 minutes
# is stale
lock="$dest/.interop-setup.lock"
tries=0
while ! mkdir "$lock" 2>/dev/null; do
	if [ -n "$(find "$lock" -maxdepth 0 -mmin +10 2>/dev/null)" ]; then
		rmdir "$lock" 2>/dev/null || true
		continue
	fi
	tries=$((tries + 1))
	if [ "$tries" -gt 1200 ]; then
		echo "setup.sh: gave up waiting for $lock" >&2
		exit 1
	fi
	sleep 0.5
done
trap 'rmdir "$lock" 2>/dev/null || true' EXIT INT TERM

if up_to_date; then
	exit 0
fi

if [ "$here" != "$dest" ]; then
	cp "$here/package.json" "$here/package-lock.json" "$dest/"
	chmod u+w "$dest/package.json" "$dest/package-lock.json"
fi
rm -f "$stamp"
echo "setup.sh: npm ci in $dest" >&2
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >&2)
printf '%s\n' "$want" >"$stamp"
