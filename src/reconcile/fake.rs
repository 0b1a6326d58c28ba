//! A fake runtime for reconciler tests: containers are simulated processes whose behaviour
//! is read from their argv, so tests run without root and under paused time.
//!
//! argv forms: `["run"]` runs until signalled; `["exit", CODE, MS]` exits with CODE after MS
//! milliseconds; `["nostart"]` fails to start; `["nospace"]` fails to start on a full disk
//! (ENOSPC). Health probes answer from `set_healthy`.

use super::runtime::{ExecSpec, ExitFuture, ProbeOutcome, RtError, Running, Runtime};
use crate::runtime::config::{ContainerConfig, ExitStatus};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

#[derive(Default)]
pub struct FakeRuntime {
    next_pid: AtomicI32,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Live processes: pid -> (container id, exit sender).
    live: HashMap<i32, (String, oneshot::Sender<ExitStatus>)>,
    /// Health answers by hostname (set from the service name in tests).
    healthy: HashMap<String, bool>,
    /// Every start, in order: container hostnames.
    pub starts: Vec<String>,
    removed: Vec<String>,
}

fn status(code: i32) -> ExitStatus {
    ExitStatus {
        code,
        signal: None,
        oom_killed: false,
        finished_at_ms: super::supervisor::now_ms(),
    }
}

impl FakeRuntime {
    pub fn new() -> Arc<FakeRuntime> {
        Arc::new(FakeRuntime {
            next_pid: AtomicI32::new(100),
            inner: Mutex::default(),
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_healthy(&self, host: &str, ok: bool) {
        self.inner().healthy.insert(host.to_string(), ok);
    }

    /// Hostnames of started containers, in start order.
    pub fn starts(&self) -> Vec<String> {
        self.inner().starts.clone()
    }

    pub fn removed(&self) -> usize {
        self.inner().removed.len()
    }

    pub fn live(&self) -> usize {
        self.inner().live.len()
    }

    /// Simulates `kill -9` from outside rstack.
    pub fn crash(&self, pid: i32) {
        if let Some((_, tx)) = self.inner().live.remove(&pid) {
            let _ = tx.send(status(137));
        }
    }
}

impl Runtime for Arc<FakeRuntime> {
    async fn start(&self, cfg: &ContainerConfig) -> Result<Running, RtError> {
        let args = &cfg.process.args;
        if args.first().map(String::as_str) == Some("nostart") {
            return Err("exec: \"nostart\": executable file not found".into());
        }
        if args.first().map(String::as_str) == Some("nospace") {
            let e = std::io::Error::from_raw_os_error(libc::ENOSPC);
            return Err(RtError::io(format!("writing {}/config.json", cfg.id), e));
        }
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner();
            inner.starts.push(cfg.hostname.clone());
            inner.live.insert(pid, (cfg.id.clone(), tx));
        }
        if args.first().map(String::as_str) == Some("exit") {
            let code: i32 = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            let ms: u64 = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(0);
            let me = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if let Some((_, tx)) = me.inner().live.remove(&pid) {
                    let _ = tx.send(status(code));
                }
            });
        }
        let exit: ExitFuture = Box::pin(async move { rx.await.unwrap_or_else(|_| status(255)) });
        Ok(Running {
            pid,
            shim_pid: pid + 10_000,
            exit,
        })
    }

    fn adopt(&self, _cfg: &ContainerConfig, _shim: i32, _pid: i32) -> Option<Running> {
        None
    }

    fn recorded_exit(&self, _cfg: &ContainerConfig) -> Option<ExitStatus> {
        None
    }

    fn signal(&self, pid: i32, signal: i32) -> Result<(), RtError> {
        let mut inner = self.inner();
        if !inner.live.contains_key(&pid) {
            return Err(format!("no process {pid}").into());
        }
        if (signal == libc::SIGTERM || signal == libc::SIGKILL || signal == libc::SIGINT)
            && let Some((_, tx)) = inner.live.remove(&pid)
        {
            let _ = tx.send(status(128 + signal));
        }
        Ok(())
    }

    fn spawn_exec(
        &self,
        _cfg: &ContainerConfig,
        _pid: i32,
        _spec: &ExecSpec,
    ) -> Result<super::runtime::ExecProcess, RtError> {
        Err("the fake runtime does not exec".into())
    }

    fn open_stdin(&self, _cfg: &ContainerConfig) -> Option<tokio::net::unix::pipe::Sender> {
        None
    }

    fn open_resize(&self, _cfg: &ContainerConfig) -> Option<tokio::net::unix::pipe::Sender> {
        None
    }

    async fn probe(
        &self,
        cfg: &ContainerConfig,
        _pid: i32,
        _spec: &ExecSpec,
        _t: Duration,
    ) -> ProbeOutcome {
        let ok = self
            .inner()
            .healthy
            .get(&cfg.hostname)
            .copied()
            .unwrap_or(false);
        ProbeOutcome {
            exit_code: if ok { 0 } else { 1 },
            output: if ok { "ok\n" } else { "connection refused\n" }.into(),
        }
    }

    async fn release(&self, _cfg: &ContainerConfig) -> Result<(), RtError> {
        Ok(())
    }

    async fn remove(&self, cfg: &ContainerConfig) -> Result<(), RtError> {
        self.inner().removed.push(cfg.id.clone());
        Ok(())
    }

    async fn sweep(
        &self,
        _containers_dir: &std::path::Path,
        _known: &std::collections::HashSet<String>,
    ) -> Vec<String> {
        Vec::new()
    }
}
