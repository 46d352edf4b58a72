#!/usr/bin/env bash
# scripts/test-web.sh — the wasm bindings and the web page, tested for real:
#   1. native tests of the wasm crate's decoding loop (goldens, every fixture)
#   2. wasm-pack test --headless --chrome, then --firefox (fixtures in the binary)
#   3. wasm-pack build --target web into web/pkg
#   4. the e2e test: Debian's Chromium driven by playwright-core (npm ci if needed)
# Idempotent setup first (scripts/setup.sh wasm). Exits non-zero on any failure.
# Artifacts (screenshots) go to web/test-artifacts/ (or $QEVM_ARTIFACTS).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' wasm/Cargo.toml)}
export WASM_BINDGEN_VERSION

step() { printf '\n== %s\n' "$*"; }

step "setup"
scripts/setup.sh wasm
command -v node >/dev/null && command -v npm >/dev/null || {
    echo "test-web.sh: node and npm are needed for the e2e test (apt-get install nodejs npm)" >&2
    exit 1
}

step "wasm crate: native tests (cargo test --release)"
(cd wasm && env -u RUSTC -u RUSTDOC cargo test --release --quiet)

step "wasm-pack test --headless --chrome"
(
    eval "$(scripts/setup.sh wasm-env chrome)"
    cd wasm && wasm-pack test --headless --chrome
)

step "wasm-pack test --headless --firefox"
(
    eval "$(scripts/setup.sh wasm-env firefox)"
    cd wasm && wasm-pack test --headless --firefox
)

step "wasm-pack build --target web"
scripts/web.sh --build

step "e2e (Chromium + playwright-core)"
cd "$ROOT/web/tests"
if [ ! -d node_modules/playwright-core ] ||
    [ "$(node -p 'require("./node_modules/playwright-core/package.json").version' 2>/dev/null)" != \
      "$(node -p 'require("./package.json").dependencies["playwright-core"]')" ]; then
    npm ci --no-audit --no-fund
fi
node --test e2e.test.mjs
echo
echo "test-web.sh: all passed (screenshots in ${QEVM_ARTIFACTS:-web/test-artifacts})"
