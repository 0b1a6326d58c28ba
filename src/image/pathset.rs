//! A set of paths for the extractor's bookkeeping (what it made, which directories it
//! checked, which files its workers still write), keyed by the path's bytes and hashed with
//! foldhash. A `HashSet<PathBuf>` hashes a path component by component through SipHash:
//! that was a fifth of the extracting thread's own time on a Debian layer. The extractor's
//! paths are clean (no `.`, `..` or doubled `/`), so one path has one spelling. The hash is
//! seeded per process, so a layer cannot be made to collide on purpose.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[derive(Default)]
pub(crate) struct PathSet(HashSet<Box<[u8]>, foldhash::fast::RandomState>);

fn bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

impl PathSet {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn contains(&self, p: &Path) -> bool {
        self.0.contains(bytes(p))
    }

    pub(crate) fn insert(&mut self, p: &Path) {
        if !self.contains(p) {
            self.0.insert(bytes(p).into());
        }
    }

    pub(crate) fn remove(&mut self, p: &Path) {
        self.0.remove(bytes(p));
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Removes `p` and every path under it (what `Path::starts_with(p)` holds for).
    pub(crate) fn remove_under(&mut self, p: &Path) {
        let p = bytes(p);
        let p = p.strip_suffix(b"/").unwrap_or(p);
        self.0.retain(|k| {
            !(p.is_empty() || k.starts_with(p) && matches!(k.get(p.len()), None | Some(b'/')))
        });
    }

    /// Whether `p` or one of its ancestors is in the set.
    pub(crate) fn holds_self_or_ancestor(&self, p: &Path) -> bool {
        let b = bytes(p);
        self.0.contains(b)
            || b.iter()
                .enumerate()
                .any(|(i, c)| *c == b'/' && i > 0 && self.0.contains(&b[..i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&str]) -> PathSet {
        let mut s = PathSet::default();
        for p in paths {
            s.insert(Path::new(p));
        }
        s
    }

    #[test]
    fn membership_is_by_the_whole_path() {
        let mut s = set(&["/l/usr/bin", "rel/dir"]);
        assert!(s.contains(Path::new("/l/usr/bin")));
        assert!(!s.contains(Path::new("/l/usr")));
        assert!(!s.contains(Path::new("/l/usr/bin/sh")));
        assert!(s.contains(Path::new("rel/dir")));
        s.remove(Path::new("rel/dir"));
        assert!(!s.contains(Path::new("rel/dir")));
        s.clear();
        assert!(s.is_empty());
    }

    #[test]
    fn ancestors_are_found_by_component_not_by_prefix() {
        let s = set(&["/l/etc/passwd", "/l/usr"]);
        assert!(s.holds_self_or_ancestor(Path::new("/l/etc/passwd")));
        assert!(s.holds_self_or_ancestor(Path::new("/l/usr/bin/sh")));
        assert!(!s.holds_self_or_ancestor(Path::new("/l/usrx/bin")));
        assert!(!s.holds_self_or_ancestor(Path::new("/l/etc")));
        assert!(!s.holds_self_or_ancestor(Path::new("/l/etc/passwd-")));
        assert!(set(&["a"]).holds_self_or_ancestor(Path::new("a/b/c")));
    }

    #[test]
    fn remove_under_takes_the_path_and_what_is_below_it_only() {
        let mut s = set(&["d", "d/x", "d/x/y", "dx", "e/d"]);
        s.remove_under(Path::new("d"));
        let mut left: Vec<&[u8]> = s.0.iter().map(|k| &k[..]).collect();
        left.sort();
        assert_eq!(left, [b"dx".as_slice(), b"e/d"]);
        s.remove_under(Path::new(""));
        assert!(s.is_empty());
    }
}
