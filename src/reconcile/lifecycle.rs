//! start / stop / restart / kill / down on the services of a project, in dependency order:
//! starts go level by level (each level in parallel, conditions honoured), stops in reverse
//! levels, each level in parallel (compose#9800).

use super::error::{ServiceError, all_ok};
use super::runtime::Runtime;
use super::supervisor::Handle;
use super::{Engine, EngineError, engine::ImageSource};
use crate::store::ContainerRecord;
use futures_util::future::join_all;
use std::collections::BTreeSet;
use std::time::Duration;

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// The project's service containers (not one-offs) selected by `services` (empty = all),
    /// grouped in dependency levels: services unknown to the stored stack come first.
    fn levels_of(
        &self,
        project: &str,
        services: &[String],
    ) -> Result<Vec<Vec<(ContainerRecord, Handle)>>, EngineError> {
        let stack = self.store.project(project)?.ok_or_else(|| {
            EngineError::NotFound(format!(
                "no project named \"{project}\": nothing was brought up with this name (see \"rstack ps -a\")"
            ))
        })?;
        for s in services {
            if !stack.services.contains_key(s) {
                return Err(EngineError::Invalid(format!("no such service: {s}")));
            }
        }
        let wanted = |s: &str| services.is_empty() || services.iter().any(|x| x == s);
        let all: Vec<(ContainerRecord, Handle)> = self
            .handles()
            .values()
            .map(|h| (h.record(), h.clone()))
            .filter(|(r, _)| r.project == project && !r.one_off && wanted(&r.service))
            .collect();
        let graph = crate::graph::build(&stack).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut out: Vec<Vec<(ContainerRecord, Handle)>> = Vec::new();
        let known: BTreeSet<String> = stack.services.keys().cloned().collect();
        out.push(
            all.iter()
                .filter(|(r, _)| !known.contains(&r.service))
                .cloned()
                .collect(),
        );
        for level in graph.levels() {
            out.push(
                all.iter()
                    .filter(|(r, _)| level.contains(&r.service))
                    .cloned()
                    .collect(),
            );
        }
        out.retain(|l| !l.is_empty());
        Ok(out)
    }

    pub async fn start_services(
        &self,
        project: &str,
        services: &[String],
    ) -> Result<(), EngineError> {
        let _g = self.lock(project).await;
        self.start_locked(project, services).await
    }

    /// `start_services` for a caller that holds the project lock.
    async fn start_locked(&self, project: &str, services: &[String]) -> Result<(), EngineError> {
        let levels = self.levels_of(project, services)?;
        if levels.is_empty() && !services.is_empty() {
            return Err(EngineError::NotFound(format!(
                "service(s) {} have no container to start: run \"rstack up\" first",
                services.join(", ")
            )));
        }
        let mut errors = Vec::new();
        for level in levels {
            let res = join_all(level.iter().map(|(rec, h)| async move {
                for (dep, d) in &rec.service_def.depends_on {
                    // Every replica of the dependency (none: nothing to wait for).
                    if let Err(e) = self.wait_replicas(project, dep, d.condition).await
                        && d.required
                    {
                        return Err(ServiceError::wait(&rec.service, e));
                    }
                }
                h.start()
                    .await
                    .map_err(|e| ServiceError::new(&rec.service, e))
            }))
            .await;
            errors.extend(res.into_iter().filter_map(|r| r.err()));
        }
        all_ok(errors)
    }

    pub async fn stop_services(
        &self,
        project: &str,
        services: &[String],
        timeout: Option<Duration>,
    ) -> Result<(), EngineError> {
        let _g = self.lock(project).await;
        self.stop_levels(self.levels_of(project, services)?, timeout)
            .await;
        Ok(())
    }

    /// Stops the levels in reverse order; returns the `pre_stop` hook failures (warnings).
    async fn stop_levels(
        &self,
        levels: Vec<Vec<(ContainerRecord, Handle)>>,
        timeout: Option<Duration>,
    ) -> Vec<String> {
        let mut failures = Vec::new();
        for level in levels.into_iter().rev() {
            failures.extend(
                join_all(level.iter().map(|(_, h)| h.stop(timeout)))
                    .await
                    .into_iter()
                    .flatten(),
            );
        }
        failures
    }

    pub async fn restart_services(
        &self,
        project: &str,
        services: &[String],
        timeout: Option<Duration>,
    ) -> Result<(), EngineError> {
        let services = self.with_restart_dependents(project, services)?;
        // One lock for both halves: nothing (a `down`, say) slips in between.
        let _g = self.lock(project).await;
        self.stop_levels(self.levels_of(project, &services)?, timeout)
            .await;
        self.start_locked(project, &services).await
    }

    /// `services` plus, transitively, the services that depend on one of them with
    /// `restart: true` (compose restarts those with their dependency). Empty stays empty (all).
    fn with_restart_dependents(
        &self,
        project: &str,
        services: &[String],
    ) -> Result<Vec<String>, EngineError> {
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let Some(stack) = self.store.project(project)? else {
            return Ok(services.to_vec());
        };
        let mut out: Vec<String> = services.to_vec();
        let mut i = 0;
        while i < out.len() {
            let dep = out[i].clone();
            for (name, svc) in &stack.services {
                if svc.depends_on.get(&dep).is_some_and(|d| d.restart) && !out.contains(name) {
                    out.push(name.clone());
                }
            }
            i += 1;
        }
        Ok(out)
    }

    pub async fn kill_services(
        &self,
        project: &str,
        services: &[String],
        signal: i32,
    ) -> Result<(), EngineError> {
        let _g = self.lock(project).await;
        let targets: Vec<Handle> = self
            .levels_of(project, services)?
            .into_iter()
            .flatten()
            // Restarting ones too: a kill cancels the pending restart.
            .filter(|(r, _)| r.pid.is_some() || r.state == crate::store::State::Restarting)
            .map(|(_, h)| h)
            .collect();
        let errs: Vec<ServiceError> = join_all(targets.iter().map(|h| async move {
            h.kill(signal)
                .await
                .map_err(|e| ServiceError::new(&h.record().service, e))
        }))
        .await
        .into_iter()
        .filter_map(|r| r.err())
        .collect();
        all_ok(errs)
    }

    /// Stops everything of the project in reverse order and removes it all: containers,
    /// their state, the project record; but the containers named in `opts.keep` (orphans
    /// `down` leaves without `--remove-orphans`: then the project record stays too).
    /// Returns the removed containers' names.
    pub async fn down(
        &self,
        project: &str,
        timeout: Option<Duration>,
        opts: &DownOptions,
    ) -> Result<Vec<String>, EngineError> {
        Ok(self.down_reporting(project, timeout, opts).await?.0)
    }

    /// `down`, with the failures of `pre_stop` hooks beside the removed names: the stop went
    /// on regardless (see the README's hooks paragraph), the user gets a warning.
    pub async fn down_reporting(
        &self,
        project: &str,
        timeout: Option<Duration>,
        opts: &DownOptions,
    ) -> Result<(Vec<String>, Vec<String>), EngineError> {
        let _g = self.lock(project).await;
        let known = self.store.project(project)?.is_some();
        let all = self.records(Some(project))?;
        let kept = all.iter().filter(|r| opts.keep.contains(&r.name)).count();
        let records: Vec<ContainerRecord> = all
            .into_iter()
            .filter(|r| !opts.keep.contains(&r.name))
            .collect();
        if !known && records.is_empty() {
            // As compose: taking down what is not there is not an error.
            return Ok((Vec::new(), Vec::new()));
        }
        // One-offs first, then services in reverse dependency order.
        let oneoffs: Vec<Handle> = self
            .handles()
            .values()
            .filter(|h| {
                let r = h.status.borrow();
                r.project == project && r.one_off && !opts.keep.contains(&r.name)
            })
            .cloned()
            .collect();
        // compose's down leaves one-offs to `--remove-orphans` and runs no hooks of theirs here.
        join_all(oneoffs.iter().map(|h| h.stop_without_hooks(timeout))).await;
        let mut hook_failures = Vec::new();
        if known {
            let mut levels = self.levels_of(project, &[])?;
            for l in levels.iter_mut() {
                l.retain(|(r, _)| !opts.keep.contains(&r.name));
            }
            levels.retain(|l| !l.is_empty());
            hook_failures = self.stop_levels(levels, timeout).await;
        }
        let mut removed = Vec::new();
        // Anonymous volumes go with their containers only with `down -v` (compose's
        // RemoveVolumes); records not stopped by the levels above are stopped here.
        join_all(
            records
                .iter()
                .map(|r| self.remove_container_keeping(r, timeout, |_| !opts.volumes)),
        )
        .await;
        for r in records {
            removed.push(r.name);
        }
        if kept == 0 {
            self.store.delete_project(project)?;
        }
        Ok((removed, hook_failures))
    }

    /// All containers (optionally of one project), but those being removed.
    pub fn list(&self, project: Option<&str>) -> Result<Vec<ContainerRecord>, EngineError> {
        let mut all = self.records(project)?;
        let removing = self.removing();
        all.retain(|r| !removing.contains(&r.id));
        Ok(all)
    }
}

/// What `down` leaves and takes besides the containers.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// Containers left running (orphans, without `--remove-orphans`).
    pub keep: Vec<String>,
    /// `down -v`: the containers' anonymous volumes go with them.
    pub volumes: bool,
}
