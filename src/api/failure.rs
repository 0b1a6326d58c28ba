//! The daemon's error answers. Each failure keeps its kind, and the kind alone decides the
//! HTTP status: bad input 400, nothing there 404, the wrong state or a name or image in use
//! 409, a full disk or quota 507, another I/O failure or an internal error 500. An I/O
//! failure's message always ends with the OS error.

use super::types::ErrorBody;
use crate::reconcile::EngineError;
use crate::reconcile::runtime::RtError;
use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiFailure {
    /// The request is malformed or names something the stack lacks (400).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing to act on (404).
    #[error("{0}")]
    NotFound(String),
    /// The target is in the wrong state or in use (409).
    #[error("{0}")]
    Conflict(String),
    /// A file or system call failed; `message` ends with the OS error. 507 for a full disk
    /// or quota, else 500.
    #[error("{message}")]
    Io {
        message: String,
        #[source]
        source: std::io::Error,
    },
    /// Refused ahead because the data would not fit on the filesystem (507).
    #[error("{0}")]
    NoSpace(String),
    /// Something on the daemon's side failed (500).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Runtime(#[from] RtError),
}

impl ApiFailure {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiFailure::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiFailure::NotFound(_) => StatusCode::NOT_FOUND,
            ApiFailure::Conflict(_) => StatusCode::CONFLICT,
            ApiFailure::Io { source, .. } => io_status(source),
            ApiFailure::NoSpace(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiFailure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiFailure::Engine(e) => engine_status(e),
            ApiFailure::Runtime(e) => runtime_status(e),
        }
    }

    /// The failure of a blocking task that panicked or was cancelled.
    pub fn join(e: tokio::task::JoinError) -> ApiFailure {
        ApiFailure::Internal(e.to_string())
    }
}

/// 507 for a full filesystem or quota (ENOSPC, EDQUOT), 500 for any other I/O failure.
pub fn io_status(e: &std::io::Error) -> StatusCode {
    let full = matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
        || matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        );
    if full {
        StatusCode::INSUFFICIENT_STORAGE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

fn engine_status(e: &EngineError) -> StatusCode {
    match e {
        EngineError::Invalid(_) => StatusCode::BAD_REQUEST,
        EngineError::NotFound(_) => StatusCode::NOT_FOUND,
        EngineError::Conflict(_) => StatusCode::CONFLICT,
        EngineError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        EngineError::Runtime(e) => runtime_status(e),
        EngineError::Store(e) => store_status(e),
    }
}

fn runtime_status(e: &RtError) -> StatusCode {
    match e {
        RtError::Io { source, .. } => io_status(source),
        RtError::Invalid(_) => StatusCode::BAD_REQUEST,
        RtError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// SQLite reports a full disk as SQLITE_FULL, not as an errno.
fn store_status(e: &StoreError) -> StatusCode {
    match e {
        StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
        | StoreError::Open {
            source: rusqlite::Error::SqliteFailure(f, _),
            ..
        } if f.code == rusqlite::ErrorCode::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
        StoreError::Private { source, .. } => io_status(source),
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status = self.status();
        (
            status,
            Json(ErrorBody {
                message: self.to_string(),
            }),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_full_disk_is_507_and_other_io_500() {
        for errno in [libc::ENOSPC, libc::EDQUOT] {
            let e = Error::from_raw_os_error(errno);
            assert_eq!(io_status(&e), StatusCode::INSUFFICIENT_STORAGE, "{e}");
        }
        // Wrapped errors (the tar crate's) keep the kind but lose the errno.
        let wrapped = Error::new(ErrorKind::StorageFull, "unpacking: disk full");
        assert_eq!(io_status(&wrapped), StatusCode::INSUFFICIENT_STORAGE);
        for errno in [libc::EIO, libc::EACCES, libc::EROFS, libc::ENOENT] {
            let e = Error::from_raw_os_error(errno);
            assert_eq!(io_status(&e), StatusCode::INTERNAL_SERVER_ERROR, "{e}");
        }
    }

    #[test]
    fn each_kind_has_its_status_and_the_io_message_names_the_os_error() {
        let f = ApiFailure::Io {
            message: "writing /x: No space left on device (os error 28)".into(),
            source: Error::from_raw_os_error(libc::ENOSPC),
        };
        assert_eq!(f.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert!(f.to_string().ends_with("(os error 28)"));
        let cases = [
            (ApiFailure::BadRequest("x".into()), 400),
            (ApiFailure::NotFound("x".into()), 404),
            (ApiFailure::Conflict("image in use".into()), 409),
            (ApiFailure::NoSpace("x".into()), 507),
            (ApiFailure::Internal("x".into()), 500),
            (EngineError::Invalid("x".into()).into(), 400),
            (EngineError::NotFound("x".into()).into(), 404),
            (EngineError::Conflict("name taken".into()).into(), 409),
            (EngineError::Failed(vec!["a".into()]).into(), 500),
            (RtError::Invalid("unknown capability".into()).into(), 400),
            (RtError::Failed("x".into()).into(), 500),
            (
                RtError::io("mkfifo /x", Error::from_raw_os_error(libc::EDQUOT)).into(),
                507,
            ),
            (
                EngineError::Runtime(RtError::io("spawn", Error::from_raw_os_error(libc::EIO)))
                    .into(),
                500,
            ),
        ];
        for (f, status) in cases {
            assert_eq!(f.status().as_u16(), status, "{f}");
        }
    }

    #[test]
    fn a_full_state_database_is_507() {
        let full = StoreError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        ));
        let f: ApiFailure = EngineError::Store(full).into();
        assert_eq!(f.status(), StatusCode::INSUFFICIENT_STORAGE);
        let busy = StoreError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ));
        let f: ApiFailure = EngineError::Store(busy).into();
        assert_eq!(f.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
