#!/usr/bin/env bash
# Benchmark: custody against the peer tools it is built from and against
# restic, measured side by side, interleaved, in one run. See BENCHMARKS.md.
#
#   scripts/bench.sh                                  # 1 GiB, 2,000 and 20,000 files, 3 runs
#   BIG_MB=64 SMALL_N=200 TINY_N=500 RUNS=1 scripts/bench.sh   # quick smoke run
#
# Environment:
#   BENCH_DIR    work dir (default ./bench-work under the repo root, gitignored)
#   BIG_MB       size of the big file in MiB (default 1024)
#   SMALL_N      number of small files, 4 to 64 KiB each (default 2000)
#   TINY_N       number of tiny files, 1 to 8 KiB each (default 20000)
#   MANUAL_TINY=0 skip the per-file manual pipeline on the tiny set; =first: only
#                in the first run (it runs at
#                about 90 files/s: 20,000 files take 4 minutes a run)
#   RUNS         repetitions of every measurement; the median is reported (default 3)
#   SEED         seed of the deterministic data (default custody-bench)
#   LEDGER_N     records of the synthetic ledger for verify, prove and checkpoint
#                (default 1000000; 0 skips it; generating 10^6 takes a few minutes)
#   SKIP_BUILD=1 use the existing release binary instead of `cargo build --release --locked`
#   CUSTODY_BIN  use this custody binary (implies SKIP_BUILD; CI's smoke run
#                passes the debug binary that `cargo test` built)
#   SETTLE_S     pause after each run's deletions (default 30)
#
# Every input is read once right before each timed command (warm page cache for
# all tools alike; dropping the cache needs root and a quiet machine). Wall time,
# peak RSS and CPU time come from GNU time (`/usr/bin/time -f '%e %M %U %S'`);
# for a command made of several processes the RSS is that of the largest one.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

BENCH_DIR=${BENCH_DIR:-./bench-work}
BIG_MB=${BIG_MB:-1024}
SMALL_N=${SMALL_N:-2000}
TINY_N=${TINY_N:-20000}
MANUAL_TINY=${MANUAL_TINY:-1}
RUNS=${RUNS:-3}
LEDGER_N=${LEDGER_N:-1000000}
SEED=${SEED:-custody-bench}
export LC_ALL=C

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 2; }

for v in BIG_MB SMALL_N TINY_N RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $LEDGER_N =~ ^[0-9]+$ ]] || die "LEDGER_N must be a number (got '$LEDGER_N')"

# ---------------------------------------------------------------- tools
# command -> Debian package
declare -A pkg_of=(
    [age]=age [age-keygen]=age [minisign]=minisign [restic]=restic
    [hyperfine]=hyperfine [/usr/bin/time]=time [openssl]=openssl
    [sha256sum]=coreutils
)
missing=()
for c in age age-keygen minisign restic hyperfine /usr/bin/time openssl sha256sum; do
    command -v "$c" >/dev/null 2>&1 || missing+=("${pkg_of[$c]}")
done
if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [[ $(id -u) == 0 ]]; then
        log "installing: ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        log "installing with sudo: ${missing[*]}"
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    else
        die "missing tools; install them with: sudo apt-get install -y ${missing[*]}"
    fi
fi

# ---------------------------------------------------------------- build
if [[ -n ${CUSTODY_BIN:-} ]]; then
    SKIP_BUILD=1
fi
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install a Rust toolchain (rustup) first"
    log "cargo build --release --locked"
    cargo build --release --locked
fi
target=${CARGO_TARGET_DIR:-$repo/target}
if [[ -n ${CUSTODY_BIN:-} ]]; then
    CUSTODY=$(cd "$(dirname "$CUSTODY_BIN")" && pwd)/$(basename "$CUSTODY_BIN")
else
    CUSTODY=$(cd "$target/release" && pwd)/custody
fi
[[ -x $CUSTODY ]] || die "no custody binary at $CUSTODY"

mkdir -p "$BENCH_DIR"
W=$(cd "$BENCH_DIR" && pwd)
log "work dir: $W"

# ---------------------------------------------------------------- keys
# TEST-ONLY keys (keys-example/README.md); copied so chmod 600 does not touch the repo.
rm -rf "$W/keys"
mkdir -p "$W/keys"
cp keys-example/dropsite/{signing.key,signing.vkey,admin.key,identity.age,recipient.txt} "$W/keys/"
chmod 600 "$W/keys/signing.key" "$W/keys/admin.key" "$W/keys/identity.age"
RECIPIENT=$(grep -m1 '^age1' "$W/keys/recipient.txt")
# Post-quantum keys (mlkem768x25519, keygen's default) for the same ingests,
# made fresh: keys-example/ holds classic X25519 keys, which Debian's age reads.
rm -rf "$W/keys-pq"
"$CUSTODY" -q keygen --name dropsite.example/leaks -o "$W/keys-pq" >/dev/null
rm -f "$W/keys/minisign.key" "$W/keys/minisign.pub"
minisign -G -W -p "$W/keys/minisign.pub" -s "$W/keys/minisign.key" >/dev/null
export RESTIC_PASSWORD=custody-bench
export RESTIC_CACHE_DIR="$W/restic-cache"

# ---------------------------------------------------------------- data
# Deterministic bytes: AES-256-CTR keystream of zeros under a key derived from $SEED.
keystream() { (openssl enc -aes-256-ctr -pbkdf2 -nosalt -pass "pass:$1" </dev/zero 2>/dev/null || true) | head -c "$2"; }

BIG="$W/data/big.bin"
SMALL="$W/data/small"
TINY="$W/data/tiny"
stamp="$W/data/stamp"
want_stamp="seed=$SEED big_mb=$BIG_MB small_n=$SMALL_N tiny_n=$TINY_N v2"

# make_files DIR N MIN SPAN TAG: N files of MIN..MIN+SPAN-1 bytes (LCG sizes), keystream bytes.
make_files() {
    local dir=$1 n=$2 min=$3 span=$4 tag=$5 x=12345 total=0 off=0 i
    local -a sizes=()
    mkdir -p "$dir"
    for ((i = 0; i < n; i++)); do
        x=$(((x * 1103515245 + 12345) & 0x7fffffff))
        sizes+=($((min + x % span)))
        total=$((total + sizes[i]))
    done
    keystream "$SEED/$tag" "$total" >"$W/data/pool"
    for ((i = 0; i < n; i++)); do
        dd if="$W/data/pool" of="$(printf '%s/f%05d.bin' "$dir" "$i")" bs=64K \
            iflag=skip_bytes,count_bytes skip="$off" count="${sizes[i]}" status=none
        off=$((off + sizes[i]))
    done
    rm -f "$W/data/pool"
}
if [[ ! -f $stamp || $(cat "$stamp") != "$want_stamp" ]]; then
    log "generating data: $BIG_MB MiB big file, $SMALL_N small files, $TINY_N tiny files"
    rm -rf "$W/data"
    mkdir -p "$W/data"
    keystream "$SEED/big" $((BIG_MB << 20)) >"$BIG"
    make_files "$SMALL" "$SMALL_N" 4096 61441 small
    make_files "$TINY" "$TINY_N" 1024 7169 tiny
    echo "$want_stamp" >"$stamp"
fi
SMALL_BYTES=$(find "$SMALL" -type f -printf '%s\n' | awk '{s+=$1} END{print s}')
SMALL_COUNT=$(find "$SMALL" -type f | wc -l)
TINY_BYTES=$(find "$TINY" -type f -printf '%s\n' | awk '{s+=$1} END{print s}')
TINY_COUNT=$(find "$TINY" -type f | wc -l)
BIG_BYTES=$(stat -c %s "$BIG")
log "big file: $BIG_BYTES bytes, sha256 $(sha256sum "$BIG" | cut -c1-16)…"
log "small files: $SMALL_COUNT files, $SMALL_BYTES bytes"
log "tiny files: $TINY_COUNT files, $TINY_BYTES bytes"

# ---------------------------------------------------------------- measuring
R="$W/results"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$R"
mkdir -p "$R"
O="$W/out"

warm_big() { cat "$BIG" >/dev/null; }
warm_small() { find "$SMALL" -type f -exec cat {} + >/dev/null; }
warm_tiny() { find "$TINY" -type f -exec cat {} + >/dev/null; }

# Archives, restic repositories and outputs of a run are removed only at the
# end of the run, then the script waits: on ext4, creating files right after
# deleting thousands costs several times more kernel time (the inode
# allocator skips recently deleted inodes), which would penalise whichever
# tool runs next.
settle() { sync; sleep "${SETTLE_S:-30}"; }

# fresh_archive DIR: a new custody archive with the dropsite keys.
fresh_archive() {
    rm -rf "$1"
    "$CUSTODY" -q init "$1" --signing-key "$W/keys/signing.key" --admin-key "$W/keys/admin.key" \
        --identity "$W/keys/identity.age" --recipient "$W/keys/recipient.txt" >/dev/null
}

# fresh_archive_pq DIR: the same, encrypted to a post-quantum recipient.
fresh_archive_pq() {
    rm -rf "$1"
    "$CUSTODY" -q init "$1" --signing-key "$W/keys-pq/signing.key" --admin-key "$W/keys-pq/admin.key" \
        --identity "$W/keys-pq/identity.age" --recipient "$W/keys-pq/recipient.txt" >/dev/null
}

fresh_restic() {
    rm -rf "$1"
    restic init --quiet --repo "$1" >/dev/null
}

# timed NAME CMD...: runs CMD under GNU time, appends "wall_s rss_kib user_s sys_s" to $R/NAME.
timed() {
    local name=$1
    shift
    sync
    if ! /usr/bin/time -f '%e %M %U %S' -o "$R/.t" "$@" >"$R/.out" 2>&1; then
        cat "$R/.out" >&2
        die "$name failed: $*"
    fi
    tail -n1 "$R/.t" >>"$R/$name"
    log "  $name: $(tail -n1 "$R/.t") (wall s, KiB, user s, sys s)"
}

manual_pipeline() { # NAME SRC: the same steps as custody, one tool per step, per file.
    local d=$O/manual-$1
    mkdir -p "$d"
    timed "$1" bash -c '
        set -euo pipefail
        for f in "$1"/*; do
            b=$2/${f##*/}
            sha256sum "$f" >>"$2/SHA256SUMS"
            age -e -r "$3" -o "$b.age" "$f"
            minisign -S -q -s "$4" -m "$b.age"
        done' _ "$2" "$d" "$RECIPIENT" "$W/keys/minisign.key"
}

openssl_speed() { # NAME EVP -> 16384-byte-block throughput in kB/s (1000 B)
    local v
    v=$(openssl speed -seconds 3 -bytes 16384 -evp "$2" 2>/dev/null | awk 'END{print $NF}')
    v=${v%k}
    echo "$v" >>"$R/$1"
    log "  $1: ${v} kB/s"
}

# The synthetic ledger (issue 5's verify, prove and start-up targets): made once
# per script run with the hidden `custody gen-archive` (real signatures, the
# store's normal commit path), then measured in every run.
L="$W/ledger"
if ((LEDGER_N > 0)); then
    rm -rf "$L"
    log "generating a ledger of $LEDGER_N records (custody gen-archive)"
    timed gen_ledger "$CUSTODY" -q gen-archive "$L" --records "$LEDGER_N" \
        --signing-key "$W/keys/signing.key" --admin-key "$W/keys/admin.key" --recipient "$W/keys/recipient.txt"
    LEDGER_RECORDS=$("$CUSTODY" -q -A "$L" status --json | sed -n 's/.*"records": *\([0-9]*\).*/\1/p')
    PROVE_AT=$((LEDGER_RECORDS * 734215 / 1000000))
    du -sb "$L/db" | cut -f1 >"$R/ledger_db_bytes"
    log "  ledger: $LEDGER_RECORDS records, database $(cat "$R/ledger_db_bytes") bytes"
fi

# hyper NAME CMD: median wall seconds of 30 runs of CMD (after 3 warm-ups),
# appended to $R/NAME; a whole process each time, start-up included.
hyper() {
    local name=$1
    shift
    hyperfine -N --style none --warmup 3 --runs 30 --export-csv "$R/.hf.csv" "$*" >/dev/null 2>"$R/.out" ||
        { cat "$R/.out" >&2; die "$name failed: $*"; }
    awk -F, 'NR==2 {print $4}' "$R/.hf.csv" >>"$R/$name"
    log "  $name: median $(tail -n1 "$R/$name") s"
}

for ((run = 1; run <= RUNS; run++)); do
    log "run $run/$RUNS"
    mkdir -p "$O"

    if ((LEDGER_N > 0)); then
        timed custody_verify_ledger "$CUSTODY" -q -A "$L" verify
        hyper prove_ledger "$CUSTODY" -q -A "$L" prove "$PROVE_AT"
        hyper checkpoint_ledger "$CUSTODY" -q -A "$L" checkpoint
        timed prove_ledger_rss "$CUSTODY" -q -A "$L" prove "$PROVE_AT"
    fi

    # One big file.
    fresh_archive "$O/arch-big"
    warm_big
    timed custody_big "$CUSTODY" -q -A "$O/arch-big" ingest "$BIG"
    timed custody_verify_big "$CUSTODY" -q -A "$O/arch-big" verify
    timed custody_deep_big "$CUSTODY" -q -A "$O/arch-big" verify --deep -i "$W/keys/identity.age"

    fresh_archive_pq "$O/arch-big-pq"
    warm_big
    timed custody_pq_big "$CUSTODY" -q -A "$O/arch-big-pq" ingest "$BIG"
    rm -rf "$O/arch-big-pq"

    warm_big
    timed age_big age -e -r "$RECIPIENT" -o "$O/big.age" "$BIG"
    rm -f "$O/big.age"

    warm_big
    timed age_sync_big bash -c 'age -e -r "$1" -o "$2" "$3" && sync "$2"' _ "$RECIPIENT" "$O/big.age" "$BIG"
    rm -f "$O/big.age"

    warm_big
    timed sha_big sha256sum "$BIG"

    warm_big
    timed ossl_sha_big openssl dgst -sha256 "$BIG"

    warm_big
    timed ossl_sha_age_big bash -c 'openssl dgst -sha256 "$3" >"$2.sha256" && age -e -r "$1" -o "$2" "$3"' _ "$RECIPIENT" "$O/big.age" "$BIG"
    rm -f "$O/big.age" "$O/big.age.sha256"

    warm_big
    timed sha_age_big bash -c 'sha256sum "$3" >"$2.sha256" && age -e -r "$1" -o "$2" "$3"' _ "$RECIPIENT" "$O/big.age" "$BIG"
    rm -f "$O/big.age" "$O/big.age.sha256"

    fresh_restic "$O/restic-big"
    warm_big
    timed restic_big restic --repo "$O/restic-big" backup --quiet "$BIG"

    # Many small files, then many tiny files.
    for set in small tiny; do
        src=$SMALL
        [[ $set == tiny ]] && src=$TINY
        fresh_archive "$O/arch-$set"
        "warm_$set"
        timed "custody_$set" "$CUSTODY" -q -A "$O/arch-$set" ingest "$src"
        du -sb "$O/arch-$set/db" | cut -f1 >>"$R/db_bytes_$set"
        timed "custody_verify_$set" "$CUSTODY" -q -A "$O/arch-$set" verify
        timed "custody_deep_$set" "$CUSTODY" -q -A "$O/arch-$set" verify --deep -i "$W/keys/identity.age"

        fresh_archive_pq "$O/arch-$set-pq"
        "warm_$set"
        timed "custody_pq_$set" "$CUSTODY" -q -A "$O/arch-$set-pq" ingest "$src"

        if [[ $set == small || $MANUAL_TINY == 1 || ($MANUAL_TINY == first && $run == 1) ]]; then
            "warm_$set"
            manual_pipeline "manual_$set" "$src"
        fi

        fresh_restic "$O/restic-$set"
        "warm_$set"
        timed "restic_$set" restic --repo "$O/restic-$set" backup --quiet "$src"
    done

    # Hardware ceiling, one core.
    openssl_speed openssl_chacha chacha20-poly1305
    openssl_speed openssl_sha256 sha256
    # Ed25519 verifications per second, one core (the verify target's unit).
    openssl speed -seconds 3 ed25519 2>/dev/null | awk '/Ed25519/ && $NF ~ /^[0-9.]+$/ {v=$NF} END{print v}' >>"$R/openssl_ed25519"
    log "  openssl_ed25519: $(tail -n1 "$R/openssl_ed25519") verify/s"
    rm -rf "$O"
    settle
done
rm -rf "$O" "$R/.t" "$R/.out" "$R/.hf.csv"

# ---------------------------------------------------------------- report
median() { sort -g | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'; }
med_s() { cut -d' ' -f1 "$R/$1" | median; }
max_rss_mib() { awk '{if ($2>m) m=$2} END{printf "%.1f", m/1024}' "$R/$1"; }
all_s() { cut -d' ' -f1 "$R/$1" | paste -sd' ' -; }
med_cpu() { awk '{print $3+$4}' "$R/$1" | median; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "inf" }'; }

big_mib=$(awk -v b="$BIG_BYTES" 'BEGIN{printf "%.0f", b/1048576}')
small_mib=$(awk -v b="$SMALL_BYTES" 'BEGIN{printf "%.1f", b/1048576}')

row() { # NAME TOOL DATASET UNIT(mib|files)
    local s rate
    s=$(med_s "$1")
    case $4 in
    mib) rate="$(awk -v b="$BIG_BYTES" -v s="$s" 'BEGIN{ if (s>0) printf "%.0f MiB/s", b/1048576/s; else print "-" }')" ;;
    files) rate="$(awk -v n="$SMALL_COUNT" -v s="$s" 'BEGIN{ if (s>0) printf "%.0f files/s", n/s; else print "-" }')" ;;
    tiny) rate="$(awk -v n="$TINY_COUNT" -v s="$s" 'BEGIN{ if (s>0) printf "%.0f files/s", n/s; else print "-" }')" ;;
    esac
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$3" "$s" "$rate" "$(med_cpu "$1")" "$(max_rss_mib "$1")" "$(all_s "$1")"
}

cb=$(med_s custody_big) ab=$(med_s age_big) sab=$(med_s sha_age_big) asb=$(med_s age_sync_big) rb=$(med_s restic_big)
cs=$(med_s custody_small) ms=$(med_s manual_small) rs=$(med_s restic_small)
chacha=$(median <"$R/openssl_chacha") sha=$(median <"$R/openssl_sha256")
custody_rss=$(cat "$R"/custody_{big,small,tiny} "$R"/custody_verify_{big,small,tiny} "$R"/custody_deep_{big,small,tiny} | awk '{if ($2>m) m=$2} END{printf "%.1f", m/1024}')
r_age=$(div "$cb" "$ab")
met() { awk -v a="$1" -v b="$2" 'BEGIN{ print (a<b) ? "met" : "NOT met" }'; }

{
    echo "## bench results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
    echo "- data: 1 file of $big_mib MiB; $SMALL_COUNT files of 4-64 KiB ($small_mib MiB); $TINY_COUNT files of 1-8 KiB; seed '$SEED'"
    echo "- $RUNS interleaved runs; median wall time; peak RSS = max over runs; page cache warm (each input read just before each timed command)"
    echo "- load average at start: $load0; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- versions: $("$CUSTODY" --version), age $(age --version), $(minisign -v), $(restic version | cut -d' ' -f1-2), $(openssl version | cut -d' ' -f1-2)"
    echo
    echo "| tool | data set | median wall s | rate | median CPU s | peak RSS MiB | all runs, wall s |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    row custody_big "custody ingest" "1 × $big_mib MiB" mib
    row custody_pq_big "custody ingest, post-quantum recipient" "1 × $big_mib MiB" mib
    row age_big "age -e" "1 × $big_mib MiB" mib
    row age_sync_big "age -e + fsync output" "1 × $big_mib MiB" mib
    row sha_big "sha256sum" "1 × $big_mib MiB" mib
    row sha_age_big "sha256sum && age -e" "1 × $big_mib MiB" mib
    row ossl_sha_big "openssl dgst -sha256" "1 × $big_mib MiB" mib
    row ossl_sha_age_big "openssl dgst -sha256 && age -e" "1 × $big_mib MiB" mib
    row restic_big "restic backup" "1 × $big_mib MiB" mib
    row custody_verify_big "custody verify" "archive of 1 × $big_mib MiB" mib
    row custody_deep_big "custody verify --deep" "archive of 1 × $big_mib MiB" mib
    row custody_small "custody ingest" "$SMALL_COUNT small files" files
    row custody_pq_small "custody ingest, post-quantum recipient" "$SMALL_COUNT small files" files
    row manual_small "sha256sum; age -e; minisign -S (per file)" "$SMALL_COUNT small files" files
    row restic_small "restic backup" "$SMALL_COUNT small files" files
    row custody_verify_small "custody verify" "archive of $SMALL_COUNT files" files
    row custody_deep_small "custody verify --deep" "archive of $SMALL_COUNT files" files
    row custody_tiny "custody ingest" "$TINY_COUNT tiny files" tiny
    row custody_pq_tiny "custody ingest, post-quantum recipient" "$TINY_COUNT tiny files" tiny
    [[ -f $R/manual_tiny ]] && row manual_tiny "sha256sum; age -e; minisign -S (per file)" "$TINY_COUNT tiny files" tiny
    row restic_tiny "restic backup" "$TINY_COUNT tiny files" tiny
    row custody_verify_tiny "custody verify" "archive of $TINY_COUNT files" tiny
    row custody_deep_tiny "custody verify --deep" "archive of $TINY_COUNT files" tiny
    printf '| openssl speed -evp chacha20-poly1305 | 16384-byte blocks, 1 core | - | %s MiB/s | - | - | %s kB/s |\n' \
        "$(awk -v k="$chacha" 'BEGIN{printf "%.0f", k*1000/1048576}')" "$(paste -sd' ' "$R/openssl_chacha")"
    printf '| openssl speed -evp sha256 | 16384-byte blocks, 1 core | - | %s MiB/s | - | - | %s kB/s |\n' \
        "$(awk -v k="$sha" 'BEGIN{printf "%.0f", k*1000/1048576}')" "$(paste -sd' ' "$R/openssl_sha256")"
    echo
    echo "Ratios (medians; time ratios >1 = custody slower, rate ratios >1 = custody faster):"
    echo
    echo "- custody big / age -e: $r_age (target <= 1.0: $(met "$r_age" 1.0001))"
    echo "- custody big MiB/s / openssl chacha20-poly1305 MiB/s (one core): $(awk -v b="$BIG_BYTES" -v s="$cb" -v k="$chacha" 'BEGIN{printf "%.2f", (b/s)/(k*1000)}') (target >= 0.70)"
    echo "- custody big / (sha256sum && age -e): $(div "$cb" "$sab")"
    echo "- custody big / (openssl dgst -sha256 && age -e): $(div "$cb" "$(med_s ossl_sha_age_big)")"
    echo "- custody big / (age -e + fsync): $(div "$cb" "$asb")"
    echo "- custody big / restic big: $(div "$cb" "$rb")"
    echo "- custody small files/s / manual pipeline files/s: $(div "$ms" "$cs") (target >= 20)"
    echo "- custody small files/s / restic files/s: $(div "$rs" "$cs") (target >= 2)"
    ts=$(med_s custody_tiny) rt=$(med_s restic_tiny)
    [[ -f $R/manual_tiny ]] && echo "- custody tiny files/s / manual pipeline files/s: $(div "$(med_s manual_tiny)" "$ts") (target >= 20)"
    echo "- custody tiny files/s / restic files/s: $(div "$rt" "$ts") (target >= 2)"
    echo "- post-quantum / X25519 recipient, custody ingest time: big $(div "$(med_s custody_pq_big)" "$cb"), small $(div "$(med_s custody_pq_small)" "$cs"), tiny $(div "$(med_s custody_pq_tiny)" "$ts")"
    echo "- openssl speed ed25519, one core: $(median <"$R/openssl_ed25519") verify/s (the verify target is 4x this; see BENCHMARKS.md, verify at 10^6 records)"
    echo "- custody peak RSS (ingest and verify of the three data sets, all runs): $custody_rss MiB (target < 64 MiB: $(met "$custody_rss" 64))"
    dbt=$(median <"$R/db_bytes_tiny")
    echo "- ledger storage after ingesting $TINY_COUNT tiny files: $(div "$dbt" "$TINY_COUNT") bytes of db/ per record (target < 2048: $(met "$(div "$dbt" "$TINY_COUNT")" 2048))"
    if ((LEDGER_N > 0)); then
        ed=$(median <"$R/openssl_ed25519") vl=$(med_s custody_verify_ledger)
        rate=$(awk -v n="$LEDGER_RECORDS" -v s="$vl" 'BEGIN{printf "%.0f", n/s}')
        echo
        echo "Ledger of $LEDGER_RECORDS records (custody gen-archive: $(cut -d' ' -f1 "$R/gen_ledger") s, peak RSS $(max_rss_mib gen_ledger) MiB; db/ $(cat "$R/ledger_db_bytes") bytes, $(div "$(cat "$R/ledger_db_bytes")" "$LEDGER_RECORDS") per record):"
        echo
        echo "- custody verify: median $vl s ($(all_s custody_verify_ledger)), $rate records/s, peak RSS $(max_rss_mib custody_verify_ledger) MiB (target < 256: $(met "$(max_rss_mib custody_verify_ledger)" 256))"
        echo "- custody verify records/s / openssl speed ed25519 verify/s (one core, $ed): $(div "$rate" "$ed") (target >= 4)"
        echo "- custody prove $PROVE_AT, whole process: median $(awk '{printf "%.1f", $1*1000}' <<<"$(median <"$R/prove_ledger")") ms over $RUNS x 30 runs (target < 50 ms: $(met "$(median <"$R/prove_ledger")" 0.05)), peak RSS $(max_rss_mib prove_ledger_rss) MiB"
        echo "- custody checkpoint, whole process: median $(awk '{printf "%.1f", $1*1000}' <<<"$(median <"$R/checkpoint_ledger")") ms (target < 50 ms: $(met "$(median <"$R/checkpoint_ledger")" 0.05))"
    fi
} | tee "$R/summary.md"
log "raw numbers and summary in $R"
