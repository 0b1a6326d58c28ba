//! cgroup v1: one directory per controller hierarchy; only limited controllers are visited.

use super::{mkdir_all, write_file};
use crate::runtime::config::ResourceConfig;
use crate::runtime::devices::Rule;
use crate::runtime::error::Result;
use std::path::Path;

/// Creates `dir` in the hierarchy of `controller` and writes that controller's limits (for
/// `devices`, the rules).
pub fn create(controller: &str, dir: &Path, res: &ResourceConfig, devices: &[Rule]) -> Result<()> {
    mkdir_all(dir)?;
    match controller {
        "devices" => write_device_rules(dir, devices)?,
        "memory" => {
            if let Some(m) = res.memory {
                write_file(&dir.join("memory.limit_in_bytes"), &m.to_string())?;
                // Same value for memory+swap = no swap, as Docker does with --memory alone.
                let memsw = dir.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write_file(&memsw, &m.to_string())?;
                }
            }
        }
        "cpu" => {
            // Period first: the kernel validates quota against the current period.
            if let Some(p) = res.cpu_period {
                write_file(&dir.join("cpu.cfs_period_us"), &p.to_string())?;
            }
            if let Some(q) = res.cpu_quota {
                write_file(&dir.join("cpu.cfs_quota_us"), &q.to_string())?;
            }
        }
        "pids" => {
            if let Some(p) = res.pids {
                write_file(&dir.join("pids.max"), &super::pids_max(p))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// One write per rule, in order (the kernel parses one rule a write). The first, `a` to
/// devices.deny, empties the cgroup's list, so a directory left by an earlier run starts over.
fn write_device_rules(dir: &Path, rules: &[Rule]) -> Result<()> {
    let (allow, deny) = (dir.join("devices.allow"), dir.join("devices.deny"));
    for r in rules {
        write_file(if r.allow { &allow } else { &deny }, &r.v1_line())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::{Cgroup, Layout};

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rstack-cg1-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn writes_limits_into_limited_hierarchies_only() {
        let root = tmp("limits");
        let ctrls = ["memory", "cpu", "pids", "blkio", "devices"];
        for c in ctrls {
            std::fs::create_dir_all(root.join(c)).unwrap();
        }
        // memsw exists only with swap accounting; pre-create it in the leaf to exercise it.
        std::fs::create_dir_all(root.join("memory/rstack/p/c")).unwrap();
        std::fs::write(
            root.join("memory/rstack/p/c/memory.memsw.limit_in_bytes"),
            "",
        )
        .unwrap();
        let layout = Layout::V1(
            ctrls
                .iter()
                .map(|c| (c.to_string(), root.join(c)))
                .collect(),
        );
        let res = ResourceConfig {
            memory: Some(33554432),
            cpu_quota: Some(50000),
            cpu_period: Some(100000),
            pids: Some(20),
        };
        // The kernel takes one rule a write; a plain file keeps the last one.
        let rules = [Rule::allow(
            crate::runtime::devices::DevKind::Char,
            Some(1),
            Some(3),
            7,
        )];
        let cg = Cgroup::create(&layout, "rstack/p/c", &res, &rules).unwrap();
        let rd = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(rd("devices/rstack/p/c/devices.allow"), "c 1:3 rwm");
        assert_eq!(rd("memory/rstack/p/c/memory.limit_in_bytes"), "33554432");
        assert_eq!(
            rd("memory/rstack/p/c/memory.memsw.limit_in_bytes"),
            "33554432"
        );
        assert_eq!(rd("cpu/rstack/p/c/cpu.cfs_quota_us"), "50000");
        assert_eq!(rd("cpu/rstack/p/c/cpu.cfs_period_us"), "100000");
        assert_eq!(rd("pids/rstack/p/c/pids.max"), "20");
        assert!(!root.join("blkio/rstack").exists());
        assert_eq!(cg.dirs.len(), 4);
        cg.add_pid(42).unwrap();
        assert_eq!(rd("pids/rstack/p/c/cgroup.procs"), "42");
        assert_eq!(cg.pids(), vec![42]);
        std::fs::write(
            root.join("memory/rstack/p/c/memory.oom_control"),
            "oom_kill 2\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), 2);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn unlimited_container_still_gets_a_pids_cgroup() {
        let root = tmp("nolimit");
        std::fs::create_dir_all(root.join("pids")).unwrap();
        std::fs::create_dir_all(root.join("memory")).unwrap();
        let layout = Layout::V1(vec![
            ("pids".into(), root.join("pids")),
            ("memory".into(), root.join("memory")),
        ]);
        let cg = Cgroup::create(&layout, "x/y", &ResourceConfig::default(), &[]).unwrap();
        assert_eq!(cg.dirs, vec![root.join("pids/x/y")]);
        assert!(!root.join("pids/x/y/pids.max").exists());
        assert!(!root.join("memory/x").exists());
        assert_eq!(cg.oom_kills(), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
