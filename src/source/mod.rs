//! Where desired state comes from: a source yields revisions of a stack (a directory now,
//! a Git repository through `source::git`), each loaded with the CLI's loader. Nothing here
//! touches containers: the daemon's sync controller applies what a source yields.

pub mod dir;
pub mod git;
pub mod hook;
pub mod jitter;
pub mod status;
pub mod watch;

use crate::model::Stack;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default poll interval of a Git source.
pub const GIT_INTERVAL: Duration = Duration::from_secs(180);
/// Default safety-net interval of a directory source (file events do the work).
pub const DIR_INTERVAL: Duration = Duration::from_secs(60);

/// Where a source's files come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum SourceKind {
    Dir {
        path: PathBuf,
    },
    Git {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

/// A source as `rstack sync add` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    pub name: String,
    pub kind: SourceKind,
    /// Stack files relative to the root; empty: the default compose file names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Poll (git) or safety-net (dir) interval, in milliseconds on the wire.
    #[serde(with = "millis")]
    pub interval: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default)]
    pub prune: bool,
    /// Converge drift back (`daemon/sync/heal.rs`): re-apply the applied revision when the
    /// running state drifts from it.
    #[serde(default)]
    pub self_heal: bool,
    /// HMAC secret of the source's webhook (`--webhook-secret-file`). Stored with the
    /// source; the API's views never carry it (they say `webhook: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl SourceSpec {
    /// The project the source's stack runs as: `project`, else the source's name.
    pub fn project_name(&self) -> String {
        crate::spec::normalize_project_name(self.project.as_deref().unwrap_or(&self.name))
    }
}

/// One revision's files, materialized in a directory (`source::git` returns the same type).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkout {
    pub revision: String,
    pub root: PathBuf,
}

/// A revision loaded: its stack, or the loader's error rendered with file:line:col.
#[derive(Debug, Clone)]
pub struct LoadedRevision {
    pub revision: String,
    pub stack: Result<Stack, String>,
}

/// A file the loader read, and its content.
pub type ReadFile = (PathBuf, Vec<u8>);

/// Loads the stack of `spec` from `root` as `rstack up` would there, but with an empty
/// environment (a source must not depend on the daemon's), so only the tree's `.env` counts.
/// Returns the files the loader read, with their content, beside the result.
pub fn load(spec: &SourceSpec, root: &Path) -> (Vec<ReadFile>, Result<Stack, String>) {
    let fs = dir::RecordingFs::default();
    let opts = crate::spec::LoadOptions {
        files: spec.paths.iter().map(|p| root.join(p)).collect(),
        working_dir: root.to_path_buf(),
        project_name: Some(spec.project_name()),
        read_secrets: true,
        host_cpus: Some(crate::spec::this_host_cpus),
        ..Default::default()
    };
    let res = crate::spec::load(&opts, &fs)
        .map(|l| l.stack)
        .map_err(|d| d.to_string());
    (fs.take(), res)
}

/// Loads a checkout (a Git revision): its revision id is the checkout's.
pub fn load_checkout(spec: &SourceSpec, checkout: &Checkout) -> LoadedRevision {
    let (_, stack) = load(spec, &checkout.root);
    LoadedRevision {
        revision: checkout.revision.clone(),
        stack,
    }
}

/// Milliseconds on the wire for a `Duration`.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
