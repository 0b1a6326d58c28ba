//! Whose files `cp` and `export` reach: a running container through its init's root, a
//! created or exited one through its overlay, mounted for the copy while the project lock
//! is held, so no `start` (nor `up`, `rm`, `down`) of it can run until the copy ends.

use super::EngineError;
use super::engine::{Engine, ImageSource};
use super::runtime::Runtime;
use crate::store::{ContainerRecord, State};
use tokio::sync::OwnedMutexGuard;

/// The container a copy works on.
pub enum FsTarget {
    Running {
        rec: ContainerRecord,
        pid: i32,
    },
    /// Created, exited or dead: `lock` (the project's) is held until dropped.
    Stopped {
        rec: ContainerRecord,
        lock: OwnedMutexGuard<()>,
    },
}

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    fn fs_record(
        &self,
        project: &str,
        service: &str,
        index: Option<u32>,
        all: bool,
    ) -> Result<ContainerRecord, EngineError> {
        // `cp --all`: a service with no container of its own reaches its `run` containers,
        // the latest started (with --index: the n-th, oldest first).
        if all && self.service_handle(project, service).is_none() {
            let mut runs: Vec<ContainerRecord> = self
                .handles()
                .values()
                .map(|h| h.record())
                .filter(|r| r.project == project && r.service == service && r.one_off)
                .collect();
            runs.sort_by(|a, b| (a.started_at, &a.name).cmp(&(b.started_at, &b.name)));
            let pick = match index {
                Some(n) => runs.into_iter().nth(n.saturating_sub(1) as usize),
                None => runs.pop(),
            };
            if let Some(rec) = pick {
                return Ok(rec);
            }
        }
        let handle = match index {
            Some(n) => self.replica_handle(project, service, n).ok_or_else(|| {
                EngineError::NotFound(format!(
                    "service \"{service}\" of project \"{project}\" has no container with index {n}"
                ))
            })?,
            None => self.service_handle(project, service).ok_or_else(|| {
                EngineError::NotFound(format!(
                    "service \"{service}\" of project \"{project}\" has no container: run \"rstack up\" or \"rstack create\" first"
                ))
            })?,
        };
        Ok(handle.record())
    }

    /// The container of `service` (replica `index`) whose files `cp`/`export` reach.
    pub async fn fs_target(
        &self,
        project: &str,
        service: &str,
        index: Option<u32>,
        all: bool,
    ) -> Result<FsTarget, EngineError> {
        let rec = self.fs_record(project, service, index, all)?;
        if let (State::Running, Some(pid)) = (rec.state, rec.pid) {
            return Ok(FsTarget::Running { rec, pid });
        }
        let lock = self.lock(project).await;
        // Read again under the lock: it may have started (or gone) while we waited.
        let rec = self.fs_record(project, service, index, all)?;
        match (rec.state, rec.pid) {
            (State::Running, Some(pid)) => Ok(FsTarget::Running { rec, pid }),
            (State::Created | State::Exited | State::Dead, _) => {
                Ok(FsTarget::Stopped { rec, lock })
            }
            _ => Err(EngineError::Conflict(format!(
                "container {} is {}: its files cannot be copied until it runs or is stopped (\"rstack stop {service}\")",
                rec.name,
                rec.state.as_str()
            ))),
        }
    }
}
