//! `POST /v1/images/build?options=JSON`: the body is a tar of the build context under `ctx/`
//! (the client applied .dockerignore) and of each additional context under `named/N/`; the answer streams one JSON `BuildLine` per step or output line,
//! the built image or the error last.
//!
//! The build runs on a blocking thread (it copies files and waits for RUN containers); its
//! lines go through a bounded channel, so a slow client holds the build back rather than
//! filling the daemon's memory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::server::ServerState;
use super::types::ImageView;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;

/// What to build (the `options` query parameter, JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuildOptions {
    /// The Dockerfile's text, and the name errors call it by.
    pub dockerfile: String,
    pub file_name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub no_cache: bool,
    #[serde(default)]
    pub pull: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub network: Option<String>,
    /// Named contexts (`additional_contexts`): `named/N` (a directory in the uploaded tar),
    /// `image:REF` (an image), or `unsupported:VALUE`.
    #[serde(default)]
    pub contexts: BTreeMap<String, String>,
    /// The client's registry credentials, for pulling base images (this request only).
    #[serde(default)]
    pub auths: BTreeMap<String, String>,
}

/// A step starting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildStep {
    pub n: usize,
    pub total: usize,
    pub text: String,
    #[serde(default)]
    pub cached: bool,
}

/// One line of a build's answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuildLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<BuildStep>,
    /// A line a RUN printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The built image (last line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageView>,
}

/// Builds as the API needs them (the daemon implements it on the image store and the
/// runtime).
pub trait BuildAdmin: Send + Sync + 'static {
    /// Where uploaded contexts are spooled.
    fn uploads_dir(&self) -> std::path::PathBuf;
    /// Builds `options` with the context tar at `context`; `line` gets each step and output
    /// line.
    fn build(
        &self,
        context: &Path,
        options: BuildOptions,
        line: &(dyn Fn(BuildLine) + Sync),
    ) -> Result<ImageView, String>;
}

#[derive(Deserialize)]
pub(crate) struct BuildQuery {
    options: String,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

fn encode(item: &BuildLine) -> Bytes {
    let mut v = serde_json::to_vec(item).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

pub(crate) async fn build<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Query(q): Query<BuildQuery>,
    body: Body,
) -> Response {
    let options: BuildOptions = match serde_json::from_str(&q.options) {
        Ok(o) => o,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad build options: {e}")).into_response();
        }
    };
    let builder = st.builder.clone();
    let spool = match super::upload::spool(body, &builder.uploads_dir()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::task::spawn_blocking(move || {
        let send = |l: BuildLine| {
            let _ = tx.blocking_send(Ok(encode(&l)));
        };
        let last = match builder.build(spool.path(), options, &send) {
            Ok(img) => BuildLine {
                image: Some(img),
                ..BuildLine::default()
            },
            Err(e) => BuildLine {
                error: Some(e),
                ..BuildLine::default()
            },
        };
        drop(spool);
        send(last);
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
