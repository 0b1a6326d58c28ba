//! The runtime's single error type: every failure names what was attempted and on which path,
//! because these messages reach users verbatim (e.g. `exec: "/nope": no such file or directory`).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{op}: {source}")]
    Sys {
        op: String,
        #[source]
        source: nix::Error,
    },
    #[error("cgroup: {0}")]
    Cgroup(String),
    #[error("config {path}: {source}")]
    Config {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("user {0}")]
    User(String),
    #[error("unknown capability {0:?}")]
    Capability(String),
    #[error("unknown rlimit {0:?}")]
    Rlimit(String),
    #[error("container start failed: {0}")]
    Start(String),
    #[error("container process {0} is not running")]
    NotRunning(i32),
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("network: {0}")]
    Net(String),
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl RuntimeError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sys(op: impl Into<String>, source: nix::Error) -> Self {
        RuntimeError::Sys {
            op: op.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, RuntimeError>;
