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
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            data_root: DEFAULT_DATA_ROOT.into(),
            socket: DEFAULT_SOCKET.into(),
            socket_group: String::new(),
            cgroup_favordynmods: false,
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
        toml::from_str(text).map_err(|e| e.to_string())
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
    fn unknown_keys_are_rejected() {
        let err = DaemonConfig::parse("data_rot = \"/x\"").unwrap_err();
        assert!(err.contains("data_rot"), "{err}");
    }
}
