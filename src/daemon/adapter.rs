//! The reconciler's `Runtime` trait on top of `crate::runtime` (shim processes), and the API's
//! image traits on top of the image store.

use crate::api::server::ImageAdmin;
use crate::api::types::ImageView;
use crate::image::{ImageStore, ResolvedImage};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::health::wait_probe_process;
use crate::reconcile::runtime::{ExecSpec, ExitFuture, RtError, Running, Runtime};
use crate::runtime::config::{ContainerConfig, ExitStatus};
use crate::runtime::{self, SelfExe};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;

pub struct NativeRuntime {
    exe: Arc<SelfExe>,
}

impl NativeRuntime {
    pub fn new(exe: SelfExe) -> NativeRuntime {
        NativeRuntime { exe: Arc::new(exe) }
    }
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: plain syscall; on success we own the returned fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh, valid descriptor.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Resolves when the shim exits (it writes exit.json first), then reads the status.
fn exit_future(pidfd: OwnedFd, state_dir: std::path::PathBuf) -> ExitFuture {
    Box::pin(async move {
        // A pidfd polls readable once the process has exited.
        // SAFETY: the AsyncFd owns the OwnedFd, which stays open and unchanged until dropped.
        if let Ok(afd) = unsafe { AsyncFd::register(pidfd) } {
            let _ = afd.readable().await;
        }
        match runtime::read_exit(&state_dir) {
            Ok(Some(st)) => st,
            // The shim died without recording an exit (killed itself): report it as lost.
            _ => ExitStatus {
                code: 255,
                signal: None,
                oom_killed: false,
                finished_at_ms: crate::reconcile::supervisor::now_ms(),
            },
        }
    })
}

impl Runtime for NativeRuntime {
    async fn start(&self, cfg: &ContainerConfig) -> Result<Running, RtError> {
        let exe = self.exe.clone();
        let c = cfg.clone();
        let launched = tokio::task::spawn_blocking(move || runtime::launch(&c, &exe))
            .await
            .map_err(|e| Box::new(e) as RtError)??;
        let pidfd = pidfd_open(launched.shim_pid)
            .ok_or_else(|| format!("shim {} vanished right after start", launched.shim_pid))?;
        Ok(Running {
            pid: launched.pid,
            shim_pid: launched.shim_pid,
            exit: exit_future(pidfd, cfg.state_dir.clone()),
        })
    }

    fn adopt(&self, cfg: &ContainerConfig, shim_pid: i32, pid: i32) -> Option<Running> {
        if matches!(runtime::read_exit(&cfg.state_dir), Ok(Some(_))) {
            return None;
        }
        // The shim's command line names the state dir: guards against a reused pid.
        let cmdline = std::fs::read(format!("/proc/{shim_pid}/cmdline")).ok()?;
        let dir = cfg.state_dir.as_os_str().as_encoded_bytes();
        if !cmdline.windows(dir.len()).any(|w| w == dir) {
            return None;
        }
        let pidfd = pidfd_open(shim_pid)?;
        Some(Running {
            pid,
            shim_pid,
            exit: exit_future(pidfd, cfg.state_dir.clone()),
        })
    }

    fn recorded_exit(&self, cfg: &ContainerConfig) -> Option<ExitStatus> {
        runtime::read_exit(&cfg.state_dir).ok().flatten()
    }

    fn signal(&self, pid: i32, signal: i32) -> Result<(), RtError> {
        Ok(runtime::signal(pid, signal)?)
    }

    fn spawn_exec(
        &self,
        cfg: &ContainerConfig,
        pid: i32,
        spec: &ExecSpec,
    ) -> Result<tokio::process::Child, RtError> {
        let rspec = runtime::ExecSpec {
            args: spec.args.clone(),
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            user: spec.user.clone(),
            capabilities: cfg.process.capabilities.clone(),
            no_new_privileges: cfg.process.no_new_privileges,
        };
        let mut cmd = tokio::process::Command::from(runtime::exec_command(&self.exe, pid, &rspec));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Ok(cmd.spawn()?)
    }

    async fn probe(
        &self,
        cfg: &ContainerConfig,
        pid: i32,
        spec: &ExecSpec,
        timeout: Duration,
    ) -> bool {
        match self.spawn_exec(cfg, pid, spec) {
            Ok(child) => wait_probe_process(child, timeout).await,
            Err(_) => false,
        }
    }

    async fn remove(&self, cfg: &ContainerConfig) -> Result<(), RtError> {
        let c = cfg.clone();
        tokio::task::spawn_blocking(move || -> Result<(), RtError> {
            runtime::cleanup(&c)?;
            match std::fs::remove_dir_all(&c.state_dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("removing {}: {e}", c.state_dir.display()).into()),
            }
        })
        .await
        .map_err(|e| Box::new(e) as RtError)?
    }
}

/// The image store behind both the engine (resolve) and the API (import/list/remove).
pub struct Images(pub Arc<ImageStore>);

impl ImageSource for Images {
    fn resolve(&self, reference: &str) -> Result<ResolvedImage, String> {
        self.0.resolve(reference).map_err(|e| e.to_string())
    }
}

fn view(i: crate::image::ImageInfo) -> ImageView {
    ImageView {
        reference: i.reference,
        id: i.id,
        size: i.size,
        created: i.created,
    }
}

impl ImageAdmin for Images {
    fn import(&self, path: &std::path::Path, reference: &str) -> Result<ImageView, String> {
        self.0
            .import(path, reference)
            .map(view)
            .map_err(|e| e.to_string())
    }

    fn list(&self) -> Result<Vec<ImageView>, String> {
        Ok(self
            .0
            .list()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(view)
            .collect())
    }

    fn remove(&self, reference: &str) -> Result<(), String> {
        self.0.remove(reference).map_err(|e| e.to_string())
    }

    fn id_of(&self, reference: &str) -> Option<String> {
        self.0.resolve(reference).ok().map(|r| r.id)
    }
}
