//! Registry endpoints: `POST /v1/images/pull`, `/v1/images/push` (answers stream one JSON
//! `TransferLine` per step, the result or the error last), `/v1/images/status` (what the
//! store holds of a list of references, for `up`'s pull policies) and `/v1/registry/login`.
//!
//! The work runs on a blocking thread (downloads, hashing, extraction); its progress lines go
//! through a bounded channel, so a slow client holds it back rather than filling memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::server::ServerState;
use super::types::{ErrorBody, ImageView};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;

/// Registry operations as the API needs them (the daemon implements them with its image
/// store and `[registry]` settings).
pub trait RegistryAdmin: super::images::RegistrySearch + Send + Sync + 'static {
    /// Pulls `reference` (for `platform`, default the host's); `progress` gets one line per
    /// step, per layer state, and per layer byte count (lines without `status`).
    fn pull(
        &self,
        reference: &str,
        platform: Option<&str>,
        auths: &BTreeMap<String, String>,
        progress: &(dyn Fn(TransferLine) + Sync),
    ) -> Result<ImageView, String>;
    /// Pushes the stored image `reference`; returns its manifest digest.
    fn push(
        &self,
        reference: &str,
        auths: &BTreeMap<String, String>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<String, String>;
    /// `--dry-run` of a pull (`push` false) or push: asks the registry, read-only, what the
    /// transfer would do and says it, one line per fact; transfers and stores nothing.
    fn check(
        &self,
        reference: &str,
        platform: Option<&str>,
        auths: &BTreeMap<String, String>,
        push: bool,
    ) -> Result<Vec<String>, String>;
    /// What the store holds of each reference (one answer per reference, in order): what
    /// `up` needs to apply pull policies without asking any registry.
    fn status(&self, references: &[String]) -> Result<Vec<ImageStatusView>, String>;
    /// Checks credentials against a registry.
    fn login(&self, registry: &str, username: &str, password: &str) -> Result<(), String>;
}

/// Body of pull and push.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferRequest {
    pub reference: String,
    /// The client's `auths` (registry key -> base64 `user:password`), from its
    /// ~/.docker/config.json; used for this request only, never stored.
    #[serde(default)]
    pub auths: BTreeMap<String, String>,
    /// `os/arch[/variant]` to pull of a multi-platform image; absent: the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Whether the client wants byte counts (lines with `layer`, `current`, `total` and no
    /// `status`); clients that do not ask get the per-step lines only, as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub progress: bool,
    /// `--dry-run`: the registry is asked what the transfer would do (status lines), nothing
    /// is transferred; the last line carries neither image nor digest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// A dry run's answer: its facts as status lines, then an empty last line (or the error).
fn checked(
    res: Result<Vec<String>, String>,
    progress: &(dyn Fn(TransferLine) + Sync),
) -> TransferLine {
    match res {
        Ok(lines) => {
            for l in lines {
                progress(TransferLine {
                    status: Some(l),
                    ..TransferLine::default()
                });
            }
            TransferLine::default()
        }
        Err(e) => TransferLine {
            error: Some(e),
            ..TransferLine::default()
        },
    }
}

/// Body of `POST /v1/images/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageStatusRequest {
    pub references: Vec<String>,
}

/// One stored image as `up` sees it before deciding what to pull.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStatusView {
    pub reference: String,
    pub present: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Unix seconds of its last pull (absent: never pulled, e.g. imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulled_at: Option<u64>,
    /// `os/arch[/variant]` of its config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// One line of a pull's or push's answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TransferLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The pulled image (last line of a pull).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageView>,
    /// The pushed manifest's digest (last line of a push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// A layer's short digest, on per-layer lines (a byte count or a state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Bytes of `layer` downloaded so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// Bytes of `layer` in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The state `layer` reached: "exists", "downloaded" or "extracted".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub registry: String,
    pub username: String,
    pub password: String,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

fn line(item: &TransferLine) -> Bytes {
    let mut v = serde_json::to_vec(item).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Runs `work` on a blocking thread, streaming its progress lines and then its last line.
/// Byte-count lines (no `status`) go only to clients that asked for them (`bytes`).
fn streamed(
    bytes: bool,
    work: impl FnOnce(&(dyn Fn(TransferLine) + Sync)) -> TransferLine + Send + 'static,
) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::task::spawn_blocking(move || {
        let progress = |l: TransferLine| {
            if l.status.is_some() || bytes {
                let _ = tx.blocking_send(Ok(line(&l)));
            }
        };
        let last = work(&progress);
        let _ = tx.blocking_send(Ok(line(&last)));
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

pub(crate) async fn pull<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<TransferRequest>,
) -> Response {
    let reg = st.registry.clone();
    let bytes = req.progress;
    streamed(bytes, move |progress| {
        if req.dry_run {
            let res = reg.check(&req.reference, req.platform.as_deref(), &req.auths, false);
            return checked(res, progress);
        }
        match reg.pull(
            &req.reference,
            req.platform.as_deref(),
            &req.auths,
            progress,
        ) {
            Ok(v) => TransferLine {
                image: Some(v),
                ..TransferLine::default()
            },
            Err(e) => TransferLine {
                error: Some(e),
                ..TransferLine::default()
            },
        }
    })
}

pub(crate) async fn push<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<TransferRequest>,
) -> Response {
    let reg = st.registry.clone();
    streamed(false, move |progress| {
        if req.dry_run {
            let res = reg.check(&req.reference, None, &req.auths, true);
            return checked(res, progress);
        }
        let text = |s: &str| {
            progress(TransferLine {
                status: Some(s.to_string()),
                ..TransferLine::default()
            })
        };
        match reg.push(&req.reference, &req.auths, &text) {
            Ok(d) => TransferLine {
                digest: Some(d),
                ..TransferLine::default()
            },
            Err(e) => TransferLine {
                error: Some(e),
                ..TransferLine::default()
            },
        }
    })
}

pub(crate) async fn status<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<ImageStatusRequest>,
) -> Response {
    let reg = st.registry.clone();
    let res = tokio::task::spawn_blocking(move || reg.status(&req.references)).await;
    let message = match res {
        Ok(Ok(v)) => return Json(v).into_response(),
        Ok(Err(e)) => e,
        Err(e) => e.to_string(),
    };
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(ErrorBody { message }),
    )
        .into_response()
}

pub(crate) async fn login<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<LoginRequest>,
) -> Response {
    let reg = st.registry.clone();
    // Answered here rather than through `ApiFailure`: a refused login is a 401 of its own.
    let res =
        tokio::task::spawn_blocking(move || reg.login(&req.registry, &req.username, &req.password))
            .await;
    let (status, message) = match res {
        Ok(Ok(())) => return Json(serde_json::json!({})).into_response(),
        Ok(Err(e)) => (StatusCode::UNAUTHORIZED, e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    (status, Json(ErrorBody { message })).into_response()
}
