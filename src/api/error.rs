//! Errors of the API layer (client side: connecting, protocol; server side: mapped to HTTP).

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "no rstack daemon answers at {path}: start one with \"rstack daemon\" (or run \"rstack up\", which starts it)"
    )]
    NotRunning { path: String },
    #[error("permission denied on {path}: run as root or as a member of the socket's group")]
    PermissionDenied { path: String },
    #[error("cannot connect to {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("{message}")]
    Daemon { status: u16, message: String },
    #[error("talking to the daemon: {0}")]
    Io(std::io::Error),
    #[error("unexpected answer from the daemon: {0}")]
    Protocol(String),
}

impl ApiError {
    pub(super) fn connect(path: &Path, e: std::io::Error) -> ApiError {
        let path = path.display().to_string();
        match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                ApiError::NotRunning { path }
            }
            std::io::ErrorKind::PermissionDenied => ApiError::PermissionDenied { path },
            _ => ApiError::Connect { path, source: e },
        }
    }

    /// True when no daemon listens (so `up` may start one).
    pub fn is_not_running(&self) -> bool {
        matches!(self, ApiError::NotRunning { .. })
    }
}
