//! Project operations: up (converge to a stack), down, start/stop/restart/kill, one-off runs,
//! exec lookups, and adoption of live containers when the daemon starts.
//!
//! Services start level by level of the dependency graph, each level in parallel, each service
//! after its own depends_on conditions hold; stop goes in reverse levels. Operations on one
//! project are serialized by a per-project lock.

use super::EngineError;
use super::conditions::WaitMode;
use super::error::{Cause, ContainerError, ServiceError, all_ok};
pub use super::images::ImageSource;
use super::request::{ActionReport, UpRequest, UpResponse};
use super::runtime::{ExecSpec, Runtime};
use super::state::StateStore;
use super::supervisor::{self, Handle, Initial};
use crate::model::{DependCondition, RestartPolicy, Stack};
use crate::plan::{self, Action, ContainerIdentity, Desired, Observed, ResolvedImage};
use crate::store::{ContainerRecord, State};
use futures_util::future::join_all;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedMutexGuard, oneshot};

pub struct Engine<R: Runtime, I: ImageSource> {
    pub(super) rt: Arc<R>,
    images: I,
    pub(super) store: Arc<dyn StateStore>,
    pub(super) containers_dir: PathBuf,
    handles: Mutex<HashMap<String, Handle>>,
    /// Containers being removed: no longer listed, though their record stays until the
    /// removal is done (so a daemon that dies meanwhile finishes it at boot).
    removing: Mutex<HashSet<String>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Bumped when a container record is saved or removed (see `changes`).
    changes: tokio::sync::watch::Sender<u64>,
}

static ID_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A 64-hex container id, unique per daemon run and across restarts (time + pid + counter).
fn new_id() -> String {
    let mut h = Sha256::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(ID_COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hex::encode(h.finalize())
}

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    pub fn new(rt: Arc<R>, images: I, store: Arc<dyn StateStore>, containers_dir: PathBuf) -> Self {
        let (changes, _) = tokio::sync::watch::channel(0);
        let store = Arc::new(super::changes::Notifying {
            inner: store,
            changes: changes.clone(),
        });
        Engine {
            rt,
            images,
            store,
            changes,
            containers_dir,
            handles: Mutex::new(HashMap::new()),
            removing: Mutex::new(HashSet::new()),
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// Wakes its holder after container records changed (created, removed, a state
    /// transition): the cheap signal to look again, instead of polling.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn store(&self) -> &dyn StateStore {
        &*self.store
    }

    pub(super) fn handles(&self) -> std::sync::MutexGuard<'_, HashMap<String, Handle>> {
        self.handles.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn handle(&self, id: &str) -> Option<Handle> {
        self.handles().get(id).cloned()
    }

    /// The containers of a project (or all), each as its supervisor knows it now: a
    /// supervisor publishes a change before it saves it, so the store may lag behind.
    pub(super) fn records(
        &self,
        project: Option<&str>,
    ) -> Result<Vec<ContainerRecord>, EngineError> {
        let saved = self.store.containers(project)?;
        let handles = self.handles();
        let stored: HashSet<&str> = saved.iter().map(|r| r.id.as_str()).collect();
        // A `run --rm` one-off is saved once it runs (see `create_and_start`).
        let unsaved: Vec<ContainerRecord> = handles
            .iter()
            .filter(|(id, _)| !stored.contains(id.as_str()))
            .map(|(_, h)| h.record())
            .filter(|r| project.is_none_or(|p| r.project == p))
            .collect();
        let mut all: Vec<ContainerRecord> = saved
            .into_iter()
            .map(|r| handles.get(&r.id).map(|h| h.record()).unwrap_or(r))
            .collect();
        all.extend(unsaved);
        all.sort_by(super::replicas::by_name_and_number);
        Ok(all)
    }

    pub(super) async fn lock(&self, project: &str) -> OwnedMutexGuard<()> {
        let m = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(project.to_string()).or_default().clone()
        };
        m.lock_owned().await
    }

    /// The service's (non one-off) container handle of the lowest replica number, if it
    /// has one.
    pub(super) fn service_handle(&self, project: &str, service: &str) -> Option<Handle> {
        self.service_handles(project, service).into_iter().next()
    }

    async fn resolve_images(
        &self,
        stack: &Stack,
        names: &BTreeSet<String>,
    ) -> Result<HashMap<String, ResolvedImage>, EngineError> {
        let mut out = HashMap::new();
        let mut errs = Vec::new();
        for name in names {
            let Some(svc) = stack.services.get(name) else {
                continue;
            };
            match self.images.resolve(&svc.image).await {
                Ok(img) => {
                    out.insert(name.clone(), img);
                }
                Err(e) => errs.push(ServiceError::new(name, e)),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(EngineError::Failed(errs))
        }
    }

    /// The images of `names` that are present (`up --dry-run`: the others would be pulled).
    async fn resolve_present(
        &self,
        stack: &Stack,
        names: &BTreeSet<String>,
    ) -> HashMap<String, ResolvedImage> {
        let mut out = HashMap::new();
        for name in names {
            if let Some(svc) = stack.services.get(name)
                && let Ok(img) = self.images.resolve(&svc.image).await
            {
                out.insert(name.clone(), img);
            }
        }
        out
    }

    /// Builds (but does not start or save) a container record for a service: replica
    /// `number` (`<project>-<service>-<number>`), or a one-off (`number` unused).
    /// `container_name` is unique on the host: another project's (or service's) container
    /// by that name refuses this one.
    fn check_container_name(
        &self,
        name: &str,
        project: &str,
        service: &str,
    ) -> Result<(), EngineError> {
        let clash = self
            .store
            .containers(None)?
            .into_iter()
            .find(|r| r.name == name && (r.project != project || r.service != service));
        match clash {
            Some(r) => Err(EngineError::Conflict(format!(
                "service \"{service}\": container name \"{name}\" is already in use by service \"{}\" of project \"{}\"; choose another container_name, or remove that container first",
                r.service, r.project
            ))),
            None => Ok(()),
        }
    }

    pub(super) fn new_record(
        &self,
        stack: &Stack,
        service: &str,
        image: &ResolvedImage,
        one_off: Option<&[String]>,
        number: u32,
    ) -> Result<ContainerRecord, EngineError> {
        let svc = stack
            .services
            .get(service)
            .ok_or_else(|| EngineError::Invalid(format!("no such service: {service}")))?;
        let id = new_id();
        let state_dir = self.containers_dir.join(&id);
        let mut def = svc.clone();
        let name = match one_off {
            // One-off containers never restart (compose's rule for `run`).
            Some(_) => {
                def.restart = RestartPolicy::No;
                format!("{}-{}-run-{}", stack.name, service, &id[..12])
            }
            None => match &svc.options.container_name {
                Some(n) => {
                    if number > 1 {
                        return Err(EngineError::Invalid(format!(
                            "service \"{service}\" has container_name \"{n}\": it runs one container only"
                        )));
                    }
                    self.check_container_name(n, &stack.name, service)?;
                    n.clone()
                }
                None => format!("{}-{}-{number}", stack.name, service),
            },
        };
        let who = ContainerIdentity {
            id: &id,
            project: &stack.name,
            name: &name,
            state_dir: &state_dir,
        };
        let mut config = plan::container_config(&who, &def, image, one_off)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if let Some(req) = config.network.request.as_mut() {
            plan::net::name_service_join(req, &def, |n| stack.services.get(n));
        }
        Ok(ContainerRecord {
            config_hash: plan::config_hash(svc, &image.id),
            id,
            name,
            project: stack.name.clone(),
            service: service.to_string(),
            one_off: one_off.is_some(),
            image: svc.image.clone(),
            image_id: image.id.clone(),
            service_def: def,
            config,
            state: State::Created,
            pid: None,
            shim_pid: None,
            exit_code: None,
            oom_killed: false,
            restarts: 0,
            started_at: None,
            finished_at: None,
            health: None,
            stopped_by_user: false,
            error: None,
            restart_delay_ms: None,
            auto_remove: false,
            health_log: Vec::new(),
            failing_streak: 0,
        })
    }

    /// Saves, supervises and starts a new container.
    pub(super) async fn create_and_start(
        &self,
        rec: ContainerRecord,
    ) -> Result<Handle, ContainerError> {
        // A record is saved before its container starts, so that whatever runs is known at
        // the next boot. A `run --rm` one-off is the exception: its supervisor saves it once
        // it runs, and the start does not wait for SQLite. A daemon that dies in between
        // leaves a state directory without a record, which the next boot removes, stopping
        // what runs there: what `--rm` asked for anyway.
        if !rec.is_ephemeral() {
            self.store.put_container(&rec)?;
        }
        let id = rec.id.clone();
        let (reply, rx) = oneshot::channel();
        let handle = supervisor::spawn(
            self.rt.clone(),
            self.store.clone(),
            rec,
            Initial::Start(reply),
        );
        self.handles().insert(id, handle.clone());
        rx.await.map_err(|_| ContainerError::Gone)??;
        Ok(handle)
    }

    /// The new replicas among `actions`, created (saved and supervised) but not started.
    /// Best effort: the caller reports the failure that stopped the start.
    async fn create_without_start(
        &self,
        stack: &Stack,
        svc: &str,
        actions: &[&Action],
        images: &HashMap<String, ResolvedImage>,
    ) {
        let Some(img) = images.get(svc) else {
            return;
        };
        for a in actions {
            let Action::Create { number, .. } = a else {
                continue;
            };
            if let Err(e) = self.create_idle(stack, svc, img, *number) {
                eprintln!("rstack: creating a container of {svc}: {e}");
            }
        }
    }

    /// Stops (if needed) and removes one container with everything it left behind.
    pub(super) async fn remove_container(&self, rec: &ContainerRecord, timeout: Option<Duration>) {
        self.remove_container_keeping(rec, timeout, |_| false).await;
    }

    /// Removes a container, keeping the anonymous volumes `keep` says yes to (`rm`/`down`
    /// without `-v`, a recreate handing them to the new container).
    pub(super) async fn remove_container_keeping(
        &self,
        rec: &ContainerRecord,
        timeout: Option<Duration>,
        keep: impl Fn(&str) -> bool,
    ) {
        let handle = self.handles().remove(&rec.id);
        // No pre_stop here: a recreate, `rm -f` or an orphan's removal runs none in compose;
        // `stop`, `down` and a scale-down stop the container (with its hooks) first.
        if let Some(h) = handle {
            h.stop_without_hooks(timeout).await;
        }
        let cfg = super::anon::keeping(&rec.config, keep);
        if let Err(e) = self.rt.remove(&cfg).await {
            eprintln!("rstack: removing container {}: {e}", rec.name);
        }
        if let Err(e) = self.store.delete_container(&rec.id) {
            eprintln!("rstack: forgetting container {}: {e}", rec.name);
        }
    }

    /// Converges a project to `req.stack` (see `docker compose up`).
    pub async fn up(&self, req: UpRequest) -> Result<UpResponse, EngineError> {
        let stack = req.stack;
        let guard = self.lock(&stack.name).await;
        let graph = crate::graph::build(&stack).map_err(|e| EngineError::Invalid(e.to_string()))?;
        for s in &req.services {
            if !stack.services.contains_key(s) {
                return Err(EngineError::Invalid(format!(
                    "no such service: {s} (the stack has: {})",
                    stack
                        .services
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let selected: BTreeSet<String> = if req.services.is_empty() {
            stack.services.keys().cloned().collect()
        } else if req.no_deps {
            req.services.iter().cloned().collect()
        } else {
            let names: Vec<&str> = req.services.iter().map(String::as_str).collect();
            graph
                .closure(&names)
                .map_err(|e| EngineError::Invalid(e.to_string()))?
        };
        let images = if req.dry_run {
            // A missing image would be pulled or built first: plan without it.
            self.resolve_present(&stack, &selected).await
        } else {
            self.resolve_images(&stack, &selected).await?
        };
        let desired: Vec<Desired> = selected
            .iter()
            .filter_map(|n| {
                let hash = match images.get(n) {
                    Some(img) => plan::config_hash(&stack.services[n], &img.id),
                    None if req.dry_run => String::new(),
                    None => return None,
                };
                Some(Desired {
                    service: n.clone(),
                    hash,
                    replicas: stack.services[n].replicas(),
                })
            })
            .collect();
        let records = self.records(Some(&stack.name))?;
        let observed: Vec<Observed> = records
            .iter()
            .filter(|r| !r.one_off)
            .map(|r| Observed {
                id: r.id.clone(),
                service: r.service.clone(),
                hash: r.config_hash.clone(),
                running: matches!(r.state, State::Running | State::Restarting),
                number: plan::replica_number(&r.name, &r.project, &r.service),
            })
            .collect();
        let mut warnings = Vec::new();
        let orphan_names: Vec<String> = plan::orphans(&desired, &observed)
            .iter()
            .filter(|o| !stack.services.contains_key(&o.service))
            .filter_map(|o| {
                records
                    .iter()
                    .find(|r| r.id == o.id)
                    .map(|r| r.name.clone())
            })
            .collect();
        let actions = plan::diff(&desired, &observed, req.force_recreate, req.remove_orphans);
        let policy = plan::RecreatePolicy {
            no_recreate: req.no_recreate,
            always_recreate_deps: req.always_recreate_deps,
            targets: &req.services,
        };
        let mut actions = plan::apply_recreate_policy(actions, &observed, policy);
        // Services outside the selection are not orphans: keep only real orphans' removal.
        actions.retain(|a| match a {
            Action::RemoveOrphan { id } => records
                .iter()
                .any(|r| &r.id == id && !stack.services.contains_key(&r.service)),
            _ => true,
        });
        // Before anything is removed, created or started: a container_name another
        // project's container holds refuses the whole `up`, not just its service.
        for n in &selected {
            if let Some(cn) = &stack.services[n].options.container_name {
                self.check_container_name(cn, &stack.name, n)?;
            }
        }
        if !orphan_names.is_empty() && !req.remove_orphans {
            warnings.push(super::request::orphan_warning(&orphan_names));
        }
        if req.dry_run {
            for n in selected.iter().filter(|n| !images.contains_key(*n)) {
                let image = stack
                    .services
                    .get(n)
                    .map(|s| s.image.as_str())
                    .unwrap_or("");
                warnings.push(format!(
                    "service \"{n}\": image \"{image}\" is not present: up would pull or build it first"
                ));
            }
            let forced = super::dry_run::Forced {
                force_recreate: req.force_recreate,
                always_recreate_deps: req.always_recreate_deps,
            };
            return Ok(UpResponse {
                actions: super::dry_run::reports(&stack, &actions, &records, &images, forced),
                warnings,
            });
        }
        self.put_project_keeping_files(&stack)?;

        let mut reports = Vec::new();
        for a in &actions {
            if let Action::RemoveOrphan { id } = a
                && let Some(r) = records.iter().find(|r| &r.id == id)
            {
                // As compose (no RemoveVolumes for orphans): its anonymous volumes stay,
                // tied to the project (`down -v` and `volume prune` take them).
                self.remove_container_keeping(r, None, |_| true).await;
                reports.push(ActionReport {
                    container: r.name.clone(),
                    service: r.service.clone(),
                    action: "removed".into(),
                    reasons: Vec::new(),
                });
            }
        }
        let mut by_service: HashMap<&str, Vec<&Action>> = HashMap::new();
        for a in &actions {
            if let Some(service) = a.service() {
                by_service.entry(service).or_default().push(a);
            }
        }
        let mut changed: HashSet<String> = HashSet::new();
        let mut failed: HashSet<String> = HashSet::new();
        let mut errors = Vec::new();
        let late_warnings = Mutex::new(Vec::new());
        for level in graph.levels() {
            let todo: Vec<&String> = level.iter().filter(|s| selected.contains(*s)).collect();
            let results = join_all(todo.iter().map(|svc| {
                let action = by_service.get(svc.as_str()).map(Vec::as_slice);
                let so_far = SoFar {
                    changed: &changed,
                    failed: &failed,
                    warnings: &late_warnings,
                    no_start: req.no_start,
                    replacing: super::anon::Replacing {
                        renew_anon: req.renew_anon_volumes,
                        stop_timeout: req.stop_timeout.map(Duration::from_secs),
                    },
                    only: req.no_deps.then_some(&selected),
                };
                self.converge_one(&stack, svc, action, &images, so_far)
            }))
            .await;
            for (svc, res) in todo.into_iter().zip(results) {
                match res {
                    Ok(reps) => {
                        if replicas_changed(&reps) {
                            changed.insert(svc.clone());
                        }
                        reports.extend(reps);
                    }
                    Err(Outcome::Fail(e)) => {
                        failed.insert(svc.clone());
                        errors.push(e);
                    }
                }
            }
        }
        warnings.extend(
            late_warnings
                .into_inner()
                .unwrap_or_else(|p| p.into_inner()),
        );
        if !errors.is_empty() {
            return Err(EngineError::Failed(errors));
        }
        // Waiting needs no lock: `stop`/`down` must not queue behind a slow healthcheck.
        drop(guard);
        if req.wait {
            let waited = self.wait_stack(&stack, &selected);
            match req.wait_timeout {
                // compose's message (pkg/compose/start.go), Go's duration format.
                Some(t) => tokio::time::timeout(std::time::Duration::from_secs(t), waited)
                    .await
                    .map_err(|_| {
                        EngineError::Conflict(format!("application not healthy after {t}s"))
                    })??,
                None => waited.await?,
            }
        }
        Ok(UpResponse {
            actions: reports,
            warnings,
        })
    }

    /// One service of `up`: remove the replicas above its scale, wait for its
    /// dependencies, then act on each replica (in parallel, as compose).
    async fn converge_one(
        &self,
        stack: &Stack,
        svc: &str,
        actions: Option<&[&Action]>,
        images: &HashMap<String, ResolvedImage>,
        so_far: SoFar<'_>,
    ) -> Result<Vec<ActionReport>, Outcome> {
        let SoFar {
            changed,
            failed,
            warnings,
            no_start,
            replacing,
            only,
        } = so_far;
        let report = |c: &str, a: &str| ActionReport {
            container: c.to_string(),
            service: svc.to_string(),
            action: a.to_string(),
            reasons: Vec::new(),
        };
        let mut reports = Vec::new();
        let actions = actions.unwrap_or_default();
        for a in actions {
            if let Action::ScaleDown { id, .. } = a
                && let Some(h) = self.handle(id)
            {
                let rec = h.record();
                // compose's scale-down stops with the service's pre_stop hooks, and keeps the
                // replica's anonymous volumes.
                h.stop(None).await;
                self.remove_container_keeping(&rec, None, |_| true).await;
                reports.push(report(&rec.name, "removed"));
            }
        }
        let actions: Vec<&Action> = actions
            .iter()
            .copied()
            .filter(|a| !matches!(a, Action::ScaleDown { .. }))
            .collect();
        if actions.is_empty() {
            return Ok(reports);
        }
        if no_start {
            let img = images.get(svc).ok_or_else(|| {
                Outcome::Fail(ServiceError::new(
                    svc,
                    Cause::Internal("image not resolved".into()),
                ))
            })?;
            let created = self
                .converge_no_start(stack, svc, &actions, img, replacing)
                .await;
            reports.extend(created.map_err(Outcome::Fail)?);
            return Ok(reports);
        }
        let def = &stack.services[svc];
        let mut restart_for_dep = false;
        for (dep, d) in &def.depends_on {
            if only.is_some_and(|o| !o.contains(dep)) {
                continue;
            }
            let res = if failed.contains(dep) {
                Err(Cause::DependencyFailed(dep.clone()))
            } else if stack.services.get(dep).is_some_and(|s| s.replicas() == 0) {
                // compose waits for no dependency scaled to 0.
                Ok(())
            } else if self.service_handle(&stack.name, dep).is_none() {
                Err(Cause::DependencyMissing(dep.clone()))
            } else {
                // Every replica must meet the condition (compose: healthy = all healthy).
                self.wait_replicas(&stack.name, dep, d.condition)
                    .await
                    .map_err(|e| match d.condition {
                        DependCondition::ServiceHealthy => Cause::DependencyUnhealthy(e),
                        _ => Cause::Wait(e),
                    })
            };
            if let Err(e) = res {
                let e = ServiceError::new(svc, e);
                if d.required {
                    // compose creates every container before it starts any: the dependent
                    // of a failed dependency stays created, to be started once it is fixed.
                    self.create_without_start(stack, svc, &actions, images)
                        .await;
                    return Err(Outcome::Fail(e));
                }
                // compose: an optional dependency that fails is reported (in compose's
                // words), and the service starts anyway.
                warnings
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!(
                        "optional dependency \"{dep}\" failed to start: {e} (not required: continuing)"
                    ));
            }
            restart_for_dep |= d.restart && changed.contains(dep);
        }
        let results = join_all(
            actions
                .iter()
                .map(|a| self.converge_replica(stack, svc, a, images, restart_for_dep, replacing)),
        )
        .await;
        for res in results {
            reports.extend(res?);
        }
        Ok(reports)
    }

    /// One replica of a service in `up`.
    async fn converge_replica(
        &self,
        stack: &Stack,
        svc: &str,
        action: &Action,
        images: &HashMap<String, ResolvedImage>,
        restart_for_dep: bool,
        replacing: super::anon::Replacing,
    ) -> Result<Option<ActionReport>, Outcome> {
        let report = |c: &str, a: &str| ActionReport {
            container: c.to_string(),
            service: svc.to_string(),
            action: a.to_string(),
            reasons: Vec::new(),
        };
        let fail = |e: Cause| Outcome::Fail(ServiceError::new(svc, e));
        let img = images
            .get(svc)
            .ok_or_else(|| fail(Cause::Internal("image not resolved".into())))?;
        match action {
            Action::Create { number, .. } | Action::Recreate { number, .. } => {
                let rec = match action {
                    Action::Recreate { old, .. } => {
                        self.replace(stack, svc, img, old, *number, replacing).await
                    }
                    _ => self.new_record(stack, svc, img, None, *number),
                }
                .map_err(|e| fail(e.into()))?;
                let name = rec.name.clone();
                self.create_and_start(rec)
                    .await
                    .map_err(|e| fail(e.into()))?;
                let verb = if matches!(action, Action::Create { .. }) {
                    "created"
                } else {
                    "recreated"
                };
                Ok(Some(report(&name, verb)))
            }
            Action::Start { id, .. } | Action::Keep { id, .. } => {
                let h = self.handle(id).ok_or_else(|| {
                    fail(Cause::Internal(format!("container {id} is not supervised")))
                })?;
                let name = h.record().name;
                if matches!(action, Action::Start { .. }) {
                    h.start().await.map_err(|e| fail(e.into()))?;
                    Ok(Some(report(&name, "started")))
                } else if restart_for_dep {
                    h.restart(None).await.map_err(|e| fail(e.into()))?;
                    Ok(Some(report(&name, "restarted")))
                } else {
                    Ok(Some(report(&name, "running")))
                }
            }
            Action::ScaleDown { .. } | Action::RemoveOrphan { .. } => Ok(None),
        }
    }

    /// `up --wait`: every selected service running (healthy if it has a healthcheck), and
    /// one-shots others wait on with service_completed_successfully exited 0.
    async fn wait_stack(
        &self,
        stack: &Stack,
        selected: &BTreeSet<String>,
    ) -> Result<(), EngineError> {
        let waits = selected.iter().map(|name| {
            let awaited_completion = stack.services.values().any(|s| {
                s.depends_on
                    .get(name)
                    .is_some_and(|d| d.condition == DependCondition::ServiceCompletedSuccessfully)
            });
            let mode = if awaited_completion {
                WaitMode::Completed
            } else if stack.services[name].healthcheck.is_some() {
                WaitMode::Healthy
            } else {
                WaitMode::Running
            };
            // Every replica (none for a service scaled to 0).
            async move {
                self.wait_replicas_ready(&stack.name, name, mode)
                    .await
                    .map_err(|e| ServiceError::wait(name, e))
            }
        });
        let errs: Vec<ServiceError> = join_all(waits)
            .await
            .into_iter()
            .filter_map(|r| r.err())
            .collect();
        all_ok(errs)
    }

    /// For `exec`: the running container of a service (replica `index`, default the
    /// lowest, as compose's `--index`) and its pid.
    pub fn exec_target(
        &self,
        project: &str,
        service: &str,
        index: Option<u32>,
    ) -> Result<(ContainerRecord, i32), EngineError> {
        let handle = match index {
            Some(n) => self.replica_handle(project, service, n).ok_or_else(|| {
                EngineError::NotFound(format!(
                    "service \"{service}\" of project \"{project}\" has no container with index {n}"
                ))
            })?,
            None => self.service_handle(project, service).ok_or_else(|| {
                EngineError::NotFound(format!(
                    "service \"{service}\" of project \"{project}\" has no container: run \"rstack up\" first"
                ))
            })?,
        };
        let rec = handle.record();
        match (rec.state, rec.pid) {
            (State::Running, Some(pid)) => Ok((rec, pid)),
            _ => Err(EngineError::Conflict(format!(
                "service \"{service}\" is not running (container {} is {}): start it with \"rstack start {service}\"",
                rec.name,
                rec.state.as_str()
            ))),
        }
    }

    pub fn spawn_exec(
        &self,
        rec: &ContainerRecord,
        pid: i32,
        spec: &ExecSpec,
    ) -> Result<super::runtime::ExecProcess, EngineError> {
        self.rt
            .spawn_exec(&rec.config, pid, spec)
            .map_err(|e| EngineError::Runtime(e.within(&format!("exec in {}", rec.name))))
    }

    /// The record of a one-off container for `run`, its image resolved (errors about the
    /// request come from here), nothing started or saved; `rm`: remove it once it exited;
    /// `tty`: give it a terminal of (rows, columns). `start_oneoff` starts it.
    pub async fn oneoff_record(
        &self,
        stack: &Stack,
        service: &str,
        cmd: &[String],
        rm: bool,
        tty: Option<(u16, u16)>,
    ) -> Result<ContainerRecord, EngineError> {
        let names: BTreeSet<String> = [service.to_string()].into();
        let images = self.resolve_images(stack, &names).await?;
        let img = images
            .get(service)
            .ok_or_else(|| EngineError::Invalid(format!("no such service: {service}")))?;
        let mut rec = self.new_record(stack, service, img, Some(cmd), 1)?;
        rec.auto_remove = rm;
        rec.config.root.volatile = rm;
        // `run` relays the container's output from its log, so a one-off always keeps one.
        rec.config.log.disabled = false;
        rec.config.process.tty = tty;
        // Its stdin is the client's: EOF there is the process's EOF (no `attach` to it).
        rec.config.process.attachable = false;
        Ok(rec)
    }

    /// Starts a one-off made by `oneoff_record`; one with --rm that fails to start is removed
    /// again.
    pub async fn start_oneoff(&self, rec: ContainerRecord) -> Result<Handle, EngineError> {
        let (id, rm, service) = (rec.id.clone(), rec.auto_remove, rec.service.clone());
        match self.create_and_start(rec).await {
            Ok(h) => Ok(h),
            Err(e) => {
                if rm {
                    self.remove_by_id(&id).await;
                }
                Err(EngineError::Failed(vec![ServiceError::new(&service, e)]))
            }
        }
    }

    /// The write end of a one-off container's stdin (see `Runtime::open_stdin`).
    pub fn open_stdin(&self, rec: &ContainerRecord) -> Option<tokio::net::unix::pipe::Sender> {
        self.rt.open_stdin(&rec.config)
    }

    /// Where a one-off container's window sizes go (see `Runtime::open_resize`).
    pub fn open_resize(&self, rec: &ContainerRecord) -> Option<tokio::net::unix::pipe::Sender> {
        self.rt.open_resize(&rec.config)
    }

    /// Removes a one-off container after its run.
    pub async fn remove_by_id(&self, id: &str) {
        let rec = self.handle(id).map(|h| h.record());
        if let Some(rec) = rec {
            self.remove_container(&rec, None).await;
        }
        self.removing().remove(id);
    }

    /// Takes a container out of listings ahead of its removal (`remove_by_id`).
    pub fn hide_removing(&self, id: &str) {
        self.removing().insert(id.to_string());
    }

    pub(super) fn removing(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.removing.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether `up` changed a service for its dependents (depends_on.restart): a replica that
/// was there was recreated, started or restarted, or the service was created. Scaling a
/// running service up or down leaves its dependents alone.
fn replicas_changed(reports: &[ActionReport]) -> bool {
    let did = |a: &str| reports.iter().any(|r| r.action == a);
    did("recreated") || did("started") || did("restarted") || (did("created") && !did("running"))
}

/// What `up` knows from the levels already converged.
struct SoFar<'a> {
    /// Services created, recreated, started or restarted (for depends_on.restart).
    changed: &'a HashSet<String>,
    /// Services that could not be brought up (their dependents fail too).
    failed: &'a HashSet<String>,
    /// Warnings found while converging (optional dependencies that failed).
    warnings: &'a Mutex<Vec<String>>,
    /// `up --no-start`: create, start nothing, wait for no dependency.
    no_start: bool,
    /// `up -V` and `-t`: how recreated containers replace the old ones.
    replacing: super::anon::Replacing,
    /// `up --no-deps`: the services brought up; dependencies outside them are not awaited
    /// (compose drops them from the selected project's depends_on).
    only: Option<&'a BTreeSet<String>>,
}

/// A service that could not be converged: fatal for it and its dependents.
enum Outcome {
    Fail(ServiceError),
}
