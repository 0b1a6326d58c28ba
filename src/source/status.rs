//! A source's status as Argo CD shows one (sync Synced/OutOfSync, health
//! Healthy/Progressing/Degraded, the revision applied, the last error and when), its
//! transitions, and the documents the daemon stores and answers with.

use super::SourceSpec;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SyncState {
    #[default]
    Unknown,
    Synced,
    OutOfSync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Health {
    #[default]
    Unknown,
    Healthy,
    Progressing,
    Degraded,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceStatus {
    pub sync: SyncState,
    pub health: Health,
    /// Automatic application stopped (`suspend`, `rollback`).
    #[serde(default)]
    pub suspended: bool,
    /// The revision running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// The last revision the source yielded and was acted on (applied or failed): a failed
    /// one is not tried again until the source yields another or `sync now` asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_at: Option<String>,
    /// The last drift from the applied revision found (what differed) and when (RFC 3339);
    /// kept after it was healed, as the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_at: Option<String>,
}

impl SourceStatus {
    /// Whether a revision should be applied: not suspended, and new or asked for.
    pub fn wants(&self, revision: &str, forced: bool) -> bool {
        !self.suspended && (forced || self.seen.as_deref() != Some(revision))
    }

    /// A new revision is being applied (its services start and are waited for): OutOfSync
    /// and Progressing until `applied` or `failed` says how it ended, as Argo CD shows a sync
    /// in flight. What ran before keeps its revision in `revision`.
    pub fn applying(&mut self) {
        self.sync = SyncState::OutOfSync;
        self.health = Health::Progressing;
    }

    /// `revision` was applied; `healthy`: its services reached running/healthy in time.
    pub fn applied(&mut self, revision: &str, healthy: bool, now: &str) {
        self.sync = SyncState::Synced;
        self.health = if healthy {
            Health::Healthy
        } else {
            Health::Progressing
        };
        self.revision = Some(revision.to_string());
        self.seen = Some(revision.to_string());
        self.applied_at = Some(now.to_string());
        self.error = None;
        self.error_at = None;
    }

    /// `revision` failed to load or converge: what runs is left as it was.
    pub fn failed(&mut self, revision: &str, error: &str, now: &str) {
        self.sync = SyncState::OutOfSync;
        self.health = Health::Degraded;
        self.seen = Some(revision.to_string());
        self.error = Some(format!("revision {revision}: {error}"));
        self.error_at = Some(now.to_string());
    }
}

impl SourceStatus {
    /// The running state differs from the applied revision: OutOfSync until it converges.
    pub fn drifted(&mut self, what: &str, now: &str) {
        self.sync = SyncState::OutOfSync;
        self.drift = Some(what.to_string());
        self.drift_at = Some(now.to_string());
    }

    /// The running state matches the applied revision again (healed, or fixed by hand): a
    /// drift's OutOfSync is lifted; a failed revision's stays.
    pub fn converged(&mut self) {
        if self.sync == SyncState::OutOfSync && self.error.is_none() {
            self.sync = SyncState::Synced;
        }
    }
}

/// What the store keeps per source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceDoc {
    pub spec: SourceSpec,
    #[serde(default)]
    pub status: SourceStatus,
}

/// One applied revision as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    pub seq: i64,
    pub revision: String,
    pub applied_at: String,
    pub plan: String,
}

/// `GET /v1/sources/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceView {
    /// The spec without its webhook secret.
    pub spec: SourceSpec,
    pub status: SourceStatus,
    /// Whether the source has a webhook secret (hooks are accepted).
    #[serde(default)]
    pub webhook: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_revision_is_not_retried_until_it_changes_or_is_forced() {
        let mut s = SourceStatus::default();
        assert!(s.wants("a", false));
        s.applied("a", true, "t1");
        assert_eq!((s.sync, s.health), (SyncState::Synced, Health::Healthy));
        assert!(!s.wants("a", false));
        s.failed("b", "compose.yaml:3:5: bad", "t2");
        assert_eq!((s.sync, s.health), (SyncState::OutOfSync, Health::Degraded));
        assert_eq!(s.revision.as_deref(), Some("a"), "what runs is unchanged");
        assert!(!s.wants("b", false));
        assert!(s.wants("b", true));
        assert!(s.wants("c", false));
        s.suspended = true;
        assert!(!s.wants("c", true));
        s.applied("c", false, "t3");
        assert_eq!(s.health, Health::Progressing);
        assert!(s.error.is_none());
    }

    #[test]
    fn a_revision_in_flight_is_out_of_sync_and_progressing_until_it_ends() {
        let mut s = SourceStatus::default();
        s.applied("r1", true, "t1");
        s.applying();
        assert_eq!(
            (s.sync, s.health),
            (SyncState::OutOfSync, Health::Progressing)
        );
        assert_eq!(s.revision.as_deref(), Some("r1"));
        s.applied("r2", true, "t2");
        assert_eq!((s.sync, s.health), (SyncState::Synced, Health::Healthy));
        s.applying();
        s.failed("r3", "boom", "t3");
        assert_eq!((s.sync, s.health), (SyncState::OutOfSync, Health::Degraded));
    }
}
