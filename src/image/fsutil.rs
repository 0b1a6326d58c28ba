//! Small filesystem helpers for the store: hashing readers, atomic writes, locks, temp names,
//! compression sniffing and robust tree removal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::error::{ImageError, io_err};

/// A reader that hashes (sha256) and counts everything read through it.
pub(crate) struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads the rest of the stream, then returns (hex digest, total bytes).
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((hex::encode(self.hasher.finalize()), self.count))
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Starts `f` on a thread of `scope` called `name` (what `top` and `perf` show: a pull's
/// stages are told apart by it).
pub(crate) fn spawn_named<'scope, 'env, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> io::Result<std::thread::ScopedJoinHandle<'scope, T>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, f)
}

/// sha256 hex of an in-memory buffer.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compression of a tar stream, detected from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Peeks at the first bytes of `file` and returns a reader yielding the decompressed stream.
pub(crate) fn open_decompressed<R: Read + Send + 'static>(
    file: R,
) -> io::Result<(Box<dyn Read + Send>, Compression)> {
    let mut buf = BufReader::with_capacity(64 * 1024, file);
    let head = buf.fill_buf()?;
    let compression = sniff(head);
    let reader: Box<dyn Read + Send> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buf)),
        Compression::Zstd => Box::new(super::zstd::ZstdReader::new(buf)),
        Compression::None => Box::new(buf),
    };
    Ok((reader, compression))
}

pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Compression of a file on disk, from its first bytes.
pub(crate) fn sniff_file(path: &Path) -> io::Result<Compression> {
    let mut head = [0u8; 4];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        let r = f.read(&mut head[n..])?;
        if r == 0 {
            break;
        }
        n += r;
    }
    Ok(sniff(&head[..n]))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique within this host for the life of the store: pid + counter + time.
pub(crate) fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// Writes `bytes` to `path` so that readers see either the old or the new file, never a
/// partial one, even across a crash: temp file in the same dir, fsync, rename, fsync dir.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(unique_name(".tmp"));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(format!("writing {}", path.display())))
}

/// fsync a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes the whole filesystem holding `path` (cheaper than fsync per extracted file).
pub(crate) fn syncfs(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    // SAFETY: plain syscall on a valid, owned fd.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An flock(2) on a lock file, released when dropped (the fd is closed).
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    pub(crate) fn acquire(path: &Path, exclusive: bool) -> Result<FileLock, ImageError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io_err(format!("opening lock {}", path.display())))?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a valid fd we own.
            if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
                return Ok(FileLock { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(io_err(format!("locking {}", path.display()))(err));
            }
        }
    }
}

/// Removes a directory tree even if it holds read-only directories (as when not root).
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return fs::remove_file(path),
        Ok(_) => {}
    }
    if fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_dirs_writable(path);
    fs::remove_dir_all(path)
}

fn make_dirs_writable(path: &Path) {
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(path) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_dirs_writable(&entry.path());
            }
        }
    }
}

/// A directory removed (recursively) when dropped, unless `keep` was called.
pub(crate) struct TempDir {
    path: Option<PathBuf>,
}

impl TempDir {
    pub(crate) fn create(parent: &Path, prefix: &str) -> Result<TempDir, ImageError> {
        let path = parent.join(unique_name(prefix));
        fs::create_dir(&path).map_err(io_err(format!("creating {}", path.display())))?;
        Ok(TempDir { path: Some(path) })
    }

    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Stops the guard from removing the directory (it was renamed into place).
    pub(crate) fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = remove_tree(&p);
        }
    }
}

/// Lowers the calling thread's priority a little (nice +4): for the stages of an extraction
/// behind its decompression. Inflating a layer is the one stage that cannot be split, so on
/// a busy host (or a pull's own threads on two cores) the scheduler should run it first;
/// the stages behind it catch up from their buffers. Best effort.
pub(crate) fn behind_the_inflate() {
    // SAFETY: plain syscalls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 4);
    }
}

/// Locks `m`, taking over a lock a panicking thread poisoned (what it guards stays usable).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// True when running with effective uid 0 (needed for chown, device nodes, trusted xattrs).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no failure modes.
    unsafe { libc::geteuid() == 0 }
}

/// The process's umask, read once from /proc/self/status (`umask(2)` cannot read it without
/// setting it, which would race the daemon's other threads); 0o777 when it cannot be read,
/// which makes `create_mode` ask for a chmod every time.
pub(crate) fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0o777)
    })
}

/// The mode to create a file of final mode `mode` with, and whether it needs a chmod after:
/// the create sets the permission bits itself when the umask leaves them alone (one syscall
/// fewer for most files of a layer); setuid/setgid/sticky bits always get their chmod (a
/// chown clears them, and the create's mode drops them for non-members).
pub(crate) fn create_mode(mode: u32) -> (u32, bool) {
    if mode & !0o777 == 0 && mode & umask() == 0 {
        (mode, false)
    } else {
        (0o600, true)
    }
}

/// `io::copy` with a buffer of `buf`'s size (std's is 8 KiB: a write syscall per 8 KiB).
pub(crate) fn copy_with(r: &mut impl Read, w: &mut impl Write, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let mut n = 0;
        // Fill the buffer (the tar entry hands out at most a chunk at a time).
        while n < buf.len() {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            return Ok(total);
        }
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Reads the chunks a channel delivers, in order; EOF when the sender is gone.
pub(crate) struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    at: usize,
    /// Where read chunks go back to their producer, to be filled again instead of a new
    /// zeroed allocation each (`with_return`).
    back: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
}

impl ChunkReader {
    pub(crate) fn new(rx: std::sync::mpsc::Receiver<Vec<u8>>) -> ChunkReader {
        ChunkReader {
            rx,
            cur: Vec::new(),
            at: 0,
            back: None,
        }
    }

    /// Hands each chunk, once read, back through `back` (dropped when that is full or gone).
    pub(crate) fn with_return(mut self, back: std::sync::mpsc::SyncSender<Vec<u8>>) -> Self {
        self.back = Some(back);
        self
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.cur.len() {
            match self.rx.recv() {
                Ok(c) => {
                    let used = std::mem::replace(&mut self.cur, c);
                    self.at = 0;
                    if let Some(back) = &self.back
                        && used.capacity() > 0
                    {
                        let _ = back.try_send(used);
                    }
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.at);
        buf[..n].copy_from_slice(&self.cur[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
