#!/usr/bin/env python3
"""Timing helper of benches/sync.sh: saves files as editors do and times, from the save, the
first moment a process with the expected environment exists (scanning /proc every 5 ms; the
first observation's timestamp is taken). Prints one line per edit: host_ms [daemon_ms].

  syncpoll.py source RSTACK NAME REPO_DIR STACK_TEMPLATE RUNS
      a directory source: compose.yaml in REPO_DIR rewritten (temp + rename) with @REV@
      replaced by a fresh token; waits for a process with REV=token in its environ, then
      for the source's status to show the new revision applied (its applied_at gives the
      daemon-side time).
  syncpoll.py git RSTACK NAME WORK_REPO STACK_TEMPLATE RUNS INTERVAL_S [HOOK_PORT SECRET_FILE]
      a git source: WORK_REPO's compose.yaml rewritten with a fresh token, committed and pushed
      (`git push origin main`, to the repository the source follows); the time counts from
      the push's return (the commit is in the served repository). With HOOK_PORT, a webhook
      signed with SECRET_FILE's content is posted at once (its time included); without, the
      daemon's poll finds it (runs start at random phases of the poll: a random pause of up
      to INTERVAL_S between runs). Prints host_ms daemon_ms per commit, as `source`.
  syncpoll.py file FILE RUNS
      a develop.watch rule: FILE rewritten (temp + rename) with a fresh token; waits for a
      process with SEEN=token in its environ (the restarted service read the new content).
"""

import json
import os
import subprocess
import sys
import time
import calendar
import hashlib
import hmac
import http.client
import random

POLL = 0.005
TIMEOUT = 60.0
scan_cost = []


def has_env(needle: bytes) -> bool:
    t = time.perf_counter()
    found = False
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                if needle in f.read():
                    found = True
                    break
        except OSError:
            pass
    scan_cost.append(time.perf_counter() - t)
    return found


def wait_env(key: str, token: str, t0: int) -> int:
    # The token is unique per run and NUL-terminated: no false match on a prefix.
    needle = f"{key}={token}\0".encode()
    while True:
        if has_env(needle):
            return time.time_ns()
        if time.time_ns() - t0 > TIMEOUT * 1e9:
            sys.exit(f"timed out waiting for {key}={token}")
        time.sleep(POLL)


def save(path: str, text: str) -> int:
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".swp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    t0 = time.time_ns()
    os.rename(tmp, path)
    return t0


def rfc3339_ns(s: str) -> int:
    base, frac = s.rstrip("Z").split(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs * 10**9 + int(frac.ljust(9, "0")[:9])


def status(rstack: str, name: str) -> dict:
    out = subprocess.run(
        [rstack, "sync", "ls", "--format", "json"], capture_output=True, text=True, check=True
    ).stdout
    for s in json.loads(out):
        if s["spec"]["name"] == name:
            return s["status"]
    sys.exit(f"no source {name}")


def source(rstack, name, repo, template, runs):
    tpl = open(template).read()
    tag = f"{os.getpid()}"
    for i in range(int(runs)):
        before = status(rstack, name).get("revision")
        token = f"{tag}-{i}"
        t0 = save(os.path.join(repo, "compose.yaml"), tpl.replace("@REV@", token))
        t1 = wait_env("REV", token, t0)
        while True:
            st = status(rstack, name)
            if st.get("revision") not in (None, before) and st.get("sync") == "Synced":
                break
            if st.get("error"):
                sys.exit(f"the source failed: {st}")
            if time.time_ns() - t0 > TIMEOUT * 1e9:
                sys.exit(f"timed out waiting for the status: {st}")
            time.sleep(0.02)
        daemon = (rfc3339_ns(st["applied_at"]) - t0) / 1e6
        print(f"{(t1 - t0) / 1e6:.1f} {daemon:.1f}", flush=True)
        time.sleep(0.5)


GIT_ENV = dict(
    os.environ,
    GIT_CONFIG_NOSYSTEM="1",
    GIT_CONFIG_GLOBAL="/dev/null",
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@localhost",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@localhost",
)


def git(repo, *args):
    subprocess.run(["git", "-C", repo, *args], check=True, env=GIT_ENV, capture_output=True)


def hook(port: int, name: str, secret: bytes):
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(
        "POST",
        f"/v1/sources/{name}/hook",
        body,
        {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": sig},
    )
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 202:
        sys.exit(f"webhook answered {r.status}")


def wait_applied(rstack, name, before, t0):
    while True:
        st = status(rstack, name)
        if st.get("revision") not in (None, before) and st.get("sync") == "Synced":
            return st
        if st.get("error"):
            sys.exit(f"the source failed: {st}")
        if time.time_ns() - t0 > TIMEOUT * 1e9:
            sys.exit(f"timed out waiting for the status: {st}")
        time.sleep(0.02)


def gitsrc(rstack, name, repo, template, runs, interval, port=None, secret_file=None):
    tpl = open(template).read()
    tag = f"g{os.getpid()}"
    secret = open(secret_file, "rb").read().strip() if secret_file else None
    for i in range(int(runs)):
        if port is None:
            time.sleep(random.uniform(0.1, float(interval)))
        before = status(rstack, name).get("revision")
        token = f"{tag}-{i}"
        with open(os.path.join(repo, "compose.yaml"), "w") as f:
            f.write(tpl.replace("@REV@", token))
        git(repo, "commit", "-q", "-am", token)
        git(repo, "push", "-q", "origin", "main")
        t0 = time.time_ns()
        if port is not None:
            hook(int(port), name, secret)
        t1 = wait_env("REV", token, t0)
        st = wait_applied(rstack, name, before, t0)
        daemon = (rfc3339_ns(st["applied_at"]) - t0) / 1e6
        print(f"{(t1 - t0) / 1e6:.1f} {daemon:.1f}", flush=True)
        if port is not None:
            time.sleep(0.5)


def file(path, runs):
    tag = f"{os.getpid()}"
    for i in range(int(runs)):
        token = f"{tag}-{i}"
        t0 = save(path, token + "\n")
        t1 = wait_env("SEEN", token, t0)
        print(f"{(t1 - t0) / 1e6:.1f}", flush=True)
        time.sleep(1.0)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "source":
        source(*args)
    elif mode == "git":
        gitsrc(*args)
    elif mode == "file":
        file(*args)
    else:
        sys.exit(f"unknown mode {mode}")
    cost = sorted(scan_cost)
    print(f"# /proc scan: median {cost[len(cost) // 2] * 1e3:.2f} ms", file=sys.stderr)
