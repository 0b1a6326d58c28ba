//! The YAML rendering of exported objects: the same text as `spec::to_yaml` (the goldens and
//! a unit test hold them equal), written straight into one buffer. `spec::to_yaml` builds a
//! string per scalar and re-renders every block under a `- ` into a temporary string, which
//! made it most of an export's time (issue 15 asks < 200 ms for 500 services).

use crate::spec::is_plain_safe;
use serde_json::{Map, Value};
use std::fmt::Write;

/// Appends `v` as a YAML document (ending with a newline) to `out`.
pub fn write(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) if !m.is_empty() => map(out, m, 0, false),
        Value::Array(a) if !a.is_empty() => seq(out, a, 0, false),
        other => {
            scalar(out, other);
            out.push('\n');
        }
    }
}

const SPACES: &str = "                                                                ";

fn pad(out: &mut String, n: usize) {
    let mut n = n;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

fn string(out: &mut String, s: &str) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
    }
}

fn scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => string(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// `inline`: the first entry goes on the current line (right after a `- `).
fn map(out: &mut String, m: &Map<String, Value>, indent: usize, inline: bool) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !inline {
            pad(out, indent);
        }
        string(out, k);
        out.push(':');
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                map(out, inner, indent + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                seq(out, items, indent + 2, false);
            }
            other => {
                out.push(' ');
                scalar(out, other);
                out.push('\n');
            }
        }
    }
}

fn seq(out: &mut String, items: &[Value], indent: usize, inline: bool) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 || !inline {
            pad(out, indent);
        }
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => map(out, m, indent + 2, true),
            Value::Array(a) if !a.is_empty() => seq(out, a, indent + 2, true),
            other => {
                scalar(out, other);
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn same(v: serde_json::Value) {
        let mut out = String::new();
        super::write(&mut out, &v);
        assert_eq!(out, crate::spec::to_yaml(&v), "{v}");
    }

    #[test]
    fn same_text_as_the_spec_emitter() {
        same(
            json!({"name": "p", "services": {"a": {"command": ["sh", "-c", "echo 'x: y' # no"], "environment": {"A": "1", "B": "true", "C": "", "D": null, "E": "yes", "F": "- x", "G": "a\nb", "H": "True", "I": "nullx", "J": "e5"}, "ports": [{"target": 80, "published": "8080"}], "empty": [], "none": {}, "nested": [[1, 2], ["x", [true, {"k": [{"a": 1, "b": [2]}]}]]], "cpus": 1.5}}}),
        );
        same(
            json!({"x": ["~", "null", "NULL", "0x10", "0o7", "1e3", ".5", ".inf", "-.inf", "+1", "*a", "&b", "!t", "{a}", "[b]", "a,b", "#c", "@d", "`e`", "%f", "<<", ":g", "?h", "'i'", "\"j\"", " lead", "trail ", "-", "-x", "./rel", "/abs", "a: b", "a:", "true"]}),
        );
        same(json!([{"a": 1}, [], {}, [[{"b": {"c": "d"}}]]]));
        same(json!("scalar"));
        // Deeper than the pad table is wide.
        let mut deep = json!({"leaf": [1, {"a": "b"}]});
        for i in 0..40 {
            deep = json!({ format!("k{i}"): deep });
        }
        same(deep);
    }
}
