//! Where the engine gets images from: a trait, as the runtime is one, so the engine needs no
//! image store (the daemon adapts `image::ImageStore`; tests use a map). Async and fallible
//! with a typed error: a pull or a build will take seconds and fail in ways a caller tells
//! apart (no such image, a damaged store, a full disk).

use crate::plan::ResolvedImage;
use std::future::Future;

/// Where images come from (the daemon's image store; a map in tests).
pub trait ImageSource: Send + Sync + 'static {
    /// Resolves a reference to its layers and config. An image already present must
    /// resolve without waiting on another thread: every container start asks.
    fn resolve(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<ResolvedImage, ImageSourceError>> + Send;
}

/// Why an image could not be resolved; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ImageSourceError {
    /// No image of that reference is present.
    #[error(
        "image \"{reference}\" not found: import it with \"rstack image import FILE {reference}\""
    )]
    NotFound { reference: String },
    /// The reference does not follow the docker reference grammar.
    #[error("invalid image reference \"{reference}\": {reason}")]
    InvalidReference { reference: String, reason: String },
    /// The image is there but its files are not what they should be.
    #[error("image store is damaged: {reason}")]
    Corrupt { reason: String },
    /// Reading the image failed (the OS error is kept).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}
