//! A network whose definition changed in the stack file: compose removes it and makes it
//! again at `up` (`removeDivergedNetwork`), after taking down the containers on it, which
//! `up` then makes again on the new network. Here: the networks a stack asks for (pure,
//! from `plan::net`), and the removal of a project's containers on given networks.

use super::runtime::Runtime;
use super::{Engine, EngineError, engine::ImageSource};
use crate::model::Stack;
use crate::runtime::config::NetAttach;
use crate::store::ContainerRecord;

/// Every network the services of `stack` attach to, with its definition, each once.
pub fn network_requests(stack: &Stack) -> Vec<NetAttach> {
    let mut out: Vec<NetAttach> = Vec::new();
    for svc in stack.services.values() {
        let req = crate::plan::net::request(&stack.name, "", "", svc, false);
        for a in req.networks {
            if !out.iter().any(|o| o.name == a.name) {
                out.push(a);
            }
        }
    }
    out
}

/// Whether container `r` is attached to one of `networks`.
pub fn on_networks(r: &ContainerRecord, networks: &[String]) -> bool {
    r.config
        .network
        .request
        .as_ref()
        .is_some_and(|q| q.networks.iter().any(|a| networks.contains(&a.name)))
}

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// Stops and removes the containers of `project` (one-offs too) attached to any of
    /// `networks`; returns their names.
    pub async fn remove_on_networks(
        &self,
        project: &str,
        networks: &[String],
    ) -> Result<Vec<String>, EngineError> {
        let _g = self.lock(project).await;
        let targets: Vec<ContainerRecord> = self
            .records(Some(project))?
            .into_iter()
            .filter(|r| on_networks(r, networks))
            .collect();
        futures_util::future::join_all(targets.iter().map(|r| self.remove_container(r, None)))
            .await;
        Ok(targets.into_iter().map(|r| r.name).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NetworkDef, Service, ServiceNetwork};

    #[test]
    fn each_network_once_with_its_definition() {
        let mut stack = Stack {
            name: "p".into(),
            ..Stack::default()
        };
        let back = NetworkDef {
            name: "p_back".into(),
            project: "p".into(),
            internal: true,
            ..NetworkDef::default()
        };
        for name in ["a", "b"] {
            let mut s = Service::new(name, "busybox");
            s.net.networks.insert(
                "back".into(),
                ServiceNetwork {
                    network: back.clone(),
                    ..ServiceNetwork::default()
                },
            );
            stack.services.insert(name.into(), s);
        }
        stack
            .services
            .insert("c".into(), Service::new("c", "busybox"));
        let got = network_requests(&stack);
        let names: Vec<&str> = got.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["p_back", "p_default"]);
        assert!(got[0].internal);
    }
}
