//! Why a container would be recreated: the compose keys in which the service it was created
//! from differs from the service the stack file asks for now (`--dry-run` says so).
//!
//! Pure. Compares the two services as the config hash sees them (serialized, without the keys
//! the hash leaves out), key by key at the service's top level, so a key is named exactly
//! when it takes part in the hash.

use crate::model::Service;
use serde_json::{Map, Value};

/// Keys the hash leaves out (see `hash::canonical_json`): changing them recreates nothing.
const NOT_HASHED: &[&str] = &["depends_on", "build", "scale", "develop"];

/// The compose keys whose value differs between `old` (what the container was created from,
/// on image `old_image`) and `new` (on `new_image`), sorted, without repeats. "image" when
/// the image reference or the image id changed. Empty when nothing a container is made from
/// differs.
pub fn changed_keys(old: &Service, old_image: &str, new: &Service, new_image: &str) -> Vec<String> {
    let old = top_level(old);
    let new = top_level(new);
    let mut keys: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| !NOT_HASHED.contains(&k.as_str()))
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| compose_key(k).to_string())
        .collect();
    if old_image != new_image {
        keys.push("image".to_string());
    }
    keys.sort();
    keys.dedup();
    keys
}

/// A service's serialized fields (flattened ones included); empty if it does not serialize.
fn top_level(service: &Service) -> Map<String, Value> {
    match serde_json::to_value(service) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The stack-file key a model field comes from, where the two names differ.
fn compose_key(field: &str) -> &str {
    match field {
        "resources" => "deploy.resources",
        "restart_limits" => "deploy.restart_policy",
        "x_rstack" => "x-rstack",
        "seccomp" | "no_new_privileges" => "security_opt",
        "name" => "service name",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_service_same_image_changed_nothing() {
        let s = Service::new("web", "busybox");
        assert!(changed_keys(&s, "sha256:a", &s, "sha256:a").is_empty());
    }

    #[test]
    fn names_environment_and_image() {
        let old = Service::new("web", "busybox");
        let mut new = old.clone();
        new.environment.insert("A".into(), "1".into());
        new.image = "busybox:2".into();
        assert_eq!(
            changed_keys(&old, "sha256:a", &new, "sha256:b"),
            ["environment", "image"]
        );
    }

    #[test]
    fn image_id_alone_names_image() {
        let s = Service::new("web", "busybox");
        assert_eq!(changed_keys(&s, "sha256:a", &s, "sha256:b"), ["image"]);
    }

    #[test]
    fn unhashed_keys_are_not_reasons() {
        let old = Service::new("web", "busybox");
        let mut new = old.clone();
        new.scale = Some(3);
        new.depends_on.insert("db".into(), Default::default());
        assert!(changed_keys(&old, "i", &new, "i").is_empty());
    }

    #[test]
    fn internal_field_names_become_compose_keys() {
        let old = Service::new("web", "busybox");
        let mut new = old.clone();
        new.resources.memory = Some(1 << 20);
        new.command = Some(vec!["true".into()]);
        new.read_only = true;
        assert_eq!(
            changed_keys(&old, "i", &new, "i"),
            ["command", "deploy.resources", "read_only"]
        );
    }

    #[test]
    fn removed_key_is_named() {
        let mut old = Service::new("web", "busybox");
        old.working_dir = Some("/srv".into());
        let new = Service::new("web", "busybox");
        assert_eq!(changed_keys(&old, "i", &new, "i"), ["working_dir"]);
    }
}
