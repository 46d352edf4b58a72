#!/usr/bin/env bash
# scripts/web.sh — build the web page and serve it on http://127.0.0.1:8000
#
#   scripts/web.sh            set up (idempotent), build web/pkg, serve web/
#   scripts/web.sh --build    set up and build only
#   PORT=8080 scripts/web.sh  another port
#
# Setup is scripts/setup.sh wasm (wasm32 target, wasm-bindgen-cli, wasm-pack,
# browsers): it installs only what is missing. The build is
# `wasm-pack build --target web` of wasm/ into web/pkg (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

# wasm/Cargo.lock is separate from the root one: pin the CLI to the crate's
# exact wasm-bindgen version (wasm/Cargo.toml says "=0.2.130").
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' wasm/Cargo.toml)}
export WASM_BINDGEN_VERSION

build_web() {
    scripts/setup.sh wasm
    eval "$(scripts/setup.sh wasm-env chrome)"
    echo "+ wasm-pack build --target web --release wasm --out-dir ../web/pkg" >&2
    (cd wasm && wasm-pack --quiet build --target web --release --out-dir ../web/pkg --no-typescript --no-pack)
    rm -f web/pkg/.gitignore # web/.gitignore covers pkg/
}

build_web
[ "${1:-}" = --build ] && exit 0

PORT=${PORT:-8000}
echo "qevm web page: http://127.0.0.1:$PORT/  (Ctrl-C to stop)"
exec python3 -m http.server "$PORT" --bind 127.0.0.1 --directory web
