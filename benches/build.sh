#!/usr/bin/env bash
# Build benchmark, side by side in one run: the same two-stage, 12-instruction Dockerfile of
# a small service, on the same busybox base image and build context, built by
#   - `rstack image build` (release binary, its own daemon), and
#   - `docker build` with Debian's dockerd 20.10 and its classic builder (DOCKER_BUILDKIT=0),
#     on a private dockerd this script starts (no iptables) and stops,
# uncached (`--no-cache`) and fully cached (nothing changed), end to end, CLI included.
# RUN steps get no network in both (`--network none`). Runs alternate between the tools. Prints medians and ratios. Needs root.
# Usage: benches/build.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
export DEBIAN_FRONTEND=noninteractive
for pkg in busybox-static docker.io; do
  dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }
done
target=$(.ci/toolchain)
cargo build --release -q --target "$target"
rstack=$PWD/target/$target/release/rstack

work=$(mktemp -d /tmp/rstack-bench-build.XXXXXX)
export RSTACK_SOCKET=$work/rstack.sock RSTACK_DATA_ROOT=$work/data
cleanup() {
  if [ -f "$work/docker/docker.pid" ]; then
    kill "$(cat "$work/docker/docker.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$work/docker/docker.pid" ] || break; sleep 0.2; done
  fi
  if [ -f "$work/data/daemon.lock" ]; then kill "$(cat "$work/data/daemon.lock")" 2>/dev/null || true; sleep 0.5; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work"/rootfs/{bin,etc,tmp,root,proc,sys,dev}
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

ctx=$work/ctx
mkdir -p "$ctx"
printf '#!/bin/sh\n. /app/lib.sh\nmain "$@"\n' >"$ctx/app.sh"
printf 'main() { echo "serving on $PORT"; }\n' >"$ctx/lib.sh"
printf 'listen=8080\nworkers=2\n' >"$ctx/config.txt"
cat >"$ctx/Dockerfile" <<'EOF'
FROM bench/busybox:1 AS build
WORKDIR /src
COPY app.sh lib.sh ./
RUN mkdir -p /out && cp app.sh lib.sh /out/ && chmod 755 /out/app.sh && sed -i 's/serving/listening/' /out/lib.sh
FROM bench/busybox:1
ENV APP_ENV=production PORT=8080
WORKDIR /app
COPY --from=build /out/ /app/
COPY config.txt /app/config.txt
RUN chown -R nobody /app && echo "built for $APP_ENV" > /app/BUILD
USER nobody
CMD ["/app/app.sh"]
EOF

"$rstack" image import "$work/busybox.tar" bench/busybox:1 >/dev/null
mkdir -p "$work/docker"
dockerd --iptables=false --ip-masq=false --bridge=none --data-root "$work/docker/root" \
  --exec-root "$work/docker/exec" --pidfile "$work/docker/docker.pid" \
  -H "unix://$work/docker/docker.sock" >"$work/docker/log" 2>&1 &
export DOCKER_HOST=unix://$work/docker/docker.sock DOCKER_BUILDKIT=0
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker import "$work/busybox.tar" bench/busybox:1 >/dev/null

# Warm both (daemons up, page cache hot, the cache filled), then time them alternating.
"$rstack" image build -q --network none -t bench/app:1 "$ctx" >/dev/null
docker build -q --network none -t bench/app:1 "$ctx" >/dev/null

python3 - "$runs" "$rstack" "$ctx" <<'PY'
import subprocess, sys, time, statistics, tempfile
runs, rstack, ctx = int(sys.argv[1]), sys.argv[2], sys.argv[3]
err = tempfile.TemporaryFile()
cmds = {
    "rstack uncached": [rstack, "image", "build", "-q", "--no-cache", "--network", "none", "-t", "bench/app:1", ctx],
    "docker uncached": ["docker", "build", "-q", "--no-cache", "--network", "none", "-t", "bench/app:1", ctx],
    "rstack cached": [rstack, "image", "build", "-q", "--network", "none", "-t", "bench/app:1", ctx],
    "docker cached": ["docker", "build", "-q", "--network", "none", "-t", "bench/app:1", ctx],
}
ts = {k: [] for k in cmds}
time.sleep(2)
for i in range(runs):
    for k, c in cmds.items():
        t = time.perf_counter()
        r = subprocess.run(c, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        if r.returncode != 0:
            err.seek(0); sys.exit(f"{k}: {err.read().decode(errors='replace')[-500:]}")
        ts[k].append((time.perf_counter() - t) * 1000)
m = {k: statistics.median(v) for k, v in ts.items()}
print(f"runs per figure: {runs} (medians, the four alternating)")
print(f"two-stage, 12-instruction Dockerfile (3 COPY, 2 RUN; RUN without network in both), busybox base:")
print(f"  uncached: rstack {m['rstack uncached']:7.1f} ms   docker build {m['docker uncached']:7.1f} ms   {m['docker uncached']/m['rstack uncached']:5.1f}x")
print(f"  cached:   rstack {m['rstack cached']:7.1f} ms   docker build {m['docker cached']:7.1f} ms   {m['docker cached']/m['rstack cached']:5.1f}x")
PY
