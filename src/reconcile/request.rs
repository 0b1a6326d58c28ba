//! What `up` is asked and what it answers. These are the engine's own types: the API serves
//! them as they are (`api::types` re-exports them), so the engine never imports the API.

use crate::model::Stack;
use serde::{Deserialize, Serialize};

/// `up`: converge the project to `stack`. `Default`: every option off (a plain `up -d`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpRequest {
    pub stack: Stack,
    /// Limit to these services (plus their dependencies); empty = all.
    pub services: Vec<String>,
    /// Return only once every service is running/healthy and awaited one-shots exited 0.
    pub wait: bool,
    pub force_recreate: bool,
    pub remove_orphans: bool,
    /// Create the containers but start none (`up --no-start`, `create`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_start: bool,
    /// Keep existing containers even when their configuration changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_recreate: bool,
    /// Recreate the dependencies of the named services, changed or not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always_recreate_deps: bool,
    /// Recreated containers get new anonymous volumes instead of the old ones' (`up -V`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub renew_anon_volumes: bool,
    /// With `wait`: give up after this many seconds (`up --wait-timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<u64>,
    /// `--dry-run`: plan, answer what would be done (with the reasons of each recreation)
    /// and change nothing: no container, record, project entry or network is touched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// `up --no-deps`: only the services named, not what they depend on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_deps: bool,
    /// `up -t`: seconds a recreated container gets to stop, instead of its
    /// stop_grace_period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
}

/// docker compose's warning (pkg/compose) about containers of services no longer in the
/// file, which `up` and `down` leave without `--remove-orphans`; Go prints the names as `[a b]`.
pub fn orphan_warning(names: &[String]) -> String {
    format!(
        "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
        names.join(" ")
    )
}

/// What `up` did, one entry per container touched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpResponse {
    pub actions: Vec<ActionReport>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionReport {
    pub container: String,
    pub service: String,
    /// "created", "recreated", "started", "running" (unchanged), "removed"; with
    /// `no_start`, "created" and "recreated" containers are not started.
    pub action: String,
    /// With `dry_run`: why the container would be recreated (the compose keys that changed,
    /// or the flag that forces it) or removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}
