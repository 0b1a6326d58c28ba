//! The frozen shape of the service JSON that `rstack-config-v1` hashes were computed over.
//!
//! The release that introduced the hash serialized every field of the model, default or not
//! (`"healthcheck":null`, `"resources":{"memory":null,...}`), and hashed that. The model now
//! leaves fields at their default out. To keep every stored hash valid (an upgrade must not
//! recreate running containers), the canonical form puts back exactly the keys that release
//! always wrote, at the values it wrote for their defaults. Keys added since (devices,
//! logging, ...) are filled only inside a value that is present, and stay absent at their
//! default, so a new field never changes the hash of a service that does not use it.
//!
//! This table must never change: it describes a release that exists.

use serde_json::{Map, Value};

/// How the v1 serialization wrote a value.
pub(super) enum Shape {
    /// As is (strings, numbers, enums, durations).
    Leaf,
    /// An object: these keys, in any order.
    Object(&'static [Field]),
    /// An array whose items have this shape.
    Items(&'static Shape),
}

/// One key of an object.
pub(super) struct Field {
    key: &'static str,
    /// The JSON v1 wrote when the value was at its default, which the model now leaves
    /// out; `None` for a key v1 also left out at its default.
    absent: Option<&'static str>,
    shape: Shape,
}

const fn always(key: &'static str, absent: &'static str, shape: Shape) -> Field {
    Field {
        key,
        absent: Some(absent),
        shape,
    }
}

const fn when_set(key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        absent: None,
        shape,
    }
}

use Shape::{Items, Leaf, Object};

const HEALTHCHECK: &[Field] = &[
    always("test", r#"{"cmd":[]}"#, Leaf),
    always("interval", r#"{"secs":30,"nanos":0}"#, Leaf),
    always("timeout", r#"{"secs":30,"nanos":0}"#, Leaf),
    always("retries", "3", Leaf),
    always("start_period", r#"{"secs":0,"nanos":0}"#, Leaf),
    always("start_interval", r#"{"secs":5,"nanos":0}"#, Leaf),
];

const RESOURCES: &[Field] = &[
    always("memory", "null", Leaf),
    always("cpus", "null", Leaf),
    always("pids", "null", Leaf),
];

const TMPFS: &[Field] = &[
    always("target", r#""""#, Leaf),
    always("size", "null", Leaf),
    always("mode", "null", Leaf),
];

const X_RSTACK: &[Field] = &[
    always("restart_on_unhealthy", "false", Leaf),
    always(
        "restart_backoff_initial",
        r#"{"secs":0,"nanos":100000000}"#,
        Leaf,
    ),
    always("restart_backoff_max", r#"{"secs":60,"nanos":0}"#, Leaf),
];

const DEVICE: &[Field] = &[
    always("source", r#""""#, Leaf),
    always("target", r#""""#, Leaf),
    always("permissions", r#""rwm""#, Leaf),
];

const DEVICE_RULE: &[Field] = &[always("major", "null", Leaf), always("minor", "null", Leaf)];

const LOGGING: &[Field] = &[always("driver", r#""json-file""#, Leaf)];

/// `model::Service` as v1 wrote it (after `depends_on` was emptied for hashing).
pub(super) const SERVICE: Shape = Object(&[
    always("name", r#""""#, Leaf),
    always("image", r#""""#, Leaf),
    always("entrypoint", "null", Leaf),
    always("command", "null", Leaf),
    always("environment", "{}", Leaf),
    always("working_dir", "null", Leaf),
    always("user", "null", Leaf),
    always("hostname", "null", Leaf),
    always("depends_on", "{}", Leaf),
    always("restart", r#"{"policy":"no"}"#, Leaf),
    always("healthcheck", "null", Object(HEALTHCHECK)),
    always(
        "resources",
        r#"{"memory":null,"cpus":null,"pids":null}"#,
        Object(RESOURCES),
    ),
    always("stop_signal", r#""SIGTERM""#, Leaf),
    always("stop_grace_period", r#"{"secs":10,"nanos":0}"#, Leaf),
    always("read_only", "false", Leaf),
    always("tmpfs", "[]", Items(&Object(TMPFS))),
    always("init", "false", Leaf),
    always(
        "x_rstack",
        r#"{"restart_on_unhealthy":false,"restart_backoff_initial":{"secs":0,"nanos":100000000},"restart_backoff_max":{"secs":60,"nanos":0}}"#,
        Object(X_RSTACK),
    ),
    when_set("devices", Items(&Object(DEVICE))),
    when_set("device_cgroup_rules", Items(&Object(DEVICE_RULE))),
    when_set("logging", Object(LOGGING)),
]);

/// Puts back into `value` what the v1 serialization wrote and the model now leaves out.
/// `null` stays `null` (an absent `Option`), whatever the shape.
pub(super) fn fill(value: &mut Value, shape: &Shape) {
    match (shape, value) {
        (Leaf, _) => {}
        (Items(item), Value::Array(items)) => items.iter_mut().for_each(|v| fill(v, item)),
        (Object(fields), Value::Object(map)) => fill_object(map, fields),
        _ => {}
    }
}

fn fill_object(map: &mut Map<String, Value>, fields: &[Field]) {
    for f in fields {
        if !map.contains_key(f.key) {
            // The table's JSON is constant and valid (tested); Null would still be stable.
            match f.absent {
                Some(json) => {
                    let v = serde_json::from_str(json).unwrap_or(Value::Null);
                    map.insert(f.key.to_string(), v);
                }
                None => continue,
            }
        }
        if let Some(v) = map.get_mut(f.key) {
            fill(v, &f.shape);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_json(shape: &Shape, out: &mut Vec<&'static str>) {
        match shape {
            Leaf => {}
            Items(item) => all_json(item, out),
            Object(fields) => {
                for f in *fields {
                    out.extend(f.absent);
                    all_json(&f.shape, out);
                }
            }
        }
    }

    #[test]
    fn every_default_in_the_table_is_valid_json() {
        let mut texts = Vec::new();
        all_json(&SERVICE, &mut texts);
        assert!(texts.len() > 20);
        for t in texts {
            assert!(serde_json::from_str::<Value>(t).is_ok(), "{t}");
        }
    }
}
