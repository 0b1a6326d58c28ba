//! Errors of unit parsing in the model layer.

/// A value that is not a valid size, duration, CPU count or signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid size \"{0}\" (expected e.g. \"512m\", \"1g\" or a number of bytes)")]
    Size(String),
    #[error("invalid duration \"{0}\" (expected e.g. \"10s\", \"1m30s\", \"500ms\")")]
    Duration(String),
    #[error("invalid cpus \"{0}\" (expected a positive number such as 1.5)")]
    Cpus(String),
    #[error("invalid signal \"{0}\" (expected e.g. SIGTERM, SIGINT or a number)")]
    Signal(String),
}
