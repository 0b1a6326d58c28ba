//! The reconciler's `Runtime` trait on top of `crate::runtime` (shim processes), and the API's
//! image traits on top of the image store.

use crate::api::server::ImageAdmin;
use crate::api::types::ImageView;
use crate::image::{ImageStore, ResolvedImage};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::health::wait_probe_process;
use crate::reconcile::runtime::{ExecSpec, ExitFuture, RtError, Running, Runtime};
use crate::runtime::config::{ContainerConfig, ExitStatus};
use crate::runtime::{self, SelfExe, ShimPool};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;

pub struct NativeRuntime {
    shims: Arc<ShimPool>,
    /// Per container with stdin: a read-write handle on its FIFO, held from before the start
    /// until `open_stdin`, so the container blocks on stdin instead of seeing EOF meanwhile.
    stdin_holds: std::sync::Mutex<std::collections::HashMap<String, OwnedFd>>,
}

impl NativeRuntime {
    pub fn new(exe: SelfExe) -> NativeRuntime {
        let shims = Arc::new(ShimPool::new(exe));
        shims.refill();
        NativeRuntime {
            shims,
            stdin_holds: Default::default(),
        }
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

impl NativeRuntime {
    fn holds(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, OwnedFd>> {
        self.stdin_holds.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Creates a container's stdin FIFO and opens it read-write: on Linux that never blocks, and
/// it keeps a writer present until the real one is opened.
fn stdin_fifo(state_dir: &std::path::Path) -> Result<OwnedFd, RtError> {
    std::fs::create_dir_all(state_dir)?;
    let path = state_dir.join(runtime::STDIN_FIFO);
    let _ = std::fs::remove_file(&path);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| format!("mkfifo {}: {e}", path.display()))?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)?;
    Ok(f.into())
}

/// The parent pid of a live process, from /proc/PID/stat.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
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
        if cfg.process.stdin {
            let hold = stdin_fifo(&cfg.state_dir)?;
            self.holds().insert(cfg.id.clone(), hold);
        }
        let shims = self.shims.clone();
        let c = cfg.clone();
        let res: Result<(runtime::Launched, Option<OwnedFd>), RtError> =
            match tokio::task::spawn_blocking(move || shims.launch(&c)).await {
                Ok(r) => r.map_err(|e| Box::new(e) as RtError),
                Err(e) => Err(Box::new(e)),
            };
        // A failed start must not keep the stdin FIFO's hold open.
        let (launched, pidfd) = res.inspect_err(|_| {
            self.holds().remove(&cfg.id);
        })?;
        let Some(pidfd) = pidfd else {
            // Without a pidfd the exit could not be watched: do not leave it running blind.
            let _ = runtime::signal(launched.pid, libc::SIGKILL);
            return Err("cannot watch the container's shim: pidfd_open failed (Linux 5.3 or later is needed)".into());
        };
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
        // Guards against reused pids: the container's init must still be the shim's child,
        // and the shim's pid file must name it.
        let recorded = std::fs::read_to_string(cfg.state_dir.join("pid")).ok()?;
        if recorded.trim().parse::<i32>().ok()? != pid || parent_of(pid)? != shim_pid {
            return None;
        }
        let pidfd = pidfd_open(shim_pid)?;
        Some(Running {
            pid,
            shim_pid,
            exit: exit_future(pidfd, cfg.state_dir.clone()),
        })
    }

    fn open_stdin(&self, cfg: &ContainerConfig) -> Option<tokio::net::unix::pipe::Sender> {
        let hold = self.holds().remove(&cfg.id)?;
        let sender = tokio::net::unix::pipe::OpenOptions::new()
            .open_sender(cfg.state_dir.join(runtime::STDIN_FIFO))
            .ok();
        drop(hold);
        sender
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
            tty: spec.tty,
        };
        let mut cmd =
            tokio::process::Command::from(runtime::exec_command(self.shims.exe(), pid, &rspec));
        cmd.stdin(if spec.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
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

    async fn release(&self, cfg: &ContainerConfig) -> Result<(), RtError> {
        let c = cfg.clone();
        tokio::task::spawn_blocking(move || {
            runtime::release(&c).map_err(|e| Box::new(e) as RtError)
        })
        .await
        .map_err(|e| Box::new(e) as RtError)?
    }

    async fn remove(&self, cfg: &ContainerConfig) -> Result<(), RtError> {
        self.holds().remove(&cfg.id);
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
