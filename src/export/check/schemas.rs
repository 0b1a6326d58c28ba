//! The embedded Kubernetes 1.30 schemas (schemas/kubernetes/v1.30, from kubernetes-validate)
//! and the table that picks one by `apiVersion` and `kind`.
//!
//! The JSON is parsed once per process (`OnceLock`): a check of many objects pays for it once.

use std::sync::OnceLock;

use serde_json::Value;

/// The Kubernetes release the embedded schemas describe.
pub const KUBERNETES_VERSION: &str = "1.30";

/// (apiVersion, kind, schema text): the kinds the exporter emits.
const KINDS: &[(&str, &str, &str)] = &[
    (
        "apps/v1",
        "Deployment",
        include_str!("../../../schemas/kubernetes/v1.30/deployment-apps-v1.json"),
    ),
    (
        "apps/v1",
        "StatefulSet",
        include_str!("../../../schemas/kubernetes/v1.30/statefulset-apps-v1.json"),
    ),
    (
        "v1",
        "Service",
        include_str!("../../../schemas/kubernetes/v1.30/service-v1.json"),
    ),
    (
        "v1",
        "ConfigMap",
        include_str!("../../../schemas/kubernetes/v1.30/configmap-v1.json"),
    ),
    (
        "v1",
        "Secret",
        include_str!("../../../schemas/kubernetes/v1.30/secret-v1.json"),
    ),
    (
        "v1",
        "PersistentVolumeClaim",
        include_str!("../../../schemas/kubernetes/v1.30/persistentvolumeclaim-v1.json"),
    ),
    (
        "batch/v1",
        "Job",
        include_str!("../../../schemas/kubernetes/v1.30/job-batch-v1.json"),
    ),
    (
        "v1",
        "Pod",
        include_str!("../../../schemas/kubernetes/v1.30/pod-v1.json"),
    ),
    (
        "v1",
        "ServiceAccount",
        include_str!("../../../schemas/kubernetes/v1.30/serviceaccount-v1.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        include_str!("../../../schemas/kubernetes/v1.30/role-rbac-v1.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        include_str!("../../../schemas/kubernetes/v1.30/rolebinding-rbac-v1.json"),
    ),
];

/// The shared definitions every kind's `$ref` points into (`.../_definitions.json#/$defs/NAME`).
const DEFINITIONS: &str = include_str!("../../../schemas/kubernetes/v1.30/_definitions.json");

/// The parsed schemas.
pub struct Schemas {
    kinds: Vec<(&'static str, &'static str, Value)>,
    defs: serde_json::Map<String, Value>,
}

impl Schemas {
    /// The parsed schemas, parsed on first use. The texts are part of the binary and a unit
    /// test parses each, so a parse failure is a build defect: it yields empty tables, and
    /// every object is then reported as of an unknown kind rather than panicking.
    pub fn get() -> &'static Schemas {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| {
            let kinds = KINDS
                .iter()
                .filter_map(|(api, kind, text)| {
                    serde_json::from_str(text).ok().map(|v| (*api, *kind, v))
                })
                .collect();
            let defs = serde_json::from_str::<Value>(DEFINITIONS)
                .ok()
                .and_then(|mut v| match v.get_mut("$defs").map(Value::take) {
                    Some(Value::Object(map)) => Some(map),
                    _ => None,
                })
                .unwrap_or_default();
            Schemas { kinds, defs }
        })
    }

    /// The schema of one kind, if rstack checks it.
    pub fn kind(&self, api_version: &str, kind: &str) -> Option<&Value> {
        self.kinds
            .iter()
            .find(|(a, k, _)| *a == api_version && *k == kind)
            .map(|(_, _, v)| v)
    }

    /// What a `$ref` names: only refs into the definitions file (`...#/$defs/NAME`) occur.
    pub fn resolve(&self, reference: &str) -> Option<&Value> {
        let (_, name) = reference.split_once("#/$defs/")?;
        self.defs.get(name)
    }

    /// "apiVersion kind" of every checked kind, for the message of an unknown one.
    pub fn known() -> String {
        KINDS
            .iter()
            .map(|(api, kind, _)| format!("{api} {kind}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_parses_and_every_ref_resolves() {
        let s = Schemas::get();
        assert_eq!(s.kinds.len(), KINDS.len());
        assert!(s.defs.len() > 100);
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(m) => {
                    for (k, x) in m {
                        match (k.as_str(), x) {
                            ("$ref", Value::String(r)) => out.push(r),
                            _ => refs(x, out),
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        s.kinds.iter().for_each(|(_, _, v)| refs(v, &mut all));
        s.defs.values().for_each(|v| refs(v, &mut all));
        for r in all {
            assert!(s.resolve(r).is_some(), "unresolved {r}");
        }
    }
}
