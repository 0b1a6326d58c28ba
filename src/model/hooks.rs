//! `post_start` / `pre_stop` hooks of a service: commands run inside the container right
//! after it starts (before it counts as started) and right before its stop signal.

use super::defaults::is_default;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// One hook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hook {
    /// The argv (a string command is split as `command:` is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// `None`: the container's user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `None`: the container's working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Added to (and overriding) the container's environment.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, String>,
    /// `privileged: true` as written; the hook runs with the container's privileges.
    #[serde(skip_serializing_if = "is_default")]
    pub privileged: bool,
}
