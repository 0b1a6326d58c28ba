//! Errors of project operations; the API maps each kind to an HTTP status.

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request names something that does not exist in the stack (400).
    #[error("{0}")]
    Invalid(String),
    /// Nothing to act on (404).
    #[error("{0}")]
    NotFound(String),
    /// The target is in the wrong state, e.g. exec into a stopped service (409).
    #[error("{0}")]
    Conflict(String),
    /// One or more services could not be brought up; every message names its service.
    #[error("{}", .0.join("\n"))]
    Failed(Vec<String>),
    /// The runtime failed (e.g. an exec helper could not be spawned); its kind is kept.
    #[error(transparent)]
    Runtime(#[from] super::runtime::RtError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// `Ok` when no service failed, else every message at once.
pub(super) fn all_ok(errors: Vec<String>) -> Result<(), EngineError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Failed(errors))
    }
}
