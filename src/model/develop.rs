//! A service's `develop:` (the Compose Specification's development section): the watch
//! rules of `rstack watch` / `up --watch`. Resolved by `spec` (paths absolute). Not part of
//! the config hash: editing how a service is developed recreates nothing.

use super::defaults::is_default;
use serde::{Deserialize, Serialize};

/// `develop:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Develop {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<WatchRule>,
}

/// What a watch rule does with a change under its path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchAction {
    #[default]
    #[serde(rename = "sync")]
    Sync,
    #[serde(rename = "rebuild")]
    Rebuild,
    #[serde(rename = "restart")]
    Restart,
    #[serde(rename = "sync+restart")]
    SyncRestart,
    #[serde(rename = "sync+exec")]
    SyncExec,
}

impl WatchAction {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sync" => Self::Sync,
            "rebuild" => Self::Rebuild,
            "restart" => Self::Restart,
            "sync+restart" => Self::SyncRestart,
            "sync+exec" => Self::SyncExec,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Rebuild => "rebuild",
            Self::Restart => "restart",
            Self::SyncRestart => "sync+restart",
            Self::SyncExec => "sync+exec",
        }
    }

    /// Whether files are copied into the container (a `target` is then required).
    pub fn syncs(self) -> bool {
        matches!(self, Self::Sync | Self::SyncRestart | Self::SyncExec)
    }
}

/// One `develop.watch` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchRule {
    /// The watched path on the host, absolute.
    pub path: String,
    pub action: WatchAction,
    /// Where synced files go in the container (sync actions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Patterns (gitignore-like, relative to `path`) whose changes are ignored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// When not empty, only changes matching one of these patterns count.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Sync the whole path when watching starts.
    #[serde(skip_serializing_if = "is_default")]
    pub initial_sync: bool,
    /// `sync+exec`: the command run in the container after a sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<WatchExec>,
}

/// `develop.watch[].exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchExec {
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "is_default")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `KEY=VALUE` entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<String>,
}
