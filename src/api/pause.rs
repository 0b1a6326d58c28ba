//! `POST /v1/projects/{project}/pause|unpause`: freeze or thaw the running containers of the
//! named services (all when none) with the cgroup freezer. A paused container shows as
//! `paused`; stopping, killing or removing one thaws it first, since a frozen process cannot
//! act on a signal (on v1, not even on SIGKILL).

use super::server::{ApiFailure, ServerState};
use super::types::ServicesRequest;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use crate::runtime::cgroup::{Layout, freezer};
use crate::store::{ContainerRecord, State};
use axum::Json;
use axum::extract::{Path, State as AxState};
use std::sync::Arc;

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

/// Whether a running container is frozen (`ps` shows it `paused`).
pub fn is_paused(r: &ContainerRecord) -> bool {
    r.state == State::Running
        && Layout::detect().is_ok_and(|l| freezer::is_frozen(&l, &r.config.cgroup_path))
}

/// The running containers of `services` (all when empty), refusing unknown services.
fn targets<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    project: &str,
    services: &[String],
) -> Result<Vec<ContainerRecord>, ApiFailure> {
    let recs = super::top::records_of(st, project, services)?;
    Ok(recs
        .into_iter()
        .filter(|r| r.state == State::Running && !r.one_off)
        .filter(|r| services.is_empty() || services.contains(&r.service))
        .collect())
}

async fn apply(recs: Vec<ContainerRecord>, frozen: bool) -> Result<Vec<String>, ApiFailure> {
    tokio::task::spawn_blocking(move || {
        let layout = Layout::detect().map_err(|e| ApiFailure::Internal(e.to_string()))?;
        let mut done = Vec::new();
        for r in recs {
            let c = &r.config;
            match frozen {
                true => freezer::freeze(&layout, &c.cgroup_path, &c.resources),
                false => freezer::thaw(&layout, &c.cgroup_path),
            }
            .map_err(|e| ApiFailure::Internal(format!("{}: {e}", r.name)))?;
            done.push(r.name);
        }
        Ok(done)
    })
    .await
    .map_err(|e| ApiFailure::Internal(e.to_string()))?
}

pub async fn pause<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<ServicesRequest>,
) -> Result<Json<Vec<String>>, ApiFailure> {
    let recs = targets(&st, &project, &req.services)?;
    Ok(Json(apply(recs, true).await?))
}

pub async fn unpause<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<ServicesRequest>,
) -> Result<Json<Vec<String>>, ApiFailure> {
    let recs = targets(&st, &project, &req.services)?;
    Ok(Json(apply(recs, false).await?))
}

/// Thaws the paused containers among `services` of `project` (all when empty) before they
/// are stopped, killed or removed. Best effort: a failure shows later as a stop that hangs
/// until its timeout, and is logged.
pub async fn thaw_before_stop<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    project: &str,
    services: &[String],
) {
    let Ok(recs) = st.engine.list(Some(project)) else {
        return;
    };
    let paused: Vec<ContainerRecord> = recs
        .into_iter()
        .filter(|r| services.is_empty() || services.contains(&r.service))
        .filter(is_paused)
        .collect();
    if paused.is_empty() {
        return;
    }
    if let Err(e) = apply(paused, false).await {
        eprintln!("rstack: thawing paused containers of {project}: {e}");
    }
}
