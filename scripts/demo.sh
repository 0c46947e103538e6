#!/usr/bin/env bash
# The main job, out of the box: build custody, create an archive with the
# TEST-ONLY keys of keys-example/dropsite, ingest the synthetic sample leak,
# verify it (shallow and deep), print the checkpoint, prove one record and
# check that proof the way a partner would, then extract a document.
# Usage: scripts/demo.sh [ARCHIVE_DIR]   (default: ./demo-archive, recreated)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
archive=${1:-"$repo/demo-archive"}

echo "== building custody (release)"
cargo build --release --locked --quiet
custody="${CARGO_TARGET_DIR:-$repo/target}/release/custody"

# Git keeps no file modes: the example secret keys arrive world-readable, and
# custody (like ssh) refuses those. They are TEST-ONLY keys (keys-example/README.md).
keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
cp -r keys-example/dropsite "$keys/"
chmod 700 "$keys/dropsite"
chmod 600 "$keys/dropsite/signing.key" "$keys/dropsite/identity.age"
k="$keys/dropsite"

rm -rf "$archive"
echo "== custody init $archive"
"$custody" init "$archive" --signing-key "$k/signing.key" \
    --recipient "$k/recipient.txt" --no-remember-key
export CUSTODY_ARCHIVE="$archive" CUSTODY_SIGNING_KEY="$k/signing.key"

echo "== custody ingest examples/sample-leak"
"$custody" ingest examples/sample-leak --source "demo source" --case DEMO-1 \
    --note "synthetic sample documents"

echo "== custody verify"
"$custody" verify
echo "== custody verify --deep"
"$custody" verify --deep -i "$k/identity.age"

echo "== custody log -i identity"
"$custody" log -i "$k/identity.age"

echo "== custody checkpoint (C2SP signed note)"
"$custody" checkpoint

echo "== custody prove 2 > $archive.record-2.tlog-proof, then verify-proof as a partner would"
"$custody" prove 2 > "$archive.record-2.tlog-proof"
"$custody" verify-proof "$archive.record-2.tlog-proof" --trust "$k/signing.vkey"

out=$(mktemp -d)/memo.txt
echo "== custody extract 6 -o $out"
"$custody" extract 6 -i "$k/identity.age" -o "$out"
cmp "$out" examples/sample-leak/memos/2026-03-14-board-memo.txt && echo "extracted bytes are identical to the original"
echo "== done: archive in $archive"
