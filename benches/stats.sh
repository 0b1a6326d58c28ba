#!/usr/bin/env bash
# `rstack stats --no-stream` over 100 running busybox `sleep` containers, on a private
# daemon this script starts and stops. Prints the median wall time of RUNS calls (ms).
# Needs root. Usage: benches/stats.sh [RUNS] [CONTAINERS]
# The binary: $RSTACK_BIN, else the debug build (`cargo build`).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
n=${2:-100}
rstack=${RSTACK_BIN:-$PWD/target/x86_64-unknown-linux-musl/debug/rstack}
[ -x "$rstack" ] || cargo build -q
command -v busybox >/dev/null || { echo "needs a static busybox on PATH" >&2; exit 1; }

work=$(mktemp -d /tmp/rstack-bench-stats.XXXXXX)
export RSTACK_SOCKET=$work/rstack.sock RSTACK_DATA_ROOT=$work/data
cleanup() {
  (cd "$work/proj" 2>/dev/null && "$rstack" down -t 1 >/dev/null 2>&1) || true
  if [ -f "$work/data/daemon.lock" ]; then
    pid=$(cat "$work/data/daemon.lock")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work"/rootfs/{bin,etc,tmp,root,proc,sys,dev} "$work/proj"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in sh sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
"$rstack" image import "$work/busybox.tar" busybox:bench >/dev/null

{
  echo "name: statsbench"
  echo "services:"
  for i in $(seq "$n"); do
    printf '  s%s:\n    image: busybox:bench\n    stop_grace_period: 1s\n    network_mode: none\n    command: ["sleep", "100000"]\n' "$i"
  done
} >"$work/proj/compose.yaml"
cd "$work/proj"
"$rstack" up -d >/dev/null 2>&1
running=$("$rstack" stats --no-stream --format json | wc -l)
echo "containers running: $running"

# `ps` for comparison: the listing part every command pays.
python3 - "$runs" "$rstack" <<'PY'
import subprocess, sys, time, statistics
runs = int(sys.argv[1]); rstack = sys.argv[2]
time.sleep(1)
for args in (["stats", "--no-stream"], ["ps", "--format", "json"]):
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([rstack, *args], stdout=subprocess.DEVNULL, check=True)
        ts.append((time.perf_counter() - t) * 1000)
    print(f"{' '.join(args)}: median {statistics.median(ts):.1f} ms, min {min(ts):.1f} ms, max {max(ts):.1f} ms over {runs} runs")
PY
