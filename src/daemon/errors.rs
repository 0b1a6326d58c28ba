//! Where the errors of the runtime and the image store become the kinds the reconciler and
//! the API answer by. The daemon is the one module that sees all three, so the mapping
//! lives here and the lower layers stay unaware of HTTP.

use crate::api::server::ApiFailure;
use crate::image::ImageError;
use crate::reconcile::runtime::RtError;
use crate::runtime::RuntimeError;

impl From<RuntimeError> for RtError {
    fn from(e: RuntimeError) -> RtError {
        let message = e.to_string();
        match e {
            RuntimeError::Io { source, .. } => RtError::Io { message, source },
            RuntimeError::Sys { source, .. } => RtError::Io {
                message,
                source: source.into(),
            },
            RuntimeError::User(_)
            | RuntimeError::Capability(_)
            | RuntimeError::Rlimit(_)
            | RuntimeError::Invalid(_) => RtError::Invalid(message),
            RuntimeError::Cgroup(_)
            | RuntimeError::Config { .. }
            | RuntimeError::Start(_)
            | RuntimeError::NotRunning(_)
            | RuntimeError::Seccomp(_)
            | RuntimeError::Net(_) => RtError::Failed(message),
        }
    }
}

impl From<ImageError> for ApiFailure {
    fn from(e: ImageError) -> ApiFailure {
        let message = e.to_string();
        match e {
            ImageError::Io { source, .. } => ApiFailure::Io { message, source },
            ImageError::NotFound { .. } => ApiFailure::NotFound(message),
            ImageError::TooLarge { no_space: true, .. } => ApiFailure::NoSpace(message),
            ImageError::NotAnArchive { .. }
            | ImageError::InvalidArchive { .. }
            | ImageError::DigestMismatch { .. }
            | ImageError::UnsafePath { .. }
            | ImageError::Unsupported { .. }
            | ImageError::InvalidReference { .. }
            | ImageError::Json { .. }
            | ImageError::TooLarge { .. } => ApiFailure::BadRequest(message),
            ImageError::Corrupt { .. } => ApiFailure::Internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn io(errno: i32) -> std::io::Error {
        std::io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn a_full_disk_during_an_import_is_507_with_the_os_error() {
        let e = ImageError::Io {
            context: "layer sha256:ab: writing /data/x".into(),
            source: io(libc::ENOSPC),
        };
        let f = ApiFailure::from(e);
        assert_eq!(f.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert!(f.to_string().contains("No space left on device"), "{f}");
        let quota = ApiFailure::from(ImageError::Io {
            context: "writing".into(),
            source: io(libc::EDQUOT),
        });
        assert_eq!(quota.status(), StatusCode::INSUFFICIENT_STORAGE);
        let budget = ApiFailure::from(ImageError::TooLarge {
            file: "a.tar".into(),
            reason: "it needs more than the 1 MB free".into(),
            no_space: true,
        });
        assert_eq!(budget.status(), StatusCode::INSUFFICIENT_STORAGE);
    }

    #[test]
    fn image_errors_keep_their_kind() {
        let other_io = ApiFailure::from(ImageError::Io {
            context: "reading".into(),
            source: io(libc::EIO),
        });
        assert_eq!(other_io.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(other_io.to_string().contains("os error 5"), "{other_io}");
        let bad = ApiFailure::from(ImageError::NotAnArchive { file: "x".into() });
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let limit = ApiFailure::from(ImageError::TooLarge {
            file: "a.tar".into(),
            reason: "its layers unpack to more than 1 GB".into(),
            no_space: false,
        });
        assert_eq!(limit.status(), StatusCode::BAD_REQUEST);
        let missing = ApiFailure::from(ImageError::NotFound {
            reference: "x:1".into(),
        });
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let corrupt = ApiFailure::from(ImageError::Corrupt { reason: "x".into() });
        assert_eq!(corrupt.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn runtime_errors_keep_the_os_error() {
        let e = RtError::from(RuntimeError::io(
            "writing",
            "/data/containers/x/config.json",
            io(libc::ENOSPC),
        ));
        assert_eq!(
            e.io_error().and_then(|s| s.raw_os_error()),
            Some(libc::ENOSPC)
        );
        assert_eq!(
            e.to_string(),
            "writing /data/containers/x/config.json: No space left on device (os error 28)"
        );
        let sys = RtError::from(RuntimeError::sys("mount", nix::Error::EDQUOT));
        assert_eq!(
            sys.io_error().and_then(|s| s.raw_os_error()),
            Some(libc::EDQUOT)
        );
        assert!(matches!(
            RtError::from(RuntimeError::User("x".into())),
            RtError::Invalid(_)
        ));
        assert!(matches!(
            RtError::from(RuntimeError::Start("boom".into())),
            RtError::Failed(_)
        ));
    }
}
