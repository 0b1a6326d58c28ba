#!/usr/bin/env python3
"""Times `rstack export kubernetes` end to end with the release binary (process start, load,
export, YAML, write to /dev/null), for the README's export table when `cargo bench --bench
export` cannot be built: CPU time (user+sys, from getrusage; robust on a loaded machine) and
wall time, medians over RUNS, for the example-voting-app corpus file and the same generated
500-service stack as benches/export.rs. `config -q` (load only) is timed beside it.
Usage: benches/export_cli.py [RUNS]   (binary: $RSTACK_BIN, else the release build)."""

import os, resource, shutil, statistics, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
rstack = os.environ.get("RSTACK_BIN") or os.path.join(here, "..", "target/x86_64-unknown-linux-musl/release/rstack")
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21


def generated(n):
    y = "services:\n"
    for i in range(n):
        y += (f"  svc{i}:\n    image: example/app:{i}\n    command: [serve, --port, '80']\n"
              f"    environment: {{A: '1', B: 'two', IDX: '{i}'}}\n    ports: ['{30000 + i}:80']\n"
              f"    healthcheck: {{test: [CMD, wget, -q, localhost], interval: 5s}}\n"
              f"    deploy: {{resources: {{limits: {{memory: 256M, cpus: '0.5'}}}}}}\n")
        if i % 3 == 0:
            y += f"    volumes: ['data{i}:/data']\n"
        if i > 0:
            y += f"    depends_on: {{svc{i - 1}: {{condition: service_healthy}}}}\n"
    y += "volumes:\n" + "".join(f"  data{i}: {{}}\n" for i in range(0, n, 3))
    return y


def timed(cwd, args):
    cpu, wall = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        import time
        t = time.perf_counter()
        subprocess.run([rstack, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall.append((time.perf_counter() - t) * 1e3)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1e3)
    return f"CPU median {statistics.median(cpu):.1f} ms (min {min(cpu):.1f}), wall median {statistics.median(wall):.1f} ms (min {min(wall):.1f})"


work = tempfile.mkdtemp(prefix="rstack-bench-export.")
try:
    corpus = os.path.join(here, "..", "..", "shared/compat/compose/dockersamples__example-voting-app__docker-compose.yml")
    for name, text in (("voting", open(corpus).read() if os.path.exists(corpus) else None), ("generated500", generated(500))):
        if text is None:
            print(f"{name}: corpus file missing, skipped")
            continue
        d = os.path.join(work, name)
        os.makedirs(d)
        with open(os.path.join(d, "compose.yaml"), "w") as f:
            f.write(text)
        print(f"{name}: export kubernetes: {timed(d, ['export', 'kubernetes'])}")
        print(f"{name}: config -q (load only): {timed(d, ['config', '-q'])}")
finally:
    shutil.rmtree(work)
