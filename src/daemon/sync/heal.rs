//! Drift and self-heal. One task for all sources waits on the engine's change signal (a
//! container record saved or removed), then asks the engine for a dry-run `up` of each
//! source's applied revision (its stored Stack in the history): no action means no drift.
//! Actions are described ("service b: container removed") in the source's status and as a
//! `drift` event. A source with `self_heal` (and not suspended) converges back: the applied
//! Stack is applied again as the source task applies one, after a backoff (2 s, doubling,
//! capped at 5 min, back to 2 s when a heal held for a minute), and a `heal` event follows.
//! Idle, nothing runs: the signal only fires when containers change.

use super::Controller;
use crate::api::types::{ActionReport, UpRequest};
use crate::source::status::Health;
use crate::store::{ContainerRecord, State};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The first wait before a heal, doubled after each heal up to [`CAP`].
const FIRST: Duration = Duration::from_secs(2);
const CAP: Duration = Duration::from_secs(300);
/// A heal followed by this long without drift held: the backoff starts again at [`FIRST`].
const HOLD: Duration = Duration::from_secs(60);
/// An apply saves many records in a burst: look once after it settles.
const COALESCE: Duration = Duration::from_millis(100);

/// One source's heal backoff.
#[derive(Debug)]
pub(super) struct Backoff {
    delay: Duration,
    /// When the drift seen is healed, if still there.
    due: Option<Instant>,
    healed_at: Option<Instant>,
    /// The drift last reported (not reported again while it lasts).
    reported: Option<String>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            delay: FIRST,
            due: None,
            healed_at: None,
            reported: None,
        }
    }
}

impl Backoff {
    /// Drift seen at `now`: when to heal it.
    pub(super) fn drifted(&mut self, now: Instant) -> Instant {
        if let Some(due) = self.due {
            return due;
        }
        if self
            .healed_at
            .is_some_and(|h| now.duration_since(h) >= HOLD)
        {
            self.delay = FIRST;
        }
        let due = now + self.delay;
        self.due = Some(due);
        due
    }

    /// A heal was applied at `now`: the next waits twice as long.
    pub(super) fn healed(&mut self, now: Instant) {
        self.due = None;
        self.healed_at = Some(now);
        self.delay = (self.delay * 2).min(CAP);
    }

    /// No drift: nothing to heal.
    pub(super) fn converged(&mut self) {
        self.due = None;
        self.reported = None;
    }
}

/// What differs, one line per service, from a dry-run `up`'s actions and the project's
/// records. Empty: no drift.
pub(super) fn describe(actions: &[ActionReport], records: &[ContainerRecord]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in actions {
        let why = match a.action.as_str() {
            "running" => continue,
            "created" => "container removed".to_string(),
            "started" => match records.iter().find(|r| r.name == a.container) {
                Some(r) if r.state == State::Created => "not started".to_string(),
                Some(r) => match r.exit_code {
                    Some(code) => format!("stopped (exit code {code})"),
                    None => "stopped".to_string(),
                },
                None => "stopped".to_string(),
            },
            "recreated" => format!("config changed: {}", a.reasons.join(", ")),
            "removed" if a.reasons.iter().any(|r| r == "orphan") => {
                "not in the revision".to_string()
            }
            "removed" => "a replica above its scale".to_string(),
            other => other.to_string(),
        };
        let line = format!("service {}: {why}", a.service);
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// The heal task: runs for the daemon's life.
pub(super) async fn run(ctl: Arc<Controller>) {
    let Ok(st) = ctl.server() else { return };
    let mut changes = st.engine.changes();
    drop(st);
    let mut backoff: HashMap<String, Backoff> = HashMap::new();
    loop {
        let due = backoff.values().filter_map(|b| b.due).min();
        tokio::select! {
            r = changes.changed() => {
                if r.is_err() {
                    return;
                }
                tokio::time::sleep(COALESCE).await;
            }
            _ = sleep_until(due) => {}
        }
        changes.borrow_and_update();
        let names: Vec<String> = ctl.docs_lock().keys().cloned().collect();
        backoff.retain(|n, _| names.contains(n));
        for name in names {
            let b = backoff.entry(name.clone()).or_default();
            check(&ctl, &name, b).await;
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Looks for drift of one source, reports it, and heals it when due.
async fn check(ctl: &Controller, name: &str, b: &mut Backoff) {
    let Some((drift, stack, revision, heal)) = drift_of(ctl, name).await else {
        b.converged();
        return;
    };
    if drift.is_empty() {
        if b.reported.is_some() {
            let _ = ctl.update(name, |d| d.status.converged());
        }
        b.converged();
        return;
    }
    let text = drift.join("; ");
    if b.reported.as_deref() != Some(&text) {
        let now = super::rfc3339(super::now_ms());
        let _ = ctl.update(name, |d| d.status.drifted(&text, &now));
        ctl.emit(
            name,
            "drift",
            vec![("revision", revision.clone()), ("drift", text.clone())],
        );
        b.reported = Some(text.clone());
    }
    if !heal {
        b.due = None;
        return;
    }
    let now = Instant::now();
    if b.drifted(now) > now {
        return;
    }
    b.healed(now);
    if !apply(ctl, name, &revision, stack, &text).await {
        // Failed: tried again after the (doubled) backoff, change or not.
        b.drifted(Instant::now());
    }
}

/// The drift of a source from its applied revision, that revision's Stack and id, and
/// whether it is to be healed; None when there is nothing to compare with.
async fn drift_of(
    ctl: &Controller,
    name: &str,
) -> Option<(Vec<String>, crate::model::Stack, String, bool)> {
    // Not while an apply runs: its half-done state is no drift.
    let _guard = ctl.apply.lock().await;
    let doc = ctl.doc(name).ok()?;
    let revision = doc.status.revision.clone()?;
    let entry = ctl
        .store
        .history(name)
        .ok()?
        .into_iter()
        .find(|h| h.revision == revision)?;
    let st = ctl.server().ok()?;
    let req = UpRequest {
        stack: entry.stack.clone(),
        remove_orphans: doc.spec.prune,
        dry_run: true,
        ..Default::default()
    };
    let plan = st.engine.up(req).await.ok()?;
    let records = st.engine.list(Some(&entry.stack.name)).unwrap_or_default();
    let heal = doc.spec.self_heal && !doc.status.suspended;
    Some((
        describe(&plan.actions, &records),
        entry.stack,
        revision,
        heal,
    ))
}

/// Applies the applied revision's Stack again, as the source task applies one (without a
/// new history entry: the revision is the same). False when the apply failed.
async fn apply(
    ctl: &Controller,
    name: &str,
    revision: &str,
    stack: crate::model::Stack,
    why: &str,
) -> bool {
    let _guard = ctl.apply.lock().await;
    let Ok(doc) = ctl.doc(name) else { return true };
    // Changed meanwhile (a new revision, suspended): the next look decides again.
    if doc.status.revision.as_deref() != Some(revision) || doc.status.suspended {
        return true;
    }
    let Ok(st) = ctl.server() else { return true };
    let req = UpRequest {
        stack,
        wait: true,
        remove_orphans: doc.spec.prune,
        wait_timeout: Some(super::WAIT_TIMEOUT_SECS),
        ..Default::default()
    };
    let result = crate::api::server::apply_up(&st, req).await;
    let now = super::rfc3339(super::now_ms());
    match result {
        Ok(_) => {
            let _ = ctl.update(name, |d| {
                if d.status
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with(HEAL_ERROR))
                {
                    d.status.error = None;
                    d.status.error_at = None;
                }
                d.status.converged();
                if d.status.error.is_none() {
                    d.status.health = Health::Healthy;
                }
            });
            ctl.emit(
                name,
                "heal",
                vec![
                    ("revision", revision.to_string()),
                    ("drift", why.to_string()),
                ],
            );
            true
        }
        Err(e) => {
            let error = format!("{HEAL_ERROR} of revision {revision}: {e}");
            let _ = ctl.update(name, |d| {
                d.status.error = Some(error.clone());
                d.status.error_at = Some(now.clone());
                d.status.health = Health::Degraded;
            });
            ctl.emit(
                name,
                "fail",
                vec![("revision", revision.to_string()), ("error", error)],
            );
            false
        }
    }
}

const HEAL_ERROR: &str = "self-heal";

#[cfg(test)]
mod tests {
    use super::*;

    fn report(service: &str, action: &str, reasons: &[&str]) -> ActionReport {
        ActionReport {
            container: format!("p-{service}-1"),
            service: service.into(),
            action: action.into(),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn drift_says_what_differs_per_service() {
        let actions = [
            report("a", "running", &[]),
            report("b", "created", &[]),
            report("c", "started", &[]),
            report("web", "recreated", &["environment", "image"]),
            report("old", "removed", &["orphan"]),
        ];
        assert_eq!(
            describe(&actions, &[]),
            [
                "service b: container removed",
                "service c: stopped",
                "service web: config changed: environment, image",
                "service old: not in the revision",
            ]
        );
        assert!(describe(&[report("a", "running", &[])], &[]).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_to_five_minutes_and_resets_after_a_heal_that_held() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.drifted(t0), t0 + FIRST);
        // Seen again before it is due: the same time.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.drifted(Instant::now()), t0 + FIRST);
        let mut waits = Vec::new();
        for _ in 0..10 {
            let now = Instant::now();
            let due = b.drifted(now);
            waits.push((due - now).as_secs());
            tokio::time::advance(due - now).await;
            b.healed(Instant::now());
        }
        assert_eq!(waits, [1, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        // The last heal held for a minute: the next drift waits 2 s again.
        tokio::time::advance(HOLD).await;
        let now = Instant::now();
        assert_eq!(b.drifted(now) - now, FIRST);
        b.converged();
        assert!(b.due.is_none());
    }
}
