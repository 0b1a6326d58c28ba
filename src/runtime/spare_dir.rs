//! A container directory made ahead of time: `DIR/upper`, `DIR/work` and `DIR/rootfs`, made
//! off the start path and renamed into place as the next new container's state directory.
//! One rename replaces four directory creations (each a journaled metadata write on ext4) on
//! the start path.
//!
//! The spares live in a directory of their own beside `containers/` (same filesystem, so a
//! rename moves them), which the daemon empties at start: nothing of them is container state.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The subdirectories every container directory has (`plan::container` names them).
const SUBDIRS: [&str; 3] = ["upper", "work", "rootfs"];

pub struct SpareDirs {
    /// Where spares are made; `None` disables them (tests, or no data root given).
    root: Option<PathBuf>,
    ready: Mutex<Option<PathBuf>>,
    counter: AtomicU64,
}

impl SpareDirs {
    /// Spares under `root`, which is emptied first (a previous daemon's leftovers).
    pub fn new(root: Option<PathBuf>) -> SpareDirs {
        if let Some(r) = &root {
            let _ = std::fs::remove_dir_all(r);
        }
        SpareDirs {
            root,
            ready: Mutex::new(None),
            counter: AtomicU64::new(0),
        }
    }

    /// Puts the spare in place as `dir` if `dir` does not exist yet. True when it did, so
    /// `dir` and its subdirectories exist and are empty.
    pub fn take_as(&self, dir: &Path) -> bool {
        let Some(spare) = lock(&self.ready).take() else {
            return false;
        };
        // rename fails if `dir` exists (a container started again keeps its directory): the
        // spare then waits for the next new container.
        if std::fs::rename(&spare, dir).is_ok() {
            return true;
        }
        let mut slot = lock(&self.ready);
        if slot.is_none() {
            *slot = Some(spare);
        } else {
            drop(slot);
            let _ = std::fs::remove_dir_all(&spare);
        }
        false
    }

    /// Makes a spare unless one is ready. Off the start path: it costs four mkdirs.
    pub fn refill(&self) {
        let Some(root) = &self.root else { return };
        if lock(&self.ready).is_some() {
            return;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = root.join(format!("{}-{n}", std::process::id()));
        let made = std::fs::create_dir_all(root).is_ok()
            && std::fs::create_dir(&dir).is_ok()
            && SUBDIRS
                .iter()
                .all(|s| std::fs::create_dir(dir.join(s)).is_ok());
        if !made {
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        let mut slot = lock(&self.ready);
        if slot.is_none() {
            *slot = Some(dir);
        } else {
            drop(slot);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rstack-spare-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_spare_becomes_the_new_directory() {
        let base = tmp("take");
        let spares = SpareDirs::new(Some(base.join("spare")));
        let dir = base.join("containers/abc");
        std::fs::create_dir_all(base.join("containers")).unwrap();
        assert!(!spares.take_as(&dir), "nothing made yet");
        spares.refill();
        assert!(spares.take_as(&dir));
        for s in SUBDIRS {
            assert!(dir.join(s).is_dir(), "{s}");
        }
        assert!(!spares.take_as(&base.join("containers/def")), "used up");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn an_existing_directory_is_left_alone_and_the_spare_kept() {
        let base = tmp("exists");
        let spares = SpareDirs::new(Some(base.join("spare")));
        let dir = base.join("c");
        std::fs::create_dir_all(dir.join("upper")).unwrap();
        std::fs::write(dir.join("upper/file"), "kept").unwrap();
        spares.refill();
        assert!(!spares.take_as(&dir));
        assert_eq!(
            std::fs::read_to_string(dir.join("upper/file")).unwrap(),
            "kept"
        );
        assert!(spares.take_as(&base.join("d")), "the spare is still there");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn leftovers_are_removed_at_start_and_none_means_off() {
        let base = tmp("leftover");
        std::fs::create_dir_all(base.join("spare/old-1/upper")).unwrap();
        let _spares = SpareDirs::new(Some(base.join("spare")));
        assert!(!base.join("spare").exists());
        let off = SpareDirs::new(None);
        off.refill();
        assert!(!off.take_as(&base.join("x")));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
