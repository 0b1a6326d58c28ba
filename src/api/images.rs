//! Image store endpoints beyond import and list: tag, inspect, history, rm (refused while a
//! container uses the image, unless forced), prune, save (a streamed tar), load (an uploaded
//! archive) and search (a registry's catalog).
//!
//! Which images containers use is the engine's knowledge (its records, in any state, of
//! every project); the store is told. A used image is never removed from the store's index
//! (`rm --force` only untags it, `prune` skips it), so its layers, the lowerdirs of the
//! container's overlay, stay until the container is gone.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::server::{ApiFailure, ServerState};
use super::types::ImageImportQuery;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;

/// How `image ls` and `image prune` show a dangling image.
pub const NONE_REFERENCE: &str = "<none>:<none>";

/// Writes a planned archive to a sink; made after the references were checked.
pub type SaveWriter = Box<dyn FnOnce(&mut dyn Write) -> Result<(), String> + Send>;

/// The store operations these endpoints need (the daemon's image store implements them).
pub trait ImageTools: Send + Sync + 'static {
    /// Tags `source` as `target`; returns the normalized target.
    fn tag(&self, source: &str, target: &str) -> Result<String, ApiFailure>;
    fn inspect(&self, reference: &str) -> Result<serde_json::Value, ApiFailure>;
    fn history(&self, reference: &str) -> Result<Vec<HistoryRow>, ApiFailure>;
    /// The image id a reference names and all the tags of that image.
    fn image_tags(&self, reference: &str) -> Result<(String, Vec<String>), ApiFailure>;
    /// Removes a reference's tag(s); `keep_untagged`: the image stays, dangling.
    fn remove_image(
        &self,
        reference: &str,
        keep_untagged: bool,
    ) -> Result<RemoveReport, ApiFailure>;
    fn prune(
        &self,
        all: bool,
        in_use: &HashSet<String>,
        dry_run: bool,
    ) -> Result<PruneReport, ApiFailure>;
    /// Checks the references and returns the writer of their archive.
    fn save(&self, references: &[String]) -> Result<SaveWriter, ApiFailure>;
    /// Loads an archive (a file of the daemon's own); `name` labels messages.
    fn load(&self, archive: &std::path::Path, name: &str) -> Result<Vec<LoadedView>, ApiFailure>;
}

/// Registry search (the daemon knows the `[registry]` settings).
pub trait RegistrySearch: Send + Sync + 'static {
    fn search(
        &self,
        term: &str,
        auths: &BTreeMap<String, String>,
    ) -> Result<SearchAnswer, ApiFailure>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub id: String,
    pub created: Option<String>,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    #[serde(default)]
    pub empty_layer: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RemoveReport {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PruneReport {
    /// (reference as listed, image id) of each deleted image.
    pub deleted: Vec<(String, String)>,
    pub reclaimed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadedView {
    /// `None` for an image the archive does not name.
    pub reference: Option<String>,
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchRepository {
    pub name: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchAnswer {
    /// The registry asked.
    pub registry: String,
    pub repositories: Vec<SearchRepository>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TagRequest {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefsRequest {
    pub references: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveRequest {
    pub reference: String,
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneRequest {
    #[serde(default)]
    pub all: bool,
    /// `--dry-run`: answer what would be deleted, delete nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchRequest {
    pub term: String,
    /// The client's `auths`, as for pull.
    #[serde(default)]
    pub auths: BTreeMap<String, String>,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;
type ApiResult<T> = Result<Json<T>, ApiFailure>;

/// Runs store work off the daemon's async thread (it reads, locks and deletes files).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiFailure> + Send + 'static,
) -> Result<T, ApiFailure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiFailure::join)?
}

pub(crate) async fn tag<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<TagRequest>,
) -> ApiResult<serde_json::Value> {
    let images = st.images.clone();
    let target = blocking(move || images.tag(&req.source, &req.target)).await?;
    Ok(Json(serde_json::json!({ "reference": target })))
}

pub(crate) async fn inspect<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<RefsRequest>,
) -> ApiResult<Vec<serde_json::Value>> {
    let images = st.images.clone();
    blocking(move || req.references.iter().map(|r| images.inspect(r)).collect())
        .await
        .map(Json)
}

pub(crate) async fn history<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<RemoveRequest>,
) -> ApiResult<Vec<HistoryRow>> {
    let images = st.images.clone();
    blocking(move || images.history(&req.reference))
        .await
        .map(Json)
}

/// The ids of the images containers use (records in any state, of every project).
fn images_in_use<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
) -> Result<Vec<(String, String)>, ApiFailure> {
    Ok(st
        .engine
        .list(None)?
        .into_iter()
        .map(|r| (r.image_id, r.name))
        .collect())
}

/// `POST /v1/images/remove?dry_run=true` (`--dry-run image rm`): the same checks, nothing removed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RemoveQuery {
    #[serde(default)]
    dry_run: bool,
}

/// What removing `reference` would do, checked as the removal checks it: the image's id and
/// whether it stays (another tag or a container's use keeps it). Containers named in `gone`
/// do not count as users (`down --rmi` removes them first). Fails as the removal fails: not
/// found, or used by a container while this is its last name and `force` is not given.
pub(crate) async fn check_remove<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    reference: &str,
    force: bool,
    gone: &[String],
) -> Result<(String, bool), ApiFailure> {
    let images = st.images.clone();
    let r = reference.to_string();
    let (id, tags) = blocking(move || images.image_tags(&r)).await?;
    let users: Vec<String> = images_in_use(st)?
        .into_iter()
        .filter(|(i, name)| *i == id && !gone.contains(name))
        .map(|(_, name)| name)
        .collect();
    // Removing one of several tags leaves the image in place: docker allows it too.
    let last_name = tags.len() <= 1 || reference.starts_with("sha256:");
    if !users.is_empty() && last_name && !force {
        return Err(ApiFailure::Conflict(format!(
            "image \"{}\" is used by container(s) {}: remove them first (rstack down), or untag it with \"rstack image rm --force\" (the image stays while they use it)",
            reference,
            users.join(", ")
        )));
    }
    Ok((id, !users.is_empty() || !last_name))
}

pub(crate) async fn remove<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Query(q): Query<RemoveQuery>,
    Json(req): Json<RemoveRequest>,
) -> ApiResult<RemoveReport> {
    let (id, keep) = check_remove(&st, &req.reference, req.force, &[]).await?;
    if q.dry_run {
        return Ok(Json(RemoveReport {
            untagged: vec![req.reference],
            deleted: if keep { Vec::new() } else { vec![id] },
            reclaimed: 0,
        }));
    }
    let images = st.images.clone();
    let keep = images_in_use(&st)?.iter().any(|(i, _)| *i == id);
    blocking(move || images.remove_image(&req.reference, keep))
        .await
        .map(Json)
}

pub(crate) async fn prune<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<PruneRequest>,
) -> ApiResult<PruneReport> {
    let in_use: HashSet<String> = images_in_use(&st)?.into_iter().map(|(i, _)| i).collect();
    let images = st.images.clone();
    blocking(move || images.prune(req.all, &in_use, req.dry_run))
        .await
        .map(Json)
}

/// Sends the archive's bytes into the response in 64 KB chunks, waiting while the client
/// is slow: the archive is never held in memory.
pub(crate) struct ChannelWriter {
    pub(crate) tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    pub(crate) buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

pub(crate) async fn save<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<RefsRequest>,
) -> Result<Response, ApiFailure> {
    if req.references.is_empty() {
        return Err(ApiFailure::BadRequest(
            "name at least one image to save".into(),
        ));
    }
    let images = st.images.clone();
    let writer = blocking(move || images.save(&req.references)).await?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::new(),
        };
        let res = writer(&mut out).and_then(|()| out.flush().map_err(|e| e.to_string()));
        // A failure half way aborts the body: the client sees an incomplete answer, never
        // a short archive that looks whole.
        if let Err(e) = res {
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    Response::builder()
        .header("content-type", "application/x-tar")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .map_err(|e| ApiFailure::Internal(e.to_string()))
}

/// `image load`: the archive is the request body, spooled to a file of the daemon's own.
pub(crate) async fn load<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Query(q): Query<ImageImportQuery>,
    body: Body,
) -> ApiResult<Vec<LoadedView>> {
    let spool = super::upload::spool(body, &st.images.uploads_dir()).await?;
    let images = st.images.clone();
    let name = if q.name.is_empty() {
        "the uploaded archive".to_string()
    } else {
        q.name.clone()
    };
    blocking(move || {
        let res = images.load(spool.path(), &name);
        drop(spool);
        res
    })
    .await
    .map(Json)
}

pub(crate) async fn search<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<SearchRequest>,
) -> Result<Response, ApiFailure> {
    let reg = st.registry.clone();
    let answer = blocking(move || reg.search(&req.term, &req.auths)).await?;
    Ok((StatusCode::OK, Json(answer)).into_response())
}
