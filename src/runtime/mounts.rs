//! mount(2) helpers shared by the rootfs setup: option parsing ("ro,nosuid,size=64m"), a
//! symlink-safe join under the new root, and a mount call whose error names the target.

use super::error::{Result, RuntimeError};
use nix::mount::MsFlags;
use std::path::{Component, Path, PathBuf};

/// Splits mount(8)-style options into flags and the fs-specific data string.
pub fn parse_options(opts: &[String]) -> (MsFlags, String, bool) {
    let mut flags = MsFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    let mut recursive_bind = false;
    for o in opts {
        match o.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "suid" => flags &= !MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "dev" => flags &= !MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "exec" => flags &= !MsFlags::MS_NOEXEC,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "nodiratime" => flags |= MsFlags::MS_NODIRATIME,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            "strictatime" => flags |= MsFlags::MS_STRICTATIME,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => {
                flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                recursive_bind = true;
            }
            // Propagation is private for the whole container tree already.
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "defaults" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(","), recursive_bind)
}

/// `root` joined with `path` where every symlink met on the way is resolved inside `root`, so
/// an image cannot redirect a mount onto the host by shipping `/mnt -> /etc`.
pub fn secure_join(root: &Path, path: &str) -> PathBuf {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: Vec<std::ffi::OsString> = Path::new(path)
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut hops = 0;
    while let Some(p) = pending.pop() {
        if p == ".." {
            parts.pop();
            continue;
        }
        let mut cur = root.to_path_buf();
        cur.extend(&parts);
        cur.push(&p);
        match std::fs::read_link(&cur) {
            Ok(target) if hops < 40 => {
                hops += 1;
                if target.is_absolute() {
                    parts.clear();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push(n.to_os_string()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => parts.push(p),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&parts);
    out
}

/// mount(2) with an error that says what was mounted where.
pub fn mount(
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    nix::mount::mount(src, target, fstype, flags, data).map_err(|e| {
        let what = fstype.or(src).unwrap_or("remount");
        RuntimeError::sys(format!("mount {what} on {}", target.display()), e)
    })
}

pub fn mkdir_p(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| RuntimeError::io("mkdir", p, e))
}

/// Creates an empty file to bind a file onto. An existing one is left alone: opening it for
/// writing would make overlayfs copy it (and its directory) up into the container's layer,
/// on every start of a new container, for nothing (the bind hides it).
pub fn touch(p: &Path) -> Result<()> {
    if std::fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir()) {
        return Ok(());
    }
    if let Some(parent) = p.parent() {
        mkdir_p(parent)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map(|_| ())
        .map_err(|e| RuntimeError::io("create", p, e))
}

/// Copies the content of `from` (the image's directory at a volume's target, inside the
/// new root) into `to` (the new volume's empty directory), keeping modes and owners.
pub fn seed(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let rd = match std::fs::read_dir(from) {
        Ok(rd) => rd,
        Err(_) => return Ok(()),
    };
    for e in rd {
        let e = e.map_err(|e| RuntimeError::io("read", from, e))?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let md = std::fs::symlink_metadata(&src).map_err(|e| RuntimeError::io("stat", &src, e))?;
        let ft = md.file_type();
        if ft.is_symlink() {
            let t = std::fs::read_link(&src).map_err(|e| RuntimeError::io("readlink", &src, e))?;
            std::os::unix::fs::symlink(&t, &dst)
                .map_err(|e| RuntimeError::io("symlink", &dst, e))?;
        } else if ft.is_dir() {
            std::fs::create_dir(&dst).map_err(|e| RuntimeError::io("mkdir", &dst, e))?;
            seed(&src, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst).map_err(|e| RuntimeError::io("copy", &src, e))?;
        } else {
            continue;
        }
        let _ = std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid()));
        if !ft.is_symlink() {
            let _ = std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(md.mode()));
        }
    }
    // The volume's root takes the owner and mode of the image's directory.
    if let Ok(md) = std::fs::metadata(from) {
        let _ = std::os::unix::fs::chown(to, Some(md.uid()), Some(md.gid()));
        let _ = std::fs::set_permissions(to, std::fs::Permissions::from_mode(md.mode()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_and_data() {
        let o: Vec<String> = ["ro", "nosuid", "size=65536k", "mode=1777", "rprivate"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (f, d, rb) = parse_options(&o);
        assert!(f.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
        assert_eq!(d, "size=65536k,mode=1777");
        assert!(!rb);
        let (f, _, rb) = parse_options(&["rbind".to_string()]);
        assert!(f.contains(MsFlags::MS_BIND | MsFlags::MS_REC) && rb);
    }

    #[test]
    fn secure_join_keeps_symlinks_inside_root() {
        let root = std::env::temp_dir().join(format!("rstack-sj-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("mnt")).unwrap();
        std::os::unix::fs::symlink("../../real", root.join("rel")).unwrap();
        assert_eq!(secure_join(&root, "/mnt/x"), root.join("etc/x"));
        assert_eq!(secure_join(&root, "/rel/y"), root.join("real/y"));
        assert_eq!(secure_join(&root, "/../../z"), root.join("z"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
