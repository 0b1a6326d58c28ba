//! A stopped (created or exited) container's filesystem, for `cp` and `export`: its overlay
//! (the image layers and its own upper directory, as the runtime stacks them at start) is
//! mounted in a mount namespace private to one thread made for the copy, so nothing is ever
//! visible on the host and the kernel drops every mount when that thread ends, however the
//! copy ends. The caller keeps the container from starting meanwhile (the project lock):
//! overlayfs must never have the same upper directory mounted twice.
//!
//! Read-only (cp out, export): the upper directory is just the topmost lower layer, so the
//! work directory is not touched. Writable (cp in): upper and work as at start, so what is
//! copied lands in the container's layer and is there at its next start.

use super::config::RootConfig;
use super::fsaccess::{self, Root};
use super::mounts::{mkdir_p, mount, secure_join};
use nix::mount::{MntFlags, MsFlags};
use std::io;
use std::path::{Path, PathBuf};

/// A volume or bind the container has: its content is seen at `destination` (when that
/// path exists in the container's tree) as `docker cp` sees it in a stopped container.
#[derive(Debug, Clone)]
pub struct Bind {
    pub destination: String,
    pub source: PathBuf,
}

/// The overlay mount options: read-only stacks the upper directory on top of the layers.
pub fn overlay_data(root: &RootConfig, writable: bool) -> Result<String, String> {
    if root.layers.is_empty() {
        return Err("the container's root has no layers".into());
    }
    let layers = root.layers.iter().map(|p| p.display().to_string());
    Ok(if writable {
        format!(
            "lowerdir={},upperdir={},workdir={}",
            layers.collect::<Vec<_>>().join(":"),
            root.upper.display(),
            root.work.display()
        )
    } else {
        let mut all = vec![root.upper.display().to_string()];
        all.extend(layers);
        format!("lowerdir={}", all.join(":"))
    })
}

/// Runs `f` on a new thread, with the container's root mounted (or the error that kept it
/// from being mounted). `writable` is ignored for a `read_only` container: a write then
/// fails as it would in the running one.
pub fn spawn<F>(root: RootConfig, binds: Vec<Bind>, writable: bool, f: F) -> io::Result<()>
where
    F: FnOnce(io::Result<Root>) + Send + 'static,
{
    std::thread::Builder::new()
        .name("rstack-cp".into())
        .spawn(move || {
            // A thread of its own, never returned to a pool: its mount namespace goes with it.
            let writable = writable && !root.readonly;
            match mount_root(&root, &binds, writable) {
                Ok(r) => {
                    f(Ok(r));
                    // The namespace is dropped with the thread anyway; unmounting first
                    // makes overlayfs write back now, not when the last fd closes.
                    let _ = nix::mount::umount2(&root.merged, MntFlags::MNT_DETACH);
                }
                Err(e) => f(Err(e)),
            }
        })
        .map(|_| ())
}

fn mount_root(root: &RootConfig, binds: &[Bind], writable: bool) -> io::Result<Root> {
    let data = overlay_data(root, writable).map_err(io::Error::other)?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| io::Error::other(format!("unshare(CLONE_NEWNS): {e}")))?;
    let sys = |e: super::error::RuntimeError| io::Error::other(e.to_string());
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )
    .map_err(sys)?;
    // Its own mount point (empty while it is stopped), only in this namespace; a container
    // never started may not have its layer's directories yet: made as its start makes them.
    for d in [&root.upper, &root.work, &root.merged] {
        if !d.is_dir() {
            mkdir_p(d).map_err(sys)?;
        }
    }
    if writable && root.volatile {
        // As at start: overlayfs refuses a work directory a volatile mount left marked.
        let _ = std::fs::remove_dir_all(root.work.join("work/incompat"));
    }
    let ro = if writable {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    mount(
        Some("overlay"),
        &root.merged,
        Some("overlay"),
        ro,
        Some(&data),
    )
    .map_err(sys)?;
    for b in binds {
        let dest = secure_join(&root.merged, &b.destination);
        // Only where the path exists (every start made it): a read-only tree cannot get
        // a new mount point, and a write must not add one the container never had.
        if !dest.exists() || !b.source.exists() {
            continue;
        }
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(
            Some(&b.source.display().to_string()),
            &dest,
            None,
            flags,
            None,
        )
        .map_err(sys)?;
        if !writable {
            mount(
                None,
                &dest,
                None,
                flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None,
            )
            .map_err(sys)?;
        }
    }
    fsaccess::open_dir_root(&root.merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> RootConfig {
        RootConfig {
            layers: vec!["/l/2".into(), "/l/1".into()],
            upper: "/c/upper".into(),
            work: "/c/work".into(),
            merged: "/c/rootfs".into(),
            readonly: false,
            volatile: false,
        }
    }

    #[test]
    fn read_only_stacks_the_upper_dir_on_the_layers() {
        assert_eq!(
            overlay_data(&root(), false).unwrap(),
            "lowerdir=/c/upper:/l/2:/l/1"
        );
    }

    #[test]
    fn writable_uses_the_containers_upper_and_work_dirs() {
        assert_eq!(
            overlay_data(&root(), true).unwrap(),
            "lowerdir=/l/2:/l/1,upperdir=/c/upper,workdir=/c/work"
        );
    }

    #[test]
    fn no_layers_is_an_error() {
        let mut r = root();
        r.layers.clear();
        assert!(overlay_data(&r, false).is_err());
    }
}
