//! Named and anonymous volumes of the `local` driver: one directory per volume under
//! `<data_root>/volumes/<name>/`, holding `_data` (the content, as Docker lays it out) and
//! `volume.json` (its record: labels, driver options, the project that made it). The records
//! are the files themselves, so `volume ls` after a restart reads what is on disk.
//!
//! Before a container starts, `prepare` turns each mount that names a volume into what the
//! runtime mounts: a bind of `_data`, a bind of the `device` a `driver_opts` bind names, or a
//! tmpfs. A volume is created on first use: made in a temporary directory and renamed into
//! place, so a half-made volume is never listed; a new one asks the runtime to seed it from
//! the image's content at the target (`MountConfig::seed`), as Docker does.

use crate::runtime::config::{ContainerConfig, MountConfig, VolumeSource};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const RECORD: &str = "volume.json";
const DATA: &str = "_data";

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("no such volume: {0}")]
    NotFound(String),
    #[error("external volume \"{0}\" not found: create it first with `rstack volume create {0}`")]
    ExternalMissing(String),
    #[error("volume \"{name}\" is in use by container {containers}: remove the container first")]
    InUse { name: String, containers: String },
    #[error("volume \"{0}\" already exists")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError {
    let path = path.to_path_buf();
    move |source| VolumeError::Io { what, path, source }
}

/// What `volume.json` holds (and `volume inspect` shows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeRecord {
    pub name: String,
    /// Seconds since the epoch.
    pub created: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
}

/// The volumes directory of a data root.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    root: PathBuf,
}

impl VolumeStore {
    /// Opens the directory, removing what a creation cut short left (the daemon holds the
    /// data root's lock: no other creation runs).
    pub fn open(root: &Path) -> Result<VolumeStore, VolumeError> {
        std::fs::create_dir_all(root).map_err(io("creating", root))?;
        for e in std::fs::read_dir(root)
            .map_err(io("reading", root))?
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with(".new-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        Ok(VolumeStore {
            root: root.to_path_buf(),
        })
    }

    /// Where a volume's content lives.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.root.join(name).join(DATA)
    }

    pub fn get(&self, name: &str) -> Result<Option<VolumeRecord>, VolumeError> {
        check_name(name)?;
        let p = self.root.join(name).join(RECORD);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| VolumeError::Invalid(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &p)(e)),
        }
    }

    /// Every volume, by name. Leftover temporary directories are not volumes.
    pub fn list(&self) -> Result<Vec<VolumeRecord>, VolumeError> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.root).map_err(io("reading", &self.root))? {
            let e = e.map_err(io("reading", &self.root))?;
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            if let Ok(Some(r)) = self.get(&name) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates a volume. Returns `false` (and changes nothing) when it exists already.
    pub fn create(&self, rec: &VolumeRecord) -> Result<bool, VolumeError> {
        check_name(&rec.name)?;
        let dest = self.root.join(&rec.name);
        if dest.join(RECORD).exists() {
            return Ok(false);
        }
        let tmp = self
            .root
            .join(format!(".new-{}-{}", rec.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let made = (|| {
            let data = tmp.join(DATA);
            std::fs::create_dir_all(&data).map_err(io("creating", &data))?;
            let text =
                serde_json::to_vec_pretty(rec).map_err(|e| VolumeError::Invalid(e.to_string()))?;
            std::fs::write(tmp.join(RECORD), text).map_err(io("writing", &tmp))?;
            std::fs::rename(&tmp, &dest).map_err(io("creating", &dest))
        })();
        if made.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
            // Made meanwhile by someone else: that one is the volume.
            if dest.join(RECORD).exists() {
                return Ok(false);
            }
        }
        made.map(|()| true)
    }

    /// Removes a volume and its content (a `driver_opts` device is left alone: only its
    /// record is here).
    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        if self.get(name)?.is_none() {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let dir = self.root.join(name);
        // The record goes first: a removal cut short leaves no half volume listed.
        std::fs::remove_file(dir.join(RECORD)).map_err(io("removing", &dir))?;
        std::fs::remove_dir_all(&dir).map_err(io("removing", &dir))
    }

    /// The config the runtime gets: every volume mount resolved (volumes created on first
    /// use) and every missing bind source that may be created, created.
    pub fn prepare(&self, cfg: &ContainerConfig) -> Result<ContainerConfig, VolumeError> {
        let mut out = cfg.clone();
        for m in out.mounts.iter_mut() {
            if m.create_source && !Path::new(&m.source).exists() {
                // Compose creates a missing bind source as a directory.
                std::fs::create_dir_all(&m.source).map_err(io("creating", Path::new(&m.source)))?;
            }
            if let Some(v) = m.volume.take() {
                self.resolve(m, &v)?;
            }
        }
        Ok(out)
    }

    fn resolve(&self, m: &mut MountConfig, v: &VolumeSource) -> Result<(), VolumeError> {
        let existing = self.get(&v.name)?;
        let rec = match existing {
            Some(r) => r,
            None if v.external => return Err(VolumeError::ExternalMissing(v.name.clone())),
            None => {
                let rec = VolumeRecord {
                    name: v.name.clone(),
                    created: now(),
                    project: v.project.clone(),
                    anonymous: v.anonymous,
                    labels: v.labels.clone(),
                    driver_opts: v.driver_opts.clone(),
                };
                let created = self.create(&rec)?;
                // Seeded by the runtime, from the container's own view of the image.
                m.seed = created && !v.nocopy && !is_special(&rec);
                rec
            }
        };
        let opts = &rec.driver_opts;
        match opts.get("type").map(String::as_str) {
            Some("tmpfs") => {
                m.kind = "tmpfs".into();
                m.source = "tmpfs".into();
                m.options.retain(|o| o != "rbind");
                m.options.extend(
                    opts.get("o")
                        .map(|o| o.split(',').map(str::to_string).collect::<Vec<_>>())
                        .unwrap_or_default(),
                );
                m.seed = false;
            }
            _ if opts.contains_key("device") => {
                m.source = opts.get("device").cloned().unwrap_or_default();
                m.seed = false;
            }
            _ => m.source = self.data_dir(&rec.name).display().to_string(),
        }
        Ok(())
    }

    /// The anonymous volumes a container's config names (removed with the container).
    pub fn anonymous_of(cfg: &ContainerConfig) -> Vec<String> {
        cfg.mounts
            .iter()
            .filter_map(|m| m.volume.as_ref())
            .filter(|v| v.anonymous)
            .map(|v| v.name.clone())
            .collect()
    }

    /// Every volume a container's config names.
    pub fn names_of(cfg: &ContainerConfig) -> Vec<String> {
        cfg.mounts
            .iter()
            .filter_map(|m| m.volume.as_ref())
            .map(|v| v.name.clone())
            .collect()
    }
}

fn is_special(r: &VolumeRecord) -> bool {
    !r.driver_opts.is_empty()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Docker's rule for volume names (a `/` would leave the volumes directory).
pub fn check_name(name: &str) -> Result<(), VolumeError> {
    crate::model::check_volume_name(name).map_err(VolumeError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rstack-vol-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn create_list_remove() {
        let d = tmp("clr");
        let s = VolumeStore::open(&d).expect("open");
        let rec = VolumeRecord {
            name: "p_db".into(),
            project: "p".into(),
            ..Default::default()
        };
        assert!(s.create(&rec).expect("create"));
        assert!(!s.create(&rec).expect("again"));
        assert!(s.data_dir("p_db").is_dir());
        assert_eq!(s.list().expect("list")[0].project, "p");
        assert!(s.get("a/b").is_err());
        s.remove("p_db").expect("rm");
        assert!(s.list().expect("list").is_empty());
        assert!(matches!(s.remove("p_db"), Err(VolumeError::NotFound(_))));
        std::fs::remove_dir_all(&d).expect("cleanup");
    }
}
