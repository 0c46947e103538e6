#!/usr/bin/env bash
# README "Scaling": publish and mirror a 10^5-record synthetic log with the
# release binary (cargo build --release first): times, sizes, file counts.
# Usage: scripts/tiles-scale.sh   (W=workdir, CUSTODY=binary; needs python3, bc)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
C=${CUSTODY:-${CARGO_TARGET_DIR:-$repo/target}/release/custody}
W=${W:-/tmp/tiles-scale}
rm -rf "$W"; mkdir -p "$W"
cp -r $repo/keys-example/dropsite "$W/k"; cp -r $repo/keys-example/guardian "$W/g"
chmod 600 "$W"/k/signing.key "$W"/k/identity.age "$W"/k/witness.key "$W"/g/signing.key "$W"/g/identity.age "$W"/g/witness.key
export CUSTODY_TRUST_STORE=$W/trust.toml
t() { local s=$(date +%s.%N); "$@"; local e=$(date +%s.%N); echo "TIME $(echo "$e - $s" | bc) s: ${*:1:4}" >&2; }
t $C -q gen-archive "$W/a" --records 100000 --documents 1 --signing-key "$W/k/signing.key" -r "$W/k/recipient.txt" --json
$C -q init "$W/m" --signing-key "$W/g/signing.key" --recipient "$W/g/recipient.txt" >/dev/null
t $C -q -A "$W/a" publish "$W/pub" --json
t $C -q -A "$W/a" publish "$W/pub" --json
t $C -q -A "$W/a" publish "$W/pub" --recheck --json
t $C -q -A "$W/m" mirror "$W/pub" --vkey "$W/k/signing.vkey" --json
rm -rf "$W/m/mirrors"
(cd "$W/pub" && exec python3 -m http.server 18931 --bind 127.0.0.1 >/dev/null 2>&1) & HP=$!
sleep 1
t $C -q -A "$W/m" mirror http://127.0.0.1:18931 --vkey "$W/k/signing.vkey" --json
kill $HP
echo "== sizes"
du -sb "$W/pub/tile/entries" "$W/pub/tile/0" "$W/pub/tile/1" "$W/pub/tile/2" "$W/pub" 2>/dev/null
echo "files: $(find "$W/pub" -type f | wc -l)  entries files: $(find "$W/pub/tile/entries" -type f | wc -l)"
du -sb "$W/a/ledger/records" "$W/a/ledger/tree" "$W/m/mirrors"
$C -q -A "$W/a" checkpoint --json
