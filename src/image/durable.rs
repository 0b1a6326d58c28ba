//! Deferred durability of a commit. A pulled or imported image can run as soon as its files
//! are in the page cache; waiting for the disk before saying so (a `syncfs` at the commit,
//! and the writeback each file's `sync_file_range` started during the extraction) made a
//! quarter of a pull's time on a journaled ext4. So a commit first writes, durably, a record
//! of what it is about to put in place (`unsynced/<name>`: the new layers with their blobs,
//! and the other new blobs), then moves that into place and names it in index.json, and a
//! thread of its own syncs the filesystem afterwards and removes the record.
//!
//! A record still there when the daemon starts (`ImageStore::recover`) is a sync that never
//! finished. From the same boot (the daemon was killed; the page cache kept the data) a
//! `syncfs` settles it. From an earlier boot (the machine went down) what it lists may have
//! lost data: its blobs are checked against their digests (a bad one is removed), its layers
//! (only ever ones that were not in place before that commit) are taken out of use and
//! extracted again from a blob that passed, and images whose blob or layer is then missing are
//! dropped from index.json (they are pulled again). A layer that cannot be taken out of use
//! fails the start. Builds record their layers the same way as they add them (`built.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{GC_LOCK, INDEX_LOCK, ImageStore};
use crate::image::budget::Budget;
use crate::image::error::{ImageError, io_err, json_err};
use crate::image::fsutil::{
    HashReader, TempDir, atomic_write, lock, remove_tree, sync_dir, syncfs, unique_name,
};
use crate::image::layer;
use crate::image::oci::sha256_of;

/// The directory of records, under the store's root.
const DIR: &str = "unsynced";

/// What one commit put in place before the disk had it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The kernel's boot id when the commit ran (see the module's doc).
    boot_id: String,
    /// New layers: (blob hex, diff_id hex).
    pub(crate) layers: Vec<(String, String)>,
    /// New blobs other than the layers' (configs, manifests).
    pub(crate) blobs: Vec<String>,
}

/// This boot's id, else its start time (`btime` of /proc/stat); empty when the kernel
/// tells neither (then every record counts as left by an earlier boot).
fn boot_id() -> String {
    if let Ok(id) = fs::read_to_string("/proc/sys/kernel/random/boot_id") {
        return id.trim().to_string();
    }
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("btime ")
                    .map(|t| format!("btime {}", t.trim()))
            })
        })
        .unwrap_or_default()
}

impl ImageStore {
    fn unsynced_dir(&self) -> PathBuf {
        self.root().join(DIR)
    }

    /// Makes `unsynced/` (durably) when the store is opened, so no commit has to.
    pub(super) fn make_unsynced_dir(&self) -> Result<(), ImageError> {
        let dir = self.unsynced_dir();
        if dir.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        sync_dir(self.root()).map_err(io_err("syncing image store"))
    }

    /// Writes, durably, the record of what a commit is about to put in place; its path, or
    /// `None` when the commit adds nothing. A layer goes in only when no directory of its
    /// diff_id is in place yet (one that is was synced, or is in another commit's record).
    pub(crate) fn record_unsynced(
        &self,
        mut record: Record,
    ) -> Result<Option<PathBuf>, ImageError> {
        if record.layers.is_empty() && record.blobs.is_empty() {
            return Ok(None);
        }
        record.boot_id = boot_id();
        self.make_unsynced_dir()?;
        let path = self.unsynced_dir().join(unique_name("commit"));
        let bytes = serde_json::to_vec(&record).map_err(json_err("serializing a commit record"))?;
        atomic_write(&path, &bytes)?;
        Ok(Some(path))
    }

    /// Syncs the store's filesystem on a thread of its own, then removes `record` (of a
    /// finished commit).
    pub(crate) fn settle_later(&self, record: PathBuf) {
        lock(&self.unsettled).push(record.clone());
        if !self.settles() {
            return;
        }
        let (root, unsettled) = (self.root().to_path_buf(), self.unsettled.clone());
        let started = std::thread::Builder::new()
            .name("image-sync".to_string())
            .spawn(move || {
                if settle(&root, &record) {
                    lock(&unsettled).retain(|r| *r != record);
                }
            });
        if let Err(e) = started {
            // The record stays: `settle_finished` or the daemon's next start settles it.
            eprintln!("rstack: cannot start the image store's sync: {e}");
        }
    }

    /// Syncs the store now and removes the records of the commits that finished: the
    /// daemon's stop, so that a reboot right after a pull does not find them and check
    /// everything again at the next start.
    pub fn settle_finished(&self) {
        let records: Vec<PathBuf> = std::mem::take(&mut *lock(&self.unsettled));
        if records.is_empty() {
            return;
        }
        match syncfs(self.root()) {
            Ok(()) => {
                for r in &records {
                    let _ = fs::remove_file(r);
                }
            }
            Err(e) => eprintln!("rstack: syncing the image store: {e}"),
        }
    }

    /// Settles what earlier commits left unsynced (see the module's doc). The daemon calls
    /// it at its start, before anything uses the store; an error means a layer that may
    /// have lost data could not be taken out of use.
    pub fn recover(&self) -> Result<(), ImageError> {
        let dir = self.unsynced_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(format!("listing {}", dir.display()))(e)),
        };
        let paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        if paths.is_empty() {
            return Ok(());
        }
        // Nothing commits or collects meanwhile.
        let _gc = self.lock(GC_LOCK, true)?;
        let boot = boot_id();
        let mut settled = Vec::new();
        let mut earlier = Vec::new();
        for path in paths {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            // A record's own temp file (atomic_write cut short): its commit never began.
            if name.is_some_and(|n| n.starts_with(".tmp")) {
                settled.push(path);
                continue;
            }
            let record = fs::read(&path)
                .map_err(io_err(format!("reading {}", path.display())))
                .and_then(|b| {
                    serde_json::from_slice::<Record>(&b)
                        .map_err(json_err(format!("parsing {}", path.display())))
                });
            match record {
                Ok(r) => {
                    if boot.is_empty() || r.boot_id != boot {
                        earlier.push(r);
                    }
                    settled.push(path);
                }
                // Kept: it is the only word on what its commit left unsynced.
                Err(e) => eprintln!("rstack: an image store record cannot be read: {e}"),
            }
        }
        if !earlier.is_empty() {
            self.repair(&earlier)?;
        }
        syncfs(self.root()).map_err(io_err("syncing image store"))?;
        for path in &settled {
            let _ = fs::remove_file(path);
        }
        sync_dir(&dir).map_err(io_err(format!("syncing {}", dir.display())))
    }

    /// Checks the blobs of records left by an earlier boot, takes their layers out of use
    /// and extracts them again from a blob that passed, then drops from index.json the
    /// images left incomplete.
    fn repair(&self, records: &[Record]) -> Result<(), ImageError> {
        let mut blobs = BTreeSet::new();
        let mut layers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in records {
            blobs.extend(r.blobs.iter().map(String::as_str));
            for (blob, diff) in &r.layers {
                blobs.insert(blob);
                layers.entry(diff).or_default().push(blob);
            }
        }
        let mut good = BTreeSet::new();
        for hex in blobs {
            let path = self.blob_path(hex);
            if !path.exists() {
                continue;
            }
            if matches!(file_sha256(&path), Ok(h) if h == hex) {
                good.insert(hex);
            } else {
                eprintln!("rstack: blob sha256:{hex} lost data in a crash; removed");
                fs::remove_file(&path).map_err(io_err(format!("removing {}", path.display())))?;
            }
        }
        // The content was accepted once already: no size limit the second time.
        let budget = Budget::new(u64::MAX, u64::MAX);
        for (diff, from) in layers {
            let dest = self.layer_path(diff);
            if dest.exists() {
                self.bury(&dest)?;
            }
            let restored = from
                .iter()
                .filter(|b| good.contains(*b))
                .any(|blob| self.rebuild(blob, diff, &budget));
            if !restored {
                eprintln!("rstack: layer sha256:{diff} lost data in a crash; removed");
            }
        }
        self.drop_broken_images()
    }

    /// Takes a layer directory out of use at once (a rename under tmp/), then deletes it;
    /// what a failed delete leaves under tmp/ is collected later.
    fn bury(&self, dir: &Path) -> Result<(), ImageError> {
        let grave = self.tmp_dir().join(unique_name("lost"));
        fs::rename(dir, &grave).map_err(io_err(format!("removing {}", dir.display())))?;
        let _ = remove_tree(&grave);
        Ok(())
    }

    /// Extracts the layer `diff` again from the verified blob `blob`; whether it is back.
    fn rebuild(&self, blob: &str, diff: &str, budget: &Budget) -> bool {
        let dest = self.layer_path(diff);
        let rebuilt = (|| -> Result<bool, ImageError> {
            let tmp = TempDir::create(&self.tmp_dir(), "layer")?;
            layer::set_root_mode(tmp.path()).map_err(io_err("chmod layer directory"))?;
            let (d, _) = layer::extract_layer(&self.blob_path(blob), tmp.path(), budget)?;
            if d != diff {
                return Ok(false);
            }
            fs::rename(tmp.path(), &dest)
                .map_err(io_err(format!("moving layer to {}", dest.display())))?;
            tmp.keep();
            Ok(true)
        })();
        rebuilt.unwrap_or_else(|e| {
            eprintln!("rstack: extracting layer sha256:{diff} again: {e}");
            false
        })
    }

    /// Removes from index.json the images whose manifest, config, layer blobs or layer
    /// directories are missing.
    fn drop_broken_images(&self) -> Result<(), ImageError> {
        let _index = self.lock(INDEX_LOCK, true)?;
        let mut index = self.read_index()?;
        let before = index.manifests.len();
        index.manifests.retain(|d| {
            let Ok(loaded) = self.load(&d.digest) else {
                return false;
            };
            let blobs = loaded
                .manifest
                .layers
                .iter()
                .all(|l| sha256_of(&l.digest).is_some_and(|h| self.blob_path(h).is_file()));
            let layers = loaded
                .config
                .rootfs
                .diff_ids
                .iter()
                .all(|diff| sha256_of(diff).is_some_and(|h| self.layer_path(h).is_dir()));
            blobs && layers
        });
        if index.manifests.len() != before {
            eprintln!(
                "rstack: {} image(s) lost data in a crash and were removed; pull them again",
                before - index.manifests.len()
            );
            self.write_index(&index)?;
        }
        Ok(())
    }
}

/// Syncs the filesystem holding `root`, then removes `record`; whether it did. A failed
/// sync keeps the record for the daemon's next start.
fn settle(root: &Path, record: &Path) -> bool {
    match syncfs(root) {
        Ok(()) => {
            let _ = fs::remove_file(record);
            true
        }
        Err(e) => {
            eprintln!("rstack: syncing the image store: {e}");
            false
        }
    }
}

/// The sha256 hex of a file's content.
fn file_sha256(path: &Path) -> io::Result<String> {
    HashReader::new(File::open(path)?)
        .finish()
        .map(|(hex, _)| hex)
}
