//! The reconciler's `StateStore` on the SQLite store.

use crate::model::Stack;
use crate::reconcile::StateStore;
use crate::store::{ContainerRecord, Store, StoreError};

impl StateStore for Store {
    fn put_project(&self, stack: &Stack, now_ms: u64) -> Result<(), StoreError> {
        Store::put_project(self, stack, now_ms)
    }

    fn project(&self, name: &str) -> Result<Option<Stack>, StoreError> {
        Store::project(self, name)
    }

    fn delete_project(&self, name: &str) -> Result<(), StoreError> {
        Store::delete_project(self, name)
    }

    fn put_container(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        Store::put_container(self, rec)
    }

    fn delete_container(&self, id: &str) -> Result<(), StoreError> {
        Store::delete_container(self, id)
    }

    fn containers(&self, project: Option<&str>) -> Result<Vec<ContainerRecord>, StoreError> {
        Store::containers(self, project)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine sees through the trait what the store keeps.
    #[test]
    fn the_trait_reaches_the_sqlite_store() {
        let store: std::sync::Arc<dyn StateStore> =
            std::sync::Arc::new(Store::in_memory().expect("store"));
        let stack = Stack {
            name: "p".into(),
            working_dir: "/".into(),
            services: Default::default(),
            ..Default::default()
        };
        store.put_project(&stack, 1).expect("put");
        assert_eq!(
            store.project("p").expect("get").map(|s| s.name),
            Some("p".into())
        );
        assert!(store.containers(Some("p")).expect("list").is_empty());
        store.delete_project("p").expect("delete");
        assert!(store.project("p").expect("get").is_none());
    }
}
