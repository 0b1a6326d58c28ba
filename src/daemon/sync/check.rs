//! `sync add --dry-run` (`POST /v1/sources?dry_run=true`): what `add` checks, then what the
//! source's task would do first, without writing anything that stays: a directory's stack
//! is loaded; a Git repository is fetched (the real code, into a scratch cache removed
//! afterwards), its ref resolved and the stack of that revision loaded. The answer is the
//! lines to print; a failure is the error the real add or its first sync would meet.

use super::{Controller, SyncError};
use crate::source::{SourceKind, SourceSpec};

impl Controller {
    /// Checks `spec` as `add` and its first sync would; returns what would happen.
    pub async fn check(&self, spec: SourceSpec) -> Result<Vec<String>, SyncError> {
        self.validate(&spec)?;
        let project = spec.project_name();
        let name = spec.name.clone();
        let loaded = match spec.kind.clone() {
            SourceKind::Dir { path } => {
                let s = spec.clone();
                tokio::task::spawn_blocking(move || {
                    let (_, stack) = crate::source::load(&s, &path);
                    stack.map(|st| (format!("directory {}", path.display()), None, st))
                })
                .await
                .map_err(|e| SyncError::Invalid(format!("loading the directory: {e}")))?
            }
            SourceKind::Git { url, reference } => {
                let creds = self
                    .config
                    .credentials_for(&url)
                    .map_err(SyncError::Invalid)?;
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let scratch = self
                    .data_root
                    .join(format!(".sync-check-{}-{nanos:x}", std::process::id()));
                let s = spec.clone();
                tokio::task::spawn_blocking(move || {
                    let checkout = crate::source::git::sync_repo(
                        &url,
                        reference.as_deref(),
                        &scratch,
                        creds.as_ref(),
                    );
                    let out = checkout.map_err(|e| e.to_string()).and_then(|c| {
                        let rev = crate::source::load_checkout(&s, &c);
                        let shown = crate::source::git::redact_url(&url);
                        rev.stack.map(|st| (shown, Some(c.revision), st))
                    });
                    let _ = std::fs::remove_dir_all(&scratch);
                    out
                })
                .await
                .map_err(|e| SyncError::Invalid(format!("fetching the repository: {e}")))?
            }
        };
        let (what, revision, stack) = loaded.map_err(SyncError::Invalid)?;
        let mut out = vec![format!("Source {name}  Would follow {what}")];
        if let Some(r) = revision {
            out.push(format!("Source {name}  Revision {r} resolved"));
        }
        let services: Vec<&str> = stack.services.keys().map(String::as_str).collect();
        out.push(format!(
            "Source {name}  Would apply project {project} ({} services: {})",
            services.len(),
            services.join(", ")
        ));
        // The line every dry run ends with: the verb as the real command reports it.
        out.push(format!("Source {name}  Added"));
        Ok(out)
    }
}
