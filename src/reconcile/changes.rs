//! A cheap change signal: a counter bumped each time a container record is saved or removed,
//! which the event stream and the sync controller's drift check wait on instead of polling.
//!
//! The engine wraps its state store in [`Notifying`], so every writer of container records
//! (`up`, lifecycle operations, the supervisors on state transitions, boot) raises it
//! without knowing. A `watch` channel coalesces bursts: a waiter wakes once for many bumps.

use super::state::StateStore;
use crate::model::Stack;
use crate::store::{ContainerRecord, StoreError};
use std::sync::Arc;
use tokio::sync::watch;

/// The state store, forwarding every call, bumping `changes` after a container record changed.
pub(super) struct Notifying {
    pub inner: Arc<dyn StateStore>,
    pub changes: watch::Sender<u64>,
}

impl Notifying {
    fn bump<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if r.is_ok() {
            self.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
        r
    }
}

impl StateStore for Notifying {
    fn put_project(&self, stack: &Stack, now_ms: u64) -> Result<(), StoreError> {
        self.inner.put_project(stack, now_ms)
    }
    fn project(&self, name: &str) -> Result<Option<Stack>, StoreError> {
        self.inner.project(name)
    }
    fn delete_project(&self, name: &str) -> Result<(), StoreError> {
        self.inner.delete_project(name)
    }
    fn put_container(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        self.bump(self.inner.put_container(rec))
    }
    fn delete_container(&self, id: &str) -> Result<(), StoreError> {
        self.bump(self.inner.delete_container(id))
    }
    fn containers(&self, project: Option<&str>) -> Result<Vec<ContainerRecord>, StoreError> {
        self.inner.containers(project)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::fake_state::MemState;

    #[test]
    fn a_record_write_bumps_the_signal_and_a_read_does_not() {
        let (tx, mut rx) = watch::channel(0u64);
        let s = Notifying {
            inner: Arc::new(MemState::default()),
            changes: tx,
        };
        let _ = s.containers(None);
        assert!(!rx.has_changed().unwrap());
        let _ = s.delete_container("nope");
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        assert!(!rx.has_changed().unwrap());
    }
}
