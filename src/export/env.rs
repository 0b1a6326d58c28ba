//! A service's environment (`environment` and `env_file`, merged by the loader) as a
//! ConfigMap `NAME-env` the container reads with `envFrom`.
//!
//! Nothing in a stack file says which variables are secret (secrets are `secrets:`, mounted
//! as files), so all of them go into the ConfigMap. Names that cannot be ConfigMap keys or
//! that `envFrom` would skip (not valid environment variable names) stay inline in `env`,
//! where the API server reports them. `envFrom` values are taken verbatim, whereas `$(VAR)`
//! in an inline `value` is expanded by Kubernetes, so the ConfigMap is also the more
//! faithful carrier of compose values.

use super::check::api_rules::{config_map_key, env_name};
use crate::model::Service;
use indexmap::IndexMap;

/// The ConfigMap name of a service's environment.
pub fn config_map_name(object_name: &str) -> String {
    format!("{object_name}-env")
}

/// (variables for the ConfigMap, variables kept inline), both in file order.
pub fn split(svc: &Service) -> (IndexMap<&str, &str>, Vec<(&str, &str)>) {
    let mut cm = IndexMap::new();
    let mut inline = Vec::new();
    for (k, v) in &svc.environment {
        if config_map_key(k).is_none() && env_name(k).is_none() {
            cm.insert(k.as_str(), v.as_str());
        } else {
            inline.push((k.as_str(), v.as_str()));
        }
    }
    (cm, inline)
}
