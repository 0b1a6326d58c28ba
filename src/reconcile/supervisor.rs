//! One task per container: starts it, watches it exit, applies the restart policy with
//! backoff, runs its healthcheck, and obeys start/stop/kill/restart commands.
//!
//! The supervisor is the only writer of its container's record: every change is persisted to
//! the store and published on a watch channel that `up`, `--wait` and depends_on read.

use super::error::ContainerError;
use super::health::{Health, Probe};
use super::policy::{Backoff, should_restart};
use super::runtime::{Running, Runtime};
use super::state::StateStore;
use crate::runtime::config::ExitStatus;
use crate::store::health_log::{self, ProbeResult};
use crate::store::{ContainerRecord, State};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};

pub enum Command {
    Start(oneshot::Sender<Result<(), ContainerError>>),
    /// `user`: counts as a manual stop for the restart policy.
    Stop {
        timeout: Option<Duration>,
        /// Run the service's `pre_stop` hooks first: compose runs them for `stop`, `down`,
        /// `restart` and a scale-down, not when it replaces a container (recreate).
        pre_stop: bool,
        /// The failure of a `pre_stop` hook (the stop went on regardless), for the user.
        reply: oneshot::Sender<Option<String>>,
    },
    Kill {
        signal: i32,
        reply: oneshot::Sender<Result<(), ContainerError>>,
    },
    Restart {
        timeout: Option<Duration>,
        reply: oneshot::Sender<Result<(), ContainerError>>,
    },
}

/// How the task begins.
pub enum Initial {
    Idle,
    Start(oneshot::Sender<Result<(), ContainerError>>),
    Adopted(Running),
}

/// The engine's grip on a supervisor task.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    pub status: watch::Receiver<ContainerRecord>,
}

impl Handle {
    pub fn record(&self) -> ContainerRecord {
        self.status.borrow().clone()
    }

    pub async fn start(&self) -> Result<(), ContainerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Start(reply)).await?;
        rx.await.map_err(|_| gone())?
    }

    /// A stop asked by the user (`stop`, `down`...): the `pre_stop` hooks run first. Returns
    /// the failure of one (the stop goes on regardless), for a warning.
    pub async fn stop(&self, timeout: Option<Duration>) -> Option<String> {
        self.stop_with(timeout, true).await
    }

    /// A stop that is not the user's `stop` (a recreate replacing the container, a one-off
    /// taken down): no hooks, as compose.
    pub async fn stop_without_hooks(&self, timeout: Option<Duration>) {
        self.stop_with(timeout, false).await;
    }

    async fn stop_with(&self, timeout: Option<Duration>, pre_stop: bool) -> Option<String> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Stop {
            timeout,
            pre_stop,
            reply,
        };
        if self.send(cmd).await.is_ok() {
            return rx.await.ok().flatten();
        }
        None
    }

    pub async fn kill(&self, signal: i32) -> Result<(), ContainerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Kill { signal, reply }).await?;
        rx.await.map_err(|_| gone())?
    }

    pub async fn restart(&self, timeout: Option<Duration>) -> Result<(), ContainerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Restart { timeout, reply }).await?;
        rx.await.map_err(|_| gone())?
    }

    async fn send(&self, cmd: Command) -> Result<(), ContainerError> {
        self.tx.send(cmd).await.map_err(|_| gone())
    }
}

fn gone() -> ContainerError {
    ContainerError::Gone
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Spawns the supervisor task for `rec`.
pub fn spawn<R: Runtime>(
    rt: Arc<R>,
    store: Arc<dyn StateStore>,
    rec: ContainerRecord,
    initial: Initial,
) -> Handle {
    let (tx, rx) = mpsc::channel(16);
    let (status, status_rx) = watch::channel(rec.clone());
    let backoff = super::policy::backoff_for(&rec.service_def);
    let sup = Supervisor {
        rt,
        store,
        rec,
        status,
        rx,
        backoff,
        recent_restarts: Default::default(),
        health: None,
        started: Instant::now(),
        pre_stop_failure: None,
    };
    tokio::spawn(sup.run(initial));
    Handle {
        tx,
        status: status_rx,
    }
}

struct Supervisor<R: Runtime> {
    rt: Arc<R>,
    store: Arc<dyn StateStore>,
    rec: ContainerRecord,
    status: watch::Sender<ContainerRecord>,
    rx: mpsc::Receiver<Command>,
    backoff: Backoff,
    /// When the restarts of the current `deploy.restart_policy.window` were decided.
    recent_restarts: std::collections::VecDeque<tokio::time::Instant>,
    health: Option<Health>,
    started: Instant,
    /// The failure of the last stop's `pre_stop` hook, for its reply.
    pre_stop_failure: Option<String>,
}

/// What ended a running phase.
enum Ended {
    Exited(ExitStatus),
    /// Stopped on request; the reply goes out after the record is saved.
    Stopped(ExitStatus, Reply),
    /// Restart requested (or unhealthy with restart_on_unhealthy).
    Restart(
        ExitStatus,
        Option<oneshot::Sender<Result<(), ContainerError>>>,
    ),
    /// All handles dropped: the container was removed, or the daemon is going away.
    Detached,
}

enum Reply {
    Stop(oneshot::Sender<Option<String>>),
    Kill(oneshot::Sender<Result<(), ContainerError>>),
}

impl<R: Runtime> Supervisor<R> {
    async fn run(mut self, initial: Initial) {
        let mut running = match initial {
            Initial::Idle => None,
            Initial::Adopted(r) => {
                self.started = Instant::now();
                self.health = self.rec.service_def.healthcheck.clone().map(Health::new);
                Some(r)
            }
            Initial::Start(reply) => {
                let (r, res) = self.start(true).await;
                let _ = reply.send(res);
                r
            }
        };
        loop {
            running = match running.take() {
                None => match self.rx.recv().await {
                    None => return,
                    Some(cmd) => self.idle_command(cmd).await,
                },
                Some(r) => match self.watch(r).await {
                    Ended::Detached => return,
                    Ended::Exited(st) => self.after_exit(st).await,
                    Ended::Stopped(st, reply) => {
                        self.rec.stopped_by_user = true;
                        self.record_exit(&st).await;
                        match reply {
                            Reply::Stop(r) => {
                                let _ = r.send(self.pre_stop_failure.take());
                            }
                            Reply::Kill(r) => {
                                let _ = r.send(Ok(()));
                            }
                        }
                        None
                    }
                    Ended::Restart(st, reply) => {
                        self.record_exit(&st).await;
                        if reply.is_none() {
                            self.rec.restarts += 1;
                        }
                        // Hooks for `rstack restart` only: a restart on unhealthy is the
                        // engine's own, and compose runs no hooks for those.
                        let (r, res) = self.start(reply.is_some()).await;
                        if let Some(reply) = reply {
                            let _ = reply.send(res);
                        }
                        r
                    }
                },
            };
        }
    }

    async fn idle_command(&mut self, cmd: Command) -> Option<Running> {
        match cmd {
            Command::Start(reply) | Command::Restart { reply, .. } => {
                // A start by the user resets the restart count (Docker).
                self.backoff.reset();
                self.rec.restarts = 0;
                self.recent_restarts.clear();
                let (r, res) = self.start(true).await;
                let _ = reply.send(res);
                r
            }
            Command::Stop { reply, .. } => {
                if self.rec.state == State::Restarting {
                    self.rec.state = State::Exited;
                }
                self.rec.stopped_by_user = true;
                self.save().await;
                let _ = reply.send(None);
                None
            }
            Command::Kill { reply, .. } => {
                let _ = reply.send(Err(ContainerError::NotRunning(self.rec.name.clone())));
                None
            }
        }
    }

    /// Starts the container; `hooks`: run its `post_start` hooks (a start the user asked for).
    async fn start(&mut self, hooks: bool) -> (Option<Running>, Result<(), ContainerError>) {
        match self.rt.start(&self.rec.config).await {
            Ok(r) => {
                self.started = Instant::now();
                let rec = &mut self.rec;
                rec.state = State::Running;
                rec.pid = Some(r.pid);
                rec.shim_pid = Some(r.shim_pid);
                rec.started_at = Some(now_ms());
                rec.exit_code = None;
                rec.oom_killed = false;
                rec.stopped_by_user = false;
                rec.error = None;
                rec.restart_delay_ms = None;
                self.health = rec.service_def.healthcheck.clone().map(Health::new);
                rec.health = self.health.as_ref().map(|h| h.status().to_string());
                rec.failing_streak = 0;
                self.save().await;
                // Before the start is answered: dependants wait for the hooks too. A failed
                // hook fails the start and leaves the container running, as compose does.
                let hooks = match hooks {
                    true => self.rec.service_def.post_start.clone(),
                    false => Vec::new(),
                };
                let who = (self.rec.service.as_str(), self.rec.name.as_str());
                let done = super::hooks::run_all(
                    &*self.rt,
                    &self.rec.config,
                    r.pid,
                    &hooks,
                    "post_start",
                    who,
                )
                .await;
                if let Err(msg) = done {
                    self.rec.error = Some(msg.clone());
                    self.save().await;
                    return (Some(r), Err(ContainerError::Failed(msg)));
                }
                (Some(r), Ok(()))
            }
            Err(e) => {
                // The kind (a full disk...) goes to the caller; the record keeps the message.
                let e = e.within(&format!("container {}", self.rec.name));
                let rec = &mut self.rec;
                rec.state = State::Exited;
                rec.pid = None;
                rec.exit_code = Some(127);
                rec.error = Some(e.to_string());
                rec.finished_at = Some(now_ms());
                self.save().await;
                (None, Err(e.into()))
            }
        }
    }

    /// Waits on a running container: its exit, commands, and healthcheck probes.
    async fn watch(&mut self, mut r: Running) -> Ended {
        let mut probe = ProbeTask(None);
        loop {
            let next_probe = self.health.as_ref().map(|h| h.next_probe_at());
            tokio::select! {
                st = &mut r.exit => return Ended::Exited(st),
                cmd = self.rx.recv() => match cmd {
                    None => return Ended::Detached,
                    Some(Command::Start(reply)) => { let _ = reply.send(Ok(())); }
                    Some(Command::Stop { timeout, pre_stop, reply }) => {
                        let st = self.stop_running(&mut r, timeout, pre_stop).await;
                        return Ended::Stopped(st, Reply::Stop(reply));
                    }
                    Some(Command::Kill { signal, reply }) => {
                        // Any kill through rstack is a manual stop (moby's kill.go): whenever
                        // the process ends after it, the policy does not restart it.
                        self.rec.stopped_by_user = true;
                        if let Err(e) = self.rt.signal(r.pid, signal) {
                            let _ = reply.send(Err(e.into()));
                            continue;
                        }
                        // A kill that ends the process counts as a manual stop (Docker).
                        tokio::select! {
                            st = &mut r.exit => return Ended::Stopped(st, Reply::Kill(reply)),
                            _ = sleep(Duration::from_millis(100)) => { let _ = reply.send(Ok(())); }
                        }
                    }
                    Some(Command::Restart { timeout, reply }) => {
                        let st = self.stop_running(&mut r, timeout, true).await;
                        self.backoff.reset();
                        return Ended::Restart(st, Some(reply));
                    }
                },
                res = probe.wait(), if probe.0.is_some() => {
                    probe.0 = None;
                    if self.on_probe(res).await {
                        let st = self.stop_running(&mut r, None, false).await;
                        return Ended::Restart(st, None);
                    }
                }
                _ = sleep_until(next_probe.unwrap_or_else(Instant::now)),
                    if next_probe.is_some() && probe.0.is_none() => {
                    probe.0 = self.spawn_probe(r.pid);
                }
            }
        }
    }

    fn spawn_probe(&mut self, pid: i32) -> Option<JoinHandle<ProbeResult>> {
        let h = self.health.as_ref()?;
        let probe = Probe::new(h.check(), &self.rec.config, pid);
        let rt = self.rt.clone();
        Some(tokio::spawn(async move { probe.run(&*rt).await }))
    }

    /// Applies a probe result; true when the container must be restarted for it.
    async fn on_probe(&mut self, result: ProbeResult) -> bool {
        let Some(h) = &mut self.health else {
            return false;
        };
        let before = h.status();
        h.record(result.exit_code == 0, Instant::now());
        let after = h.status();
        // Saved on every probe, as Docker does: `inspect` shows the last results and `ps`
        // the output of the last failure.
        self.rec.health = Some(after.to_string());
        self.rec.failing_streak = h.failing_streak();
        health_log::push(&mut self.rec.health_log, result);
        self.save().await;
        after == super::health::UNHEALTHY
            && before != after
            && self.rec.service_def.x_rstack.restart_on_unhealthy
    }

    /// Stops the running process; `hooks`: run its `pre_stop` hooks first.
    async fn stop_running(
        &mut self,
        r: &mut Running,
        timeout: Option<Duration>,
        hooks: bool,
    ) -> ExitStatus {
        let grace = timeout.unwrap_or(self.rec.service_def.stop_grace_period);
        let sig = crate::runtime::config::parse_signal(&self.rec.service_def.stop_signal)
            .unwrap_or(libc::SIGTERM);
        // A failed pre_stop hook is logged, kept for the stop's reply (a warning for the
        // user), and the stop goes on (its process may be gone).
        let hooks = match hooks {
            true => self.rec.service_def.pre_stop.clone(),
            false => Vec::new(),
        };
        let who = (self.rec.service.as_str(), self.rec.name.as_str());
        self.pre_stop_failure = None;
        if let Err(msg) =
            super::hooks::run_all(&*self.rt, &self.rec.config, r.pid, &hooks, "pre_stop", who).await
        {
            // The message names the service, container and hook already.
            eprintln!("rstack: {msg}");
            self.pre_stop_failure = Some(msg);
        }
        if self.rt.signal(r.pid, sig).is_ok() {
            tokio::select! {
                st = &mut r.exit => return st,
                _ = sleep(grace) => {}
            }
        }
        let _ = self.rt.signal(r.pid, libc::SIGKILL);
        (&mut r.exit).await
    }

    async fn record_exit(&mut self, st: &ExitStatus) {
        self.apply_exit(st);
        self.save().await;
    }

    /// The exit's facts on the record, not yet published.
    fn apply_exit(&mut self, st: &ExitStatus) {
        let rec = &mut self.rec;
        rec.state = State::Exited;
        rec.pid = None;
        rec.shim_pid = None;
        rec.exit_code = Some(st.code);
        rec.oom_killed = st.oom_killed;
        rec.finished_at = Some(st.finished_at_ms);
        if rec.health.is_some() {
            rec.health = Some(super::health::UNHEALTHY.to_string());
        }
    }

    /// Restart policy after an exit nobody asked for. The exit is published once, already
    /// as `Restarting` when the policy restarts it: a waiter (depends_on, --wait) never sees
    /// a transient `Exited` of a container that is about to come back.
    async fn after_exit(&mut self, st: ExitStatus) -> Option<Running> {
        self.apply_exit(&st);
        let def = &self.rec.service_def;
        if !should_restart(
            def.restart,
            st.code,
            self.rec.restarts,
            self.rec.stopped_by_user,
        ) || !super::policy::attempt_allowed(
            &def.restart_limits,
            self.rec.restarts,
            &mut self.recent_restarts,
            tokio::time::Instant::now(),
        ) {
            self.save().await;
            return None;
        }
        let delay = self.backoff.next_delay(self.started.elapsed());
        self.rec.state = State::Restarting;
        self.rec.restart_delay_ms = Some(delay.as_millis() as u64);
        self.save().await;
        tokio::select! {
            _ = sleep(delay) => {}
            cmd = self.rx.recv() => return match cmd {
                None => None,
                Some(Command::Start(reply)) | Some(Command::Restart { reply, .. }) => {
                    self.backoff.reset();
                    self.rec.restarts = 0;
                    self.recent_restarts.clear();
                    let (r, res) = self.start(true).await;
                    let _ = reply.send(res);
                    r
                }
                Some(Command::Kill { reply, .. }) => {
                    // Killing a container waiting to restart cancels the restart, as a stop.
                    let (stop, _) = oneshot::channel();
                    let cmd = Command::Stop {
                        timeout: None,
                        pre_stop: false,
                        reply: stop,
                    };
                    self.idle_command(cmd).await;
                    let _ = reply.send(Ok(()));
                    None
                }
                Some(cmd @ Command::Stop { .. }) => self.idle_command(cmd).await,
            },
        }
        self.rec.restarts += 1;
        // The restart policy's restart: compose runs no hooks for the engine's restarts.
        self.start(false).await.0
    }

    async fn save(&mut self) {
        // Published first: whoever waits on this container (an exit code for `run`, a
        // depends_on condition) goes on while the write happens. The engine reads live state
        // from the handles, and a daemon that dies before the write reconciles at boot.
        self.status.send_replace(self.rec.clone());
        // The waiter just woken sits in this worker's next slot; yielding lets it run (send
        // `run`'s exit code, say) before the SQLite write instead of after it.
        tokio::task::yield_now().await;
        // A `run --rm` one-off that has exited is removed next, record included; until then
        // its saved state (running) is what a boot needs to remove it.
        if self.rec.is_ephemeral() && self.rec.state == State::Exited {
            return;
        }
        // A failed write is logged; the in-memory state stays authoritative until the next
        // successful write.
        if let Err(e) = self.store.put_container(&self.rec) {
            eprintln!("rstack: saving container {}: {e}", self.rec.name);
        }
    }
}

/// The probe in flight, aborted when the running phase ends.
struct ProbeTask(Option<JoinHandle<ProbeResult>>);

impl ProbeTask {
    async fn wait(&mut self) -> ProbeResult {
        match self.0.as_mut() {
            Some(p) => p.await.unwrap_or_else(|e| ProbeResult {
                start_ms: now_ms(),
                end_ms: now_ms(),
                exit_code: -1,
                output: format!("the probe task failed: {e}"),
            }),
            None => std::future::pending().await,
        }
    }
}

impl Drop for ProbeTask {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            p.abort();
        }
    }
}
