//! `deploy.restart_policy`'s limits beside its condition (which becomes `Service::restart`,
//! as docker compose maps it): a fixed delay between restarts, and at most `max_attempts`
//! restarts, in all or within any `window`.

use super::defaults::is_default;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartLimits {
    /// Wait this long before each restart, instead of the doubling backoff.
    #[serde(skip_serializing_if = "is_default")]
    pub delay: Option<Duration>,
    /// Give up after this many restarts (`None`: never).
    #[serde(skip_serializing_if = "is_default")]
    pub max_attempts: Option<u32>,
    /// Count only the restarts of the last `window` against `max_attempts`.
    #[serde(skip_serializing_if = "is_default")]
    pub window: Option<Duration>,
}
