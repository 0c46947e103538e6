#!/usr/bin/env bash
# The main job, out of the box: build custody, create an archive with the
# TEST-ONLY keys of keys-example/dropsite, ingest the synthetic sample leak,
# verify it (shallow and deep), print the checkpoint, prove one record and
# check that proof the way a partner would, then extract a document; then the
# partners: +972 witnesses Drop Site's checkpoint, Drop Site shares a document
# with the Guardian, which verifies the bundle offline, receives it and traces it;
# an editor and a lawyer approve it, and the audit before publication runs.
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
for o in dropsite guardian 972mag; do
    cp -r "keys-example/$o" "$keys/"
    chmod 700 "$keys/$o"
    chmod 600 "$keys/$o/signing.key" "$keys/$o/identity.age" "$keys/$o/witness.key" "$keys/$o/admin.key"
done
k="$keys/dropsite"

rm -rf "$archive"
echo "== custody init $archive (record 0: the log key adds the admin; record 1: the admin's configuration)"
"$custody" init "$archive" --signing-key "$k/signing.key" --admin-key "$k/admin.key" \
    --recipient "$k/recipient.txt" --identity "$k/identity.age" --no-remember-key
# The log key signs checkpoints; records are signed by a person (here the admin).
export CUSTODY_ARCHIVE="$archive" CUSTODY_SIGNING_KEY="$k/signing.key" CUSTODY_KEY="$k/admin.key"

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

echo "== custody prove 4 > $archive.record-4.tlog-proof, then verify-proof as a partner would"
"$custody" prove 4 > "$archive.record-4.tlog-proof"
"$custody" verify-proof "$archive.record-4.tlog-proof" --trust "$k/signing.vkey"

out=$(mktemp -d)/memo.txt
echo "== custody extract 8 -o $out"
"$custody" extract 8 -i "$k/identity.age" -o "$out"
cmp "$out" examples/sample-leak/memos/2026-03-14-board-memo.txt && echo "extracted bytes are identical to the original"

echo "== partners: +972 witnesses Drop Site's log and cosigns its checkpoint"
mag="$archive.972mag"; guardian="$archive.guardian"; wire=$(mktemp -d)
rm -rf "$mag" "$guardian"
"$custody" init "$mag" --signing-key "$keys/972mag/signing.key" --admin-key "$keys/972mag/admin.key" \
    --recipient "$keys/972mag/recipient.txt" --no-remember-key >/dev/null
"$custody" -A "$mag" witness add-log dropsite.example/leaks "$k/signing.vkey" \
    --witness-key "$keys/972mag/witness.key"
"$custody" checkpoint > "$wire/checkpoint"
"$custody" -A "$mag" witness cosign "$wire/checkpoint" -o "$wire/972mag.cosig"
"$custody" checkpoint add-cosignature "$wire/972mag.cosig" --witness "$keys/972mag/witness.vkey"

echo "== Drop Site shares document 4 with the Guardian"
old=$("$custody" checkpoint --json | sed -n 's/.*"size": *\([0-9]*\).*/\1/p' | head -1)
"$custody" share 4 --to "$keys/guardian/recipient.txt" -i "$k/identity.age" -o "$wire/memo.bundle"
echo "== +972 cosigns the new checkpoint (with Drop Site's consistency proof); Drop Site refreshes the bundle"
"$custody" prove --consistency "$old" > "$wire/consistency"
"$custody" -A "$mag" witness cosign "$wire/consistency" -o "$wire/972mag-2.cosig"
"$custody" checkpoint add-cosignature "$wire/972mag-2.cosig" --witness "$keys/972mag/witness.vkey"
"$custody" refresh-bundle "$wire/memo.bundle"

echo "== the Guardian verifies the bundle offline (Drop Site's key, +972 as witness), receives and traces it"
"$custody" verify-bundle "$wire/memo.bundle" --trust "$k/signing.vkey" \
    --witness "$keys/972mag/witness.vkey" --quorum 1 -i "$keys/guardian/identity.age"
"$custody" init "$guardian" --signing-key "$keys/guardian/signing.key" --admin-key "$keys/guardian/admin.key" \
    --recipient "$keys/guardian/recipient.txt" --no-remember-key >/dev/null
CUSTODY_SIGNING_KEY="$keys/guardian/signing.key" CUSTODY_KEY="$keys/guardian/admin.key" \
    "$custody" -A "$guardian" receive "$wire/memo.bundle" \
    --trust "$k/signing.vkey" --witness "$keys/972mag/witness.vkey" --quorum 1 \
    -i "$keys/guardian/identity.age"
"$custody" -A "$guardian" trace 2 --trust "$k/signing.vkey" --witness "$keys/972mag/witness.vkey"
rm -rf "$wire"

echo "== people: the admin adds an editor and a lawyer, who approve document 4; the audit before publication"
for who in ed lex; do
    "$custody" keygen --name "dropsite.example/$who" -o "$keys/people/$who" >/dev/null
done
"$custody" actor add ed "$keys/people/ed/signing.vkey" --role editor
"$custody" actor add lex "$keys/people/lex/signing.vkey" --role legal
"$custody" --key "$keys/people/ed/signing.key" approve 4 --for publication
"$custody" --key "$keys/people/lex/signing.key" approve 4 --for publication
echo "== the log key cannot approve (it signs checkpoints only): refused, nothing written"
if "$custody" --key "$k/signing.key" approve 4 --for publication 2>/dev/null; then
    echo "the log key approved a document" >&2; exit 1
fi
"$custody" audit 4 -i "$k/identity.age" --format html -o "$archive.audit-4.html"
"$custody" audit 4 -i "$k/identity.age"
echo "== done: archive in $archive (partners: $guardian, $mag; audit report: $archive.audit-4.html)"
