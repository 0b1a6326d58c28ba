//! Cgroups written by hand: detect the host's layout (v1, hybrid, v2) from mountinfo, create a
//! container's cgroup with only the limits it asks for, and find/kill/remove it later.
//!
//! Every function takes the hierarchy roots as paths so unit tests can point them at a temp dir.

pub mod bpf;
pub mod devfilter;
pub mod dynmods;
pub mod freezer;
pub mod v1;
pub mod v2;

use super::config::ResourceConfig;
use super::devices::Rule;
use super::error::{Result, RuntimeError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the cgroup hierarchies are mounted.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// One directory per v1 controller: (controller name, mount point). Hybrid hosts (cgroup2
    /// mounted with no controllers, e.g. at /sys/fs/cgroup/unified) are treated as v1.
    V1(Vec<(String, PathBuf)>),
    /// Unified hierarchy root.
    V2(PathBuf),
}

impl Layout {
    /// Reads /proc/self/mountinfo, once a process: where cgroups are mounted does not change
    /// under a running host, and the daemon asks at every container removal.
    pub fn detect() -> Result<Layout> {
        static DETECTED: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
        if let Some(l) = DETECTED.get() {
            return Ok(l.clone());
        }
        let l = Self::read()?;
        Ok(DETECTED.get_or_init(|| l).clone())
    }

    fn read() -> Result<Layout> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| RuntimeError::io("read", "/proc/self/mountinfo", e))?;
        Self::from_mountinfo(&text, |p| {
            std::fs::read_to_string(p.join("cgroup.controllers"))
                .map(|s| !s.trim().is_empty())
                .unwrap_or(false)
        })
    }

    /// `has_controllers(mountpoint)` says whether a cgroup2 mount exposes controllers; a cgroup2
    /// mount without them is the systemd-only half of a hybrid setup.
    pub fn from_mountinfo(text: &str, has_controllers: impl Fn(&Path) -> bool) -> Result<Layout> {
        let mut v1 = Vec::new();
        let mut v2 = None;
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let rf: Vec<&str> = right.split(' ').collect();
            if fields.len() < 5 || rf.len() < 3 {
                continue;
            }
            let mountpoint = PathBuf::from(unescape(fields[4]));
            match rf[0] {
                "cgroup2" if has_controllers(&mountpoint) => v2 = Some(mountpoint),
                "cgroup" => {
                    for opt in rf[2].split(',') {
                        if matches!(opt, "memory" | "cpu" | "pids" | "cpuacct" | "cpuset")
                            || opt == "devices"
                            || opt == "freezer"
                            || opt == "blkio"
                        {
                            v1.push((opt.to_string(), mountpoint.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        if !v1.is_empty() {
            return Ok(Layout::V1(v1));
        }
        v2.map(Layout::V2)
            .ok_or_else(|| RuntimeError::Cgroup("no cgroup hierarchy found in mountinfo".into()))
    }

    fn v1_mount(&self, controller: &str) -> Option<&Path> {
        match self {
            Layout::V1(m) => m
                .iter()
                .find(|(c, _)| c == controller)
                .map(|(_, p)| p.as_path()),
            Layout::V2(_) => None,
        }
    }
}

/// Mountinfo escapes spaces etc. as octal `\040`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Ok(v) = u8::from_str_radix(s.get(i + 1..i + 4).unwrap_or(""), 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One container's cgroup: the directories it lives in (one per v1 hierarchy used, or one v2).
#[derive(Debug, Clone, PartialEq)]
pub struct Cgroup {
    pub dirs: Vec<PathBuf>,
    pub v2: bool,
    /// Directory holding the memory controller's files, for the OOM counter.
    pub memory_dir: Option<PathBuf>,
}

/// v1 hierarchies a container uses: pids always (so every process can be found and killed via
/// cgroup.procs; memory or freezer when a host lacks pids), devices always (its rules keep
/// the container off the host's devices), the others only when limited, because each extra
/// mkdir/rmdir/procs write costs.
fn v1_controllers(layout: &Layout, res: &ResourceConfig) -> Vec<&'static str> {
    let tracker = ["pids", "memory", "freezer", "cpu"]
        .into_iter()
        .find(|c| layout.v1_mount(c).is_some())
        .unwrap_or("pids");
    let mut c = vec![tracker];
    if layout.v1_mount("devices").is_some() {
        c.push("devices");
    }
    if (res.memory.is_some() || res.memory_reservation.is_some()) && tracker != "memory" {
        c.push("memory");
    }
    if (res.cpu_quota.is_some() || res.cpu_period.is_some()) && tracker != "cpu" {
        c.push("cpu");
    }
    c
}

impl Cgroup {
    /// The cgroup a container with these resources uses, without touching the filesystem.
    pub fn locate(layout: &Layout, path: &str, res: &ResourceConfig) -> Result<Cgroup> {
        let rel = rel_path(path)?;
        match layout {
            Layout::V2(root) => {
                let dir = root.join(rel);
                Ok(Cgroup {
                    dirs: vec![dir.clone()],
                    v2: true,
                    memory_dir: Some(dir),
                })
            }
            Layout::V1(_) => {
                let mut dirs = Vec::new();
                let mut memory_dir = None;
                for c in v1_controllers(layout, res) {
                    let mount = layout.v1_mount(c).ok_or_else(|| {
                        RuntimeError::Cgroup(format!("v1 controller {c} is not mounted"))
                    })?;
                    let dir = mount.join(rel);
                    if c == "memory" {
                        memory_dir = Some(dir.clone());
                    }
                    if !dirs.contains(&dir) {
                        dirs.push(dir);
                    }
                }
                Ok(Cgroup {
                    dirs,
                    v2: false,
                    memory_dir,
                })
            }
        }
    }

    /// Creates the cgroup and writes its limits and its device rules (`devices`: the whole
    /// list, Docker's defaults first), before any process joins it.
    pub fn create(
        layout: &Layout,
        path: &str,
        res: &ResourceConfig,
        devices: &[Rule],
    ) -> Result<Cgroup> {
        let cg = Self::locate(layout, path, res)?;
        match layout {
            Layout::V2(root) => v2::create(root, rel_path(path)?, res, devices)?,
            Layout::V1(_) => {
                for c in v1_controllers(layout, res) {
                    if let Some(mount) = layout.v1_mount(c) {
                        v1::create(c, &mount.join(rel_path(path)?), res, devices)?;
                    }
                }
            }
        }
        Ok(cg)
    }

    /// v1: opens each directory's `tasks` file (after `create`), for the container's init
    /// to move itself in with `join_self` once the limits are written. A process written
    /// into cgroup.procs by another one takes the kernel's global migration lock, whose
    /// first taker after a quiet spell waits for an RCU grace period (7-15 ms measured here:
    /// most of an isolated start); a single thread moving itself ("0" into `tasks`) does not
    /// take it (0.03 ms).
    pub fn open_tasks(&self) -> Result<Vec<std::os::fd::OwnedFd>> {
        let mut fds = Vec::with_capacity(self.dirs.len());
        for d in &self.dirs {
            let tasks = d.join("tasks");
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&tasks)
                .map_err(|e| RuntimeError::io("open", &tasks, e))?;
            fds.push(std::os::fd::OwnedFd::from(f));
        }
        Ok(fds)
    }

    /// Moves `pid` into every directory of this cgroup.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for d in &self.dirs {
            write_file(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Pids in the cgroup (from the first directory: every process joins all of them).
    pub fn pids(&self) -> Vec<i32> {
        let Some(d) = self.dirs.first() else {
            return Vec::new();
        };
        std::fs::read_to_string(d.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// OOM kills recorded: v1 memory.oom_control / v2 memory.events, line `oom_kill N`.
    pub fn oom_kills(&self) -> u64 {
        let Some(d) = &self.memory_dir else { return 0 };
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(d.join(file))
            .map(|s| parse_keyed(&s, "oom_kill").unwrap_or(0))
            .unwrap_or(0)
    }

    /// SIGKILLs everything inside until the cgroup is empty (bounded: ~1 s).
    pub fn kill_all(&self) {
        for _ in 0..100 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            // v2 (5.14+) kills the whole subtree atomically, racing no fork.
            if self.v2
                && let Some(d) = self.dirs.first()
                && d.join("cgroup.kill").exists()
                && write_file(&d.join("cgroup.kill"), "1").is_ok()
            {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            for p in pids {
                // SAFETY: plain kill(2); a stale pid at worst gets ESRCH.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Removes the leaf directories; retried briefly because a just-exited cgroup can stay busy
    /// for a moment. Missing directories are fine (idempotent).
    pub fn remove(&self) -> Result<()> {
        for d in &self.dirs {
            let mut last = None;
            for i in 0..50 {
                match std::fs::remove_dir(d) {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
                std::thread::sleep(Duration::from_millis(if i < 10 { 2 } else { 20 }));
            }
            if let Some(e) = last {
                return Err(RuntimeError::io("rmdir", d, e));
            }
        }
        Ok(())
    }
}

fn rel_path(path: &str) -> Result<&Path> {
    let p = Path::new(path.trim_start_matches('/'));
    if path.trim_start_matches('/').is_empty()
        || p.components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(RuntimeError::Cgroup(format!(
            "invalid cgroup path {path:?}"
        )));
    }
    Ok(p)
}

pub(crate) fn parse_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// pids.max for a limit: zero or negative means unlimited, as Docker's pids_limit.
pub(crate) fn pids_max(limit: i64) -> String {
    if limit <= 0 {
        "max".to_string()
    } else {
        limit.to_string()
    }
}

/// Moves the calling thread into the v1 cgroup whose `tasks` file is open as `fd` ("0" names
/// the caller; see `Cgroup::open_tasks`). The caller must be single-threaded for its whole
/// process to move. Async-signal-safe: a just-cloned child calls it.
pub fn join_self(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: a one-byte write from a static buffer.
    let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    if n == 1 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub(crate) fn write_file(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| RuntimeError::io("write", path, e))
}

pub(crate) fn mkdir_all(path: &Path) -> Result<()> {
    let mut attempt = 0;
    loop {
        match std::fs::create_dir_all(path) {
            // A daemon removing the shared, empty parent (see `remove_empty_parents`) can race
            // with this mkdir -p: the parent vanishes between its creation and the leaf's.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 3 => attempt += 1,
            r => return r.map_err(|e| RuntimeError::io("mkdir", path, e)),
        }
    }
}

/// Removes `<hierarchy>/<parent>` on every hierarchy where it exists and is empty, so a
/// daemon that stops with no containers leaves no cgroup directories behind. Non-empty
/// parents (containers still running, other daemons) are left alone.
pub fn remove_empty_parents(layout: &Layout, parent: &str) {
    let roots: Vec<PathBuf> = match layout {
        Layout::V1(list) => list.iter().map(|(_, p)| p.clone()).collect(),
        Layout::V2(root) => vec![root.clone()],
    };
    for root in roots {
        let _ = std::fs::remove_dir(root.join(parent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn detects_hybrid_as_v1() {
        let l = Layout::from_mountinfo(HYBRID, |_| false).unwrap();
        let Layout::V1(m) = l else {
            panic!("expected v1")
        };
        assert_eq!(m.len(), 3);
        assert!(m.contains(&("pids".into(), "/sys/fs/cgroup/pids".into())));
    }

    #[test]
    fn detects_v2() {
        let t = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = Layout::from_mountinfo(t, |p| p == Path::new("/sys/fs/cgroup")).unwrap();
        assert_eq!(l, Layout::V2("/sys/fs/cgroup".into()));
        assert!(Layout::from_mountinfo(t, |_| false).is_err());
    }

    #[test]
    fn rejects_escaping_paths() {
        assert!(rel_path("../etc").is_err());
        assert!(rel_path("").is_err());
        assert!(rel_path("a/./b").is_err() || rel_path("a/./b").is_ok());
        assert_eq!(rel_path("/rstack/p/x").unwrap(), Path::new("rstack/p/x"));
    }

    #[test]
    fn v1_touches_only_limited_hierarchies() {
        let l = Layout::from_mountinfo(HYBRID, |_| false).unwrap();
        let cg = Cgroup::locate(&l, "rstack/p/c", &ResourceConfig::default()).unwrap();
        assert_eq!(
            cg.dirs,
            vec![PathBuf::from("/sys/fs/cgroup/pids/rstack/p/c")]
        );
        let res = ResourceConfig {
            memory: Some(1),
            ..Default::default()
        };
        let cg = Cgroup::locate(&l, "rstack/p/c", &res).unwrap();
        assert_eq!(cg.dirs.len(), 2);
        assert_eq!(
            cg.memory_dir,
            Some("/sys/fs/cgroup/memory/rstack/p/c".into())
        );
        // A reservation alone (no limit) needs the memory hierarchy too.
        let res = ResourceConfig {
            memory_reservation: Some(1),
            ..Default::default()
        };
        let cg = Cgroup::locate(&l, "rstack/p/c", &res).unwrap();
        assert_eq!(
            cg.memory_dir,
            Some("/sys/fs/cgroup/memory/rstack/p/c".into())
        );
        // Without a pids hierarchy, memory tracks the container's processes.
        let l = Layout::V1(vec![
            ("memory".into(), "/m".into()),
            ("cpu".into(), "/c".into()),
        ]);
        let cg = Cgroup::locate(&l, "x", &ResourceConfig::default()).unwrap();
        assert_eq!(cg.dirs, vec![PathBuf::from("/m/x")]);
    }

    #[test]
    fn v1_always_uses_the_devices_hierarchy() {
        let l = Layout::V1(vec![
            ("pids".into(), "/p".into()),
            ("devices".into(), "/d".into()),
            ("memory".into(), "/m".into()),
        ]);
        let cg = Cgroup::locate(&l, "rstack/x", &ResourceConfig::default()).unwrap();
        assert_eq!(
            cg.dirs,
            vec![PathBuf::from("/p/rstack/x"), PathBuf::from("/d/rstack/x")]
        );
    }

    #[test]
    fn parses_oom_kill_counter() {
        let t = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(parse_keyed(t, "oom_kill"), Some(3));
        assert_eq!(parse_keyed("low 0\noom 1\n", "oom_kill"), None);
    }

    /// The real hierarchy of this host: limits land in the kernel's files, a process can be
    /// moved in, killed through the cgroup, and the directories removed.
    #[test]
    fn real_cgroup_on_this_host() {
        let layout = Layout::detect().unwrap();
        let path = format!("rstack-unit-{}/c", std::process::id());
        let res = ResourceConfig {
            memory: Some(64 << 20),
            pids: Some(10),
            ..Default::default()
        };
        let rules = crate::runtime::devices::DEFAULT_RULES;
        let cg = Cgroup::create(&layout, &path, &res, &rules).unwrap();
        struct Guard(Cgroup, Vec<PathBuf>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.kill_all();
                let _ = self.0.remove();
                for p in &self.1 {
                    let _ = std::fs::remove_dir(p);
                }
            }
        }
        let parents = cg
            .dirs
            .iter()
            .filter_map(|d| d.parent().map(Path::to_path_buf))
            .collect();
        let g = Guard(cg.clone(), parents);
        let first = &cg.dirs[0];
        assert_eq!(
            std::fs::read_to_string(first.join("pids.max"))
                .unwrap()
                .trim(),
            "10"
        );
        let mem = cg.memory_dir.clone().unwrap();
        let mem_file = if cg.v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        assert_eq!(
            std::fs::read_to_string(mem.join(mem_file)).unwrap().trim(),
            "67108864"
        );
        if !cg.v2
            && let Some(dev) = cg
                .dirs
                .iter()
                .find(|d| d.starts_with("/sys/fs/cgroup/devices"))
        {
            let list = std::fs::read_to_string(dev.join("devices.list")).unwrap();
            assert!(
                list.contains("c 1:3 rwm") && list.contains("c *:* m"),
                "{list}"
            );
            assert!(!list.contains("a *:* rwm"), "{list}");
        }
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        cg.add_pid(child.id() as i32).unwrap();
        assert_eq!(cg.pids(), vec![child.id() as i32]);
        assert_eq!(cg.oom_kills(), 0);
        cg.kill_all();
        assert!(child.wait().unwrap().code().is_none());
        assert!(cg.pids().is_empty());
        cg.remove().unwrap();
        assert!(cg.dirs.iter().all(|d| !d.exists()));
        drop(g);
    }
}
