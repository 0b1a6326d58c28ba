//! The merged view of a stack of layer directories, as overlayfs shows them, read without a
//! mount: a build step that copies files (COPY, ADD) resolves its destination in the image
//! (following the image's symlinks, such as Debian's `/bin -> usr/bin`, never out of its
//! root) and reads `COPY --from` sources from another stage's layers.
//!
//! Layers are in the store's form: a whiteout is a 0:0 character device, an opaque directory
//! carries `trusted.overlay.opaque=y` and hides what lower layers have under it.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// Most symlinks one resolution follows (Linux's limit is 40).
const MAX_LINKS: usize = 40;

/// A stack of layer directories, topmost first.
#[derive(Debug, Clone, Default)]
pub struct View {
    layers: Vec<PathBuf>,
}

/// What one layer says about a path.
enum Seen {
    /// The layer has the path.
    Here(PathBuf, fs::Metadata),
    /// Deleted here (whiteout, or an ancestor is not a directory here).
    Gone,
    /// Not in this layer, and lower layers do not show through (opaque ancestor).
    Hidden,
    /// Not in this layer: look lower.
    Absent,
}

impl View {
    /// A view of `layers`, topmost first.
    pub fn new(layers: Vec<PathBuf>) -> View {
        View { layers }
    }

    /// The layer directories, topmost first.
    pub fn layers(&self) -> &[PathBuf] {
        &self.layers
    }

    fn in_layer(layer: &Path, rel: &Path) -> Seen {
        // The ancestors first: each must be a directory in this layer to hold the path.
        let mut at = layer.to_path_buf();
        let comps: Vec<_> = rel.components().collect();
        for (i, c) in comps.iter().enumerate() {
            at.push(c.as_os_str());
            let md = match fs::symlink_metadata(&at) {
                Ok(md) => md,
                Err(_) => return Seen::Absent,
            };
            if is_whiteout(&md) {
                return Seen::Gone;
            }
            if i + 1 == comps.len() {
                return Seen::Here(at, md);
            }
            if !md.is_dir() {
                return Seen::Gone;
            }
            if i + 1 < comps.len() && is_opaque(&at) {
                // Lower layers do not show under an opaque directory: look for the rest
                // here only.
                let rest: PathBuf = comps[i + 1..].iter().collect();
                return match fs::symlink_metadata(at.join(&rest)) {
                    Ok(md) if is_whiteout(&md) => Seen::Gone,
                    Ok(md) => Seen::Here(at.join(rest), md),
                    Err(_) => Seen::Hidden,
                };
            }
        }
        // The root itself.
        match fs::symlink_metadata(layer) {
            Ok(md) => Seen::Here(layer.to_path_buf(), md),
            Err(_) => Seen::Absent,
        }
    }

    /// The file at `rel` (relative, symlink-free, as `resolve` returns) in the merged view:
    /// where it lies and its metadata, not following a final symlink.
    pub fn lookup(&self, rel: &Path) -> Option<(PathBuf, fs::Metadata)> {
        for layer in &self.layers {
            match Self::in_layer(layer, rel) {
                Seen::Here(p, md) => return Some((p, md)),
                Seen::Gone | Seen::Hidden => return None,
                Seen::Absent => {}
            }
        }
        None
    }

    /// Resolves `path` (absolute or relative to the root) to a relative path without
    /// symlinks, following the view's symlinks as the kernel would inside the image's root
    /// (`..` stops at the root). A final symlink is followed only with `follow_last`.
    pub fn resolve(&self, path: &Path, follow_last: bool) -> io::Result<PathBuf> {
        let mut pending: Vec<OsString> = components(path);
        pending.reverse();
        let mut cur = PathBuf::new();
        let mut links = 0;
        while let Some(c) = pending.pop() {
            if c == ".." {
                cur.pop();
                continue;
            }
            let next = cur.join(&c);
            let last = pending.is_empty();
            match self.lookup(&next) {
                Some((real, md)) if md.file_type().is_symlink() && (!last || follow_last) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::other(format!(
                            "too many levels of symbolic links at /{}",
                            next.display()
                        )));
                    }
                    let target = fs::read_link(&real)?;
                    if target.is_absolute() {
                        cur = PathBuf::new();
                    }
                    let mut t = components(&target);
                    t.reverse();
                    pending.extend(t);
                }
                _ => cur = next,
            }
        }
        Ok(cur)
    }

    /// The entries of the directory `rel` in the merged view, sorted by name: each name with
    /// where it lies and its metadata (whiteouts removed).
    pub fn read_dir(&self, rel: &Path) -> io::Result<Vec<(OsString, PathBuf, fs::Metadata)>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for layer in &self.layers {
            let (dir, last) = match Self::in_layer(layer, rel) {
                Seen::Here(p, md) if md.is_dir() => {
                    let opaque = !rel.as_os_str().is_empty() && is_opaque(&p);
                    (p, opaque)
                }
                Seen::Absent => continue,
                _ => break,
            };
            for e in fs::read_dir(&dir)? {
                let e = e?;
                let name = e.file_name();
                if !seen.insert(name.clone()) {
                    continue;
                }
                let md = fs::symlink_metadata(e.path())?;
                if !is_whiteout(&md) {
                    out.push((name, e.path(), md));
                }
            }
            if last {
                break;
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// The normal components of a path (`.` and the root dropped, `..` kept).
fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut v = [0u8; 2];
    // SAFETY: NUL-terminated strings and a buffer we own with its length.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            v.as_mut_ptr().cast(),
            v.len(),
        )
    };
    n == 1 && v[0] == b'y'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::symlink;

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, s).expect("write");
    }

    #[test]
    fn upper_layers_win_and_directories_merge() {
        let t = TempDir::new("view-merge");
        let (top, low) = (t.0.join("top"), t.0.join("low"));
        write(&low.join("etc/a"), "low-a");
        write(&low.join("etc/b"), "low-b");
        write(&top.join("etc/a"), "top-a");
        let v = View::new(vec![top.clone(), low.clone()]);
        let (p, _) = v.lookup(Path::new("etc/a")).expect("a");
        assert_eq!(fs::read_to_string(p).expect("read"), "top-a");
        let (p, _) = v.lookup(Path::new("etc/b")).expect("b");
        assert_eq!(fs::read_to_string(p).expect("read"), "low-b");
        let names: Vec<_> = v
            .read_dir(Path::new("etc"))
            .expect("ls")
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(names, vec![OsString::from("a"), OsString::from("b")]);
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let t = TempDir::new("view-links");
        let low = t.0.join("low");
        fs::create_dir_all(low.join("usr/bin")).expect("mkdir");
        symlink("usr/bin", low.join("bin")).expect("link");
        symlink("../../..", low.join("usr/bin/up")).expect("link");
        symlink("/etc/x", low.join("abs")).expect("link");
        let v = View::new(vec![low]);
        assert_eq!(
            v.resolve(Path::new("/bin/sh"), true).expect("r"),
            PathBuf::from("usr/bin/sh")
        );
        // `..` stops at the image's root, never the host's.
        assert_eq!(
            v.resolve(Path::new("/usr/bin/up/etc"), true).expect("r"),
            PathBuf::from("etc")
        );
        assert_eq!(
            v.resolve(Path::new("abs"), true).expect("r"),
            PathBuf::from("etc/x")
        );
        assert_eq!(
            v.resolve(Path::new("abs"), false).expect("r"),
            PathBuf::from("abs")
        );
    }

    #[test]
    fn a_loop_of_links_is_an_error() {
        let t = TempDir::new("view-loop");
        let low = t.0.join("low");
        fs::create_dir_all(&low).expect("mkdir");
        symlink("b", low.join("a")).expect("link");
        symlink("a", low.join("b")).expect("link");
        let v = View::new(vec![low]);
        assert!(v.resolve(Path::new("a/x"), true).is_err());
    }
}
