//! The API's `ImageTools` and `RegistrySearch` on the image store and `[registry]`
//! settings: store answers become API views, registry errors 502 answers (4xx for the
//! client's own mistakes).

use std::collections::{BTreeMap, HashSet};

use super::adapter::Images;
use super::registry::Registries;
use crate::api::images::{
    HistoryRow, ImageTools, LoadedView, PruneReport, RegistrySearch, RemoveReport, SaveWriter,
    SearchAnswer, SearchRepository,
};
use crate::api::server::ApiFailure;
use crate::image::registry::{self, RegistryError};

impl ImageTools for Images {
    fn tag(&self, source: &str, target: &str) -> Result<String, ApiFailure> {
        Ok(self.0.tag(source, target)?)
    }

    fn inspect(&self, reference: &str) -> Result<serde_json::Value, ApiFailure> {
        Ok(self.0.inspect(reference)?)
    }

    fn history(&self, reference: &str) -> Result<Vec<HistoryRow>, ApiFailure> {
        Ok(self
            .0
            .history(reference)?
            .into_iter()
            .map(|r| HistoryRow {
                id: r.id,
                created: r.created,
                created_by: r.created_by,
                size: r.size,
                comment: r.comment,
                empty_layer: r.empty_layer,
            })
            .collect())
    }

    fn image_tags(&self, reference: &str) -> Result<(String, Vec<String>), ApiFailure> {
        let v = self.0.inspect(reference)?;
        let id = v["Id"].as_str().unwrap_or_default().to_string();
        let tags = v["RepoTags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok((id, tags))
    }

    fn remove_image(
        &self,
        reference: &str,
        keep_untagged: bool,
    ) -> Result<RemoveReport, ApiFailure> {
        let r = self.0.remove_image(reference, keep_untagged)?;
        Ok(RemoveReport {
            untagged: r.untagged,
            deleted: r.deleted,
            reclaimed: r.reclaimed,
        })
    }

    fn prune(
        &self,
        all: bool,
        in_use: &HashSet<String>,
        dry_run: bool,
    ) -> Result<PruneReport, ApiFailure> {
        let p = self.0.prune(all, in_use, dry_run)?;
        Ok(PruneReport {
            deleted: p.deleted,
            reclaimed: p.reclaimed,
        })
    }

    fn save(&self, references: &[String]) -> Result<SaveWriter, ApiFailure> {
        let plan = self.0.save_plan(references)?;
        Ok(Box::new(move |out| {
            plan.write(out).map_err(|e| e.to_string())
        }))
    }

    fn load(&self, archive: &std::path::Path, name: &str) -> Result<Vec<LoadedView>, ApiFailure> {
        Ok(self
            .0
            .load_archive(archive, name)?
            .into_iter()
            .map(|l| LoadedView {
                reference: l.reference,
                id: l.id,
            })
            .collect())
    }
}

impl RegistrySearch for Registries {
    fn search(
        &self,
        term: &str,
        auths: &BTreeMap<String, String>,
    ) -> Result<SearchAnswer, ApiFailure> {
        let (name, hits) = registry::search(&self.settings, term, auths).map_err(failure)?;
        Ok(SearchAnswer {
            registry: name,
            repositories: hits
                .into_iter()
                .map(|h| SearchRepository {
                    name: h.name,
                    tags: h.tags,
                })
                .collect(),
        })
    }
}

fn failure(e: RegistryError) -> ApiFailure {
    match e {
        RegistryError::Image(e) => e.into(),
        other => ApiFailure::Upstream(other.to_string()),
    }
}
