//! `wait`: block until services' containers stop, and tell how each ended.

use super::conditions::{WaitMode, wait_ready};
use super::engine::ImageSource;
use super::error::ServiceError;
use super::runtime::Runtime;
use super::{Engine, EngineError};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};

/// One container that `wait` saw stop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WaitedContainer {
    pub name: String,
    pub exit_code: i32,
}

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// Resolves once every container of `services` has stopped for good (a restart policy
    /// that brings it back is waited out); the containers in the order they stopped.
    pub async fn wait_services(
        &self,
        project: &str,
        services: &[String],
        first: bool,
    ) -> Result<Vec<WaitedContainer>, EngineError> {
        if services.is_empty() {
            return Err(EngineError::Invalid(
                "wait needs at least one service name".into(),
            ));
        }
        let mut handles = Vec::new();
        for s in services {
            let mine = self.service_handles(project, s);
            if mine.is_empty() {
                return Err(EngineError::NotFound(format!(
                    "service \"{s}\" of project \"{project}\" has no container: run \"rstack up\" first"
                )));
            }
            handles.extend(mine);
        }
        let mut pending: FuturesUnordered<_> = handles
            .into_iter()
            .map(|h| async move {
                let res = wait_ready(h.status.clone(), WaitMode::Exited).await;
                (h.record(), res)
            })
            .collect();
        let mut out = Vec::new();
        while let Some((rec, res)) = pending.next().await {
            res.map_err(|e| EngineError::Failed(vec![ServiceError::new(&rec.service, e)]))?;
            out.push(WaitedContainer {
                name: rec.name,
                exit_code: rec.exit_code.unwrap_or(-1),
            });
            if first {
                break;
            }
        }
        Ok(out)
    }
}
