//! Which stages a build target needs, in an order that builds each after its dependencies.

use super::{Dockerfile, Kind, Stage};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error("target stage {target:?} not found; the stages are: {}", if .names.is_empty() { "(none has an AS name)".to_string() } else { .names.join(", ") })]
    UnknownTarget { target: String, names: Vec<String> },
    #[error("the Dockerfile has no stage")]
    NoStage,
}

impl Dockerfile {
    /// The indices of the stages `target` needs (itself included), ascending, which is a
    /// dependency order: a stage depends only on earlier ones (`parse` rejects a
    /// `COPY --from` of a later stage, and a FROM naming a later stage is an image, as in
    /// Docker). `None` is the last stage. A dependency is a FROM naming an earlier stage
    /// or a `COPY --from`/`RUN --mount=from=` naming one by name or index. Names are
    /// compared as written (unexpanded): a base or `--from` built from an ARG is taken as
    /// an image reference; `stage_order_with` expands bases with the meta args.
    pub fn stage_order(&self, target: Option<&str>) -> Result<Vec<usize>, StageError> {
        self.stage_order_with(target, &BTreeMap::new())
    }

    /// `stage_order`, with FROM lines expanded with `meta` (`Dockerfile::meta_args`), so
    /// `ARG BASE=builder` / `FROM $BASE` depends on the stage `builder`.
    pub fn stage_order_with(
        &self,
        target: Option<&str>,
        meta: &BTreeMap<String, String>,
    ) -> Result<Vec<usize>, StageError> {
        let last = self
            .stages
            .len()
            .checked_sub(1)
            .ok_or(StageError::NoStage)?;
        let start = match target {
            None => last,
            Some(t) => self
                .stage_by_name(t)
                .ok_or_else(|| StageError::UnknownTarget {
                    target: t.to_string(),
                    names: self.stages.iter().filter_map(|s| s.name.clone()).collect(),
                })?,
        };
        let mut need = BTreeSet::new();
        let mut todo = vec![start];
        while let Some(i) = todo.pop() {
            if !need.insert(i) {
                continue;
            }
            todo.extend(self.dependencies(&self.stages[i], meta));
        }
        Ok(need.into_iter().collect())
    }

    /// The stage named `name` (case-insensitive).
    pub fn stage_by_name(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
            .map(|s| s.index)
    }

    /// The earlier stage `reference` (a `--from` value or a base) names, if any.
    pub fn stage_ref(&self, reference: &str, before: usize) -> Option<usize> {
        let i = reference
            .parse::<usize>()
            .ok()
            .or_else(|| self.stage_by_name(reference))?;
        (i < before).then_some(i)
    }

    fn dependencies(&self, stage: &Stage, meta: &BTreeMap<String, String>) -> Vec<usize> {
        let mut deps = Vec::new();
        // A FROM names a stage by name only; `FROM 0` is an image.
        let base = if stage.base.contains('$') {
            self.resolved_base(stage.index, meta)
                .map(|(b, _)| b)
                .unwrap_or_else(|_| stage.base.clone())
        } else {
            stage.base.clone()
        };
        if let Some(i) = self.stage_by_name(&base).filter(|i| *i < stage.index) {
            deps.push(i);
        }
        for ins in &stage.instructions {
            let refs: Vec<&str> = match &ins.kind {
                Kind::Copy(c) => c.from.as_deref().into_iter().collect(),
                Kind::Run(r) => r.mounts.iter().filter_map(|m| mount_from(m)).collect(),
                _ => Vec::new(),
            };
            deps.extend(
                refs.into_iter()
                    .filter_map(|r| self.stage_ref(r, stage.index)),
            );
        }
        deps
    }
}

/// The `from=` of a `--mount` value.
fn mount_from(mount: &str) -> Option<&str> {
    mount.split(',').find_map(|kv| kv.strip_prefix("from="))
}
