//! `/v1/volumes`: list, create, remove and prune volumes, and the volumes part of `down -v`.
//! The daemon's volume store implements `VolumeAdmin`; which volumes containers use is read
//! here from the records' configs, so a volume in use is refused with the container named.

use super::server::{ApiFailure, ServerState};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use axum::Json;
use axum::extract::State as AxState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One volume as `volume ls`/`inspect` show it (Docker's keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeView {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Mountpoint")]
    pub mountpoint: String,
    /// RFC 3339.
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, String>,
    #[serde(rename = "Scope")]
    pub scope: String,
    /// The project that made it (also the `com.docker.compose.project` label).
    #[serde(rename = "Project", skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(rename = "Anonymous", skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
}

/// The daemon's volumes as the API needs them.
pub trait VolumeAdmin: Send + Sync + 'static {
    fn list(&self) -> Result<Vec<VolumeView>, ApiFailure>;
    fn create(&self, req: &VolumeCreateRequest) -> Result<VolumeView, ApiFailure>;
    fn remove(&self, name: &str) -> Result<(), ApiFailure>;
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeCreateRequest {
    pub name: String,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub driver_opts: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeNamesRequest {
    pub names: Vec<String>,
    /// prune: every unused volume, not only anonymous ones.
    pub all: bool,
    /// remove and prune under `--dry-run`: check and answer the volumes that would go,
    /// remove none.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiFailure> + Send + 'static,
) -> Result<T, ApiFailure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiFailure::Internal(e.to_string()))?
}

/// Volume name -> the containers (names) whose configs mount it.
fn in_use<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
) -> Result<BTreeMap<String, Vec<String>>, ApiFailure> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in st.engine.list(None)? {
        for m in &r.config.mounts {
            if let Some(v) = &m.volume {
                out.entry(v.name.clone()).or_default().push(r.name.clone());
            }
        }
    }
    Ok(out)
}

pub(crate) async fn list<R: Runtime, I: ImageSource>(
    st: St<R, I>,
) -> Result<Json<Vec<VolumeView>>, ApiFailure> {
    let v = st.volumes.clone();
    blocking(move || v.list()).await.map(Json)
}

pub(crate) async fn create<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<VolumeCreateRequest>,
) -> Result<Json<VolumeView>, ApiFailure> {
    let v = st.volumes.clone();
    blocking(move || v.create(&req)).await.map(Json)
}

pub(crate) async fn remove<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<VolumeNamesRequest>,
) -> Result<Json<Vec<String>>, ApiFailure> {
    let used = in_use(&st)?;
    for n in &req.names {
        if let Some(c) = used.get(n) {
            return Err(ApiFailure::Conflict(format!(
                "volume \"{n}\" is in use by container {}: remove the container first (rstack down, or rstack rm)",
                c.join(", ")
            )));
        }
    }
    let v = st.volumes.clone();
    blocking(move || {
        if req.dry_run {
            // `--dry-run volume rm`: what the removal would find missing, said as it says it.
            let have: Vec<String> = v.list()?.into_iter().map(|x| x.name).collect();
            if let Some(n) = req.names.iter().find(|n| !have.contains(n)) {
                return Err(ApiFailure::NotFound(format!("no such volume: {n}")));
            }
            return Ok(req.names);
        }
        for n in &req.names {
            v.remove(n)?;
        }
        Ok(req.names)
    })
    .await
    .map(Json)
}

pub(crate) async fn prune<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<VolumeNamesRequest>,
) -> Result<Json<Vec<String>>, ApiFailure> {
    let used = in_use(&st)?;
    let v = st.volumes.clone();
    blocking(move || {
        let mut removed = Vec::new();
        for vol in v.list()? {
            if used.contains_key(&vol.name) || !(req.all || vol.anonymous) {
                continue;
            }
            if !req.dry_run {
                v.remove(&vol.name)?;
            }
            removed.push(vol.name);
        }
        Ok(removed)
    })
    .await
    .map(Json)
}

/// `down -v`: the project's volumes that no container uses any more, anonymous ones kept by
/// an earlier removal included (external ones were never the project's: they are not
/// recorded with it).
/// What `remove_project` would remove once the containers `going` are gone (`down -v`
/// in a dry run): the project's volumes no other container uses, but the anonymous ones
/// of `going`, which go with their containers without being listed.
pub(crate) async fn would_remove_project<R: Runtime, I: ImageSource>(
    st: &Arc<ServerState<R, I>>,
    project: &str,
    going: &[String],
) -> Result<Vec<String>, ApiFailure> {
    let used = in_use(st)?;
    let v = st.volumes.clone();
    let all = blocking(move || v.list()).await?;
    Ok(all
        .into_iter()
        .filter(|vol| {
            vol.project == project
                && match used.get(&vol.name) {
                    None => true,
                    Some(users) => !vol.anonymous && users.iter().all(|u| going.contains(u)),
                }
        })
        .map(|vol| vol.name)
        .collect())
}

pub(crate) async fn remove_project<R: Runtime, I: ImageSource>(
    st: &Arc<ServerState<R, I>>,
    project: &str,
) -> Result<Vec<String>, ApiFailure> {
    let used = in_use(st)?;
    let v = st.volumes.clone();
    let project = project.to_string();
    blocking(move || {
        let mut removed = Vec::new();
        for vol in v.list()? {
            if vol.project == project && !used.contains_key(&vol.name) {
                v.remove(&vol.name)?;
                removed.push(vol.name);
            }
        }
        Ok(removed)
    })
    .await
}
