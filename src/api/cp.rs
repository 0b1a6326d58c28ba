//! `cp` and `export`: a running service container's files as a tar stream, and a tar stream
//! unpacked into it. Paths are resolved inside the container's root by `runtime::fsaccess`.
//!
//! `POST /v1/projects/{project}/cp/from` (JSON `CpFromRequest`) answers an archive;
//! `POST /v1/projects/{project}/cp/to?…` (`CpToQuery`) takes one as its body;
//! `POST /v1/projects/{project}/export` (JSON `CpFromRequest`, path unused) answers the root.

use super::images::ChannelWriter;
use super::server::{ApiFailure, ServerState};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use crate::runtime::fsaccess;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path as AxPath, Query, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CpFromRequest {
    pub service: String,
    pub index: Option<u32>,
    /// In the container; relative paths are from its root.
    pub path: String,
    /// `cp -L`: follow a symlink at `path`.
    pub follow_link: bool,
    /// The archive's top entry name (default: the last component of `path`; `.` when it
    /// ends with `/.`: the directory's entries only).
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CpToQuery {
    pub service: String,
    pub index: Option<u32>,
    /// Destination in the container.
    pub path: String,
    /// `cp -a`: keep the archive's owners (otherwise root owns the files).
    pub archive: bool,
    /// The body is the user's own tar stream (`cp - svc:DIR`): unpacked into DIR as it is.
    pub stream: bool,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

/// The top entry name `cp` gives what `path` names.
pub fn top_name(path: &str) -> PathBuf {
    if path.ends_with("/.") || path == "." {
        return PathBuf::from(".");
    }
    match Path::new(path).file_name() {
        Some(n) => PathBuf::from(n),
        None => PathBuf::from("."),
    }
}

fn io_failure(what: String) -> impl FnOnce(std::io::Error) -> ApiFailure {
    move |e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            ApiFailure::NotFound(format!("{what}: no such file or directory"))
        }
        _ => ApiFailure::BadRequest(format!("{what}: {e}")),
    }
}

/// The root of the service's running container (replica `index`) and the container's name.
fn root_of<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    project: &str,
    service: &str,
    index: Option<u32>,
) -> Result<(fsaccess::Root, String), ApiFailure> {
    super::validate::names(project, &[service.to_string()]).map_err(ApiFailure::BadRequest)?;
    let (rec, pid) = st.engine.exec_target(project, service, index)?;
    let root = fsaccess::open_root(pid)
        .map_err(|e| ApiFailure::Internal(format!("opening the root of {}: {e}", rec.name)))?;
    Ok((root, rec.name))
}

/// A tar answer written by `write` on a blocking thread.
fn tar_answer(
    write: impl FnOnce(&mut ChannelWriter) -> std::io::Result<()> + Send + 'static,
) -> Result<Response, ApiFailure> {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::new(),
        };
        let res = write(&mut out).and_then(|()| std::io::Write::flush(&mut out));
        // A failure half way aborts the body: the client sees an incomplete answer.
        if let Err(e) = res {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Response::builder()
        .header("content-type", "application/x-tar")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .map_err(|e| ApiFailure::Internal(e.to_string()))
}

pub async fn from<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    AxPath(project): AxPath<String>,
    Json(req): Json<CpFromRequest>,
) -> Result<Response, ApiFailure> {
    let (root, name) = root_of(&st, &project, &req.service, req.index)?;
    let what = format!("{}:{}", name, req.path);
    // Resolved before answering, so a missing path is a 404, not a broken archive.
    let fd = fsaccess::resolve(&root, &req.path, req.follow_link).map_err(io_failure(what))?;
    let top = req
        .name
        .as_deref()
        .map(PathBuf::from)
        .unwrap_or_else(|| top_name(&req.path));
    tar_answer(move |out| fsaccess::tar_out(fd, &top, true, out))
}

pub async fn export<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    AxPath(project): AxPath<String>,
    Json(req): Json<CpFromRequest>,
) -> Result<Response, ApiFailure> {
    let (root, name) = root_of(&st, &project, &req.service, req.index)?;
    let fd = fsaccess::resolve(&root, "/", false).map_err(io_failure(name))?;
    // The root filesystem only: /proc, /sys, /dev and volumes are mount points, left out.
    tar_answer(move |out| fsaccess::tar_out(fd, Path::new("."), false, out))
}

pub async fn to<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    AxPath(project): AxPath<String>,
    Query(q): Query<CpToQuery>,
    body: Body,
) -> Result<Json<u64>, ApiFailure> {
    let (root, name) = root_of(&st, &project, &q.service, q.index)?;
    let spool = super::upload::spool(body, &st.images.uploads_dir()).await?;
    tokio::task::spawn_blocking(move || {
        let what = format!("{}:{}", name, q.path);
        let kind = fsaccess::kind(&root, &q.path).map_err(io_failure(what.clone()))?;
        // An existing directory receives the archive as it is; otherwise its top entry is
        // renamed to the destination's name, in the destination's (existing) parent.
        let (dir, rename) = match kind {
            Some(k) if k.is_dir() => (q.path.clone(), None),
            _ if q.stream => {
                return Err(ApiFailure::BadRequest(format!(
                    "{what}: a tar stream is copied into a directory: name an existing one"
                )));
            }
            _ => {
                let p = Path::new(&q.path);
                let parent = p
                    .parent()
                    .map(|x| x.display().to_string())
                    .unwrap_or_else(|| "/".into());
                let base = p.file_name().map(|n| n.to_os_string()).ok_or_else(|| {
                    ApiFailure::BadRequest(format!("{what}: name a file or directory"))
                })?;
                (parent, Some(base))
            }
        };
        let dest =
            fsaccess::resolve(&root, &dir, true).map_err(io_failure(format!("{name}:{dir}")))?;
        let f =
            std::fs::File::open(spool.path()).map_err(|e| ApiFailure::Internal(e.to_string()))?;
        let n = fsaccess::tar_in(
            &dest,
            std::io::BufReader::new(f),
            rename.as_deref(),
            q.archive,
        )
        .map_err(|e| ApiFailure::BadRequest(format!("copying into {what}: {e}")))?;
        drop(spool);
        Ok(Json(n))
    })
    .await
    .map_err(|e| ApiFailure::Internal(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_top_entry_as_docker_cp() {
        assert_eq!(top_name("/etc/hostname"), Path::new("hostname"));
        assert_eq!(top_name("/etc/"), Path::new("etc"));
        assert_eq!(top_name("/etc/."), Path::new("."));
        assert_eq!(top_name("/"), Path::new("."));
    }
}
