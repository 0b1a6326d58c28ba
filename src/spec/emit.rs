//! A small YAML emitter for `config --format yaml`: block style, two-space indent, strings
//! quoted only when a plain scalar would read back as something else.

use super::yaml::{Kind, plain_scalar};
use serde_json::Value;

/// Renders `v` as a YAML document (ends with a newline).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

/// Whether a plain `s` reads back as a string. A string starting with a letter is one unless
/// it is a null/bool word (numbers, floats, `0x`/`0o` and `.inf` start otherwise), which
/// spares the allocation `plain_scalar` makes for its answer.
fn reads_as_string(s: &str) -> bool {
    if s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
        return !matches!(
            s,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        );
    }
    matches!(plain_scalar(s), Kind::Str(_))
}

/// Whether `s` can be written as a plain scalar: not when it would read back as something
/// else (a number, bool, null) or holds YAML indicators. `export::yaml` writes by the same rule.
pub fn is_plain_safe(s: &str) -> bool {
    if s.is_empty() || s.trim() != s || !reads_as_string(s) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        let ok_dash = first == '-' && s.len() > 1 && !s.starts_with("- ");
        if !ok_dash {
            return false;
        }
    }
    !(s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control() || matches!(c, '\u{feff}'))
        || s.contains(['{', '}', '[', ']', ','])
        || s == "<<")
}

fn string(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => false,
    }
}

fn map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    let pad = " ".repeat(indent);
    for (k, v) in m {
        out.push_str(&pad);
        out.push_str(&string(k));
        out.push(':');
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                map(out, inner, indent + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                seq(out, items, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn seq(out: &mut String, items: &[Value], indent: usize) {
    let pad = " ".repeat(indent);
    for v in items {
        out.push_str(&pad);
        out.push_str("- ");
        if !is_block(v) {
            out.push_str(&scalar(v));
            out.push('\n');
            continue;
        }
        // Render the nested block at indent+2, then drop its first line's indentation so it
        // starts right after "- ".
        let mut inner = String::new();
        match v {
            Value::Object(m) => map(&mut inner, m, indent + 2),
            Value::Array(a) => seq(&mut inner, a, indent + 2),
            _ => {}
        }
        out.push_str(inner.trim_start_matches(' '));
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::node_json;
    use super::super::yaml::parse;
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_the_parser() {
        let cases = vec![
            json!({"name": "p", "services": {"a": {"command": ["sh", "-c", "echo 'x: y' # no"], "environment": {"A": "1", "B": "true", "C": "", "D": null, "E": "yes", "F": "- x", "G": "a\nb"}, "ports": [{"target": 80, "published": "8080"}], "healthcheck": {"test": ["CMD-SHELL", "curl -f x || exit 1"], "retries": 3}, "empty": [], "none": {}, "nested": [[1, 2], ["x"]], "cpus": 1.5}}}),
            json!({"x": ["~", "null", "0x10", "1e3", "*a", "&b", "!t", "{a}", "[b]", "a,b", "#c", "@d", "`e`", "%f", "<<", ":g", "?h", "'i'", "\"j\"", " lead", "trail ", "-", "-x", "./rel", "/abs"]}),
        ];
        for v in cases {
            let text = to_yaml(&v);
            let node = parse(&text, 0).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            assert_eq!(node_json(&node), v, "\n{text}");
        }
    }

    #[test]
    fn layout() {
        let v = json!({"services": {"a": {"image": "x", "ports": [{"mode": "ingress", "target": 80}]}}});
        assert_eq!(
            to_yaml(&v),
            "services:\n  a:\n    image: x\n    ports:\n      - mode: ingress\n        target: 80\n"
        );
    }
}
