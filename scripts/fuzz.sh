#!/usr/bin/env bash
# Fuzzes the core with cargo-fuzz (libFuzzer, nightly Rust).
#   scripts/fuzz.sh smoke            every target for FUZZ_SECONDS (default 60)
#   scripts/fuzz.sh TARGET SECONDS   one target (slice, push, state, vmdesc, qcow2, page)
# Seeds come from the real fixtures (fuzz/src/seeds.rs); crashes land in
# fuzz/artifacts/TARGET/ and make this script fail.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! command -v cargo-fuzz >/dev/null; then
    echo "[fuzz] installing cargo-fuzz from crates.io"
    cargo install --quiet cargo-fuzz
fi
[ -d corpus/qcow2 ] || cargo +nightly run --quiet --release --bin seeds

run() { # TARGET SECONDS
    echo "== fuzz $1 for $2 s"
    cargo +nightly fuzz run --release "$1" "corpus/$1" -- \
        -max_total_time="$2" -max_len=131072 -rss_limit_mb=3072 -timeout=20 \
        -print_final_stats=1 2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY)|Done [0-9]+ runs'
}

case "${1:-smoke}" in
    smoke) for t in slice push state vmdesc qcow2 page; do run "$t" "${FUZZ_SECONDS:-60}"; done ;;
    *) run "$1" "${2:-60}" ;;
esac
