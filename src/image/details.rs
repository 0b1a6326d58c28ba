//! What `image inspect` and `image history` show of a stored image: its config (read as
//! plain JSON, so every field survives, modelled or not), its manifest and tags, and the
//! config's `history` matched with the layers it made.

use serde::Serialize;
use serde_json::{Value, json};

use super::error::{ImageError, json_err};
use super::layer;
use super::oci::{ConfigFile, sha256_of};
use super::reference::Reference;
use super::store::{ImageStore, UNPACKED_SIZE};
use super::tags;

/// One row of `image history`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// The image id on the newest row, `<missing>` on the others (as docker shows an image
    /// it did not build itself).
    pub id: String,
    pub created: Option<String>,
    pub created_by: String,
    /// Unpacked size of the layer the step made; 0 for a config-only step.
    pub size: u64,
    pub comment: String,
    /// The step changed only the config.
    pub empty_layer: bool,
    /// diff_id of the layer the step made.
    pub layer: Option<String>,
}

impl ImageStore {
    /// `image inspect`: docker's shape (Id, RepoTags, RepoDigests, Created, Architecture, Os,
    /// Size, Config, RootFS, History) plus the manifest (digest, media type, layers).
    pub fn inspect(&self, reference: &str) -> Result<Value, ImageError> {
        let index = self.read_index()?;
        let found = self.lookup(&index, reference)?;
        let Some(desc) = found.first().and_then(|(i, _)| index.manifests.get(*i)) else {
            return Err(ImageError::NotFound {
                reference: reference.to_string(),
            });
        };
        let loaded = self.load(&desc.digest)?;
        let raw: Value =
            serde_json::from_slice(&self.read_blob(&loaded.config_hex, "config")?).map_err(
                json_err(format!("parsing image config sha256:{}", loaded.config_hex)),
            )?;
        let repo_tags = tags::tags_of(&index, &desc.digest);
        let mut repo_digests: Vec<String> = repo_tags
            .iter()
            .filter_map(|t| Reference::parse(t).ok())
            .map(|r| format!("{}@{}", r.familiar_name(), desc.digest))
            .collect();
        repo_digests.dedup();
        let size = match desc
            .annotations
            .get(UNPACKED_SIZE)
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(n) => n,
            None => self.layers_size(&loaded.config),
        };
        let field = |k: &str| raw.get(k).cloned().unwrap_or(Value::Null);
        Ok(json!({
            "Id": format!("sha256:{}", loaded.config_hex),
            "RepoTags": repo_tags,
            "RepoDigests": repo_digests,
            "Created": field("created"),
            "Author": field("author"),
            "Architecture": field("architecture"),
            "Variant": field("variant"),
            "Os": field("os"),
            "Size": size,
            "Config": field("config"),
            "RootFS": {
                "Type": raw.pointer("/rootfs/type").cloned().unwrap_or(json!("layers")),
                "Layers": loaded.config.rootfs.diff_ids,
            },
            "History": field("history"),
            "Manifest": {
                "Digest": desc.digest,
                "MediaType": desc.media_type,
                "Size": desc.size,
                "Config": loaded.manifest.config,
                "Layers": loaded.manifest.layers,
            },
        }))
    }

    /// `image history`: the config's history, newest first, each step that made a layer
    /// with that layer's unpacked size. An image without history (an import of a plain
    /// rootfs tar by an older release) shows one row per layer.
    pub fn history(&self, reference: &str) -> Result<Vec<HistoryRow>, ImageError> {
        let index = self.read_index()?;
        let found = self.lookup(&index, reference)?;
        let Some(desc) = found.first().and_then(|(i, _)| index.manifests.get(*i)) else {
            return Err(ImageError::NotFound {
                reference: reference.to_string(),
            });
        };
        let loaded = self.load(&desc.digest)?;
        let id = format!("sha256:{}", loaded.config_hex);
        let sizes: Vec<(String, u64)> = loaded
            .config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| (d.clone(), self.layer_size(d)))
            .collect();
        Ok(history_rows(&loaded.config, &sizes, &id))
    }

    fn layer_size(&self, diff_id: &str) -> u64 {
        sha256_of(diff_id)
            .map(|hex| layer::unpacked_size(&self.layer_path(hex)).unwrap_or(0))
            .unwrap_or(0)
    }

    pub(super) fn layers_size(&self, config: &ConfigFile) -> u64 {
        config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| self.layer_size(d))
            .sum()
    }
}

/// Matches history entries (oldest first) with the layers (`diff_id`, size) in order: each
/// entry that is not `empty_layer` made the next layer. Returns rows newest first.
pub(crate) fn history_rows(
    config: &ConfigFile,
    layers: &[(String, u64)],
    id: &str,
) -> Vec<HistoryRow> {
    let mut rows = Vec::new();
    let mut next = layers.iter();
    if config.history.is_empty() {
        for (diff, size) in layers {
            rows.push(HistoryRow {
                id: String::new(),
                created: config.created.clone(),
                created_by: String::new(),
                size: *size,
                comment: String::new(),
                empty_layer: false,
                layer: Some(diff.clone()),
            });
        }
    } else {
        for h in &config.history {
            let made = if h.empty_layer { None } else { next.next() };
            rows.push(HistoryRow {
                id: String::new(),
                created: h.created.clone(),
                created_by: h.created_by.clone().unwrap_or_default(),
                size: made.map_or(0, |(_, s)| *s),
                comment: h.comment.clone().unwrap_or_default(),
                empty_layer: h.empty_layer,
                layer: made.map(|(d, _)| d.clone()),
            });
        }
    }
    rows.reverse();
    for (i, r) in rows.iter_mut().enumerate() {
        r.id = if i == 0 {
            id.to_string()
        } else {
            "<missing>".to_string()
        };
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::oci::History;

    #[test]
    fn history_pairs_steps_with_layers_newest_first() {
        let config = ConfigFile {
            history: vec![
                History {
                    created_by: Some("ADD rootfs /".into()),
                    ..History::default()
                },
                History {
                    created_by: Some("ENV A=1".into()),
                    empty_layer: true,
                    ..History::default()
                },
                History {
                    created_by: Some("RUN make".into()),
                    comment: Some("built".into()),
                    ..History::default()
                },
            ],
            ..ConfigFile::default()
        };
        let layers = [("sha256:a".to_string(), 10), ("sha256:b".to_string(), 20)];
        let rows = history_rows(&config, &layers, "sha256:img");
        let shape: Vec<(&str, &str, u64, Option<&str>)> = rows
            .iter()
            .map(|r| {
                (
                    r.id.as_str(),
                    r.created_by.as_str(),
                    r.size,
                    r.layer.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("sha256:img", "RUN make", 20, Some("sha256:b")),
                ("<missing>", "ENV A=1", 0, None),
                ("<missing>", "ADD rootfs /", 10, Some("sha256:a")),
            ]
        );
        assert_eq!(rows[0].comment, "built");
    }

    #[test]
    fn no_history_shows_one_row_per_layer() {
        let config = ConfigFile {
            created: Some("2024-01-01T00:00:00Z".into()),
            ..ConfigFile::default()
        };
        let layers = [("sha256:a".to_string(), 1), ("sha256:b".to_string(), 2)];
        let rows = history_rows(&config, &layers, "sha256:img");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].layer.as_deref(), Some("sha256:b"));
        assert_eq!(rows[1].id, "<missing>");
        assert_eq!(rows[1].created.as_deref(), Some("2024-01-01T00:00:00Z"));
    }
}
