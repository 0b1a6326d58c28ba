//! One source's task: load the revision, apply it when new, then sleep until a file event,
//! the interval, or a kick (`sync now`, `resume`). Idle, it costs nothing.

use super::Controller;
use crate::source::watch::{DirWatch, dirs_of};
use crate::source::{SourceKind, dir};
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
    loop {
        let Ok(doc) = ctl.doc(&name) else { return };
        let spec = doc.spec.clone();
        let SourceKind::Dir { path: root } = spec.kind.clone() else {
            // Git sources are wired by `source::git` (not in this build).
            return;
        };
        let force = forced.swap(false, Ordering::SeqCst);
        if !doc.status.suspended {
            let (spec2, root2) = (spec.clone(), root.clone());
            let loaded = tokio::task::spawn_blocking(move || dir::load(&spec2, &root2)).await;
            if let Ok((rev, files)) = loaded {
                let want = dirs_of(&root, &files);
                if want != dirs || watch.is_none() {
                    watch = Some(DirWatch::new(&want));
                    dirs = want;
                }
                let fresh = ctl.doc(&name).map(|d| d.status.wants(&rev.revision, force));
                if fresh.unwrap_or(false) {
                    match rev.stack {
                        Ok(stack) => ctl.apply(&name, &rev.revision, stack, spec.prune).await,
                        Err(e) => ctl.load_failed(&name, &rev.revision, &e),
                    }
                }
            }
        }
        let interval = spec.interval;
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
