//! Which devices a container may use: Docker's default device cgroup rules (moby's
//! `oci/defaults.go` plus the ones runc appends), the rules of the devices a service lists
//! (`devices:`) and its own rules (`device_cgroup_rules:`), and the nodes made for listed
//! devices in the container's /dev.
//!
//! The rule list is applied by `cgroup` (v1 `devices.deny`/`devices.allow`, v2 an eBPF
//! program from `cgroup::devfilter`). Without it a container's root could `mknod` and open
//! any host device (a host tty, a loop or disk device).

use super::config::{ContainerConfig, DeviceConfig};
use super::error::{Result, RuntimeError};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// mknod(2); the bit values are the kernel's `BPF_DEVCG_ACC_*`.
pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
pub const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Device type of a rule: `a` (all), `c` (character) or `b` (block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DevKind {
    #[serde(rename = "a")]
    All,
    #[serde(rename = "c")]
    Char,
    #[serde(rename = "b")]
    Block,
}

/// One device cgroup rule, as the v1 `devices.allow`/`devices.deny` files take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub allow: bool,
    pub kind: DevKind,
    /// `None` is `*`.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u8,
}

impl Rule {
    pub const fn allow(kind: DevKind, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            allow: true,
            kind,
            major,
            minor,
            access,
        }
    }

    const fn chr(major: u32, minor: u32) -> Rule {
        Rule::allow(DevKind::Char, Some(major), Some(minor), ACC_ALL)
    }

    /// The line written to `devices.allow` or `devices.deny`, e.g. `c 1:3 rwm`.
    pub fn v1_line(&self) -> String {
        let kind = match self.kind {
            DevKind::All => "a",
            DevKind::Char => "c",
            DevKind::Block => "b",
        };
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        format!(
            "{kind} {}:{} {}",
            num(self.major),
            num(self.minor),
            access_text(self.access)
        )
    }
}

/// `rwm` letters of `ACC_*` bits, in that order.
pub fn access_text(access: u8) -> String {
    [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')]
        .iter()
        .filter(|(b, _)| access & b != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// `ACC_*` bits of a permission string such as `rw`; `None` on any other letter, a repeated
/// one, or an empty string (Docker's `validDeviceMode`).
pub fn parse_access(s: &str) -> Option<u8> {
    let mut bits = 0;
    for c in s.chars() {
        let b = match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return None,
        };
        if bits & b != 0 {
            return None;
        }
        bits |= b;
    }
    (bits != 0).then_some(bits)
}

/// What every container gets, in order: deny everything, then allow mknod of any device
/// (but not its use) and the usual pseudo-devices. This is moby's default list (null, zero,
/// urandom, random, tty, console; its deny of fuse 10:229 only undoes an allow that is not
/// there, so it is left out) followed by runc's built-in allowed devices (mknod of any char
/// and block device, full, ptmx, the pts devices, and tun/tap 10:200, which runc 1.2.4
/// re-added and Docker therefore still allows), duplicates dropped.
pub const DEFAULT_RULES: [Rule; 13] = [
    Rule {
        allow: false,
        kind: DevKind::All,
        major: None,
        minor: None,
        access: ACC_ALL,
    },
    Rule::allow(DevKind::Char, None, None, ACC_MKNOD),
    Rule::allow(DevKind::Block, None, None, ACC_MKNOD),
    Rule::chr(1, 3),                                      // null
    Rule::chr(1, 5),                                      // zero
    Rule::chr(1, 7),                                      // full
    Rule::chr(1, 8),                                      // random
    Rule::chr(1, 9),                                      // urandom
    Rule::chr(5, 0),                                      // tty
    Rule::chr(5, 1),                                      // console
    Rule::chr(5, 2),                                      // ptmx
    Rule::allow(DevKind::Char, Some(136), None, ACC_ALL), // pts
    Rule::chr(10, 200),                                   // tun/tap
];

/// A host device node as `stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostNode {
    pub kind: DevKind,
    pub major: u32,
    pub minor: u32,
    /// Permission bits of the host node, given to the container's node too (as runc does).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Stats `path` on the host (symlinks followed, as Docker does): it must be a character or
/// block device.
pub fn host_node(path: &Path) -> Result<HostNode> {
    let md = std::fs::metadata(path).map_err(|e| {
        RuntimeError::Invalid(format!(
            "device {}: {} on the host",
            path.display(),
            match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                _ => e.to_string(),
            }
        ))
    })?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        DevKind::Char
    } else if ft.is_block_device() {
        DevKind::Block
    } else {
        return Err(RuntimeError::Invalid(format!(
            "device {}: not a character or block device on the host",
            path.display()
        )));
    };
    let rdev = md.rdev();
    Ok(HostNode {
        kind,
        major: libc::major(rdev),
        minor: libc::minor(rdev),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
    })
}

/// The daemon's check before a start: every listed device exists on the host and is one.
pub fn check_host(devices: &[DeviceConfig]) -> Result<()> {
    for d in devices {
        host_node(Path::new(&d.host_path))?;
        if parse_access(&d.access).is_none() {
            return Err(RuntimeError::Invalid(format!(
                "device {}: invalid permissions {:?} (expected letters from rwm)",
                d.host_path, d.access
            )));
        }
    }
    Ok(())
}

/// The container's whole rule list: the defaults, one allow rule per listed device (read
/// from the host node), then the service's own rules.
pub fn container_rules(cfg: &ContainerConfig) -> Result<Vec<Rule>> {
    let mut rules = DEFAULT_RULES.to_vec();
    for d in &cfg.devices {
        let node = host_node(Path::new(&d.host_path))?;
        let access = parse_access(&d.access).ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "device {}: invalid permissions {:?}",
                d.host_path, d.access
            ))
        })?;
        rules.push(Rule::allow(
            node.kind,
            Some(node.major),
            Some(node.minor),
            access,
        ));
    }
    rules.extend(cfg.device_rules.iter().copied());
    Ok(rules)
}

/// Makes the listed devices' nodes under the container's root `merged` (before pivot_root,
/// so the host's nodes are still visible). Without CAP_MKNOD (a user namespace), binds the
/// host's node instead.
pub fn make_nodes(merged: &Path, devices: &[DeviceConfig]) -> Result<()> {
    for d in devices {
        if !d.path.starts_with('/') {
            return Err(RuntimeError::Invalid(format!(
                "device path {:?} in the container is not absolute",
                d.path
            )));
        }
        let node = host_node(Path::new(&d.host_path))?;
        let dest = super::mounts::secure_join(merged, &d.path);
        if let Some(parent) = dest.parent() {
            super::mounts::mkdir_p(parent)?;
        }
        // A node the image or an earlier run left there is replaced.
        let _ = std::fs::remove_file(&dest);
        let kind = match node.kind {
            DevKind::Block => nix::sys::stat::SFlag::S_IFBLK,
            _ => nix::sys::stat::SFlag::S_IFCHR,
        };
        let made = nix::sys::stat::mknod(
            &dest,
            kind,
            nix::sys::stat::Mode::from_bits_truncate(node.mode),
            nix::sys::stat::makedev(node.major.into(), node.minor.into()),
        );
        match made {
            Ok(()) => {
                // mknod applies the umask; the node gets the host's exact mode and owner.
                let _ = std::fs::set_permissions(
                    &dest,
                    std::os::unix::fs::PermissionsExt::from_mode(node.mode),
                );
                let _ = std::os::unix::fs::chown(&dest, Some(node.uid), Some(node.gid));
            }
            Err(_) => {
                super::mounts::touch(&dest)?;
                super::mounts::mount(
                    Some(&d.host_path),
                    &dest,
                    None,
                    nix::mount::MsFlags::MS_BIND,
                    None,
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_are_dockers() {
        let lines: Vec<String> = DEFAULT_RULES.iter().map(Rule::v1_line).collect();
        assert_eq!(
            lines,
            [
                "a *:* rwm",
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm",
                "c 10:200 rwm",
            ]
        );
        assert!(!DEFAULT_RULES[0].allow);
        assert!(DEFAULT_RULES[1..].iter().all(|r| r.allow));
    }

    #[test]
    fn access_letters() {
        assert_eq!(parse_access("rwm"), Some(ACC_ALL));
        assert_eq!(parse_access("mr"), Some(ACC_READ | ACC_MKNOD));
        assert_eq!(parse_access(""), None);
        assert_eq!(parse_access("rr"), None);
        assert_eq!(parse_access("rwx"), None);
        assert_eq!(access_text(ACC_MKNOD | ACC_WRITE), "wm");
    }

    #[test]
    fn host_nodes_are_stated() {
        let null = host_node(Path::new("/dev/null")).unwrap();
        assert_eq!((null.kind, null.major, null.minor), (DevKind::Char, 1, 3));
        let e = host_node(Path::new("/etc/hostname"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a character or block device"), "{e}");
        let e = host_node(Path::new("/dev/no-such-dev"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/dev/no-such-dev: no such file on the host"),
            "{e}"
        );
    }
}
