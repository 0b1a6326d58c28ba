//! Field rules of the Kubernetes API server's validation that the OpenAPI schemas do not
//! carry, for the fields an export writes: container, volume and port names, labels,
//! ConfigMap/Secret keys and environment variable names (Kubernetes 1.30 wording and limits).
//! Cross-references (a mount naming a volume) are not checked.

use serde_json::Value;

use super::names::{NameRule, violation};

/// (path, message) for each violation in `obj` of kind `kind`.
pub fn check(kind: &str, obj: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    labels(obj.get("metadata"), "metadata", &mut out);
    match kind {
        "Deployment" | "StatefulSet" | "Job" => {
            let template = obj.get("spec").and_then(|s| s.get("template"));
            labels(
                template.and_then(|t| t.get("metadata")),
                "spec.template.metadata",
                &mut out,
            );
            pod_spec(
                template.and_then(|t| t.get("spec")),
                "spec.template.spec",
                &mut out,
            );
        }
        "Pod" => pod_spec(obj.get("spec"), "spec", &mut out),
        "Service" => service_ports(obj, &mut out),
        "ConfigMap" | "Secret" => {
            for field in ["data", "binaryData", "stringData"] {
                for key in keys(obj.get(field)) {
                    if let Some(why) = config_map_key(key) {
                        out.push((format!("{field}[{key:?}]"), why));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

fn keys(v: Option<&Value>) -> impl Iterator<Item = &String> {
    v.and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.keys())
}

fn items<'a>(v: Option<&'a Value>, field: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.and_then(|v| v.get(field))
        .and_then(Value::as_array)
        .into_iter()
        .flat_map(|a| a.iter().enumerate())
}

fn str_at<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

fn pod_spec(spec: Option<&Value>, at: &str, out: &mut Vec<(String, String)>) {
    for (i, volume) in items(spec, "volumes") {
        if let Some(why) = str_at(volume, "name").and_then(|n| violation(NameRule::Dns1123Label, n))
        {
            out.push((format!("{at}.volumes[{i}].name"), why));
        }
    }
    for list in ["initContainers", "containers"] {
        for (i, c) in items(spec, list) {
            let here = format!("{at}.{list}[{i}]");
            if let Some(why) = str_at(c, "name").and_then(|n| violation(NameRule::Dns1123Label, n))
            {
                out.push((format!("{here}.name"), why));
            }
            for (j, port) in items(Some(c), "ports") {
                if let Some(why) = str_at(port, "name").and_then(port_name) {
                    out.push((format!("{here}.ports[{j}].name"), why));
                }
            }
            for (j, env) in items(Some(c), "env") {
                if let Some(why) = str_at(env, "name").and_then(env_name) {
                    out.push((format!("{here}.env[{j}].name"), why));
                }
            }
        }
    }
}

/// A Service's port names are DNS-1123 labels, required and unique when there are several.
fn service_ports(obj: &Value, out: &mut Vec<(String, String)>) {
    let ports: Vec<(usize, &Value)> = items(obj.get("spec"), "ports").collect();
    let mut seen = Vec::new();
    for (i, port) in &ports {
        let path = format!("spec.ports[{i}].name");
        match str_at(port, "name") {
            Some(name) => {
                if let Some(why) = violation(NameRule::Dns1123Label, name) {
                    out.push((path, why));
                } else if seen.contains(&name) {
                    out.push((path, format!("port name {name:?} is used twice")));
                }
                seen.push(name);
            }
            None if ports.len() > 1 => out.push((
                path,
                "required when a Service has more than one port".to_string(),
            )),
            None => {}
        }
    }
}

/// Label keys are qualified names (an optional DNS subdomain prefix and '/'), values are at
/// most 63 characters of the same alphabet (or empty).
fn labels(metadata: Option<&Value>, at: &str, out: &mut Vec<(String, String)>) {
    let Some(Value::Object(labels)) = metadata.and_then(|m| m.get("labels")) else {
        return;
    };
    for (key, value) in labels {
        let path = format!("{at}.labels[{key:?}]");
        let (prefix, name) = match key.split_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key.as_str()),
        };
        let bad_prefix = prefix.is_some_and(|p| violation(NameRule::Dns1123Subdomain, p).is_some());
        if bad_prefix || name.is_empty() || !label_word(name) {
            out.push((
                path.clone(),
                format!(
                    "label key {key:?} is not a qualified name: an optional DNS subdomain \
                     prefix and '/', then at most 63 letters, digits, '-', '_' or '.', \
                     starting and ending with a letter or digit"
                ),
            ));
        }
        if let Some(v) = value.as_str()
            && !v.is_empty()
            && !label_word(v)
        {
            out.push((
                path,
                format!(
                    "label value {v:?} is invalid: at most 63 letters, digits, '-', '_' or \
                     '.', starting and ending with a letter or digit"
                ),
            ));
        }
    }
}

/// At most 63 of [-A-Za-z0-9_.], alphanumeric at both ends.
fn label_word(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() <= 63
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// IANA_SVC_NAME: 1-15 of [-a-z0-9], at least one letter, no '-' at an end, no "--".
fn port_name(name: &str) -> Option<String> {
    let ok = (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && name.bytes().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    (!ok).then(|| {
        format!(
            "port name {name:?} is not an IANA service name: 1 to 15 lowercase letters, \
             digits and '-', with a letter, no '-' at either end and no \"--\""
        )
    })
}

/// C-identifier-like: [-._a-zA-Z][-._a-zA-Z0-9]* (Kubernetes 1.30 without the alpha
/// RelaxedEnvironmentVariableValidation gate).
pub(crate) fn env_name(name: &str) -> Option<String> {
    let b = name.as_bytes();
    let ok = b
        .first()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'-' | b'.' | b'_'))
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    (!ok).then(|| {
        format!(
            "environment variable name {name:?} is invalid: letters, digits, '_', '-' and \
             '.', not starting with a digit"
        )
    })
}

/// ConfigMap and Secret keys: at most 253 of [-._a-zA-Z0-9], not "." or "..", and not
/// starting with "..".
pub(crate) fn config_map_key(key: &str) -> Option<String> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
        && key != "."
        && !key.starts_with("..");
    (!ok).then(|| {
        format!(
            "key {key:?} is invalid: at most 253 letters, digits, '-', '_' and '.', \
             not \".\" and not starting with \"..\""
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rules() {
        assert_eq!(port_name("http"), None);
        assert_eq!(port_name("h2c-8080"), None);
        for bad in ["", "8080", "HTTP", "-a", "a-", "a--b", "abcdefghijklmnop"] {
            assert!(port_name(bad).is_some(), "{bad}");
        }
        assert_eq!(env_name("PATH"), None);
        assert_eq!(env_name("my.var-1"), None);
        for bad in ["", "1A", "A=B", "A B"] {
            assert!(env_name(bad).is_some(), "{bad}");
        }
        assert_eq!(config_map_key("app.conf"), None);
        assert_eq!(config_map_key(".env"), None);
        for bad in ["", ".", "..", "..x", "a/b", "a b"] {
            assert!(config_map_key(bad).is_some(), "{bad}");
        }
        assert!(label_word("web"));
        assert!(label_word("Web_1.x"));
        assert!(!label_word("-web"));
        assert!(!label_word(&"a".repeat(64)));
    }
}
