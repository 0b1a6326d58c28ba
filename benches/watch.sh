#!/usr/bin/env bash
# The dev loop's latency, on a private daemon this script starts and stops (needs root):
#  1. sync: a file saved under a develop.watch sync path -> its new content read inside the
#     container (`rstack exec cat`, polled every 10 ms: the poll's own cost is included);
#  2. reload: a stack file edit under `up --watch` (one service's environment) -> that
#     service running with the new config (polled the same way).
# Prints the median of RUNS edits of each (ms). Usage: benches/watch.sh [RUNS]
# The binary: $RSTACK_BIN, else the debug build (`cargo build`); figures for the README are
# taken with the release build (RSTACK_BIN=target/x86_64-unknown-linux-musl/release/rstack).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
rstack=${RSTACK_BIN:-$PWD/target/x86_64-unknown-linux-musl/debug/rstack}
[ -x "$rstack" ] || cargo build -q
command -v busybox >/dev/null || { echo "needs a static busybox on PATH" >&2; exit 1; }

work=$(mktemp -d /tmp/rstack-bench-watch.XXXXXX)
export RSTACK_SOCKET=$work/rstack.sock RSTACK_DATA_ROOT=$work/data
watcher=
cleanup() {
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null || true
  (cd "$work/proj" 2>/dev/null && "$rstack" down -t 1 >/dev/null 2>&1) || true
  if [ -f "$work/data/daemon.lock" ]; then
    pid=$(cat "$work/data/daemon.lock")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work"/rootfs/{bin,etc,tmp,root,proc,sys,dev} "$work/proj/src"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in sh sleep cat rm; do ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
"$rstack" image import "$work/busybox.tar" busybox:bench >/dev/null

stack() {
  cat >"$work/proj/compose.yaml" <<YAML
name: watchbench
services:
  app:
    image: busybox:bench
    network_mode: none
    stop_signal: SIGKILL
    command: ["sleep", "100000"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /srv
  conf:
    image: busybox:bench
    network_mode: none
    stop_signal: SIGKILL
    command: ["sleep", "100000"]
    environment:
      REV: "$1"
YAML
}
stack 0
echo 0 >"$work/proj/src/f"
cd "$work/proj"
"$rstack" up --watch >"$work/watch.out" 2>"$work/watch.err" &
watcher=$!
until grep -q "Watch enabled" "$work/watch.err"; do sleep 0.05; done

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

sync_ms=()
for i in $(seq "$runs"); do
  t0=$(now)
  echo "$i" >src/f
  until [ "$("$rstack" exec -T app cat /srv/f 2>/dev/null)" = "$i" ]; do sleep 0.01; done
  sync_ms+=($(( ($(now) - t0) / 1000000 )))
done

reload_ms=()
for i in $(seq "$runs"); do
  t0=$(now)
  stack "$i"
  until [ "$("$rstack" exec -T conf sh -c 'echo $REV' 2>/dev/null)" = "$i" ]; do sleep 0.01; done
  reload_ms+=($(( ($(now) - t0) / 1000000 )))
done

echo "sync (save -> content in the container): median $(printf '%s\n' "${sync_ms[@]}" | median) ms over $runs edits"
echo "reload (stack edit -> service running the new config): median $(printf '%s\n' "${reload_ms[@]}" | median) ms over $runs edits"
