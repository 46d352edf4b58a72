#!/usr/bin/env bash
# The main job: sets up (idempotent), shows what the CLI says of a bundled
# stream recorded from a real QEMU, then serves the web page on
# http://127.0.0.1:8000 (drop any migration stream on it; nothing leaves
# the machine). `scripts/run.sh --cli-only [FILE]` stops after the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "run.sh: needs Rust's cargo (rustup)" >&2; exit 1; }

cli_only=false
if [ "${1:-}" = --cli-only ]; then cli_only=true; shift; fi
sample=${1:-tests/fixtures/x86_64-pc-devices-10.0.mig}
cargo build --quiet --release -p qevm-cli
echo "+ qevm info $sample"
target/release/qevm info "$sample"
$cli_only && exit 0
echo
exec scripts/web.sh
