//! `GET /v1/projects`: each project with a container and the stack files it was applied
//! from, for `ls`'s CONFIG FILES column.

use super::server::{ApiFailure, ServerState};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use axum::Json;
use axum::extract::State as AxState;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectView {
    pub name: String,
    /// Absolute paths, in merge order; empty when not recorded.
    pub config_files: Vec<String>,
}

pub async fn list<R: Runtime, I: ImageSource>(
    st: AxState<Arc<ServerState<R, I>>>,
) -> Result<Json<Vec<ProjectView>>, ApiFailure> {
    // Short SQLite reads, as the engine's other calls make them.
    let rows = st.engine.project_files()?;
    Ok(Json(
        rows.into_iter()
            .map(|(name, config_files)| ProjectView { name, config_files })
            .collect(),
    ))
}
