//! The daemon's REST server: axum routes over the unix socket, mapping requests onto the
//! engine. Streaming answers (logs, exec, run) are newline-delimited `LogLine`s.

use super::attach;
use super::log_reader::Read;
use super::logs::stream_logs;
use super::types::*;
use super::validate;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::{ExecSpec, Runtime};
use crate::reconcile::{Engine, EngineError};
use crate::store::{ContainerRecord, State};
use axum::body::Body;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Image administration as the API needs it (the daemon's image store implements it, and
/// maps its errors to the kinds the API answers by).
pub trait ImageAdmin: super::images::ImageTools + Send + Sync + 'static {
    /// Imports the archive at `archive`, a file of the daemon's own (an upload's spool file);
    /// `name` is what messages call it.
    fn import(
        &self,
        archive: &std::path::Path,
        name: &str,
        reference: &str,
    ) -> Result<ImageView, ApiFailure>;
    /// Where uploads are spooled before their import.
    fn uploads_dir(&self) -> std::path::PathBuf;
    fn list(&self) -> Result<Vec<ImageView>, ApiFailure>;
    fn remove(&self, reference: &str) -> Result<(), ApiFailure>;
    /// The image id a reference names, if it exists.
    fn id_of(&self, reference: &str) -> Option<String>;
}

pub struct ServerState<R: Runtime, I: ImageSource> {
    pub engine: Arc<Engine<R, I>>,
    pub images: Arc<dyn ImageAdmin>,
    /// Pull, push and login (`api::registry`).
    pub registry: Arc<dyn super::registry::RegistryAdmin>,
    /// Image builds (`api::build`).
    pub builder: Arc<dyn super::build::BuildAdmin>,
    /// Named and anonymous volumes (`api::volumes`).
    pub volumes: Arc<dyn super::volumes::VolumeAdmin>,
    /// Networks and published ports (`api::networks`).
    pub networks: Arc<dyn super::networks::NetworkAdmin>,
    pub version: VersionInfo,
    /// Sync source events, for the event streams (`api::events`).
    pub source_events: super::events::SourceEvents,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

pub fn router<R: Runtime, I: ImageSource>(state: Arc<ServerState<R, I>>) -> Router {
    Router::new()
        .route("/v1/version", get(version::<R, I>))
        .route("/v1/containers", get(containers::<R, I>))
        .route(
            "/v1/containers/inspect",
            get(super::inspect::inspect::<R, I>),
        )
        .route("/v1/projects", get(super::projects::list::<R, I>))
        .route("/v1/projects/{project}/up", post(up::<R, I>))
        .route("/v1/projects/{project}/down", post(down::<R, I>))
        .route("/v1/projects/{project}/wait", post(wait::<R, I>))
        .route("/v1/projects/{project}/top", post(super::top::top::<R, I>))
        .route(
            "/v1/projects/{project}/pause",
            post(super::pause::pause::<R, I>),
        )
        .route(
            "/v1/projects/{project}/unpause",
            post(super::pause::unpause::<R, I>),
        )
        .route(
            "/v1/projects/{project}/cp/from",
            post(super::cp::from::<R, I>),
        )
        .route("/v1/projects/{project}/cp/to", post(super::cp::to::<R, I>))
        .route(
            "/v1/projects/{project}/export",
            post(super::cp::export::<R, I>),
        )
        .route(
            "/v1/projects/{project}/stats",
            post(super::stats::stats::<R, I>),
        )
        .route(
            "/v1/projects/{project}/events",
            post(super::events::events::<R, I>),
        )
        .route("/v1/projects/{project}/rm", post(super::rm::rm::<R, I>))
        .route("/v1/projects/{project}/{verb}", post(services_verb::<R, I>))
        .route("/v1/projects/{project}/logs/stream", post(logs::<R, I>))
        .route("/v1/projects/{project}/exec", post(exec::<R, I>))
        .route("/v1/projects/{project}/run", post(run::<R, I>))
        .route(
            "/v1/projects/{project}/attach",
            post(super::attach_service::attach::<R, I>),
        )
        .route("/v1/images", get(images_list::<R, I>))
        .route("/v1/images/import", post(images_import::<R, I>))
        .route("/v1/images/remove", post(super::images::remove::<R, I>))
        .route("/v1/images/tag", post(super::images::tag::<R, I>))
        .route("/v1/images/inspect", post(super::images::inspect::<R, I>))
        .route("/v1/images/history", post(super::images::history::<R, I>))
        .route("/v1/images/prune", post(super::images::prune::<R, I>))
        .route("/v1/images/save", post(super::images::save::<R, I>))
        .route("/v1/images/load", post(super::images::load::<R, I>))
        .route("/v1/images/search", post(super::images::search::<R, I>))
        .route("/v1/images/pull", post(super::registry::pull::<R, I>))
        .route("/v1/images/build", post(super::build::build::<R, I>))
        .route("/v1/images/push", post(super::registry::push::<R, I>))
        .route("/v1/images/status", post(super::registry::status::<R, I>))
        .route("/v1/volumes", get(super::volumes::list::<R, I>))
        .route("/v1/volumes/create", post(super::volumes::create::<R, I>))
        .route("/v1/volumes/remove", post(super::volumes::remove::<R, I>))
        .route("/v1/volumes/prune", post(super::volumes::prune::<R, I>))
        .route("/v1/networks", get(super::networks::list::<R, I>))
        .route("/v1/networks/create", post(super::networks::create::<R, I>))
        .route("/v1/networks/remove", post(super::networks::remove::<R, I>))
        .route("/v1/networks/prune", post(super::networks::prune::<R, I>))
        .route(
            "/v1/networks/inspect",
            post(super::networks::inspect::<R, I>),
        )
        .route("/v1/registry/login", post(super::registry::login::<R, I>))
        .with_state(state)
}

pub use super::failure::ApiFailure;

type ApiResult<T> = Result<Json<T>, ApiFailure>;

/// A name check's refusal as a 400 answer.
fn valid(check: Result<(), String>) -> Result<(), ApiFailure> {
    check.map_err(ApiFailure::BadRequest)
}

async fn version<R: Runtime, I: ImageSource>(st: St<R, I>) -> Json<VersionInfo> {
    Json(st.version.clone())
}

#[derive(Deserialize)]
struct ListQuery {
    project: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn exec_env_replaces_by_key() {
        let base = ["PATH=/bin".to_string(), "FOO=orig".to_string()];
        let got = super::merge_env(&base, &["FOO=new".to_string(), "BAR=1".to_string()]);
        assert_eq!(got, ["PATH=/bin", "FOO=new", "BAR=1"]);
    }
}

pub fn view(r: &ContainerRecord) -> ContainerView {
    ContainerView {
        id: r.id.clone(),
        name: r.name.clone(),
        project: r.project.clone(),
        service: r.service.clone(),
        state: match super::pause::is_paused(r) {
            true => "paused".to_string(),
            false => r.state.as_str().to_string(),
        },
        health: r.health.clone(),
        health_output: crate::store::health_log::failing_output(r),
        pid: r.pid,
        exit_code: r.exit_code,
        oom_killed: r.oom_killed,
        restarts: r.restarts,
        image: r.image.clone(),
        started_at: r.started_at,
        finished_at: r.finished_at,
        restart_delay_ms: r.restart_delay_ms,
        error: r.error.clone(),
        one_off: r.one_off,
        ports: Vec::new(),
        labels: r.service_def.options.labels.clone(),
        command: r.config.process.args.join(" "),
    }
}

async fn containers<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<ContainerView>> {
    if let Some(p) = &q.project {
        valid(validate::names(p, []))?;
    }
    let recs = st.engine.list(q.project.as_deref())?;
    Ok(Json(
        recs.iter()
            .map(|r| ContainerView {
                ports: super::networks::ports(&st, r),
                ..view(r)
            })
            .collect(),
    ))
}

fn check_project(path: &str, body: &str) -> Result<(), ApiFailure> {
    if path != body {
        return Err(ApiFailure::BadRequest(format!(
            "project in path ({path}) and body ({body}) differ"
        )));
    }
    Ok(())
}

async fn up<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<UpRequest>,
) -> ApiResult<UpAnswer> {
    check_project(&project, &req.stack.name)?;
    apply_up(&st, req).await.map(Json)
}

/// `up` of a stack as the API does it (the networks whose definition changed first, then the
/// engine): the sync controller applies a source's revisions through it too.
pub async fn apply_up<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    req: UpRequest,
) -> Result<UpAnswer, ApiFailure> {
    let project = req.stack.name.clone();
    valid(validate::names(&project, &req.services))?;
    valid(validate::stack(&req.stack))?;
    // The networks are made at the first start on them: those there after, not before.
    let project_networks = || -> Vec<String> {
        let list = st.networks.list();
        list.into_iter()
            .filter(|n| n.project == project)
            .map(|n| n.name)
            .collect()
    };
    // A network whose definition changed is made again (with its containers), as compose;
    // a dry run only says so.
    if req.dry_run {
        let (networks, on) = super::netchange::diverged(st, &req.stack)?;
        let mut response = st.engine.up(req).await?;
        super::netchange::recreated_with(&mut response, &networks, &on);
        return Ok(UpAnswer {
            response,
            networks_created: Vec::new(),
            networks_recreated: networks,
        });
    }
    super::netchange::remove_diverged(st, &req.stack).await?;
    let before = project_networks();
    let response = st.engine.up(req).await?;
    let networks_created = project_networks()
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    Ok(UpAnswer {
        response,
        networks_created,
        networks_recreated: Vec::new(),
    })
}

/// `wait`: answers once the services' containers stopped (see `Engine::wait_services`).
async fn wait<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<ServicesRequest>,
) -> ApiResult<Vec<WaitedContainer>> {
    valid(validate::names(&project, &req.services))?;
    Ok(Json(
        st.engine
            .wait_services(&project, &req.services, req.first)
            .await?,
    ))
}

async fn down<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<DownRequest>,
) -> ApiResult<DownResponse> {
    apply_down(&st, &project, req).await.map(Json)
}

/// `down` of a project as the API does it (containers, then networks, then volumes with
/// `volumes`): `sync rm` takes a source's project down through it.
pub async fn apply_down<R: Runtime, I: ImageSource>(
    st: &Arc<ServerState<R, I>>,
    project: &str,
    req: DownRequest,
) -> Result<DownResponse, ApiFailure> {
    let project = project.to_string();
    valid(validate::names(&project, []))?;
    if req.dry_run {
        return super::down_plan::plan(st, &project, &req).await;
    }
    let t = req.timeout.map(Duration::from_secs);
    super::pause::thaw_before_stop(st, &project, &[]).await;
    let opts = crate::reconcile::DownOptions {
        keep: req.keep.clone(),
        volumes: req.volumes,
    };
    let (containers, warnings) = st.engine.down_reporting(&project, t, &opts).await?;
    // After the containers, as compose: every network of the project goes but one a
    // container (a kept orphan) is still on, which stays with a warning.
    let networks = st.networks.remove_project(&project).await;
    let networks_in_use = st
        .networks
        .list()
        .into_iter()
        .filter(|n| n.project == project)
        .map(|n| n.name)
        .collect();
    let volumes = match req.volumes {
        true => super::volumes::remove_project(st, &project).await?,
        false => Vec::new(),
    };
    Ok(DownResponse {
        containers,
        networks,
        volumes,
        networks_in_use,
        warnings,
        ..Default::default()
    })
}

async fn services_verb<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path((project, verb)): Path<(String, String)>,
    Json(req): Json<ServicesRequest>,
) -> ApiResult<serde_json::Value> {
    valid(validate::names(&project, &req.services))?;
    let t = req.timeout.map(Duration::from_secs);
    let e = &st.engine;
    if matches!(verb.as_str(), "stop" | "restart" | "kill") {
        super::pause::thaw_before_stop(&st, &project, &req.services).await;
    }
    match verb.as_str() {
        "start" => e.start_services(&project, &req.services).await?,
        "stop" => e.stop_services(&project, &req.services, t).await?,
        "restart" => e.restart_services(&project, &req.services, t).await?,
        "kill" => {
            let name = req.signal.as_deref().unwrap_or("SIGKILL");
            let sig = crate::runtime::config::parse_signal(name)
                .ok_or_else(|| ApiFailure::BadRequest(format!("unknown signal {name:?}")))?;
            e.kill_services(&project, &req.services, sig).await?
        }
        _ => {
            return Err(ApiFailure::NotFound(format!("unknown operation {verb:?}")));
        }
    }
    Ok(Json(serde_json::json!({})))
}

/// A streaming answer fed by `tx`.
fn stream_response() -> (Sender, Response) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let body = Body::from_stream(ReceiverStream::new(rx));
    let resp = Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    (Sender(tx), resp)
}

/// The client of a streaming answer has gone away.
#[derive(Debug)]
pub struct ClientGone;

/// Sends `LogLine`s; `send` fails once the client went away.
#[derive(Clone)]
pub struct Sender(mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Sender {
    /// Resolves when the client has gone away.
    pub async fn closed(&self) {
        self.0.closed().await
    }

    /// Whether the client has gone away.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Sends ready-made newline-delimited items from a blocking thread, waiting while the
    /// channel is full: the client's pace holds the reader back.
    pub fn send_blocking(&self, items: Vec<u8>) -> Result<(), ClientGone> {
        self.0
            .blocking_send(Ok(Bytes::from(items)))
            .map_err(|_| ClientGone)
    }

    pub async fn send(&self, item: &LogLine) -> Result<(), ()> {
        let mut line = serde_json::to_vec(item).map_err(|_| ())?;
        line.push(b'\n');
        self.0.send(Ok(Bytes::from(line))).await.map_err(|_| ())
    }
}

/// The replica number in `<project>-<service>-N` (as `plan::replica_number`, which api may
/// not use); a name without one is replica 1.
fn replica_of(name: &str, project: &str, service: &str) -> u32 {
    name.strip_prefix(&format!("{project}-{service}-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

async fn logs<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(q): Json<LogsQuery>,
) -> Result<Response, ApiFailure> {
    valid(validate::names(&project, &q.services))?;
    let recs: Vec<ContainerRecord> = st
        .engine
        .list(Some(&project))?
        .into_iter()
        .filter(|r| !r.one_off && (q.services.is_empty() || q.services.contains(&r.service)))
        .filter(|r| {
            q.index
                .is_none_or(|i| replica_of(&r.name, &project, &r.service) == i)
        })
        .collect();
    if recs.is_empty() && !q.follow {
        return Err(ApiFailure::NotFound(format!(
            "no containers for project \"{project}\""
        )));
    }
    let (tx, resp) = stream_response();
    let engine = st.engine.clone();
    let ids: Vec<String> = recs.iter().map(|r| r.id.clone()).collect();
    let all_stopped = move || {
        !ids.is_empty()
            && ids.iter().all(|id| {
                engine
                    .handle(id)
                    .is_none_or(|h| matches!(h.record().state, State::Exited | State::Dead))
            })
    };
    // A thread of its own: it reads files and waits on the client's pace.
    tokio::task::spawn_blocking(move || stream_logs(recs, q, tx, all_stopped));
    Ok(resp)
}

/// `exec`: upgrades the connection to a duplex stream (see `attach`): the client's bytes go
/// to the process's stdin, its output and exit code come back as frames.
async fn exec<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, ApiFailure> {
    let asks_framed = asks_framed_input(&req);
    let (on_upgrade, req): (_, ExecRequest) = upgrade_request(req).await?;
    valid(validate::names(&project, [&req.service]))?;
    let (rec, pid) = st.engine.exec_target(&project, &req.service, req.index)?;
    // As docker: on v2 the process would join the frozen cgroup and hang.
    if super::pause::is_paused(&rec) {
        return Err(ApiFailure::BadRequest(format!(
            "container {} is paused: unpause it before exec (rstack unpause {})",
            rec.name, rec.service
        )));
    }
    let spec = ExecSpec {
        args: req.cmd.clone(),
        env: merge_env(&rec.config.process.env, &req.env),
        cwd: req.workdir.clone().or(Some(rec.config.process.cwd.clone())),
        user: req.user.clone().or(rec.config.process.user.clone()),
        stdin: true,
        tty: req.tty,
        privileged: req.privileged,
    };
    let process = st.engine.spawn_exec(&rec, pid, &spec)?;
    let terminal = asks_framed && spec.tty.is_some();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(io) => relay_process(process, terminal, TokioIo::new(io)).await,
            // The client went away before the switch: do not leave the process behind.
            Err(_) => drop(process),
        }
    });
    switching_protocols(terminal)
}

/// Copies the client's input to a process: raw bytes to its stdin, or, with a terminal,
/// stdin and resize frames. Dropping stdin at the end gives EOF.
pub(super) async fn client_input(
    mut from_client: impl tokio::io::AsyncRead + Unpin,
    stdin: Option<impl tokio::io::AsyncWrite + Unpin>,
    terminal: bool,
    mut resize: Option<tokio::net::unix::pipe::Sender>,
    signals: Option<crate::reconcile::supervisor::Handle>,
) {
    use tokio::io::AsyncWriteExt;
    if !terminal {
        if let Some(mut stdin) = stdin {
            let _ = tokio::io::copy(&mut from_client, &mut stdin).await;
        }
        return;
    }
    let mut stdin = stdin;
    while let Ok(Some(frame)) = attach::read_frame_async(&mut from_client).await {
        match frame {
            attach::Frame::Stdin(data) => {
                if let Some(s) = stdin.as_mut()
                    && s.write_all(&data).await.is_err()
                {
                    stdin = None;
                }
            }
            attach::Frame::Resize(rows, cols) => {
                let record = crate::runtime::tty::resize_record(rows, cols);
                if let Some(r) = resize.as_mut()
                    && r.write_all(&record).await.is_err()
                {
                    resize = None;
                }
            }
            // `attach --sig-proxy`: as Docker's ContainerKill; a process already gone is
            // not the client's error (the exit frame follows).
            attach::Frame::Signal(sig) => {
                if let Some(h) = signals.as_ref() {
                    let _ = h.kill(sig).await;
                }
            }
            // Only a daemon sends the other kinds.
            _ => break,
        }
    }
}

/// Takes the pending connection upgrade and the JSON body of an attach-style request.
pub(super) async fn upgrade_request<T: serde::de::DeserializeOwned>(
    mut req: axum::extract::Request,
) -> Result<(hyper::upgrade::OnUpgrade, T), ApiFailure> {
    let on_upgrade = req
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| {
            ApiFailure::BadRequest(format!(
                "this endpoint needs a connection upgrade to {}",
                attach::UPGRADE_PROTOCOL
            ))
        })?;
    let body = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .map_err(|e| ApiFailure::BadRequest(e.to_string()))?;
    let parsed = serde_json::from_slice(&body)
        .map_err(|e| ApiFailure::BadRequest(format!("request body: {e}")))?;
    Ok((on_upgrade, parsed))
}

/// Whether an attach request asks to send framed input (see `attach::INPUT_HEADER`).
fn asks_framed_input(req: &axum::extract::Request) -> bool {
    req.headers()
        .get(attach::INPUT_HEADER)
        .is_some_and(|v| v.as_bytes() == attach::FRAMED.as_bytes())
}

/// The 101 answer; `framed_input`: the client's input will be read as frames.
fn switching_protocols(framed_input: bool) -> Result<Response, ApiFailure> {
    let mut r = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", attach::UPGRADE_PROTOCOL);
    if framed_input {
        r = r.header(attach::INPUT_HEADER, attach::FRAMED);
    }
    r.body(Body::empty())
        .map_err(|e| ApiFailure::Internal(e.to_string()))
}

/// The container's environment with `exec -e` entries replacing theirs by key (a duplicate
/// key would leave programs reading the first, i.e. the old, value).
fn merge_env(base: &[String], overrides: &[String]) -> Vec<String> {
    let key = |kv: &String| kv.split('=').next().unwrap_or("").to_string();
    let replaced: std::collections::HashSet<String> = overrides.iter().map(key).collect();
    base.iter()
        .filter(|kv| !replaced.contains(&key(kv)))
        .chain(overrides.iter())
        .cloned()
        .collect()
}

/// Client bytes to stdin; stdout/stderr and the exit code back as frames.
async fn relay_process(
    process: crate::reconcile::runtime::ExecProcess,
    terminal: bool,
    io: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
) {
    use tokio::io::AsyncWriteExt;
    let mut child = process.child;
    let (from_client, to_client) = tokio::io::split(io);
    let stdin = child.stdin.take();
    let input = tokio::spawn(client_input(
        from_client,
        stdin,
        terminal,
        process.resize,
        None,
    ));
    let to_client = std::sync::Arc::new(tokio::sync::Mutex::new(to_client));
    let pump = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>, kind: u8| {
        let out = to_client.clone();
        async move {
            let Some(mut pipe) = pipe else { return };
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let frame = attach::encode(kind, &buf[..n]);
                if out.lock().await.write_all(&frame).await.is_err() {
                    break;
                }
            }
        }
    };
    let a = pump(
        child.stdout.take().map(|p| Box::new(p) as _),
        attach::STDOUT,
    );
    let b = pump(
        child.stderr.take().map(|p| Box::new(p) as _),
        attach::STDERR,
    );
    tokio::join!(a, b);
    let code = match child.wait().await {
        Ok(st) => exit_code(st),
        Err(_) => 255,
    };
    input.abort();
    let mut out = to_client.lock().await;
    let _ = out
        .write_all(&attach::encode(attach::EXIT, &code.to_be_bytes()))
        .await;
    let _ = out.shutdown().await;
}

fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code()
        .or_else(|| st.signal().map(|s| 128 + s))
        .unwrap_or(255)
}

/// `run`: a one-off container attached like `exec` (see `attach`): the client's bytes go to
/// its stdin, its output (from its log) and exit code come back as frames.
async fn run<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, ApiFailure> {
    let asks_framed = asks_framed_input(&req);
    let (on_upgrade, req): (_, RunRequest) = upgrade_request(req).await?;
    let terminal = asks_framed && req.tty.is_some();
    valid(validate::names(&project, [&req.service]))?;
    valid(validate::stack(&req.stack))?;
    check_project(&project, &req.stack.name)?;
    let Some(def) = req.stack.services.get(&req.service) else {
        return Err(EngineError::Invalid(format!("no such service: {}", req.service)).into());
    };
    if req.deps && !def.depends_on.is_empty() {
        let deps: Vec<String> = def.depends_on.keys().cloned().collect();
        st.engine
            .up(UpRequest {
                stack: req.stack.clone(),
                services: deps,
                ..Default::default()
            })
            .await?;
    }
    // Errors about the request (an unknown image, say) are still answers to it; the start
    // itself goes on beside the switch to the attached stream, and its failure, should it
    // fail, comes as an error frame.
    let mut rec = st
        .engine
        .oneoff_record(&req.stack, &req.service, &req.cmd, req.rm, req.tty)
        .await?;
    rec.config.process.stdin &= req.stdin;
    let id = rec.id.clone();
    let engine = st.engine.clone();
    tokio::spawn(async move {
        let (started, upgraded) = tokio::join!(engine.start_oneoff(rec), on_upgrade);
        let handle = match started {
            Ok(h) => h,
            Err(e) => {
                if let Ok(io) = upgraded {
                    let f = ApiFailure::from(e);
                    send_error(TokioIo::new(io), f.status(), &f.to_string()).await;
                }
                return;
            }
        };
        let stdin = engine.open_stdin(&handle.record());
        let resize = engine.open_resize(&handle.record());
        // With --rm the container has left the API before the client hears the exit code, so
        // a `ps` right after `run --rm` never shows it (as with docker); its files, cgroups
        // and record go right after (or at the next boot, should the daemon die first).
        let hide = || {
            if req.rm {
                engine.hide_removing(&id);
            }
        };
        match upgraded {
            Ok(io) => {
                let input = (stdin, terminal, resize);
                relay_oneoff(handle, input, TokioIo::new(io), hide).await
            }
            Err(_) => hide(),
        }
        if req.rm {
            engine.remove_by_id(&id).await;
        }
    });
    switching_protocols(terminal)
}

/// Ends an attached stream with the failure that stopped its process from starting.
async fn send_error(io: impl tokio::io::AsyncWrite + Unpin, status: StatusCode, message: &str) {
    use tokio::io::AsyncWriteExt;
    let mut io = io;
    let mut payload = status.as_u16().to_be_bytes().to_vec();
    payload.extend_from_slice(message.as_bytes());
    let _ = io.write_all(&attach::encode(attach::ERROR, &payload)).await;
    let _ = io.shutdown().await;
}

/// A one-off's stdin, whether it has a terminal, and where its window sizes go.
type OneoffInput = (
    Option<tokio::net::unix::pipe::Sender>,
    bool,
    Option<tokio::net::unix::pipe::Sender>,
);

/// Client bytes to the one-off's stdin FIFO; its log lines and exit code back as frames.
async fn relay_oneoff(
    handle: crate::reconcile::supervisor::Handle,
    (stdin, terminal, resize): OneoffInput,
    io: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    before_exit: impl FnOnce(),
) {
    use tokio::io::AsyncWriteExt;
    let (from_client, mut to_client) = tokio::io::split(io);
    let input = tokio::spawn(client_input(from_client, stdin, terminal, resize, None));
    // A one-off's log is always kept (see `Engine::oneoff_record`): its output comes from it.
    let mut cursor = super::logs::reader(&handle.record());
    if let Some(c) = cursor.as_mut() {
        c.follow();
    }
    let mut items = Vec::new();
    let mut status = handle.status.clone();
    let mut gone = false;
    let code = loop {
        let done = {
            let r = status.borrow_and_update();
            matches!(r.state, State::Exited | State::Dead).then(|| r.exit_code.unwrap_or(255))
        };
        // Read after the state check: once exited, the log is complete. A chunk at a time.
        while let Some(c) = cursor.as_mut() {
            let more = c.read(&mut items) == Read::More;
            for item in items.drain(..) {
                let kind = if item.stream == "stderr" {
                    attach::STDERR
                } else {
                    attach::STDOUT
                };
                let frame = attach::encode(kind, item.data.as_bytes());
                // A client that went away stops getting output, but the run (and --rm) goes on.
                if !gone && to_client.write_all(&frame).await.is_err() {
                    gone = true;
                }
            }
            if !more {
                break;
            }
        }
        if let Some(code) = done {
            break code;
        }
        tokio::select! {
            _ = status.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    input.abort();
    before_exit();
    let _ = to_client
        .write_all(&attach::encode(attach::EXIT, &code.to_be_bytes()))
        .await;
    let _ = to_client.shutdown().await;
}

async fn images_list<R: Runtime, I: ImageSource>(st: St<R, I>) -> ApiResult<Vec<ImageView>> {
    // Off the daemon's one async thread, as all image store work (it reads and locks files).
    let images = st.images.clone();
    tokio::task::spawn_blocking(move || images.list())
        .await
        .map_err(ApiFailure::join)?
        .map(Json)
}

/// `image import`: the archive comes as the request body and is spooled to a file of the
/// daemon's own (streamed, never held in memory), then imported from there.
async fn images_import<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Query(q): Query<ImageImportQuery>,
    body: Body,
) -> ApiResult<ImageView> {
    let spool = super::upload::spool(body, &st.images.uploads_dir()).await?;
    let images = st.images.clone();
    let name = if q.name.is_empty() {
        "the uploaded archive".to_string()
    } else {
        q.name.clone()
    };
    tokio::task::spawn_blocking(move || {
        let res = images.import(spool.path(), &name, &q.reference);
        drop(spool);
        res
    })
    .await
    .map_err(ApiFailure::join)?
    .map(Json)
}
