//! cgroup v2: one unified directory; controllers must be enabled in every ancestor's
//! cgroup.subtree_control before the leaf can use them.

use super::{mkdir_all, write_file};
use crate::runtime::config::ResourceConfig;
use crate::runtime::devices::Rule;
use crate::runtime::error::Result;
use std::path::Path;

/// Creates `root/rel`, enabling memory/cpu/pids in the ancestors, writes the limits, and
/// attaches the device program for `devices` (v2 has no devices files).
pub fn create(root: &Path, rel: &Path, res: &ResourceConfig, devices: &[Rule]) -> Result<()> {
    let wanted = ["memory", "cpu", "pids"];
    let mut dir = root.to_path_buf();
    for comp in rel.components() {
        enable_controllers(&dir, &wanted)?;
        dir.push(comp);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => mkdir_all(&dir)?,
        }
    }
    if let Some(m) = res.memory {
        write_file(&dir.join("memory.max"), &m.to_string())?;
        // No swap, as Docker's --memory alone; absent when swap accounting is off.
        let swap = dir.join("memory.swap.max");
        if swap.exists() || is_tmp(root) {
            write_file(&swap, "0")?;
        }
    }
    if let Some(r) = res.memory_reservation {
        write_file(&dir.join("memory.low"), &r.to_string())?;
    }
    if res.cpu_quota.is_some() || res.cpu_period.is_some() {
        let quota = match res.cpu_quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        let period = res.cpu_period.unwrap_or(100_000);
        write_file(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
    }
    if let Some(p) = res.pids {
        write_file(&dir.join("pids.max"), &super::pids_max(p))?;
    }
    // A temporary directory of the unit tests is no cgroup to attach to.
    if !devices.is_empty() && !is_tmp(root) {
        super::bpf::apply(&dir, devices)?;
    }
    Ok(())
}

/// True unless `root` is a real cgroup2 mount (lets unit tests on a temp dir see every write).
fn is_tmp(root: &Path) -> bool {
    nix::sys::statfs::statfs(root)
        .map(|s| s.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(true)
}

/// Enables the wanted controllers that `dir` offers (cgroup.controllers) for its children.
fn enable_controllers(dir: &Path, wanted: &[&str]) -> Result<()> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|a| a == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let file = dir.join("cgroup.subtree_control");
    if write_file(&file, &missing.join(" ")).is_ok() {
        return Ok(());
    }
    // One refusal (e.g. +cpu while realtime tasks exist) must not cost the others; a controller
    // left off surfaces later as a clear "write .../cpu.max" error if it is actually needed.
    for m in &missing {
        let _ = write_file(&file, m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::{Cgroup, Layout};

    #[test]
    fn writes_v2_files_and_enables_ancestors() {
        let root = std::env::temp_dir().join(format!("rstack-cg2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("rstack")).unwrap();
        std::fs::write(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        std::fs::write(root.join("rstack/cgroup.controllers"), "cpu memory pids\n").unwrap();
        std::fs::write(root.join("rstack/cgroup.subtree_control"), "memory\n").unwrap();
        let res = ResourceConfig {
            memory: Some(1 << 25),
            cpu_quota: Some(150000),
            cpu_period: None,
            pids: Some(20),
            memory_reservation: Some(1 << 24),
        };
        let layout = Layout::V2(root.clone());
        let rules = crate::runtime::devices::DEFAULT_RULES;
        let cg = Cgroup::create(&layout, "rstack/proj/c1", &res, &rules).unwrap();
        let rd = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(rd("cgroup.subtree_control"), "+memory +cpu +pids");
        assert_eq!(rd("rstack/cgroup.subtree_control"), "+cpu +pids");
        // rstack/proj offers no cgroup.controllers in a temp dir: nothing to enable there.
        assert!(!root.join("rstack/proj/cgroup.subtree_control").exists());
        assert_eq!(rd("rstack/proj/c1/memory.max"), "33554432");
        assert_eq!(rd("rstack/proj/c1/memory.swap.max"), "0");
        // mem_reservation / reservations.memory: memory.low, as runc maps MemoryReservation.
        assert_eq!(rd("rstack/proj/c1/memory.low"), "16777216");
        assert_eq!(rd("rstack/proj/c1/cpu.max"), "150000 100000");
        assert_eq!(rd("rstack/proj/c1/pids.max"), "20");
        assert_eq!(cg.dirs, vec![root.join("rstack/proj/c1")]);
        std::fs::write(
            root.join("rstack/proj/c1/memory.events"),
            "oom 1\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), 1);
        cg.add_pid(7).unwrap();
        assert_eq!(rd("rstack/proj/c1/cgroup.procs"), "7");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn no_limits_writes_no_limit_files() {
        let root = std::env::temp_dir().join(format!("rstack-cg2n-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        create(&root, Path::new("a/b"), &ResourceConfig::default(), &[]).unwrap();
        assert!(root.join("a/b").is_dir());
        assert_eq!(std::fs::read_dir(root.join("a/b")).unwrap().count(), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
