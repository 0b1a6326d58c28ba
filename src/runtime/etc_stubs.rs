//! The mount points of a container's network files (/etc/hosts, /etc/resolv.conf,
//! /etc/hostname) made in its writable layer by the daemon, and kept when the container's
//! directory is recycled for the next one (`spare_dir`).
//!
//! A bind mount needs its target to exist. For an image without these files the container's
//! init used to create them through the overlay: `/etc` copied up (a temporary directory in
//! `work`, renamed), three files, and all of it deleted again when the directory was
//! recycled: about six inodes made and freed per container. On ext4 without a journal every
//! new inode is checked against the recently deleted ones (`recently_deleted`), so that
//! churn slowed every start after it. Made here, directly in `upper`, they are empty regular
//! files in an `etc` directory with the image's `/etc` mode and owner (the topmost
//! directory's attributes are the merged one's), as Docker's init layer has them; a recycled
//! directory keeps them, so a loop of one-offs makes none.
//!
//! Everything here is an optimisation: when the image's `/etc` is not a plain directory, or
//! anything fails, the stubs are removed and the init creates what it needs as before.

use super::config::{MountConfig, RootConfig};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The files under /etc a container's network binds over.
const NAMES: [&str; 3] = ["hosts", "resolv.conf", "hostname"];

/// In a container directory just taken from the spares: `upper/etc` holds an empty file for
/// each network file `mounts` binds, with the image's /etc mode and owner, and no other stub.
pub fn prepare(root: &RootConfig, mounts: &[MountConfig]) {
    let etc = root.upper.join("etc");
    let wanted: Vec<&str> = NAMES
        .into_iter()
        .filter(|n| {
            mounts.iter().any(|m| {
                m.kind == "bind"
                    && m.destination.strip_prefix("/etc/") == Some(*n)
                    && !Path::new(&m.source).is_dir()
            })
        })
        .collect();
    let made = !wanted.is_empty()
        && lower_etc(&root.layers).is_some_and(|lower| make(&etc, &lower, &wanted).is_ok());
    if !made {
        remove(&etc);
    }
}

/// The attributes of the image's /etc: the topmost layer's entry, when it is a directory.
fn lower_etc(layers: &[std::path::PathBuf]) -> Option<std::fs::Metadata> {
    for layer in layers {
        match std::fs::symlink_metadata(layer.join("etc")) {
            Ok(m) if m.is_dir() => return Some(m),
            // A whiteout, a symlink, a file: left to the init.
            Ok(_) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return None,
        }
    }
    None
}

fn make(etc: &Path, lower: &std::fs::Metadata, wanted: &[&str]) -> std::io::Result<()> {
    match std::fs::symlink_metadata(etc) {
        Ok(m) if m.is_dir() => {
            if m.mode() & 0o7777 != lower.mode() & 0o7777 {
                std::fs::set_permissions(etc, PermissionsExt::from_mode(lower.mode() & 0o7777))?;
            }
            if (m.uid(), m.gid()) != (lower.uid(), lower.gid()) {
                std::os::unix::fs::lchown(etc, Some(lower.uid()), Some(lower.gid()))?;
            }
        }
        Ok(_) => return Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => {
            std::fs::create_dir(etc)?;
            // The umask must not change the image's mode.
            std::fs::set_permissions(etc, PermissionsExt::from_mode(lower.mode() & 0o7777))?;
            std::os::unix::fs::lchown(etc, Some(lower.uid()), Some(lower.gid()))?;
        }
    }
    for name in NAMES {
        let path = etc.join(name);
        let exists = std::fs::symlink_metadata(&path).is_ok();
        match (wanted.contains(&name), exists) {
            (true, false) => {
                std::fs::File::create_new(&path)?;
            }
            (false, true) => std::fs::remove_file(&path)?,
            _ => {}
        }
    }
    Ok(())
}

/// Removes the stubs and `etc` (only if nothing else is in it).
fn remove(etc: &Path) {
    if !etc.is_dir() {
        return;
    }
    for name in NAMES {
        let _ = std::fs::remove_file(etc.join(name));
    }
    let _ = std::fs::remove_dir(etc);
}

/// Empties a released container's writable layer but for `etc` with the stubs, and clears
/// the extended attributes overlayfs (or the container) left on them: what remains is what
/// a new layer would have. False when the layer is to be made anew instead: its mode or
/// owner changed, or something could not be removed.
pub fn clean_upper(upper: &Path) -> bool {
    let Ok(m) = std::fs::symlink_metadata(upper) else {
        return false;
    };
    // SAFETY: geteuid and getegid cannot fail.
    let me = unsafe { (libc::geteuid(), libc::getegid()) };
    if !m.is_dir() || m.mode() & 0o7777 != 0o755 || (m.uid(), m.gid()) != me || !unmark(upper) {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(upper) else {
        return false;
    };
    for e in entries.flatten() {
        let path = e.path();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if e.file_name() == "etc" && is_dir && only_stubs(&path) {
            continue;
        }
        let gone = match is_dir {
            true => std::fs::remove_dir_all(&path),
            false => std::fs::remove_file(&path),
        };
        if gone.is_err() {
            return false;
        }
    }
    true
}

/// Whether `etc` holds nothing but empty stubs; their attributes and its own are cleared.
fn only_stubs(etc: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(etc) else {
        return false;
    };
    let stubs: Vec<_> = entries.flatten().collect();
    stubs.iter().all(|e| {
        NAMES.iter().any(|n| e.file_name() == *n)
            && e.metadata().is_ok_and(|m| m.is_file() && m.len() == 0)
    }) && stubs.iter().all(|e| unmark(&e.path()))
        && unmark(etc)
}

/// Removes the extended attributes of `path` but security labels: overlayfs's own
/// (`trusted.overlay.*`: the origin it records for a merged directory, `impure`, `uuid`,
/// `opaque`) and a container's (`user.*`), which describe the old container's layer, not
/// the next one's. True when none is left.
fn unmark(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut buf = vec![0u8; 4096];
    // SAFETY: the path is NUL-terminated and the buffer is ours, of the length given.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        // A filesystem without extended attributes has none to clear.
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOTSUP);
    }
    buf.truncate(n as usize);
    buf.split(|b| *b == 0)
        .filter(|name| !name.is_empty() && !name.starts_with(b"security."))
        .all(|name| {
            std::ffi::CString::new(name).is_ok_and(|name| {
                // SAFETY: both strings are NUL-terminated.
                unsafe { libc::lremovexattr(c.as_ptr(), name.as_ptr()) == 0 }
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(base: &Path) -> RootConfig {
        RootConfig {
            layers: vec![base.join("l1"), base.join("l0")],
            upper: base.join("upper"),
            work: base.join("work"),
            merged: base.join("rootfs"),
            readonly: false,
            volatile: false,
        }
    }

    fn bind(dest: &str, source: &Path) -> MountConfig {
        MountConfig {
            destination: dest.into(),
            kind: "bind".into(),
            source: source.to_string_lossy().into_owned(),
            options: vec!["rbind".into()],
            create_source: false,
            volume: None,
            seed: false,
            file: None,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn stubs_are_made_with_the_images_etc_mode_and_only_those_bound() {
        let base = crate::testutil::TempDir::new("etc-stubs");
        let b = &base.0;
        for d in ["l0/etc", "l1/usr", "upper", "net"] {
            std::fs::create_dir_all(b.join(d)).unwrap();
        }
        std::fs::set_permissions(b.join("l0/etc"), PermissionsExt::from_mode(0o750)).unwrap();
        let file = b.join("net/hosts");
        std::fs::write(&file, "x").unwrap();
        let r = root(b);
        let mounts = [bind("/etc/hosts", &file), bind("/etc/hostname", &file)];
        prepare(&r, &mounts);
        assert_eq!(names(&b.join("upper/etc")), ["hostname", "hosts"]);
        let m = std::fs::metadata(b.join("upper/etc")).unwrap();
        assert_eq!(
            m.mode() & 0o7777,
            0o750,
            "the image's mode, not the umask's"
        );
        // The next container binds only resolv.conf: the others go.
        prepare(&r, &[bind("/etc/resolv.conf", &file)]);
        assert_eq!(names(&b.join("upper/etc")), ["resolv.conf"]);
        // One that binds none gets no etc of its own.
        prepare(&r, &[]);
        assert!(!b.join("upper/etc").exists());
        // A directory bound over /etc/hosts is not a file's mount point.
        prepare(&r, &[bind("/etc/hosts", &b.join("net"))]);
        assert!(!b.join("upper/etc").exists());
    }

    #[test]
    fn an_image_whose_etc_is_not_a_directory_gets_no_stubs() {
        let base = crate::testutil::TempDir::new("etc-stubs-link");
        let b = &base.0;
        for d in ["l0/etc", "l1", "upper", "net"] {
            std::fs::create_dir_all(b.join(d)).unwrap();
        }
        // The top layer replaces /etc with a symlink: the merged /etc is that symlink.
        std::os::unix::fs::symlink("/usr/etc", b.join("l1/etc")).unwrap();
        let file = b.join("net/hosts");
        std::fs::write(&file, "x").unwrap();
        prepare(&root(b), &[bind("/etc/hosts", &file)]);
        assert!(!b.join("upper/etc").exists());
        // And an image without /etc at all is left to the init too.
        let none = RootConfig {
            layers: vec![b.join("missing")],
            ..root(b)
        };
        prepare(&none, &[bind("/etc/hosts", &file)]);
        assert!(!b.join("upper/etc").exists());
    }

    #[test]
    fn a_released_layer_keeps_only_clean_stubs() {
        let base = crate::testutil::TempDir::new("etc-stubs-clean");
        let upper = base.0.join("upper");
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(upper.join("var/lib")).unwrap();
        std::fs::set_permissions(&upper, PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::write(upper.join("etc/hosts"), "").unwrap();
        std::fs::write(upper.join("etc/hostname"), "").unwrap();
        std::fs::write(upper.join("data"), "x").unwrap();
        assert!(clean_upper(&upper));
        assert_eq!(names(&upper), ["etc"]);
        assert_eq!(names(&upper.join("etc")), ["hostname", "hosts"]);
        // Something the container wrote in /etc: the whole etc goes.
        std::fs::write(upper.join("etc/passwd"), "root").unwrap();
        assert!(clean_upper(&upper));
        assert!(names(&upper).is_empty());
        // A stub that got content (written without a bind) is not kept either.
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/hosts"), "127.0.0.1 x").unwrap();
        assert!(clean_upper(&upper));
        assert!(names(&upper).is_empty());
        // A `/` whose mode the container changed is made anew by the caller.
        std::fs::set_permissions(&upper, PermissionsExt::from_mode(0o700)).unwrap();
        assert!(!clean_upper(&upper));
    }

    #[test]
    fn a_marked_directory_is_kept_without_its_marks() {
        let base = crate::testutil::TempDir::new("etc-stubs-xattr");
        let upper = base.0.join("upper");
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::set_permissions(&upper, PermissionsExt::from_mode(0o755)).unwrap();
        let etc = std::ffi::CString::new(upper.join("etc").to_string_lossy().as_bytes()).unwrap();
        // SAFETY: NUL-terminated path and name, a value of the length given.
        let set = unsafe {
            libc::lsetxattr(
                etc.as_ptr(),
                c"user.rstack-test".as_ptr(),
                b"y".as_ptr().cast(),
                1,
                0,
            )
        };
        if set != 0 {
            crate::testutil::skip(
                "a_marked_directory_is_kept_without_its_marks",
                "no user xattrs here",
            );
            return;
        }
        assert!(clean_upper(&upper));
        assert_eq!(names(&upper), ["etc"]);
        let mut buf = [0u8; 64];
        // SAFETY: NUL-terminated path, a buffer of the length given.
        let n = unsafe { libc::llistxattr(etc.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(n, 0, "the attribute is gone");
    }
}
