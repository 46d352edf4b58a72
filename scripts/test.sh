#!/usr/bin/env bash
# Sets up what the tests need (idempotent; installs only from Debian's
# archive and crates.io) and runs every check: formatting, clippy, the unit
# and integration tests on the real-QEMU fixture corpus, the doc tests, and
# the no_std core built for a Cortex-M4F (thumbv7em-none-eabihf).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scripts/setup.sh core
echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== no_std core for thumbv7em-none-eabihf"
scripts/setup.sh build-embedded --release
echo "== tests"
cargo test --workspace --release
echo "== fuzz smoke (cargo-fuzz, every target)"
FUZZ_SECONDS=${FUZZ_SECONDS:-45} scripts/fuzz.sh smoke
