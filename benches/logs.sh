#!/usr/bin/env bash
# Log throughput benchmark, side by side in one run: one container writes 200 MB of 100-byte
# lines to stdout as fast as its logger takes them (benches/logwriter.c, static, in a busybox
# rootfs), logged by
#   - rstack (its own daemon): `logging: json-file` with `max-size: 10m, max-file: "3"`, and
#     the default logging (no `logging:` key: 5 files of 20 MB),
#   - docker (Debian's dockerd 20.10 on a private data root this script starts and stops,
#     no iptables, `--network none`): `--log-driver json-file --log-opt max-size=10m
#     --log-opt max-file=3`,
# and the two json-file ones again with a `logs -f` follower reading all the while (the
# daemons' side of logging; it prints how many of the lines the follower saw: a follower
# that falls more than max-file files behind loses the files rotated away, in both).
# The writer blocks when the logger falls behind, so the time from `up -d`/`docker run -d` to
# the end of `wait` is the logger's throughput. During each run a sampler (every 20 ms) reads
# the VmRSS of the rstack daemon and the container's shim (or of dockerd, which does docker's
# json-file logging, and the container's containerd-shim) and the total size of the
# container's log files (the current one and the rotated ones). After each run the last
# record of the log must be the writer's last line. Runs alternate between the
# configurations. Prints medians of the times, RSS at the start and the maximum seen, the
# largest log total seen during any run and after a run, and the throughput ratio. Needs root.
# The binary: $RSTACK_BIN, else a release build (`cargo build --release`).
# Usage: benches/logs.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bytes=${LOG_BYTES:-200000000}
export DEBIAN_FRONTEND=noninteractive
for pkg in busybox-static docker.io musl-tools; do
  dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }
done
if [ -n "${RSTACK_BIN:-}" ]; then
  rstack=$RSTACK_BIN
else
  target=$(.ci/toolchain)
  cargo build --release -q --target "$target"
  rstack=$PWD/target/$target/release/rstack
fi
src=$PWD/benches

work=$(mktemp -d /tmp/rstack-bench-logs.XXXXXX)
export RSTACK_SOCKET=$work/rstack.sock RSTACK_DATA_ROOT=$work/data
cleanup() {
  for p in rot def; do
    (cd "$work/proj" 2>/dev/null && "$rstack" -p "logbench-$p" down -t 1 >/dev/null 2>&1) || true
  done
  if [ -f "$work/docker/docker.pid" ]; then
    docker rm -f logbench >/dev/null 2>&1 || true
    kill "$(cat "$work/docker/docker.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$work/docker/docker.pid" ] || break; sleep 0.2; done
  fi
  if [ -f "$work/data/daemon.lock" ]; then
    pid=$(cat "$work/data/daemon.lock")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work"/rootfs/{bin,etc,tmp,root,proc,sys,dev} "$work/proj"
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$work/rootfs/etc/group"
musl-gcc -static -O2 -o "$work/rootfs/bin/logwriter" "$src/logwriter.c"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

"$rstack" image import "$work/busybox.tar" bench/logs:1 >/dev/null
cat >"$work/proj/compose.yaml" <<EOF
services:
  rot:
    image: bench/logs:1
    network_mode: none
    command: ["/bin/logwriter", "$bytes"]
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: "3"}
  def:
    image: bench/logs:1
    network_mode: none
    command: ["/bin/logwriter", "$bytes"]
EOF

mkdir -p "$work/docker"
dockerd --iptables=false --ip-masq=false --bridge=none --data-root "$work/docker/root" \
  --exec-root "$work/docker/exec" --pidfile "$work/docker/docker.pid" \
  -H "unix://$work/docker/docker.sock" >"$work/docker/log" 2>&1 &
export DOCKER_HOST=unix://$work/docker/docker.sock
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker import "$work/busybox.tar" bench/logs:1 >/dev/null

python3 - "$runs" "$rstack" "$work" "$bytes" <<'PY'
import os, subprocess, sys, threading, time, statistics
runs, rstack, work, nbytes = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
data = f"{work}/data"
proj = f"{work}/proj"

def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{cmd}: {r.stderr.decode(errors='replace')[-800:]}")
    return r.stdout.decode()

def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def pids():
    for p in os.listdir("/proc"):
        if p.isdigit():
            yield int(p)

def rstack_shim():
    """The shim serving a container of our data root: its stderr is <state dir>/shim.log."""
    for p in pids():
        try:
            link = os.readlink(f"/proc/{p}/fd/2")
        except OSError:
            continue
        if link.startswith(data + "/") and link.endswith("/shim.log"):
            return p, os.path.dirname(link)
    return None, None

def docker_shim(cid):
    for p in pids():
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and b"containerd-shim" in args[0] and cid.encode() in b" ".join(args):
            return p
    # containerd-shim-runc-v2 names its shims by container id in -id; fall back to none.
    return None

def log_total(d, prefix):
    total = 0
    try:
        for e in os.scandir(d):
            if e.name.startswith(prefix):
                try:
                    total += e.stat().st_size
                except OSError:
                    pass
    except OSError:
        pass
    return total

class Sampler(threading.Thread):
    """Every 20 ms: the daemon's and the shim's RSS (kB) and the log files' total size."""
    def __init__(self, daemon_pid, find):
        super().__init__(daemon=True)
        self.daemon_pid, self.find = daemon_pid, find
        self.stop = False
        self.daemon_rss, self.shim_rss, self.logs = [], [], []
        self.shim, self.dir, self.prefix = None, None, None
        self.follow = None
    def run(self):
        while not self.stop:
            if self.shim is None or self.dir is None:
                self.shim, self.dir, self.prefix = self.find()
            self.daemon_rss.append(rss_kb(self.daemon_pid))
            if self.shim:
                r = rss_kb(self.shim)
                if r:
                    self.shim_rss.append(r)
            if self.dir:
                self.logs.append(log_total(self.dir, self.prefix))
            time.sleep(0.02)

rdaemon = int(open(f"{data}/daemon.lock").read().split()[0])
ddaemon = int(open(f"{work}/docker/docker.pid").read().split()[0])

LAST = f"line {nbytes // 100 - 1:010d} "

def last_line_logged(path):
    """The writer's last line is the last record of the current log file (nothing lost at the end)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 4096))
        tail = f.read().decode(errors="replace").splitlines()
    if not tail or LAST not in tail[-1]:
        sys.exit(f"{path}: the last record is not the writer's last line {LAST!r}: {tail[-1:]}")

class Follower(threading.Thread):
    """`logs -f` of the container, counting the lines it prints (the daemon's side of logging)."""
    def __init__(self, cmd, cwd=None):
        super().__init__(daemon=True)
        self.p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.lines = 0
        self.start()
    def run(self):
        for _ in self.p.stdout:
            self.lines += 1
    def finish(self):
        """Lines printed: the follower ends by itself once the container has exited."""
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.terminate(); self.p.wait()
        self.join()
        return self.lines

def rstack_run(svc, follow=False):
    p = f"logbench-{svc}"
    def find():
        shim, d = rstack_shim()
        return shim, d, "container.log"
    s = Sampler(rdaemon, find); s.start()
    t = time.perf_counter()
    run([rstack, "-p", p, "up", "-d", svc], cwd=proj)
    f = Follower([rstack, "-p", p, "logs", "-f", "--no-log-prefix", svc], cwd=proj) if follow else None
    run([rstack, "-p", p, "wait", svc], cwd=proj)
    el = time.perf_counter() - t
    s.follow = f.finish() if f else None
    s.stop = True; s.join()
    after = log_total(s.dir, "container.log") if s.dir else 0
    last_line_logged(f"{s.dir}/container.log")
    run([rstack, "-p", p, "down", "-t", "1"], cwd=proj)
    return el, s, after

def docker_run(follow=False):
    cid_box = {}
    root = f"{work}/docker/root/containers"
    def find():
        cid = cid_box.get("id")
        if not cid:
            return None, None, None
        return docker_shim(cid), f"{root}/{cid}", f"{cid}-json.log"
    s = Sampler(ddaemon, find); s.start()
    t = time.perf_counter()
    cid_box["id"] = run(["docker", "run", "-d", "--name", "logbench", "--network", "none",
                         "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
                         "bench/logs:1", "/bin/logwriter", str(nbytes)]).strip()
    f = Follower(["docker", "logs", "-f", "logbench"]) if follow else None
    run(["docker", "wait", "logbench"])
    el = time.perf_counter() - t
    s.follow = f.finish() if f else None
    s.stop = True; s.join()
    after = log_total(s.dir, f"{cid_box['id']}-json.log") if s.dir else 0
    last_line_logged(f"{s.dir}/{cid_box['id']}-json.log")
    run(["docker", "rm", "-f", "logbench"])
    return el, s, after

ROT, DEF, DOCK = "rstack json-file 10m x 3", "rstack default logging", "docker json-file 10m x 3"
res = {ROT: [], DEF: [], DOCK: [], ROT + " + logs -f": [], DOCK + " + logs -f": []}
for i in range(runs):
    res[ROT].append(rstack_run("rot"))
    res[DOCK].append(docker_run())
    res[DEF].append(rstack_run("def"))
    res[ROT + " + logs -f"].append(rstack_run("rot", follow=True))
    res[DOCK + " + logs -f"].append(docker_run(follow=True))

mb = nbytes / 1e6
lines = nbytes // 100
print(f"runs per figure: {runs} (medians; alternating); {mb:.0f} MB in {lines} lines of 100 bytes per run")
print(f"{'':36} {'time':>7} {'MB/s':>6}  {'daemon RSS start/max':>20}  {'shim RSS start/max':>18}  {'log files max during / after':>28}  logs -f lines")
med = {}
for k, v in res.items():
    t = statistics.median(x[0] for x in v)
    med[k] = t
    d0 = min(x[1].daemon_rss[0] for x in v if x[1].daemon_rss) / 1024
    dmax = max(max(x[1].daemon_rss or [0]) for x in v) / 1024
    s0 = min(x[1].shim_rss[0] for x in v if x[1].shim_rss) / 1024
    smax = max(max(x[1].shim_rss or [0]) for x in v) / 1024
    lmax = max(max(x[1].logs or [0]) for x in v)
    after = max(x[2] for x in v)
    fl = ", ".join(str(x[1].follow) for x in v) if v[0][1].follow is not None else "-"
    print(f"{k:36} {t:6.2f}s {mb / t:6.1f}  {d0:7.1f} / {dmax:6.1f} MB  {s0:6.1f} / {smax:5.1f} MB  {lmax:12d} / {after:9d} B  {fl}")
r = med[DOCK] / med[ROT]
rf = med[DOCK + " + logs -f"] / med[ROT + " + logs -f"]
print(f"rstack json-file throughput / docker json-file: {r:.2f}x; with a logs -f follower: {rf:.2f}x (>1: rstack faster)")
print("(docker's daemon is dockerd, which does json-file logging; its shim is containerd-shim-runc-v2)")
PY
