//! `rstack daemon`: owns all state. Takes the data root's lock, opens the store and image
//! store, adopts running containers, and serves the API on the unix socket until SIGTERM or
//! SIGINT. Containers keep running across a daemon restart (their shims outlive it).

mod adapter;
pub mod config;
mod lock;

use crate::api::server::{ServerState, router};
use crate::api::types::VersionInfo;
use crate::image::ImageStore;
use crate::reconcile::Engine;
use crate::runtime::SelfExe;
use crate::store::Store;
use adapter::{Images, NativeRuntime};
use anyhow::{Context, Result};
use config::DaemonConfig;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

pub use lock::DataRootLock;

pub fn run(cfg: DaemonConfig) -> Result<()> {
    std::fs::create_dir_all(&cfg.data_root)
        .with_context(|| format!("creating data root {}", cfg.data_root.display()))?;
    // Taken before anything else touches the data root: a second daemon stops here, and
    // the first one's socket and state stay untouched.
    let lock = DataRootLock::acquire(&cfg.data_root)?;
    if cfg.cgroup_favordynmods {
        match crate::runtime::favor_dynamic_cgroups() {
            Ok(true) => eprintln!("rstack: remounted cgroup2 with favordynmods"),
            Ok(false) => {}
            Err(e) => eprintln!("rstack: cgroup_favordynmods: {e} (continuing without it)"),
        }
    }
    // The sealed copy of our own binary that shims and exec helpers run from (CVE-2019-5736).
    let exe = SelfExe::new().context("sealing a copy of the rstack binary")?;
    // One thread for everything async. Every hop between threads costs a wake-up, and on a
    // VM a wake-up of a halted vCPU waits for the hypervisor: with two workers, each request
    // went from the accepting thread to a worker and back (block A/B against two workers
    // serving from a spawned task: 3.46 -> 3.25 ms; runs 40 ms apart: 5.02 -> 4.61 ms).
    // The work per request is small; disk and process work goes to spawn_blocking.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let res = rt.block_on(serve(&cfg, exe));
    drop(lock);
    res
}

async fn serve(cfg: &DaemonConfig, exe: SelfExe) -> Result<()> {
    let root = &cfg.data_root;
    let store = Arc::new(Store::open(&root.join("state.db"))?);
    let images = Arc::new(ImageStore::open(&root.join("images"))?);
    let containers = root.join("containers");
    // Spare container directories: beside `containers/`, on the same filesystem (a spare is
    // renamed into it), and the running daemon's alone (emptied at start and at stop).
    let spare = root.join("spare");
    std::fs::create_dir_all(&containers)
        .with_context(|| format!("creating {}", containers.display()))?;
    let engine = Arc::new(Engine::new(
        Arc::new(NativeRuntime::new(
            exe,
            Some(spare.clone()),
            root.join("seccomp"),
        )),
        Images(images.clone()),
        store,
        containers,
    ));
    engine.boot().await?;
    let state = Arc::new(ServerState {
        engine,
        images: Arc::new(Images(images)),
        version: VersionInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            api: "v1".into(),
            data_root: root.display().to_string(),
            cgroup: match crate::runtime::cgroup::Layout::detect() {
                Ok(crate::runtime::cgroup::Layout::V1(_)) => "v1".into(),
                Ok(crate::runtime::cgroup::Layout::V2(_)) => "v2".into(),
                Err(e) => format!("unknown ({e})"),
            },
        },
    });
    let listener = bind(&cfg.socket, &cfg.socket_group)?;
    eprintln!(
        "rstack daemon {} listening on {} (data root {})",
        env!("CARGO_PKG_VERSION"),
        cfg.socket.display(),
        root.display()
    );
    let app = router(state);
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    tokio::select! {
        res = server => res.context("serving the API")?,
        // Followers (`logs -f`, attached `up`) would hold a graceful shutdown open forever:
        // give open requests a moment, then close them.
        _ = async {
            let _ = stopping.await;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        } => {}
    }
    let _ = std::fs::remove_file(&cfg.socket);
    let _ = std::fs::remove_dir_all(&spare);
    if let Ok(layout) = crate::runtime::cgroup::Layout::detect() {
        crate::runtime::cgroup::remove_empty_parents(&layout, crate::plan::CGROUP_PARENT);
    }
    eprintln!("rstack daemon stopped; containers keep running and are adopted at next start");
    Ok(())
}

/// Binds the API socket with mode 0660 (and the configured group).
fn bind(path: &Path, group: &str) -> Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // We hold the data root lock, so a socket file left here is stale.
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("binding the API socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod 0660 {}", path.display()))?;
    if !group.is_empty() {
        let gid = match group.parse::<u32>() {
            Ok(g) => Some(g),
            Err(_) => nix::unistd::Group::from_name(group)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw()),
        }
        .with_context(|| format!("socket_group {group:?}: no such group"))?;
        std::os::unix::fs::chown(path, None, Some(gid))
            .with_context(|| format!("chown {}", path.display()))?;
    }
    Ok(listener)
}
