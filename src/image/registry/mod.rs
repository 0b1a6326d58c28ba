//! Pulling and pushing images over the OCI distribution API, and checking logins.
//!
//! Where images come from: a docker.io reference tries each configured mirror first, then
//! Docker Hub (`registry-1.docker.io`); any other reference its own registry. Plain HTTP is
//! used for loopback registries (127.0.0.0/8, `localhost`, `::1`) and the hosts listed as
//! insecure, https (rustls, Mozilla's roots) for the others.
//!
//! Credentials come with each request (the CLI reads the user's `~/.docker/config.json`
//! `auths` and sends them): the daemon never reads a user's home.

pub mod auth;
mod check;
mod error;
mod http;
mod manifest;
pub mod progress;
mod pull;
mod push;
mod resume;
mod search;
mod session;
mod stream;
mod tls;

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use auth::Credentials;
pub use check::{pull_check, push_check};
pub use error::RegistryError;
pub use progress::Event;
pub use pull::pull;
pub use push::push;
pub use search::{SearchHit, search};

use http::{Body, Url};
use session::Session;

/// Docker Hub's registry API endpoint (the `docker.io` of references).
const DOCKER_HUB: &str = "https://registry-1.docker.io";

/// Daemon settings for registries (`[registry]` in rstack.toml).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Mirrors of docker.io (`http://host:port` or `https://host`), tried in order.
    pub mirrors: Vec<String>,
    /// `host[:port]` of registries reached over plain HTTP.
    pub insecure: Vec<String>,
}

/// The platform a pull asks for of a multi-platform image (names normalized as OCI's:
/// `amd64`, `arm64`; an arm64 `v8` variant is no variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// linux on the host's architecture: what a pull without `platform` takes.
    pub fn host() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: crate::image::oci::host_arch().into(),
            variant: None,
        }
    }

    /// Whether an image or index entry of `os`/`arch`/`variant` is this platform; a
    /// variant missing on either side matches any.
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        let variant = variant.filter(|v| !(arch == "arm64" && *v == "v8"));
        self.os == os
            && self.architecture == arch
            && (self.variant.is_none() || variant.is_none() || self.variant.as_deref() == variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Where to reach one registry, and how messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub name: String,
    pub base: Url,
    /// The registry whose `auths` entry applies.
    pub auth_key: String,
}

impl Settings {
    /// Whether plain HTTP is allowed for `host[:port]`.
    pub fn is_insecure(&self, registry: &str) -> bool {
        let host = http::split_host_port(registry, 0).map_or(registry.to_string(), |(h, _)| h);
        host == "localhost"
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            || self.insecure.iter().any(|i| i == registry)
    }

    /// The endpoints to try for images of `domain`, in order.
    pub(crate) fn endpoints(&self, domain: &str) -> Result<Vec<Endpoint>, RegistryError> {
        let mut out = Vec::new();
        if domain == "docker.io" {
            for m in &self.mirrors {
                let base =
                    Url::parse(m.trim_end_matches('/')).ok_or_else(|| RegistryError::Protocol {
                        registry: m.clone(),
                        reason: "a mirror must be an http:// or https:// URL".into(),
                    })?;
                let host = match base.port {
                    80 | 443 => base.host.clone(),
                    p => format!("{}:{p}", base.host),
                };
                out.push(Endpoint {
                    name: format!("mirror {}", base.origin()),
                    base,
                    auth_key: host,
                });
            }
            out.push(Endpoint {
                name: "docker.io".into(),
                base: Url::parse(DOCKER_HUB).ok_or_else(|| RegistryError::Protocol {
                    registry: "docker.io".into(),
                    reason: "bad built-in URL".into(),
                })?,
                auth_key: "docker.io".into(),
            });
            return Ok(out);
        }
        let scheme = if self.is_insecure(domain) {
            "http"
        } else {
            "https"
        };
        let base =
            Url::parse(&format!("{scheme}://{domain}")).ok_or_else(|| RegistryError::Protocol {
                registry: domain.to_string(),
                reason: "not a valid host[:port]".into(),
            })?;
        out.push(Endpoint {
            name: domain.to_string(),
            base,
            auth_key: domain.to_string(),
        });
        Ok(out)
    }
}

/// Opens a session with `ep` for repository `repo` (`actions`: "pull" or "pull,push").
pub(crate) fn session(
    ep: &Endpoint,
    auths: &BTreeMap<String, String>,
    repo: &str,
    actions: &str,
) -> Session {
    let creds = auth::lookup(auths, &ep.auth_key).and_then(Credentials::from_auth);
    Session::new(
        ep.name.clone(),
        ep.base.clone(),
        creds,
        Some(format!("repository:{repo}:{actions}")),
    )
}

/// Checks `creds` against `registry` (`host[:port]` or `docker.io`): its `/v2/` must
/// accept them, through whichever challenge it makes.
pub fn login(
    settings: &Settings,
    registry: &str,
    creds: &Credentials,
) -> Result<(), RegistryError> {
    let registry = match registry {
        "index.docker.io" | "registry-1.docker.io" | "https://index.docker.io/v1/" => "docker.io",
        r => r,
    };
    let ep = if registry == "docker.io" {
        Settings::default().endpoints("docker.io")?
    } else {
        settings.endpoints(registry)?
    };
    let Some(ep) = ep.into_iter().next() else {
        return Err(RegistryError::Protocol {
            registry: registry.to_string(),
            reason: "no endpoint".into(),
        });
    };
    let s = Session::new(ep.name, ep.base, Some(creds.clone()), None);
    let resp = s.request("GET", "/v2/", &[], &Body::Empty)?;
    match resp.status {
        200 => Ok(()),
        _ => Err(s.unexpected("checking the login", resp)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_registry_repository_and_manifest_as_docker_does() {
        use crate::image::Reference;
        let r = Reference::parse("redis").expect("redis");
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            ("docker.io", "library/redis")
        );
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref()),
            (Some("latest"), None)
        );
        let r = Reference::parse("bitnami/redis:7").expect("user repo");
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            ("docker.io", "bitnami/redis")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("127.0.0.1:5000/a/b@{d}")).expect("digest");
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            ("127.0.0.1:5000", "a/b")
        );
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref()),
            (None, Some(d.as_str()))
        );
        let r = Reference::parse("localhost/x:1").expect("localhost");
        assert_eq!((r.domain.as_str(), r.path.as_str()), ("localhost", "x"));
        // docker.io's mirror keeps the repository path, library/ included.
        assert_eq!(
            Reference::parse("index.docker.io/redis")
                .expect("idx")
                .domain,
            "docker.io"
        );
    }

    #[test]
    fn loopback_and_listed_hosts_are_insecure() {
        let s = Settings {
            mirrors: vec![],
            insecure: vec!["myreg:5000".into()],
        };
        assert!(s.is_insecure("127.0.0.1:5000"));
        assert!(s.is_insecure("127.5.6.7"));
        assert!(s.is_insecure("localhost:1234"));
        assert!(s.is_insecure("[::1]:5000"));
        assert!(s.is_insecure("myreg:5000"));
        assert!(!s.is_insecure("myreg:5001"));
        assert!(!s.is_insecure("ghcr.io"));
    }

    #[test]
    fn docker_io_tries_mirrors_first() {
        let s = Settings {
            mirrors: vec!["http://127.0.0.1:5000/".into()],
            insecure: vec![],
        };
        let eps = s.endpoints("docker.io").expect("endpoints");
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].base.origin(), "http://127.0.0.1:5000");
        assert_eq!(eps[0].auth_key, "127.0.0.1:5000");
        assert_eq!(eps[1].base.origin(), DOCKER_HUB);
        let eps = s.endpoints("ghcr.io").expect("endpoints");
        assert_eq!(eps.len(), 1);
        assert_eq!(eps[0].base.origin(), "https://ghcr.io");
        let eps = s.endpoints("127.0.0.1:5001").expect("endpoints");
        assert_eq!(eps[0].base.origin(), "http://127.0.0.1:5001");
        assert!(
            Settings {
                mirrors: vec!["127.0.0.1:5000".into()],
                insecure: vec![]
            }
            .endpoints("docker.io")
            .is_err()
        );
    }
}
