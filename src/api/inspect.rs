//! `GET /v1/containers/inspect?project=P&target=T`: containers as `docker inspect` shows
//! them (the keys people script against: `State.Health.Log`, `State.ExitCode`...), chosen
//! by container name or service name.

use super::server::{ApiFailure, ServerState};
use crate::model::{HealthTest, Healthcheck};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use crate::store::ContainerRecord;
use crate::store::health_log::ProbeResult;
use axum::Json;
use axum::extract::{Query, State as AxState};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Deserialize)]
pub struct InspectQuery {
    pub project: String,
    /// A container name or a service name (then every container of it).
    pub target: String,
}

pub async fn inspect<R: Runtime, I: ImageSource>(
    AxState(st): AxState<Arc<ServerState<R, I>>>,
    Query(q): Query<InspectQuery>,
) -> Result<Json<Vec<Value>>, ApiFailure> {
    super::validate::names(&q.project, []).map_err(ApiFailure::BadRequest)?;
    let recs = st.engine.list(Some(&q.project))?;
    let by_name: Vec<&ContainerRecord> = recs.iter().filter(|r| r.name == q.target).collect();
    let chosen = if by_name.is_empty() {
        recs.iter()
            .filter(|r| r.service == q.target && !r.one_off)
            .collect()
    } else {
        by_name
    };
    if chosen.is_empty() {
        return Err(ApiFailure::NotFound(format!(
            "no container or service named \"{}\" in project \"{}\" (see `rstack ps -a`)",
            q.target, q.project
        )));
    }
    Ok(Json(chosen.into_iter().map(container_json).collect()))
}

/// Unix ms as Docker's RFC 3339 time; Docker's zero time when unset.
fn time(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => crate::runtime::log::rfc3339_nanos(UNIX_EPOCH + Duration::from_millis(ms)),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

fn healthcheck_json(h: &Healthcheck) -> Value {
    let test: Vec<String> = match &h.test {
        HealthTest::Cmd(argv) => std::iter::once("CMD".to_string())
            .chain(argv.iter().cloned())
            .collect(),
        HealthTest::Shell(cmd) => vec!["CMD-SHELL".into(), cmd.clone()],
    };
    json!({
        "Test": test,
        "Interval": nanos(h.interval),
        "Timeout": nanos(h.timeout),
        "StartPeriod": nanos(h.start_period),
        "StartInterval": nanos(h.start_interval),
        "Retries": h.retries,
    })
}

fn log_json(p: &ProbeResult) -> Value {
    json!({
        "Start": time(Some(p.start_ms)),
        "End": time(Some(p.end_ms)),
        "ExitCode": p.exit_code,
        "Output": p.output,
    })
}

/// One container in `docker inspect`'s shape (the parts rstack has).
pub fn container_json(r: &ContainerRecord) -> Value {
    use crate::store::State;
    let mut state = json!({
        "Status": r.state.as_str(),
        "Running": r.state == State::Running,
        "Paused": false,
        "Restarting": r.state == State::Restarting,
        "OOMKilled": r.oom_killed,
        "Dead": r.state == State::Dead,
        "Pid": r.pid.unwrap_or(0),
        "ExitCode": r.exit_code.unwrap_or(0),
        "Error": r.error.clone().unwrap_or_default(),
        "StartedAt": time(r.started_at),
        "FinishedAt": time(r.finished_at),
    });
    if let Some(status) = &r.health {
        state["Health"] = json!({
            "Status": status,
            "FailingStreak": r.failing_streak,
            "Log": r.health_log.iter().map(log_json).collect::<Vec<_>>(),
        });
    }
    let p = &r.config.process;
    let mut config = json!({
        "Hostname": r.config.hostname,
        "User": p.user.clone().unwrap_or_default(),
        "Env": p.env,
        "Cmd": p.args,
        "WorkingDir": p.cwd,
        "Image": r.image,
        "Labels": {
            "com.docker.compose.project": r.project,
            "com.docker.compose.service": r.service,
            "com.docker.compose.oneoff": if r.one_off { "True" } else { "False" },
            "com.docker.compose.config-hash": r.config_hash,
        },
    });
    if let Some(h) = &r.service_def.healthcheck {
        config["Healthcheck"] = healthcheck_json(h);
    }
    json!({
        "Id": r.id,
        "Name": format!("/{}", r.name),
        "Image": r.image_id,
        "RestartCount": r.restarts,
        "State": state,
        "Config": config,
    })
}
