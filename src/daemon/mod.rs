//! `rstack daemon`: owns all state. Takes the data root's lock, opens the store and image
//! store, adopts running containers, and serves the API on the unix socket until SIGTERM or
//! SIGINT. Containers keep running across a daemon restart (their shims outlive it).

mod adapter;
mod build;
pub mod config;
mod errors;
mod image_tools;
mod images;
mod lock;
mod networks;
mod registry;
mod state;
mod sync;
mod volumes;

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
    private_data_root(&cfg.data_root)?;
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
    let containers = root.join("containers");
    let db = root.join("state.db");
    // Checked before the store is opened, which writes its schema into an empty file.
    if Store::has_no_schema(&db)? {
        refuse_lost_store(&db, &containers)?;
    }
    let store = Arc::new(Store::open(&db)?);
    let sources = sync::Controller::new(store.clone(), root, cfg.sync.clone());
    let max_unpacked = cfg.image_max_unpacked().map_err(anyhow::Error::msg)?;
    let images = Arc::new(ImageStore::open(&root.join("images"))?.with_max_unpacked(max_unpacked));
    // Uploads of a daemon that died mid-import: nobody else writes there.
    empty_dir(&images.uploads_dir());
    let stopping_images = images.clone();
    // What an earlier daemon committed but never saw on disk (it was killed, or the machine
    // went down) is synced, or checked and repaired, before anything uses the store.
    images.recover().with_context(|| {
        format!(
            "recovering the image store {} after a crash: a layer that may have lost data \
             could not be taken out of use; fix the error above and start again",
            images.root().display()
        )
    })?;
    // Spare container directories: beside `containers/`, on the same filesystem (a spare is
    // renamed into it), and the running daemon's alone (emptied at start and at stop).
    let spare = root.join("spare");
    std::fs::create_dir_all(&containers)
        .with_context(|| format!("creating {}", containers.display()))?;
    let volumes = Arc::new(crate::volume::VolumeStore::open(&root.join("volumes"))?);
    let pools = cfg.network.pools().map_err(anyhow::Error::msg)?;
    let pools6 = cfg.network.pools6().map_err(anyhow::Error::msg)?;
    let networks = Arc::new(crate::network::NetworkManager::open_dual(
        &root.join("networks"),
        nft_table(root),
        pools,
        pools6,
    )?);
    networks.restore().await;
    let native = Arc::new(
        NativeRuntime::new(exe, Some(spare.clone()), root.join("seccomp"))
            .with_containers_dir(&containers)
            .with_log_defaults(cfg.log)
            .with_volumes(volumes.clone())
            .with_networks(networks.clone()),
    );
    let engine = Arc::new(Engine::new(
        native.clone(),
        Images(images.clone()),
        store,
        containers,
    ));
    // Garbage collection keeps the lowerdirs of every container the engine has a record
    // of, whatever index.json says (a weak handle: the engine holds the store too).
    let weak = Arc::downgrade(&engine);
    images.set_pins(crate::image::Pins(Box::new(move || {
        let Some(engine) = weak.upgrade() else {
            return Err("the engine is gone".to_string());
        };
        let records = engine.list(None).map_err(|e| e.to_string())?;
        Ok(records
            .into_iter()
            .flat_map(|r| r.config.root.layers)
            .collect())
    })));
    engine.boot().await?;
    // With the adopted containers' host ports.
    networks.reapply().await;
    let state = Arc::new(ServerState {
        engine,
        images: Arc::new(Images(images.clone())),
        registry: Arc::new(registry::Registries {
            store: images.clone(),
            settings: cfg.registry.settings(),
        }),
        builder: Arc::new(build::Builder {
            store: images,
            runtime: native,
            settings: cfg.registry.settings(),
            handle: tokio::runtime::Handle::current(),
        }),
        volumes: Arc::new(volumes::Volumes(volumes)),
        networks: Arc::new(networks::Networks(networks.clone())),
        version: VersionInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            api: "v1".into(),
            data_root: root.display().to_string(),
            cgroup: match crate::runtime::cgroup::Layout::detect() {
                Ok(crate::runtime::cgroup::Layout::V1(_)) => "v1".into(),
                Ok(crate::runtime::cgroup::Layout::V2(_)) => "v2".into(),
                Err(e) => format!("unknown ({e})"),
            },
            registry_mirrors: cfg.registry.mirrors.clone(),
            insecure_registries: cfg.registry.insecure.clone(),
        },
        source_events: tokio::sync::broadcast::channel(256).0,
    });
    let listener = bind(&cfg.socket, &cfg.socket_group)?;
    eprintln!(
        "rstack daemon {} listening on {} (data root {})",
        env!("CARGO_PKG_VERSION"),
        cfg.socket.display(),
        root.display()
    );
    // Sources resume after the engine adopted the running containers.
    sources.start(&state)?;
    if let Some(addr) = &cfg.sync.webhook_listen {
        serve_webhooks(addr, sources.clone()).await?;
    }
    let app = router(state).merge(sync::routes(sources));
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    let limits = crate::api::listener::Limits {
        max_connections: cfg.max_connections,
        header_read_timeout: cfg.header_read_timeout().map_err(anyhow::Error::msg)?,
    };
    // Followers (`logs -f`, attached `up`) would hold a graceful shutdown open forever:
    // open requests get a moment, then they are closed.
    crate::api::listener::serve(
        listener,
        app,
        limits,
        shutdown,
        std::time::Duration::from_secs(2),
    )
    .await;
    let _ = std::fs::remove_file(&cfg.socket);
    let _ = std::fs::remove_dir_all(&spare);
    networks.shutdown().await;
    let _ = tokio::task::spawn_blocking(move || stopping_images.settle_finished()).await;
    if let Ok(layout) = crate::runtime::cgroup::Layout::detect() {
        crate::runtime::cgroup::remove_empty_parents(&layout, crate::plan::CGROUP_PARENT);
    }
    eprintln!("rstack daemon stopped; containers keep running and are adopted at next start");
    Ok(())
}

/// `[sync] webhook_listen`: a TCP listener serving only the sync webhook route (GitHub and
/// Gitea reach the host over TCP; TLS is a reverse proxy's job). It runs until the daemon
/// exits.
async fn serve_webhooks(addr: &str, sources: Arc<sync::Controller>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("sync.webhook_listen: binding {addr}"))?;
    eprintln!("rstack: sync webhooks on http://{addr}/v1/sources/NAME/hook");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, sync::hook_routes(sources)).await {
            eprintln!("rstack: sync webhook listener stopped: {e}");
        }
    });
    Ok(())
}

/// This daemon's nftables table: one per data root, so daemons of other data roots (tests)
/// never touch each other's rules.
fn nft_table(root: &Path) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    format!("rstack_{}", &hex::encode(h)[..8])
}

/// Creates the data root, or fixes an existing one, as root's alone (0700, as Docker keeps
/// /var/lib/docker): image layers and containers' writable layers below it may hold setuid
/// files, which no other local user may reach and run, and configs hold secrets.
fn private_data_root(root: &Path) -> Result<()> {
    std::fs::create_dir_all(root)
        .with_context(|| format!("creating data root {}", root.display()))?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making data root {} private (chmod 0700)", root.display()))
}

/// A state database without a schema while containers exist on disk has been lost
/// (truncated after a crash, or replaced): taking it for a fresh store would let the boot
/// sweep remove every container and its writable layer.
fn refuse_lost_store(db: &Path, containers: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(containers) else {
        return Ok(());
    };
    let n = entries
        .flatten()
        .filter(|e| e.path().join("config.json").exists())
        .count();
    if n > 0 {
        anyhow::bail!(
            "the state database {} is empty, but {n} container(s) exist in {}: the database was \
             lost (truncated or replaced). Restore it from a backup; or, to start afresh, stop \
             the containers' processes and move {} away. The daemon will not start on it, so \
             that nothing is removed.",
            db.display(),
            containers.display(),
            containers.display()
        );
    }
    Ok(())
}

/// Removes the files in `dir` (best effort).
fn empty_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
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
