#!/bin/sh
# Assemble ready-to-use components folders in the build tree, for the
# tests and "make run".  libtool leaves built modules in .libs/ of the
# build tree while meta.json and client files stay in the source tree
# (VPATH builds), so neither tree alone is a components folder.
#
# usage: components-assemble.sh bundled|tests srcdir builddir
#
#   bundled: $builddir/handlers/built/<id>/, the bundled components
#   tests:   $builddir/t/components-trees/<tree>/, the test trees of
#            t/components, where each "<name>.so.link" file names the
#            test module (t/modules/<module>.la) to put there as
#            <name>.so, or holds "@garbage" for a file that is not a
#            shared object.
set -eu
mode=$1
srcdir=$2
builddir=$3

bundled() {
	out=$builddir/handlers/built
	rm -rf "$out.tmp"
	mkdir -p "$out.tmp"
	for meta in "$srcdir"/handlers/*/meta.json; do
		[ -f "$meta" ] || continue
		dir=${meta%/meta.json}
		id=${dir##*/}
		mkdir -p "$out.tmp/$id/server/websockets"
		cp "$meta" "$out.tmp/$id/meta.json"
		if [ -d "$dir/client" ]; then
			cp -R "$dir/client" "$out.tmp/$id/client"
		fi
		ws=$builddir/handlers/$id/server/websockets
		[ -d "$ws" ] || continue
		# Keep sub-folders, drop libtool's .libs level.
		find "$ws" -path '*/.libs/*.so' -type f | while read -r so; do
			rel=${so#"$ws"/}
			rel=$(printf '%s\n' "$rel" | sed -e 's|\.libs/||')
			mkdir -p "$out.tmp/$id/server/websockets/$(dirname "$rel")"
			cp "$so" "$out.tmp/$id/server/websockets/$rel"
		done
	done
	chmod -R u+w "$out.tmp"
	rm -rf "$out"
	mv "$out.tmp" "$out"
}

tests() {
	trees=$builddir/t/components-trees
	rm -rf "$trees.tmp"
	mkdir -p "$trees.tmp"
	cp -R "$srcdir"/t/components/. "$trees.tmp"/
	chmod -R u+w "$trees.tmp"
	find "$trees.tmp" -name '*.so.link' -type f | while read -r link; do
		name=$(cat "$link")
		so=${link%.link}
		case $name in
		@garbage)
			echo "this is not a shared object" > "$so"
			;;
		*)
			cp "$builddir/t/modules/.libs/$name.so" "$so"
			;;
		esac
		rm -f "$link"
	done
	rm -rf "$trees"
	mv "$trees.tmp" "$trees"
}

case $mode in
bundled)
	bundled
	;;
tests)
	tests
	;;
*)
	echo "usage: $0 bundled|tests srcdir builddir" >&2
	exit 2
	;;
esac
