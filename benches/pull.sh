#!/usr/bin/env bash
# Pull benchmark, side by side in one run: a Debian image of one gzip layer (made here with
# mmdebstrap from Debian's packages and umoci, cached under /var/cache/rstack-test) served by
# Debian's docker-registry on 127.0.0.1, pulled until it is ready to run by
#   - `rstack image pull` (release binary, its own daemon; downloaded, verified, unpacked),
#   - `docker pull` (Debian's dockerd 20.10 on a private data root this script starts/stops),
#   - `skopeo copy` to an OCI directory (download and verify only, no unpack),
# each into a fresh store every run. Runs alternate between the tools. Prints medians and ratios. Needs root.
# Usage: benches/pull.sh [RUNS]
# DATA_FS=journal: the three tools' stores on a journaled ext4 made for the run (a sparse file,
# loop-mounted, removed afterwards; the registry stays where it is). This VM's root ext4 has no
# journal, and without one every new inode is first checked against the recently deleted ones
# (`recently_deleted`), so a pull's 8,600 file creations cost what the last minutes' deletions
# make them cost (a second run of this script right after a first one: 3x slower for rstack
# and docker alike). Most hosts' ext4 has a journal.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
export DEBIAN_FRONTEND=noninteractive
for pkg in docker.io docker-registry skopeo umoci mmdebstrap; do
  dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }
done
target=$(.ci/toolchain)
cargo build --release -q --target "$target"
rstack=$PWD/target/$target/release/rstack

cache=/var/cache/rstack-test
mkdir -p "$cache"
rootfs_tar=$cache/bench-debian-python.tar
if [ ! -f "$rootfs_tar" ]; then
  # mmdebstrap picks the output format from the name's extension: keep .tar.
  mmdebstrap --variant=essential --include=python3,redis-server,procps,perl bookworm "$cache/partial-$$.tar" >/dev/null 2>&1
  mv "$cache/partial-$$.tar" "$rootfs_tar"
fi

work=$(mktemp -d /tmp/rstack-bench-pull.XXXXXX)
stores=$work
cleanup() {
  # Every step runs: under `set -e` the first grep that finds no mount would end the trap
  # and leave the loop-mounted stores behind.
  set +e
  [ -n "${reg_pid:-}" ] && kill "$reg_pid" 2>/dev/null || true
  if [ "$stores" != "$work" ]; then
    # docker's overlay mounts are gone with its daemon; anything left goes first.
    grep " $stores/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l
    # A daemon's last child may still hold it for a moment after the daemon exited.
    for _ in $(seq 50); do umount "$stores" 2>/dev/null && break; sleep 0.1; done
    grep -q " $stores " /proc/mounts && umount -l "$stores"
    rm -rf "$work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
if [ "${DATA_FS:-}" = journal ]; then
  truncate -s 6G "$work/stores.img"
  mkfs.ext4 -q "$work/stores.img"
  mkdir "$work/stores"
  mount -o loop "$work/stores.img" "$work/stores"
  stores=$work/stores
fi

# The registry, on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat >"$work/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# One gzip layer, made by umoci from the rootfs, pushed by skopeo.
umoci init --layout "$work/layout"
umoci new --image "$work/layout:debian"
umoci unpack --image "$work/layout:debian" "$work/bundle" >/dev/null
tar -C "$work/bundle/rootfs" -xf "$rootfs_tar"
umoci repack --image "$work/layout:debian" "$work/bundle"
# The unpacked bundle stays until the end: deleting its 8,600 files here would make the
# runs that follow pay ext4's `recently_deleted` check (see DATA_FS above) for a minute.
image=127.0.0.1:$port/bench/debian:1
skopeo copy -q --dest-tls-verify=false "oci:$work/layout:debian" "docker://$image"
sizes=$(skopeo inspect --tls-verify=false "docker://$image" | python3 -c '
import json,sys; m=json.load(sys.stdin); print(len(m["Layers"]))')
compressed=$(du -sb "$work/registry/data/docker/registry/v2/blobs" | cut -f1)
unpacked=$(tar -tvf "$rootfs_tar" | awk '{s+=$3} END {print s}')

# Every run pulls into a store of its own (a fresh rstack data root and daemon, a fresh
# dockerd data root, a fresh skopeo directory), started before the clock and removed only at
# the end: deleting the previous copy first would make each run pay ext4's skipping of
# recently deleted inodes (60 s and more), which no real first pull pays.
python3 - "$runs" "$rstack" "$image" "$stores" "$sizes" "$compressed" "$unpacked" <<'PY'
import subprocess, sys, time, statistics, os
runs, rstack, image, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
layers, compressed, unpacked = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
def run(c, env=None):
    r = subprocess.run(c, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if r.returncode != 0:
        sys.exit(f"{c}: {r.stderr.decode(errors='replace')[-500:]}")
def wait_for(cmd, env):
    for _ in range(200):
        if subprocess.run(cmd, capture_output=True, env=env).returncode == 0:
            return
        time.sleep(0.1)
    sys.exit(f"not up: {cmd}")
ts = {"rstack": [], "docker": [], "skopeo": []}
for i in range(runs):
    # rstack: its own daemon on a fresh data root.
    d = f"{work}/r{i}"
    env = dict(os.environ, RSTACK_SOCKET=f"{d}/s.sock", RSTACK_DATA_ROOT=f"{d}/data")
    os.makedirs(d)
    daemon = subprocess.Popen([rstack, "daemon", "--data-root", f"{d}/data", "--socket", f"{d}/s.sock"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for([rstack, "image", "ls"], env)
    subprocess.run(["sync"]); time.sleep(1)
    t = time.perf_counter(); run([rstack, "image", "pull", image], env); ts["rstack"].append((time.perf_counter() - t) * 1000)
    daemon.terminate(); daemon.wait()
    # docker: a dockerd of its own on a fresh data root.
    dd = f"{work}/d{i}"
    os.makedirs(dd)
    denv = dict(os.environ, DOCKER_HOST=f"unix://{dd}/docker.sock")
    dockerd = subprocess.Popen(["dockerd", "--iptables=false", "--ip-masq=false", "--bridge=none",
                                "--data-root", f"{dd}/root", "--exec-root", f"{dd}/exec",
                                "--pidfile", f"{dd}/docker.pid", "-H", f"unix://{dd}/docker.sock"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(f"{dd}/log", "w"))
    wait_for(["docker", "version"], denv)
    subprocess.run(["sync"]); time.sleep(1)
    t = time.perf_counter(); run(["docker", "pull", "-q", image], denv); ts["docker"].append((time.perf_counter() - t) * 1000)
    dockerd.terminate(); dockerd.wait()
    # skopeo: a fresh directory.
    subprocess.run(["sync"]); time.sleep(1)
    t = time.perf_counter()
    run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{image}", f"oci:{work}/s{i}:x"])
    ts["skopeo"].append((time.perf_counter() - t) * 1000)
m = {k: statistics.median(v) for k, v in ts.items()}
for k, v in ts.items():
    print(f"  {k} runs: " + " ".join(f"{x:.0f}" for x in v) + " ms")
print(f"runs per figure: {runs} (medians; each run into a fresh store{', stores on a journaled ext4' if os.environ.get('DATA_FS') == 'journal' else ''})")
print(f"image: Debian bookworm, {layers} gzip layer, {compressed/1e6:.0f} MB compressed, {unpacked/1e6:.0f} MB unpacked")
print(f"  rstack image pull (download, verify, unpack): {m['rstack']:7.0f} ms")
print(f"  docker pull:                                  {m['docker']:7.0f} ms   rstack is {m['docker']/m['rstack']:4.1f}x faster")
print(f"  skopeo copy to an OCI dir (download only):    {m['skopeo']:7.0f} ms   rstack takes {m['rstack']/m['skopeo']:4.2f}x its time")
PY
