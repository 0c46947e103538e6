#!/usr/bin/env bash
# docs/OPERATIONS.md "Scaling" (the published log): publish and mirror a 10^5-record
# synthetic log with the release binary (cargo build --release first), and
# print times (wall, CPU), sizes and file counts.
# Usage: scripts/tiles-scale.sh   (W=workdir, CUSTODY=binary; needs python3, GNU time)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
C=${CUSTODY:-${CARGO_TARGET_DIR:-$repo/target}/release/custody}
W=${W:-/tmp/tiles-scale}
rm -rf "$W"; mkdir -p "$W"; cd "$W"
cp -r "$repo/keys-example/dropsite" k; cp -r "$repo/keys-example/guardian" g
chmod 600 k/signing.key k/identity.age k/witness.key g/signing.key g/identity.age g/witness.key
export CUSTODY_TRUST_STORE=$W/trust.toml
t() { local what=$1; shift; /usr/bin/time -f "$what: %e s wall, %U s user, %S s sys, %M KB" "$@"; }
uptime
t gen-archive $C -q gen-archive a --records 100000 --documents 1 --signing-key k/signing.key -r k/recipient.txt --json
$C -q init m --signing-key g/signing.key --recipient g/recipient.txt >/dev/null
t "publish (first)" $C -q -A a publish pub --json
t "re-publish (nothing new)" $C -q -A a publish pub --json
t "publish --recheck" $C -q -A a publish pub --recheck --json
t "publish to tmpfs" $C -q -A a publish /dev/shm/tiles-scale-pub --json >/dev/null
rm -rf /dev/shm/tiles-scale-pub
t "mirror (first, directory)" $C -q -A m mirror pub --vkey k/signing.vkey --json
rm -rf m/mirrors
(cd pub && exec python3 -m http.server 18931 --bind 127.0.0.1 >/dev/null 2>&1) & HP=$!
trap 'kill $HP 2>/dev/null || true' EXIT
sleep 1
t "mirror (first, HTTP)" $C -q -A m mirror http://127.0.0.1:18931 --vkey k/signing.vkey --json
$C -q -A m witness add-log dropsite.example/leaks k/signing.vkey --witness-key g/witness.key >/dev/null
t "witness cosign --from (first use)" $C -q -A m witness cosign --from pub --json
echo "== bytes"
echo "hash tiles: $(find pub/tile -path pub/tile/entries -prune -o -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"
echo "entry bundles: $(find pub/tile/entries -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"
echo "files: $(find pub -type f | wc -l)"
du -sb a/ledger/records a/ledger/tree m/mirrors
mkdir more; for i in $(seq 1 300); do echo "document $i" > more/d$i.txt; done
CUSTODY_SIGNING_KEY=k/signing.key $C -q -A a ingest more --json >/dev/null
t "publish (+300 records)" $C -q -A a publish pub --json
t "mirror (+300 records, HTTP)" $C -q -A m mirror http://127.0.0.1:18931 --vkey k/signing.vkey --json
t "witness cosign --from (extended)" $C -q -A m witness cosign --from pub --json
uptime
