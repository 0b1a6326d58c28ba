//! Errors of project operations; the API maps each kind to an HTTP status. A service that
//! failed keeps the cause's kind (a runtime, store or image error), so a full disk during
//! `up` is told apart from a container that exited.

use super::images::ImageSourceError;
use super::runtime::RtError;
use crate::store::StoreError;

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
    #[error("{}", join_lines(.0))]
    Failed(Vec<ServiceError>),
    /// The runtime failed (e.g. an exec helper could not be spawned); its kind is kept.
    #[error(transparent)]
    Runtime(#[from] RtError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn join_lines(errors: &[ServiceError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why one container could not be started, signalled or awaited (from its supervisor or
/// its published state).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The runtime failed; the message names the container, the kind (ENOSPC...) is kept.
    #[error(transparent)]
    Runtime(#[from] RtError),
    /// Its record could not be saved before the start.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A signal for a container that is not running.
    #[error("container {0} is not running")]
    NotRunning(String),
    /// It exited, is unhealthy, lacks a healthcheck, or an earlier start failed (the
    /// message saved on its record).
    #[error("{0}")]
    Failed(String),
    /// It was removed while someone waited on it.
    #[error("container was removed")]
    Removed,
    /// Its supervisor task is gone (the daemon is shutting down).
    #[error("container supervisor has stopped")]
    Gone,
}

/// What went wrong with one service.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// Its image could not be resolved.
    #[error(transparent)]
    Image(#[from] ImageSourceError),
    /// Its container could not be made from the stack (the message says where).
    #[error(transparent)]
    Engine(Box<EngineError>),
    /// Its container failed to start, restart or take a signal (the message names it).
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// A required dependency, or the service itself for `--wait`, did not get ready.
    #[error(transparent)]
    Wait(ContainerError),
    /// A service_healthy dependency that exited or turned unhealthy (compose's words).
    #[error("dependency failed to start: {0}")]
    DependencyUnhealthy(ContainerError),
    #[error("dependency \"{0}\" failed to start")]
    DependencyFailed(String),
    #[error("dependency \"{0}\" has no container")]
    DependencyMissing(String),
    /// An internal inconsistency (no image resolved, an unsupervised container).
    #[error("{0}")]
    Internal(String),
}

/// A service that failed, and why. The message starts with `service "NAME": ` unless the
/// cause already names its container or where in the stack file it went wrong.
#[derive(Debug)]
pub struct ServiceError {
    pub service: String,
    pub cause: Cause,
}

impl ServiceError {
    pub fn new(service: &str, cause: impl Into<Cause>) -> ServiceError {
        ServiceError {
            service: service.to_string(),
            cause: cause.into(),
        }
    }

    /// A dependency (or the service itself) that did not reach the awaited state.
    pub fn wait(service: &str, e: ContainerError) -> ServiceError {
        ServiceError::new(service, Cause::Wait(e))
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Cause::Engine(_) | Cause::Container(_) => write!(f, "{}", self.cause),
            c => write!(f, "service \"{}\": {c}", self.service),
        }
    }
}

impl std::error::Error for ServiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

impl From<EngineError> for Cause {
    fn from(e: EngineError) -> Cause {
        Cause::Engine(Box::new(e))
    }
}

/// `Ok` when no service failed, else every failure at once.
pub(super) fn all_ok(errors: Vec<ServiceError>) -> Result<(), EngineError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Failed(errors))
    }
}
