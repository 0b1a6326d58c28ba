//! Partial layer downloads kept between pull attempts, so an interrupted download (dropped
//! connection, daemon killed) resumes with an HTTP Range request: `partial/<hex>`, keyed by
//! the blob's digest. GC removes those whose blob is now stored and those untouched for
//! `STALE_AFTER`; it runs under the exclusive GC lock, which no pull holds then.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::ImageStore;
use crate::image::error::{ImageError, io_err};

/// A partial download not resumed for this long is removed by GC.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

impl ImageStore {
    /// The directory of partial downloads (created on first use).
    pub(crate) fn partial_dir(&self) -> Result<PathBuf, ImageError> {
        let dir = self.root().join("partial");
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        Ok(dir)
    }

    /// Removes partial downloads that are stale or whose blob is stored.
    pub(super) fn sweep_partials(&self, stale_after: Duration) -> Result<(), ImageError> {
        let dir = self.root().join("partial");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(format!("listing {}", dir.display()))(e)),
        };
        let now = SystemTime::now();
        for entry in entries {
            let entry = entry.map_err(io_err(format!("listing {}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or(Duration::MAX);
            if age >= stale_after || self.blob_if_present(&name).is_some() {
                let p = entry.path();
                fs::remove_file(&p).map_err(io_err(format!("removing {}", p.display())))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gc_keeps_fresh_partials_and_removes_stale_and_completed_ones() {
        let dir = crate::testutil::TempDir::new("partials");
        let store = ImageStore::open(&dir.0).expect("store");
        let partial = store.partial_dir().expect("partial dir");
        let fresh = "a".repeat(64);
        let done = crate::image::fsutil::sha256_hex(b"blob");
        fs::write(partial.join(&fresh), b"half").expect("fresh");
        fs::write(partial.join(&done), b"bl").expect("done");
        store.store_blob_bytes(b"blob", &done).expect("blob");
        store.sweep_partials(STALE_AFTER).expect("sweep");
        assert!(partial.join(&fresh).exists());
        assert!(!partial.join(&done).exists(), "its blob is stored");
        store.sweep_partials(Duration::ZERO).expect("sweep");
        assert!(!partial.join(&fresh).exists(), "stale");
        // gc itself keeps a fresh one (a failed pull runs gc; the next pull resumes).
        fs::write(partial.join(&fresh), b"half").expect("fresh");
        store.gc().expect("gc");
        assert!(partial.join(&fresh).exists());
    }
}
