//! Daemon settings: config/rstack.toml, overridden by command-line flags.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_DATA_ROOT: &str = "/var/lib/rstack";
pub const DEFAULT_SOCKET: &str = "/run/rstack/rstack.sock";
/// Read when no --config is given and the file exists.
pub const SYSTEM_CONFIG: &str = "/etc/rstack/rstack.toml";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    pub data_root: PathBuf,
    pub socket: PathBuf,
    pub socket_group: String,
    /// Remount the host's cgroup2 hierarchy with `favordynmods` at start (host-wide).
    pub cgroup_favordynmods: bool,
    /// Most bytes the layers of one imported image may unpack to ("20GiB", Docker units).
    pub image_max_unpacked: String,
    /// Most API connections open at once; at the cap the oldest idle one is closed.
    pub max_connections: usize,
    /// How long a client may take to send a request's header ("10s", Go duration syntax);
    /// also how long an idle keep-alive connection is kept.
    pub header_read_timeout: String,
    /// Containers' log rotation unless a service's `logging.options` says otherwise.
    pub log: LogDefaults,
    /// `[registry]`: docker.io mirrors and registries reached over plain HTTP.
    pub registry: RegistryConfig,
    /// `[network]`: where new networks' subnets come from.
    pub network: NetworkConfig,
    /// `[sync]`: Git credentials and the webhook listener of sync sources.
    pub sync: super::sync::SyncConfig,
}

/// `[network]`: Docker's `default-address-pools`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// `{ base = "10.89.0.0/16", size = 24 }`: blocks of `/size` cut from `base`, tried in
    /// order; empty: rstack's default (10.89.0.0/16 in /24s).
    pub address_pools: Vec<PoolConfig>,
    /// The same for the IPv6 subnets of dual-stack networks (`enable_ipv6: true`):
    /// `{ base = "fd52:5354:4b00::/48", size = 64 }`; empty: that ULA /48 in /64s.
    pub address_pools6: Vec<PoolConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    pub base: String,
    pub size: u8,
}

impl NetworkConfig {
    /// The pools, checked.
    pub fn pools(&self) -> Result<Vec<crate::network::ipam::Pool>, String> {
        if self.address_pools.is_empty() {
            return Ok(crate::network::ipam::default_pools());
        }
        self.address_pools
            .iter()
            .map(|p| {
                let base: crate::network::nft::Ipv4Net = p
                    .base
                    .parse()
                    .map_err(|_| format!("[network] address_pools: base {:?} is not an IPv4 subnet like 10.89.0.0/16", p.base))?;
                if p.size < base.prefix || p.size > 30 {
                    return Err(format!(
                        "[network] address_pools: size {} must be between {} (the base's prefix) and 30",
                        p.size, base.prefix
                    ));
                }
                Ok(crate::network::ipam::Pool { base, size: p.size })
            })
            .collect()
    }
}

impl NetworkConfig {
    /// The IPv6 pools, checked.
    pub fn pools6(&self) -> Result<Vec<crate::network::ipam6::Pool6>, String> {
        if self.address_pools6.is_empty() {
            return Ok(crate::network::ipam6::default_pools());
        }
        self.address_pools6
            .iter()
            .map(|p| {
                let base: crate::network::ipam6::Ipv6Net = p.base.parse().map_err(|e| {
                    format!("[network] address_pools6: base {e}")
                })?;
                if p.size < base.prefix || p.size > 120 {
                    return Err(format!(
                        "[network] address_pools6: size {} must be between {} (the base's prefix) and 120",
                        p.size, base.prefix
                    ));
                }
                Ok(crate::network::ipam6::Pool6 { base, size: p.size })
            })
            .collect()
    }
}

/// `[registry]`: Docker's `registry-mirrors` and `insecure-registries`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Mirrors of docker.io (`http://host:port`, `https://host`), tried in order before it.
    pub mirrors: Vec<String>,
    /// `host[:port]` of registries reached over plain HTTP (127.0.0.0/8 always is).
    pub insecure: Vec<String>,
}

impl RegistryConfig {
    /// The settings the registry client uses.
    pub fn settings(&self) -> crate::image::registry::Settings {
        crate::image::registry::Settings {
            mirrors: self.mirrors.clone(),
            insecure: self.insecure.clone(),
        }
    }
}

/// `[log]`: the rotation every container's log gets by default (Docker's `local` driver's).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogDefaults {
    /// Bytes per file (a number, or a string such as "20m" in Docker's decimal units);
    /// 0: never rotate.
    #[serde(deserialize_with = "size")]
    pub max_size: u64,
    /// Files kept per container, the one being written included.
    pub max_file: u32,
}

impl Default for LogDefaults {
    fn default() -> Self {
        LogDefaults {
            max_size: crate::runtime::log_rotate::DEFAULT_MAX_SIZE,
            max_file: crate::runtime::log_rotate::DEFAULT_MAX_FILE,
        }
    }
}

fn size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(b) => Ok(b),
        Size::Text(t) => crate::spec::human_size(&t).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid size \"{t}\": use a number of bytes or e.g. \"20m\""
            ))
        }),
    }
}

/// The default `max_connections`: far above what the CLI uses (one per command, plus one
/// per `logs -f`, attached `up` or `exec`), far below the daemon's file descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
pub const DEFAULT_HEADER_READ_TIMEOUT: &str = "10s";
pub const DEFAULT_IMAGE_MAX_UNPACKED: &str = "20GiB";

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            data_root: DEFAULT_DATA_ROOT.into(),
            socket: DEFAULT_SOCKET.into(),
            socket_group: String::new(),
            cgroup_favordynmods: false,
            image_max_unpacked: DEFAULT_IMAGE_MAX_UNPACKED.into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT.into(),
            log: LogDefaults::default(),
            registry: RegistryConfig::default(),
            network: NetworkConfig::default(),
            sync: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading daemon config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("daemon config {path}: {message}")]
    Parse { path: String, message: String },
}

impl DaemonConfig {
    /// Loads `path`, or the system config if present, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<DaemonConfig, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(SYSTEM_CONFIG).exists() => PathBuf::from(SYSTEM_CONFIG),
            None => return Ok(DaemonConfig::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<DaemonConfig, String> {
        let cfg: DaemonConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let bound = crate::runtime::log_rotate::MAX_FILES;
        if !(1..=bound).contains(&cfg.log.max_file) {
            return Err(format!(
                "log.max_file = {}: must be from 1 to {bound}",
                cfg.log.max_file
            ));
        }
        cfg.image_max_unpacked()?;
        cfg.header_read_timeout()?;
        cfg.sync.check()?;
        for m in &cfg.registry.mirrors {
            if !(m.starts_with("http://") || m.starts_with("https://")) {
                return Err(format!(
                    "registry.mirrors: \"{m}\" must be a URL such as \"http://127.0.0.1:5000\""
                ));
            }
        }
        if cfg.max_connections < 2 {
            return Err("max_connections must be at least 2".into());
        }
        Ok(cfg)
    }

    /// `image_max_unpacked` in bytes.
    pub fn image_max_unpacked(&self) -> Result<u64, String> {
        crate::model::units::parse_size(&self.image_max_unpacked)
            .map_err(|e| format!("image_max_unpacked: {e}"))
    }

    /// `header_read_timeout` as a duration (at least 1 ms).
    pub fn header_read_timeout(&self) -> Result<std::time::Duration, String> {
        match crate::model::units::parse_duration(&self.header_read_timeout) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err("header_read_timeout must be longer than 0".into()),
            Err(e) => Err(format!("header_read_timeout: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_to_defaults() {
        let text = include_str!("../../config/rstack.toml");
        assert_eq!(
            DaemonConfig::parse(text).expect("parse"),
            DaemonConfig::default()
        );
    }

    #[test]
    fn ipv6_pools_parse_and_are_checked() {
        let c = DaemonConfig::parse(
            "[network]\naddress_pools6 = [{ base = \"fd99::/56\", size = 64 }]",
        )
        .expect("parse");
        let pools = c.network.pools6().expect("pools");
        assert_eq!(pools[0].base.to_string(), "fd99::/56");
        assert_eq!(pools[0].size, 64);
        assert_eq!(
            DaemonConfig::default().network.pools6(),
            Ok(crate::network::ipam6::default_pools())
        );
        for bad in [
            "[network]\naddress_pools6 = [{ base = \"10.0.0.0/8\", size = 64 }]",
            "[network]\naddress_pools6 = [{ base = \"fd99::/56\", size = 48 }]",
        ] {
            let c = DaemonConfig::parse(bad).expect("parse");
            assert!(c.network.pools6().is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_parse_with_units() {
        let c = DaemonConfig::parse(
            "image_max_unpacked = \"1m\"\nmax_connections = 8\nheader_read_timeout = \"300ms\"",
        )
        .expect("parse");
        assert_eq!(c.image_max_unpacked(), Ok(1 << 20));
        assert_eq!(
            c.header_read_timeout(),
            Ok(std::time::Duration::from_millis(300))
        );
        assert!(DaemonConfig::parse("image_max_unpacked = \"lots\"").is_err());
        assert!(DaemonConfig::parse("header_read_timeout = \"0s\"").is_err());
        assert!(DaemonConfig::parse("max_connections = 1").is_err());
    }

    #[test]
    fn log_rotation_settings() {
        let c = DaemonConfig::parse("[log]\nmax_size = \"10m\"\nmax_file = 3").expect("parse");
        assert_eq!(c.log.max_size, 10_000_000);
        assert_eq!(c.log.max_file, 3);
        let c = DaemonConfig::parse("[log]\nmax_size = 4096").expect("parse");
        assert_eq!((c.log.max_size, c.log.max_file), (4096, 5));
        for bad in [
            "[log]\nmax_size = \"lots\"",
            "[log]\nmax_file = 0",
            "[log]\nmax_fil = 2",
        ] {
            assert!(DaemonConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_settings() {
        let c = DaemonConfig::parse(
            "[registry]\nmirrors = [\"http://127.0.0.1:5000\"]\ninsecure = [\"reg:5000\"]",
        )
        .expect("parse");
        assert_eq!(c.registry.mirrors, ["http://127.0.0.1:5000"]);
        assert_eq!(c.registry.insecure, ["reg:5000"]);
        assert!(DaemonConfig::parse("[registry]\nmirrors = [\"127.0.0.1:5000\"]").is_err());
        assert!(DaemonConfig::parse("[registry]\nmirror = []").is_err());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = DaemonConfig::parse("data_rot = \"/x\"").unwrap_err();
        assert!(err.contains("data_rot"), "{err}");
    }
}
