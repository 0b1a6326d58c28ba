//! Writes the content of secret and config mounts (`MountConfig::file`) into their source
//! files, in the container's own directory, before a start: the runtime then binds them
//! read-only like any file. Written at every start, so a file lost or changed on the host
//! side comes back as the config says.

use super::config::ContainerConfig;
use super::error::{Result, RuntimeError};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes every mount's file and takes the content out of the config (the shim's
/// config.json never holds it).
pub fn write_all(cfg: &mut ContainerConfig) -> Result<()> {
    for m in cfg.mounts.iter_mut() {
        if let Some(f) = m.file.take() {
            write_one(Path::new(&m.source), &f)?;
        }
    }
    Ok(())
}

fn write_one(path: &Path, f: &super::config::FileSource) -> Result<()> {
    let io = |what: &'static str| move |e| RuntimeError::io(what, path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("mkdir"))?;
        // Only root walks there on the host; the container reaches the file by its bind.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("chmod"))?;
    }
    // A new file renamed over the old one: a container still running from an earlier
    // start keeps what it had, and no reader sees a half-written file.
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("create"))?;
    file.write_all(&f.data).map_err(io("write"))?;
    drop(file);
    std::os::unix::fs::chown(&tmp, Some(f.uid), Some(f.gid)).map_err(io("chown"))?;
    // After the chown, which clears set-id bits.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(f.mode & 0o7777))
        .map_err(io("chmod"))?;
    std::fs::rename(&tmp, path).map_err(io("rename"))
}
