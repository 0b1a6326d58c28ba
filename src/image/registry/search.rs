//! `image search [REGISTRY/]TERM`: the repositories of a registry's catalog
//! (`GET /v2/_catalog`, following `Link: <...>; rel="next"` pages) whose name contains
//! TERM, each with its tags (`/v2/NAME/tags/list`). Without a named registry, the first
//! `[registry] mirrors` entry is asked. Docker Hub has no catalog: its search API is not
//! the distribution API, and a registry that answers the catalog with 401/404/405 gets a
//! message naming it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::http::Body;
use super::session::Session;
use super::{RegistryError, Settings, auth, session};
use crate::image::registry::auth::Credentials;

/// Most catalog pages followed (a registry that keeps sending `next` is cut off).
const MAX_PAGES: usize = 1000;
/// Largest catalog page or tag list read.
const MAX_ANSWER: u64 = 16 << 20;

/// One repository found, with its tags (sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub name: String,
    pub tags: Vec<String>,
}

/// What a search asks: the registry (`host[:port]`, `None` = the first mirror) and the
/// term that names must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub registry: Option<String>,
    pub term: String,
}

/// Splits `[REGISTRY/]TERM`: the first component is a registry when it looks like a host
/// (a dot, a port or `localhost`), as in references.
pub(crate) fn parse_query(input: &str) -> Query {
    match input.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            Query {
                registry: Some(host.to_string()),
                term: rest.to_string(),
            }
        }
        _ => Query {
            registry: None,
            term: input.to_string(),
        },
    }
}

/// The repositories whose name contains `term` (all of them for an empty term), sorted.
pub(crate) fn matching(repositories: &[String], term: &str) -> Vec<String> {
    let term = term.to_ascii_lowercase();
    let mut out: Vec<String> = repositories
        .iter()
        .filter(|r| r.to_ascii_lowercase().contains(&term))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The target of a `Link: <URL>; rel="next"` header.
pub(crate) fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Vec<String>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// Searches the registry `input` names (or the first mirror) for TERM.
pub fn search(
    settings: &Settings,
    input: &str,
    auths: &BTreeMap<String, String>,
) -> Result<(String, Vec<SearchHit>), RegistryError> {
    let mut q = parse_query(input);
    // Docker Hub named outright is the same as no registry: only a mirror can answer.
    if matches!(
        q.registry.as_deref(),
        Some("docker.io" | "index.docker.io" | "registry-1.docker.io")
    ) {
        q.registry = None;
    }
    let ep = match &q.registry {
        Some(r) => settings.endpoints(r)?.into_iter().next(),
        None if settings.mirrors.is_empty() => {
            return Err(RegistryError::Protocol {
                registry: "docker.io".into(),
                reason: "Docker Hub has no catalog to search: name a registry \
                         (rstack image search HOST:PORT/TERM) or set [registry] mirrors"
                    .into(),
            });
        }
        None => settings.endpoints("docker.io")?.into_iter().next(),
    };
    let Some(ep) = ep else {
        return Err(RegistryError::Protocol {
            registry: input.to_string(),
            reason: "no registry to search".into(),
        });
    };
    let creds = auth::lookup(auths, &ep.auth_key).and_then(Credentials::from_auth);
    let catalog = Session::new(
        ep.name.clone(),
        ep.base.clone(),
        creds,
        Some("registry:catalog:*".to_string()),
    );
    let mut repositories = Vec::new();
    let mut target = "/v2/_catalog?n=1000".to_string();
    for _ in 0..MAX_PAGES {
        let resp = catalog.request("GET", &target, &[], &Body::Empty)?;
        match resp.status {
            200 => {}
            401 | 403 => return Err(catalog.refused()),
            404 | 405 | 501 => {
                return Err(RegistryError::Protocol {
                    registry: ep.name.clone(),
                    reason: format!(
                        "it has no catalog to search (GET /v2/_catalog answered {})",
                        resp.status
                    ),
                });
            }
            _ => return Err(catalog.unexpected("the catalog", resp)),
        }
        let next = resp.header("link").and_then(next_link);
        let bytes = resp
            .bytes(MAX_ANSWER)
            .map_err(|e| catalog.protocol(format!("reading the catalog: {e}")))?;
        let page: Catalog = serde_json::from_slice(&bytes)
            .map_err(|e| catalog.protocol(format!("the catalog is not valid JSON: {e}")))?;
        repositories.extend(page.repositories);
        match next {
            Some(n) => target = n,
            None => break,
        }
    }
    let mut hits = Vec::new();
    for name in matching(&repositories, &q.term) {
        let s = session(&ep, auths, &name, "pull");
        let resp = s.request("GET", &format!("/v2/{name}/tags/list"), &[], &Body::Empty)?;
        let mut tags = if resp.status == 200 {
            let bytes = resp
                .bytes(MAX_ANSWER)
                .map_err(|e| s.protocol(format!("reading the tags of {name}: {e}")))?;
            serde_json::from_slice::<TagList>(&bytes)
                .map_err(|e| s.protocol(format!("the tags of {name} are not valid JSON: {e}")))?
                .tags
                .unwrap_or_default()
        } else {
            // A repository listed but not readable (deleted, or no pull right): no tags.
            Vec::new()
        };
        tags.sort();
        hits.push(SearchHit { name, tags });
    }
    Ok((ep.name, hits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_component_like_a_host_names_the_registry() {
        assert_eq!(
            parse_query("127.0.0.1:5000/app"),
            Query {
                registry: Some("127.0.0.1:5000".into()),
                term: "app".into()
            }
        );
        assert_eq!(
            parse_query("localhost/x").registry.as_deref(),
            Some("localhost")
        );
        assert_eq!(
            parse_query("library/redis"),
            Query {
                registry: None,
                term: "library/redis".into()
            }
        );
        assert_eq!(parse_query("redis").registry, None);
    }

    #[test]
    fn names_containing_the_term_sorted_once() {
        let repos: Vec<String> = ["team/web", "api", "Web-old", "db", "team/web"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(matching(&repos, "web"), ["Web-old", "team/web"]);
        assert_eq!(matching(&repos, "").len(), 4);
        assert!(matching(&repos, "zzz").is_empty());
    }

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://x/a>; rel="prev", </v2/_catalog?last=c>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=c")
        );
        assert_eq!(next_link(r#"</v2/_catalog?last=b>; rel="prev""#), None);
    }
}
