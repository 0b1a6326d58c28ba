//! Versioned REST types shared by the daemon (server) and the CLI (client).
//!
//! Everything is JSON. `logs` (and attached `up`) stream newline-delimited `LogLine`s; `exec`
//! and `run` upgrade the connection to the framed duplex stream of `api::attach`.

use crate::model::Stack;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: String,
    pub api: String,
    pub data_root: String,
    pub cgroup: String,
    /// `[registry] mirrors` of docker.io, in the order tried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registry_mirrors: Vec<String>,
    /// `[registry] insecure`: registries reached over plain HTTP (loopback ones always are).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insecure_registries: Vec<String>,
}

// `up`'s request and answer are the engine's own types, served as they are.
pub use crate::reconcile::{ActionReport, UpRequest, UpResponse, WaitedContainer, orphan_warning};

/// `up`'s answer: the engine's, and the networks of the project it made (`Network X
/// Created`, printed before the containers as compose does).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpAnswer {
    #[serde(flatten)]
    pub response: UpResponse,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks_created: Vec<String>,
    /// With `dry_run`: the networks whose definition changed, which `up` would make again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks_recreated: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DownRequest {
    /// Seconds before SIGKILL; `None` = each service's stop_grace_period.
    pub timeout: Option<u64>,
    /// `down -v`: also remove the project's named volumes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub volumes: bool,
    /// Containers left alone: the orphans `down` keeps without `--remove-orphans`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
    /// `--dry-run down`: answer what this request would remove, and remove nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// `--dry-run down --rmi`: the images the CLI would remove after the containers; the
    /// answer says which would go and which the removal would refuse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

/// What `down` removed, in that order (names).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DownResponse {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// The project's networks left because a container (a kept orphan) is still on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks_in_use: Vec<String>,
    /// What went wrong without stopping `down`: a failed `pre_stop` hook.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Dry run with `images`: those that would be removed (gone ones left out, as `down`
    /// passes over them)...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// ...and those the removal would refuse, with its error (another container uses them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images_refused: Vec<(String, String)>,
}

/// `start`, `stop`, `restart`, `kill` on some (or all) services of a project.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServicesRequest {
    pub services: Vec<String>,
    pub timeout: Option<u64>,
    /// For `kill`: signal name (default SIGKILL).
    pub signal: Option<String>,
    /// For `wait`: answer when the first container stops, not the last (`--down-project`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first: bool,
}

/// One row of `ps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerView {
    pub id: String,
    pub name: String,
    pub project: String,
    pub service: String,
    /// "created", "starting", "running", "restarting", "exited", "dead".
    pub state: String,
    /// "starting", "healthy", "unhealthy"; null without a healthcheck.
    pub health: Option<String>,
    /// While unhealthy: what the last failing probe printed (its last line), why it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_output: Option<String>,
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub restarts: u32,
    pub image: String,
    /// Unix ms of the last start.
    pub started_at: Option<u64>,
    /// Unix ms of the last exit.
    pub finished_at: Option<u64>,
    /// Current restart delay when waiting to restart, in ms.
    pub restart_delay_ms: Option<u64>,
    /// Last start error, if the container could not be started.
    pub error: Option<String>,
    pub one_off: bool,
    /// Published ports (while it runs) and exposed ones; `ps` shows them as Docker does.
    #[serde(default)]
    pub ports: Vec<super::networks::PortView>,
    /// The service's `labels`.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The command it runs, argv joined by spaces (`ps --format json`'s `Command`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogsQuery {
    pub services: Vec<String>,
    pub follow: bool,
    pub tail: Option<usize>,
    /// Only lines at or after this RFC 3339 time (attached `up` loses no early output).
    #[serde(default)]
    pub since: Option<String>,
    /// Only lines at or before this time (`logs --until`); a follower stops once it is past.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Only this replica of each service (`logs --index`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// `exec` and `run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecRequest {
    pub service: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Allocate a pseudo-terminal of (rows, columns).
    #[serde(default)]
    pub tty: Option<(u16, u16)>,
    /// Which replica (`exec --index`); `None`: the lowest number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// All capabilities and no seccomp filter (`exec --privileged`, as docker exec).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
}

/// `attach`: the main process of a running service container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachRequest {
    pub service: String,
    /// Which replica (`--index`); `None`: the lowest number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The client sends input (false with `--no-stdin`).
    #[serde(default = "yes")]
    pub stdin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRequest {
    pub stack: Stack,
    pub service: String,
    /// Replaces the service's command; empty = keep it.
    pub cmd: Vec<String>,
    pub rm: bool,
    /// Start the service's dependencies first (compose default).
    pub deps: bool,
    /// Give the container a terminal of (rows, columns).
    #[serde(default)]
    pub tty: Option<(u16, u16)>,
    /// The client has input to send. Without (its stdin is /dev/null) the container's stdin
    /// is /dev/null too, and no FIFO is made for it.
    #[serde(default = "yes")]
    pub stdin: bool,
}

fn yes() -> bool {
    true
}

/// `POST /v1/images/import?reference=R&name=N`: the archive itself is the request body
/// (the daemon never opens a path a client names). `name` only labels messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageImportQuery {
    pub reference: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageView {
    pub reference: String,
    pub id: String,
    /// `sha256:<hex>` of the manifest (the registry digest).
    #[serde(default)]
    pub digest: String,
    /// Unpacked size in bytes (the files of its layers).
    pub size: u64,
    /// Sum of the compressed layer blobs, in bytes.
    #[serde(default)]
    pub compressed_size: u64,
    pub created: Option<String>,
}

/// One line of container output, as `logs` streams them (newline-delimited JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Container name.
    pub container: String,
    /// Service name (the CLI's prefix).
    pub service: String,
    /// "stdout" or "stderr"; `WARNING_STREAM` for a note about the container's log itself
    /// (it keeps none), which the CLI prints as a warning.
    pub stream: String,
    /// RFC 3339 timestamp.
    pub time: String,
    pub data: String,
}

/// `LogLine::stream` of a warning about a container's log rather than a line of it.
pub const WARNING_STREAM: &str = "warning";

/// Body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
}
