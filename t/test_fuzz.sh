#!/bin/sh
# A short, bounded run of every libFuzzer target over its seed corpus.
# Long runs: make fuzz, then e.g. t/fuzz/fuzz_http -runs=10000000 t/fuzz/corpus/http
set -u
builddir=${RAIND_BUILDDIR:-.}
srcdir=${RAIND_SRCDIR:-.}
if [ -z "${FUZZ_CC:-}" ]; then
	echo "clang not found: fuzz targets skipped"
	exit 77
fi
runs=${FUZZ_RUNS:-20000}
status=0
found=0
for bin in "$builddir"/t/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	found=1
	name=${bin##*/fuzz_}
	scratch=$(mktemp -d)
	# New inputs go to the scratch dir; the corpus in the tree stays as it is.
	if "$bin" -runs="$runs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	    "$scratch" "$srcdir/t/fuzz/corpus/$name" >"$scratch.log" 2>&1; then
		echo "ok - fuzz_$name: $(grep -o 'Done [0-9]* runs' "$scratch.log")"
	else
		echo "FAIL - fuzz_$name"
		tail -40 "$scratch.log"
		status=1
	fi
	rm -rf "$scratch" "$scratch.log"
done
[ $found = 1 ] || { echo "no fuzz targets built"; exit 77; }
exit $status
