//! What the reconciler needs from a container runtime, as a trait so it can be tested with a
//! fake runtime under paused time (kube-runtime style). The daemon's adapter maps it onto
//! `crate::runtime` (shim processes); `reconcile/fake.rs` is the test double.

use crate::runtime::config::{ContainerConfig, ExitStatus};
use std::future::Future;
use std::pin::Pin;

/// Why a runtime operation failed. The kind is kept so the API can answer by it: a full
/// disk is not the caller's fault, a configuration the runtime cannot apply is.
#[derive(Debug, thiserror::Error)]
pub enum RtError {
    /// A file or system call failed; `message` names what and where and ends with the OS
    /// error, `source` keeps it (ENOSPC, EACCES...).
    #[error("{message}")]
    Io {
        message: String,
        #[source]
        source: std::io::Error,
    },
    /// The container's configuration cannot be applied (unknown user, capability, rlimit).
    #[error("{0}")]
    Invalid(String),
    /// Anything else (a failed start the shim reported, a process that is gone...).
    #[error("{0}")]
    Failed(String),
}

impl RtError {
    /// An I/O failure of `what`, e.g. `RtError::io(format!("mkfifo {path}"), e)`.
    pub fn io(what: impl std::fmt::Display, source: std::io::Error) -> RtError {
        RtError::Io {
            message: format!("{what}: {source}"),
            source,
        }
    }

    /// The same failure with `what: ` before its message (its kind and OS error kept).
    pub fn within(self, what: &str) -> RtError {
        match self {
            RtError::Io { message, source } => RtError::Io {
                message: format!("{what}: {message}"),
                source,
            },
            RtError::Invalid(m) => RtError::Invalid(format!("{what}: {m}")),
            RtError::Failed(m) => RtError::Failed(format!("{what}: {m}")),
        }
    }

    /// The OS error behind this failure, if one is.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            RtError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<std::io::Error> for RtError {
    fn from(source: std::io::Error) -> RtError {
        RtError::Io {
            message: source.to_string(),
            source,
        }
    }
}

impl From<String> for RtError {
    fn from(message: String) -> RtError {
        RtError::Failed(message)
    }
}

impl From<&str> for RtError {
    fn from(message: &str) -> RtError {
        RtError::Failed(message.to_string())
    }
}

/// Resolves once, when the container's init process has exited.
pub type ExitFuture = Pin<Box<dyn Future<Output = ExitStatus> + Send>>;

/// A started container.
pub struct Running {
    pub pid: i32,
    pub shim_pid: i32,
    pub exit: ExitFuture,
}

/// A process started by `Runtime::spawn_exec`.
pub struct ExecProcess {
    pub child: tokio::process::Child,
    /// With a terminal: where its window sizes go (see `Runtime::open_resize`).
    pub resize: Option<tokio::net::unix::pipe::Sender>,
}

/// What `exec` runs inside a container.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub user: Option<String>,
    /// Pipe the process's stdin (exec); otherwise it reads /dev/null (probes).
    pub stdin: bool,
    /// Run on a pseudo-terminal of (rows, columns); output then arrives as stdout only.
    pub tty: Option<(u16, u16)>,
    /// All capabilities and no seccomp filter (`exec --privileged`).
    pub privileged: bool,
}

/// What one healthcheck probe gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// The test's exit code; -1 when it could not run or overran its timeout (Docker).
    pub exit_code: i32,
    /// Its stdout and stderr, at most `store::health_log::OUTPUT_LIMIT` bytes (lossy UTF-8).
    pub output: String,
}

impl ProbeOutcome {
    pub fn ok(&self) -> bool {
        self.exit_code == 0
    }
}

pub trait Runtime: Send + Sync + 'static {
    /// Creates and starts a container; returns once its process runs (or failed to).
    fn start(&self, cfg: &ContainerConfig)
    -> impl Future<Output = Result<Running, RtError>> + Send;

    /// Re-attaches to a container an earlier daemon started; `None` if it is gone.
    fn adopt(&self, cfg: &ContainerConfig, shim_pid: i32, pid: i32) -> Option<Running>;

    /// The exit status a container recorded while no daemon watched it.
    fn recorded_exit(&self, cfg: &ContainerConfig) -> Option<ExitStatus>;

    fn signal(&self, pid: i32, signal: i32) -> Result<(), RtError>;

    /// Starts a process inside the running container, stdout/stderr piped.
    fn spawn_exec(
        &self,
        cfg: &ContainerConfig,
        pid: i32,
        spec: &ExecSpec,
    ) -> Result<ExecProcess, RtError>;

    /// The write end of a started container's stdin (`process.stdin`), once; dropping it
    /// gives the container EOF.
    fn open_stdin(&self, cfg: &ContainerConfig) -> Option<tokio::net::unix::pipe::Sender>;

    /// For a started container with a terminal: where its window sizes go, once (each write
    /// is one `runtime::tty::resize_record`).
    fn open_resize(&self, cfg: &ContainerConfig) -> Option<tokio::net::unix::pipe::Sender>;

    /// Runs a healthcheck test inside the container, killed (with the processes it started)
    /// when it overruns `timeout`.
    fn probe(
        &self,
        cfg: &ContainerConfig,
        pid: i32,
        spec: &ExecSpec,
        timeout: std::time::Duration,
    ) -> impl Future<Output = ProbeOutcome> + Send;

    /// Releases what a run left when its shim died unseen (processes, mounts, cgroups),
    /// keeping the writable layer and the log for the next start. A shim of the container
    /// that this daemon did not start or adopt (a start an earlier daemon died in) is killed
    /// first, as `remove` does.
    fn release(&self, cfg: &ContainerConfig) -> impl Future<Output = Result<(), RtError>> + Send;

    /// Removes everything the container left: mounts, cgroups, its state directory.
    fn remove(&self, cfg: &ContainerConfig) -> impl Future<Output = Result<(), RtError>> + Send;

    /// At boot: removes the containers under `containers_dir` that have no record (`known`
    /// holds the ids of those that do), as `remove` would, killing what still runs in them.
    /// Only a crash at the wrong moment leaves such a directory. Returns the ids removed.
    fn sweep(
        &self,
        containers_dir: &std::path::Path,
        known: &std::collections::HashSet<String>,
    ) -> impl Future<Output = Vec<String>> + Send;
}
