//! The network manager behind the API's `NetworkAdmin`: records as Docker's views, and the
//! manager's errors as the API's failure kinds.

use crate::api::networks::{
    BoxFuture, EndpointView, IpamConfigView, IpamView, NetworkAdmin, NetworkCreateRequest,
    NetworkView, PortView,
};
use crate::api::server::ApiFailure;
use crate::network::{CreateOptions, Endpoint, NetError, NetworkManager, NetworkRecord};
use std::sync::Arc;

pub struct Networks(pub Arc<NetworkManager>);

fn failure(e: NetError) -> ApiFailure {
    let message = e.to_string();
    match e {
        NetError::NotFound(_) | NetError::ExternalMissing(_) => ApiFailure::NotFound(message),
        NetError::InUse { .. }
        | NetError::Exists(_)
        | NetError::Conflict(_)
        | NetError::PoolExhausted
        | NetError::Port(_) => ApiFailure::Conflict(message),
        NetError::Invalid(_) => ApiFailure::BadRequest(message),
        NetError::Kernel(_) => ApiFailure::Internal(message),
        NetError::Io { source, .. } => ApiFailure::Io { message, source },
    }
}

fn view(r: NetworkRecord, endpoints: Vec<Endpoint>) -> NetworkView {
    let prefix = r
        .subnet
        .rsplit_once('/')
        .map(|(_, p)| p.to_string())
        .unwrap_or_else(|| "32".into());
    let mut labels = r.labels.clone();
    if !r.project.is_empty() {
        labels.insert("com.docker.compose.project".into(), r.project.clone());
    }
    let prefix6 = r.subnet6.rsplit_once('/').map(|(_, p)| p.to_string());
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(r.created);
    NetworkView {
        id: r.id,
        created: crate::runtime::log::rfc3339_nanos(t),
        scope: "local".into(),
        driver: "bridge".into(),
        enable_ipv6: !r.subnet6.is_empty(),
        ipam: IpamView {
            driver: "default".into(),
            config: std::iter::once(IpamConfigView {
                subnet: r.subnet,
                gateway: r.gateway,
                ip_range: r.ip_range.unwrap_or_default(),
            })
            .chain((!r.subnet6.is_empty()).then(|| IpamConfigView {
                subnet: r.subnet6,
                gateway: r.gateway6,
                ip_range: r.ip_range6.unwrap_or_default(),
            }))
            .collect(),
        },
        internal: r.internal,
        attachable: r.attachable,
        containers: endpoints
            .into_iter()
            .map(|e| {
                let v = EndpointView {
                    name: String::new(),
                    ipv4_address: format!("{}/{prefix}", e.address),
                    ipv6_address: match (e.address6, &prefix6) {
                        (Some(a), Some(p)) => format!("{a}/{p}"),
                        _ => String::new(),
                    },
                };
                (e.container_id, v)
            })
            .collect(),
        options: Default::default(),
        labels,
        bridge: r.bridge,
        project: r.project,
        name: r.name,
    }
}

impl NetworkAdmin for Networks {
    fn list(&self) -> Vec<NetworkView> {
        self.0.list().into_iter().map(|(r, e)| view(r, e)).collect()
    }

    fn inspect(&self, name: &str) -> Result<NetworkView, ApiFailure> {
        let (r, e) = self.0.inspect(name).map_err(failure)?;
        Ok(view(r, e))
    }

    fn create<'a>(
        &'a self,
        req: &'a NetworkCreateRequest,
    ) -> BoxFuture<'a, Result<NetworkView, ApiFailure>> {
        Box::pin(async move {
            let opts = CreateOptions {
                name: req.name.clone(),
                subnet: req.subnet.clone(),
                gateway: req.gateway.clone(),
                ip_range: req.ip_range.clone(),
                internal: req.internal,
                attachable: req.attachable,
                labels: req.labels.clone(),
                enable_ipv6: req.enable_ipv6,
                subnet6: req.subnet6.clone(),
                gateway6: req.gateway6.clone(),
                ip_range6: req.ip_range6.clone(),
            };
            let r = self.0.create(&opts, "").await.map_err(failure)?;
            Ok(view(r, Vec::new()))
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), ApiFailure>> {
        Box::pin(async move { self.0.remove(name).await.map_err(failure) })
    }

    fn remove_project<'a>(&'a self, project: &'a str) -> BoxFuture<'a, Vec<String>> {
        Box::pin(self.0.remove_project(project))
    }

    fn prune(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(self.0.prune())
    }

    fn diverged(&self, a: &crate::runtime::config::NetAttach) -> bool {
        self.0.diverged(a)
    }

    fn published(&self, container_id: &str) -> Vec<PortView> {
        self.0
            .published(container_id)
            .into_iter()
            .map(|p| PortView {
                host_ip: Some(p.host_ip.to_string()),
                host_port: Some(p.host_port),
                target: p.target,
                protocol: p.protocol,
            })
            .collect()
    }
}
