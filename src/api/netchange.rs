//! `up` with a network whose definition changed in the stack file: as compose's
//! `removeDivergedNetwork`, the project's containers on it are taken down and it is removed,
//! so that `up` makes it again from the new definition, with new containers on it.

use super::server::{ApiFailure, ServerState};
use crate::model::Stack;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::netchange::{network_requests, on_networks};
use crate::reconcile::runtime::Runtime;

/// The networks of `stack` whose definition changed, and the containers of its project on
/// them (what `up` takes down to make them again). A diverged network that another
/// project's container is on is refused with what to do.
pub(crate) fn diverged<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    stack: &Stack,
) -> Result<(Vec<String>, Vec<String>), ApiFailure> {
    let diverged: Vec<String> = network_requests(stack)
        .into_iter()
        .filter(|a| st.networks.diverged(a))
        .map(|a| a.name)
        .collect();
    if diverged.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let (ours, others): (Vec<_>, Vec<_>) = st
        .engine
        .list(None)?
        .into_iter()
        .filter(|r| on_networks(r, &diverged))
        .partition(|r| r.project == stack.name);
    // Others' containers keep a network in place: refuse before touching ours.
    if !others.is_empty() {
        let others: Vec<String> = others.into_iter().map(|r| r.name).collect();
        return Err(ApiFailure::Conflict(format!(
            "network {} was found but has incompatible configuration: it needs to be recreated, but container {} of another project is on it; remove that container first",
            diverged.join(", "),
            others.join(", ")
        )));
    }
    Ok((diverged, ours.into_iter().map(|r| r.name).collect()))
}

/// Removes the diverged networks of `stack` and the containers of its project on them.
/// Returns the networks removed. A diverged network that another project's container is on
/// is refused with what to do: nothing of this project is removed then.
pub(crate) async fn remove_diverged<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    stack: &Stack,
) -> Result<Vec<String>, ApiFailure> {
    let (diverged, _) = diverged(st, stack)?;
    if diverged.is_empty() {
        return Ok(Vec::new());
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

/// A dry run's plan with the diverged networks accounted for: the containers on them would
/// be recreated with them (the real `up` removes them first, then makes them again).
pub(crate) fn recreated_with(
    resp: &mut crate::reconcile::UpResponse,
    networks: &[String],
    containers: &[String],
) {
    let why = format!("network {} recreated", networks.join(", "));
    for r in resp.actions.iter_mut() {
        if !containers.contains(&r.container) || r.action == "removed" {
            continue;
        }
        if matches!(r.action.as_str(), "running" | "started") {
            r.action = "recreated".into();
        }
        r.reasons.push(why.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{ActionReport, UpResponse};

    fn act(c: &str, action: &str) -> ActionReport {
        ActionReport {
            container: c.into(),
            service: "s".into(),
            action: action.into(),
            reasons: Vec::new(),
        }
    }

    #[test]
    fn containers_on_a_recreated_network_are_recreated_with_why() {
        let mut resp = UpResponse {
            actions: vec![
                act("a", "running"),
                act("b", "recreated"),
                act("c", "running"),
            ],
            warnings: Vec::new(),
        };
        recreated_with(&mut resp, &["p_back".into()], &["a".into(), "b".into()]);
        let got: Vec<(&str, &str, Vec<String>)> = resp
            .actions
            .iter()
            .map(|r| (r.container.as_str(), r.action.as_str(), r.reasons.clone()))
            .collect();
        let why = vec!["network p_back recreated".to_string()];
        assert_eq!(
            got,
            [
                ("a", "recreated", why.clone()),
                ("b", "recreated", why),
                ("c", "running", vec![])
            ]
        );
    }
}
