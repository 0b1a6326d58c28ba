//! Fault campaign (issue 9): a 10-service stack is brought up and down while the daemon is
//! killed with SIGKILL at random points of `up` and `down`, and the shim of a random running
//! container is killed at more points. After each fault, one more `up -d` must give the
//! stack exactly as declared, and the `down` after it must leave nothing behind: no process,
//! cgroup, mount or overlay, store row or container directory.
//!
//! `RSTACK_FAULT_KILLS=D,S` sets the number of daemon and shim kills (default 20,10; the
//! long form run by hand is 134,66); `RSTACK_FAULT_SEED=N` replays a campaign (the seed is
//! printed at the start).

mod common;

use common::*;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

const SERVICES: &str = r#"
x-base: &base
  image: busybox:test
  stop_grace_period: 2s
  command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
services:
  prep:
    hostname: prep
    image: busybox:test
    command: ["sh", "-c", "echo prepared"]
  logger:
    hostname: logger
    <<: *base
    restart: on-failure
  cache:
    hostname: cache
    <<: *base
    restart: always
  db:
    hostname: db
    <<: *base
    restart: always
    command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; sleep 1000 & wait"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      start_interval: 100ms
    depends_on:
      prep:
        condition: service_completed_successfully
  metrics:
    hostname: metrics
    <<: *base
    depends_on: [cache]
  api:
    hostname: api
    <<: *base
    restart: always
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
  worker:
    hostname: worker
    <<: *base
    init: true
    restart: unless-stopped
    command: ["sleep", "1000"]
    depends_on: [api]
  web:
    hostname: web
    <<: *base
    depends_on: [api]
  proxy:
    hostname: proxy
    <<: *base
    restart: always
    depends_on: [web]
  admin:
    hostname: admin
    <<: *base
    depends_on: [proxy, worker]
"#;

/// What `ps` must show for each service after `up -d`: (state, exit code, health).
fn declared() -> BTreeMap<&'static str, (&'static str, Option<i64>, Option<&'static str>)> {
    let mut m = BTreeMap::new();
    for s in [
        "logger", "cache", "metrics", "api", "worker", "web", "proxy", "admin",
    ] {
        m.insert(s, ("running", None, None));
    }
    m.insert("prep", ("exited", Some(0), None));
    m.insert("db", ("running", None, Some("healthy")));
    m
}

/// splitmix64: a seeded sequence, so a campaign replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    DaemonDuringUp,
    DaemonDuringDown,
    ShimDuringUp,
}

/// Container ids the campaign has seen, for the leak checks and the last-resort cleanup.
#[derive(Default)]
struct Seen {
    ids: BTreeSet<String>,
}

type Shared = Rc<RefCell<Seen>>;

/// Kills whatever of the campaign's containers outlived the test (after Env's own clean-up),
/// so a failing campaign leaves the machine clean: processes in their cgroups, the cgroups.
struct LastResort {
    seen: Shared,
    data_root: PathBuf,
}

impl Drop for LastResort {
    fn drop(&mut self) {
        let ids = self.seen.borrow().ids.clone();
        for pid in leaked_processes(&self.data_root, &ids, None) {
            // SAFETY: a process of this test's containers (by cgroup or open file), by pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(100));
        for id in &ids {
            for d in cgroup_dirs(id) {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether every thread of `pid` has exited (the leader may remain a zombie).
fn all_threads_gone(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| {
                s.get(s.rfind(')')? + 2..)
                    .map(|r| r.starts_with('Z') || r.starts_with('X'))
            })
            .unwrap_or(true)
    })
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Paths a process holds: its open files, cwd and root.
fn held_paths(pid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for l in ["cwd", "root"] {
        if let Ok(p) = std::fs::read_link(format!("/proc/{pid}/{l}")) {
            out.push(p.display().to_string());
        }
    }
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(p) = std::fs::read_link(fd.path()) {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// Live processes of the campaign's containers: in one of their cgroups, or holding a file
/// (a shim's shim.log, a log, a layer) under the data root. `daemon`: the daemon now
/// serving, whose own files and spare shims are expected.
fn leaked_processes(data_root: &Path, ids: &BTreeSet<String>, daemon: Option<i32>) -> Vec<i32> {
    let me = std::process::id() as i32;
    let root = data_root.display().to_string();
    all_pids()
        .into_iter()
        .filter(|&pid| pid != me && Some(pid) != daemon && alive(pid))
        .filter(|&pid| {
            let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            let in_cgroup = ids.iter().any(|id| cg.contains(&format!("/rstack/{id}")));
            let spare = daemon.is_some() && parent_of(i64::from(pid)) == daemon;
            in_cgroup
                || (!spare
                    && held_paths(pid)
                        .iter()
                        .any(|p| p.starts_with(&root) && !p.ends_with("daemon.log")))
        })
        .collect()
}

/// The shims of running containers: `rstack shim` processes whose stderr is a shim.log under
/// the data root, by container id.
fn shims(data_root: &Path) -> BTreeMap<String, i32> {
    let containers = data_root.join("containers");
    let mut out = BTreeMap::new();
    for pid in all_pids() {
        let Ok(err) = std::fs::read_link(format!("/proc/{pid}/fd/2")) else {
            continue;
        };
        if err.file_name().is_some_and(|f| f == "shim.log")
            && let Some(dir) = err.parent()
            && dir.parent() == Some(containers.as_path())
            && alive(pid)
            && cmdline(pid).contains("shim")
        {
            let id = dir
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.insert(id, pid);
        }
    }
    out
}

struct Campaign {
    env: Env,
    project: String,
    seen: Shared,
    rng: Rng,
    seed: u64,
    /// How long a clean `up -d` and `down` took, to spread the kill points over them.
    up_time: Duration,
    down_time: Duration,
    log: Vec<String>,
}

impl Campaign {
    fn daemon_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.env.data_root.join("daemon.lock"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        alive(pid).then_some(pid)
    }

    fn context(&self) -> String {
        format!(
            "seed {} (replay: RSTACK_FAULT_SEED={}); steps so far:\n  {}\ndaemon log (tail):\n{}",
            self.seed,
            self.seed,
            self.log.join("\n  "),
            tail(&self.env.daemon_log(), 60)
        )
    }

    fn note_ids(&self) {
        let mut seen = self.seen.borrow_mut();
        if let Ok(it) = std::fs::read_dir(self.env.data_root.join("containers")) {
            for e in it.flatten() {
                seen.ids
                    .insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }

    fn spawn(&self, args: &[&str]) -> Child {
        let mut full = vec!["-p", self.project.as_str()];
        full.extend_from_slice(args);
        self.env
            .cmd(&full)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rstack")
    }

    /// Waits for a CLI run (60 s at most: a hung CLI is a failure); returns its output.
    fn finish(&self, mut child: Child, what: &str) -> std::process::Output {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait().expect("wait").is_some() {
                return child.wait_with_output().expect("output");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "`{what}` hung for 60 s: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    self.context()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ok(&mut self, args: &[&str]) -> Duration {
        let t = Instant::now();
        let child = self.spawn(args);
        let out = self.finish(child, &args.join(" "));
        assert!(
            out.status.success(),
            "rstack {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.context()
        );
        t.elapsed()
    }

    fn kill_daemon(&mut self) -> bool {
        let Some(pid) = self.daemon_pid() else {
            return false;
        };
        // SAFETY: SIGKILL to the daemon this test's CLI started, by its pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // Dead means every thread gone, not only the leader a zombie: until the last thread
        // exits, the daemon's descriptors (its socket, the data root's lock) stay open.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_threads_gone(pid) {
            assert!(Instant::now() < deadline, "daemon {pid} survived SIGKILL");
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// `up -d` or `down`, with the daemon killed `delay` after the command starts.
    fn daemon_kill(&mut self, args: &[&str], delay: Duration) -> String {
        let child = self.spawn(args);
        std::thread::sleep(delay);
        self.note_ids();
        let killed = self.kill_daemon();
        let out = self.finish(child, &args.join(" "));
        format!(
            "{}, cli {}",
            if killed { "killed" } else { "no daemon" },
            if out.status.success() { "ok" } else { "failed" }
        )
    }

    /// `up -d` with the shim of a random running container killed `delay` after it starts
    /// (the first shim to appear, if none runs yet).
    fn shim_kill(&mut self, delay: Duration) -> String {
        let mut child = self.spawn(&["up", "-d"]);
        std::thread::sleep(delay);
        let mut victim = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        while victim.is_none() && Instant::now() < deadline {
            let found = shims(&self.env.data_root);
            if !found.is_empty() {
                let i = self.rng.below(found.len() as u64) as usize;
                victim = found.into_iter().nth(i);
            } else if child.try_wait().expect("wait").is_some() {
                break;
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.note_ids();
        let what = match &victim {
            Some((id, pid)) => {
                let inits = children(*pid);
                // SAFETY: SIGKILL to a shim of this test's daemon, found by its shim.log.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
                let svc = self.service_of(id);
                self.wait_noticed(id, &inits);
                format!("shim of {svc} killed")
            }
            None => "no shim found".to_string(),
        };
        let out = self.finish(child, "up -d");
        format!(
            "{what}, cli {}",
            if out.status.success() { "ok" } else { "failed" }
        )
    }

    /// Waits until the killed run is over (its init died with its shim) and the daemon has
    /// noticed: `ps` no longer shows the container running with that init. Otherwise the
    /// next `up -d` could find it still "running" and rightly leave it alone.
    fn wait_noticed(&self, id: &str, inits: &[i32]) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while inits.iter().any(|&p| alive(p)) {
            assert!(
                Instant::now() < deadline,
                "the init {inits:?} outlived its killed shim\n{}",
                self.context()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        loop {
            let rows = self.ps();
            let stale = rows.iter().any(|r| {
                r["id"] == id
                    && r["state"] == "running"
                    && r["pid"]
                        .as_i64()
                        .is_some_and(|p| inits.contains(&(p as i32)))
            });
            if !stale {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon never noticed the killed shim of {id}: {rows:?}\n{}",
                self.context()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn service_of(&self, id: &str) -> String {
        std::fs::read_to_string(
            self.env
                .data_root
                .join("containers")
                .join(id)
                .join("config.json"),
        )
        .ok()
        .and_then(|c| serde_json::from_str::<Value>(&c).ok())
        .and_then(|v| v["hostname"].as_str().map(str::to_string))
        .unwrap_or_else(|| id[..12.min(id.len())].to_string())
    }

    fn ps(&self) -> Vec<Value> {
        self.env.ps_json(&self.project)
    }

    /// Every service has exactly one container, in its declared state and health. A service
    /// whose shim was just killed may still wait out its restart policy's backoff
    /// (`restarting`): that settles, so the check polls (15 s at most) until it has.
    fn check_declared(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (rows, problems) = self.declared_problems();
            if problems.is_empty() {
                return;
            }
            let settling = rows.iter().any(|r| r["state"] == "restarting");
            if !settling || Instant::now() > deadline {
                panic!(
                    "the stack is not as declared: {problems:?}\nps: {rows:#?}\n{}",
                    self.context()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn declared_problems(&mut self) -> (Vec<Value>, Vec<String>) {
        let rows = self.ps();
        {
            let mut seen = self.seen.borrow_mut();
            for r in &rows {
                if let Some(id) = r["id"].as_str() {
                    seen.ids.insert(id.to_string());
                }
            }
        }
        let want = declared();
        let mut problems = Vec::new();
        if rows.len() != want.len() {
            problems.push(format!("{} containers, want {}", rows.len(), want.len()));
        }
        for (svc, (state, code, health)) in &want {
            let mine: Vec<&Value> = rows.iter().filter(|r| r["service"] == *svc).collect();
            if mine.len() != 1 {
                problems.push(format!("{svc}: {} containers", mine.len()));
                continue;
            }
            let r = mine[0];
            if r["state"] != *state {
                problems.push(format!("{svc}: state {} (want {state})", r["state"]));
            }
            if let Some(c) = code
                && r["exit_code"].as_i64() != Some(*c)
            {
                problems.push(format!("{svc}: exit code {} (want {c})", r["exit_code"]));
            }
            if r["health"].as_str() != *health {
                problems.push(format!("{svc}: health {} (want {health:?})", r["health"]));
            }
            if *state == "running" && !r["pid"].as_i64().is_some_and(|p| alive(p as i32)) {
                problems.push(format!("{svc}: running without a live pid: {r}"));
            }
        }
        (rows, problems)
    }

    /// After `down`: nothing of the stack is left, and nothing was lost on the way.
    fn check_clean(&mut self) {
        self.note_ids();
        let ids = self.seen.borrow().ids.clone();
        let root = &self.env.data_root;
        let mut problems = Vec::new();
        let rows = self.ps();
        if !rows.is_empty() {
            problems.push(format!("ps still lists {rows:?}"));
        }
        let daemon = self.daemon_pid();
        for pid in leaked_processes(root, &ids, daemon) {
            problems.push(format!(
                "process {pid} ({}) left, parent {:?}, cgroup {}",
                cmdline(pid),
                parent_of(i64::from(pid)),
                std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .unwrap_or_default()
                    .trim()
            ));
        }
        for id in &ids {
            for d in cgroup_dirs(id) {
                problems.push(format!("cgroup {} left", d.display()));
            }
        }
        let rootstr = root.display().to_string();
        let dirstr = self.env.dir.display().to_string();
        for l in std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
        {
            let mp = l.split(' ').nth(4).unwrap_or("");
            if mp.starts_with(&dirstr) || l.contains(&rootstr) {
                problems.push(format!("mount left: {l}"));
            }
        }
        match rusqlite::Connection::open_with_flags(
            root.join("state.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) {
            Ok(db) => {
                for (table, col) in [("containers", "project"), ("projects", "name")] {
                    let n: i64 = db
                        .query_row(
                            &format!("SELECT count(*) FROM {table} WHERE {col} = ?1"),
                            [&self.project],
                            |r| r.get(0),
                        )
                        .unwrap_or(-1);
                    if n != 0 {
                        problems.push(format!("{n} rows left in {table}"));
                    }
                }
                let n: i64 = db
                    .query_row("SELECT count(*) FROM containers", [], |r| r.get(0))
                    .unwrap_or(-1);
                if n != 0 {
                    problems.push(format!("{n} container rows left in all"));
                }
            }
            Err(e) => problems.push(format!("state.db: {e}")),
        }
        if let Ok(it) = std::fs::read_dir(root.join("containers")) {
            for e in it.flatten() {
                problems.push(format!("container directory {} left", e.path().display()));
            }
        }
        assert!(
            problems.is_empty(),
            "down left things behind: {problems:#?}\n{}",
            self.context()
        );
    }

    fn event(&mut self, n: usize, fault: Fault) {
        let frac = self.rng.unit();
        let (what, window) = match fault {
            Fault::DaemonDuringDown => ("daemon kill during down", self.down_time),
            _ => ("during up", self.up_time),
        };
        // Kill points spread over the command and a little after it.
        let delay = window.mul_f64(frac * 1.1);
        let outcome = match fault {
            Fault::DaemonDuringUp => self.daemon_kill(&["up", "-d"], delay),
            Fault::DaemonDuringDown => {
                self.ok(&["up", "-d"]);
                self.check_declared();
                self.daemon_kill(&["down"], delay)
            }
            Fault::ShimDuringUp => self.shim_kill(delay),
        };
        let label = match fault {
            Fault::DaemonDuringUp => "daemon kill during up",
            Fault::ShimDuringUp => "shim kill during up",
            Fault::DaemonDuringDown => what,
        };
        self.log.push(format!(
            "#{n} {label} at {} ms: {outcome}",
            delay.as_millis()
        ));
        eprintln!("{}", self.log.last().map(String::as_str).unwrap_or(""));
        // One more `up -d` (auto-starting the daemon where it was killed) gives the stack
        // exactly as declared; the `down` after it leaves nothing.
        self.ok(&["up", "-d"]);
        self.check_declared();
        self.ok(&["down"]);
        self.check_clean();
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn counts() -> (usize, usize) {
    match std::env::var("RSTACK_FAULT_KILLS") {
        Ok(v) => {
            let mut it = v.split(',').map(|x| x.trim().parse::<usize>());
            match (it.next(), it.next()) {
                (Some(Ok(d)), Some(Ok(s))) => (d, s),
                // One number: the total, two thirds of it daemon kills.
                (Some(Ok(t)), None) => (t - t / 3, t / 3),
                _ => panic!("RSTACK_FAULT_KILLS={v}: want DAEMON,SHIM or a total"),
            }
        }
        Err(_) => (20, 10),
    }
}

#[test]
fn the_stack_survives_daemon_and_shim_kills_during_up_and_down() {
    if skip_unless_root("faults") {
        return;
    }
    let seed = std::env::var("RSTACK_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let (daemon_kills, shim_kills) = counts();
    eprintln!(
        "fault campaign: seed {seed} (replay with RSTACK_FAULT_SEED={seed}), {daemon_kills} daemon kills, {shim_kills} shim kills"
    );
    let seen: Shared = Rc::default();
    let mut env = Env::new("faults");
    let _last = LastResort {
        seen: seen.clone(),
        data_root: env.data_root.clone(),
    };
    let project = env.project("faults");
    env.import_busybox();
    env.write("compose.yaml", &format!("name: {project}\n{SERVICES}"));
    let mut c = Campaign {
        env,
        project,
        seen,
        rng: Rng(seed),
        seed,
        up_time: Duration::ZERO,
        down_time: Duration::ZERO,
        log: Vec::new(),
    };
    // A clean round first: the stack as declared, nothing left, and the timings that
    // spread the kill points.
    c.up_time = c.ok(&["up", "-d"]);
    c.check_declared();
    c.down_time = c.ok(&["down"]);
    c.check_clean();
    eprintln!(
        "clean up -d {} ms, down {} ms",
        c.up_time.as_millis(),
        c.down_time.as_millis()
    );

    // Daemon kills half during up, half during down; the order is shuffled by the seed.
    let mut plan: Vec<Fault> = Vec::new();
    for i in 0..daemon_kills {
        plan.push(if i % 2 == 0 {
            Fault::DaemonDuringUp
        } else {
            Fault::DaemonDuringDown
        });
    }
    plan.extend(std::iter::repeat_n(Fault::ShimDuringUp, shim_kills));
    for i in (1..plan.len()).rev() {
        let j = c.rng.below(i as u64 + 1) as usize;
        plan.swap(i, j);
    }
    for (n, f) in plan.into_iter().enumerate() {
        c.event(n + 1, f);
    }
    let summary: BTreeMap<String, usize> = c.log.iter().fold(BTreeMap::new(), |mut m, l| {
        let key = l
            .split_once(" at ")
            .map(|(a, _)| a.split_once(' ').map(|x| x.1).unwrap_or(a))
            .unwrap_or("")
            .to_string()
            + " / "
            + l.split_once(": ").map(|x| x.1).unwrap_or("");
        *m.entry(key).or_default() += 1;
        m
    });
    eprintln!("fault campaign passed, seed {seed}:");
    for (k, v) in summary {
        eprintln!("  {v:4} x {k}");
    }
}

/// The two faults the campaign found behind leaked runs, made deterministic: a shim whose
/// start no daemon recorded (the daemon died after handing it the container) is killed when
/// the next daemon boots, before the container runs again on the same overlay and cgroup;
/// and a shim whose start report finds no daemon undoes the start by itself.
#[test]
fn a_start_no_daemon_recorded_is_undone() {
    if skip_unless_root("unrecorded") {
        return;
    }
    let mut env = Env::new("unrecorded");
    let p = env.project("unrecorded");
    let seen: Shared = Rc::default();
    let _last = LastResort {
        seen: seen.clone(),
        data_root: env.data_root.clone(),
    };
    env.import_busybox();
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  s:\n    image: busybox:test\n    restart: always\n    stop_grace_period: 1s\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n"
        ),
    );
    env.ok(&["up", "-d"]);
    let row = env.wait_for(&p, "s", 10, |r| r["state"] == "running");
    let id = row["id"].as_str().expect("id").to_string();
    seen.borrow_mut().ids.insert(id.clone());
    let dir = env.data_root.join("containers").join(&id);
    env.ok(&["stop", "s"]);

    // A start handed to a shim by a daemon that died before it saved the result: the
    // record says exited, the shim runs the container.
    env.stop_daemon(libc::SIGKILL);
    let (mut stray, stray_init) = hand_started_shim(&dir, true);
    assert!(alive(stray_init), "the stray run did not start");

    // The next daemon kills it at boot; `up -d` then runs the container once.
    env.ok(&["up", "-d"]);
    let again = env.wait_for(&p, "s", 10, |r| r["state"] == "running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while stray.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "the stray shim lives on beside the new run\n{}",
            env.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(stray_init), "the stray run's init lives on");
    assert_ne!(again["pid"].as_i64(), Some(i64::from(stray_init)));
    assert!(env.daemon_log().contains("whose start no daemon recorded"));

    // A start whose report finds no daemon (it died meanwhile): the shim undoes it alone.
    env.ok(&["stop", "s"]);
    env.stop_daemon(libc::SIGKILL);
    let (mut orphan, orphan_init) = hand_started_shim(&dir, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while orphan.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "a shim whose start nobody heard of keeps its container running"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(orphan_init), "its init lives on");
    assert!(dir.join("exit.json").exists(), "the exit was not recorded");
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));

    let mut daemon = env.start_daemon();
    env.ok(&["down"]);
    assert!(
        mounts_under(&env.dir).is_empty(),
        "{:?}",
        mounts_under(&env.dir)
    );
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
    let daemon_pid = std::fs::read_to_string(env.data_root.join("daemon.lock"))
        .ok()
        .and_then(|d| d.trim().parse().ok());
    let left = leaked_processes(&env.data_root, &seen.borrow().ids, daemon_pid);
    assert!(left.is_empty(), "processes left: {left:?}");
    drop(env);
    let _ = daemon.wait();
}

/// Runs `rstack shim DIR` as a daemon would, stderr on its shim.log. `listen`: the report
/// pipe is read (the start reaches a reader, who then vanishes unrecorded); otherwise it is
/// closed before the shim reports. Returns the shim and the init pid it started.
fn hand_started_shim(dir: &Path, listen: bool) -> (Child, i32) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("shim.log"))
        .expect("shim.log");
    let mut shim = std::process::Command::new(bin())
        .arg("shim")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("shim");
    let out = shim.stdout.take().expect("report pipe");
    if !listen {
        drop(out);
        let deadline = Instant::now() + Duration::from_secs(10);
        let init = loop {
            if let Some(&c) = children(shim.id() as i32).first() {
                break c;
            }
            if shim.try_wait().expect("wait").is_some() || Instant::now() > deadline {
                break 0;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        return (shim, init);
    }
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).expect("report");
    let init = line
        .split_whitespace()
        .nth(2)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("shim report: {line:?}"));
    (shim, init)
}

/// Found by the campaign's first version, which let the CLI start the daemon right after a
/// kill: several commands that find no daemon at once each start one; all but one of those
/// lose the data root's lock, and their commands used to fail ("the rstack daemon exited at
/// start") instead of using the daemon that won.
#[test]
fn commands_that_start_the_daemon_at_once_share_it() {
    if skip_unless_root("autostart") {
        return;
    }
    let mut env = Env::new("autostart");
    let p = env.project("autostart");
    env.import_busybox();
    env.stop_daemon(libc::SIGTERM);
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  s:\n    image: busybox:test\n    command: [\"true\"]\n"),
    );
    let runs: Vec<Child> = (0..4)
        .map(|_| {
            env.cmd(&["up", "-d"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("up")
        })
        .collect();
    for r in runs {
        let out = r.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            env.daemon_log()
        );
    }
}
