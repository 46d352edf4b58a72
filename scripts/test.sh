#!/usr/bin/env bash
# Sets up what the tests need (idempotent; installs only from Debian's
# archive, crates.io and npm) and runs every check: formatting, clippy, the
# unit and integration tests of the core and the CLI on the real-QEMU
# fixture corpus, the doc tests, the no_std core built for a Cortex-M4F
# (thumbv7em-none-eabihf), a fuzzing smoke run, and the wasm bindings and
# web page in headless Chromium and Firefox (scripts/test-web.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scripts/setup.sh core
echo "== rustfmt"
for m in Cargo.toml wasm/Cargo.toml fuzz/Cargo.toml; do
    cargo fmt --manifest-path "$m" --all -- --check
done
echo "== clippy"
cargo clippy --workspace --all-targets -- -D warnings
(cd wasm && cargo clippy --all-targets -- -D warnings)
echo "== no_std core for thumbv7em-none-eabihf"
scripts/setup.sh build-embedded --release
echo "== tests"
cargo test --workspace --release
echo "== fuzz smoke (cargo-fuzz, every target)"
FUZZ_SECONDS=${FUZZ_SECONDS:-45} scripts/fuzz.sh smoke
echo "== wasm bindings and web page (Chromium, Firefox, end to end)"
scripts/test-web.sh
