//! Daemon start: every stored container is supervised again. Live ones (their shims outlive
//! the daemon) are adopted; dead ones are released and restarted by Docker's boot rules in
//! dependency order (compose#10859); `run --rm` leftovers are removed.

use super::conditions::{WaitMode, wait_ready};
use super::engine::ImageSource;
use super::policy::restart_on_boot;
use super::runtime::Runtime;
use super::supervisor::{self, Initial, now_ms};
use super::{Engine, EngineError};
use crate::store::{ContainerRecord, State};
use std::collections::HashMap;
use std::sync::Arc;

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// Starts supervising every known container when the daemon starts: live ones are
    /// adopted, dead ones restarted per policy in dependency order (compose#10859).
    /// Adoption happens before this returns; the restarts by policy go on in the background,
    /// so the API answers while services wait on their dependencies.
    pub async fn boot(self: &Arc<Self>) -> Result<(), EngineError> {
        let mut to_start: HashMap<String, Vec<ContainerRecord>> = HashMap::new();
        let records = self.store.containers(None)?;
        let known: std::collections::HashSet<String> =
            records.iter().map(|r| r.id.clone()).collect();
        for id in self.rt.sweep(&self.containers_dir, &known).await {
            eprintln!("rstack: removed container {id}, which had no record (left by a crash)");
        }
        for mut rec in records {
            let live = match (rec.state, rec.shim_pid, rec.pid) {
                (State::Running, Some(shim), Some(pid)) => self.rt.adopt(&rec.config, shim, pid),
                _ => None,
            };
            if let Some(r) = live {
                let id = rec.id.clone();
                let auto_remove = rec.auto_remove;
                let h = supervisor::spawn(
                    self.rt.clone(),
                    self.store.clone(),
                    rec,
                    Initial::Adopted(r),
                );
                self.handles().insert(id.clone(), h.clone());
                if auto_remove {
                    // Its `run --rm` client is gone with the old daemon: remove it at exit.
                    let me = self.clone();
                    tokio::spawn(async move {
                        let _ = wait_ready(h.status.clone(), WaitMode::Exited).await;
                        // Out of listings first: its exit is not saved, so the stored record
                        // still says running until the removal deletes it.
                        me.hide_removing(&id);
                        me.remove_by_id(&id).await;
                    });
                }
                continue;
            }
            // Whatever the record says, a daemon killed during a start may have left that
            // run's shim alive, unrecorded: it must be gone before the container is started
            // again (same overlay and cgroup) or removed.
            if !matches!(rec.state, State::Running | State::Restarting) {
                let _ = self.rt.release(&rec.config).await;
            }
            if matches!(rec.state, State::Running | State::Restarting) {
                let st = self.rt.recorded_exit(&rec.config);
                rec.state = State::Exited;
                rec.pid = None;
                rec.shim_pid = None;
                rec.exit_code = Some(st.as_ref().map(|s| s.code).unwrap_or(255));
                rec.oom_killed = st.as_ref().is_some_and(|s| s.oom_killed);
                rec.finished_at = Some(st.map(|s| s.finished_at_ms).unwrap_or_else(now_ms));
                // The run is over: free its processes, mounts and cgroups, but keep the
                // writable layer and log, as a daemon or host restart must not lose them.
                let _ = self.rt.release(&rec.config).await;
                self.store.put_container(&rec)?;
            }
            if rec.one_off && rec.auto_remove {
                // A `run --rm` that ended while no daemon watched it.
                self.remove_container(&rec, None).await;
                continue;
            }
            let restart = !rec.one_off
                && restart_on_boot(rec.service_def.restart, rec.exit_code, rec.stopped_by_user);
            let id = rec.id.clone();
            let h = supervisor::spawn(
                self.rt.clone(),
                self.store.clone(),
                rec.clone(),
                Initial::Idle,
            );
            self.handles().insert(id, h);
            if restart {
                to_start.entry(rec.project.clone()).or_default().push(rec);
            }
        }
        for (project, recs) in to_start {
            let services: Vec<String> = recs.iter().map(|r| r.service.clone()).collect();
            let me = self.clone();
            tokio::spawn(async move {
                if let Err(e) = me.start_services(&project, &services).await {
                    eprintln!("rstack: restarting project {project} at boot: {e}");
                }
            });
        }
        Ok(())
    }
}
