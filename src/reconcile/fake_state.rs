//! A state store for reconciler tests: two maps behind a lock, no SQLite. Records go through
//! JSON as in the real store, so a test sees what a daemon would read back.

use super::state::StateStore;
use crate::model::Stack;
use crate::store::{ContainerRecord, StoreError};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemState {
    inner: Mutex<Maps>,
}

#[derive(Default)]
struct Maps {
    projects: BTreeMap<String, String>,
    /// id -> record as JSON.
    containers: BTreeMap<String, String>,
}

impl MemState {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StateStore for MemState {
    fn put_project(&self, stack: &Stack, _now_ms: u64) -> Result<(), StoreError> {
        let doc = serde_json::to_string(stack)?;
        self.maps().projects.insert(stack.name.clone(), doc);
        Ok(())
    }

    fn project(&self, name: &str) -> Result<Option<Stack>, StoreError> {
        match self.maps().projects.get(name) {
            Some(d) => Ok(Some(serde_json::from_str(d)?)),
            None => Ok(None),
        }
    }

    fn delete_project(&self, name: &str) -> Result<(), StoreError> {
        self.maps().projects.remove(name);
        Ok(())
    }

    fn put_container(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        let doc = serde_json::to_string(rec)?;
        self.maps().containers.insert(rec.id.clone(), doc);
        Ok(())
    }

    fn delete_container(&self, id: &str) -> Result<(), StoreError> {
        self.maps().containers.remove(id);
        Ok(())
    }

    fn containers(&self, project: Option<&str>) -> Result<Vec<ContainerRecord>, StoreError> {
        let mut out: Vec<ContainerRecord> = self
            .maps()
            .containers
            .values()
            .map(|d| serde_json::from_str::<ContainerRecord>(d))
            .collect::<Result<_, _>>()?;
        out.retain(|r| project.is_none_or(|p| r.project == p));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
