//! `/v1/networks`: list, inspect, create, remove and prune networks, the networks part of
//! `down`, and the published ports `ps` and `port` show. The daemon's network manager
//! implements `NetworkAdmin`; which containers are on a network comes back as ids and is
//! named here from the engine's records.

use super::server::{ApiFailure, ServerState};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use axum::Json;
use axum::extract::{Query, State as AxState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// One network as `network ls`/`inspect` show it (Docker's keys, plus rstack's `Bridge` and
/// `Project`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkView {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    /// RFC 3339.
    #[serde(rename = "Created")]
    pub created: String,
    #[serde(rename = "Scope")]
    pub scope: String,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: IpamView,
    #[serde(rename = "Internal")]
    pub internal: bool,
    #[serde(rename = "Attachable")]
    pub attachable: bool,
    /// Container id -> its endpoint.
    #[serde(rename = "Containers")]
    pub containers: BTreeMap<String, EndpointView>,
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, String>,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    /// The bridge on the host.
    #[serde(rename = "Bridge")]
    pub bridge: String,
    /// The project that made it; empty for `network create`.
    #[serde(rename = "Project")]
    pub project: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamView {
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Config")]
    pub config: Vec<IpamConfigView>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamConfigView {
    #[serde(rename = "Subnet")]
    pub subnet: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
    #[serde(rename = "IPRange", skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointView {
    /// The container's name (filled in from the engine's records).
    #[serde(rename = "Name")]
    pub name: String,
    /// `ADDRESS/PREFIX`, as Docker.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// `ADDRESS/PREFIX` on a dual-stack network; empty otherwise, as Docker.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkCreateRequest {
    pub name: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    /// `--ipv6`: dual stack, with the IPv6 subnet, gateway and range given (or from the pool).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enable_ipv6: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range6: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkNamesRequest {
    pub names: Vec<String>,
}

/// A port of a container as `ps` and `port` show it: published (with its host side) or only
/// exposed (`expose:`, no host side).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    pub target: u16,
    pub protocol: String,
}

impl PortView {
    /// Docker's notation: `0.0.0.0:8080->80/tcp`, or `80/tcp` for an exposed port.
    pub fn text(&self) -> String {
        match (&self.host_ip, self.host_port) {
            (Some(ip), Some(hp)) => format!("{ip}:{hp}->{}/{}", self.target, self.protocol),
            _ => format!("{}/{}", self.target, self.protocol),
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The daemon's networks as the API needs them.
pub trait NetworkAdmin: Send + Sync + 'static {
    /// Every network, its containers by id (names left empty).
    fn list(&self) -> Vec<NetworkView>;
    /// A network by name or id (a prefix of 4 characters at least).
    fn inspect(&self, name: &str) -> Result<NetworkView, ApiFailure>;
    fn create<'a>(
        &'a self,
        req: &'a NetworkCreateRequest,
    ) -> BoxFuture<'a, Result<NetworkView, ApiFailure>>;
    /// Removes a network no container is on.
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), ApiFailure>>;
    /// `down`: the project's networks no container is on; their names.
    fn remove_project<'a>(&'a self, project: &'a str) -> BoxFuture<'a, Vec<String>>;
    /// Every network no container is on; their names.
    fn prune(&self) -> BoxFuture<'_, Vec<String>>;
    /// The host ports a running container publishes.
    fn published(&self, container_id: &str) -> Vec<PortView>;
    /// Whether the network `a` names was made by its project from another definition
    /// (it has to be made again: see `super::netchange`).
    fn diverged(&self, a: &crate::runtime::config::NetAttach) -> bool;
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

/// Fills in the names of the containers on `v` from the engine's records.
fn name_containers<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    views: &mut [NetworkView],
) -> Result<(), ApiFailure> {
    if views.iter().all(|v| v.containers.is_empty()) {
        return Ok(());
    }
    let names: BTreeMap<String, String> = st
        .engine
        .list(None)?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    for v in views {
        for (id, e) in v.containers.iter_mut() {
            if let Some(n) = names.get(id) {
                e.name = n.clone();
            }
        }
    }
    Ok(())
}

pub(crate) async fn list<R: Runtime, I: ImageSource>(
    st: St<R, I>,
) -> Result<Json<Vec<NetworkView>>, ApiFailure> {
    let mut v = st.networks.list();
    name_containers(&st, &mut v)?;
    // Docker lists its predefined networks among the others, by name.
    v.extend(super::builtin_networks::views());
    v.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(v))
}

pub(crate) async fn inspect<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<NetworkNamesRequest>,
) -> Result<Json<Vec<NetworkView>>, ApiFailure> {
    let mut out = Vec::new();
    for n in &req.names {
        match (st.networks.inspect(n), super::builtin_networks::find(n)) {
            (Err(ApiFailure::NotFound(_)), Some(v)) => out.push(v),
            (r, _) => out.push(r?),
        }
    }
    name_containers(&st, &mut out)?;
    Ok(Json(out))
}

pub(crate) async fn create<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Json(req): Json<NetworkCreateRequest>,
) -> Result<Json<NetworkView>, ApiFailure> {
    if super::builtin_networks::is_builtin(&req.name) {
        return Err(super::builtin_networks::refuse_creation(&req.name));
    }
    Ok(Json(st.networks.create(&req).await?))
}

pub(crate) async fn remove<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Query(q): Query<PruneQuery>,
    Json(req): Json<NetworkNamesRequest>,
) -> Result<Json<Vec<String>>, ApiFailure> {
    // All are checked before any goes, so a refusal leaves every one in place.
    let mut found = Vec::new();
    for n in &req.names {
        match (st.networks.inspect(n), super::builtin_networks::find(n)) {
            (Err(ApiFailure::NotFound(_)), Some(v)) => {
                return Err(super::builtin_networks::refuse_removal(&v.name));
            }
            (r, _) => found.push(r?),
        }
    }
    name_containers(&st, &mut found)?;
    for v in &found {
        if !v.containers.is_empty() {
            let users: Vec<&str> = v
                .containers
                .iter()
                .map(|(id, e)| if e.name.is_empty() { id } else { &e.name })
                .map(String::as_str)
                .collect();
            return Err(ApiFailure::Conflict(format!(
                "network \"{}\" is in use by container {}: remove the container first (rstack down, or rstack rm)",
                v.name,
                users.join(", ")
            )));
        }
    }
    // `--dry-run network rm`: every check passed, nothing removed.
    if q.dry_run {
        return Ok(Json(req.names));
    }
    for v in &found {
        st.networks.remove(&v.name).await?;
    }
    Ok(Json(req.names))
}

/// `POST /v1/networks/prune?dry_run=true` (`--dry-run`): the networks prune would remove;
/// on `/v1/networks/remove`, the removal's checks without the removal.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PruneQuery {
    #[serde(default)]
    dry_run: bool,
}

pub(crate) async fn prune<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Query(q): Query<PruneQuery>,
) -> Result<Json<Vec<String>>, ApiFailure> {
    if q.dry_run {
        // What prune removes: every network no container is on.
        let mut unused: Vec<String> = st
            .networks
            .list()
            .into_iter()
            .filter(|n| n.containers.is_empty())
            .map(|n| n.name)
            .collect();
        unused.sort();
        return Ok(Json(unused));
    }
    Ok(Json(st.networks.prune().await))
}

/// The ports `ps` shows for a container: those it publishes while it runs, then the ones its
/// service only exposes (`expose:`), as Docker lists both.
pub(crate) fn ports<R: Runtime, I: ImageSource>(
    st: &ServerState<R, I>,
    r: &crate::store::ContainerRecord,
) -> Vec<PortView> {
    if !matches!(
        r.state,
        crate::store::State::Running | crate::store::State::Restarting
    ) {
        return Vec::new();
    }
    with_exposed(st.networks.published(&r.id), &r.service_def.net.expose)
}

/// `published`, then each port of `expose` (`80`, `53/udp`, `8000-8002`) not published.
fn with_exposed(published: Vec<PortView>, expose: &[String]) -> Vec<PortView> {
    let mut out = published;
    for e in expose {
        let (port, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
        // A range shows as its ports, as Docker does.
        let (a, b) = port.split_once('-').unwrap_or((port, port));
        let (Ok(a), Ok(b)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>()) else {
            continue;
        };
        for target in a..=b.max(a) {
            if !out
                .iter()
                .any(|p| p.target == target && p.protocol == proto)
            {
                out.push(PortView {
                    host_ip: None,
                    host_port: None,
                    target,
                    protocol: proto.to_string(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{PortView, with_exposed};

    #[test]
    fn exposed_ports_follow_the_published_ones_once_each() {
        let published = vec![PortView {
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(8080),
            target: 80,
            protocol: "tcp".into(),
        }];
        let expose = [
            "80".to_string(),
            "53/udp".into(),
            "7000-7001".into(),
            "x".into(),
        ];
        let got: Vec<String> = with_exposed(published, &expose)
            .iter()
            .map(PortView::text)
            .collect();
        assert_eq!(
            got,
            ["0.0.0.0:8080->80/tcp", "53/udp", "7000/tcp", "7001/tcp"]
        );
    }

    #[test]
    fn ports_read_like_docker() {
        let p = PortView {
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(49153),
            target: 80,
            protocol: "tcp".into(),
        };
        assert_eq!(p.text(), "0.0.0.0:49153->80/tcp");
        let e = PortView {
            target: 53,
            protocol: "udp".into(),
            ..PortView::default()
        };
        assert_eq!(e.text(), "53/udp");
    }
}
