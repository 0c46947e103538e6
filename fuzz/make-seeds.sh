#!/usr/bin/env bash
# Regenerates fuzz/seeds/: a few small, real inputs per fuzz target, made by
# the custody CLI with the TEST-ONLY keys of keys-example/ (published secrets),
# plus a few vectors of tests/data/. scripts/fuzz.sh copies them into each
# target's working corpus (fuzz/corpus/<target>/, not committed).
#
# Usage: fuzz/make-seeds.sh        (builds custody; or set CUSTODY=/path/to/custody)
# Needs: age (the age CLI, to decrypt a metadata and a share envelope), jq.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
if [ -z "${CUSTODY:-}" ]; then
    cargo build --locked --quiet
    CUSTODY="${CARGO_TARGET_DIR:-$repo/target}/debug/custody"
fi
c() { "$CUSTODY" -q "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
keys="$work/keys"
mkdir "$keys"
for o in dropsite guardian 972mag localcall; do
    cp -r "keys-example/$o" "$keys/"
    chmod 700 "$keys/$o"
    chmod 600 "$keys/$o/signing.key" "$keys/$o/identity.age" "$keys/$o/witness.key"
done
chmod 600 "$keys/localcall/id_ed25519"
k="$keys/dropsite"
g="$keys/guardian"
m="$keys/972mag"
export CUSTODY_TRUST_STORE="$work/trust.toml"

seeds="$repo/fuzz/seeds"
rm -rf "$seeds"
targets="bundle_reader bundle_evidence record signed_note checkpoint cosignature tlog_proof
    witness_body split_view_evidence policy share_envelope metadata_envelope key_files
    config_toml trust_store witness_config tiles"
for t in $targets; do mkdir -p "$seeds/$t"; done

# Frames of an append-only ledger file (FORMAT.md §7.1): u32 length || body.
frames() { # FILE OUTDIR PREFIX [KIND_NAMES]
    python3 - "$@" <<'EOF'
import struct, sys
path, out, prefix = sys.argv[1:4]
kinds = {1: "ingest", 2: "share", 3: "receive", 4: "actor", 5: "access", 6: "derive",
         7: "annotate", 8: "approve", 9: "grant", 10: "audit"}
data, i, n = open(path, "rb").read(), 0, 0
while i < len(data):
    (l,) = struct.unpack(">I", data[i:i + 4])
    body = data[i + 4:i + 4 + l]
    name = kinds.get(body[1], "kind") if prefix == "record" else prefix
    open(f"{out}/{name}-{n}", "wb").write(body)
    i, n = i + 4 + l, n + 1
EOF
}

# --- Drop Site: an archive with records of every kind ----------------------
A="$work/dropsite"
c init "$A" --signing-key "$k/signing.key" --recipient "$k/recipient.txt" --no-remember-key
export CUSTODY_ARCHIVE="$A" CUSTODY_SIGNING_KEY="$k/signing.key"
mkdir -p "$work/leak/sub"
printf 'board memo, draft 3\n' > "$work/leak/memo.txt"
printf 'date,amount\n2026-01-02,100\n' > "$work/leak/sub/ledger.csv"
c ingest "$work/leak" --source "source A" --case C-1 --note "USB stick"
for who in ed lex; do
    c keygen --name "dropsite.example/$who" -o "$keys/$who" >/dev/null
done
c actor add ed "$keys/ed/signing.vkey" --role editor
c actor add lex "$keys/lex/signing.vkey" --role legal
c extract 1 -i "$k/identity.age" -o "$work/memo.out" --reason fact-check
printf 'board memo, draft 3 (EN)\n' > "$work/memo-en.txt"
c derive 1 "$work/memo-en.txt" --relation translation --note "EN"
c annotate 1 "confirmed with a second source"
c --key "$keys/ed/signing.key" approve 1 --for publication
c grant 1 lex
c --key "$keys/ed/signing.key" audit 1 --format json -o "$work/audit.json" --sign -i "$k/identity.age" || true
c actor revoke lex --reason "left"
c checkpoint > "$work/cp-before"

# +972 witnesses Drop Site's log and cosigns its checkpoint.
M="$work/972mag"
c init "$M" --signing-key "$m/signing.key" --recipient "$m/recipient.txt" --no-remember-key
c -A "$M" witness add-log dropsite.example/leaks "$k/signing.vkey" --witness-key "$m/witness.key"
c -A "$M" witness cosign "$work/cp-before" -o "$work/972mag.cosig"
c checkpoint add-cosignature "$work/972mag.cosig" --witness "$m/witness.vkey"

# Drop Site shares document 1 with the Guardian; +972 cosigns the new
# checkpoint from a consistency proof; the bundle is refreshed.
old=$(c checkpoint --json | jq -r .size)
c share 1 --to "$g/recipient.txt" -i "$k/identity.age" -o "$work/memo.bundle"
c prove --consistency "$old" > "$work/consistency"
c -A "$M" witness cosign "$work/consistency" -o "$work/972mag-2.cosig"
c checkpoint add-cosignature "$work/972mag-2.cosig" --witness "$m/witness.vkey"
c refresh-bundle "$work/memo.bundle"

# The Guardian receives it and shares it on with +972 (two hops of evidence).
G="$work/guardian"
c init "$G" --signing-key "$g/signing.key" --recipient "$g/recipient.txt" --no-remember-key
CUSTODY_SIGNING_KEY="$g/signing.key" c -A "$G" receive "$work/memo.bundle" \
    --trust "$k/signing.vkey" -i "$g/identity.age"
CUSTODY_SIGNING_KEY="$g/signing.key" c -A "$G" share 0 --to "$m/recipient.txt" \
    -i "$g/identity.age" -o "$work/memo-972.bundle"

# A fork: another archive under Drop Site's key, same size, another root.
F="$work/fork"
c init "$F" --signing-key "$k/signing.key" --recipient "$k/recipient.txt" --no-remember-key
mkdir "$work/other"
for i in $(seq 1 "$(c checkpoint --json | jq -r .size)"); do printf 'other %s\n' "$i" > "$work/other/$i.txt"; done
c -A "$F" ingest "$work/other" --source x
c -A "$F" checkpoint > "$work/cp-fork"
(cd "$work" && c -A "$M" witness cosign "$work/cp-fork" -o "$work/fork.cosig") || true

# --- seeds -------------------------------------------------------------------
frames "$A/ledger/records" "$seeds/record" record
frames "$G/ledger/records" "$seeds/record" record
# One record of each kind is enough.
(cd "$seeds/record" && for f in *; do
    kind=${f%-*}
    [ -e "$kind" ] && rm "$f" || mv "$f" "$kind"
done)

frames "$A/ledger/checkpoints" "$work" cpframe
cp "$work/cpframe-0" "$seeds/checkpoint/first"
c checkpoint > "$seeds/checkpoint/cosigned"
cp "$seeds/checkpoint/cosigned" "$seeds/signed_note/checkpoint-cosigned"
c -A "$G" checkpoint > "$seeds/signed_note/checkpoint-guardian"
python3 - "$seeds/signed_note" <<'EOF'
import json, sys
out = sys.argv[1]
cases = []
def walk(v):
    if isinstance(v, dict):
        for key in ("note", "note_text", "msg_utf8", "signed_note"):
            t = v.get(key)
            if isinstance(t, str) and "\u2014 " in t:
                cases.append(t)
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(json.load(open("tests/data/signed_note.json")))
for i, t in enumerate(cases[:4]):
    open(f"{out}/vector-{i}", "w").write(t)
EOF

head -n 1 "$work/972mag.cosig" | tr -d '\n' > "$seeds/cosignature/972mag"
head -n 1 "$work/972mag-2.cosig" > "$seeds/cosignature/972mag-2"
grep -h "^— " "$seeds/checkpoint/cosigned" | head -n 1 | tr -d '\n' > "$seeds/cosignature/log-line"

c prove 1 > "$seeds/tlog_proof/record-1"
c prove 0 > "$seeds/tlog_proof/record-0"
c -A "$G" prove 0 > "$seeds/tlog_proof/guardian-0"

cp "$work/consistency" "$seeds/witness_body/add-checkpoint"
sed '/^$/q' "$work/consistency" | sed '$d' > "$seeds/witness_body/proof-only"
printf 'old 0\n\n' | cat - "$work/cp-before" > "$seeds/witness_body/from-empty"

# Published tiles (FORMAT.md §13), each after a width byte (width - 1).
c -A "$A" publish "$work/published" >/dev/null
find "$work/published/tile/0" "$work/published/tile/entries" -type f | while read -r f; do
    d=$(dirname "$f")
    case "$d" in *.p) w=$(basename "$f") ;; *) w=256 ;; esac
    base=$(echo "${f#"$work"/published/tile/}" | tr '/' '-')
    { printf "\\$(printf '%03o' $((w - 1)))"; cat "$f"; } > "$seeds/tiles/$base"
done
printf 'tile/1/x001/x234/067.p/17' > "$seeds/tiles/path"
printf 'x001/x234/067' > "$seeds/tiles/index"

cp "$work"/split-view-*.evidence "$seeds/split_view_evidence/" 2>/dev/null || true
ls "$seeds/split_view_evidence" | grep -q . || { echo "no split-view evidence was made" >&2; exit 1; }

cp "$work/memo.bundle" "$seeds/bundle_reader/memo"
cp "$work/memo-972.bundle" "$seeds/bundle_reader/memo-972"
cp "$G"/evidence/* "$seeds/bundle_evidence/"
python3 - "$work/memo-972.bundle" "$seeds/bundle_evidence/two-hops" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack(">I", b[18:22])
open(sys.argv[2], "wb").write(b[22:22 + n])
EOF

log=$(cat "$k/signing.vkey"); w1=$(cat "$m/witness.vkey"); w2=$(cat "$g/witness.vkey"); w3=$(cat "$k/witness.vkey")
printf 'log %s https://dropsite.example/log\nwitness 972 %s\nwitness guardian %s\ngroup both all 972 guardian\nquorum both\n' \
    "$log" "$w1" "$w2" > "$seeds/policy/all-of-two"
printf '# C2SP tlog-policy\nlog %s\nwitness a %s https://w.example/a # first\nwitness b %s\nwitness c %s\ngroup ab any a b\ngroup two 2 ab c\nquorum two\n' \
    "$log" "$w1" "$w2" "$w3" > "$seeds/policy/nested-groups"
printf 'log %s\nquorum none\n' "$log" > "$seeds/policy/no-quorum"

# The share envelope of the first bundle and a metadata envelope, decrypted.
python3 - "$work/memo.bundle" "$work/envelope.age" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack(">I", b[18:22])
o = 22 + n
(m,) = struct.unpack(">I", b[o:o + 4])
open(sys.argv[2], "wb").write(b[o + 4:o + 4 + m])
EOF
age -d -i "$g/identity.age" -o "$seeds/share_envelope/memo" "$work/envelope.age"
printf '{"v":1,"name":"a b.pdf","media_type":"application/pdf","size":0,"sha256":"%s","salt":"%s","note":"from \\u00e9 \\"Drop Site\\""}' \
    "$(printf '' | sha256sum | cut -c1-64)" "$(printf 's' | sha256sum | cut -c1-64)" > "$seeds/share_envelope/with-note"
n=0
for b in "$A"/blobs/*/*; do
    if age -d -i "$k/identity.age" "$b" 2>/dev/null | head -c 6 | grep -q '^{"v":1'; then
        age -d -i "$k/identity.age" -o "$seeds/metadata_envelope/envelope-$n" "$b"
        n=$((n + 1))
        [ $n -ge 2 ] && break
    fi
done
[ $n -ge 1 ] || { echo "no metadata envelope was found" >&2; exit 1; }

for f in signing.key signing.vkey witness.key witness.vkey recipient.txt identity.age; do
    cp "$k/$f" "$seeds/key_files/dropsite-$f"
done
cp "$keys/localcall/id_ed25519" "$seeds/key_files/ssh-identity"
cp "$keys/localcall/id_ed25519.pub" "$seeds/key_files/ssh-recipient"
printf 'fuzz\n' > "$work/pass"
c --passphrase-file "$work/pass" keygen --name fuzz.example/log -o "$work/pk" --passphrase --scrypt-work-factor 4 >/dev/null
cp "$work/pk/signing.key" "$seeds/key_files/passphrase-signing.key"
# The same file without its armor: its scrypt stanza in clear, for the fuzzer to mutate.
sed '/BEGIN/,/END/!d; /-----/d' "$work/pk/signing.key" | base64 -d > "$seeds/key_files/passphrase-signing.key.bin"

cp "$A/custody.toml" "$seeds/config_toml/dropsite"
cp "$G/custody.toml" "$seeds/config_toml/guardian"
c trust add dropsite "$k/signing.vkey"
c trust add 972mag "$m/witness.vkey"
cp "$CUSTODY_TRUST_STORE" "$seeds/trust_store/two-keys"
cp "$M/witness/config.toml" "$seeds/witness_config/972mag"

for t in $targets; do
    printf '%-20s %s files, %s bytes\n' "$t" "$(ls "$seeds/$t" | wc -l)" "$(cat "$seeds/$t"/* | wc -c)"
done
