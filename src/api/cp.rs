//! `cp` and `export`: a service container's files as a tar stream, and a tar stream
//! unpacked into it, running or stopped (created, exited) as with docker. Paths are resolved
//! inside the container's root by `runtime::fsaccess`; a stopped container's root is its
//! overlay, mounted for the copy by `runtime::stopped_root`.
//!
//! `POST /v1/projects/{project}/cp/from` (JSON `CpFromRequest`) answers an archive;
//! `POST /v1/projects/{project}/cp/to?…` (`CpToQuery`) takes one as its body;
//! `POST /v1/projects/{project}/export` (JSON `CpFromRequest`, path unused) answers the root.

use super::images::ChannelWriter;
use super::server::{ApiFailure, ServerState};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::fs_target::FsTarget;
use crate::reconcile::runtime::Runtime;
use crate::runtime::config::RootConfig;
use crate::runtime::fsaccess;
use crate::runtime::stopped_root::{self, Bind};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path as AxPath, Query, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CpFromRequest {
    pub service: String,
    pub index: Option<u32>,
    /// `cp --all`: the service's `run` containers count too.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
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
    /// `cp --all`: the service's `run` containers count too.
    pub all: bool,
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

/// Where a copy runs: a running container's root as its init sees it, or a stopped one's
/// overlay, mounted on a thread of its own for the copy (`runtime::stopped_root`); the
/// project lock goes to that thread and is released when the copy ends.
enum Target {
    Running(fsaccess::Root, String),
    Stopped {
        root: RootConfig,
        binds: Vec<Bind>,
        name: String,
        lock: OwnedMutexGuard<()>,
    },
}

/// What a copy does with the root (or the error that kept it from being opened).
type Work = Box<dyn FnOnce(Result<(&fsaccess::Root, &str), ApiFailure>) + Send + 'static>;

async fn target<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    project: &str,
    service: &str,
    index: Option<u32>,
    all: bool,
) -> Result<Target, ApiFailure> {
    super::validate::names(project, &[service.to_string()]).map_err(ApiFailure::BadRequest)?;
    match st.engine.fs_target(project, service, index, all).await? {
        FsTarget::Running { rec, pid } => {
            let root = fsaccess::open_root(pid).map_err(|e| {
                ApiFailure::Internal(format!("opening the root of {}: {e}", rec.name))
            })?;
            Ok(Target::Running(root, rec.name))
        }
        FsTarget::Stopped { rec, lock } => {
            let binds = binds_of(st, &rec.config.mounts);
            Ok(Target::Stopped {
                root: rec.config.root.clone(),
                binds,
                name: rec.name,
                lock,
            })
        }
    }
}

/// The container's binds and the volumes that exist, with their directories: what a
/// stopped container's paths show, as `docker cp` shows them.
fn binds_of<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    mounts: &[crate::runtime::config::MountConfig],
) -> Vec<Bind> {
    let volumes = match mounts.iter().any(|m| m.volume.is_some()) {
        true => st.volumes.list().unwrap_or_default(),
        false => Vec::new(),
    };
    mounts
        .iter()
        .filter_map(|m| {
            let source = match &m.volume {
                Some(v) => volumes
                    .iter()
                    .find(|x| x.name == v.name)
                    .map(|x| PathBuf::from(&x.mountpoint))?,
                // Secrets and configs are written at start; the rest (tmpfs) is empty.
                None if m.kind == "bind" && m.file.is_none() => PathBuf::from(&m.source),
                None => return None,
            };
            Some(Bind {
                destination: m.destination.clone(),
                source,
            })
        })
        .collect()
}

impl Target {
    /// Runs `work` on a blocking thread with the root; `writable`: the copy writes.
    fn run(self, writable: bool, work: Work) -> Result<(), ApiFailure> {
        match self {
            Target::Running(root, name) => {
                tokio::task::spawn_blocking(move || work(Ok((&root, &name))));
                Ok(())
            }
            Target::Stopped {
                root,
                binds,
                name,
                lock,
            } => stopped_root::spawn(root, binds, writable, move |r| {
                let _lock = lock;
                match r {
                    Ok(root) => work(Ok((&root, &name))),
                    Err(e) => work(Err(ApiFailure::Internal(format!(
                        "mounting the filesystem of the stopped container {name}: {e}"
                    )))),
                }
            })
            .map_err(|e| ApiFailure::Internal(format!("starting the copy: {e}"))),
        }
    }
}

/// A tar answer: `write` runs with the root once `open` (run first) resolved what it
/// copies, so a missing path is a 404, not a broken archive.
async fn tar_answer<T: Send + 'static>(
    target: Target,
    open: impl FnOnce(&fsaccess::Root, &str) -> Result<T, ApiFailure> + Send + 'static,
    write: impl FnOnce(T, &mut ChannelWriter) -> std::io::Result<()> + Send + 'static,
) -> Result<Response, ApiFailure> {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let (ready_tx, ready_rx) = oneshot::channel::<Result<(), ApiFailure>>();
    target.run(
        false,
        Box::new(move |r| {
            let opened = r.and_then(|(root, name)| open(root, name));
            let x = match opened {
                Ok(x) => x,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let mut out = ChannelWriter {
                tx: tx.clone(),
                buf: Vec::new(),
            };
            let res = write(x, &mut out).and_then(|()| std::io::Write::flush(&mut out));
            // A failure half way aborts the body: the client sees an incomplete answer.
            if let Err(e) = res {
                let _ = tx.blocking_send(Err(e));
            }
        }),
    )?;
    ready_rx
        .await
        .map_err(|_| ApiFailure::Internal("the copy ended before it began".into()))??;
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
    let target = target(&st, &project, &req.service, req.index, req.all).await?;
    let top = req
        .name
        .as_deref()
        .map(PathBuf::from)
        .unwrap_or_else(|| top_name(&req.path));
    tar_answer(
        target,
        move |root, name| {
            let what = format!("{}:{}", name, req.path);
            fsaccess::resolve(root, &req.path, req.follow_link).map_err(io_failure(what))
        },
        move |fd, out| fsaccess::tar_out(fd, &top, true, out),
    )
    .await
}

pub async fn export<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    AxPath(project): AxPath<String>,
    Json(req): Json<CpFromRequest>,
) -> Result<Response, ApiFailure> {
    let target = target(&st, &project, &req.service, req.index, false).await?;
    tar_answer(
        target,
        |root, name| fsaccess::resolve(root, "/", false).map_err(io_failure(name.to_string())),
        // The root filesystem only: /proc, /sys, /dev and volumes are mount points, left out.
        |fd, out| fsaccess::tar_out(fd, Path::new("."), false, out),
    )
    .await
}

pub async fn to<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    AxPath(project): AxPath<String>,
    Query(q): Query<CpToQuery>,
    body: Body,
) -> Result<Json<u64>, ApiFailure> {
    // Spooled before the target is taken: a stopped container's project lock is not held
    // while the client uploads.
    let spool = super::upload::spool(body, &st.images.uploads_dir()).await?;
    let target = target(&st, &project, &q.service, q.index, q.all).await?;
    let (done_tx, done_rx) = oneshot::channel::<Result<u64, ApiFailure>>();
    target.run(
        true,
        Box::new(move |r| {
            let res = r.and_then(|(root, name)| copy_in(root, name, &q, spool.path()));
            drop(spool);
            let _ = done_tx.send(res);
        }),
    )?;
    let n = done_rx
        .await
        .map_err(|_| ApiFailure::Internal("the copy ended without an answer".into()))??;
    Ok(Json(n))
}

/// Unpacks the spooled archive at `q.path` in the root.
fn copy_in(
    root: &fsaccess::Root,
    name: &str,
    q: &CpToQuery,
    spool: &Path,
) -> Result<u64, ApiFailure> {
    let what = format!("{}:{}", name, q.path);
    let kind = fsaccess::kind(root, &q.path).map_err(io_failure(what.clone()))?;
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
    let dest = fsaccess::resolve(root, &dir, true).map_err(io_failure(format!("{name}:{dir}")))?;
    let f = std::fs::File::open(spool).map_err(|e| ApiFailure::Internal(e.to_string()))?;
    fsaccess::tar_in(
        &dest,
        std::io::BufReader::new(f),
        rename.as_deref(),
        q.archive,
    )
    .map_err(|e| ApiFailure::BadRequest(format!("copying into {what}: {e}")))
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
