//! Containers created but not started: `up --no-start` and `create` (compose creates every
//! container it can before it starts any; these stop there).

use super::engine::ImageSource;
use super::error::{Cause, ServiceError};
use super::request::ActionReport;
use super::runtime::Runtime;
use super::supervisor::{self, Initial};
use super::{Engine, EngineError};
use crate::model::Stack;
use crate::plan::{Action, ResolvedImage};

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// Saves and supervises a new container of `service` (replica `number`), not started:
    /// `ps -a` lists it as created, and `start`/`up` start it. Returns its name.
    pub(super) fn create_idle(
        &self,
        stack: &Stack,
        service: &str,
        image: &ResolvedImage,
        number: u32,
    ) -> Result<String, EngineError> {
        let rec = self.new_record(stack, service, image, None, number)?;
        self.create_idle_record(rec)
    }

    /// Saves and supervises `rec`, not started. Returns its name.
    fn create_idle_record(
        &self,
        rec: crate::store::ContainerRecord,
    ) -> Result<String, EngineError> {
        self.store.put_container(&rec)?;
        let (id, name) = (rec.id.clone(), rec.name.clone());
        let h = supervisor::spawn(self.rt.clone(), self.store.clone(), rec, Initial::Idle);
        self.handles().insert(id, h);
        Ok(name)
    }

    /// One service's replicas under `up --no-start`: no dependency is waited for, new and
    /// changed replicas are created, none is started.
    pub(super) async fn converge_no_start(
        &self,
        stack: &Stack,
        svc: &str,
        actions: &[&Action],
        image: &ResolvedImage,
        how: super::anon::Replacing,
    ) -> Result<Vec<ActionReport>, ServiceError> {
        let report = |c: String, a: &str| ActionReport {
            container: c,
            service: svc.to_string(),
            action: a.to_string(),
            reasons: Vec::new(),
        };
        let fail = |e: EngineError| ServiceError::new(svc, Cause::from(e));
        let mut reports = Vec::new();
        for a in actions {
            match a {
                Action::Create { number, .. } => {
                    let name = self.create_idle(stack, svc, image, *number).map_err(fail)?;
                    reports.push(report(name, "created"));
                }
                Action::Recreate { old, number, .. } => {
                    let rec = self
                        .replace(stack, svc, image, old, *number, how)
                        .await
                        .map_err(fail)?;
                    let name = self.create_idle_record(rec).map_err(fail)?;
                    reports.push(report(name, "recreated"));
                }
                Action::Keep { id, .. } => {
                    if let Some(h) = self.handle(id) {
                        reports.push(report(h.record().name, "running"));
                    }
                }
                // Already created, left as it is.
                Action::Start { .. } | Action::ScaleDown { .. } | Action::RemoveOrphan { .. } => {}
            }
        }
        Ok(reports)
    }
}
