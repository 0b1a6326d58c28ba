//! A JSON Schema (draft 2020-12) validator for the subset the Kubernetes schemas use: `type`
//! (one or several, `null` included), `enum`, `properties`, `required`, `additionalProperties`
//! (bool or schema), `items`, `$ref` into the embedded definitions, `oneOf`/`anyOf`/`allOf`,
//! and the formats `int32`/`int64` (ranges) and `int-or-string`. Other keywords (descriptions,
//! `x-kubernetes-*` merge hints) do not constrain a value and are ignored.
//!
//! Every violation is collected, each with the JSON path of the value it is about.

use serde_json::Value;

use super::schemas::Schemas;

/// One violation: where (JSON path from the object's root) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

/// Deeper `$ref` chains than this are a schema defect (a ref cycle), not a value to check.
const MAX_DEPTH: usize = 512;

/// Checks `value` against `schema`, appending what is wrong to `out`.
pub fn validate(schemas: &Schemas, schema: &Value, value: &Value, out: &mut Vec<Issue>) {
    let mut path = String::new();
    Walker { schemas, out }.value(schema, value, &mut path, 0);
}

struct Walker<'a> {
    schemas: &'a Schemas,
    out: &'a mut Vec<Issue>,
}

impl Walker<'_> {
    fn issue(&mut self, path: &str, message: String) {
        self.out.push(Issue {
            path: path.to_string(),
            message,
        });
    }

    fn value(&mut self, schema: &Value, value: &Value, path: &mut String, depth: usize) {
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return self.issue(path, "no value is allowed here".into()),
            Value::Object(m) => m,
            _ => return,
        };
        if depth > MAX_DEPTH {
            return self.issue(path, "schema nesting too deep (a $ref cycle?)".into());
        }
        if let Some(Value::String(reference)) = schema.get("$ref") {
            match self.schemas.resolve(reference) {
                Some(target) => self.value(target, value, path, depth + 1),
                None => self.issue(path, format!("schema defect: unresolved $ref {reference}")),
            }
        }
        if let Some(types) = schema.get("type")
            && !type_matches(types, value)
        {
            let expected = type_names(types);
            return self.issue(path, format!("expected {expected}, found {}", show(value)));
        }
        if let Some(Value::Array(allowed)) = schema.get("enum")
            && !allowed.iter().any(|a| json_eq(a, value))
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            self.issue(
                path,
                format!("{} is not one of {}", show(value), list.join(", ")),
            );
        }
        if let Some(Value::String(format)) = schema.get("format") {
            self.format(format, value, path);
        }
        if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            self.format("int-or-string", value, path);
        }
        if let Value::Object(fields) = value {
            self.object(schema, fields, path, depth);
        }
        if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                self.value(item_schema, item, path, depth + 1);
                path.truncate(len);
            }
        }
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for s in all {
                self.value(s, value, path, depth + 1);
            }
        }
        for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
            if let Some(Value::Array(branches)) = schema.get(keyword) {
                self.alternatives(branches, exactly_one, value, path, depth);
            }
        }
    }

    fn object(
        &mut self,
        schema: &serde_json::Map<String, Value>,
        fields: &serde_json::Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) {
        let properties = match schema.get("properties") {
            Some(Value::Object(p)) => Some(p),
            _ => None,
        };
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    let len = path.len();
                    push_key(path, name);
                    self.issue(path, "required field is missing".into());
                    path.truncate(len);
                }
            }
        }
        for (name, field) in fields {
            let len = path.len();
            push_key(path, name);
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => self.value(field_schema, field, path, depth + 1),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        let hint = properties
                            .and_then(|p| p.keys().find(|k| k.eq_ignore_ascii_case(name)))
                            .map(|k| format!(" (did you mean {k}?)"))
                            .unwrap_or_default();
                        self.issue(
                            path,
                            format!("unknown field: the schema has no such field here{hint}"),
                        );
                    }
                    Some(extra) => self.value(extra, field, path, depth + 1),
                    None => {}
                },
            }
            path.truncate(len);
        }
    }

    /// `oneOf` (exactly one branch must hold) and `anyOf` (at least one).
    fn alternatives(
        &mut self,
        branches: &[Value],
        exactly_one: bool,
        value: &Value,
        path: &str,
        depth: usize,
    ) {
        let mut failures = Vec::new();
        let mut matched = 0;
        for branch in branches {
            let mut issues = Vec::new();
            let mut sub = path.to_string();
            Walker {
                schemas: self.schemas,
                out: &mut issues,
            }
            .value(branch, value, &mut sub, depth + 1);
            if issues.is_empty() {
                matched += 1;
            } else {
                failures.extend(issues.into_iter().map(|i| i.message));
            }
        }
        if matched == 0 {
            failures.dedup();
            self.issue(
                path,
                format!("matches no allowed form: {}", failures.join("; or ")),
            );
        } else if exactly_one && matched > 1 {
            self.issue(
                path,
                format!("{} matches more than one allowed form", show(value)),
            );
        }
    }

    fn format(&mut self, format: &str, value: &Value, path: &str) {
        let range = match format {
            "int32" => (i32::MIN as f64, i32::MAX as f64),
            "int64" => (i64::MIN as f64, i64::MAX as f64),
            "int-or-string" => {
                if !(value.is_string() || is_integer(value)) {
                    self.issue(
                        path,
                        format!("expected an integer or a string, found {}", show(value)),
                    );
                }
                return;
            }
            _ => return,
        };
        if let Some(n) = value.as_f64().filter(|_| is_integer(value))
            && (n < range.0 || n > range.1)
        {
            self.issue(path, format!("{n} is out of the range of {format}"));
        }
    }
}

/// Appends `.name` (or `["na.me"]` for a key that is not a plain word) to a JSON path.
fn push_key(path: &mut String, name: &str) {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
    } else {
        path.push_str(&format!("[{}]", Value::String(name.to_string())));
    }
}

fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

fn type_matches(types: &Value, value: &Value) -> bool {
    let one = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "number" => value.is_number(),
        "integer" => is_integer(value),
        "string" => value.is_string(),
        _ => true,
    };
    match types {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

fn type_names(types: &Value) -> String {
    match types {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => String::new(),
    }
}

/// Equality as JSON Schema means it: numbers by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A value for a message: its type, and the value itself when short.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            let head: String = s.chars().take(40).collect();
            format!("string {:?}...", head)
        }
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}
