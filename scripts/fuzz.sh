#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time, one at a time,
# with bounded memory, and prints a table: target, executions, seconds,
# crashes, corpus size. Exit 1 if any target crashed (the inputs are in
# fuzz/artifacts/<target>/), 2 if the targets could not be built.
#
# Usage: scripts/fuzz.sh [TARGET...]       (default: every target)
# Environment:
#   FUZZ_SECONDS      seconds per target (default 60)
#   FUZZ_RSS_MB       libFuzzer -rss_limit_mb, also the largest single malloc (default 512)
#   FUZZ_TIMEOUT      seconds one input may take before it counts as a crash (default 10)
#   CARGO_TARGET_DIR  the fuzz build goes to $CARGO_TARGET_DIR/fuzz (default fuzz/target)
#   FUZZ_NO_CARGO_FUZZ=1  build with plain nightly cargo even if cargo-fuzz is there
#
# Needs the nightly toolchain (installed with rustup if missing) and
# cargo-fuzz (installed with `cargo install cargo-fuzz --locked` if missing;
# if that fails, the targets are built with plain nightly cargo and the same
# sanitizer and coverage flags). Corpora start from the committed seeds in
# fuzz/seeds/<target>/ (regenerate with fuzz/make-seeds.sh) and grow in
# fuzz/corpus/<target>/, which git ignores; fuzz/regressions/<target>/ holds
# the inputs of past findings, run first every time.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
seconds=${FUZZ_SECONDS:-60}
rss=${FUZZ_RSS_MB:-512}
timeout=${FUZZ_TIMEOUT:-10}
triple=$(rustc -vV | sed -n 's/^host: //p')
tdir=${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz}
tdir=${tdir:-$repo/fuzz/target}

# Largest input per target (-max_len): a little over the largest valid input
# where that is small, else enough for the seeds to grow.
declare -A max_len=(
    [bundle_reader]=65536 [bundle_evidence]=65536 [record]=65600
    [signed_note]=16384 [checkpoint]=8192 [cosignature]=512 [tlog_proof]=16384
    [witness_body]=8192 [split_view_evidence]=16384 [policy]=8192
    [share_envelope]=4096 [metadata_envelope]=8192 [key_files]=4096
    [config_toml]=4096 [trust_store]=4096 [witness_config]=4096
    [tiles]=140000
)
all=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^custody-fuzz$')
targets=${*:-$all}

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "== installing the nightly toolchain" >&2
    rustup toolchain install nightly --profile minimal || exit 2
fi
if [ -z "${FUZZ_NO_CARGO_FUZZ:-}" ] && ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked >&2 || echo "cargo-fuzz could not be installed; building with nightly cargo" >&2
fi

echo "== building the fuzz targets (release, debug assertions, address sanitizer)" >&2
if [ -z "${FUZZ_NO_CARGO_FUZZ:-}" ] && cargo fuzz --version >/dev/null 2>&1; then
    (cd fuzz && cargo +nightly fuzz build -a --target-dir "$tdir") >&2 || exit 2
else
    # What `cargo fuzz build -a` passes (cargo-fuzz 0.13 src/project.rs):
    # libFuzzer's coverage instrumentation, ASan, debug assertions (hence
    # overflow checks), the fuzzing cfg; --target keeps them off build scripts.
    (cd fuzz && RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing -Zsanitizer=address -Cdebug-assertions -Ccodegen-units=1" \
        cargo +nightly build --release --bins --target "$triple" --target-dir "$tdir") >&2 || exit 2
fi

mkdir -p fuzz/artifacts
rows=()
failed=0
for t in $targets; do
    bin="$tdir/$triple/release/$t"
    [ -x "$bin" ] || { echo "no fuzz target $t" >&2; exit 2; }
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/seeds/$t"
    before=$(ls "fuzz/artifacts/$t" | wc -l)
    log="fuzz/artifacts/$t.log"
    echo "== $t: ${seconds}s" >&2
    start=$(date +%s)
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0} "$bin" -max_total_time="$seconds" -rss_limit_mb="$rss" -malloc_limit_mb="$rss" \
        -timeout="$timeout" -max_len="${max_len[$t]:-4096}" -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$t/" "fuzz/corpus/$t" "fuzz/seeds/$t" \
        $( [ -d "fuzz/regressions/$t" ] && echo "fuzz/regressions/$t" ) >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    crashes=$(( $(ls "fuzz/artifacts/$t" | wc -l) - before ))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes="rc=$rc"; fi
    [ "$rc" -ne 0 ] && failed=1
    corpus=$(ls "fuzz/corpus/$t" | wc -l)
    rows+=("$(printf '%-20s %12s %8s %8s %8s' "$t" "${execs:-?}" "$took" "$crashes" "$corpus")")
done

printf '%-20s %12s %8s %8s %8s\n' target executions seconds crashes corpus
printf '%s\n' "${rows[@]}"
if [ "$failed" -ne 0 ]; then
    echo "crashes: see fuzz/artifacts/<target>/ and fuzz/artifacts/<target>.log" >&2
    exit 1
fi
