//! The daemon's error answers. Each failure keeps its kind, and the kind alone decides the
//! HTTP status: bad input 400, nothing there 404, the wrong state or a name or image in use
//! 409, a full disk or quota 507, a registry's failure 502, another I/O failure or an
//! internal error 500. An I/O failure's message always ends with the OS error.

use super::types::ErrorBody;
use crate::reconcile::runtime::RtError;
use crate::reconcile::{Cause, ContainerError, EngineError, ImageSourceError, ServiceError};
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
    /// A registry failed or refused (502), e.g. one without a catalog to search.
    #[error("{0}")]
    Upstream(String),
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
            ApiFailure::Upstream(_) => StatusCode::BAD_GATEWAY,
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
        EngineError::Failed(errors) => failed_status(errors),
        EngineError::Runtime(e) => runtime_status(e),
        EngineError::Store(e) => store_status(e),
    }
}

/// Services that failed: 507 when any cause is a full disk (freeing space is what helps,
/// whatever else failed); the causes' common status when they agree; else 500.
fn failed_status(errors: &[ServiceError]) -> StatusCode {
    let statuses: Vec<StatusCode> = errors.iter().map(|e| cause_status(&e.cause)).collect();
    if statuses.contains(&StatusCode::INSUFFICIENT_STORAGE) {
        return StatusCode::INSUFFICIENT_STORAGE;
    }
    match statuses.split_first() {
        Some((first, rest)) if rest.iter().all(|s| s == first) => *first,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn cause_status(c: &Cause) -> StatusCode {
    match c {
        Cause::Image(e) => image_status(e),
        Cause::Engine(e) => engine_status(e),
        Cause::Container(e) | Cause::Wait(e) | Cause::DependencyUnhealthy(e) => container_status(e),
        // A dependency that failed or exited: the service's side, not the request's.
        Cause::DependencyFailed(_) | Cause::DependencyMissing(_) | Cause::Internal(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn container_status(e: &ContainerError) -> StatusCode {
    match e {
        ContainerError::Runtime(e) => runtime_status(e),
        ContainerError::Store(e) => store_status(e),
        ContainerError::NotRunning(_) => StatusCode::CONFLICT,
        ContainerError::Failed(_) | ContainerError::Removed | ContainerError::Gone => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// As Docker answers a create with a missing image: 404.
fn image_status(e: &ImageSourceError) -> StatusCode {
    match e {
        ImageSourceError::NotFound { .. } => StatusCode::NOT_FOUND,
        ImageSourceError::InvalidReference { .. } => StatusCode::BAD_REQUEST,
        ImageSourceError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        ImageSourceError::Io { source, .. } => io_status(source),
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
            (ApiFailure::Upstream("no catalog".into()), 502),
            (EngineError::Invalid("x".into()).into(), 400),
            (EngineError::NotFound("x".into()).into(), 404),
            (EngineError::Conflict("name taken".into()).into(), 409),
            (
                EngineError::Failed(vec![ServiceError::new(
                    "a",
                    Cause::DependencyFailed("b".into()),
                )])
                .into(),
                500,
            ),
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

    /// A start that fails on a full disk during `up` (the fake runtime's ENOSPC) is 507, with
    /// the container and the OS error in its message; a start that fails otherwise stays 500.
    #[tokio::test(start_paused = true)]
    async fn a_full_disk_during_up_is_507() {
        let f: ApiFailure = crate::reconcile::tests::up_error("f1", &["nospace"])
            .await
            .into();
        assert_eq!(f.status(), StatusCode::INSUFFICIENT_STORAGE, "{f}");
        let msg = f.to_string();
        assert!(
            msg.starts_with("container f1-web-1: ") && msg.ends_with("(os error 28)"),
            "{msg}"
        );
        let f: ApiFailure = crate::reconcile::tests::up_error("f2", &["nostart"])
            .await
            .into();
        assert_eq!(f.status(), StatusCode::INTERNAL_SERVER_ERROR, "{f}");
        assert_eq!(
            f.to_string(),
            "container f2-web-1: exec: \"nostart\": executable file not found"
        );
    }

    #[test]
    fn a_full_disk_among_failed_services_is_507_and_agreeing_causes_keep_their_status() {
        let enospc = || {
            ContainerError::Runtime(RtError::io(
                "writing config.json",
                Error::from_raw_os_error(libc::ENOSPC),
            ))
        };
        let failed = |errors: Vec<ServiceError>| ApiFailure::from(EngineError::Failed(errors));
        let exited = ServiceError::wait("b", ContainerError::Failed("exited with code 1".into()));
        let f = failed(vec![exited, ServiceError::new("a", enospc())]);
        assert_eq!(f.status(), StatusCode::INSUFFICIENT_STORAGE);
        let missing = |s: &str| {
            ServiceError::new(
                s,
                ImageSourceError::NotFound {
                    reference: "x:1".into(),
                },
            )
        };
        assert_eq!(failed(vec![missing("a"), missing("b")]).status(), 404);
        let bad_ref = ServiceError::new(
            "a",
            ImageSourceError::InvalidReference {
                reference: "X".into(),
                reason: "uppercase".into(),
            },
        );
        assert_eq!(failed(vec![bad_ref]).status(), 400);
        let bad_config = ServiceError::new("a", EngineError::Invalid("bad user".into()));
        assert_eq!(failed(vec![bad_config]).status(), 400);
        let not_running = ServiceError::new("a", ContainerError::NotRunning("p-a-1".into()));
        assert_eq!(failed(vec![not_running]).status(), 409);
        let mixed = vec![
            missing("a"),
            ServiceError::new("b", Cause::DependencyFailed("a".into())),
        ];
        assert_eq!(failed(mixed).status(), 500);
        // A full disk under the image store is 507 too.
        let io = ServiceError::new(
            "a",
            ImageSourceError::Io {
                context: "reading layer".into(),
                source: Error::from_raw_os_error(libc::EDQUOT),
            },
        );
        assert_eq!(failed(vec![io]).status(), 507);
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
