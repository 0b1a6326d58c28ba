//! Spooling an uploaded image archive to a file of the daemon's own. The archive arrives as
//! the request body (the daemon never opens a path a client names: it runs as root, the
//! client may not). Archives may be gigabytes, so the body goes to disk as it arrives, and
//! an upload larger than the free space of the store's filesystem is cut off.

use super::server::ApiFailure;
use axum::body::Body;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// An uploaded archive on disk; the file is removed when this is dropped.
pub struct Spool {
    path: PathBuf,
}

impl Spool {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Writes `body` to a new file in `dir` (mode 0600).
pub async fn spool(body: Body, dir: &Path) -> Result<Spool, ApiFailure> {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let spool = Spool {
        path: dir.join(format!("upload-{}-{n}", std::process::id())),
    };
    // A full disk here is answered 507, with the OS error.
    let internal = |what: &str, e: std::io::Error| ApiFailure::Io {
        message: format!("{what} {}: {e}", spool.path.display()),
        source: e,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&spool.path)
        .await
        .map_err(|e| internal("creating", e))?;
    let free = crate::image::budget::free_space(dir).unwrap_or(u64::MAX);
    let mut total = 0u64;
    let mut data = body.into_data_stream();
    while let Some(chunk) = data.next().await {
        let chunk = chunk
            .map_err(|e| ApiFailure::BadRequest(format!("reading the uploaded archive: {e}")))?;
        total += chunk.len() as u64;
        if total > free {
            return Err(ApiFailure::NoSpace(format!(
                "the uploaded archive is larger than the {} free on the filesystem of {}: free some space and import again",
                crate::image::budget::human(free),
                dir.display()
            )));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| internal("writing", e))?;
    }
    file.flush().await.map_err(|e| internal("writing", e))?;
    Ok(spool)
}
