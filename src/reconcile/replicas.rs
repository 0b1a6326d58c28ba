//! The containers of a scaled service (`scale`, `deploy.replicas`): finding each replica by
//! its number, and waiting until all of them meet a condition (compose: a dependency is
//! healthy when all its containers are).

use super::conditions::{WaitMode, wait_condition, wait_ready};
use super::error::ContainerError;
use super::runtime::Runtime;
use super::supervisor::Handle;
use super::{Engine, engine::ImageSource};
use crate::model::DependCondition;
use crate::plan::replica_number;
use futures_util::future::join_all;

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// Every (non one-off) container of a service with its replica number, lowest first.
    pub(super) fn replicas(&self, project: &str, service: &str) -> Vec<(u32, Handle)> {
        let mut out: Vec<(u32, Handle)> = self
            .handles()
            .values()
            .filter_map(|h| {
                let r = h.status.borrow();
                (r.project == project && r.service == service && !r.one_off)
                    .then(|| (replica_number(&r.name, project, service), h.clone()))
            })
            .collect();
        out.sort_by_key(|(n, _)| *n);
        out
    }

    /// Every (non one-off) container of a service, lowest replica number first.
    pub(super) fn service_handles(&self, project: &str, service: &str) -> Vec<Handle> {
        self.replicas(project, service)
            .into_iter()
            .map(|(_, h)| h)
            .collect()
    }

    /// The container of replica `number` of a service (`exec --index`).
    pub(super) fn replica_handle(
        &self,
        project: &str,
        service: &str,
        number: u32,
    ) -> Option<Handle> {
        self.replicas(project, service)
            .into_iter()
            .find(|(n, _)| *n == number)
            .map(|(_, h)| h)
    }

    /// Resolves once every replica of `service` meets `cond`; the first that cannot fails
    /// it. A service without containers has nothing to wait for.
    pub(super) async fn wait_replicas(
        &self,
        project: &str,
        service: &str,
        cond: DependCondition,
    ) -> Result<(), ContainerError> {
        let handles = self.service_handles(project, service);
        join_all(
            handles
                .iter()
                .map(|h| wait_condition(h.status.clone(), cond)),
        )
        .await
        .into_iter()
        .collect()
    }

    /// `wait_replicas` for `up --wait`.
    pub(super) async fn wait_replicas_ready(
        &self,
        project: &str,
        service: &str,
        mode: WaitMode,
    ) -> Result<(), ContainerError> {
        let handles = self.service_handles(project, service);
        join_all(handles.iter().map(|h| wait_ready(h.status.clone(), mode)))
            .await
            .into_iter()
            .collect()
    }
}

/// Listing order: by name, but replica numbers as numbers (`web-2` before `web-10`).
pub(super) fn by_name_and_number(
    a: &crate::store::ContainerRecord,
    b: &crate::store::ContainerRecord,
) -> std::cmp::Ordering {
    fn key(r: &crate::store::ContainerRecord) -> (&str, u32) {
        match r.name.rsplit_once('-') {
            Some((stem, n)) if !r.one_off => match n.parse() {
                Ok(n) => (stem, n),
                Err(_) => (&r.name, 0),
            },
            _ => (&r.name, 0),
        }
    }
    key(a).cmp(&key(b))
}
