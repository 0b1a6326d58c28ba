//! `rm`: removes a project's stopped service containers (compose's `docker compose rm`).
//! Running ones are left alone; the CLI stops them first for `rm -s`.

use super::runtime::Runtime;
use super::{Engine, EngineError, engine::ImageSource};
use crate::store::{ContainerRecord, State};

/// Whether `rm` takes a container: it is not running, starting or about to restart
/// (compose removes every container whose state is not `running`).
pub fn removable(r: &ContainerRecord) -> bool {
    matches!(r.state, State::Created | State::Exited | State::Dead)
}

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// Removes the stopped service containers of `project` among `services` (all when
    /// empty) and, when `names` is not empty, only those named (the ones the user confirmed).
    /// Their anonymous volumes go too only with `volumes` (`rm -v`).
    /// Returns the removed containers' names.
    pub async fn remove_stopped(
        &self,
        project: &str,
        services: &[String],
        names: &[String],
        volumes: bool,
    ) -> Result<Vec<String>, EngineError> {
        let _g = self.lock(project).await;
        let targets: Vec<ContainerRecord> = self
            .records(Some(project))?
            .into_iter()
            .filter(|r| !r.one_off && removable(r))
            .filter(|r| services.is_empty() || services.contains(&r.service))
            .filter(|r| names.is_empty() || names.contains(&r.name))
            .collect();
        futures_util::future::join_all(
            targets
                .iter()
                .map(|r| self.remove_container_keeping(r, None, |_| !volumes)),
        )
        .await;
        Ok(targets.into_iter().map(|r| r.name).collect())
    }
}
