//! Waiting on a container's published state: depends_on conditions and `up --wait`.

use super::error::ContainerError;
use super::health::{HEALTHY, UNHEALTHY};
use crate::model::DependCondition;
use crate::store::{ContainerRecord, State};
use tokio::sync::watch;

/// What `--wait` requires of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    Running,
    Healthy,
    Completed,
    /// Stopped for good, whatever the exit code (not waiting to restart).
    Exited,
}

/// Resolves when the condition holds; errors when it can no longer hold.
pub async fn wait_condition(
    rx: watch::Receiver<ContainerRecord>,
    cond: DependCondition,
) -> Result<(), ContainerError> {
    let mode = match cond {
        DependCondition::ServiceStarted => None,
        DependCondition::ServiceHealthy => Some(WaitMode::Healthy),
        DependCondition::ServiceCompletedSuccessfully => Some(WaitMode::Completed),
    };
    if mode == Some(WaitMode::Healthy) && rx.borrow().service_def.healthcheck.is_none() {
        // compose looks first at its first 500 ms tick: a dependency that exits by then
        // (`sh -c "exit 1"`) is reported as exited with its code, not as lacking a
        // healthcheck. Given a little longer here, for a loaded machine.
        let _ =
            tokio::time::timeout(NO_HEALTHCHECK_GRACE, wait_for(rx.clone(), exited_for_good)).await;
    }
    match mode {
        None => wait_for(rx, started).await,
        Some(m) => wait_ready(rx, m).await,
    }
}

/// How long a service_healthy dependency without a healthcheck may take to exit before it
/// is reported as lacking one.
const NO_HEALTHCHECK_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn wait_ready(
    rx: watch::Receiver<ContainerRecord>,
    mode: WaitMode,
) -> Result<(), ContainerError> {
    match mode {
        WaitMode::Running => wait_for(rx, running).await,
        WaitMode::Healthy => wait_for(rx, healthy).await,
        WaitMode::Completed => wait_for(rx, completed).await,
        WaitMode::Exited => wait_for(rx, exited_for_good).await,
    }
}

async fn wait_for(
    mut rx: watch::Receiver<ContainerRecord>,
    check: fn(&ContainerRecord) -> Option<Result<(), ContainerError>>,
) -> Result<(), ContainerError> {
    loop {
        if let Some(res) = check(&rx.borrow_and_update()) {
            return res;
        }
        if rx.changed().await.is_err() {
            return Err(ContainerError::Removed);
        }
    }
}

fn failed_start(r: &ContainerRecord) -> Option<Result<(), ContainerError>> {
    r.error
        .as_ref()
        .map(|e| Err(ContainerError::Failed(e.clone())))
}

fn exited(r: &ContainerRecord) -> ContainerError {
    let code = r.exit_code.unwrap_or(-1);
    ContainerError::Failed(if r.oom_killed {
        format!("container {} was OOM-killed (exit code {code})", r.name)
    } else {
        format!("container {} exited with code {code}", r.name)
    })
}

/// service_started: it has started (a one-shot that already finished counts).
fn started(r: &ContainerRecord) -> Option<Result<(), ContainerError>> {
    match r.state {
        State::Running | State::Restarting => Some(Ok(())),
        State::Exited if r.error.is_none() && r.started_at.is_some() => Some(Ok(())),
        _ => failed_start(r),
    }
}

fn running(r: &ContainerRecord) -> Option<Result<(), ContainerError>> {
    match r.state {
        State::Running => Some(Ok(())),
        State::Exited | State::Dead => failed_start(r).or_else(|| Some(Err(exited(r)))),
        _ => None,
    }
}

fn healthy(r: &ContainerRecord) -> Option<Result<(), ContainerError>> {
    // An exited container is reported as exited first, as compose's isServiceHealthy does:
    // "has no healthcheck" would send the user after the wrong problem.
    if matches!(r.state, State::Exited | State::Dead) {
        return failed_start(r).or_else(|| {
            let code = r.exit_code.unwrap_or(-1);
            let oom = if r.oom_killed { ", OOM-killed" } else { "" };
            Some(Err(ContainerError::Failed(format!(
                "container {} exited ({code}){oom}",
                r.name
            ))))
        });
    }
    if r.service_def.healthcheck.is_none() {
        return Some(Err(ContainerError::Failed(format!(
            "container {} has no healthcheck",
            r.name
        ))));
    }
    match (r.state, r.health.as_deref()) {
        (State::Running, Some(HEALTHY)) => Some(Ok(())),
        (State::Running, Some(UNHEALTHY)) => Some(Err(ContainerError::Failed(format!(
            "container {} is unhealthy",
            r.name
        )))),
        _ => None,
    }
}

fn completed(r: &ContainerRecord) -> Option<Result<(), ContainerError>> {
    match (r.state, r.exit_code) {
        (State::Exited, Some(0)) => Some(Ok(())),
        (State::Exited | State::Dead, _) => failed_start(r).or_else(|| Some(Err(exited(r)))),
        _ => None,
    }
}

fn exited_for_good(r: &ContainerRecord) -> Option<Result<(), ContainerError>> {
    matches!(r.state, State::Exited | State::Dead).then_some(Ok(()))
}
