//! A service's `volumes:` entries (bind mounts, named and anonymous volumes, tmpfs), as the
//! stack file says them once validated: host paths absolute, named volumes resolved to their
//! full name (`<project>_<key>` or `name:`) with the top-level definition they are made from.

use super::defaults::is_default;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// What a `volumes:` entry mounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountKind {
    /// A host path (`./data:/data`, `type: bind`).
    #[default]
    Bind,
    /// A named volume (`db:/var/lib/db`) or, with no source, an anonymous one (`/cache`).
    Volume,
    /// A fresh tmpfs at each start (`type: tmpfs`).
    Tmpfs,
}

/// One `volumes:` entry of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeMount {
    #[serde(rename = "type", skip_serializing_if = "is_default")]
    pub kind: MountKind,
    /// Bind: the absolute host path. Volume: the volume's full name; empty for an anonymous
    /// volume. Tmpfs: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Absolute path inside the container.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "is_default")]
    pub read_only: bool,
    /// Bind: `bind.create_host_path: false` (a missing host path is an error, not created).
    #[serde(skip_serializing_if = "is_default")]
    pub no_create_host_path: bool,
    /// Bind: `bind.propagation` as written (`rprivate` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// Tmpfs: `tmpfs.size` in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Tmpfs: `tmpfs.mode`, e.g. 0o1777.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Volume: `volume.nocopy` (a new volume is not seeded from the image).
    #[serde(skip_serializing_if = "is_default")]
    pub nocopy: bool,
    /// Volume: the top-level definition it is created from (`None` for anonymous ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeDef>,
}

/// A top-level `volumes:` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeDef {
    /// The project that declares it (recorded on the volume, so `down -v` finds it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// `external: true`: must exist already; never created nor removed by rstack.
    #[serde(skip_serializing_if = "is_default")]
    pub external: bool,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// `driver_opts` of the `local` driver: `type`, `o`, `device`.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn check_volume_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid volume name \"{name}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_follow_docker() {
        assert!(check_volume_name("proj_data").is_ok());
        assert!(check_volume_name("a.b-c").is_ok());
        assert!(check_volume_name("a/b").is_err());
        assert!(check_volume_name("_x").is_err());
        assert!(check_volume_name("x").is_err());
        assert!(check_volume_name("").is_err());
    }
}
