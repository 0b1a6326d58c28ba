//! Docker's predefined networks, `bridge`, `host` and `none`, as `network ls` and
//! `network inspect` show them (drivers bridge, host and null, scope local). They are
//! names, not networks rstack makes: `network_mode: host|none` is how a container uses the
//! last two. Like Docker, they cannot be removed or created again.

use super::networks::{IpamView, NetworkView};
use super::server::ApiFailure;
use sha2::{Digest, Sha256};

/// The predefined names and their drivers.
const BUILTIN: [(&str, &str); 3] = [("bridge", "bridge"), ("host", "host"), ("none", "null")];

/// Whether `name` is one of the predefined networks.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN.iter().any(|(n, _)| *n == name)
}

fn view(name: &str, driver: &str) -> NetworkView {
    // A stable id per name, so `ls` and `inspect` agree between daemons.
    let id = hex::encode(Sha256::digest(format!("rstack predefined network {name}")));
    NetworkView {
        name: name.to_string(),
        id,
        created: "1970-01-01T00:00:00Z".into(),
        scope: "local".into(),
        driver: driver.to_string(),
        ipam: IpamView {
            driver: "default".into(),
            config: Vec::new(),
        },
        ..NetworkView::default()
    }
}

/// All of them, for `network ls`.
pub fn views() -> Vec<NetworkView> {
    BUILTIN.iter().map(|(n, d)| view(n, d)).collect()
}

/// One by name (or by a prefix of its id of 4 characters at least), for `network inspect`.
pub fn find(name: &str) -> Option<NetworkView> {
    views()
        .into_iter()
        .find(|v| v.name == name || (name.len() >= 4 && v.id.starts_with(name)))
}

/// Docker's refusal to remove one.
pub fn refuse_removal(name: &str) -> ApiFailure {
    ApiFailure::Conflict(format!(
        "{name} is a pre-defined network and cannot be removed"
    ))
}

/// Docker's refusal to create one again.
pub fn refuse_creation(name: &str) -> ApiFailure {
    ApiFailure::Conflict(format!("network with name {name} already exists"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_with_docker_drivers() {
        let v: Vec<(String, String, String)> = views()
            .into_iter()
            .map(|v| (v.name, v.driver, v.scope))
            .collect();
        let want = [("bridge", "bridge"), ("host", "host"), ("none", "null")];
        assert_eq!(v.len(), 3);
        for ((n, d, s), (wn, wd)) in v.iter().zip(want) {
            assert_eq!((n.as_str(), d.as_str(), s.as_str()), (wn, wd, "local"));
        }
    }

    #[test]
    fn found_by_name_and_id_prefix() {
        let host = find("host").expect("host");
        assert_eq!(find(&host.id[..12]).map(|v| v.name), Some("host".into()));
        assert!(find("p_default").is_none());
        assert!(find("ho").is_none());
    }

    #[test]
    fn removal_message_is_dockers() {
        assert_eq!(
            refuse_removal("bridge").to_string(),
            "bridge is a pre-defined network and cannot be removed"
        );
    }
}
