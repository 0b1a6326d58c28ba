//! `image save`: one tar that both Docker's and OCI tools read. It is an OCI image layout
//! (`oci-layout`, `index.json` with each name as `io.containerd.image.name` and
//! `org.opencontainers.image.ref.name`, `blobs/sha256/`) that also holds docker-save's
//! `manifest.json` (Config, RepoTags, Layers naming the same blob files), as `docker save`
//! has written since Docker 25. Blobs are the stored ones, byte for byte, so digests and ids
//! survive a save and load. The tar is streamed from the blob files, never held in memory.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use super::error::{ImageError, io_err, json_err};
use super::oci::{
    CONTAINERD_NAME, Descriptor, DockerSaveEntry, Index, MT_MANIFEST, REF_NAME, sha256_of,
};
use super::reference::Reference;
use super::store::ImageStore;
use super::tags;

/// What a save will write, checked before the first byte goes out (so an unknown reference
/// is a clean error, not a truncated archive).
pub struct SavePlan {
    /// Blob paths in archive order (manifests, configs, layers), each once.
    blobs: Vec<(String, PathBuf)>,
    index: Index,
    manifest_json: Vec<DockerSaveEntry>,
}

fn blob_key(digest: &str) -> Result<String, ImageError> {
    sha256_of(digest)
        .map(|h| format!("blobs/sha256/{h}"))
        .ok_or_else(|| ImageError::Corrupt {
            reason: format!("bad digest {digest}"),
        })
}

impl ImageStore {
    /// Resolves the references of a save: every one must name a stored image.
    pub fn save_plan(&self, references: &[String]) -> Result<SavePlan, ImageError> {
        let stored = self.read_index()?;
        let mut plan = SavePlan {
            blobs: Vec::new(),
            index: Index::empty(),
            manifest_json: Vec::new(),
        };
        let mut seen = HashSet::new();
        let mut add = |plan: &mut SavePlan, digest: &str| -> Result<String, ImageError> {
            let key = blob_key(digest)?;
            if seen.insert(key.clone()) {
                let hex = sha256_of(digest).unwrap_or_default();
                plan.blobs.push((key.clone(), self.blob_path(hex)));
            }
            Ok(key)
        };
        for reference in references {
            let found = self.lookup(&stored, reference)?;
            let Some(desc) = found.first().and_then(|(i, _)| stored.manifests.get(*i)) else {
                return Err(ImageError::NotFound {
                    reference: reference.clone(),
                });
            };
            // A tag saves that name; an id saves the image with all its tags.
            let names: Vec<String> = match found.first() {
                Some((_, shown)) if !reference.starts_with("sha256:") => vec![shown.clone()],
                _ => tags::tags_of(&stored, &desc.digest),
            };
            let loaded = self.load(&desc.digest)?;
            add(&mut plan, &desc.digest)?;
            let config = add(&mut plan, &loaded.manifest.config.digest)?;
            let mut layers = Vec::new();
            for l in &loaded.manifest.layers {
                layers.push(add(&mut plan, &l.digest)?);
            }
            let entry = Descriptor {
                media_type: if desc.media_type.is_empty() {
                    MT_MANIFEST.to_string()
                } else {
                    desc.media_type.clone()
                },
                digest: desc.digest.clone(),
                size: desc.size,
                annotations: BTreeMap::new(),
                platform: None,
            };
            if names.is_empty() {
                plan.index.manifests.push(entry.clone());
            }
            for n in &names {
                let mut e = entry.clone();
                let r = Reference::parse(n)?;
                let tag = r.tag.clone().unwrap_or_else(|| "latest".to_string());
                e.annotations.insert(
                    CONTAINERD_NAME.to_string(),
                    format!("{}/{}:{tag}", r.domain, r.path),
                );
                e.annotations.insert(REF_NAME.to_string(), n.clone());
                if !plan.index.manifests.contains(&e) {
                    plan.index.manifests.push(e);
                }
            }
            match plan.manifest_json.iter_mut().find(|m| m.config == config) {
                Some(m) => m.repo_tags.get_or_insert_default().extend(names),
                None => plan.manifest_json.push(DockerSaveEntry {
                    config,
                    repo_tags: Some(names),
                    layers,
                }),
            }
        }
        Ok(plan)
    }
}

impl SavePlan {
    /// Writes the archive to `out`.
    pub fn write(&self, out: impl Write) -> Result<(), ImageError> {
        let mut tar = tar::Builder::new(out);
        let file = |tar: &mut tar::Builder<_>, path: &str, bytes: &[u8]| {
            let mut h = header(bytes.len() as u64);
            tar.append_data(&mut h, path, bytes)
                .map_err(io_err(format!("writing {path} to the archive")))
        };
        file(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        for dir in ["blobs", "blobs/sha256"] {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_cksum();
            tar.append_data(&mut h, format!("{dir}/"), std::io::empty())
                .map_err(io_err("writing the archive"))?;
        }
        for (key, path) in &self.blobs {
            let f = File::open(path).map_err(|e| ImageError::Corrupt {
                reason: format!("blob {}: {e}", path.display()),
            })?;
            let len = f
                .metadata()
                .map_err(io_err(format!("reading {}", path.display())))?;
            let mut h = header(len.len());
            tar.append_data(&mut h, key, f)
                .map_err(io_err(format!("writing {key} to the archive")))?;
        }
        let index = serde_json::to_vec(&self.index).map_err(json_err("serializing index.json"))?;
        file(&mut tar, "index.json", &index)?;
        let manifest = serde_json::to_vec(&self.manifest_json)
            .map_err(json_err("serializing manifest.json"))?;
        file(&mut tar, "manifest.json", &manifest)?;
        tar.into_inner()
            .and_then(|mut w| w.flush())
            .map_err(io_err("finishing the archive"))
    }
}

fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_cksum();
    h
}
