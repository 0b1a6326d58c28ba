//! `up` with a network whose definition changed in the stack file: as compose's
//! `removeDivergedNetwork`, the project's containers on it are taken down and it is removed,
//! so that `up` makes it again from the new definition, with new containers on it.

use super::server::{ApiFailure, ServerState};
use crate::model::Stack;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::netchange::network_requests;
use crate::reconcile::runtime::Runtime;

/// Removes the diverged networks of `stack` and the containers of its project on them.
/// Returns the networks removed. A diverged network that another project's container is on
/// is refused with what to do: nothing of this project is removed then.
pub(crate) async fn remove_diverged<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    stack: &Stack,
) -> Result<Vec<String>, ApiFailure> {
    let diverged: Vec<String> = network_requests(stack)
        .into_iter()
        .filter(|a| st.networks.diverged(a))
        .map(|a| a.name)
        .collect();
    if diverged.is_empty() {
        return Ok(Vec::new());
    }
    // Others' containers keep a network in place: refuse before touching ours.
    let others: Vec<String> = st
        .engine
        .list(None)?
        .into_iter()
        .filter(|r| r.project != stack.name)
        .filter(|r| {
            r.config
                .network
                .request
                .as_ref()
                .is_some_and(|q| q.networks.iter().any(|a| diverged.contains(&a.name)))
        })
        .map(|r| r.name)
        .collect();
    if !others.is_empty() {
        return Err(ApiFailure::Conflict(format!(
            "network {} was found but has incompatible configuration: it needs to be recreated, but container {} of another project is on it; remove that container first",
            diverged.join(", "),
            others.join(", ")
        )));
    }
    st.engine.remove_on_networks(&stack.name, &diverged).await?;
    for n in &diverged {
        st.networks.remove(n).await.map_err(|e| {
            ApiFailure::Conflict(format!(
                "network {n} was found but has incompatible configuration and could not be recreated: {e}"
            ))
        })?;
    }
    Ok(diverged)
}
