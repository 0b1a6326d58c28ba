//! The sync controller: one task per source follows its revisions and applies each new good
//! one as the API's `up` does (with `remove_orphans` = prune, waiting for health). A revision
//! that fails to load or converge is recorded and left alone until the source changes or
//! `sync now`. Sources, their status and history live in the store and are resumed at start.

mod check;
pub mod git;
mod heal;
mod notice;
mod routes;
mod task;

pub use git::SyncConfig;
pub use routes::{hook_routes, routes};

use super::adapter::{Images, NativeRuntime};
use crate::api::server::{ApiFailure, ServerState};
use crate::source::status::{HistoryView, SourceDoc, SourceView};
use crate::source::{SourceKind, SourceSpec};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use tokio::sync::Notify;

pub(crate) type St = ServerState<NativeRuntime, Images>;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no sync source named {0:?} (see rstack sync ls)")]
    NotFound(String),
    #[error("a sync source named {0:?} exists already (remove it first: rstack sync rm {0})")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the daemon is shutting down")]
    Gone,
}

impl From<SyncError> for ApiFailure {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::NotFound(_) => ApiFailure::NotFound(e.to_string()),
            SyncError::Exists(_) => ApiFailure::Conflict(e.to_string()),
            SyncError::Invalid(_) => ApiFailure::BadRequest(e.to_string()),
            SyncError::Store(_) | SyncError::Gone => ApiFailure::Internal(e.to_string()),
        }
    }
}

/// A running source task and how to wake it.
struct Task {
    kick: Arc<Notify>,
    /// `sync now`: apply even a revision already seen.
    forced: Arc<std::sync::atomic::AtomicBool>,
    handle: tokio::task::JoinHandle<()>,
}

pub struct Controller {
    store: Arc<Store>,
    /// The API state `up` runs with; set once the server state exists (it holds us).
    server: OnceLock<Weak<St>>,
    docs: Mutex<HashMap<String, SourceDoc>>,
    tasks: Mutex<HashMap<String, Task>>,
    /// One apply at a time per daemon: a rollback never interleaves with a task's apply.
    apply: tokio::sync::Mutex<()>,
    /// Where Git caches live (`<data_root>/sources/<name>/git`).
    data_root: std::path::PathBuf,
    /// `[sync]`: Git credentials.
    config: SyncConfig,
}

impl Controller {
    pub fn new(
        store: Arc<Store>,
        data_root: &std::path::Path,
        config: SyncConfig,
    ) -> Arc<Controller> {
        Arc::new(Controller {
            data_root: data_root.to_path_buf(),
            config,
            store,
            server: OnceLock::new(),
            docs: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            apply: tokio::sync::Mutex::new(()),
        })
    }

    /// Loads the stored sources and starts their tasks.
    pub fn start(self: &Arc<Self>, server: &Arc<St>) -> Result<(), SyncError> {
        let _ = self.server.set(Arc::downgrade(server));
        for (name, doc) in self.store.sources()? {
            match serde_json::from_str::<SourceDoc>(&doc) {
                Ok(doc) => {
                    self.docs_lock().insert(name.clone(), doc);
                    self.spawn(&name);
                }
                Err(e) => {
                    eprintln!("rstack: sync source {name}: unreadable record ({e}); left alone")
                }
            }
        }
        tokio::spawn(heal::run(self.clone()));
        Ok(())
    }

    fn docs_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SourceDoc>> {
        self.docs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tasks_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Task>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn server(&self) -> Result<Arc<St>, SyncError> {
        self.server
            .get()
            .and_then(Weak::upgrade)
            .ok_or(SyncError::Gone)
    }

    pub(crate) fn doc(&self, name: &str) -> Result<SourceDoc, SyncError> {
        self.docs_lock()
            .get(name)
            .cloned()
            .ok_or_else(|| SyncError::NotFound(name.to_string()))
    }

    /// Changes a source's document and stores it.
    pub(crate) fn update(
        &self,
        name: &str,
        f: impl FnOnce(&mut SourceDoc),
    ) -> Result<SourceDoc, SyncError> {
        let mut docs = self.docs_lock();
        let doc = docs
            .get_mut(name)
            .ok_or_else(|| SyncError::NotFound(name.to_string()))?;
        f(doc);
        let text = serde_json::to_string(&*doc).map_err(StoreError::from)?;
        self.store.put_source(name, &text)?;
        Ok(doc.clone())
    }

    pub fn add(self: &Arc<Self>, spec: SourceSpec) -> Result<SourceView, SyncError> {
        self.validate(&spec)?;
        let doc = SourceDoc {
            spec: spec.clone(),
            status: Default::default(),
        };
        {
            let mut docs = self.docs_lock();
            if docs.contains_key(&spec.name) {
                return Err(SyncError::Exists(spec.name));
            }
            let text = serde_json::to_string(&doc).map_err(StoreError::from)?;
            self.store.put_source(&spec.name, &text)?;
            docs.insert(spec.name.clone(), doc);
        }
        self.spawn(&spec.name);
        self.view(&spec.name)
    }

    /// What `add` refuses (also checked by its dry run): a bad name, URL or directory, or
    /// a source of that name already there.
    fn validate(&self, spec: &SourceSpec) -> Result<(), SyncError> {
        crate::api::validate::names(&spec.name, []).map_err(SyncError::Invalid)?;
        match &spec.kind {
            SourceKind::Git { url, .. } => git::check_url(url).map_err(SyncError::Invalid)?,
            SourceKind::Dir { path } if !path.is_absolute() || !path.is_dir() => {
                return Err(SyncError::Invalid(format!(
                    "--dir {}: not an absolute path to a directory",
                    path.display()
                )));
            }
            SourceKind::Dir { .. } => {}
        }
        if self.docs_lock().contains_key(&spec.name) {
            return Err(SyncError::Exists(spec.name.clone()));
        }
        Ok(())
    }

    fn spawn(self: &Arc<Self>, name: &str) {
        let kick = Arc::new(Notify::new());
        let forced = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handle = tokio::spawn(task::run(
            self.clone(),
            name.to_string(),
            kick.clone(),
            forced.clone(),
        ));
        if let Some(old) = self.tasks_lock().insert(
            name.to_string(),
            Task {
                kick,
                forced,
                handle,
            },
        ) {
            old.handle.abort();
        }
    }

    pub fn list(&self) -> Vec<SourceView> {
        let mut names: Vec<String> = self.docs_lock().keys().cloned().collect();
        names.sort();
        names
            .iter()
            .filter_map(|n| self.doc(n).ok())
            .map(|d| SourceView {
                webhook: d.spec.webhook_secret.is_some(),
                spec: redacted(d.spec),
                status: d.status,
                history: Vec::new(),
            })
            .collect()
    }

    pub fn view(&self, name: &str) -> Result<SourceView, SyncError> {
        let doc = self.doc(name)?;
        let history = self
            .store
            .history(name)?
            .into_iter()
            .map(|h| HistoryView {
                seq: h.seq,
                revision: h.revision,
                applied_at: rfc3339(h.applied_ms),
                plan: h.plan,
            })
            .collect();
        Ok(SourceView {
            webhook: doc.spec.webhook_secret.is_some(),
            spec: redacted(doc.spec),
            status: doc.status,
            history,
        })
    }

    /// Wakes a source's task; `force`: apply even a revision already seen.
    pub fn kick(&self, name: &str, force: bool) -> Result<(), SyncError> {
        let tasks = self.tasks_lock();
        let t = tasks
            .get(name)
            .ok_or_else(|| SyncError::NotFound(name.to_string()))?;
        if force {
            t.forced.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        t.kick.notify_one();
        Ok(())
    }

    pub fn set_suspended(&self, name: &str, suspended: bool) -> Result<SourceView, SyncError> {
        self.update(name, |d| d.status.suspended = suspended)?;
        self.emit(name, if suspended { "suspend" } else { "resume" }, vec![]);
        if !suspended {
            // The revision the source has now may differ from the one running (rollback).
            self.kick(name, true)?;
        }
        self.view(name)
    }

    /// Applies a history entry (`seq`, default the one before the running one) and
    /// suspends automatic sync, so the next event does not undo it.
    /// `to`: a revision id or a history `seq`.
    pub async fn rollback(&self, name: &str, to: Option<&str>) -> Result<SourceView, SyncError> {
        let doc = self.doc(name)?;
        let history = self.store.history(name)?;
        let entry = match to {
            Some(to) => history
                .iter()
                .find(|h| h.revision == to || h.seq.to_string() == to),
            None => history
                .iter()
                .find(|h| Some(&h.revision) != doc.status.revision.as_ref()),
        }
        .ok_or_else(|| {
            SyncError::Invalid(format!(
                "source {name}: no such revision in its history to roll back to (see rstack sync status {name})"
            ))
        })?
        .clone();
        self.update(name, |d| d.status.suspended = true)?;
        self.emit(name, "rollback", vec![("revision", entry.revision.clone())]);
        self.apply(name, &entry.revision, entry.stack, doc.spec.prune)
            .await;
        self.view(name)
    }

    /// Removes a source; without `keep_stack`, its project goes down too.
    pub async fn remove(&self, name: &str, keep_stack: bool) -> Result<(), SyncError> {
        let doc = self.doc(name)?;
        if let Some(t) = self.tasks_lock().remove(name) {
            t.handle.abort();
        }
        let _guard = self.apply.lock().await;
        self.store.delete_source(name)?;
        self.docs_lock().remove(name);
        if !keep_stack {
            let st = self.server()?;
            let project = doc.spec.project_name();
            if let Err(e) = crate::api::server::apply_down(&st, &project, Default::default()).await
            {
                return Err(SyncError::Invalid(format!(
                    "source {name} removed, but taking project {project} down failed: {e}"
                )));
            }
        }
        // The Git cache (checkouts of every revision) goes with the source.
        let dir = git::source_dir(&self.data_root, name);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
        Ok(())
    }

    /// A webhook for `name`: checked against the source's secret, then a fetch is asked
    /// (the task fetches and applies; the caller answers at once).
    pub fn hook(
        &self,
        name: &str,
        body: &[u8],
        headers: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), HookRefusal> {
        let doc = self
            .doc(name)
            .map_err(|e| HookRefusal::NotFound(e.to_string()))?;
        let Some(secret) = doc.spec.webhook_secret.as_deref() else {
            return Err(HookRefusal::NoSecret(name.to_string()));
        };
        crate::source::hook::verify(secret.as_bytes(), body, headers)
            .map_err(|e| HookRefusal::Signature(e.to_string()))?;
        self.kick(name, false)
            .map_err(|e| HookRefusal::NotFound(e.to_string()))
    }

    /// What a Git source's task needs: its cache dir and credentials.
    pub(crate) fn git_access(
        &self,
        name: &str,
        url: &str,
    ) -> (
        std::path::PathBuf,
        Result<Option<crate::source::git::Credentials>, String>,
    ) {
        (
            git::cache_dir(&self.data_root, name),
            self.config.credentials_for(url),
        )
    }

    /// Applies `stack` as revision `revision` and records the outcome in the status (and
    /// the history when it converged).
    pub(crate) async fn apply(
        &self,
        name: &str,
        revision: &str,
        stack: crate::model::Stack,
        prune: bool,
    ) {
        let _guard = self.apply.lock().await;
        let Ok(st) = self.server() else { return };
        // Seen as in flight while its services start and are waited for.
        let _ = self.update(name, |d| d.status.applying());
        let req = crate::api::types::UpRequest {
            stack: stack.clone(),
            wait: true,
            remove_orphans: prune,
            wait_timeout: Some(WAIT_TIMEOUT_SECS),
            ..Default::default()
        };
        let result = crate::api::server::apply_up(&st, req).await;
        let now_ms = now_ms();
        let now = rfc3339(now_ms);
        let outcome = match result {
            Ok(answer) => {
                let plan: Vec<String> = answer
                    .response
                    .actions
                    .iter()
                    .map(|a| format!("{} {}", a.container, a.action))
                    .collect();
                match self
                    .store
                    .push_history(name, revision, now_ms, &stack, &plan.join("\n"))
                {
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        let _ = self.update(name, |d| match &outcome {
            Ok(()) => d.status.applied(revision, true, &now),
            Err(e) => d.status.failed(revision, e, &now),
        });
        let mut attrs = vec![("revision", revision.to_string())];
        match outcome {
            Ok(()) => self.emit(name, "apply", attrs),
            Err(e) => {
                attrs.push(("error", e));
                self.emit(name, "fail", attrs)
            }
        }
    }

    /// Records that the source could not be read (its revision is unknown, so nothing is
    /// marked seen: the next try may succeed).
    pub(crate) fn unreachable(&self, name: &str, error: &str) {
        let now = rfc3339(now_ms());
        let _ = self.update(name, |d| {
            d.status.error = Some(error.to_string());
            d.status.error_at = Some(now);
        });
        self.emit(name, "fail", vec![("error", error.to_string())]);
    }

    /// Records a revision that failed to load.
    pub(crate) fn load_failed(&self, name: &str, revision: &str, error: &str) {
        let now = rfc3339(now_ms());
        let _ = self.update(name, |d| d.status.failed(revision, error, &now));
        let attrs = vec![("revision", revision.into()), ("error", error.into())];
        self.emit(name, "fail", attrs);
    }
}

/// Why a webhook was refused (401: signature; 403: the source takes no hooks; 404).
#[derive(Debug, thiserror::Error)]
pub enum HookRefusal {
    #[error("{0}")]
    NotFound(String),
    #[error(
        "source {0} has no webhook secret, so it takes no webhooks: add it again with \
         rstack sync add ... --webhook-secret-file FILE"
    )]
    NoSecret(String),
    #[error("{0}")]
    Signature(String),
}

/// A spec as the API shows it: without the webhook secret.
fn redacted(mut spec: SourceSpec) -> SourceSpec {
    spec.webhook_secret = None;
    spec
}

/// How long an apply waits for its services to be running/healthy.
const WAIT_TIMEOUT_SECS: u64 = 120;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn rfc3339(ms: u64) -> String {
    crate::runtime::log::rfc3339_nanos(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}
