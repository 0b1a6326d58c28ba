//! `--dry-run down`: what `apply_down` would remove for the same request, found without
//! touching anything, so that the dry run says what the real `down` does (orphans kept
//! without `--remove-orphans`, the networks they hold "still in use", `-v` volumes, the
//! `--rmi` images that would go or be refused).

use super::networks::NetworkView;
use super::server::{ApiFailure, ServerState};
use super::types::{DownRequest, DownResponse};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use std::collections::BTreeSet;
use std::sync::Arc;

pub(crate) async fn plan<R: Runtime, I: ImageSource>(
    st: &Arc<ServerState<R, I>>,
    project: &str,
    req: &DownRequest,
) -> Result<DownResponse, ApiFailure> {
    let going: Vec<_> = st
        .engine
        .list(Some(project))?
        .into_iter()
        .filter(|r| !req.keep.contains(&r.name))
        .collect();
    let ids: BTreeSet<String> = going.iter().map(|r| r.id.clone()).collect();
    let containers: Vec<String> = going.into_iter().map(|r| r.name).collect();
    let (networks, networks_in_use) = networks(&st.networks.list(), project, &ids);
    let volumes = match req.volumes {
        true => super::volumes::would_remove_project(st, project, &containers).await?,
        false => Vec::new(),
    };
    let (images, images_refused) = images(st, &req.images, &containers).await?;
    Ok(DownResponse {
        containers,
        networks,
        volumes,
        networks_in_use,
        images,
        images_refused,
        ..Default::default()
    })
}

/// `--rmi`'s images as the CLI's removal after the containers would find them: checked as
/// `image rm` checks them, the containers `down` removes no longer counting as users.
async fn images<R: Runtime, I: ImageSource>(
    st: &Arc<ServerState<R, I>>,
    refs: &[String],
    gone: &[String],
) -> Result<(Vec<String>, Vec<(String, String)>), ApiFailure> {
    let (mut go, mut refused) = (Vec::new(), Vec::new());
    for r in refs {
        match super::images::check_remove(st, r, false, gone).await {
            Ok(_) => go.push(r.clone()),
            // As the real `down`: an image already gone is passed over.
            Err(ApiFailure::NotFound(_)) => {}
            Err(ApiFailure::Conflict(m)) => refused.push((r.clone(), m)),
            Err(e) => return Err(e),
        }
    }
    Ok((go, refused))
}

/// The project's networks split into those that would go (no container but those of `going`
/// on them) and those a remaining container still holds, as `remove_project` would find them.
fn networks(
    all: &[NetworkView],
    project: &str,
    going: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    let (free, held): (Vec<&NetworkView>, Vec<&NetworkView>) = all
        .iter()
        .filter(|n| n.project == project)
        .partition(|n| n.containers.keys().all(|id| going.contains(id)));
    let names = |v: Vec<&NetworkView>| v.into_iter().map(|n| n.name.clone()).collect();
    (names(free), names(held))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, project: &str, on: &[&str]) -> NetworkView {
        NetworkView {
            name: name.into(),
            project: project.into(),
            containers: on
                .iter()
                .map(|id| (id.to_string(), Default::default()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_network_a_remaining_container_is_on_stays_in_use() {
        let all = [
            net("p_default", "p", &["a", "orphan"]),
            net("p_back", "p", &["a"]),
            net("p_empty", "p", &[]),
            net("q_default", "q", &["x"]),
            net("shared", "", &["a"]),
        ];
        let going: BTreeSet<String> = ["a".to_string()].into();
        assert_eq!(
            networks(&all, "p", &going),
            (
                vec!["p_back".to_string(), "p_empty".into()],
                vec!["p_default".to_string()]
            )
        );
        let going: BTreeSet<String> = ["a".to_string(), "orphan".into()].into();
        assert_eq!(networks(&all, "p", &going).1, Vec::<String>::new());
    }
}
