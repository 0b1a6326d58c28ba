//! Pausing a container with the cgroup freezer (`pause`/`unpause`).
//!
//! v2: the container's own cgroup has `cgroup.freeze`. v1: the freezer is its own hierarchy,
//! which a container joins only when it is the host's tracker (no pids controller): rstack
//! makes no cgroup in hierarchies it does not limit. So pausing makes the container's freezer
//! cgroup then, moves its processes in and freezes it; unpausing thaws it, moves them back to
//! the hierarchy's root and removes it, so a container that is not paused has no freezer
//! cgroup to leak. Moving processes between freezer cgroups changes nothing else for them.

use super::{Cgroup, Layout, mkdir_all, rel_path, write_file};
use crate::runtime::config::ResourceConfig;
use crate::runtime::error::{Result, RuntimeError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a container's freeze switch lives: (directory, whether it is v2's `cgroup.freeze`).
fn freezer_dir(layout: &Layout, cgroup_path: &str) -> Result<(PathBuf, bool)> {
    match layout {
        Layout::V2(root) => Ok((root.join(rel_path(cgroup_path)?), true)),
        Layout::V1(_) => {
            let mount = layout.v1_mount("freezer").ok_or_else(|| {
                RuntimeError::Cgroup(
                    "the cgroup v1 freezer hierarchy is not mounted: pause needs it \
                     (mount it at /sys/fs/cgroup/freezer)"
                        .into(),
                )
            })?;
            Ok((mount.join(rel_path(cgroup_path)?), false))
        }
    }
}

/// Whether the container is frozen (or being frozen). A v1 container never paused has no
/// freezer cgroup: not frozen.
pub fn is_frozen(layout: &Layout, cgroup_path: &str) -> bool {
    let Ok((dir, v2)) = freezer_dir(layout, cgroup_path) else {
        return false;
    };
    match v2 {
        true => std::fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1"),
        false => std::fs::read_to_string(dir.join("freezer.state"))
            .is_ok_and(|s| matches!(s.trim(), "FROZEN" | "FREEZING")),
    }
}

fn pids_in(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Freezes every process of the container and waits (bounded) until the kernel says so.
pub fn freeze(layout: &Layout, cgroup_path: &str, res: &ResourceConfig) -> Result<()> {
    let (dir, v2) = freezer_dir(layout, cgroup_path)?;
    if v2 {
        write_file(&dir.join("cgroup.freeze"), "1")?;
        return wait_for(&dir.join("cgroup.events"), |s| {
            super::parse_keyed(s, "frozen") == Some(1)
        });
    }
    let cg = Cgroup::locate(layout, cgroup_path, res)?;
    mkdir_all(&dir)?;
    // A process forked while the others move is born in its parent's freezer cgroup; the
    // check after freezing catches one born in the old one, and the loop moves it too.
    for _ in 0..20 {
        for pid in cg.pids() {
            // A process that exited meanwhile: nothing to move.
            let _ = write_file(&dir.join("cgroup.procs"), &pid.to_string());
        }
        write_file(&dir.join("freezer.state"), "FROZEN")?;
        wait_for(&dir.join("freezer.state"), |s| s.trim() == "FROZEN")?;
        let inside = pids_in(&dir);
        if cg.pids().iter().all(|p| inside.contains(p)) {
            return Ok(());
        }
        write_file(&dir.join("freezer.state"), "THAWED")?;
    }
    Err(RuntimeError::Cgroup(format!(
        "{}: processes kept escaping the freezer",
        dir.display()
    )))
}

/// Thaws the container; on v1, also gives its freezer cgroup back (see the module doc).
/// Thawing one that is not frozen is fine.
pub fn thaw(layout: &Layout, cgroup_path: &str) -> Result<()> {
    let (dir, v2) = freezer_dir(layout, cgroup_path)?;
    if v2 {
        if dir.join("cgroup.freeze").exists() {
            write_file(&dir.join("cgroup.freeze"), "0")?;
        }
        return Ok(());
    }
    if !dir.exists() {
        return Ok(());
    }
    write_file(&dir.join("freezer.state"), "THAWED")?;
    wait_for(&dir.join("freezer.state"), |s| s.trim() == "THAWED")?;
    let root = layout.v1_mount("freezer").map(Path::to_path_buf);
    if let Some(root) = root {
        for pid in pids_in(&dir) {
            let _ = write_file(&root.join("cgroup.procs"), &pid.to_string());
        }
    }
    // Busy for a moment after the last process left; a leftover empty directory is removed
    // with the project's parent (`remove_empty_parents`).
    for _ in 0..50 {
        if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Polls `file` until `done` holds for its text (the kernel freezes asynchronously); 5 s at
/// most, then an error naming the file.
fn wait_for(file: &Path, done: impl Fn(&str) -> bool) -> Result<()> {
    for _ in 0..500 {
        let text = std::fs::read_to_string(file).map_err(|e| RuntimeError::io("read", file, e))?;
        if done(&text) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(RuntimeError::Cgroup(format!(
        "{}: the kernel did not finish freezing or thawing in 5 s",
        file.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rstack-freezer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn v2_writes_cgroup_freeze_and_reads_it_back() {
        let root = tmp("v2");
        let dir = root.join("rstack/c1");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("cgroup.freeze"), "0").expect("write");
        // The kernel's answer, faked: frozen as soon as asked.
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").expect("write");
        let layout = Layout::V2(root.clone());
        assert!(!is_frozen(&layout, "rstack/c1"));
        freeze(&layout, "rstack/c1", &ResourceConfig::default()).expect("freeze");
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.freeze")).expect("read"),
            "1"
        );
        assert!(is_frozen(&layout, "rstack/c1"));
        thaw(&layout, "rstack/c1").expect("thaw");
        assert!(!is_frozen(&layout, "rstack/c1"));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn v1_without_a_freezer_hierarchy_says_so() {
        let layout = Layout::V1(vec![("pids".into(), tmp("v1pids"))]);
        let err = freeze(&layout, "rstack/c1", &ResourceConfig::default()).expect_err("no freezer");
        assert!(
            err.to_string().contains("freezer hierarchy is not mounted"),
            "{err}"
        );
        assert!(!is_frozen(&layout, "rstack/c1"));
        thaw(&layout, "rstack/c1").expect_err("no freezer");
    }

    #[test]
    fn escaping_paths_are_refused() {
        let layout = Layout::V2(tmp("v2esc"));
        assert!(freeze(&layout, "../x", &ResourceConfig::default()).is_err());
        assert!(!is_frozen(&layout, "../x"));
    }
}
