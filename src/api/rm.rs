//! `POST /v1/projects/{project}/rm`: removes the project's stopped service containers of the
//! named services (all when none); see `Engine::remove_stopped`.

use super::server::{ApiFailure, ServerState};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use axum::Json;
use axum::extract::{Path, State as AxState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RmRequest {
    pub services: Vec<String>,
    /// Only these containers (the ones the user confirmed); empty = every stopped one.
    pub containers: Vec<String>,
    /// `rm -v`: their anonymous volumes too.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub volumes: bool,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

pub async fn rm<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<RmRequest>,
) -> Result<Json<Vec<String>>, ApiFailure> {
    super::validate::names(&project, &req.services).map_err(ApiFailure::BadRequest)?;
    Ok(Json(
        st.engine
            .remove_stopped(&project, &req.services, &req.containers, req.volumes)
            .await?,
    ))
}
