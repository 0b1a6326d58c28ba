//! Errors of registry transfers (pull, push, login): each names the registry or reference
//! it is about and, where there is one, what to do.

use crate::image::ImageError;

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached at all (DNS, connect, timeout, TLS).
    #[error("registry {registry} is unreachable: {reason}")]
    Unreachable { registry: String, reason: String },

    /// The registry does not know the tag or digest.
    #[error("manifest unknown: {reference} (no such tag or digest in {registry})")]
    ManifestUnknown { reference: String, registry: String },

    /// Credentials were refused, or needed and missing.
    #[error("authentication to {registry} failed: {reason}")]
    Auth { registry: String, reason: String },

    /// An answer the protocol does not allow, or an unexpected status.
    #[error("registry {registry}: {reason}")]
    Protocol { registry: String, reason: String },

    /// The image itself cannot be used (platform missing, artifact, schema 1...).
    #[error("image {reference}: {reason}")]
    Unsupported { reference: String, reason: String },

    /// Storing or reading the image failed (digest mismatch, disk full, ...).
    #[error(transparent)]
    Image(#[from] ImageError),
}
