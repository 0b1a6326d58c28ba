//! COPY and ADD: find the sources (globs, in the build context or in another stage's
//! layers), hash what they hold for the cache key, then write them into a new layer
//! directory with Docker's rules:
//! - a directory source copies its contents, not itself;
//! - several sources (or a glob matching several) need a destination ending in `/`;
//! - a destination ending in `/`, or naming a directory in the image, receives files by
//!   their names;
//! - the destination is resolved in the image, following its symlinks inside its root, and
//!   the parent directories the new layer must hold take the image's own metadata, so the
//!   layer changes nothing but what was copied;
//! - files from the context belong to root, files from a stage keep their owners; `--chown`
//!   and `--chmod` override; modification times are kept;
//! - ADD extracts a local tar archive (plain or gzip) into the destination.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::glob::Glob;
use super::view::View;

/// Where sources come from.
pub enum Tree<'a> {
    /// A plain directory (the build context, an additional context).
    Dir(&'a Path),
    /// Another stage's or an image's layers.
    Layers(&'a View),
}

/// One matched source: its path relative to the tree's root, where it lies, its metadata.
#[derive(Debug, Clone)]
pub struct Source {
    pub rel: PathBuf,
    pub real: PathBuf,
    pub md: fs::Metadata,
}

/// Owner and mode overrides.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub owner: Option<(u32, u32)>,
    pub mode: Option<u32>,
    /// Files from the context belong to root unless `owner` says otherwise.
    pub root_owned: bool,
}

impl Tree<'_> {
    fn stat(&self, rel: &Path) -> Option<(PathBuf, fs::Metadata)> {
        match self {
            Tree::Dir(root) => {
                let p = root.join(rel);
                fs::symlink_metadata(&p).ok().map(|md| (p, md))
            }
            Tree::Layers(v) => {
                let r = v.resolve(rel, true).ok()?;
                v.lookup(&r)
            }
        }
    }

    fn list(&self, rel: &Path, real: &Path) -> io::Result<Vec<(OsString, PathBuf, fs::Metadata)>> {
        match self {
            Tree::Dir(_) => {
                let mut out = Vec::new();
                for e in fs::read_dir(real)? {
                    let e = e?;
                    let md = fs::symlink_metadata(e.path())?;
                    out.push((e.file_name(), e.path(), md));
                }
                out.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(out)
            }
            Tree::Layers(v) => {
                let r = v.resolve(rel, true)?;
                v.read_dir(&r)
            }
        }
    }

    /// The sources `pattern` names: one path, or every path a glob matches (sorted).
    pub fn matches(&self, pattern: &str) -> io::Result<Vec<Source>> {
        let cleaned = super::ignore::clean(pattern.trim_start_matches('/'));
        let comps: Vec<&str> = cleaned
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        let mut found = vec![PathBuf::new()];
        for c in &comps {
            let mut next = Vec::new();
            let glob = c.contains(['*', '?', '[']);
            for dir in &found {
                if !glob {
                    next.push(dir.join(c));
                    continue;
                }
                let Some((real, md)) = self.stat(dir) else {
                    continue;
                };
                if !md.is_dir() {
                    continue;
                }
                let g = Glob::new(c, Some('/')).map_err(io::Error::other)?;
                for (name, _, _) in self.list(dir, &real)? {
                    if g.matches(&name.to_string_lossy()) {
                        next.push(dir.join(name));
                    }
                }
            }
            found = next;
        }
        let mut out = Vec::new();
        for rel in found {
            if let Some((real, md)) = self.stat(&rel) {
                out.push(Source { rel, real, md });
            }
        }
        Ok(out)
    }

    /// Hashes the content and metadata of `sources` (recursively) into `h`: the part of a
    /// COPY's cache key that its files make.
    pub fn hash_into(&self, sources: &[Source], h: &mut Sha256) -> io::Result<()> {
        for s in sources {
            self.hash_entry(&s.rel, &s.real, &s.md, h)?;
        }
        Ok(())
    }

    fn hash_entry(
        &self,
        rel: &Path,
        real: &Path,
        md: &fs::Metadata,
        h: &mut Sha256,
    ) -> io::Result<()> {
        h.update(rel.as_os_str().as_bytes());
        h.update([0]);
        h.update(md.mode().to_le_bytes());
        if matches!(self, Tree::Layers(_)) {
            h.update(md.uid().to_le_bytes());
            h.update(md.gid().to_le_bytes());
        }
        if md.is_dir() {
            for (name, p, m) in self.list(rel, real)? {
                self.hash_entry(&rel.join(name), &p, &m, h)?;
            }
        } else if md.file_type().is_symlink() {
            h.update(fs::read_link(real)?.as_os_str().as_bytes());
        } else if md.is_file() {
            h.update(md.len().to_le_bytes());
            let mut f = fs::File::open(real)?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
        h.update([0xff]);
        Ok(())
    }
}

/// Writes into the layer directory `layer` (empty, on the image's view `image`).
pub struct Writer<'a> {
    pub layer: &'a Path,
    pub image: &'a View,
    pub over: Overrides,
}

impl Writer<'_> {
    /// Makes the directory `rel` (symlink-free, relative) and its parents in the layer,
    /// each with the image's metadata where the image has it, else 0755 (and `--chown`'s
    /// owner).
    pub fn ensure_dir(&self, rel: &Path) -> io::Result<PathBuf> {
        let mut at = PathBuf::new();
        for c in rel.components() {
            at.push(c);
            let dst = self.layer.join(&at);
            if fs::symlink_metadata(&dst).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let _ = fs::remove_file(&dst);
            fs::create_dir(&dst)?;
            match self.image.lookup(&at) {
                Some((_, md)) if md.is_dir() => copy_meta(&dst, &md, None, None)?,
                _ => {
                    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))?;
                    if let Some((u, g)) = self.over.owner {
                        std::os::unix::fs::lchown(&dst, Some(u), Some(g))?;
                    }
                }
            }
        }
        Ok(self.layer.join(rel))
    }

    /// Copies one entry (recursively for a directory) from `tree` to `dst` in the layer.
    pub fn copy_entry(
        &self,
        tree: &Tree,
        rel: &Path,
        real: &Path,
        md: &fs::Metadata,
        dst: &Path,
    ) -> io::Result<()> {
        let owner = self.over.owner.or(if self.over.root_owned {
            Some((0, 0))
        } else {
            None
        });
        if md.is_dir() {
            if !fs::symlink_metadata(dst).is_ok_and(|m| m.is_dir()) {
                let _ = fs::remove_file(dst);
                fs::create_dir(dst)?;
            }
            for (name, p, m) in tree.list(rel, real)? {
                self.copy_entry(tree, &rel.join(&name), &p, &m, &dst.join(&name))?;
            }
            return copy_meta(dst, md, owner, self.over.mode);
        }
        remove_any(dst)?;
        if md.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(real)?, dst)?;
            let (u, g) = owner.unwrap_or((md.uid(), md.gid()));
            return std::os::unix::fs::lchown(dst, Some(u), Some(g));
        }
        if md.is_file() {
            fs::copy(real, dst)?;
            return copy_meta(dst, md, owner, self.over.mode);
        }
        // Devices, FIFOs and sockets are not copied, as in Docker's COPY from a context.
        Ok(())
    }

    /// Writes `body` as the file `dst` (a here-document source).
    pub fn write_file(&self, dst: &Path, body: &[u8]) -> io::Result<()> {
        remove_any(dst)?;
        fs::write(dst, body)?;
        fs::set_permissions(
            dst,
            fs::Permissions::from_mode(self.over.mode.unwrap_or(0o644)),
        )?;
        let (u, g) = self.over.owner.unwrap_or((0, 0));
        std::os::unix::fs::lchown(dst, Some(u), Some(g))
    }
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(_) => Ok(()),
    }
}

/// Gives `dst` the mode, owner and modification time of `md`, with overrides.
fn copy_meta(
    dst: &Path,
    md: &fs::Metadata,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
) -> io::Result<()> {
    let (u, g) = owner.unwrap_or((md.uid(), md.gid()));
    std::os::unix::fs::lchown(dst, Some(u), Some(g))?;
    let mode = mode.unwrap_or(md.mode() & 0o7777);
    fs::set_permissions(dst, fs::Permissions::from_mode(mode))?;
    let t = std::time::UNIX_EPOCH
        + std::time::Duration::new(
            md.mtime().max(0) as u64,
            md.mtime_nsec().clamp(0, 999_999_999) as u32,
        );
    let f = fs::File::open(dst)?;
    f.set_modified(t)
}

/// Whether the file at `path` is a tar archive (plain or gzip), which ADD extracts.
pub fn is_archive(path: &Path) -> bool {
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return false,
        }
    }
    if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        return true;
    }
    n == 512 && &head[257..262] == b"ustar"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn globs_match_per_component_in_name_order() {
        let t = TempDir::new("copy-glob");
        let ctx = t.0.join("ctx");
        fs::create_dir_all(ctx.join("src/a")).expect("mkdir");
        for f in ["src/a/x.rs", "src/a/y.txt", "src/b.rs", "top.rs"] {
            fs::write(ctx.join(f), f).expect("write");
        }
        let tree = Tree::Dir(&ctx);
        let names = |p: &str| -> Vec<String> {
            tree.matches(p)
                .expect("match")
                .into_iter()
                .map(|s| s.rel.display().to_string())
                .collect()
        };
        assert_eq!(names("*.rs"), vec!["top.rs"]);
        assert_eq!(names("src/*/*.rs"), vec!["src/a/x.rs"]);
        assert_eq!(names("./src/b.rs"), vec!["src/b.rs"]);
        assert!(names("nope").is_empty());
    }

    #[test]
    fn the_hash_changes_with_content_only_where_copied() {
        let t = TempDir::new("copy-hash");
        let ctx = t.0.join("ctx");
        fs::create_dir_all(ctx.join("d")).expect("mkdir");
        fs::write(ctx.join("d/f"), "1").expect("write");
        fs::write(ctx.join("other"), "1").expect("write");
        let tree = Tree::Dir(&ctx);
        let hash = || {
            let mut h = Sha256::new();
            tree.hash_into(&tree.matches("d").expect("m"), &mut h)
                .expect("hash");
            hex::encode(h.finalize())
        };
        let before = hash();
        fs::write(ctx.join("other"), "2").expect("write");
        assert_eq!(hash(), before);
        fs::write(ctx.join("d/f"), "2").expect("write");
        assert_ne!(hash(), before);
    }

    #[test]
    fn parents_take_the_images_metadata() {
        let t = TempDir::new("copy-parents");
        let low = t.0.join("low");
        fs::create_dir_all(low.join("opt/app")).expect("mkdir");
        fs::set_permissions(low.join("opt"), fs::Permissions::from_mode(0o711)).expect("chmod");
        let layer = t.0.join("layer");
        fs::create_dir_all(&layer).expect("mkdir");
        let view = View::new(vec![low]);
        let w = Writer {
            layer: &layer,
            image: &view,
            over: Overrides::default(),
        };
        let d = w.ensure_dir(Path::new("opt/app/new")).expect("dirs");
        assert!(d.is_dir());
        let mode = fs::metadata(layer.join("opt")).expect("md").mode() & 0o7777;
        assert_eq!(mode, 0o711);
        let mode = fs::metadata(layer.join("opt/app/new")).expect("md").mode() & 0o7777;
        assert_eq!(mode, 0o755);
    }
}
