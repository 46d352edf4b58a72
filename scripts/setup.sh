#!/usr/bin/env bash
# scripts/setup.sh — install the toolchains qevm needs, idempotently.
#
#   scripts/setup.sh [core]                  embedded (thumbv7em-none-eabihf) build route
#   scripts/setup.sh wasm                    wasm32 toolchain, wasm-bindgen-cli, wasm-pack,
#                                            chromium(+driver), firefox-esr(+geckodriver), binaryen
#   scripts/setup.sh all                     core + wasm
#   scripts/setup.sh build-embedded [args]   build the no_std core for thumbv7em-none-eabihf
#                                            (--no-default-features), via whichever route exists
#   eval "$(scripts/setup.sh wasm-env [chrome|firefox])"
#                                            export PATH, RUSTC, RUSTDOC, CHROMEDRIVER, GECKODRIVER
#                                            for `wasm-pack test --headless --chrome/--firefox`.
#                                            With no browser both drivers are exported, and then
#                                            wasm-bindgen-test-runner uses Firefox even for --chrome:
#                                            pass the browser (exports its driver, unsets the other).
#
# Every step checks before it installs and prints one line: "ok (already there)" or
# what it installs. Nothing is downloaded except through apt-get, rustup (its normal
# `target add`) and `cargo install` from crates.io.
#
# Routes: first `rustup target add <target>` (on a normal machine that is all it takes).
# Where rustup cannot fetch the target, Debian's rustc-web/cargo-web (Rust 1.96) plus
# rust-web-src are used: -Zbuild-std for the embedded target, and a wasm32 sysroot built
# once into Debian's rustlib (see shared/docs/toolchain.md).
#
# Environment knobs:
#   QEVM_TOOLCHAIN_ROUTE=auto|rustup|debian  force a route (default auto)
#   QEVM_RETRY_RUSTUP=1       retry `rustup target add` even though it failed before
#   WASM_BINDGEN_VERSION=X.Y.Z  wasm-bindgen-cli version (default: from Cargo.lock)
#   EMBEDDED_BUILD_STD=core   crates for -Zbuild-std on the Debian route (e.g. core,alloc)
set -euo pipefail

cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)

EMBEDDED_TARGET=thumbv7em-none-eabihf
WASM_TARGET=wasm32-unknown-unknown
ROUTE=${QEVM_TOOLCHAIN_ROUTE:-auto}
DEB_RUSTC=/usr/bin/rustc
DEB_CARGO=/usr/bin/cargo
DEB_RUSTDOC=/usr/bin/rustdoc
LLVM_BIN=/usr/lib/llvm-22/bin
CARGO_BIN=${CARGO_HOME:-$HOME/.cargo}/bin
STATE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/qevm-setup

case ":$PATH:" in
    *":$CARGO_BIN:"*) ;;
    *) [ -d "$CARGO_BIN" ] && PATH="$CARGO_BIN:$PATH" ;;
esac
export PATH

case "$ROUTE" in
    auto | rustup | debian) ;;
    *) echo "setup.sh: QEVM_TOOLCHAIN_ROUTE must be auto, rustup or debian (got '$ROUTE')" >&2; exit 2 ;;
esac

say() { printf '[setup] %-40s %s\n' "$1" "$2"; }
die() { echo "setup.sh: $*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot apt-get install"
    SUDO=(sudo)
fi

LOG=""
ensure_log() { [ -n "$LOG" ] || LOG=$(mktemp "${TMPDIR:-/tmp}/qevm-setup.XXXXXX.log"); }
# Run a command with its output sent to a log; show the log's tail if it fails.
run_logged() {
    ensure_log
    if ! "$@" >>"$LOG" 2>&1; then
        echo "setup.sh: failed: $*" >&2
        tail -n 40 "$LOG" >&2
        echo "setup.sh: full log: $LOG" >&2
        exit 1
    fi
}

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

APT_UPDATED=0
apt_install() {
    local env=(env DEBIAN_FRONTEND=noninteractive)
    ensure_log
    if ! "${SUDO[@]}" "${env[@]}" apt-get install -y -qq --no-install-recommends "$@" >>"$LOG" 2>&1; then
        [ "$APT_UPDATED" -eq 0 ] || die "apt-get install $* failed (log: $LOG)"
        APT_UPDATED=1
        run_logged "${SUDO[@]}" apt-get update -qq
        run_logged "${SUDO[@]}" "${env[@]}" apt-get install -y -qq --no-install-recommends "$@"
    fi
}

# ensure_apt LABEL PKG...: install whichever of PKG... are missing.
ensure_apt() {
    local label=$1 p missing=()
    shift
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -eq 0 ]; then
        say "$label" "ok (already there)"
    else
        say "$label" "installing ${missing[*]} (apt-get)"
        apt_install "${missing[@]}"
    fi
}

have_rustup() { command -v rustup >/dev/null 2>&1; }

rustup_has_target() {
    [ "$ROUTE" != debian ] && have_rustup &&
        rustup target list --installed 2>/dev/null | grep -qx "$1"
}

# ensure_rustup_target TARGET DEBIAN_READY: 0 if rustup has (or now gets) TARGET.
# DEBIAN_READY=1 means the Debian fallback is already complete: then a previous
# failure of `rustup target add` is not retried (it may hang until the timeout).
ensure_rustup_target() {
    local target=$1 debian_ready=$2 marker
    if [ "$ROUTE" = debian ]; then
        say "rustup target $target" "skipped (QEVM_TOOLCHAIN_ROUTE=debian)"
        return 1
    fi
    if ! have_rustup; then
        [ "$ROUTE" = rustup ] && die "QEVM_TOOLCHAIN_ROUTE=rustup but rustup is not on PATH"
        say "rustup target $target" "no rustup: using the Debian route"
        return 1
    fi
    if rustup_has_target "$target"; then
        say "rustup target $target" "ok (already there)"
        return 0
    fi
    marker="$STATE_DIR/rustup-target-add-failed-$target"
    if [ "$debian_ready" = 1 ] && [ -e "$marker" ] && [ "${QEVM_RETRY_RUSTUP:-0}" != 1 ]; then
        say "rustup target $target" "ok (already there: Debian route; rustup could not fetch it before)"
        return 1
    fi
    if timeout 60 rustup target add "$target" >/dev/null 2>&1 && rustup_has_target "$target"; then
        rm -f "$marker"
        say "rustup target $target" "installed (rustup target add)"
        return 0
    fi
    [ "$ROUTE" = rustup ] && die "rustup target add $target failed and QEVM_TOOLCHAIN_ROUTE=rustup"
    mkdir -p "$STATE_DIR" && : >"$marker"
    say "rustup target $target" "rustup could not fetch it: using the Debian route"
    return 1
}

RUST_WEB_PKGS=(rustc-web cargo-web rust-web-src)

debian_core_ready() {
    local p
    for p in "${RUST_WEB_PKGS[@]}"; do pkg_installed "$p" || return 1; done
    [ -x "$DEB_RUSTC" ] && [ -x "$DEB_CARGO" ] && [ -d /usr/lib/rustlib/src/rust/library ]
}

# ---------------------------------------------------------------- core
cmd_core() {
    local ready=0
    # the CLI tests open `qevm extract --elf` cores with gdb
    ensure_apt "apt: gdb" gdb
    debian_core_ready && ready=1
    if ensure_rustup_target "$EMBEDDED_TARGET" "$ready"; then
        say "core build route" "rustup (cargo build --target $EMBEDDED_TARGET)"
        return
    fi
    ensure_apt "apt: Debian Rust 1.96 + std source" "${RUST_WEB_PKGS[@]}"
    debian_core_ready || die "rustc-web/cargo-web/rust-web-src installed but /usr/bin/rustc, /usr/bin/cargo or /usr/lib/rustlib/src/rust/library is missing"
    say "core build route" "Debian (-Zbuild-std=${EMBEDDED_BUILD_STD:-core}, target/embedded)"
}

cmd_build_embedded() {
    if rustup_has_target "$EMBEDDED_TARGET"; then
        echo "+ cargo build --target $EMBEDDED_TARGET --no-default-features $*" >&2
        # rustup's cargo and rustc even after `eval "$(scripts/setup.sh wasm-env)"` put
        # Debian's first on PATH (cargo runs the first `rustc` on PATH unless RUSTC is set)
        exec env PATH="$CARGO_BIN:$PATH" RUSTC="$CARGO_BIN/rustc" RUSTDOC="$CARGO_BIN/rustdoc" \
            "$CARGO_BIN/cargo" build --target "$EMBEDDED_TARGET" \
            --no-default-features "$@"
    fi
    [ "$ROUTE" = rustup ] && die "rustup has no $EMBEDDED_TARGET target: run scripts/setup.sh core"
    debian_core_ready || die "no route to build for $EMBEDDED_TARGET: run scripts/setup.sh core first"
    local std=${EMBEDDED_BUILD_STD:-core}
    echo "+ RUSTC=$DEB_RUSTC RUSTC_BOOTSTRAP=1 $DEB_CARGO build --target $EMBEDDED_TARGET -Zbuild-std=$std --target-dir target/embedded --no-default-features $*" >&2
    exec env RUSTC="$DEB_RUSTC" RUSTDOC="$DEB_RUSTDOC" RUSTC_BOOTSTRAP=1 "$DEB_CARGO" build \
        --target "$EMBEDDED_TARGET" -Zbuild-std="$std" --target-dir target/embedded \
        --no-default-features "$@"
}

# ---------------------------------------------------------------- wasm
wasm_libdir() { "$DEB_RUSTC" --print target-libdir --target "$WASM_TARGET"; }

rustc_web_id() { "$DEB_RUSTC" -vV; }

wasm_sysroot_ready() {
    local libdir
    libdir=$(wasm_libdir 2>/dev/null) || return 1
    compgen -G "$libdir/libstd-*.rlib" >/dev/null || return 1
    [ -e "$libdir/../qevm-sysroot.stamp" ] && [ "$(cat "$libdir/../qevm-sysroot.stamp")" = "$(rustc_web_id)" ]
}

rust_lld_path() {
    local host
    host=$("$DEB_RUSTC" -vV | sed -n 's/^host: //p')
    echo "$("$DEB_RUSTC" --print sysroot)/lib/rustlib/$host/bin/rust-lld"
}

debian_wasm_ready() {
    debian_core_ready && pkg_installed lld-22 && wasm_sysroot_ready &&
        [ "$(readlink "$(rust_lld_path)" 2>/dev/null)" = "$LLVM_BIN/lld" ]
}

build_wasm_sysroot() {
    local libdir tmp
    libdir=$(wasm_libdir)
    if wasm_sysroot_ready; then
        say "wasm32 sysroot" "ok (already there: $libdir)"
        return
    fi
    if pkg_installed libstd-rust-dev-wasm32; then
        die "libstd-rust-dev-wasm32 (Debian's old wasm32 std) owns $libdir: remove it first"
    fi
    say "wasm32 sysroot" "building std for $WASM_TARGET with -Zbuild-std (~1 min) into $libdir"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/qevm-wasm-sysroot.XXXXXX")
    mkdir -p "$tmp/src"
    printf '[package]\nname = "qevm_sysroot_dummy"\nversion = "0.0.0"\nedition = "2021"\n\n[workspace]\n' >"$tmp/Cargo.toml"
    : >"$tmp/src/lib.rs"
    (
        cd "$tmp"
        run_logged env RUSTFLAGS=-Cembed-bitcode=yes RUSTC="$DEB_RUSTC" RUSTC_BOOTSTRAP=1 \
            CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$LLVM_BIN/wasm-ld" \
            "$DEB_CARGO" build --release --target "$WASM_TARGET" \
            -Zbuild-std=std,panic_abort,panic_unwind,proc_macro,test
    )
    local f n=0 manifest="$libdir/../qevm-sysroot.files"
    "${SUDO[@]}" mkdir -p "$libdir"
    # drop what an earlier run installed (never files a Debian package owns)
    if [ -f "$manifest" ]; then
        while read -r f; do "${SUDO[@]}" rm -f "$libdir/$f"; done <"$manifest"
    fi
    "${SUDO[@]}" rm -f "$manifest" "$libdir/../qevm-sysroot.stamp"
    for f in "$tmp/target/$WASM_TARGET/release/deps/"*.rlib; do
        case "$(basename "$f")" in libqevm_sysroot_dummy-*) continue ;; esac
        "${SUDO[@]}" cp "$f" "$libdir/"
        basename "$f" | "${SUDO[@]}" tee -a "$manifest" >/dev/null
        n=$((n + 1))
    done
    rustc_web_id | "${SUDO[@]}" tee "$libdir/../qevm-sysroot.stamp" >/dev/null
    rm -rf "$tmp"
    say "wasm32 sysroot" "installed $n rlibs"
}

link_rust_lld() {
    local link
    link=$(rust_lld_path)
    if [ "$(readlink "$link" 2>/dev/null)" = "$LLVM_BIN/lld" ]; then
        say "rust-lld -> lld-22" "ok (already there)"
    else
        say "rust-lld -> lld-22" "linking $link"
        "${SUDO[@]}" mkdir -p "$(dirname "$link")"
        "${SUDO[@]}" ln -sf "$LLVM_BIN/lld" "$link"
    fi
}

wasm_bindgen_version() {
    if [ -n "${WASM_BINDGEN_VERSION:-}" ]; then
        echo "$WASM_BINDGEN_VERSION"
    elif [ -f "$REPO_ROOT/Cargo.lock" ]; then
        awk '/^\[\[package\]\]/ { n = "" }
             /^name = /         { n = $3 }
             /^version = / && n == "\"wasm-bindgen\"" { gsub(/"/, "", $3); print $3; exit }' \
            "$REPO_ROOT/Cargo.lock"
    fi
}

# Host-side `cargo install`: rustup's cargo when there is one, else Debian's.
host_cargo() {
    if [ -x "$CARGO_BIN/cargo" ]; then echo "$CARGO_BIN/cargo"; else echo "$DEB_CARGO"; fi
}

cargo_install() { # LABEL CRATE [ARGS...]
    local label=$1
    shift
    say "$label" "installing: cargo install $* (a few minutes)"
    run_logged "$(host_cargo)" install --quiet "$@"
}

ensure_wasm_bindgen() {
    local want have=""
    want=$(wasm_bindgen_version)
    if [ -z "$want" ]; then
        say "wasm-bindgen-cli" "skipped (no wasm-bindgen in Cargo.lock; set WASM_BINDGEN_VERSION)"
        return
    fi
    if command -v wasm-bindgen >/dev/null 2>&1; then
        have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
    fi
    if [ "$have" = "$want" ] && command -v wasm-bindgen-test-runner >/dev/null 2>&1; then
        say "wasm-bindgen-cli $want" "ok (already there)"
    else
        # no --locked: one locked dependency version is missing from the registry
        cargo_install "wasm-bindgen-cli $want${have:+ (replacing $have)}" wasm-bindgen-cli --version "$want" --force
    fi
}

ensure_cargo_tool() { # BINARY CRATE
    if command -v "$1" >/dev/null 2>&1; then
        say "$2" "ok (already there)"
    else
        cargo_install "$2" "$2"
    fi
}

cmd_wasm() {
    local ready=0
    [ -x "$DEB_RUSTC" ] && debian_wasm_ready && ready=1
    if ensure_rustup_target "$WASM_TARGET" "$ready"; then
        say "wasm build route" "rustup"
    else
        ensure_apt "apt: Debian Rust 1.96 + std src, lld-22" "${RUST_WEB_PKGS[@]}" lld-22
        build_wasm_sysroot
        link_rust_lld
        say "wasm build route" "Debian (eval \"\$(scripts/setup.sh wasm-env)\")"
    fi
    ensure_apt "apt: chromium + chromium-driver" chromium chromium-driver
    ensure_apt "apt: firefox-esr" firefox-esr
    ensure_apt "apt: binaryen (wasm-opt)" binaryen
    ensure_wasm_bindgen
    ensure_cargo_tool wasm-pack wasm-pack
    ensure_cargo_tool geckodriver geckodriver
}

# wasm-env [chrome|firefox]. wasm-bindgen-test-runner picks its browser from the
# environment, GECKODRIVER before CHROMEDRIVER: with both set, `wasm-pack test
# --chrome` silently runs Firefox. `wasm-env chrome` / `wasm-env firefox` export
# only that browser's driver and unset the other.
# shellcheck disable=SC2016  # $PATH and $(...) are printed for the caller's eval
cmd_wasm_env() {
    local browser=${1:-both} gecko
    case "$browser" in both | chrome | firefox) ;; *) die "wasm-env [chrome|firefox]" ;; esac
    gecko=$(command -v geckodriver 2>/dev/null || echo "$CARGO_BIN/geckodriver")
    if rustup_has_target "$WASM_TARGET"; then
        printf 'export PATH="%s:$PATH"\n' "$CARGO_BIN"
        printf 'export RUSTC="%s"\n' "$CARGO_BIN/rustc"
        printf 'export RUSTDOC="%s"\n' "$CARGO_BIN/rustdoc"
    else
        [ "$ROUTE" = rustup ] && die "rustup has no $WASM_TARGET target: run scripts/setup.sh wasm"
        # Debian's cargo/rustc first (wasm-pack looks for the wasm target in the
        # sysroot of the rustc it runs), then cargo-installed wasm-pack & co.
        printf 'export PATH="/usr/bin:%s:$PATH"\n' "$CARGO_BIN"
        printf 'export RUSTC="%s"\n' "$DEB_RUSTC"
        printf 'export RUSTDOC="%s"\n' "$DEB_RUSTDOC"
    fi
    case "$browser" in
        both)
            printf 'export CHROMEDRIVER="%s"\n' /usr/bin/chromedriver
            printf 'export GECKODRIVER="%s"\n' "$gecko"
            echo '# both drivers set: wasm-bindgen-test-runner then uses Firefox even for --chrome;'
            echo '# run Chrome tests as `env -u GECKODRIVER wasm-pack test --headless --chrome`'
            echo '# or eval "$(scripts/setup.sh wasm-env chrome)" instead.'
            ;;
        chrome)
            printf 'export CHROMEDRIVER="%s"\n' /usr/bin/chromedriver
            echo 'unset GECKODRIVER'
            ;;
        firefox)
            printf 'export GECKODRIVER="%s"\n' "$gecko"
            echo 'unset CHROMEDRIVER'
            ;;
    esac
}

cmd=${1:-core}
[ $# -gt 0 ] && shift
case "$cmd" in
    core) cmd_core ;;
    wasm) cmd_wasm ;;
    all) cmd_core; cmd_wasm ;;
    build-embedded) cmd_build_embedded "$@" ;;
    wasm-env) cmd_wasm_env "$@" ;;
    -h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
    *) echo "usage: scripts/setup.sh [core|wasm|all|build-embedded [cargo args]|wasm-env [chrome|firefox]]" >&2; exit 2 ;;
esac
