//! `POST /v1/projects/{project}/top`: the processes of each running container of the named
//! services (all when none), read by the runtime from the container's cgroup and /proc.

use super::server::{ApiFailure, ServerState};
use super::types::ServicesRequest;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use crate::store::{ContainerRecord, State};
use axum::Json;
use axum::extract::{Path, State as AxState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The containers of `project` (checked names), refusing a named service that has none: the
/// start of `top` and `stats`.
pub(super) fn records_of<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    project: &str,
    services: &[String],
) -> Result<Vec<ContainerRecord>, ApiFailure> {
    super::validate::names(project, services).map_err(ApiFailure::BadRequest)?;
    let recs = st.engine.list(Some(project))?;
    if let Some(s) = services
        .iter()
        .find(|s| !recs.iter().any(|r| &r.service == *s))
    {
        return Err(ApiFailure::BadRequest(format!(
            "no such service: {s} (project {project} has no container of it)"
        )));
    }
    Ok(recs)
}

/// One container's processes, in Docker's `top` shape (titles, then rows of cells).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopView {
    pub name: String,
    pub service: String,
    #[serde(rename = "Titles")]
    pub titles: Vec<String>,
    #[serde(rename = "Processes")]
    pub processes: Vec<Vec<String>>,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

pub async fn top<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<ServicesRequest>,
) -> Result<Json<Vec<TopView>>, ApiFailure> {
    let recs = records_of(&st, &project, &req.services)?;
    let running: Vec<_> = recs
        .into_iter()
        .filter(|r| r.state == State::Running)
        .filter(|r| req.services.is_empty() || req.services.contains(&r.service))
        .collect();
    let views = tokio::task::spawn_blocking(move || {
        running
            .into_iter()
            .map(|r| {
                let rows = crate::runtime::procs::list(&r.config.cgroup_path, &r.config.resources)
                    .map_err(|e| ApiFailure::Internal(format!("{}: {e}", r.name)))?;
                Ok(TopView {
                    name: r.name,
                    service: r.service,
                    titles: crate::runtime::procs::TITLES.map(String::from).to_vec(),
                    processes: rows,
                })
            })
            .collect::<Result<Vec<_>, ApiFailure>>()
    })
    .await
    .map_err(|e| ApiFailure::Internal(e.to_string()))??;
    Ok(Json(views))
}
