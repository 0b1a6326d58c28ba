#!/usr/bin/env bash
# The start on a network against the baseline the goal names (issue 12: "a container start on
# the default network adds <= 2 ms to `run --rm` over today's loopback-only start"): this
# build's `rstack run --rm t true` on the project's default network against a baseline
# build's (default: session 6's final commit 95ad5d6, loopback only), in one run. Two private
# daemons (each its own data root, socket and log), the same images imported in both, then
# alternating blocks of back-to-back runs (an A/B of single runs would hide the work one run
# leaves to the next), the order within each pair of blocks swapped every time. For two images:
# busybox (no /etc/hosts, resolv.conf, hostname: the runtime creates them in the container's
# layer) and busybox with those three files (as Debian's and Alpine's images have them).
# Prints per image the median of all runs of each build, their difference and ratio, and the
# median of the paired block differences (new - base) with how many blocks were slower.
#
# Usage (as root): benches/start_ab.sh [RUNS_PER_BLOCK] [BLOCKS]   (defaults 20 and 10)
# Environment:
#   BASE_BIN=PATH   a baseline binary to use instead of building one
#   BASE_REV=REV    the baseline commit to build (default 95ad5d6): a temporary
#                   `git worktree`, `cargo build --release`, only the binary kept; the
#                   worktree and its target dir are removed afterwards (disk is tight)
#   NEW_BIN=PATH    this build's binary instead of `cargo build --release` here
#   DATA_FS=journal the daemons' data roots on a journaled ext4 made for the run (a 3 GiB
#                   sparse file, loop-mounted, removed afterwards). This VM's root ext4 has no
#                   journal, and without one the kernel checks every new inode against the
#                   recently deleted ones (`recently_deleted`): a run's cost then depends on
#                   how many files anything deleted in the minutes before. Most hosts' ext4
#                   has a journal; this measures both builds on one.
#   GAP_MS=N        wait N ms after each run (default 0: back to back). Spaced starts are how
#                   one-offs and restarts come in practice; back-to-back ones keep kernel
#                   state warm that a start after a pause finds cold (on cgroup v1, the
#                   migration lock's RCU grace period: see runtime::cgroup::Cgroup::open_tasks).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
blocks=${2:-10}
target=$(.ci/toolchain)

work=$(mktemp -d /tmp/rstack-startab.XXXXXX)
pids=()
loopfs=
if [ "${DATA_FS:-}" = journal ]; then
  truncate -s 3G "$work.img"
  mkfs.ext4 -q "$work.img"
  mount -o loop "$work.img" "$work"
  loopfs=$work.img
fi
cleanup() {
  set +e
  # The new build's projects made its default networks: `down` removes them.
  for b in new base; do
    for p in bb bbetc; do
      (cd "$work/$b/$p" 2>/dev/null &&
        RSTACK_SOCKET=$work/$b/rstack.sock RSTACK_DATA_ROOT=$work/$b/data \
          "$work/bin/rstack-$b" down -t 1 </dev/null >/dev/null 2>&1)
    done
  done
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  # Whatever a daemon left: the bridges its network records name, its nftables table.
  for rec in "$work"/*/data/networks/*.json; do
    [ -f "$rec" ] || continue
    br=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("bridge", ""))' "$rec" 2>/dev/null)
    case "$br" in rs-*) ip link del "$br" 2>/dev/null ;; esac
  done
  for t in "$work"/*/data/networks/nft-table; do
    [ -f "$t" ] || continue
    table=$(cat "$t")
    case "$table" in rstack*) nft delete table ip "$table" 2>/dev/null ;; esac
  done
  if [ -n "${base_wt:-}" ]; then
    rm -rf "$base_wt/target"
    git worktree remove --force "$base_wt" 2>/dev/null || rm -rf "$base_wt"
    git worktree prune
  fi
  if [ -n "$loopfs" ]; then
    # Whatever is mounted below the data roots first (nothing, normally), then the file system.
    grep " $work/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l
    umount "$work" && rm -f "$loopfs"
  fi
  # Never delete through a mount someone left behind.
  if grep -q " $work" /proc/mounts; then
    echo "left $work: still mounted: $(grep " $work" /proc/mounts | cut -d' ' -f2 | head -3)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
mkdir -p "$work/bin"

# The two binaries.
if [ -n "${BASE_BIN:-}" ]; then
  cp "$BASE_BIN" "$work/bin/rstack-base"
else
  rev=${BASE_REV:-95ad5d6}
  base_wt=$work/base-src
  git worktree add --detach "$base_wt" "$rev" >/dev/null
  (cd "$base_wt" && cargo build --release -q --target "$target")
  cp "$base_wt/target/$target/release/rstack" "$work/bin/rstack-base"
  rm -rf "$base_wt/target"
  git worktree remove --force "$base_wt"
  base_wt=
fi
if [ -n "${NEW_BIN:-}" ]; then
  cp "$NEW_BIN" "$work/bin/rstack-new"
else
  cargo build --release -q --target "$target"
  cp "target/$target/release/rstack" "$work/bin/rstack-new"
fi

# The images: busybox alone, and busybox with the three files a network's container gets.
mkdir -p "$work"/rootfs/{bin,etc,tmp,root,proc,sys,dev}
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
printf '127.0.0.1\tlocalhost\n' >"$work/rootfs/etc/hosts"
printf 'nameserver 127.0.0.1\n' >"$work/rootfs/etc/resolv.conf"
printf 'image\n' >"$work/rootfs/etc/hostname"
tar -C "$work/rootfs" -cf "$work/busybox-etc.tar" .
rm -rf "$work/rootfs"

# The daemons, each with its projects.
for b in new base; do
  mkdir -p "$work/$b/data" "$work/$b/bb" "$work/$b/bbetc"
  "$work/bin/rstack-$b" daemon --data-root "$work/$b/data" --socket "$work/$b/rstack.sock" \
    </dev/null >"$work/$b/daemon.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do [ -S "$work/$b/rstack.sock" ] && break; sleep 0.1; done
  export RSTACK_SOCKET=$work/$b/rstack.sock RSTACK_DATA_ROOT=$work/$b/data
  "$work/bin/rstack-$b" image import "$work/busybox.tar" bench/busybox:1 >/dev/null
  "$work/bin/rstack-$b" image import "$work/busybox-etc.tar" bench/busybox-etc:1 >/dev/null
  for p in bb bbetc; do
    img=bench/busybox:1
    [ "$p" = bbetc ] && img=bench/busybox-etc:1
    printf 'services:\n  t:\n    image: %s\n    command: ["true"]\n' "$img" >"$work/$b/$p/compose.yaml"
    for _ in 1 2 3; do # warm: the default network made, a spare waiting, page cache hot
      (cd "$work/$b/$p" && "$work/bin/rstack-$b" run --rm t true) </dev/null >/dev/null
    done
  done
done
unset RSTACK_SOCKET RSTACK_DATA_ROOT

echo "start_ab: $runs runs x $blocks blocks per build, ${GAP_MS:-0} ms apart; data roots on ${DATA_FS:-the root file system}; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for p in bb bbetc; do
  python3 - "$runs" "$blocks" "$work" "$p" "${GAP_MS:-0}" <<'PY'
import os, subprocess, sys, time, statistics, tempfile
runs, blocks, work, p = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
gap = float(sys.argv[5]) / 1000
err = tempfile.TemporaryFile()
time.sleep(1)
ts = {"new": [], "base": []}
diffs = []
for b in range(blocks):
    order = ["new", "base"] if b % 2 == 0 else ["base", "new"]
    med = {}
    for k in order:
        env = dict(os.environ, RSTACK_SOCKET=f"{work}/{k}/rstack.sock",
                   RSTACK_DATA_ROOT=f"{work}/{k}/data")
        cmd = [f"{work}/bin/rstack-{k}", "run", "--rm", "t", "true"]
        block = []
        for _ in range(runs):
            t = time.perf_counter()
            r = subprocess.run(cmd, cwd=f"{work}/{k}/{p}", env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err)
            if r.returncode != 0:
                err.seek(0); sys.exit(f"{k}: {err.read().decode(errors='replace')[-300:]}")
            block.append((time.perf_counter() - t) * 1000)
            time.sleep(gap)
        ts[k] += block
        med[k] = statistics.median(block)
    diffs.append(med["new"] - med["base"])
n, b = statistics.median(ts["new"]), statistics.median(ts["base"])
name = {"bb": "busybox", "bbetc": "busybox+/etc files"}[p]
print(f"{name:20} base {b:6.2f} ms  new {n:6.2f} ms  diff {n - b:+.2f} ms  ratio {n / b:.3f}  "
      f"median block diff {statistics.median(diffs):+.2f} ms  slower in {sum(d > 0 for d in diffs)}/{blocks}")
PY
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
