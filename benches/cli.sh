#!/usr/bin/env bash
# Benchmarks the qevm command against `cat` and QEMU's analyze-migration.py
# on a >= 1 GiB stream of mostly non-zero pages, side by side in one run,
# and prints a Markdown table (the one in cli/README.md).
#
#   benches/cli.sh [RUNS]        # RUNS timed runs per command, best kept (5)
#
# Environment: QEVM_BENCH_DATA (default /work/bench-data) holds the data,
# kept out of the repository: RANDOM.bin (1 GiB of random bytes) and
# BIG.mig, recorded from qemu-system-x86_64 with RANDOM.bin loaded into
# guest RAM; both are created when missing. ANALYZE points at QEMU's
# scripts/analyze-migration.py, QEMU_STREAM at the recording tool.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DATA=${QEVM_BENCH_DATA:-/work/bench-data}
ANALYZE=${ANALYZE:-/work/qemu-src/qemu-10.0.2/scripts/analyze-migration.py}
QEMU_STREAM=${QEMU_STREAM:-$PWD/../shared/tools/qemu-stream.py}
BIG=$DATA/BIG.mig

mkdir -p "$DATA"
if [ ! -s "$DATA/RANDOM.bin" ]; then
    head -c $((1 << 30)) /dev/urandom > "$DATA/RANDOM.bin.tmp"
    mv "$DATA/RANDOM.bin.tmp" "$DATA/RANDOM.bin"
fi
if [ ! -s "$BIG" ]; then
    python3 "$QEMU_STREAM" "$BIG.tmp" -- -M pc -m 1200 \
        -device loader,file="$DATA/RANDOM.bin",addr=0x1000000,force-raw=on
    mv "$BIG.tmp" "$BIG"
fi

cargo build --release -q -p qevm-cli
QEVM=$PWD/target/release/qevm
WORK=$(mktemp -d "$DATA/bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Each command: a name and a shell command line.
NAMES=(cat cat_pipe info info_pipe state extract py_state py_extract)
declare -A CMD=(
    [cat]="cat '$BIG' > /dev/null"
    [cat_pipe]="cat '$BIG' | cat > /dev/null"
    [info]="'$QEVM' info '$BIG'"
    [info_pipe]="cat '$BIG' | '$QEVM' info -"
    [state]="'$QEVM' state '$BIG'"
    [extract]="'$QEVM' extract '$BIG' -o '$WORK/out'"
    [py_state]="python3 '$ANALYZE' -d state -f '$BIG'"
    [py_extract]="cd '$WORK/out' && python3 '$ANALYZE' -x -f '$BIG'"
)
declare -A BEST RSS

# run NAME: runs the command once; keeps its best wall time (s) and the
# peak RSS (KiB) of that run.
run() {
    local t0 t1 t
    rm -rf "$WORK/out" && mkdir -p "$WORK/out"
    sync   # earlier runs' written images are not flushed on this run's time
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$WORK/rss" bash -c "${CMD[$1]}" > /dev/null
    t1=$(date +%s%N)
    t=$(awk "BEGIN{printf \"%.3f\", ($t1 - $t0) / 1e9}")
    if [ -z "${BEST[$1]:-}" ] || awk "BEGIN{exit !($t < ${BEST[$1]})}"; then
        BEST[$1]=$t
        RSS[$1]=$(cat "$WORK/rss")
    fi
}

cat "$BIG" > /dev/null   # warm the page cache once, for everyone
# Round robin, so that load from elsewhere hits every command alike.
for _ in $(seq "$RUNS"); do
    for n in "${NAMES[@]}"; do run "$n"; done
done
# Peak RSS of the streaming reader alone, as /usr/bin/time -v reports it.
cat "$BIG" | /usr/bin/time -v "$QEVM" info - > /dev/null 2> "$WORK/timev"
pipe_rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/timev")

t() { echo "${BEST[$1]}"; }
m() { echo "${RSS[$1]}"; }
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
mib() { awk "BEGIN{printf \"%.1f\", $1 / 1024}"; }

size=$(stat -c %s "$BIG")
echo "Stream: $(awk "BEGIN{printf \"%.2f\", $size / 2^30}") GiB ($size bytes), best of $RUNS run(s), $(nproc) CPU(s)"
echo
echo "| measurement | time (s) | peak RSS (MiB) | ratio | target |"
echo "|---|---|---|---|---|"
echo "| \`cat FILE > /dev/null\` | $(t cat) | $(mib "$(m cat)") | 1.00 | |"
echo "| \`qevm info FILE\` | $(t info) | $(mib "$(m info)") | $(ratio "$(t info)" "$(t cat)") x cat | <= 1.5 |"
echo "| \`cat FILE \| cat > /dev/null\` (a pipe's bandwidth) | $(t cat_pipe) | $(mib "$(m cat_pipe)") | 1.00 | |"
echo "| \`cat FILE \| qevm info -\` | $(t info_pipe) | $(mib "$pipe_rss") (qevm) | $(ratio "$(t info_pipe)" "$(t cat_pipe)") x pipe | RSS < 32 MiB |"
echo "| \`analyze-migration.py -d state\` | $(t py_state) | $(mib "$(m py_state)") | 1.00 | |"
echo "| \`qevm state FILE\` | $(t state) | $(mib "$(m state)") | $(ratio "$(t state)" "$(t py_state)") x script | |"
echo "| \`analyze-migration.py -x\` | $(t py_extract) | $(mib "$(m py_extract)") | 1.00 | |"
echo "| \`qevm extract FILE -o DIR\` | $(t extract) | $(mib "$(m extract)") | $(ratio "$(t extract)" "$(t py_extract)") x script | |"
