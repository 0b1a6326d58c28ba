//! One source's task: load the revision, apply it when new, then sleep until a file event,
//! the interval, or a kick (`sync now`, `resume`). Idle, it costs nothing.

use super::Controller;
use crate::source::jitter::{jittered, seed};
use crate::source::watch::{DirWatch, dirs_of};
use crate::source::{LoadedRevision, SourceKind, SourceSpec, dir};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

pub(super) async fn run(
    ctl: Arc<Controller>,
    name: String,
    kick: Arc<Notify>,
    forced: Arc<AtomicBool>,
) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut watch: Option<DirWatch> = None;
    let mut polls: u64 = 0;
    loop {
        let Ok(doc) = ctl.doc(&name) else { return };
        let spec = doc.spec.clone();
        let force = forced.swap(false, Ordering::SeqCst);
        if !doc.status.suspended {
            match current(&ctl, &spec).await {
                Ok((rev, want)) => {
                    // Only directory sources have files to watch.
                    if !want.is_empty() && (want != dirs || watch.is_none()) {
                        watch = Some(DirWatch::new(&want));
                        dirs = want;
                    }
                    let fresh = ctl.doc(&name).map(|d| d.status.wants(&rev.revision, force));
                    if fresh.unwrap_or(false) {
                        ctl.emit(&name, "fetch", vec![("revision", rev.revision.clone())]);
                        match rev.stack {
                            Ok(stack) => ctl.apply(&name, &rev.revision, stack, spec.prune).await,
                            Err(e) => ctl.load_failed(&name, &rev.revision, &e),
                        }
                    }
                }
                // The source could not be read (a fetch failed): recorded against the
                // revision running, retried at the next interval or kick.
                Err(e) => ctl.unreachable(&name, &e),
            }
        }
        // Git polls are spread (±10%) so hosts following one repository do not fetch in
        // lockstep; a directory's interval is only a safety net.
        polls = polls.wrapping_add(1);
        let interval = match spec.kind {
            SourceKind::Git { .. } => jittered(spec.interval, seed(&name, polls)),
            SourceKind::Dir { .. } => spec.interval,
        };
        match watch.as_mut() {
            Some(w) => {
                tokio::select! {
                    _ = w.changed(interval) => {}
                    _ = kick.notified() => {}
                }
            }
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = kick.notified() => {}
                }
            }
        }
    }
}

/// The source's current revision, loaded, and the directories to watch for the next one.
async fn current(
    ctl: &Controller,
    spec: &SourceSpec,
) -> Result<(LoadedRevision, Vec<PathBuf>), String> {
    let spec = spec.clone();
    match spec.kind.clone() {
        SourceKind::Dir { path: root } => tokio::task::spawn_blocking(move || {
            let (rev, files) = dir::load(&spec, &root);
            (rev, dirs_of(&root, &files))
        })
        .await
        .map_err(|e| format!("loading the directory: {e}")),
        // One fetch at a time per cache: this task is the cache's only user.
        SourceKind::Git { url, reference } => {
            let (cache, creds) = ctl.git_access(&spec.name, &url);
            let creds = creds?;
            tokio::task::spawn_blocking(move || {
                let checkout = crate::source::git::sync_repo(
                    &url,
                    reference.as_deref(),
                    &cache,
                    creds.as_ref(),
                )
                .map_err(|e| e.to_string())?;
                Ok((crate::source::load_checkout(&spec, &checkout), Vec::new()))
            })
            .await
            .map_err(|e| format!("fetching the repository: {e}"))?
        }
    }
}
