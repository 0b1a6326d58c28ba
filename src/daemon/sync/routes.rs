//! The sync API: `/v1/sources...`, served beside the API's routes, and the webhook
//! `POST /v1/sources/{name}/hook` (also served alone on `[sync] webhook_listen`).

use super::{Controller, HookRefusal};
use crate::api::server::ApiFailure;
use crate::source::SourceSpec;
use crate::source::status::SourceView;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

type Ctl = State<Arc<Controller>>;
type Answer<T> = Result<Json<T>, ApiFailure>;

pub fn routes(ctl: Arc<Controller>) -> Router {
    Router::new()
        .route("/v1/sources", get(list).post(add))
        .route("/v1/sources/{name}", get(show).delete(remove))
        .route("/v1/sources/{name}/now", post(now))
        .route("/v1/sources/{name}/suspend", post(suspend))
        .route("/v1/sources/{name}/resume", post(resume))
        .route("/v1/sources/{name}/rollback", post(rollback))
        .with_state(ctl.clone())
        .merge(hook_routes(ctl))
}

/// The webhook route alone: what the TCP listener serves.
pub fn hook_routes(ctl: Arc<Controller>) -> Router {
    Router::new()
        .route("/v1/sources/{name}/hook", post(hook))
        .with_state(ctl)
}

/// 202 at once when the signature holds (the source's task fetches and applies);
/// 401 for a missing or wrong signature, 403 for a source without a secret; no fetch then.
async fn hook(
    State(c): Ctl,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // HeaderMap looks names up case-insensitively.
    let lookup = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, message) = match c.hook(&name, &body, &lookup) {
        Ok(()) => (StatusCode::ACCEPTED, format!("source {name}: fetch asked")),
        Err(e @ HookRefusal::NotFound(_)) => (StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ HookRefusal::NoSecret(_)) => (StatusCode::FORBIDDEN, e.to_string()),
        Err(e @ HookRefusal::Signature(_)) => (StatusCode::UNAUTHORIZED, e.to_string()),
    };
    (status, Json(serde_json::json!({ "message": message }))).into_response()
}

async fn list(State(c): Ctl) -> Json<Vec<SourceView>> {
    Json(c.list())
}

#[derive(Deserialize)]
struct AddQuery {
    /// `sync add --dry-run`: checked, not added; the answer is the lines to print.
    #[serde(default)]
    dry_run: bool,
}

async fn add(
    State(c): Ctl,
    Query(q): Query<AddQuery>,
    Json(spec): Json<SourceSpec>,
) -> Result<Response, ApiFailure> {
    if q.dry_run {
        return Ok(Json(c.check(spec).await?).into_response());
    }
    Ok(Json(c.add(spec)?).into_response())
}

async fn show(State(c): Ctl, Path(name): Path<String>) -> Answer<SourceView> {
    Ok(Json(c.view(&name)?))
}

#[derive(Deserialize)]
struct RmQuery {
    #[serde(default)]
    keep_stack: bool,
}

async fn remove(
    State(c): Ctl,
    Path(name): Path<String>,
    Query(q): Query<RmQuery>,
) -> Answer<serde_json::Value> {
    c.remove(&name, q.keep_stack).await?;
    Ok(Json(serde_json::json!({})))
}

async fn now(State(c): Ctl, Path(name): Path<String>) -> Answer<SourceView> {
    c.kick(&name, true)?;
    Ok(Json(c.view(&name)?))
}

async fn suspend(State(c): Ctl, Path(name): Path<String>) -> Answer<SourceView> {
    Ok(Json(c.set_suspended(&name, true)?))
}

async fn resume(State(c): Ctl, Path(name): Path<String>) -> Answer<SourceView> {
    Ok(Json(c.set_suspended(&name, false)?))
}

#[derive(Deserialize, Default)]
struct RollbackRequest {
    /// A history entry's `seq` or revision; none: the one before the running one.
    #[serde(default)]
    to: Option<String>,
}

async fn rollback(
    State(c): Ctl,
    Path(name): Path<String>,
    Json(req): Json<RollbackRequest>,
) -> Answer<SourceView> {
    Ok(Json(c.rollback(&name, req.to.as_deref()).await?))
}
