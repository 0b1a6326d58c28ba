//! Offline validation of Kubernetes objects against the Kubernetes 1.30 OpenAPI schemas
//! (embedded from kubernetes-validate's strict JSON schemas, schemas/kubernetes/v1.30), plus
//! the name and field rules of the API server the schemas lack (`names`, `api_rules`).
//! Pure: no I/O, the schemas are compiled in.
//!
//! `rstack export kubernetes --check` runs [`check`] on every object it would write and
//! writes nothing when any error is found.

pub(crate) mod api_rules;
mod names;
mod schemas;
mod validate;

use serde_json::Value;

pub use names::{NameRule, name_rule};
pub use schemas::KUBERNETES_VERSION;

/// One thing wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {}: {message}", if path.is_empty() { "(object)" } else { path })]
pub struct CheckError {
    /// `Kind/name` of the object (`?` for what it lacks).
    pub object: String,
    /// JSON path inside the object, e.g. `spec.template.spec.containers[0].ports[0].containerPort`;
    /// empty for the object itself.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Everything wrong with one Kubernetes object (empty: valid for Kubernetes 1.30). An
/// `apiVersion`/`kind` pair rstack has no schema for is an error.
pub fn check(obj: &Value) -> Vec<CheckError> {
    let object = object_label(obj);
    let err = |path: &str, message: String| CheckError {
        object: object.clone(),
        path: path.to_string(),
        message,
    };
    let Value::Object(fields) = obj else {
        return vec![err("", "a Kubernetes object must be a JSON object".into())];
    };
    let mut out = Vec::new();
    let api_version = fields.get("apiVersion").and_then(Value::as_str);
    let kind = fields.get("kind").and_then(Value::as_str);
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        for key in ["apiVersion", "kind"] {
            if !fields.get(key).is_some_and(Value::is_string) {
                out.push(err(key, "required string field is missing".into()));
            }
        }
        return out;
    };
    let schemas = schemas::Schemas::get();
    let Some(schema) = schemas.kind(api_version, kind) else {
        return vec![err(
            "kind",
            format!(
                "{api_version} {kind} is not a kind rstack can check for Kubernetes \
                 {KUBERNETES_VERSION} (known: {})",
                schemas::Schemas::known()
            ),
        )];
    };
    let mut issues = Vec::new();
    validate::validate(schemas, schema, obj, &mut issues);
    out.extend(issues.into_iter().map(|i| err(&i.path, i.message)));
    out.extend(check_names(kind, fields.get("metadata")).map(|(p, m)| err(p, m)));
    out.extend(
        api_rules::check(kind, obj)
            .into_iter()
            .map(|(p, m)| err(&p, m)),
    );
    out
}

/// [`check`] of every object, errors in order.
pub fn check_all(objs: &[Value]) -> Vec<CheckError> {
    objs.iter().flat_map(check).collect()
}

/// The API server's rules for `metadata.name` (required unless `generateName` is given) and
/// `metadata.namespace`. Wrong types are left to the schema's own error.
fn check_names(
    kind: &str,
    metadata: Option<&Value>,
) -> impl Iterator<Item = (&'static str, String)> {
    let mut out = Vec::new();
    let name = metadata.and_then(|m| m.get("name"));
    let generate = metadata.and_then(|m| m.get("generateName"));
    match name {
        Some(Value::String(n)) => {
            if let Some(why) = names::violation(name_rule(kind), n) {
                out.push(("metadata.name", why));
            } else if kind == "Job" && n.len() > 63 {
                // The Job controller labels its pods with the Job's name
                // (batch.kubernetes.io/job-name), and a label value is at most 63.
                out.push((
                    "metadata.name",
                    format!("{n:?} is longer than 63 characters, the limit for a Job's name"),
                ));
            }
        }
        None | Some(Value::Null) if generate.is_none() => out.push((
            "metadata.name",
            "required by the Kubernetes API server, but missing".to_string(),
        )),
        _ => {}
    }
    if let Some(Value::String(ns)) = metadata.and_then(|m| m.get("namespace"))
        && let Some(why) = names::violation(NameRule::Dns1123Label, ns)
    {
        out.push(("metadata.namespace", why));
    }
    out.into_iter()
}

fn object_label(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind}/{name}")
}

#[cfg(test)]
mod tests;
