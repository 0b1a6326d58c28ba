//! When each image was last pulled, and what `up` needs to know of a stored image to apply a
//! service's `pull_policy` and `platform` (`ImageStore::pull_status`). The pull time is an
//! annotation of the image's entry in index.json, written by a successful pull; an image
//! that was imported (or tagged) has none, so age-based policies pull it.

use super::{INDEX_LOCK, ImageStore};
use crate::image::error::ImageError;
use crate::image::oci::REF_NAME;

/// Index annotation: unix seconds of the last successful pull of this tag.
pub(crate) const PULLED_AT: &str = "io.rstack.image.pulled";

/// What `up` checks of a stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullStatus {
    /// `sha256:<hex>` of the config (the image id).
    pub id: String,
    /// Unix seconds of its last pull; `None` if it was never pulled (imported).
    pub pulled_at: Option<u64>,
    /// `os/architecture[/variant]` from its config (empty parts when it names none).
    pub platform: String,
}

impl ImageStore {
    /// The status of the image `reference` names; `None` if the store has no such image.
    pub fn pull_status(&self, reference: &str) -> Result<Option<PullStatus>, ImageError> {
        let index = self.read_index()?;
        let found = match self.lookup(&index, reference) {
            Ok(f) => f,
            Err(ImageError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(d) = found.first().and_then(|(i, _)| index.manifests.get(*i)) else {
            return Ok(None);
        };
        let loaded = self.load(&d.digest)?;
        let c = &loaded.config;
        let mut platform = format!("{}/{}", c.os, c.architecture);
        if let Some(v) = &c.variant {
            platform.push('/');
            platform.push_str(v);
        }
        Ok(Some(PullStatus {
            id: format!("sha256:{}", loaded.config_hex),
            pulled_at: d.annotations.get(PULLED_AT).and_then(|s| s.parse().ok()),
            platform,
        }))
    }

    /// Records that the tag `key` (a normalized reference) was pulled at `unix_secs`.
    pub(crate) fn mark_pulled(&self, key: &str, unix_secs: u64) -> Result<(), ImageError> {
        let _index = self.lock(INDEX_LOCK, true)?;
        let mut index = self.read_index()?;
        let Some(d) = index
            .manifests
            .iter_mut()
            .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(key))
        else {
            return Ok(());
        };
        d.annotations
            .insert(PULLED_AT.to_string(), unix_secs.to_string());
        self.write_index(&index)
    }
}
