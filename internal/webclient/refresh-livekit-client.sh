#!/usr/bin/env bash
# Refreshes the web client's copy of livekit-client (LiveKit's browser SDK,
# Apache-2.0) from the npm registry: the prebuilt ES module and its licence,
# into assets/vendor/livekit-client/. No Node toolchain: curl, openssl, base64
# and tar.
#
# The tarball must match the sha512 pinned below, which must also be what
# the registry's metadata says. To move to another release, set VERSION,
# empty INTEGRITY, run the script: it checks the tarball against the
# registry's integrity and prints the value to pin.
#
#   internal/webclient/refresh-livekit-client.sh
set -euo pipefail

VERSION=2.23.0
INTEGRITY=sha512-j9Kg86nJjBjNFUD+ukp2jwMCGa0k+YD5gU//RzAM+ZY3pbG631QCte7fQjwqWMmtBzhDJL9nKYuOLMv/9IbAxg==

REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}
here=$(cd "$(dirname "$0")" && pwd)
dest=$here/assets/vendor/livekit-client
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The version's metadata (one JSON object) names the tarball and its hash.
curl -sSf "$REGISTRY/livekit-client/$VERSION" -o "$work/meta.json"
field() { grep -oE "\"$1\" *: *\"[^\"]*\"" "$work/meta.json" | head -n1 | sed -E 's/.*: *"([^"]*)"/\1/'; }
tarball=$(field tarball)
published=$(field integrity)
if [[ -z $tarball || $published != sha512-* ]]; then
	echo "no tarball or sha512 integrity in the registry's metadata of livekit-client@$VERSION" >&2
	exit 1
fi
if [[ -z $INTEGRITY ]]; then
	echo "no integrity pinned: using the registry's, $published" >&2
	INTEGRITY=$published
elif [[ $published != "$INTEGRITY" ]]; then
	echo "the registry says livekit-client@$VERSION is $published, the script pins $INTEGRITY" >&2
	exit 1
fi

curl -sSf "$tarball" -o "$work/package.tgz"
got=sha512-$(openssl dgst -sha512 -binary "$work/package.tgz" | base64 -w0)
if [[ $got != "$INTEGRITY" ]]; then
	echo "livekit-client-$VERSION.tgz is $got, expected $INTEGRITY" >&2
	exit 1
fi

tar -xzf "$work/package.tgz" -C "$work" package/LICENSE package/dist/livekit-client.esm.mjs
mkdir -p "$dest"
# .js rather than .mjs: every server, and Go's mime table on any system,
# serves .js as JavaScript, which module scripts require.
cp "$work/package/dist/livekit-client.esm.mjs" "$dest/livekit-client.esm.js"
cp "$work/package/LICENSE" "$dest/LICENSE"
echo "$VERSION" >"$dest/VERSION"
echo "livekit-client $VERSION ($INTEGRITY) is in $dest" >&2
echo "pin: INTEGRITY=$INTEGRITY" >&2
