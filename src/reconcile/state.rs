//! What the reconciler needs from the state store, as a trait (as it has one for the
//! runtime): the daemon implements it on the SQLite `store::Store`, tests on a map
//! (`fake::MemState`). The records are the store's types; the engine never opens a database.

use crate::model::Stack;
use crate::store::{ContainerRecord, StoreError};

/// Desired stacks and container records, as the engine reads and saves them. Calls are
/// short and synchronous (a SQLite statement): no lock of the engine's is held across one.
pub trait StateStore: Send + Sync + 'static {
    /// Saves the stack `up` converged to, at `now_ms`.
    fn put_project(&self, stack: &Stack, now_ms: u64) -> Result<(), StoreError>;
    /// The stack last saved for a project.
    fn project(&self, name: &str) -> Result<Option<Stack>, StoreError>;
    fn delete_project(&self, name: &str) -> Result<(), StoreError>;
    /// Saves a container's record, replacing the one of the same id.
    fn put_container(&self, rec: &ContainerRecord) -> Result<(), StoreError>;
    fn delete_container(&self, id: &str) -> Result<(), StoreError>;
    /// Containers of one project, or of all with `None`, ordered by name.
    fn containers(&self, project: Option<&str>) -> Result<Vec<ContainerRecord>, StoreError>;
}
