#!/usr/bin/env bash
# Benchmarks the qevm command against `cat` and QEMU's analyze-migration.py
# on a >= 1 GiB stream of mostly non-zero pages, side by side in one run,
# and prints a Markdown table (the one in cli/README.md).
#
#   benches/cli.sh [RUNS]        # RUNS timed runs per command, best kept (5)
#
# Environment: QEVM_BENCH_DATA (default /work/bench-data) holds the data,
# kept out of the repository, created when missing: RANDOM.bin (1 GiB of
# random bytes); from the same guest (qemu-system-x86_64 -M pc -m 1200,
# RANDOM.bin loaded into its RAM): BIG.mig (exec: migration), MAPPED.mig
# (file: migration with mapped-ram) and SNAP.qcow2 (a savevm snapshot
# "s"). ANALYZE points at QEMU's scripts/analyze-migration.py, QEMU_STREAM
# at the recording tool.
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
GUEST=(-M pc -m 1200 -device loader,file="$DATA/RANDOM.bin",addr=0x1000000,force-raw=on)
if [ ! -s "$BIG" ]; then
    python3 "$QEMU_STREAM" "$BIG.tmp" -- "${GUEST[@]}"
    mv "$BIG.tmp" "$BIG"
fi
MAPPED=$DATA/MAPPED.mig
if [ ! -s "$MAPPED" ]; then
    python3 "$QEMU_STREAM" "$MAPPED.tmp" --uri file --cap mapped-ram -- "${GUEST[@]}"
    mv "$MAPPED.tmp" "$MAPPED"
fi
SNAP=$DATA/SNAP.qcow2
if [ ! -s "$SNAP" ]; then
    qemu-img create -q -f qcow2 "$SNAP.tmp" 64M
    # savevm over QMP (tests/fixtures/guest.py's client), guest stopped (-S)
    python3 - "$SNAP.tmp" "${GUEST[@]}" <<'PY'
import os, subprocess, sys, tempfile
sys.path.insert(0, "tests/fixtures")
from guest import QMP
img, guest = sys.argv[1], sys.argv[2:]
sock = os.path.join(tempfile.mkdtemp(), "qmp.sock")
p = subprocess.Popen(["qemu-system-x86_64", "-display", "none", "-S", "-nic", "none",
                      "-qmp", f"unix:{sock},server=on,wait=off",
                      "-drive", f"file={img},if=ide,format=qcow2"] + guest)
qmp = QMP(sock, p)
qmp("human-monitor-command", **{"command-line": "savevm s"})
qmp("quit")
p.wait()
PY
    mv "$SNAP.tmp" "$SNAP"
fi

cargo build --release -q -p qevm-cli
QEVM=$PWD/target/release/qevm
WORK=$(mktemp -d "$DATA/bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Each command: a name and a shell command line.
NAMES=(cat cat_pipe info info_pipe state extract py_state py_extract
       extract_elf cat_mapped info_mapped cat_snap info_snap)
declare -A CMD=(
    [extract_elf]="'$QEVM' extract '$BIG' -o '$WORK/out' --elf"
    [cat_mapped]="cat '$MAPPED' > /dev/null"
    [info_mapped]="'$QEVM' info '$MAPPED'"
    [cat_snap]="cat '$SNAP' > /dev/null"
    [info_snap]="'$QEVM' info '$SNAP' --snapshot s"
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

cat "$BIG" "$MAPPED" "$SNAP" > /dev/null   # warm the page cache once, for everyone
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
echo
echo "Other formats of the same guest (analyze-migration.py reads none of them):"
echo
echo "| measurement | time (s) | peak RSS (MiB) | ratio |"
echo "|---|---|---|---|"
echo "| \`qevm extract FILE -o DIR --elf\` (BIG.mig) | $(t extract_elf) | $(mib "$(m extract_elf)") | $(ratio "$(t extract_elf)" "$(t extract)") x extract |"
echo "| \`cat MAPPED.mig > /dev/null\` (mapped-ram, $(du -h --apparent-size "$MAPPED" | cut -f1) sparse) | $(t cat_mapped) | $(mib "$(m cat_mapped)") | 1.00 |"
echo "| \`qevm info MAPPED.mig\` | $(t info_mapped) | $(mib "$(m info_mapped)") | $(ratio "$(t info_mapped)" "$(t cat_mapped)") x cat |"
echo "| \`cat SNAP.qcow2 > /dev/null\` (savevm) | $(t cat_snap) | $(mib "$(m cat_snap)") | 1.00 |"
echo "| \`qevm info SNAP.qcow2 --snapshot s\` | $(t info_snap) | $(mib "$(m info_snap)") | $(ratio "$(t info_snap)" "$(t cat_snap)") x cat |"
