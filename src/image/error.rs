//! Errors of the image store: one enum for importing, resolving, listing and removing images.

use std::io;

/// Everything that can go wrong in the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A filesystem operation failed; `context` names the operation and path.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    /// The file given to `import` is not a tar archive (plain or gzip) at all.
    #[error(
        "\"{file}\" is not an image archive: expected a rootfs tar, a docker-save tar or an OCI archive (gzip allowed)"
    )]
    NotAnArchive { file: String },

    /// The archive is a tar but its OCI / docker-save structure is broken.
    #[error("\"{file}\" is not a valid image archive: {reason}")]
    InvalidArchive { file: String, reason: String },

    /// Content did not hash to the digest that names it.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// A layer entry would escape the layer directory or go through a symlink.
    #[error("unsafe entry \"{path}\" in layer {layer}: {reason}")]
    UnsafePath {
        layer: String,
        path: String,
        reason: String,
    },

    /// A feature the store does not handle (e.g. zstd layers).
    #[error("unsupported: {what}")]
    Unsupported { what: String },

    /// An image reference string that does not follow the docker reference grammar.
    #[error("invalid image reference \"{reference}\": {reason}")]
    InvalidReference { reference: String, reason: String },

    /// No image with that reference in the store.
    #[error(
        "image \"{reference}\" not found: import it with \"rstack image import FILE {reference}\""
    )]
    NotFound { reference: String },

    /// JSON that could not be parsed or produced.
    #[error("{context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },

    /// The import would write more than its limits allow (see `budget`); nothing was kept.
    /// `no_space`: the limit was the free space of the store's filesystem (not a setting).
    #[error("image archive \"{file}\" is refused: {reason}; nothing of it was imported")]
    TooLarge {
        file: String,
        reason: String,
        no_space: bool,
    },

    /// The store on disk is inconsistent (missing blob or layer directory).
    #[error("image store is damaged: {reason}")]
    Corrupt { reason: String },
}

/// Builds an `ImageError::Io` from a context string; used as `.map_err(io_err(..))`.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ImageError {
    let context = context.into();
    move |source| ImageError::Io { context, source }
}

/// Builds an `ImageError::Json` from a context string.
pub(crate) fn json_err(context: impl Into<String>) -> impl FnOnce(serde_json::Error) -> ImageError {
    let context = context.into();
    move |source| ImageError::Json { context, source }
}
