//! What builds need of the store: a stored image's config and layers as a base, new layers
//! made from a directory (a RUN's upper, a COPY's files), the built image committed under its
//! tags, and the build cache's records, which keep their layers from garbage collection.
//!
//! A build holds the shared GC lock for its whole run (`BuildSession`), as a pull does, so a
//! layer it found or made is not collected before its commit. A new layer's directory is
//! already in the store's (overlay) form: it is written once as a tar (blob and diff_id) and
//! then renamed into `layers/`, never extracted.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ImageError, io_err, json_err};
use super::fsutil::{FileLock, TempDir, atomic_write, sha256_hex, syncfs};
use super::layer_write::write_layer_tar;
use super::oci::{Descriptor, MT_CONFIG, MT_LAYER_TAR, MT_MANIFEST, Manifest, REF_NAME, sha256_of};
use super::reference::Reference;
use super::store::{GC_LOCK, INDEX_LOCK, ImageInfo, ImageStore, NONE_REFERENCE, UNPACKED_SIZE};
use super::tags;

const CACHE_DIR: &str = "build-cache";

/// One layer of an image, as its manifest and config name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerDesc {
    /// `sha256:<hex>` of the blob.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of the blob.
    pub size: u64,
    pub media_type: String,
    /// Bytes of its files, unpacked.
    #[serde(default)]
    pub unpacked: u64,
}

/// A stored image as a build starts from it.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// `sha256:<hex>` of its config.
    pub id: String,
    /// The whole config document (unknown fields kept).
    pub config: serde_json::Value,
    /// Bottom layer first.
    pub layers: Vec<LayerDesc>,
    /// Bytes of its layers' files.
    pub unpacked: u64,
}

/// The state after a cached build step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheRecord {
    pub config: serde_json::Value,
    pub layers: Vec<LayerDesc>,
}

/// A build in progress: the shared GC lock and a staging directory in the store.
pub struct BuildSession {
    staging: TempDir,
    _gc: FileLock,
}

impl BuildSession {
    /// A directory on the store's filesystem for the build's scratch files: a layer made
    /// here is renamed into the store.
    pub fn staging(&self) -> &Path {
        self.staging.path()
    }
}

impl ImageStore {
    /// Starts a build (see the module's note on locking).
    pub fn begin_build(&self) -> Result<BuildSession, ImageError> {
        let gc = self.lock(GC_LOCK, false)?;
        let staging = TempDir::create(&self.tmp_dir(), "build")?;
        Ok(BuildSession { staging, _gc: gc })
    }

    /// The extracted directory of the layer with `diff_id` (`sha256:<hex>`).
    pub fn layer_dir(&self, diff_id: &str) -> Result<PathBuf, ImageError> {
        let hex = sha256_of(diff_id).ok_or_else(|| ImageError::Corrupt {
            reason: format!("bad diff_id {diff_id}"),
        })?;
        Ok(self.layer_path(hex))
    }

    /// The config and layers of a stored image.
    pub fn stored_image(&self, reference: &str) -> Result<StoredImage, ImageError> {
        let index = self.read_index()?;
        let found = self.lookup(&index, reference)?;
        let desc = found
            .first()
            .and_then(|(i, _)| index.manifests.get(*i))
            .ok_or_else(|| ImageError::NotFound {
                reference: reference.to_string(),
            })?;
        let loaded = self.load(&desc.digest)?;
        let config_bytes = fs::read(self.blob_path(&loaded.config_hex))
            .map_err(io_err(format!("reading config of {reference}")))?;
        let config: serde_json::Value =
            serde_json::from_slice(&config_bytes).map_err(json_err("parsing image config"))?;
        let diff_ids = &loaded.config.rootfs.diff_ids;
        if diff_ids.len() != loaded.manifest.layers.len() {
            return Err(ImageError::Corrupt {
                reason: format!(
                    "{reference}: the config names {} layers, the manifest {}",
                    diff_ids.len(),
                    loaded.manifest.layers.len()
                ),
            });
        }
        let mut layers = Vec::new();
        for (d, diff) in loaded.manifest.layers.iter().zip(diff_ids) {
            layers.push(LayerDesc {
                digest: d.digest.clone(),
                diff_id: diff.clone(),
                size: d.size,
                media_type: d.media_type.clone(),
                unpacked: 0,
            });
        }
        let unpacked = desc
            .annotations
            .get(UNPACKED_SIZE)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(StoredImage {
            id: format!("sha256:{}", loaded.config_hex),
            config,
            layers,
            unpacked,
        })
    }

    /// Makes the layer directory `dir` (in the store's form, on the store's filesystem) a
    /// layer of the store: writes its tar as a blob and moves it into `layers/`. `None` for
    /// an empty directory (the step changed no file).
    pub fn add_layer(
        &self,
        session: &BuildSession,
        dir: &Path,
    ) -> Result<Option<LayerDesc>, ImageError> {
        let blob = session.staging().join(super::fsutil::unique_name("blob"));
        let w = write_layer_tar(dir, &blob)
            .map_err(io_err(format!("writing the layer of {}", dir.display())))?;
        if w.empty {
            let _ = fs::remove_file(&blob);
            return Ok(None);
        }
        let dest = self.layer_path(&w.digest);
        let blob_dest = self.blob_path(&w.digest);
        // Recorded as not yet on disk before it is in place, where a pull may use it long
        // before the build's commit syncs (`durable.rs`).
        let mut record = super::store::Record::default();
        if !dest.is_dir() {
            record.layers.push((w.digest.clone(), w.digest.clone()));
        } else if !blob_dest.exists() {
            record.blobs.push(w.digest.clone());
        }
        let record = self.record_unsynced(record)?;
        let placed = (|| -> Result<(), ImageError> {
            if dest.is_dir() {
                // The same content is a layer already (an identical step elsewhere).
                let _ = super::fsutil::remove_tree(dir);
            } else {
                fs::rename(dir, &dest)
                    .map_err(io_err(format!("storing layer {}", dest.display())))?;
            }
            if blob_dest.exists() {
                let _ = fs::remove_file(&blob);
            } else {
                fs::rename(&blob, &blob_dest)
                    .map_err(io_err(format!("storing blob {}", blob_dest.display())))?;
            }
            Ok(())
        })();
        if let Some(record) = record {
            self.settle_later(record);
        }
        placed?;
        Ok(Some(LayerDesc {
            digest: format!("sha256:{}", w.digest),
            diff_id: format!("sha256:{}", w.digest),
            size: w.size,
            media_type: MT_LAYER_TAR.to_string(),
            unpacked: w.unpacked,
        }))
    }

    /// Commits a built image: its config (whose `rootfs.diff_ids` must name `layers`) and a
    /// manifest, tagged with each of `tags`. Returns the image as listed under the first tag.
    /// A tag that already names this very image is left as it is.
    pub fn commit_built(
        &self,
        session: BuildSession,
        config: &serde_json::Value,
        layers: &[LayerDesc],
        unpacked: u64,
        tags: &[String],
    ) -> Result<ImageInfo, ImageError> {
        let mut keys = Vec::new();
        for t in tags {
            let r = Reference::parse(t)?;
            if r.digest.is_some() {
                return Err(ImageError::InvalidReference {
                    reference: t.clone(),
                    reason: "an image is tagged with a tag, not a digest".to_string(),
                });
            }
            keys.push(r.familiar());
        }
        let config_bytes =
            serde_json::to_vec(config).map_err(json_err("serializing image config"))?;
        let config_hex = sha256_hex(&config_bytes);
        let mut descs = Vec::new();
        for l in layers {
            let hex = sha256_of(&l.digest).ok_or_else(|| ImageError::Corrupt {
                reason: format!("bad layer digest {}", l.digest),
            })?;
            if !self.blob_path(hex).is_file() {
                return Err(ImageError::Corrupt {
                    reason: format!("layer blob {} is missing", l.digest),
                });
            }
            descs.push(Descriptor {
                media_type: l.media_type.clone(),
                digest: l.digest.clone(),
                size: l.size,
                annotations: BTreeMap::new(),
                platform: None,
            });
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: MT_MANIFEST.to_string(),
            config: Descriptor {
                media_type: MT_CONFIG.to_string(),
                digest: format!("sha256:{config_hex}"),
                size: config_bytes.len() as u64,
                annotations: BTreeMap::new(),
                platform: None,
            },
            layers: descs,
        };
        let manifest_bytes =
            serde_json::to_vec(&manifest).map_err(json_err("serializing manifest"))?;
        let manifest_hex = sha256_hex(&manifest_bytes);
        let created = config
            .get("created")
            .and_then(|c| c.as_str())
            .map(str::to_string);
        let info = |reference: &str| ImageInfo {
            reference: reference.to_string(),
            id: format!("sha256:{config_hex}"),
            digest: format!("sha256:{manifest_hex}"),
            size: unpacked,
            compressed_size: layers.iter().map(|l| l.size).sum(),
            created: created.clone(),
        };
        let first = keys
            .first()
            .cloned()
            .unwrap_or_else(|| NONE_REFERENCE.to_string());
        {
            let index = self.read_index()?;
            let same = !keys.is_empty()
                && keys.iter().all(|k| {
                    index.manifests.iter().any(|d| {
                        d.annotations.get(REF_NAME) == Some(k)
                            && d.digest == format!("sha256:{manifest_hex}")
                    })
                });
            if same {
                drop(session);
                return Ok(info(&first));
            }
        }
        for (bytes, hex) in [
            (&config_bytes, &config_hex),
            (&manifest_bytes, &manifest_hex),
        ] {
            let p = self.blob_path(hex);
            if !p.exists() {
                atomic_write(&p, bytes)?;
            }
        }
        syncfs(self.root()).map_err(io_err("syncing image store"))?;
        {
            let _index = self.lock(INDEX_LOCK, true)?;
            let mut index = self.read_index()?;
            let mut annotations = BTreeMap::new();
            annotations.insert(UNPACKED_SIZE.to_string(), unpacked.to_string());
            let desc = Descriptor {
                media_type: MT_MANIFEST.to_string(),
                digest: format!("sha256:{manifest_hex}"),
                size: manifest_bytes.len() as u64,
                annotations,
                platform: None,
            };
            // The image a tag named before stays, untagged (as Docker keeps it); a build
            // without a tag is kept untagged too, found by its id.
            for key in &keys {
                tags::set_tag(&mut index, key, &desc);
            }
            if keys.is_empty() {
                tags::keep_untagged(&mut index, desc);
            }
            self.write_index(&index)?;
        }
        drop(session);
        Ok(info(&first))
    }

    /// The state a build step with cache key `key` (hex) left, if recorded and all its
    /// layers are still in the store.
    pub fn cache_get(&self, key: &str) -> Option<CacheRecord> {
        let bytes = fs::read(self.root().join(CACHE_DIR).join(key)).ok()?;
        let rec: CacheRecord = serde_json::from_slice(&bytes).ok()?;
        let present = rec.layers.iter().all(|l| {
            sha256_of(&l.digest).is_some_and(|h| self.blob_path(h).is_file())
                && sha256_of(&l.diff_id).is_some_and(|h| self.layer_path(h).is_dir())
        });
        present.then_some(rec)
    }

    /// Records the state a build step left.
    pub fn cache_put(&self, key: &str, rec: &CacheRecord) -> Result<(), ImageError> {
        let dir = self.root().join(CACHE_DIR);
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let bytes = serde_json::to_vec(rec).map_err(json_err("serializing a cache record"))?;
        // Not synced: a record lost in a crash is a cache miss, and one cut short does not
        // parse (also a miss). The layers it names are synced with the build's commit.
        let tmp = dir.join(super::fsutil::unique_name(".tmp"));
        fs::write(&tmp, &bytes)
            .and_then(|()| fs::rename(&tmp, dir.join(key)))
            .map_err(io_err(format!("writing build cache record {key}")))
    }

    /// Empties the build cache; returns how many records it held. What only the cache kept
    /// goes at the next garbage collection.
    pub fn cache_clear(&self) -> Result<usize, ImageError> {
        let dir = self.root().join(CACHE_DIR);
        let mut n = 0;
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                if fs::remove_file(e.path()).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// (blob hex, layer hex) of every layer the build cache names.
    pub(crate) fn cache_roots(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(self.root().join(CACHE_DIR)) else {
            return out;
        };
        for e in entries.flatten() {
            let Ok(bytes) = fs::read(e.path()) else {
                continue;
            };
            let Ok(rec) = serde_json::from_slice::<CacheRecord>(&bytes) else {
                continue;
            };
            for l in rec.layers {
                if let (Some(b), Some(d)) = (sha256_of(&l.digest), sha256_of(&l.diff_id)) {
                    out.push((b.to_string(), d.to_string()));
                }
            }
        }
        out
    }
}
