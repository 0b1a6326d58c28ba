//! The runtime's only input: one container's configuration, written as `config.json` into the
//! container's state directory and read by the shim.
//!
//! Kept close to the OCI runtime spec's shape (process, root, mounts, linux.resources,
//! maskedPaths/readonlyPaths) but owned by rstack: the runtime never sees `spec`/`model` types.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

// The rest of the runtime's vocabulary, so that `plan`, `reconcile`, `store` and `api` name
// nothing of the runtime but this module (tests/deps.rs): the device rules `device_rules` is
// made of, Docker's defaults for the lists below as constants, and signal names. All pure:
// nothing reachable from here makes a kernel call.
pub use super::caps::all_capabilities;
pub use super::defaults::{
    DEFAULT_RLIMITS, DOCKER_DEFAULT_CAPABILITIES, DOCKER_DEFAULT_MASKED_PATHS,
    DOCKER_DEFAULT_READONLY_PATHS,
};
pub use super::devices::{ACC_ALL, ACC_MKNOD, ACC_READ, ACC_WRITE, DevKind, Rule};
pub use super::signal::parse_signal;

/// The cgroup every container of rstack (services, one-offs, build steps) lives under:
/// one level, so the daemon can remove it once it is empty (`cgroup::remove_empty_parents`).
pub const CGROUP_PARENT: &str = "rstack";

/// Everything the shim needs to create, run and clean up one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// Unique container id; also the cgroup leaf name.
    pub id: String,
    pub hostname: String,
    pub root: RootConfig,
    pub process: ProcessConfig,
    /// Extra mounts after the defaults (/proc, /dev, /sys, ...), e.g. tmpfs.
    pub mounts: Vec<MountConfig>,
    pub resources: ResourceConfig,
    /// Cgroup path relative to each hierarchy root, e.g. "rstack/myproj/myproj-api-1-3f2a".
    pub cgroup_path: String,
    /// Run a minimal init as PID 1 that reaps zombies and forwards signals (`init: true`).
    pub init: bool,
    /// Paths masked inside the container (Docker's defaults unless overridden).
    pub masked_paths: Vec<String>,
    /// Paths made read-only inside the container.
    pub readonly_paths: Vec<String>,
    /// Directory holding config.json, the log, pid and exit files.
    pub state_dir: PathBuf,
    /// Host devices made inside the container and allowed in its device cgroup (`devices:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceConfig>,
    /// Device cgroup rules after Docker's defaults and the devices' (`device_cgroup_rules:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_rules: Vec<super::devices::Rule>,
    /// How the shim keeps container.log (rotation, or no log at all).
    #[serde(default, skip_serializing_if = "LogConfig::is_default")]
    pub log: LogConfig,
    /// The seccomp profile; absent means Docker's default profile.
    #[serde(default, skip_serializing_if = "Seccomp::is_default")]
    pub seccomp: Seccomp,
    /// The compiled filter for `seccomp` (`runtime::seccomp::FilterCache`), set by the daemon
    /// at each start. Without it, the shim compiles `seccomp` itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_filter: Option<PathBuf>,
    /// Share the host's network namespace instead of a new one (`docker build`'s RUN with
    /// the default network, `network_mode: host`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_network: bool,
    /// The container's network interfaces, or the namespace it joins (`NetConfig`); set by
    /// the daemon at each start. Empty: loopback only (`network_mode: none`).
    #[serde(default, skip_serializing_if = "NetConfig::is_empty")]
    pub network: NetConfig,
    /// Namespaced sysctls (`sysctls:`), written under /proc/sys by the container's init
    /// before /proc/sys is made read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sysctls: Vec<(String, String)>,
    /// Size of the /dev/shm tmpfs in bytes (`shm_size`); absent: Docker's 64 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// Written to the init's /proc/self/oom_score_adj before the exec (`oom_score_adj`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// Share the host's pid namespace instead of a new one (`pid: host`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_pid: bool,
}

/// Where the shim puts the container's network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetConfig {
    /// Join the network namespace of this process (`network_mode: service:x`/`container:x`)
    /// instead of the shim's own; `interfaces` is then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_pid: Option<i32>,
    /// One veth per attached network, the first one holding the default route.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// What the stack file asks for, written by `plan`; the daemon resolves it into
    /// `interfaces` or `join_pid` at each start (`network::NetworkManager::prepare`). The
    /// shim never reads it. `None`: a container planned before networks existed, or a build
    /// step: loopback only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<NetRequest>,
}

impl NetConfig {
    pub fn is_empty(&self) -> bool {
        self.join_pid.is_none() && self.interfaces.is_empty() && self.request.is_none()
    }
}

/// A container's networking as the stack file gives it, in the runtime's vocabulary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetRequest {
    pub project: String,
    /// The container's name (`<project>-<service>-1`): what `container:x` joins by.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Names it answers to on each of its networks (service, container name, hostname).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// `network_mode: none`: loopback only, no files but its own /etc/hosts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub none: bool,
    /// `network_mode: service:x` (the container's name, `<project>-x-1`) or `container:x`
    /// (a name or id): the container whose namespace it joins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join: Option<String>,
    /// The networks, highest priority first (the first holds the default route).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetAttach>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortRequest>,
    /// `links`: (alias, target container name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<(String, String)>,
    /// `extra_hosts`: (host, ip or `host-gateway`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
}

/// One network to attach to, with its definition (a network is created at its first use).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetAttach {
    /// The network's full name.
    pub name: String,
    /// The project that declares it ("" for one made by `network create`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub attachable: bool,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Names it also answers to on this network only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// `enable_ipv6: true`: the network is dual stack (an IPv6 /64 besides its IPv4 subnet).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enable_ipv6: bool,
    /// The first IPv6 `ipam.config` entry (used with `enable_ipv6`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
}

/// One published container port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortRequest {
    pub target: u16,
    /// The host port or the range a free one is taken from; `None`: an ephemeral port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<(u16, u16)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// One network attachment: a veth pair whose host end is enslaved to `bridge` and whose
/// other end is `name` inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// The network's bridge in the host's namespace.
    pub bridge: String,
    /// The host end's name (at most 15 bytes, unique on the host).
    pub host_name: String,
    /// The name inside the container (`eth0`, `eth1`...).
    pub name: String,
    /// The container's address on the network.
    pub address: std::net::Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The default route's next hop (on the first interface of a non-internal network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<std::net::Ipv4Addr>,
    /// `aa:bb:cc:dd:ee:ff`; absent: derived from the address as Docker does (02:42:a.b.c.d).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The container's IPv6 address and prefix on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address6: Option<(std::net::Ipv6Addr, u8)>,
    /// The IPv6 default route's next hop (as `gateway`, for IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<std::net::Ipv6Addr>,
    /// The network has IPv6: both veth ends get the kernel's link-local address (and DAD)
    /// when they come up. Off (the default), they get no IPv6 address at all, which keeps
    /// the kernel's address configuration off the start path.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ipv6: bool,
    /// The bridge's interface index, as the daemon found it when it made or restored the
    /// bridge: saves the shim a lookup, and tells it whether a spare's veth is on it already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_index: Option<u32>,
}

/// A host device given to the container: its node is made at `path` with the host node's
/// type and numbers, and the cgroup allows it with `access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceConfig {
    /// Device node on the host (stat'ed at start; a symlink is followed).
    pub host_path: String,
    /// Absolute path inside the container.
    pub path: String,
    /// cgroup permissions, letters from `rwm`.
    pub access: String,
}

/// The container's log: docker json-file lines in `container.log`, rotated by size.
/// Unset sizes are the daemon's defaults, which it fills in before the start (`[log]` in
/// rstack.toml); a shim that still finds them unset uses `log_rotate`'s built-in defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// `logging.driver: none`: output is discarded, nothing is written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// Bytes a file may reach before it is rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Files kept in all, the one being written included (Docker's `max-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file: Option<u32>,
}

impl LogConfig {
    pub fn is_default(&self) -> bool {
        *self == LogConfig::default()
    }
}

/// Which seccomp profile a container runs under (`security_opt: seccomp=...`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seccomp {
    /// Docker's default profile.
    #[default]
    Default,
    /// No filter.
    Unconfined,
    /// A profile in Docker's JSON format, as text.
    Profile(String),
}

impl Seccomp {
    pub fn is_default(&self) -> bool {
        *self == Seccomp::Default
    }
}

/// Overlay root: image layers below (topmost first), the container's own upper/work dirs.
/// Where the writable layer's directories sit in a state directory: `plan` lays every
/// container out so, and `spare_dir` makes them ahead.
pub const ROOT_DIRS: RootDirs = RootDirs {
    upper: "upper",
    work: "work",
    merged: "rootfs",
};

pub struct RootDirs {
    pub upper: &'static str,
    pub work: &'static str,
    pub merged: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootConfig {
    /// Lower directories, topmost layer first (overlayfs `lowerdir` order).
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the overlay is mounted on the host before pivot_root.
    pub merged: PathBuf,
    pub readonly: bool,
    /// The writable layer goes with the container (`run --rm`): overlayfs's `volatile`
    /// skips syncing it to disk, which otherwise flushes the disk at every unmount.
    #[serde(default)]
    pub volatile: bool,
}

impl RootConfig {
    /// Whether the writable layer's directories are laid out in `dir` as `ROOT_DIRS` says.
    pub fn is_laid_out_in(&self, dir: &std::path::Path) -> bool {
        self.upper == dir.join(ROOT_DIRS.upper)
            && self.work == dir.join(ROOT_DIRS.work)
            && self.merged == dir.join(ROOT_DIRS.merged)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessConfig {
    /// argv; args[0] is looked up in the container's PATH when it has no '/'.
    pub args: Vec<String>,
    /// "KEY=VALUE" entries.
    pub env: Vec<String>,
    /// Absolute working directory inside the container.
    pub cwd: String,
    /// `user:` as written ("name", "uid", "uid:gid", "name:group"); resolved against the
    /// container's /etc/passwd and /etc/group.
    pub user: Option<String>,
    /// Capability names ("CAP_CHOWN", ...) kept in bounding, effective, permitted sets.
    pub capabilities: Vec<String>,
    pub no_new_privileges: bool,
    pub rlimits: Vec<Rlimit>,
    /// Connect the process's stdin to `state_dir/stdin.fifo` (which the daemon creates and
    /// writes, e.g. for `run`); otherwise stdin is /dev/null.
    #[serde(default)]
    pub stdin: bool,
    /// Give the process a terminal of (rows, columns), created in the container's devpts;
    /// its output is then logged as stdout, and stdin (if any) is typed into it.
    #[serde(default)]
    pub tty: Option<(u16, u16)>,
    /// `stdin_open`/`tty` of a service (`rstack attach`): the shim itself holds a writer on
    /// its stdin and resize FIFOs, so that attaches come and go (and the daemon restarts)
    /// without the process ever seeing EOF on its stdin.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attachable: bool,
    /// Supplementary groups added to the user's (`group_add`): names resolved in the
    /// container's /etc/group, or numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// "RLIMIT_NOFILE", ...
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
    /// Set as given (`ulimits:`), never lowered to the caller's hard limit: a hard limit
    /// above it fails the start with an error that says so. Docker's defaults are clamped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountConfig {
    /// Absolute path inside the container.
    pub destination: String,
    /// "tmpfs", "bind", ...
    pub kind: String,
    /// Host path for binds; fs name otherwise.
    pub source: String,
    /// mount(8)-style options: "ro", "nosuid", "size=65536k", "mode=1777", "rbind", ...
    pub options: Vec<String>,
    /// A bind whose missing host directory the daemon creates before the start (Compose's
    /// `create_host_path`, on by default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_source: bool,
    /// A named or anonymous volume: the daemon creates (and seeds) it before the start and
    /// hands the runtime a bind of its directory (or its tmpfs) instead. The runtime itself
    /// never sees a mount with this set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeSource>,
    /// A bind of a volume made just now: before the bind, the runtime copies what the image
    /// has at `destination` into `source`, as Docker seeds a new volume.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seed: bool,
    /// A secret or config: the daemon writes this content to `source` (in the container's
    /// own directory) before the start, then the runtime binds it like any file. The config
    /// the shim reads never carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileSource>,
}

/// The content of a file a mount binds (`MountConfig::file`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileSource {
    /// Hex in JSON.
    #[serde(with = "hex_bytes", skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// `Vec<u8>` as a hex string.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

/// A volume a mount is made from (`MountConfig::volume`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeSource {
    /// The volume's full name (`<project>_<key>`, `name:`, or a hash for anonymous ones).
    pub name: String,
    /// Made for this container alone; removed with it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// Must exist already; never created nor removed by rstack.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// Not seeded from the image's content at the target (`volume.nocopy`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nocopy: bool,
    /// The project whose stack declares it (empty for `volume create` and anonymous ones).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The local driver's `type`, `o`, `device`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub driver_opts: std::collections::BTreeMap<String, String>,
}

/// Limits applied through cgroups; `None` leaves a controller untouched (and, on v1, the
/// hierarchy unvisited: there are 8 of them here and each mkdir costs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceConfig {
    /// memory.limit_in_bytes / memory.max, bytes.
    pub memory: Option<u64>,
    /// CPU quota in microseconds per `cpu_period`.
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    /// pids.max.
    pub pids: Option<i64>,
    /// Soft limit, bytes: v1 memory.soft_limit_in_bytes, v2 memory.low (as runc maps
    /// Docker's MemoryReservation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
}

/// Written by the shim to `exit.json` when the container's init exits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Shell convention: the exit code, or 128 + signal number when killed.
    pub code: i32,
    /// Signal that killed init, if any.
    pub signal: Option<i32>,
    /// The cgroup recorded an OOM kill while this container ran.
    pub oom_killed: bool,
    /// Unix time in milliseconds.
    pub finished_at_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_standard_layout_is_recognized() {
        let dir = Path::new("/d/containers/abc");
        let mut root = RootConfig {
            layers: vec![],
            upper: dir.join("upper"),
            work: dir.join("work"),
            merged: dir.join("rootfs"),
            readonly: false,
            volatile: false,
        };
        assert!(root.is_laid_out_in(dir));
        assert!(!root.is_laid_out_in(Path::new("/d/containers/other")));
        root.work = PathBuf::from("/elsewhere/work");
        assert!(!root.is_laid_out_in(dir));
    }
}
