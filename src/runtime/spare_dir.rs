//! A container directory made ahead of time: `DIR/upper`, `DIR/work` and `DIR/rootfs`, made
//! off the start path and renamed into place as the next new container's state directory.
//! One rename replaces four directory creations (each a journaled metadata write on ext4) on
//! the start path.
//!
//! The spares live in a directory of their own beside `containers/` (same filesystem, so a
//! rename moves them), which the daemon empties at start: nothing of them is container state.

use super::config::ROOT_DIRS;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The subdirectories every container directory has.
const SUBDIRS: [&str; 3] = [ROOT_DIRS.upper, ROOT_DIRS.work, ROOT_DIRS.merged];

/// Logs every start opens for appending: made empty ahead, and kept by a recycling while
/// still empty (a file with data is removed: its blocks are freed, as for a directory). A
/// file that exists is opened without a journaled inode creation.
const LOGS: [&str; 2] = ["shim.log", "container.log"];

/// The container's config, written at each start.
const CONFIG: &str = "config.json";

/// What a recycled directory keeps while empty: the logs (the config is kept zeroed).
const KEPT_EMPTY: [&str; 2] = [LOGS[0], LOGS[1]];

/// A pool of directories kept for reuse under `root` (up to `KEEP`): one is renamed into
/// place instead of a directory being made, and a released one is renamed into the pool
/// instead of being deleted. Shared by the container directories here and the network
/// files' directories (`network::files_spare`); what a directory must hold is the user's.
pub struct DirPool {
    root: PathBuf,
    /// Up to `KEEP` spares: in a loop of one-offs (start, exit, removal) the removed
    /// directory is always the next one, and none is made or deleted.
    ready: Mutex<Vec<PathBuf>>,
    counter: AtomicU64,
}

/// Spares kept at most.
const KEEP: usize = 2;

impl DirPool {
    /// A pool under `root`, which is emptied first (a previous daemon's leftovers).
    pub fn new(root: PathBuf) -> DirPool {
        let _ = std::fs::remove_dir_all(&root);
        DirPool {
            root,
            ready: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
        }
    }

    /// Puts a spare in place as `dir` if `dir` does not exist yet; true when it did.
    pub fn take_as(&self, dir: &Path) -> bool {
        let Some(spare) = lock(&self.ready).pop() else {
            return false;
        };
        // rename fails if `dir` exists (a container started again keeps its directory): the
        // spare then waits for the next new container.
        if std::fs::rename(&spare, dir).is_ok() {
            return true;
        }
        self.keep(spare);
        false
    }

    /// Whether no more spares are wanted.
    pub fn full(&self) -> bool {
        lock(&self.ready).len() >= KEEP
    }

    /// Whether no spare is ready.
    pub fn is_empty(&self) -> bool {
        lock(&self.ready).is_empty()
    }

    /// Moves `dir` (ready for reuse) into the pool; false when it could not be moved, and
    /// the caller deletes it.
    pub fn adopt(&self, dir: &Path) -> bool {
        let spare = self.new_name();
        if !self.ensure_root() || std::fs::rename(dir, &spare).is_err() {
            return false;
        }
        self.keep(spare);
        true
    }

    /// A free path in the pool's directory, for a spare made there (then `keep` it).
    pub fn new_name(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.root.join(format!("{}-{n}", std::process::id()))
    }

    /// The pool's directory, made if missing.
    pub fn ensure_root(&self) -> bool {
        std::fs::create_dir_all(&self.root).is_ok()
    }

    /// Adds a spare, or deletes it if enough are ready meanwhile.
    pub fn keep(&self, spare: PathBuf) {
        let mut ready = lock(&self.ready);
        if ready.len() < KEEP {
            ready.push(spare);
            return;
        }
        drop(ready);
        let _ = std::fs::remove_dir_all(&spare);
    }
}

pub struct SpareDirs {
    /// Where spares are kept; `None` disables them (tests, or no data root given).
    pool: Option<DirPool>,
}

impl SpareDirs {
    /// Spares under `root`, which is emptied first (a previous daemon's leftovers).
    pub fn new(root: Option<PathBuf>) -> SpareDirs {
        SpareDirs {
            pool: root.map(DirPool::new),
        }
    }

    /// Puts a spare in place as `dir` if `dir` does not exist yet. True when it did, so
    /// `dir` and its subdirectories exist and are empty.
    pub fn take_as(&self, dir: &Path) -> bool {
        self.pool.as_ref().is_some_and(|p| p.take_as(dir))
    }

    /// Keeps a removed container's directory as a spare instead of deleting it, unless
    /// enough are ready: removing a directory frees its block, which on a filesystem mounted
    /// with `discard` waits for the disk, while holding the parent directory's lock that the
    /// next start's rename needs. Everything in it goes but `work` (emptied: overlayfs's
    /// private directory), `rootfs` (the mount point, empty), the empty logs and the config
    /// (zeroed); `upper`, the only one a container sees (its `/`), is emptied but for the
    /// network files' mount points (`etc_stubs`), or made anew when the container changed
    /// its mode, owner or attributes. False when `dir` was not kept: the caller deletes it.
    pub fn recycle(&self, dir: &Path) -> bool {
        let Some(pool) = &self.pool else {
            return false;
        };
        let keep = [ROOT_DIRS.work, ROOT_DIRS.merged, ROOT_DIRS.upper];
        if pool.full() {
            return false;
        }
        // The config (the old container's environment, secrets included) is zeroed, and
        // the file kept for the next one's config: no inode freed and made again, and no
        // truncation whose writeback the next start would wait for (`rewrite`).
        // One that cannot be zeroed is removed with the rest.
        let scrubbed = super::rewrite::scrub(&dir.join(CONFIG)).is_ok();
        let keep_file: &[&str] = if scrubbed { &[CONFIG] } else { &[] };
        if !empty_but(dir, &keep, &KEPT_EMPTY, keep_file) {
            return false;
        }
        let upper = dir.join(ROOT_DIRS.upper);
        let upper_ready = super::etc_stubs::clean_upper(&upper)
            || (std::fs::remove_dir_all(&upper)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                })
                .is_ok()
                && std::fs::create_dir(&upper).is_ok());
        let emptied = empty_but(&dir.join(ROOT_DIRS.work), &[], &[], &[])
            && std::fs::read_dir(dir.join(ROOT_DIRS.merged)).is_ok_and(|mut d| d.next().is_none())
            && upper_ready;
        if !emptied {
            return false;
        }
        pool.adopt(dir)
    }

    /// Makes a spare unless one is ready. Off the start path.
    pub fn refill(&self) {
        let Some(pool) = &self.pool else { return };
        if !pool.is_empty() {
            return;
        }
        let dir = pool.new_name();
        let made = pool.ensure_root()
            && std::fs::create_dir(&dir).is_ok()
            && SUBDIRS
                .iter()
                .all(|s| std::fs::create_dir(dir.join(s)).is_ok())
            && LOGS
                .iter()
                .all(|f| std::fs::File::create_new(dir.join(f)).is_ok());
        if !made {
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        pool.keep(dir);
    }
}

/// Removes everything in `dir` but the directories named in `keep` (not their contents), the
/// empty files named in `keep_empty` and the files named in `keep_file` (whatever they hold);
/// true if that left nothing else.
fn empty_but(dir: &Path, keep: &[&str], keep_empty: &[&str], keep_file: &[&str]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in entries.flatten() {
        let named = |names: &[&str]| names.iter().any(|k| e.file_name() == *k);
        let kept = (named(keep) && e.file_type().is_ok_and(|t| t.is_dir()))
            || (named(keep_empty) && e.metadata().is_ok_and(|m| m.is_file() && m.len() == 0))
            || (named(keep_file) && e.file_type().is_ok_and(|t| t.is_file()));
        if kept {
            continue;
        }
        let path = e.path();
        let gone = match e.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if gone.is_err() {
            return false;
        }
    }
    true
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed when dropped (when a test fails too).
    struct Tmp(PathBuf);

    impl std::ops::Deref for Tmp {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tmp(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("rstack-spare-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Tmp(d)
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
        for f in LOGS {
            assert_eq!(std::fs::metadata(dir.join(f)).unwrap().len(), 0, "{f}");
        }
        assert!(!spares.take_as(&base.join("containers/def")), "used up");
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
    }

    #[test]
    fn a_removed_directory_becomes_the_spare_with_a_new_upper() {
        use std::os::unix::fs::PermissionsExt;
        let base = tmp("recycle");
        let spares = SpareDirs::new(Some(base.join("spare")));
        let old = base.join("old");
        for d in ["upper/etc", "work/work/incompat/volatile", "rootfs"] {
            std::fs::create_dir_all(old.join(d)).unwrap();
        }
        for f in ["config.json", "container.log", "upper/etc/secret"] {
            std::fs::write(old.join(f), "x").unwrap();
        }
        // An empty log is kept; one with data is not.
        std::fs::write(old.join("shim.log"), "").unwrap();
        std::fs::set_permissions(old.join("upper"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        assert!(spares.recycle(&old));
        assert!(!old.exists());
        let new = base.join("new");
        assert!(spares.take_as(&new));
        let mut names: Vec<_> = std::fs::read_dir(&new)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["config.json", "rootfs", "shim.log", "upper", "work"]
        );
        assert!(
            std::fs::read(new.join("config.json"))
                .unwrap()
                .iter()
                .all(|b| *b == 0),
            "the old config is not kept"
        );
        for d in SUBDIRS {
            assert_eq!(std::fs::read_dir(new.join(d)).unwrap().count(), 0, "{d}");
        }
        let mode = std::fs::metadata(new.join("upper"))
            .unwrap()
            .permissions()
            .mode();
        assert_ne!(mode & 0o777, 0o700, "upper is made anew");
    }

    #[test]
    fn a_directory_is_not_recycled_when_enough_spares_are_ready() {
        let base = tmp("no-recycle");
        let spares = SpareDirs::new(Some(base.join("spare")));
        spares.refill();
        spares.refill();
        let old = base.join("old");
        let make = || {
            for d in SUBDIRS {
                std::fs::create_dir_all(old.join(d)).unwrap();
            }
        };
        make();
        assert!(spares.recycle(&old), "a second spare is kept");
        make();
        assert!(!spares.recycle(&old));
        assert!(old.exists(), "left for the caller to delete");
        assert!(!SpareDirs::new(None).recycle(&old));
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
    }
}
