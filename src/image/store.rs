//! The on-disk image store: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`)
//! plus `layers/<diff_id hex>/`, extracted layers shared between images and used as overlay
//! lowerdirs.
//!
//! Crash safety: blobs and layer directories are fully written under `tmp/`, recorded (durably)
//! in `unsynced/` as not yet on disk, renamed into place, and only then does the atomically
//! replaced `index.json` refer to them; the disk gets them after the commit, and what a crash
//! took before that is found by the record at the daemon's next start (`durable.rs`). A
//! build records each layer the same way as it adds it, and syncs at its commit (`built.rs`).
//! Concurrency: imports hold a shared lock on `gc.lock` for their whole run and garbage
//! collection an exclusive one, so GC never deletes what an import is about to reference;
//! `index.lock` serializes read-modify-write of `index.json`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::archive::{self, ConfigSource, Prepared, PreparedLayer};
use super::budget::{Budget, DEFAULT_MAX_UNPACKED};
use super::error::{ImageError, io_err, json_err};
use super::fsutil::{FileLock, TempDir, atomic_write, remove_tree, sha256_hex, unique_name};
use super::layer;
use super::oci::{
    ConfigFile, Descriptor, History, Index, MT_CONFIG, MT_MANIFEST, Manifest, REF_NAME, RootFs,
    RunConfig, host_arch, sha256_of,
};
use super::reference::{Reference, is_sha256_hex};
use super::tags;

// A child of the store (for its index helpers), kept in its own file.
#[path = "durable.rs"]
mod durable;
pub(crate) use durable::Record;
#[path = "partial.rs"]
mod partial;
#[path = "pulled.rs"]
mod pulled;
pub use pulled::PullStatus;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
pub(super) const GC_LOCK: &str = "gc.lock";
pub(super) const INDEX_LOCK: &str = "index.lock";
/// Index annotation holding an image's unpacked size (the bytes of its layers' files).
pub(super) const UNPACKED_SIZE: &str = "io.rstack.image.unpacked-size";

/// A summary of one stored image, as `rstack image ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// Normalized reference (`busybox:latest`), `<none>:<none>` for a dangling image.
    pub reference: String,
    /// `sha256:<hex>` of the config blob (docker's image id).
    pub id: String,
    /// `sha256:<hex>` of the manifest (the registry digest).
    pub digest: String,
    /// Unpacked size: the bytes of the files of its layers (what it takes on disk).
    pub size: u64,
    /// Sum of the layer blob sizes (compressed, as stored or downloaded), in bytes.
    pub compressed_size: u64,
    /// The config's `created` timestamp, if it has one.
    pub created: Option<String>,
}

/// What `image rm` did: the tags it removed, the images (ids) it deleted, the bytes freed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

/// What a container needs from its image, from the image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    /// The image's `VOLUME` paths.
    pub volumes: Vec<String>,
}

/// An image ready to be run: layer directories and config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedImage {
    /// `sha256:<hex>` of the config blob.
    pub id: String,
    /// The normalized reference it was resolved from.
    pub reference: String,
    /// Extracted layer directories, topmost first (overlay `lowerdir` order).
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}

/// Handle on an image store directory. Cheap to clone; all state is on disk, but for a
/// cache of resolved references that any change of index.json invalidates.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
    /// Most bytes the layers of one imported image may unpack to.
    max_unpacked: u64,
    resolved: std::sync::Arc<std::sync::Mutex<HashMap<String, (IndexStamp, ResolvedImage)>>>,
    /// Layer directories that must survive garbage collection whatever index.json says:
    /// the lowerdirs of existing containers (see `set_pins`).
    pins: std::sync::Arc<std::sync::OnceLock<Pins>>,
    /// Whether commits sync the store after them (`durable.rs`); tests hold the syncs to see
    /// the records.
    settle: bool,
    /// Records of finished commits whose sync has not removed them yet (`durable.rs`).
    unsettled: std::sync::Arc<std::sync::Mutex<Vec<PathBuf>>>,
}

/// Tells garbage collection which layer directories are in use outside the store.
/// An error (the containers could not be listed) keeps every layer directory.
pub struct Pins(pub Box<dyn Fn() -> Result<Vec<PathBuf>, String> + Send + Sync>);

impl std::fmt::Debug for Pins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pins")
    }
}

/// What identifies one version of index.json: it is only ever replaced by a rename (a new
/// inode), by this process or any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexStamp {
    ino: u64,
    mtime_ns: i128,
    len: u64,
}

/// What a push sends: manifest bytes, its media type, and the blobs it names with their paths.
pub(crate) type PushParts = (Vec<u8>, String, Vec<(Descriptor, PathBuf)>);

/// A pull in progress: its staging directory and the shared GC lock (see `begin_transfer`).
pub(crate) struct Transfer {
    staging: TempDir,
    _gc: FileLock,
    pub(crate) budget: Budget,
}

impl Transfer {
    /// Where downloads are written before their commit (same filesystem as the store).
    pub(crate) fn staging(&self) -> &Path {
        self.staging.path()
    }
}

/// A layer ready to move into place (`stage_layer`).
struct Staged {
    diff: String,
    size: u64,
    /// Where it was extracted; `None` when the layer is in place already.
    dir: Option<StagedDir>,
}

enum StagedDir {
    /// Extracted while it downloaded, in the pull's staging directory.
    Extracted(PathBuf),
    /// Extracted at the commit, removed unless moved.
    Temp(TempDir),
}

/// A stored image loaded from its manifest.
pub(super) struct Loaded {
    pub(super) manifest: Manifest,
    pub(super) config_hex: String,
    pub(super) config: ConfigFile,
}

/// What `image ls` shows for a dangling image.
pub const NONE_REFERENCE: &str = "<none>:<none>";

impl ImageStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: &Path) -> Result<ImageStore, ImageError> {
        let store = ImageStore {
            root: root.to_path_buf(),
            max_unpacked: DEFAULT_MAX_UNPACKED,
            resolved: Default::default(),
            pins: Default::default(),
            settle: true,
            unsettled: Default::default(),
        };
        for dir in [
            root.to_path_buf(),
            root.join("blobs").join("sha256"),
            store.layers_dir(),
            store.tmp_dir(),
            store.uploads_dir(),
        ] {
            fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        }
        store.make_unsynced_dir()?;
        let layout = root.join("oci-layout");
        if !layout.exists() {
            // Under the shared lock: a concurrent GC sweeps stray temp files from the root.
            let _gc = store.lock(GC_LOCK, false)?;
            atomic_write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        Ok(store)
    }

    /// Whether commits sync the store after them (see `durable.rs`).
    pub(super) fn settles(&self) -> bool {
        self.settle
    }

    /// A store whose commits leave their records for the test to see (never synced).
    #[cfg(test)]
    pub(crate) fn holding_syncs(mut self) -> ImageStore {
        self.settle = false;
        self
    }

    /// Sets the most bytes the layers of one imported image may unpack to.
    pub fn with_max_unpacked(mut self, bytes: u64) -> ImageStore {
        self.max_unpacked = bytes;
        self
    }

    /// Sets (once) what tells garbage collection the layer directories containers use
    /// (their configs' lowerdirs): those are kept even when no image in index.json names
    /// them any more, e.g. an image removed by an older release while a container used it.
    pub fn set_pins(&self, pins: Pins) {
        let _ = self.pins.set(pins);
    }

    /// Most bytes the layers of one imported image may unpack to.
    pub fn max_unpacked(&self) -> u64 {
        self.max_unpacked
    }

    /// Where the daemon spools archives uploaded for import. Not swept by `gc` (an upload
    /// runs before its import takes the store's lock); the daemon empties it at start.
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    pub(super) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(super) fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs").join("sha256").join(hex)
    }

    pub(super) fn layer_path(&self, hex: &str) -> PathBuf {
        self.layers_dir().join(hex)
    }

    pub(super) fn lock(&self, name: &str, exclusive: bool) -> Result<FileLock, ImageError> {
        FileLock::acquire(&self.root.join(name), exclusive)
    }

    /// Imports an image archive file (OCI archive, docker-save tar or rootfs tar; gzip allowed)
    /// and tags it `reference`, replacing any image previously tagged so.
    pub fn import(&self, file: &Path, reference: &str) -> Result<ImageInfo, ImageError> {
        self.import_named(file, &file.display().to_string(), reference)
    }

    /// `import`, with messages calling the file `name` (an upload's spool file has a name
    /// that means nothing to the user). An import refused for its size, or failed half way,
    /// leaves nothing behind: the layers it extracted are collected again.
    pub fn import_named(
        &self,
        file: &Path,
        name: &str,
        reference: &str,
    ) -> Result<ImageInfo, ImageError> {
        let budget = Budget::for_store(self.max_unpacked, &self.root);
        match self.import_within(file, name, reference, &budget) {
            Ok(info) => Ok(info),
            Err(e) => {
                if let Err(gc) = self.gc() {
                    eprintln!("rstack: cleaning up after a failed import: {gc}");
                }
                Err(if budget.exceeded() {
                    budget.error(name)
                } else {
                    e
                })
            }
        }
    }

    fn import_within(
        &self,
        file: &Path,
        name: &str,
        reference: &str,
        budget: &Budget,
    ) -> Result<ImageInfo, ImageError> {
        let parsed = Reference::parse(reference)?;
        if parsed.digest.is_some() {
            return Err(ImageError::InvalidReference {
                reference: reference.to_string(),
                reason: "an image is imported under a tag, not a digest".to_string(),
            });
        }
        let key = parsed.familiar();
        let (info, replaced) = {
            let _gc = self.lock(GC_LOCK, false)?;
            let staging = TempDir::create(&self.tmp_dir(), "import")?;
            let prepared = archive::prepare(file, name, staging.path(), &parsed, budget)?;
            let done = self.commit_prepared(prepared, &key, budget)?;
            drop(staging);
            done
        };
        if replaced {
            self.gc()?;
        }
        Ok(info)
    }

    /// Commits verified, staged content as the image `key`: extracts the layers not yet
    /// present, stores the blobs, then points index.json at the manifest. The caller holds
    /// the shared GC lock. Returns the image and whether it replaced another one.
    pub(crate) fn commit_prepared(
        &self,
        prepared: Prepared,
        key: &str,
        budget: &Budget,
    ) -> Result<(ImageInfo, bool), ImageError> {
        self.commit_prepared_as(prepared, Some(key), budget)
    }

    /// `commit_prepared`, or with no `key` as a dangling image (an unnamed image of a
    /// loaded archive).
    pub(super) fn commit_prepared_as(
        &self,
        prepared: Prepared,
        key: Option<&str>,
        budget: &Budget,
    ) -> Result<(ImageInfo, bool), ImageError> {
        // Layers to extract are extracted first (under tmp/), so the record written before
        // anything moves into place (`durable.rs`) can name every new layer by its diff_id.
        let mut staged: Vec<Staged> = Vec::new();
        for l in &prepared.layers {
            // A layer repeated in one image is extracted once.
            let earlier = |diff: &str| staged.iter().find(|s| s.diff == diff).map(|s| s.size);
            if let Some(size) = l.diff_id.as_deref().and_then(earlier) {
                staged.push(Staged {
                    diff: l.diff_id.clone().unwrap_or_default(),
                    size,
                    dir: None,
                });
                continue;
            }
            let mut st = self.stage_layer(l, budget)?;
            if earlier(&st.diff).is_some() {
                st.dir = None;
            }
            staged.push(st);
        }
        let diff_ids: Vec<String> = staged.iter().map(|s| s.diff.clone()).collect();
        let unpacked: u64 = staged.iter().map(|s| s.size).sum();
        let layer_descs: Vec<Descriptor> = prepared
            .layers
            .iter()
            .map(|l| Descriptor {
                media_type: l.media_type.clone(),
                digest: format!("sha256:{}", l.digest),
                size: l.size,
                annotations: BTreeMap::new(),
                platform: None,
            })
            .collect();
        let (config_bytes, config_hex) = match prepared.config {
            ConfigSource::Given { bytes, digest } => (bytes, digest),
            ConfigSource::Generate => {
                let bytes = generated_config(&diff_ids)?;
                let hex = sha256_hex(&bytes);
                (bytes, hex)
            }
        };
        let config: ConfigFile =
            serde_json::from_slice(&config_bytes).map_err(json_err("parsing image config"))?;
        let (manifest_bytes, manifest_hex, media_type) = match prepared.manifest {
            Some(m) => m,
            None => {
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
                    layers: layer_descs,
                };
                let bytes =
                    serde_json::to_vec(&manifest).map_err(json_err("serializing manifest"))?;
                let hex = sha256_hex(&bytes);
                (bytes, hex, MT_MANIFEST.to_string())
            }
        };
        // What is new is recorded (durably) before it moves into place; the disk gets the
        // rest after the commit (`durable.rs`).
        let mut record = durable::Record::default();
        for (l, st) in prepared.layers.iter().zip(&staged) {
            let listed = record.layers.iter().any(|(b, _)| *b == l.digest);
            if listed || record.blobs.contains(&l.digest) {
                continue;
            }
            if st.dir.is_some() && !self.layer_path(&st.diff).is_dir() {
                record.layers.push((l.digest.clone(), st.diff.clone()));
            } else if !self.blob_path(&l.digest).exists() {
                record.blobs.push(l.digest.clone());
            }
        }
        for hex in [&config_hex, &manifest_hex] {
            if !self.blob_path(hex).exists() {
                record.blobs.push(hex.clone());
            }
        }
        let record = self.record_unsynced(record)?;
        let placed = (|| -> Result<(), ImageError> {
            for (l, st) in prepared.layers.iter().zip(staged) {
                self.place_layer(st)?;
                self.store_blob_file(&l.blob, &l.digest)?;
            }
            self.store_blob_bytes(&config_bytes, &config_hex)?;
            self.store_blob_bytes(&manifest_bytes, &manifest_hex)
        })();
        if let Some(record) = record {
            self.settle_later(record);
        }
        placed?;
        let info = ImageInfo {
            reference: key.map_or_else(|| NONE_REFERENCE.to_string(), str::to_string),
            id: format!("sha256:{config_hex}"),
            digest: format!("sha256:{manifest_hex}"),
            size: unpacked,
            compressed_size: prepared.layers.iter().map(|l| l.size).sum(),
            created: config.created,
        };
        let mut annotations = BTreeMap::new();
        annotations.insert(UNPACKED_SIZE.to_string(), unpacked.to_string());
        let desc = Descriptor {
            media_type,
            digest: format!("sha256:{manifest_hex}"),
            size: manifest_bytes.len() as u64,
            annotations,
            platform: None,
        };
        let _index = self.lock(INDEX_LOCK, true)?;
        let mut index = self.read_index()?;
        let replaced = match key {
            Some(key) => tags::set_tag(&mut index, key, &desc),
            None => {
                tags::keep_untagged(&mut index, desc);
                false
            }
        };
        self.write_index(&index)?;
        Ok((info, replaced))
    }

    /// Starts a transfer from a registry: holds the shared GC lock (so nothing it finds
    /// present is collected before its commit) and gives it a staging directory.
    pub(crate) fn begin_transfer(&self) -> Result<Transfer, ImageError> {
        let gc = self.lock(GC_LOCK, false)?;
        let staging = TempDir::create(&self.tmp_dir(), "pull")?;
        Ok(Transfer {
            staging,
            _gc: gc,
            budget: Budget::for_store(self.max_unpacked, &self.root),
        })
    }

    /// The stored blob `sha256:<hex>`, if present.
    pub(crate) fn blob_if_present(&self, hex: &str) -> Option<PathBuf> {
        let p = self.blob_path(hex);
        p.is_file().then_some(p)
    }

    /// Whether the layer with diff_id `sha256:<hex>` is already extracted.
    pub(crate) fn has_layer(&self, diff_hex: &str) -> bool {
        self.layer_path(diff_hex).is_dir()
    }

    /// Commits a pulled image (staged under `transfer`) as `key`. A failure leaves nothing:
    /// what it extracted is collected again.
    pub(crate) fn commit_transfer(
        &self,
        transfer: Transfer,
        prepared: Prepared,
        key: &str,
    ) -> Result<ImageInfo, ImageError> {
        let res = self.commit_prepared(prepared, key, &transfer.budget);
        let exceeded = transfer.budget.exceeded();
        let budget_err = exceeded.then(|| transfer.budget.error(key));
        drop(transfer);
        match res {
            Ok((info, replaced)) => {
                if replaced {
                    self.gc()?;
                }
                Ok(info)
            }
            Err(e) => {
                if let Err(gc) = self.gc() {
                    eprintln!("rstack: cleaning up after a failed pull: {gc}");
                }
                Err(budget_err.unwrap_or(e))
            }
        }
    }

    /// What a push sends: the manifest (bytes and media type) and the stored blobs it names
    /// (config last), each with its descriptor.
    pub(crate) fn push_parts(&self, reference: &str) -> Result<PushParts, ImageError> {
        let index = self.read_index()?;
        let found = self.lookup(&index, reference)?;
        let desc = found
            .first()
            .and_then(|(i, _)| index.manifests.get(*i))
            .ok_or_else(|| ImageError::NotFound {
                reference: reference.to_string(),
            })?;
        let hex = sha256_of(&desc.digest).ok_or_else(|| ImageError::Corrupt {
            reason: format!("bad manifest digest {}", desc.digest),
        })?;
        let bytes = self.read_blob(hex, "manifest")?;
        let loaded = self.load(&desc.digest)?;
        let mut blobs = Vec::new();
        for d in loaded
            .manifest
            .layers
            .iter()
            .chain(std::iter::once(&loaded.manifest.config))
        {
            let hex = sha256_of(&d.digest).ok_or_else(|| ImageError::Corrupt {
                reason: format!("bad blob digest {}", d.digest),
            })?;
            blobs.push((d.clone(), self.blob_path(hex)));
        }
        let media_type = if desc.media_type.is_empty() {
            MT_MANIFEST.to_string()
        } else {
            desc.media_type.clone()
        };
        Ok((bytes, media_type, blobs))
    }

    /// Gets a layer ready to move into place: present already (same diff_id), extracted
    /// while it downloaded (diff_id checked), or extracted here under tmp/ now.
    fn stage_layer(&self, l: &PreparedLayer, budget: &Budget) -> Result<Staged, ImageError> {
        if let Some(d) = &l.diff_id
            && self.layer_path(d).is_dir()
        {
            let size = layer::unpacked_size(&self.layer_path(d))
                .map_err(io_err(format!("measuring layer {d}")))?;
            return Ok(Staged {
                diff: d.clone(),
                size,
                dir: None,
            });
        }
        if let (Some((dir, size)), Some(d)) = (&l.extracted, &l.diff_id) {
            return Ok(Staged {
                diff: d.clone(),
                size: *size,
                dir: Some(StagedDir::Extracted(dir.clone())),
            });
        }
        let tmp = TempDir::create(&self.tmp_dir(), "layer")?;
        layer::set_root_mode(tmp.path()).map_err(io_err("chmod layer directory"))?;
        let (diff, size) = layer::extract_layer(&l.blob, tmp.path(), budget)?;
        if let Some(expected) = &l.diff_id
            && *expected != diff
        {
            return Err(ImageError::DigestMismatch {
                what: format!("diff_id of layer sha256:{}", l.digest),
                expected: format!("sha256:{expected}"),
                actual: format!("sha256:{diff}"),
            });
        }
        Ok(Staged {
            diff,
            size,
            dir: Some(StagedDir::Temp(tmp)),
        })
    }

    /// Moves a staged layer into place (not synced: see `durable.rs`).
    fn place_layer(&self, staged: Staged) -> Result<(), ImageError> {
        let dest = self.layer_path(&staged.diff);
        let (from, tmp) = match staged.dir {
            None => return Ok(()),
            Some(StagedDir::Extracted(dir)) => (dir, None),
            Some(StagedDir::Temp(tmp)) => (tmp.path().to_path_buf(), Some(tmp)),
        };
        match fs::rename(&from, &dest) {
            Ok(()) => {
                if let Some(tmp) = tmp {
                    tmp.keep();
                }
                Ok(())
            }
            // A concurrent import put the same layer in place first; ours is dropped.
            Err(_) if dest.is_dir() => Ok(()),
            Err(e) => Err(io_err(format!("moving layer to {}", dest.display()))(e)),
        }
    }

    fn store_blob_file(&self, src: &Path, hex: &str) -> Result<(), ImageError> {
        let dest = self.blob_path(hex);
        if dest.exists() {
            return Ok(());
        }
        match fs::rename(src, &dest) {
            Ok(()) => Ok(()),
            // The same staged file was already moved under another name (aliased layer).
            Err(_) if dest.exists() => Ok(()),
            Err(e) => Err(io_err(format!("storing blob {}", dest.display()))(e)),
        }
    }

    fn store_blob_bytes(&self, bytes: &[u8], hex: &str) -> Result<(), ImageError> {
        let dest = self.blob_path(hex);
        if dest.exists() {
            return Ok(());
        }
        atomic_write(&dest, bytes)
    }

    pub(super) fn read_index(&self) -> Result<Index, ImageError> {
        let path = self.root.join("index.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(json_err("parsing index.json")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::empty()),
            Err(e) => Err(io_err("reading index.json")(e)),
        }
    }

    pub(super) fn write_index(&self, index: &Index) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec_pretty(index).map_err(json_err("serializing index.json"))?;
        atomic_write(&self.root.join("index.json"), &bytes)
    }

    pub(super) fn read_blob(&self, hex: &str, what: &str) -> Result<Vec<u8>, ImageError> {
        fs::read(self.blob_path(hex)).map_err(|e| ImageError::Corrupt {
            reason: format!("{what} blob sha256:{hex}: {e}"),
        })
    }

    pub(super) fn load(&self, manifest_digest: &str) -> Result<Loaded, ImageError> {
        let corrupt = |reason: String| ImageError::Corrupt { reason };
        let hex = sha256_of(manifest_digest)
            .ok_or_else(|| corrupt(format!("bad manifest digest {manifest_digest}")))?;
        let manifest: Manifest = serde_json::from_slice(&self.read_blob(hex, "manifest")?)
            .map_err(json_err(format!("parsing manifest {manifest_digest}")))?;
        let config_hex = sha256_of(&manifest.config.digest)
            .ok_or_else(|| corrupt(format!("bad config digest {}", manifest.config.digest)))?
            .to_string();
        let config: ConfigFile = serde_json::from_slice(&self.read_blob(&config_hex, "config")?)
            .map_err(json_err(format!(
                "parsing image config sha256:{config_hex}"
            )))?;
        Ok(Loaded {
            manifest,
            config_hex,
            config,
        })
    }

    /// Finds the index entry for a reference: a tag, `name@sha256:..` (manifest digest or image
    /// id) or a bare image id `sha256:<hex>`. Returns the entry and the reference to report.
    pub(super) fn lookup(
        &self,
        index: &Index,
        reference: &str,
    ) -> Result<Vec<(usize, String)>, ImageError> {
        let by_id = reference
            .strip_prefix("sha256:")
            .filter(|h| is_sha256_hex(h));
        let parsed = match by_id {
            Some(_) => None,
            None => Some(Reference::parse(reference)?),
        };
        let mut found = Vec::new();
        for (i, d) in index.manifests.iter().enumerate() {
            let name = match (d.annotations.get(REF_NAME), by_id) {
                (Some(n), _) => n.clone(),
                // A dangling image is only found by its id or digest.
                (None, Some(_)) => NONE_REFERENCE.to_string(),
                (None, None) => continue,
            };
            let digest_matches = |want: &str| {
                d.digest == want
                    || self
                        .load(&d.digest)
                        .is_ok_and(|l| format!("sha256:{}", l.config_hex) == want)
            };
            let hit = match (&parsed, by_id) {
                (None, _) => digest_matches(reference),
                (Some(r), _) => match &r.digest {
                    None => name == r.familiar(),
                    Some(want) => {
                        Reference::parse(&name)
                            .is_ok_and(|n| n.familiar_name() == r.familiar_name())
                            && digest_matches(want)
                    }
                },
            };
            if hit {
                let shown = match &parsed {
                    Some(r) => r.familiar(),
                    None => name,
                };
                found.push((i, shown));
            }
        }
        if found.is_empty() {
            return Err(ImageError::NotFound {
                reference: parsed.map_or_else(|| reference.to_string(), |r| r.familiar()),
            });
        }
        Ok(found)
    }

    /// Resolves a reference to its extracted layers (topmost first) and config.
    pub fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        // A start resolves its image every time: skip reading three files while index.json
        // is the same file as when this reference was last resolved.
        let stamp = self.index_stamp();
        if let Some(img) = self.cached(reference, stamp) {
            return Ok(img);
        }
        let img = self.resolve_uncached(reference)?;
        let mut cache = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(now) = stamp {
            cache.insert(reference.to_string(), (now, img.clone()));
        }
        Ok(img)
    }

    /// `resolve` of a reference resolved before, as long as index.json has not changed
    /// since: one `stat`, no file read, so a caller may run it where it must not block long.
    pub fn resolve_cached(&self, reference: &str) -> Option<ResolvedImage> {
        self.cached(reference, self.index_stamp())
    }

    fn cached(&self, reference: &str, stamp: Option<IndexStamp>) -> Option<ResolvedImage> {
        let cache = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
        match (stamp, cache.get(reference)) {
            (Some(now), Some((then, img))) if now == *then => Some(img.clone()),
            _ => None,
        }
    }

    fn index_stamp(&self) -> Option<IndexStamp> {
        use std::os::unix::fs::MetadataExt;
        let md = fs::metadata(self.root.join("index.json")).ok()?;
        Some(IndexStamp {
            ino: md.ino(),
            mtime_ns: md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128,
            len: md.len(),
        })
    }

    fn resolve_uncached(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let index = self.read_index()?;
        let found = self.lookup(&index, reference)?;
        let Some((i, shown)) = found.into_iter().next() else {
            return Err(ImageError::NotFound {
                reference: reference.to_string(),
            });
        };
        let Some(desc) = index.manifests.get(i) else {
            return Err(ImageError::NotFound {
                reference: reference.to_string(),
            });
        };
        let loaded = self.load(&desc.digest)?;
        let mut layers = Vec::new();
        for d in loaded.config.rootfs.diff_ids.iter().rev() {
            let hex = sha256_of(d).ok_or_else(|| ImageError::Corrupt {
                reason: format!("bad diff_id {d}"),
            })?;
            let dir = self.layer_path(hex);
            if !dir.is_dir() {
                return Err(ImageError::Corrupt {
                    reason: format!(
                        "layer directory {} of {shown} is missing; import the image again",
                        dir.display()
                    ),
                });
            }
            layers.push(dir);
        }
        let run = loaded.config.config.unwrap_or_default();
        let non_empty = |s: Option<String>| s.filter(|v| !v.is_empty());
        Ok(ResolvedImage {
            id: format!("sha256:{}", loaded.config_hex),
            reference: shown,
            layers,
            config: ImageConfig {
                entrypoint: run.entrypoint,
                cmd: run.cmd,
                env: run.env.unwrap_or_default(),
                working_dir: non_empty(run.working_dir),
                user: non_empty(run.user),
                stop_signal: non_empty(run.stop_signal),
                volumes: run.volumes.unwrap_or_default().into_keys().collect(),
            },
        })
    }

    /// All tagged images, sorted by reference.
    pub fn list(&self) -> Result<Vec<ImageInfo>, ImageError> {
        let index = self.read_index()?;
        let mut out = Vec::new();
        for d in &index.manifests {
            let name = d
                .annotations
                .get(REF_NAME)
                .cloned()
                .unwrap_or_else(|| NONE_REFERENCE.to_string());
            let loaded = self.load(&d.digest)?;
            // Images imported before the size was recorded are measured on disk.
            let size = match d
                .annotations
                .get(UNPACKED_SIZE)
                .and_then(|s| s.parse().ok())
            {
                Some(n) => n,
                None => loaded
                    .config
                    .rootfs
                    .diff_ids
                    .iter()
                    .filter_map(|diff| sha256_of(diff))
                    .map(|hex| layer::unpacked_size(&self.layer_path(hex)).unwrap_or(0))
                    .sum(),
            };
            out.push(ImageInfo {
                reference: name,
                id: format!("sha256:{}", loaded.config_hex),
                digest: d.digest.clone(),
                size,
                compressed_size: loaded.manifest.layers.iter().map(|l| l.size).sum(),
                created: loaded.config.created,
            });
        }
        // Tagged images by name, then the dangling ones.
        out.sort_by(|a, b| {
            (a.reference == NONE_REFERENCE, &a.reference, &a.id).cmp(&(
                b.reference == NONE_REFERENCE,
                &b.reference,
                &b.id,
            ))
        });
        Ok(out)
    }

    /// Removes the tag(s) matching `reference`, then deletes blobs and layer directories no
    /// longer used by any image. The caller makes sure no container still uses the layers.
    pub fn remove(&self, reference: &str) -> Result<(), ImageError> {
        self.remove_image(reference, false).map(|_| ())
    }

    /// Removes the tag(s) matching `reference`. With `keep_untagged` (the image is still
    /// used by a container), an image left without a tag stays as a dangling entry, so its
    /// layers (the container's lowerdirs) survive; otherwise its content is collected.
    pub fn remove_image(
        &self,
        reference: &str,
        keep_untagged: bool,
    ) -> Result<Removed, ImageError> {
        let mut report = Removed::default();
        {
            let _gc = self.lock(GC_LOCK, false)?;
            let _index = self.lock(INDEX_LOCK, true)?;
            let mut index = self.read_index()?;
            let found: HashSet<usize> = self
                .lookup(&index, reference)?
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            let mut gone = Vec::new();
            let mut i = 0;
            index.manifests.retain(|d| {
                let keep = !found.contains(&i);
                i += 1;
                if !keep {
                    gone.push(d.clone());
                }
                keep
            });
            for d in gone {
                if let Some(name) = d.annotations.get(REF_NAME) {
                    report.untagged.push(name.clone());
                }
                if keep_untagged {
                    tags::keep_untagged(&mut index, d);
                } else if !index.manifests.iter().any(|k| k.digest == d.digest) {
                    let id = self
                        .load(&d.digest)
                        .map(|l| format!("sha256:{}", l.config_hex))
                        .unwrap_or(d.digest.clone());
                    if !report.deleted.contains(&id) {
                        report.deleted.push(id);
                    }
                }
            }
            self.write_index(&index)?;
        }
        report.reclaimed = self.gc_measured()?;
        Ok(report)
    }

    /// Deletes unreferenced blobs, layer directories and leftovers of interrupted imports.
    pub fn gc(&self) -> Result<(), ImageError> {
        self.gc_measured().map(|_| ())
    }

    /// `gc`, returning the bytes it freed (blobs and the files of layer directories).
    pub(super) fn gc_measured(&self) -> Result<u64, ImageError> {
        let _gc = self.lock(GC_LOCK, true)?;
        let index = self.read_index()?;
        let mut blobs = HashSet::new();
        let mut layers = HashSet::new();
        for d in &index.manifests {
            let Some(hex) = sha256_of(&d.digest) else {
                continue;
            };
            blobs.insert(hex.to_string());
            // An unreadable manifest keeps only itself; its other blobs cannot be known.
            let Ok(loaded) = self.load(&d.digest) else {
                continue;
            };
            blobs.insert(loaded.config_hex.clone());
            for l in &loaded.manifest.layers {
                blobs.extend(sha256_of(&l.digest).map(str::to_string));
            }
            for diff in &loaded.config.rootfs.diff_ids {
                layers.extend(sha256_of(diff).map(str::to_string));
            }
        }
        // The build cache keeps what its steps made, so a rebuild finds them.
        for (b, l) in self.cache_roots() {
            blobs.insert(b);
            layers.insert(l);
        }
        let layers_dir = self.layers_dir();
        let mut keep_all_layers = false;
        if let Some(pins) = self.pins.get() {
            let pinned = (pins.0)().unwrap_or_else(|e| {
                eprintln!("rstack: image gc keeps every layer: {e}");
                keep_all_layers = true;
                Vec::new()
            });
            for dir in pinned {
                if dir.parent() == Some(layers_dir.as_path())
                    && let Some(name) = dir.file_name()
                {
                    layers.insert(name.to_string_lossy().into_owned());
                }
            }
        }
        let tmp = self.tmp_dir();
        let freed = std::cell::Cell::new(0u64);
        let sweep = |dir: PathBuf, keep: &dyn Fn(&str) -> bool| -> Result<(), ImageError> {
            let entries =
                fs::read_dir(&dir).map_err(io_err(format!("listing {}", dir.display())))?;
            for entry in entries {
                let entry = entry.map_err(io_err(format!("listing {}", dir.display())))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if keep(&name) {
                    continue;
                }
                let path = entry.path();
                if dir != tmp && dir != self.root {
                    let size = match entry.file_type() {
                        Ok(t) if t.is_dir() => layer::unpacked_size(&path).unwrap_or(0),
                        _ => entry.metadata().map(|m| m.len()).unwrap_or(0),
                    };
                    freed.set(freed.get() + size);
                }
                // A layer directory is first moved out of layers/ in one atomic step: a crash
                // half way through deleting it must not leave a partial layer that a later
                // import would take as already extracted.
                let doomed = if dir == tmp {
                    path
                } else {
                    let grave = tmp.join(unique_name("gc"));
                    fs::rename(&path, &grave)
                        .map_err(io_err(format!("removing {}", path.display())))?;
                    grave
                };
                remove_tree(&doomed).map_err(io_err(format!("removing {}", doomed.display())))?;
            }
            Ok(())
        };
        sweep(self.root.join("blobs").join("sha256"), &|n| {
            blobs.contains(n)
        })?;
        sweep(self.layers_dir(), &|n| {
            keep_all_layers || layers.contains(n)
        })?;
        // No import runs while we hold the exclusive lock, so all of tmp/ is stale, and so are
        // temp files of index writes interrupted by a crash.
        sweep(tmp.clone(), &|_| false)?;
        self.sweep_partials(partial::STALE_AFTER)?;
        sweep(self.root.clone(), &|n| !n.starts_with(".tmp-"))?;
        Ok(freed.get())
    }
}

/// The config written for a plain rootfs tar: no command, a default PATH.
fn generated_config(diff_ids: &[String]) -> Result<Vec<u8>, ImageError> {
    let config = ConfigFile {
        created: None,
        architecture: host_arch().to_string(),
        os: "linux".to_string(),
        variant: None,
        config: Some(RunConfig {
            env: Some(vec![DEFAULT_PATH.to_string()]),
            ..RunConfig::default()
        }),
        rootfs: RootFs {
            kind: "layers".to_string(),
            diff_ids: diff_ids.iter().map(|d| format!("sha256:{d}")).collect(),
        },
        // No time and no file name: the same rootfs imported again is the same image.
        history: vec![History {
            created_by: Some("rstack image import".to_string()),
            comment: Some("imported from a rootfs tar".to_string()),
            ..History::default()
        }],
    };
    serde_json::to_vec(&config).map_err(json_err("serializing image config"))
}
