//! The container's filesystem view, built inside its new mount namespace: overlay root, /proc,
//! /dev, /sys, configured mounts, pivot_root, then Docker's masked and read-only paths.
//!
//! Everything is mounted in the container's own namespace only, so nothing here is ever visible
//! on the host and the kernel drops it all when the last container process exits.

use super::config::ContainerConfig;
use super::error::{Result, RuntimeError};
use super::mounts::{mkdir_p, mount, parse_options, secure_join, touch};
use nix::mount::{MntFlags, MsFlags};
use std::path::Path;

const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Builds the root and pivots into it. Runs in the cloned child, in its new mount namespace.
pub fn setup(cfg: &ContainerConfig) -> Result<()> {
    let nosuid_dev_exec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    let root = &cfg.root;
    // Usually made already (a spare container directory, or a restart): one stat each.
    for d in [&root.upper, &root.work, &root.merged] {
        if !d.is_dir() {
            mkdir_p(d)?;
        }
    }
    let lower: Vec<String> = root
        .layers
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if lower.is_empty() {
        return Err(RuntimeError::Invalid("root has no layers".into()));
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        root.upper.display(),
        root.work.display()
    );
    // The overlay is itself a mount point, which is all pivot_root needs: no extra self-bind.
    // `volatile` needs Linux 5.10; an older kernel refuses it, and gets the plain mount.
    let mount_overlay = |data: &str| {
        mount(
            Some("overlay"),
            &root.merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(data),
        )
    };
    if root.volatile {
        // A volatile mount leaves work/work/incompat/volatile behind, and overlayfs refuses
        // the work directory while it is there: a restart of the same one-off would fail.
        // The layer is thrown away anyway.
        let _ = std::fs::remove_dir_all(root.work.join("work/incompat"));
        match mount_overlay(&format!("{data},volatile")) {
            Ok(()) => {}
            // Linux before 5.10 does not know the option.
            Err(RuntimeError::Sys {
                source: nix::errno::Errno::EINVAL,
                ..
            }) => mount_overlay(&data)?,
            Err(e) => return Err(e),
        }
    } else {
        mount_overlay(&data)?;
    }
    let m = &root.merged;

    let proc_ = secure_join(m, "/proc");
    mkdir_p(&proc_)?;
    mount(Some("proc"), &proc_, Some("proc"), nosuid_dev_exec, None)?;

    setup_dev(m, cfg.shm_size)?;

    let sys = secure_join(m, "/sys");
    mkdir_p(&sys)?;
    let ro = nosuid_dev_exec | MsFlags::MS_RDONLY;
    if mount(Some("sysfs"), &sys, Some("sysfs"), ro, None).is_err() {
        mount(
            Some("/sys"),
            &sys,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        mount(
            None,
            &sys,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | ro,
            None,
        )?;
    }

    for mc in &cfg.mounts {
        mount_one(m, mc)?;
    }
    // Before pivot_root: the host's nodes are read for their type and numbers.
    super::devices::make_nodes(m, &cfg.devices)?;
    // Docker creates a missing working directory.
    let cwd = secure_join(m, &cfg.process.cwd);
    mkdir_p(&cwd)?;

    pivot(m)?;

    // Through the container's own /proc, before /proc/sys turns read-only below; the
    // network and IPC namespaces (the shim's) exist already.
    super::sysctl::write_all(&cfg.sysctls)?;
    for p in &cfg.masked_paths {
        mask(Path::new(p))?;
    }
    for p in &cfg.readonly_paths {
        readonly(Path::new(p))?;
    }
    if root.readonly {
        mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None,
        )?;
    }
    Ok(())
}

/// `shm_size`: bytes of the /dev/shm tmpfs (`shm_size:`); `None`: Docker's 64 MiB.
fn setup_dev(m: &Path, shm_size: Option<u64>) -> Result<()> {
    let dev = secure_join(m, "/dev");
    mkdir_p(&dev)?;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    // Nodes get exactly 0666 (no chmod after each); the umask is restored below.
    // SAFETY: umask has no failure mode; the init is single-threaded.
    let umask = unsafe { libc::umask(0) };
    for (name, major, minor) in DEVICES {
        let p = dev.join(name);
        let devno = nix::sys::stat::makedev(major, minor);
        let made = nix::sys::stat::mknod(
            &p,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            devno,
        );
        if made.is_err() {
            // Without CAP_MKNOD, bind the host's node instead.
            touch(&p)?;
            let host = format!("/dev/{name}");
            mount(Some(&host), &p, None, MsFlags::MS_BIND, None)?;
        }
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let p = dev.join(link);
        std::os::unix::fs::symlink(target, &p).map_err(|e| RuntimeError::io("symlink", &p, e))?;
    }
    // SAFETY: as above.
    unsafe { libc::umask(umask) };
    let pts = dev.join("pts");
    mkdir_p(&pts)?;
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )?;
    let shm = dev.join("shm");
    mkdir_p(&shm)?;
    let nde = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let shm_opts = format!("mode=1777,size={}", shm_size.unwrap_or(64 << 20));
    mount(Some("shm"), &shm, Some("tmpfs"), nde, Some(&shm_opts))?;
    let mq = dev.join("mqueue");
    mkdir_p(&mq)?;
    // Kernels without POSIX message queues cannot mount it; Docker would fail, we go on.
    if let Err(e) = mount(Some("mqueue"), &mq, Some("mqueue"), nde, None)
        && !matches!(
            e,
            RuntimeError::Sys {
                source: nix::Error::ENODEV,
                ..
            }
        )
    {
        return Err(e);
    }
    Ok(())
}

fn mount_one(m: &Path, mc: &super::config::MountConfig) -> Result<()> {
    if !mc.destination.starts_with('/') {
        return Err(RuntimeError::Invalid(format!(
            "mount destination {:?} is not absolute",
            mc.destination
        )));
    }
    let dest = secure_join(m, &mc.destination);
    let (mut flags, data, _) = parse_options(&mc.options);
    let is_bind = mc.kind == "bind" || flags.contains(MsFlags::MS_BIND);
    if is_bind {
        flags |= MsFlags::MS_BIND;
        let src_dir = Path::new(&mc.source).is_dir();
        if src_dir {
            mkdir_p(&dest)?
        } else {
            touch(&dest)?
        }
        if mc.seed && src_dir {
            // A new volume starts with what the image has there (Docker's copy-up).
            super::mounts::seed(&dest, Path::new(&mc.source))?;
        }
        let bind_flags = flags & (MsFlags::MS_BIND | MsFlags::MS_REC);
        mount(Some(&mc.source), &dest, None, bind_flags, None)?;
        // Bind ignores every other flag; they take effect on a remount.
        let rest = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !rest.is_empty() {
            mount(
                None,
                &dest,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | rest,
                None,
            )?;
        }
        return Ok(());
    }
    mkdir_p(&dest)?;
    let data = (!data.is_empty()).then_some(data.as_str());
    mount(Some(&mc.source), &dest, Some(&mc.kind), flags, data)
}

/// pivot_root(".", ".") then detach the old root, which is stacked on the same directory: no
/// put_old directory needed (runc's trick).
fn pivot(new_root: &Path) -> Result<()> {
    nix::unistd::chdir(new_root)
        .map_err(|e| RuntimeError::sys(format!("chdir {}", new_root.display()), e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| RuntimeError::sys("pivot_root", e))?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| RuntimeError::sys("umount old root", e))?;
    nix::unistd::chdir("/").map_err(|e| RuntimeError::sys("chdir /", e))
}

fn mask(p: &Path) -> Result<()> {
    match std::fs::metadata(p) {
        Ok(md) if md.is_dir() => mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0"),
        ),
        Ok(_) => mount(Some("/dev/null"), p, None, MsFlags::MS_BIND, None),
        Err(_) => Ok(()),
    }
}

fn readonly(p: &Path) -> Result<()> {
    if std::fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    mount(
        Some(&p.to_string_lossy()),
        p,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let fl = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | MsFlags::MS_REC;
    mount(None, p, None, fl, None)
}

/// Brings `lo` up in the new network namespace (SIOCSIFFLAGS; no netlink needed for one flag).
pub fn loopback_up() -> Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed ifreq with a NUL-terminated name.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return Err(RuntimeError::io(
                "socket",
                "lo",
                std::io::Error::last_os_error(),
            ));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut r = libc::ioctl(s, libc::SIOCGIFFLAGS as _, &mut req);
        if r == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            r = libc::ioctl(s, libc::SIOCSIFFLAGS as _, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(s);
        if r != 0 {
            return Err(RuntimeError::io("ioctl SIOCSIFFLAGS", "lo", err));
        }
    }
    Ok(())
}
