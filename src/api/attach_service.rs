//! `POST /v1/projects/{project}/attach` (`rstack attach`, as `docker compose attach`): the
//! client is connected to the main process of a running service container. The connection
//! is upgraded as for `exec` (see `attach`); the client's input always comes as frames:
//! stdin frames go to the container's stdin FIFO (`stdin_open`), resize frames to its
//! terminal (`tty`). The output is the container's log from now on (a terminal's output is
//! logged as it is read). The client detaches by closing the connection: the container goes
//! on and its stdin stays open (its shim holds the FIFOs: `ProcessConfig::attachable`).
//! When the container exits, the client gets its exit code. Signal frames (`--sig-proxy`)
//! are sent to the main process as `rstack kill` sends them.

use super::attach;
use super::log_reader::Read;
use super::server::{ApiFailure, ServerState, client_input, upgrade_request};
use super::types::AttachRequest;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use crate::reconcile::supervisor::Handle;
use crate::store::State;
use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::unix::pipe::Sender;

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

/// The header (lower case) of the 101 answer saying the container has a terminal (value
/// `1`): the client then puts its own in raw mode and sends its size.
pub const TTY_HEADER: &str = "x-rstack-tty";

pub async fn attach<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, ApiFailure> {
    let (on_upgrade, req): (_, AttachRequest) = upgrade_request(req).await?;
    super::validate::names(&project, [&req.service]).map_err(ApiFailure::BadRequest)?;
    let (rec, _) = st.engine.exec_target(&project, &req.service, req.index)?;
    let handle = st
        .engine
        .handle(&rec.id)
        .ok_or_else(|| ApiFailure::NotFound(format!("container {} is gone", rec.name)))?;
    let process = &rec.config.process;
    let dir = &rec.config.state_dir;
    let stdin = match req.stdin && process.stdin {
        true => open_fifo(&dir.join(crate::runtime::STDIN_FIFO)),
        false => None,
    };
    let resize = process
        .tty
        .and_then(|_| open_fifo(&dir.join(crate::runtime::RESIZE_FIFO)));
    let terminal = process.tty.is_some();
    tokio::spawn(async move {
        if let Ok(io) = on_upgrade.await {
            relay(handle, stdin, resize, TokioIo::new(io)).await;
        }
    });
    let mut r = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", attach::UPGRADE_PROTOCOL)
        .header(attach::INPUT_HEADER, attach::FRAMED);
    if terminal {
        r = r.header(TTY_HEADER, "1");
    }
    r.body(Body::empty())
        .map_err(|e| ApiFailure::Internal(e.to_string()))
}

/// A writer on one of the container's FIFOs; its shim holds the reader, so this does not
/// wait. `None` when it cannot be opened (the container is gone: the attach ends with it).
fn open_fifo(path: &std::path::Path) -> Option<Sender> {
    tokio::net::unix::pipe::OpenOptions::new()
        .open_sender(path)
        .ok()
}

/// Client frames to the FIFOs; the log's new lines back as frames, until the client goes
/// (detached) or the container exits (then its exit code).
async fn relay(
    handle: Handle,
    stdin: Option<Sender>,
    resize: Option<Sender>,
    io: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
) {
    use tokio::io::AsyncWriteExt;
    let (from_client, mut to_client) = tokio::io::split(io);
    let signals = Some(handle.clone());
    let mut input = tokio::spawn(client_input(from_client, stdin, true, resize, signals));
    // From the log's end: an attach shows what the container writes from now on.
    let mut cursor = super::logs::reader(&handle.record());
    if let Some(c) = cursor.as_mut() {
        c.keep_last_lines(0);
        c.follow();
    }
    let mut items = Vec::new();
    let mut status = handle.status.clone();
    loop {
        let done = {
            let r = status.borrow_and_update();
            matches!(r.state, State::Exited | State::Dead).then(|| r.exit_code.unwrap_or(255))
        };
        // Read after the state check: once exited, the log is complete.
        while let Some(c) = cursor.as_mut() {
            let more = c.read(&mut items) == Read::More;
            for item in items.drain(..) {
                let kind = if item.stream == "stderr" {
                    attach::STDERR
                } else {
                    attach::STDOUT
                };
                let frame = attach::encode(kind, item.data.as_bytes());
                if to_client.write_all(&frame).await.is_err() {
                    input.abort();
                    return;
                }
            }
            if !more {
                break;
            }
        }
        if let Some(code) = done {
            input.abort();
            let _ = to_client
                .write_all(&attach::encode(attach::EXIT, &code.to_be_bytes()))
                .await;
            let _ = to_client.shutdown().await;
            return;
        }
        tokio::select! {
            changed = status.changed() => {
                if changed.is_err() {
                    // Its supervisor is gone (the container was removed).
                    input.abort();
                    return;
                }
            }
            // The client closed its side: it detached (or went away).
            _ = &mut input => return,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
}
