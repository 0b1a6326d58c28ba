//! cgroup v1: one directory per controller hierarchy; only limited controllers are visited.

use super::{mkdir_all, write_file};
use crate::runtime::config::ResourceConfig;
use crate::runtime::devices::Rule;
use crate::runtime::error::{Result, RuntimeError};
use std::io::Write;
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
            if let Some(r) = res.memory_reservation {
                write_file(&dir.join("memory.soft_limit_in_bytes"), &r.to_string())?;
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

/// One write per rule, in order (the kernel parses one rule a write), each file opened once:
/// the opens cost more than the writes. The first rule, `a` to devices.deny, empties the
/// cgroup's list, so a directory left by an earlier run starts over.
fn write_device_rules(dir: &Path, rules: &[Rule]) -> Result<()> {
    let mut files: [Option<(std::path::PathBuf, std::fs::File)>; 2] = [None, None];
    for r in rules {
        let (slot, name) = if r.allow {
            (0, "devices.allow")
        } else {
            (1, "devices.deny")
        };
        if files[slot].is_none() {
            let path = dir.join(name);
            // `create` only matters to the unit tests' plain directories.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| RuntimeError::io("open", &path, e))?;
            files[slot] = Some((path, f));
        }
        if let Some((path, f)) = &mut files[slot] {
            f.write_all(r.v1_line().as_bytes())
                .map_err(|e| RuntimeError::io("write", &*path, e))?;
        }
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
            memory_reservation: Some(16777216),
        };
        // In a plain directory the separate writes (one rule each) end up side by side.
        let rules = &crate::runtime::devices::DEFAULT_RULES[..5];
        let cg = Cgroup::create(&layout, "rstack/p/c", &res, rules).unwrap();
        let rd = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(rd("devices/rstack/p/c/devices.deny"), "a *:* rwm");
        assert_eq!(
            rd("devices/rstack/p/c/devices.allow"),
            "c *:* mb *:* mc 1:3 rwmc 1:5 rwm"
        );
        assert_eq!(rd("memory/rstack/p/c/memory.limit_in_bytes"), "33554432");
        assert_eq!(
            rd("memory/rstack/p/c/memory.soft_limit_in_bytes"),
            "16777216"
        );
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
