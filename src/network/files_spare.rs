//! Recycled directories for containers' network files (`<networks>/containers/<id>` with
//! resolv.conf, hosts, hostname). A removed container's directory is kept (up to two) and
//! renamed into place for the next new container, whose files are then rewritten in place:
//! no directory and three files created, and none deleted, per container.
//!
//! Why: on ext4 without a journal (this project's CI host, and common for scratch disks), every
//! new inode is first checked against the inodes deleted in the last seconds
//! (`recently_deleted`), so the cost of each creation grows with how many were deleted
//! before it. A loop of one-off containers made and deleted four inodes each for these files;
//! reusing them takes that churn off the start path of every container.
//!
//! The spares live in `<networks>/spare`, emptied when the daemon starts: nothing in them is
//! state. Only the three files a start rewrites are kept; anything else (the ports a run held)
//! goes at the recycling, so a new container never reads an old one's.

use crate::runtime::spare_dir::DirPool;
use std::path::{Path, PathBuf};

/// The files every container's directory has, rewritten at each new container's start.
pub const KEPT: [&str; 3] = ["resolv.conf", "hosts", "hostname"];

pub struct FileDirs {
    pool: DirPool,
}

impl FileDirs {
    /// Spares under `root`, which is emptied first (a previous daemon's leftovers).
    pub fn new(root: PathBuf) -> FileDirs {
        FileDirs {
            pool: DirPool::new(root),
        }
    }

    /// Puts a spare in place as `dir` when `dir` does not exist. True when it did: `dir`
    /// then holds an earlier container's files, for the caller to rewrite.
    pub fn take_as(&self, dir: &Path) -> bool {
        self.pool.take_as(dir)
    }

    /// Keeps a removed container's directory as a spare; false when it was not kept (enough
    /// spares, or something in it could not be removed): the caller deletes it.
    pub fn recycle(&self, dir: &Path) -> bool {
        !self.pool.full() && only_kept_files(dir) && self.pool.adopt(dir)
    }
}

/// Removes everything in `dir` but the regular files named in `KEPT`; true if that left
/// nothing else.
fn only_kept_files(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in entries.flatten() {
        let kept =
            KEPT.iter().any(|k| e.file_name() == *k) && e.file_type().is_ok_and(|t| t.is_file());
        if kept {
            continue;
        }
        let gone = match e.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(e.path()),
            _ => std::fs::remove_file(e.path()),
        };
        if gone.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_directory_is_the_next_ones_with_only_its_files() {
        let base = crate::testutil::TempDir::new("net-file-dirs");
        let dirs = FileDirs::new(base.0.join("spare"));
        let old = base.0.join("containers/a");
        std::fs::create_dir_all(&old).unwrap();
        for f in KEPT.iter().chain(&["ports.json"]) {
            std::fs::write(old.join(f), "x").unwrap();
        }
        assert!(!dirs.take_as(&base.0.join("containers/b")), "none kept yet");
        assert!(dirs.recycle(&old));
        assert!(!old.exists());
        let new = base.0.join("containers/b");
        assert!(dirs.take_as(&new));
        let mut names: Vec<_> = std::fs::read_dir(&new)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["hostname", "hosts", "resolv.conf"],
            "ports.json went"
        );
        assert!(!dirs.take_as(&base.0.join("containers/c")), "used up");
    }

    #[test]
    fn an_existing_directory_is_left_alone_and_at_most_two_are_kept() {
        let base = crate::testutil::TempDir::new("net-file-dirs-keep");
        let dirs = FileDirs::new(base.0.join("spare"));
        for i in 0..3 {
            let d = base.0.join(format!("c{i}"));
            std::fs::create_dir_all(&d).unwrap();
            assert_eq!(dirs.recycle(&d), i < 2, "{i}");
        }
        let existing = base.0.join("c2");
        std::fs::write(existing.join("hosts"), "mine").unwrap();
        assert!(!dirs.take_as(&existing));
        assert_eq!(
            std::fs::read_to_string(existing.join("hosts")).unwrap(),
            "mine"
        );
        assert!(dirs.take_as(&base.0.join("d")), "the spare is still there");
        // A new daemon starts without the old one's spares.
        let again = FileDirs::new(base.0.join("spare"));
        assert!(!base.0.join("spare").exists());
        assert!(!again.take_as(&base.0.join("e")));
    }
}
