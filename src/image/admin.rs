//! Store commands beyond import and resolve: `image tag`, `image prune` and `image load`.
//!
//! The store does not know containers: the daemon tells `prune` which image ids containers
//! use, and `image rm --force` of a used image keeps it as a dangling entry (see
//! `remove_image`). So an image a container uses never leaves index.json, and garbage
//! collection, which keeps everything index.json names, never deletes its layers.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use super::archive;
use super::budget::Budget;
use super::error::ImageError;
use super::fsutil::TempDir;
use super::oci::REF_NAME;
use super::reference::Reference;
use super::store::{GC_LOCK, INDEX_LOCK, ImageStore};
use super::tags;

/// What `image prune` did: the images it deleted (reference as listed, id) and the bytes
/// it freed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub deleted: Vec<(String, String)>,
    pub reclaimed: u64,
}

/// One name (or, for an unnamed image, the id) that `image load` stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedImage {
    /// The normalized name, `None` for an image the archive does not name.
    pub reference: Option<String>,
    pub id: String,
}

impl ImageStore {
    /// `image tag SRC TARGET`: a second index entry for SRC's manifest. The image TARGET
    /// named before, if another, is left dangling (or kept under its other tags).
    pub fn tag(&self, source: &str, target: &str) -> Result<String, ImageError> {
        let parsed = Reference::parse(target)?;
        if parsed.digest.is_some() {
            return Err(ImageError::InvalidReference {
                reference: target.to_string(),
                reason: "a tag cannot contain a digest".to_string(),
            });
        }
        let key = parsed.familiar();
        let _gc = self.lock(GC_LOCK, false)?;
        let _index = self.lock(INDEX_LOCK, true)?;
        let mut index = self.read_index()?;
        let found = self.lookup(&index, source)?;
        let Some(desc) = found
            .first()
            .and_then(|(i, _)| index.manifests.get(*i))
            .cloned()
        else {
            return Err(ImageError::NotFound {
                reference: source.to_string(),
            });
        };
        tags::set_tag(&mut index, &key, &desc);
        self.write_index(&index)?;
        Ok(key)
    }

    /// `image prune`: removes the dangling images, with `all` every image, but those whose
    /// id is in `in_use` (used by a container), then collects their content. With `dry_run`
    /// it only answers the images it would remove (nothing reclaimed).
    pub fn prune(
        &self,
        all: bool,
        in_use: &HashSet<String>,
        dry_run: bool,
    ) -> Result<Pruned, ImageError> {
        let mut report = Pruned::default();
        {
            let _gc = self.lock(GC_LOCK, false)?;
            let _index = self.lock(INDEX_LOCK, true)?;
            let mut index = self.read_index()?;
            let mut keep = Vec::new();
            for d in std::mem::take(&mut index.manifests) {
                let id = match self.load(&d.digest) {
                    Ok(l) => format!("sha256:{}", l.config_hex),
                    // An entry whose manifest cannot be read is left for the user to see.
                    Err(_) => {
                        keep.push(d);
                        continue;
                    }
                };
                if (all || tags::is_dangling(&d)) && !in_use.contains(&id) {
                    let shown = d
                        .annotations
                        .get(REF_NAME)
                        .cloned()
                        .unwrap_or_else(|| super::store::NONE_REFERENCE.to_string());
                    report.deleted.push((shown, id));
                } else {
                    keep.push(d);
                }
            }
            if dry_run {
                return Ok(report);
            }
            index.manifests = keep;
            self.write_index(&index)?;
        }
        report.reclaimed = self.gc_measured()?;
        Ok(report)
    }

    /// `image load`: stores every image of a docker-save or OCI archive under all the
    /// names the archive gives it (an unnamed one as a dangling image). As with `import`,
    /// a failure leaves nothing of the archive behind.
    pub fn load_archive(&self, file: &Path, name: &str) -> Result<Vec<LoadedImage>, ImageError> {
        let budget = Budget::for_store(self.max_unpacked(), self.root());
        let res = self.load_within(file, name, &budget);
        if res.is_err()
            && let Err(gc) = self.gc()
        {
            eprintln!("rstack: cleaning up after a failed load: {gc}");
        }
        res.map_err(|e| {
            if budget.exceeded() {
                budget.error(name)
            } else {
                e
            }
        })
    }

    fn load_within(
        &self,
        file: &Path,
        name: &str,
        budget: &Budget,
    ) -> Result<Vec<LoadedImage>, ImageError> {
        let _gc = self.lock(GC_LOCK, false)?;
        let staging = TempDir::create(&self.tmp_dir(), "load")?;
        let images = archive::prepare_all(file, name, staging.path(), budget)?;
        if images.is_empty() {
            return Err(ImageError::InvalidArchive {
                file: name.to_string(),
                reason: "it holds no image".to_string(),
            });
        }
        // Names are checked before anything is stored.
        let mut named = Vec::new();
        for img in images {
            let mut keys = Vec::new();
            for n in &img.names {
                let r = Reference::parse(n)?;
                if r.digest.is_none() {
                    keys.push(r.familiar());
                }
            }
            named.push((keys, img.prepared));
        }
        let mut out = Vec::new();
        for (keys, prepared) in named {
            let (info, _) =
                self.commit_prepared_as(prepared, keys.first().map(String::as_str), budget)?;
            if keys.is_empty() {
                out.push(LoadedImage {
                    reference: None,
                    id: info.id.clone(),
                });
            }
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    let _index = self.lock(INDEX_LOCK, true)?;
                    let mut index = self.read_index()?;
                    let desc = index
                        .manifests
                        .iter()
                        .find(|d| d.digest == info.digest)
                        .cloned();
                    if let Some(desc) = desc {
                        tags::set_tag(&mut index, key, &desc);
                        self.write_index(&index)?;
                    }
                }
                out.push(LoadedImage {
                    reference: Some(key.clone()),
                    id: info.id.clone(),
                });
            }
        }
        drop(staging);
        Ok(out)
    }
}
