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
    /// A start failure carrying `msg`, which may already be a rendered start failure (the
    /// init's message relayed by the shim, the shim's relayed by the launcher): the prefix
    /// is said once, not once per hop.
    pub(crate) fn start(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        let mut rest = msg.as_str();
        while let Some(r) = rest.strip_prefix(START_PREFIX) {
            rest = r;
        }
        RuntimeError::Start(rest.to_string())
    }

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

/// How `RuntimeError::Start` renders before its message.
const START_PREFIX: &str = "container start failed: ";

pub type Result<T> = std::result::Result<T, RuntimeError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_start_failure_says_so_once() {
        let inner = RuntimeError::start("sysctls: cannot set x=1").to_string();
        let relayed = RuntimeError::start(format!("container start failed: {inner}"));
        assert_eq!(
            relayed.to_string(),
            "container start failed: sysctls: cannot set x=1"
        );
    }
}
