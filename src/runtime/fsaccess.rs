//! Copying files out of and into a running container's root (`cp`, `export`), tar-safe.
//!
//! The root is the container init's `/proc/PID/root`, so its volumes and its overlay are
//! seen as the container sees them. Every path the user names is resolved with openat2's
//! RESOLVE_IN_ROOT (`..` and symlinks, absolute ones included, stay inside that root), and
//! every entry below it is opened relative to its parent's fd with RESOLVE_NO_SYMLINKS: a
//! process in the container swapping a directory for a symlink mid-copy makes the copy fail,
//! never reach the host.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// An open container root.
pub struct Root {
    fd: OwnedFd,
}

/// The root of the container whose init is `pid`.
pub fn open_root(pid: i32) -> io::Result<Root> {
    let fd = openat2(
        libc::AT_FDCWD,
        Path::new(&format!("/proc/{pid}/root")),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )?;
    Ok(Root { fd })
}

/// A directory as a root (a stopped container's overlay, mounted by `stopped_root`).
pub fn open_dir_root(dir: &Path) -> io::Result<Root> {
    let fd = openat2(libc::AT_FDCWD, dir, libc::O_PATH | libc::O_DIRECTORY, 0)?;
    Ok(Root { fd })
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::other("path holds a NUL byte"))
}

/// The kernel's `struct open_how` (libc's is non-exhaustive: not buildable here).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2) (musl has no wrapper); O_CLOEXEC always.
fn openat2(dir: i32, path: &Path, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    let mut how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    if flags & libc::O_CREAT != 0 {
        how.mode = 0o600;
    }
    // SAFETY: a valid C string and open_how, its size passed along; the fd returned is ours.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

const IN_ROOT: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
/// One entry of a directory already opened: no symlink followed, no magic link.
const CHILD: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;

/// `path` inside the root, as an O_PATH fd; the last component's symlink is followed only
/// with `follow` (`cp -L`).
pub fn resolve(root: &Root, path: &str, follow: bool) -> io::Result<OwnedFd> {
    let p = if path.is_empty() { "/" } else { path };
    let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
    openat2(root.fd.as_raw_fd(), Path::new(p), flags, IN_ROOT)
}

fn child(dir: &OwnedFd, name: &OsStr, flags: i32, xdev: bool) -> io::Result<OwnedFd> {
    let resolve = CHILD | if xdev { 0 } else { libc::RESOLVE_NO_XDEV };
    openat2(
        dir.as_raw_fd(),
        Path::new(name),
        flags | libc::O_NOFOLLOW,
        resolve,
    )
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn readlink_fd(fd: &OwnedFd) -> io::Result<PathBuf> {
    // An O_PATH|O_NOFOLLOW fd of a symlink: readlinkat with an empty path reads it.
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: buf is writable for its length; "" with an fd reads that fd's link.
    let n = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(OsStr::from_bytes(&buf)))
}

/// Writes `fd` (resolved in a root) and everything below it as a tar stream to `out`, its
/// top entry named `name` (`.`: the directory's entries only, as `cp SRC/. DEST`).
/// `xdev`: descend into mount points (volumes); `export` stays on the root filesystem.
pub fn tar_out(fd: OwnedFd, name: &Path, xdev: bool, out: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    entry(&mut b, fd, name, xdev)?;
    b.finish()
}

fn entry<W: Write>(
    b: &mut tar::Builder<W>,
    fd: OwnedFd,
    name: &Path,
    xdev: bool,
) -> io::Result<()> {
    let meta = File::from(fd.try_clone()?).metadata()?;
    let ft = meta.file_type();
    let top_contents = name == Path::new(".");
    let mut h = tar::Header::new_gnu();
    h.set_metadata(&meta);
    if ft.is_symlink() {
        let target = readlink_fd(&fd)?;
        return b.append_link(&mut h, name, target);
    }
    if ft.is_file() {
        // Reopened for reading relative to itself: the O_PATH fd is the file, no lookup.
        let f = File::open(fd_path(&fd))?;
        h.set_size(meta.len());
        return b.append_data(&mut h, name, f.take(meta.len()));
    }
    if !ft.is_dir() {
        h.set_size(0);
        return b.append_data(&mut h, name, io::empty());
    }
    if !top_contents {
        h.set_size(0);
        b.append_data(&mut h, name, io::empty())?;
    }
    let dir = openat2(
        fd.as_raw_fd(),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        CHILD,
    )?;
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(fd_path(&dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for n in names {
        let c = match child(&dir, &n, libc::O_PATH, xdev) {
            Ok(c) => c,
            // A mount point, with xdev off: left out, as `docker export` leaves volumes.
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => continue,
            // Gone since the listing: nothing to copy.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let sub = if top_contents {
            PathBuf::from(&n)
        } else {
            name.join(&n)
        };
        entry(b, c, &sub, xdev)?;
    }
    Ok(())
}

/// An archive entry's path as components that stay below the destination: `..`, absolute
/// paths and empty names are refused.
pub fn safe_components(p: &Path) -> io::Result<Vec<&OsStr>> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("archive entry {} leaves the destination", p.display()),
                ));
            }
        }
    }
    Ok(out)
}

/// The directory `parts` below `dir`, made as needed, every component opened without
/// following a symlink.
fn open_dirs(dir: &OwnedFd, parts: &[&OsStr]) -> io::Result<OwnedFd> {
    let mut cur = dir.try_clone()?;
    for p in parts {
        let c = cstr(Path::new(p))?;
        // SAFETY: a C string and a directory fd of ours.
        let r = unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o755) };
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            return Err(io::Error::last_os_error());
        }
        cur = child(&cur, p, libc::O_RDONLY | libc::O_DIRECTORY, true)?;
    }
    Ok(cur)
}

/// Unpacks the tar stream `input` below the directory `dest` (resolved in a root). With
/// `rename`, the archive's top-level name becomes `rename` (`cp FILE svc:/new-name`).
/// `keep_owner` (`cp -a`) keeps the archive's uid/gid; otherwise files belong to root.
pub fn tar_in(
    dest: &OwnedFd,
    input: impl Read,
    rename: Option<&OsStr>,
    keep_owner: bool,
) -> io::Result<u64> {
    let dir = openat2(
        dest.as_raw_fd(),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        CHILD,
    )?;
    let mut a = tar::Archive::new(input);
    let mut n = 0;
    for e in a.entries()? {
        let mut e = e?;
        let path = e.path()?.into_owned();
        let mut parts = safe_components(&path)?;
        if let (Some(r), Some(first)) = (rename, parts.first_mut()) {
            *first = r;
        }
        let Some((last, parents)) = parts.split_last() else {
            continue;
        };
        let parent = open_dirs(&dir, parents)?;
        let h = e.header().clone();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let lc = cstr(Path::new(last))?;
        let target = match h.entry_type() {
            tar::EntryType::Directory => open_dirs(&parent, &[last])?,
            tar::EntryType::Symlink => {
                let link = e
                    .link_name()?
                    .ok_or_else(|| io::Error::other("symlink without a target"))?;
                let t = cstr(&link)?;
                // SAFETY: C strings and a directory fd of ours; an old entry is replaced.
                unsafe { libc::unlinkat(parent.as_raw_fd(), lc.as_ptr(), 0) };
                // SAFETY: as above.
                if unsafe { libc::symlinkat(t.as_ptr(), parent.as_raw_fd(), lc.as_ptr()) } < 0 {
                    return Err(io::Error::last_os_error());
                }
                if keep_owner {
                    let (u, g) = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
                    // SAFETY: as above; the link itself, not its target.
                    unsafe {
                        libc::fchownat(
                            parent.as_raw_fd(),
                            lc.as_ptr(),
                            u,
                            g,
                            libc::AT_SYMLINK_NOFOLLOW,
                        )
                    };
                }
                n += 1;
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = child(
                    &parent,
                    last,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                    true,
                )?;
                let mut f = File::from(fd);
                io::copy(&mut e, &mut f)?;
                f.flush()?;
                OwnedFd::from(f)
            }
            // Hard links, devices, FIFOs: not copied (docker cp's common use is files).
            _ => continue,
        };
        // SAFETY: fds of ours.
        unsafe { libc::fchmod(target.as_raw_fd(), mode as libc::mode_t) };
        let (u, g) = match keep_owner {
            true => (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32),
            false => (0, 0),
        };
        // SAFETY: as above.
        unsafe { libc::fchown(target.as_raw_fd(), u, g) };
        n += 1;
    }
    Ok(n)
}

/// What a path of the root is: `None` when it does not exist.
pub fn kind(root: &Root, path: &str) -> io::Result<Option<std::fs::FileType>> {
    match resolve(root, path, true) {
        Ok(fd) => Ok(Some(File::from(fd).metadata()?.file_type())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_stay_below_the_destination() {
        assert_eq!(
            safe_components(Path::new("a/./b")).expect("ok"),
            [OsStr::new("a"), OsStr::new("b")]
        );
        assert!(safe_components(Path::new("a/../../etc")).is_err());
        assert!(safe_components(Path::new("/etc/passwd")).is_err());
    }

    /// A root built in a temp dir stands in for a container's: symlinks pointing out of it,
    /// absolute or by `..`, resolve inside it.
    #[test]
    fn resolution_stays_in_the_root() {
        let dir = std::env::temp_dir().join(format!("rstack-fsaccess-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).expect("mkdir");
        std::fs::write(dir.join("etc/secret"), "inside").expect("write");
        std::os::unix::fs::symlink("/etc", dir.join("abs")).expect("symlink");
        std::os::unix::fs::symlink("../../../../etc", dir.join("rel")).expect("symlink");
        let root = Root {
            fd: openat2(libc::AT_FDCWD, &dir, libc::O_PATH | libc::O_DIRECTORY, 0).expect("open"),
        };
        for p in ["/abs/secret", "rel/secret", "../../etc/secret"] {
            let fd = resolve(&root, p, true).expect(p);
            let got = std::fs::read_to_string(fd_path(&fd)).expect("read");
            assert_eq!(got, "inside", "{p}");
        }
        // Not followed without -L: the link itself.
        let fd = resolve(&root, "/abs", false).expect("link");
        assert!(
            File::from(fd)
                .metadata()
                .expect("meta")
                .file_type()
                .is_symlink()
        );

        // A tar out of it and back in elsewhere: the link stays a link, the file a file.
        let mut buf = Vec::new();
        tar_out(
            resolve(&root, "/", false).expect("root"),
            Path::new("."),
            true,
            &mut buf,
        )
        .expect("tar");
        std::fs::create_dir_all(dir.join("copy")).expect("mkdir");
        let dest = resolve(&root, "/copy", false).expect("copy");
        tar_in(&dest, &buf[..], None, true).expect("untar");
        assert_eq!(
            std::fs::read_to_string(dir.join("copy/etc/secret")).expect("copied"),
            "inside"
        );
        assert_eq!(
            std::fs::read_link(dir.join("copy/abs")).expect("link"),
            Path::new("/etc")
        );
        // An archive whose symlink then names a path through it cannot write outside.
        let mut evil = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        evil.append_link(&mut h, "out", "/tmp").expect("link");
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        let escaped = format!("rstack-escaped-{}", std::process::id());
        evil.append_data(&mut h, format!("out/{escaped}"), &b"x"[..])
            .expect("file");
        let evil = evil.into_inner().expect("tar");
        assert!(tar_in(&dest, &evil[..], None, false).is_err());
        assert!(!Path::new("/tmp").join(&escaped).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
