//! Safe extraction of one layer tar (plain or gzip) into a fresh directory, converting OCI
//! whiteouts to the overlayfs form, and computing the layer's diff_id on the way.
//!
//! Safety model: every entry path is cleaned lexically (absolute paths are taken relative to the
//! layer root, `..` is rejected) and every parent component must already be a real directory
//! (never a symlink) inside the layer; missing parents are created. Symlinks are created but
//! never followed. The target directory is private to this import, so nothing else races us.

use std::ffi::CString;
use std::fs::{self, DirBuilder, File, FileTimes, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use super::budget::{Budget, Charge, Metered};
use super::error::{ImageError, io_err};
use super::fsutil::{ChunkReader, is_root, open_decompressed, remove_tree, spawn_named};
use super::pathset::PathSet;
use super::writers::{Job, Writers};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Gives a directory a layer is extracted into the mode of a layer root, the container's
/// "/": 0755 unless the tar's "./" entry says otherwise.
pub(crate) fn set_root_mode(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
}

/// Extracts the layer blob at `blob` into the existing empty directory `dest`, charging the
/// content of its files to `budget`. Returns the diff_id (sha256 hex of the uncompressed tar)
/// and the unpacked size (the bytes of its regular files).
pub(crate) fn extract_layer(
    blob: &Path,
    dest: &Path,
    budget: &Budget,
) -> Result<(String, u64), ImageError> {
    let name = blob.display().to_string();
    let file = File::open(blob).map_err(io_err(format!("opening layer {name}")))?;
    extract_from(file, &name, dest, budget)
}

/// `extract_layer` of a blob read from `blob` (as it arrives, in a pull), called `name`.
pub(crate) fn extract_from<R: io::Read + Send + 'static>(
    blob: R,
    name: &str,
    dest: &Path,
    budget: &Budget,
) -> Result<(String, u64), ImageError> {
    let name = name.to_string();
    // Decompressing runs on a thread of its own, ahead of the file creation here: on a
    // layer of 200 MB that overlaps the inflate's CPU time with the filesystem's. Hashing
    // the tar for the diff_id is a stage of its own between the two: on the inflating
    // thread it made a quarter of that thread's time, which is a pull's critical path.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
    let (htx, hrx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
    // Chunks the extractor has read come back to be filled again: a new zeroed chunk for
    // every 256 KiB cost the inflating thread a memset of the whole layer.
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(20);
    std::thread::scope(|sc| {
        let inflate = spawn_named(sc, "layer-inflate", move || -> io::Result<()> {
            let (mut reader, _) = open_decompressed(blob)?;
            loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                // A returned chunk is full length already (a short one only ends a stream).
                buf.resize(CHUNK, 0);
                let n = read_full(&mut reader, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                // The hasher stopped (the extractor did: an error): nothing more to hand on.
                if htx.send(buf).is_err() {
                    return Err(stopped());
                }
            }
        })
        .map_err(io_err("starting a thread"))?;
        let hash = spawn_named(sc, "layer-hash", move || -> io::Result<(String, u64)> {
            super::fsutil::behind_the_inflate();
            let mut hasher = Sha256::new();
            let mut count = 0u64;
            for buf in hrx {
                hasher.update(&buf);
                count += buf.len() as u64;
                if tx.send(buf).is_err() {
                    return Err(stopped());
                }
            }
            Ok((hex::encode(hasher.finalize()), count))
        })
        .map_err(io_err("starting a thread"))?;
        let writers = Writers::start(sc, WRITERS).map_err(io_err("starting a thread"))?;
        // A pull or import extracts into a directory of its own, empty: nothing is there but
        // what this extraction makes, so a path it has not made needs no look before it is
        // created (ADD of an archive extracts into a directory that may hold files).
        let fresh = fs::read_dir(dest).is_ok_and(|mut d| d.next().is_none());
        let mut ex = Extractor {
            dest,
            fresh,
            created: PathSet::default(),
            layer: &name,
            root: is_root(),
            dirs: Vec::new(),
            budget,
            unpacked: 0,
            known_dirs: PathSet::default(),
            writers: Some(&writers),
            pending: PathSet::default(),
            big: None,
        };
        let extracted = (|| -> Result<(), ImageError> {
            let mut chunks = ChunkReader::new(rx).with_return(back_tx);
            {
                let mut archive = tar::Archive::new(&mut chunks);
                let entries = archive
                    .entries()
                    .map_err(io_err(format!("reading layer {name}")))?;
                for entry in entries {
                    let mut entry = entry.map_err(io_err(format!("reading layer {name}")))?;
                    ex.entry(&mut entry)?;
                }
            }
            // What follows the archive's end (padding) still counts for the diff_id.
            io::copy(&mut chunks, &mut io::sink())
                .map_err(io_err(format!("reading layer {name}")))?;
            Ok(())
        })();
        let inflated = inflate
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the decompressing thread panicked")));
        let hashed = hash
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the hashing thread panicked")));
        // Every file handed out is written before the directories get their metadata (and
        // before an error returns, so no worker writes into a directory being removed).
        let written = ex.barrier();
        // A decompression error explains a cut-short archive better than the tar error;
        // a stage that only stopped because the extractor did explains nothing.
        let inflated = match inflated {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                return Err(io_err(format!("reading layer {name}"))(e));
            }
            other => other,
        };
        extracted?;
        written?;
        inflated.map_err(io_err(format!("reading layer {name}")))?;
        let (diff_id, _) = hashed.map_err(io_err(format!("reading layer {name}")))?;
        ex.finish_dirs()?;
        let ex_unpacked = ex.unpacked;
        drop(ex);
        drop(writers);
        Ok((diff_id, ex_unpacked))
    })
}

/// Workers writing small files (`writers.rs`), beside the extracting thread.
const WRITERS: usize = 2;

/// Files up to this size are written by the workers; larger ones by the extractor itself.
const SMALL_FILE: u64 = 1 << 20;

/// Bytes handed from the decompressing thread to the extractor at a time.
const CHUNK: usize = 256 * 1024;

/// What a pipeline stage returns when the stage after it has stopped (on an error of its own,
/// which is the one to report).
fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "extraction stopped")
}

/// Fills `buf` as far as the stream goes; 0 at its end.
fn read_full(r: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

struct Extractor<'a> {
    dest: &'a Path,
    /// Whether `dest` was empty at the start: then only the paths in `created` can exist.
    fresh: bool,
    /// Paths (absolute) this extraction created, when `fresh`: a path not in it is known to
    /// be absent, which saves a failing `lstat` per entry (about 10,000 in a Debian layer).
    created: PathSet,
    layer: &'a str,
    root: bool,
    /// Directories whose mode and mtime are applied last, so that a read-only directory does
    /// not block its own children and child creation does not bump the mtime afterwards.
    dirs: Vec<(PathBuf, u32, u64)>,
    budget: &'a Budget,
    /// Bytes written to regular files so far.
    unpacked: u64,
    /// Directories of the layer (relative) known to be real directories made or checked
    /// by this extraction: their children skip the check. A path removed or replaced drops
    /// itself and what is under it.
    known_dirs: PathSet,
    /// Workers for small files; `None` writes everything here.
    writers: Option<&'a Writers>,
    /// Files handed to the workers since their last barrier.
    pending: PathSet,
    /// The copy buffer of large files (made on the first).
    big: Option<Vec<u8>>,
}

impl Extractor<'_> {
    fn unsafe_path(&self, path: &Path, reason: &str) -> ImageError {
        ImageError::UnsafePath {
            layer: self.layer.to_string(),
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    fn io(&self, what: &str, path: &Path) -> impl FnOnce(io::Error) -> ImageError {
        io_err(format!("layer {}: {what} {}", self.layer, path.display()))
    }

    /// Whether something may be at `full` (else it is known to be absent).
    fn may_exist(&self, full: &Path) -> bool {
        !self.fresh || self.created.contains(full)
    }

    /// Records that this extraction made `full`.
    fn made(&mut self, full: &Path) {
        if self.fresh {
            self.created.insert(full);
        }
    }

    /// Lexically cleans a tar path relative to the layer root.
    fn clean(&self, raw: &Path) -> Result<PathBuf, ImageError> {
        let mut out = PathBuf::new();
        for c in raw.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(n) => out.push(n),
                Component::ParentDir => return Err(self.unsafe_path(raw, "contains \"..\"")),
                Component::Prefix(_) => return Err(self.unsafe_path(raw, "invalid prefix")),
            }
        }
        Ok(out)
    }

    /// Makes sure every parent of `rel` is a real directory inside the layer, creating missing
    /// ones; returns the absolute path of `rel`.
    fn prepare_parents(&mut self, rel: &Path, create: bool) -> Result<PathBuf, ImageError> {
        let mut cur = self.dest.to_path_buf();
        let mut cur_rel = PathBuf::new();
        let parent = rel.parent().unwrap_or(Path::new(""));
        for c in parent.components() {
            cur.push(c);
            cur_rel.push(c);
            if self.known_dirs.contains(&cur_rel) {
                continue;
            }
            self.known_dirs.insert(&cur_rel);
            let md = match self.may_exist(&cur) {
                true => fs::symlink_metadata(&cur),
                false => Err(io::ErrorKind::NotFound.into()),
            };
            match md {
                Ok(m) if m.is_dir() => {}
                Ok(m) if is_whiteout(&m) && create => {
                    // Deleted from lower layers and recreated here: a fresh, opaque directory.
                    fs::remove_file(&cur).map_err(self.io("replacing", &cur))?;
                    self.mkdir_opaque(&cur)?;
                }
                Ok(m) if m.file_type().is_symlink() => {
                    self.known_dirs.remove(&cur_rel);
                    return Err(self.unsafe_path(rel, "a parent directory is a symlink"));
                }
                Ok(_) => {
                    self.known_dirs.remove(&cur_rel);
                    return Err(self.unsafe_path(rel, "a parent is not a directory"));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    DirBuilder::new()
                        .mode(0o755)
                        .create(&cur)
                        .map_err(self.io("creating", &cur))?;
                    self.made(&cur);
                    // Explicit chmod: the daemon's umask must not shape image contents.
                    fs::set_permissions(&cur, fs::Permissions::from_mode(0o755))
                        .map_err(self.io("chmod", &cur))?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.known_dirs.remove(&cur_rel);
                    return Err(self.unsafe_path(rel, "a parent directory does not exist"));
                }
                Err(e) => {
                    self.known_dirs.remove(&cur_rel);
                    return Err(self.io("inspecting", &cur)(e));
                }
            }
        }
        Ok(self.dest.join(rel))
    }

    /// Waits for every file handed to the workers; their first failure, if any.
    fn barrier(&mut self) -> Result<(), ImageError> {
        self.pending.clear();
        match self.writers {
            Some(w) => w
                .barrier()
                .map_err(|(what, path, e)| self.io(what, &path)(e)),
            None => Ok(()),
        }
    }

    /// Whether `full`, or a parent of it, is a file still being written by a worker.
    fn touches_pending(&self, full: &Path) -> bool {
        !self.pending.is_empty() && self.pending.holds_self_or_ancestor(full)
    }

    /// Removes whatever is at `full` unless it is a directory and `keep_dir` is set.
    fn clear(&mut self, full: &Path, keep_dir: bool) -> Result<(), ImageError> {
        if !self.may_exist(full) {
            return Ok(());
        }
        match fs::symlink_metadata(full) {
            Ok(m) if m.is_dir() && keep_dir => Ok(()),
            Ok(_) => {
                // A worker may still be writing under what goes (`d/inner`, then `d` as a
                // file): every file handed out is written first.
                if !self.pending.is_empty() {
                    self.barrier()?;
                }
                if let Ok(rel) = full.strip_prefix(self.dest) {
                    self.known_dirs.remove_under(rel);
                }
                self.created.remove_under(full);
                self.remove(full)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io("inspecting", full)(e)),
        }
    }

    fn remove(&self, full: &Path) -> Result<(), ImageError> {
        match fs::symlink_metadata(full) {
            Ok(m) if m.is_dir() => remove_tree(full).map_err(self.io("replacing", full)),
            Ok(_) => fs::remove_file(full).map_err(self.io("replacing", full)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io("inspecting", full)(e)),
        }
    }

    fn entry<R: io::Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ImageError> {
        let raw = entry
            .path()
            .map_err(io_err(format!("layer {}: bad entry path", self.layer)))?
            .into_owned();
        let rel = self.clean(&raw)?;
        let header = entry.header().clone();
        let kind = header.entry_type();
        let file_name = rel.file_name().map(|n| n.to_string_lossy().into_owned());

        let small_file = matches!(kind, EntryType::Regular | EntryType::Continuous)
            && header.size().is_ok_and(|n| n <= SMALL_FILE);
        // What could depend on a file a worker is still writing waits for them all.
        let ordered = !matches!(
            kind,
            EntryType::Regular | EntryType::Directory | EntryType::Symlink
        );
        if !self.pending.is_empty() && (ordered || self.touches_pending(&self.dest.join(&rel))) {
            self.barrier()?;
        }
        if let Some(name) = file_name.as_deref()
            && let Some(target) = name.strip_prefix(WHITEOUT_PREFIX)
        {
            if !self.pending.is_empty() {
                self.barrier()?;
            }
            return self.whiteout(&rel, name, target);
        }
        let xattrs = read_xattrs(entry).map_err(self.io("reading xattrs of", &raw))?;

        if rel.as_os_str().is_empty() {
            // The "./" entry carries the layer root's own metadata.
            if kind == EntryType::Directory {
                self.dir_meta(self.dest.to_path_buf(), &header, &xattrs)?;
            }
            return Ok(());
        }
        let full = self.prepare_parents(&rel, true)?;
        match kind {
            EntryType::Directory => {
                let seen = self.may_exist(&full);
                let replaces_whiteout =
                    seen && fs::symlink_metadata(&full).is_ok_and(|m| is_whiteout(&m));
                self.clear(&full, true)?;
                if replaces_whiteout {
                    self.mkdir_opaque(&full)?;
                } else if !seen || !full.is_dir() {
                    DirBuilder::new()
                        .mode(0o700)
                        .create(&full)
                        .map_err(self.io("creating", &full))?;
                }
                self.made(&full);
                self.known_dirs.insert(&rel);
                self.dir_meta(full, &header, &xattrs)?;
            }
            EntryType::Regular | EntryType::Continuous
                if small_file
                    && self.writers.is_some()
                    && (!self.may_exist(&full) || fs::symlink_metadata(&full).is_err()) =>
            {
                let mut data = Vec::with_capacity(header.size().unwrap_or(0) as usize);
                let mut content = Metered::new(entry, self.budget, Charge::Unpacked);
                let read = io::copy(&mut content, &mut data);
                self.unpacked += content.count;
                read.map_err(self.io("reading", &full))?;
                let owner = (self.root && (uid(&header), gid(&header)) != (0, 0))
                    .then(|| (uid(&header), gid(&header)));
                let job = Job {
                    full: full.clone(),
                    data,
                    owner,
                    mode: mode(&header),
                    mtime: mtime(&header),
                    xattrs,
                };
                if let Some(w) = self.writers {
                    w.submit(job)
                        .map_err(|(what, path, e)| self.io(what, &path)(e))?;
                }
                self.made(&full);
                self.pending.insert(&full);
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                // As in `writers.rs`: writable by its owner until its xattrs are set.
                let (create_mode, chmod) = match xattrs.is_empty() {
                    true => super::fsutil::create_mode(mode(&header)),
                    false => (0o600, true),
                };
                let create = || {
                    OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(create_mode)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(&full)
                };
                // Created first; only a path taken already (a later entry replacing an
                // earlier one) costs a look and a removal.
                let mut f = match create() {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        self.clear(&full, false)?;
                        create().map_err(self.io("creating", &full))?
                    }
                    Err(e) => return Err(self.io("creating", &full)(e)),
                };
                self.made(&full);
                // Charged as written: a sparse entry's holes come out as zeros too.
                let mut content = Metered::new(entry, self.budget, Charge::Unpacked);
                let buf = self.big.get_or_insert_with(|| vec![0u8; CHUNK]);
                let copied = super::fsutil::copy_with(&mut content, &mut f, buf);
                self.unpacked += content.count;
                copied.map_err(self.io("writing", &full))?;
                // A new file of root's is root's already (parent directories get their
                // modes, setgid included, only at the end).
                if self.root && (uid(&header), gid(&header)) != (0, 0) {
                    std::os::unix::fs::fchown(&f, Some(uid(&header)), Some(gid(&header)))
                        .map_err(self.io("chown", &full))?;
                }
                self.set_xattrs(&full, &xattrs)?;
                let chowned = self.root && (uid(&header), gid(&header)) != (0, 0);
                if chmod || chowned {
                    f.set_permissions(fs::Permissions::from_mode(mode(&header)))
                        .map_err(self.io("chmod", &full))?;
                }
                let t = mtime(&header);
                f.set_times(FileTimes::new().set_accessed(t).set_modified(t))
                    .map_err(self.io("setting times of", &full))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(self.io("reading link of", &full))?
                    .ok_or_else(|| self.unsafe_path(&rel, "symlink without target"))?
                    .into_owned();
                self.clear(&full, false)?;
                std::os::unix::fs::symlink(&target, &full)
                    .map_err(self.io("creating symlink", &full))?;
                self.made(&full);
                self.finish_special(&full, &header, &xattrs, false)?;
            }
            EntryType::Link => {
                let raw_target = entry
                    .link_name()
                    .map_err(self.io("reading link of", &full))?
                    .ok_or_else(|| self.unsafe_path(&rel, "hardlink without target"))?
                    .into_owned();
                let target_rel = self.clean(&raw_target)?;
                let target = self.prepare_parents(&target_rel, false)?;
                match fs::symlink_metadata(&target) {
                    Ok(m) if !m.is_dir() => {}
                    _ => {
                        return Err(self.unsafe_path(
                            &rel,
                            "hardlink target is not an earlier non-directory entry of the layer",
                        ));
                    }
                }
                if target == full {
                    return Ok(());
                }
                self.clear(&full, false)?;
                // linkat without AT_SYMLINK_FOLLOW: a symlink target is linked, not followed.
                fs::hard_link(&target, &full).map_err(self.io("creating hardlink", &full))?;
                self.made(&full);
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.clear(&full, false)?;
                let fmt = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                mknod(&full, fmt | 0o600, libc::makedev(major, minor))
                    .map_err(self.io("creating device", &full))?;
                self.made(&full);
                self.finish_special(&full, &header, &xattrs, true)?;
            }
            // Global pax headers and other metadata-only records have nothing to extract.
            _ => {}
        }
        Ok(())
    }

    fn whiteout(&mut self, rel: &Path, name: &str, target: &str) -> Result<(), ImageError> {
        let parent_full = self.prepare_parents(rel, true)?;
        let parent_dir = parent_full.parent().unwrap_or(self.dest).to_path_buf();
        if name == OPAQUE_WHITEOUT {
            return set_xattr(&parent_dir, OPAQUE_XATTR, b"y")
                .map_err(self.io("marking opaque", &parent_dir));
        }
        if target.starts_with(WHITEOUT_PREFIX) {
            // Other AUFS meta files (.wh..wh.plnk etc.) have no overlay meaning.
            return Ok(());
        }
        if target.is_empty() || target == "." || target == ".." {
            return Err(self.unsafe_path(rel, "invalid whiteout name"));
        }
        let full = parent_dir.join(target);
        if self.may_exist(&full) && fs::symlink_metadata(&full).is_ok() {
            // OCI: a whiteout hides only lower layers, never an entry of its own layer.
            return Ok(());
        }
        mknod(&full, libc::S_IFCHR, libc::makedev(0, 0))
            .map_err(self.io("creating whiteout", &full))?;
        self.made(&full);
        Ok(())
    }

    fn mkdir_opaque(&self, full: &Path) -> Result<(), ImageError> {
        DirBuilder::new()
            .mode(0o755)
            .create(full)
            .map_err(self.io("creating", full))?;
        fs::set_permissions(full, fs::Permissions::from_mode(0o755))
            .map_err(self.io("chmod", full))?;
        set_xattr(full, OPAQUE_XATTR, b"y").map_err(self.io("marking opaque", full))
    }

    fn dir_meta(
        &mut self,
        full: PathBuf,
        header: &Header,
        xattrs: &[(String, Vec<u8>)],
    ) -> Result<(), ImageError> {
        if self.root {
            std::os::unix::fs::lchown(&full, Some(uid(header)), Some(gid(header)))
                .map_err(self.io("chown", &full))?;
        }
        self.set_xattrs(&full, xattrs)?;
        self.dirs
            .push((full, mode(header), header.mtime().unwrap_or(0)));
        Ok(())
    }

    fn finish_special(
        &self,
        full: &Path,
        header: &Header,
        xattrs: &[(String, Vec<u8>)],
        chmod: bool,
    ) -> Result<(), ImageError> {
        if self.root {
            std::os::unix::fs::lchown(full, Some(uid(header)), Some(gid(header)))
                .map_err(self.io("chown", full))?;
        }
        self.set_xattrs(full, xattrs)?;
        if chmod {
            fs::set_permissions(full, fs::Permissions::from_mode(mode(header)))
                .map_err(self.io("chmod", full))?;
        }
        set_times_nofollow(full, header.mtime().unwrap_or(0))
            .map_err(self.io("setting times of", full))
    }

    fn set_xattrs(&self, full: &Path, xattrs: &[(String, Vec<u8>)]) -> Result<(), ImageError> {
        for (name, value) in xattrs {
            match set_xattr(full, name, value) {
                Ok(()) => {}
                // Best effort, like docker: filesystems and non-root users may refuse some.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOTSUP) | Some(libc::EPERM) | Some(libc::EACCES)
                    ) => {}
                Err(e) => return Err(self.io("setting xattr on", full)(e)),
            }
        }
        Ok(())
    }

    fn finish_dirs(&mut self) -> Result<(), ImageError> {
        // Deepest (latest) first, so setting a parent's mtime is the last touch on it.
        for (path, mode, mtime) in self.dirs.drain(..).rev() {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                .map_err(io_err(format!("chmod {}", path.display())))?;
            set_times_nofollow(&path, mtime)
                .map_err(io_err(format!("setting times of {}", path.display())))?;
        }
        Ok(())
    }
}

/// An overlayfs whiteout: a character device 0:0.
fn is_whiteout(m: &fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    m.file_type().is_char_device() && m.rdev() == 0
}

fn mode(h: &Header) -> u32 {
    h.mode().unwrap_or(0o644) & 0o7777
}

fn uid(h: &Header) -> u32 {
    h.uid()
        .ok()
        .and_then(|u| u32::try_from(u).ok())
        .unwrap_or(0)
}

fn gid(h: &Header) -> u32 {
    h.gid()
        .ok()
        .and_then(|g| u32::try_from(g).ok())
        .unwrap_or(0)
}

fn mtime(h: &Header) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(h.mtime().unwrap_or(0))
}

/// xattrs recorded as pax `SCHILY.xattr.*` records, minus overlay's own (a layer must not be
/// able to plant redirect/metacopy attributes that overlayfs would honour).
fn read_xattrs<R: io::Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            let Ok(key) = ext.key() else { continue };
            if let Some(name) = key.strip_prefix("SCHILY.xattr.")
                && !name.starts_with("trusted.overlay.")
            {
                out.push((name.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

fn mknod(path: &Path, mode: libc::mode_t, dev: libc::dev_t) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: valid NUL-terminated path; mknod does not follow a final symlink (none exists:
    // the caller cleared the path).
    if unsafe { libc::mknod(c.as_ptr(), mode, dev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(super) fn set_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = cpath(path)?;
    let n = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "xattr name contains NUL"))?;
    // SAFETY: valid C strings and a buffer of the given length; l* variant never follows links.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_times_nofollow(path: &Path, secs: u64) -> io::Result<()> {
    let c = cpath(path)?;
    let ts = libc::timespec {
        tv_sec: secs.try_into().unwrap_or(0),
        tv_nsec: 0,
    };
    let times = [ts, ts];
    // SAFETY: valid path and a two-element timespec array, as utimensat requires.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The bytes of the regular files of an extracted layer (each hard-linked file once): the
/// unpacked size of a layer that an earlier import extracted.
pub(crate) fn unpacked_size(dir: &Path) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let m = entry.metadata()?;
            if m.is_dir() {
                stack.push(entry.path());
            } else if m.is_file() && (m.nlink() == 1 || seen.insert(m.ino())) {
                total += m.len();
            }
        }
    }
    Ok(total)
}
