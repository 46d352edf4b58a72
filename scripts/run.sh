#!/usr/bin/env bash
# Sets up (idempotent) and decodes a bundled stream recorded from a real
# QEMU, printing every event: sections, device values with their paths,
# RAM blocks, commands. Pass another stream file to decode that instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "run.sh: needs Rust's cargo (rustup)" >&2; exit 1; }
cargo run --quiet --release --example decode -- "${1:-tests/fixtures/x86_64-pc-10.0.mig}"
