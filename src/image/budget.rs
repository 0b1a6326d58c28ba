//! Bounds on what one import may write. A small archive can expand without limit (a 2 MB
//! gzip layer of zeros unpacks to 2 GB), so every byte an import decompresses into a file is
//! charged here: the unpacked layer content against the configured maximum, and everything
//! written (staged archive content and layers) against the free space of the store's
//! filesystem, taken when the import starts.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::error::ImageError;

/// The default `image_max_unpacked`: the unpacked layers of one image. Large CUDA or
/// ML images reach 10-15 GB; twice the largest common ones leaves room without letting a
/// bomb fill a disk.
pub const DEFAULT_MAX_UNPACKED: u64 = 20 << 30;

/// What one import may still write. Shared by the readers that charge it.
#[derive(Debug)]
pub(crate) struct Budget {
    max_unpacked: u64,
    free: u64,
    /// The store whose filesystem `free` was measured on (for messages).
    store: PathBuf,
    unpacked: AtomicU64,
    written: AtomicU64,
    /// Set once a limit was hit: the I/O error that stopped the reader is then replaced by
    /// the message of `error`.
    exceeded: AtomicBool,
}

/// Which counters a reader charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charge {
    /// Layer content: unpacked and written.
    Unpacked,
    /// Staged archive content: written only.
    Written,
}

impl Budget {
    pub(crate) fn new(max_unpacked: u64, free: u64) -> Budget {
        Budget {
            max_unpacked,
            free,
            store: PathBuf::new(),
            unpacked: AtomicU64::new(0),
            written: AtomicU64::new(0),
            exceeded: AtomicBool::new(false),
        }
    }

    /// The budget of an import into the store at `root`: free space from statvfs.
    pub(crate) fn for_store(max_unpacked: u64, root: &Path) -> Budget {
        Budget {
            store: root.to_path_buf(),
            ..Budget::new(max_unpacked, free_space(root).unwrap_or(u64::MAX))
        }
    }

    /// A budget for a pass that reads what staging will write: the same free space.
    pub(crate) fn for_scan(&self) -> Budget {
        Budget {
            store: self.store.clone(),
            ..Budget::new(u64::MAX, self.free)
        }
    }

    fn charge(&self, n: u64, how: Charge) -> io::Result<()> {
        let written = self.written.fetch_add(n, Ordering::Relaxed) + n;
        let unpacked = match how {
            Charge::Unpacked => self.unpacked.fetch_add(n, Ordering::Relaxed) + n,
            Charge::Written => self.unpacked.load(Ordering::Relaxed),
        };
        if written > self.free || unpacked > self.max_unpacked {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(io::Error::other("image import size limit reached"));
        }
        Ok(())
    }

    /// Whether a limit stopped the import.
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }

    /// The error that says which limit stopped the import of `file` and what to do.
    pub(crate) fn error(&self, file: &str) -> ImageError {
        let unpacked = self.unpacked.load(Ordering::Relaxed);
        let no_space = unpacked <= self.max_unpacked;
        let reason = if !no_space {
            format!(
                "its layers unpack to more than {} (image_max_unpacked in the daemon's config)",
                human(self.max_unpacked)
            )
        } else {
            format!(
                "it needs more than the {} free on the filesystem of {}",
                human(self.free),
                self.store.display()
            )
        };
        ImageError::TooLarge {
            file: file.to_string(),
            reason,
            no_space,
        }
    }
}

/// A reader whose bytes are charged to a budget; it fails once the budget is spent.
pub(crate) struct Metered<'a, R> {
    inner: R,
    budget: &'a Budget,
    how: Charge,
    /// Bytes read through this reader.
    pub(crate) count: u64,
}

impl<'a, R: Read> Metered<'a, R> {
    pub(crate) fn new(inner: R, budget: &'a Budget, how: Charge) -> Self {
        Metered {
            inner,
            budget,
            how,
            count: 0,
        }
    }
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        self.budget.charge(n as u64, self.how)?;
        Ok(n)
    }
}

/// Bytes available on the filesystem of `path`.
pub fn free_space(path: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    // Root may use the reserved blocks too, but filling them leaves the host's own services
    // without room: count only what unprivileged users could use.
    Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

/// `1.5 GiB`-style size for messages.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut impl Read) -> io::Result<u64> {
        io::copy(r, &mut io::sink())
    }

    #[test]
    fn unpacked_bytes_beyond_the_maximum_are_refused() {
        let b = Budget::new(1000, u64::MAX);
        let mut ok = Metered::new(&[0u8; 600][..], &b, Charge::Unpacked);
        assert_eq!(drain(&mut ok).unwrap(), 600);
        assert!(!b.exceeded());
        let mut over = Metered::new(&[0u8; 600][..], &b, Charge::Unpacked);
        assert!(drain(&mut over).is_err());
        assert!(b.exceeded());
        let e = b.error("x.tar").to_string();
        assert!(
            e.contains("image_max_unpacked") && e.contains("1000 B"),
            "{e}"
        );
    }

    #[test]
    fn staged_bytes_count_against_free_space_only() {
        let b = Budget {
            store: "/store".into(),
            ..Budget::new(10_000, 1000)
        };
        let mut staged = Metered::new(&[0u8; 900][..], &b, Charge::Written);
        assert_eq!(drain(&mut staged).unwrap(), 900);
        let mut layer = Metered::new(&[0u8; 200][..], &b, Charge::Unpacked);
        assert!(drain(&mut layer).is_err());
        let e = b.error("x.tar").to_string();
        assert!(e.contains("free on the filesystem of /store"), "{e}");
    }

    #[test]
    fn free_space_is_known() {
        assert!(free_space(Path::new("/")).unwrap() > 0);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(20 << 30), "20.0 GiB");
    }
}
