//! Warnings that name a stack-file key at its file:line:col, found in the loader's tree.

use crate::spec::Loaded;
use crate::spec::yaml::{Node, Span};
use std::fmt;

/// A key with no faithful Kubernetes equivalent (or mapped with a caveat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Dotted key path, e.g. `services.web.volumes`.
    pub key: String,
    /// `file:line:col` of the key, empty when it was not written in a file.
    pub at: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            write!(f, "warning: {}: {}", self.key, self.message)
        } else {
            write!(f, "warning: {}: {}: {}", self.at, self.key, self.message)
        }
    }
}

/// The key node of `path` (map keys; a numeric segment indexes a sequence, then its item).
pub fn key_node<'a>(tree: &'a Node, path: &[&str]) -> Option<&'a Node> {
    let mut cur = tree;
    let mut key: Option<&Node> = None;
    for seg in path {
        if let Some(m) = cur.as_map() {
            let (k, v) = m.iter().find(|(k, _)| k.as_str() == Some(seg))?;
            key = Some(k);
            cur = v;
        } else if let (Some(s), Ok(i)) = (cur.as_seq(), seg.parse::<usize>()) {
            cur = s.get(i)?;
            key = Some(cur);
        } else {
            return None;
        }
    }
    key
}

/// Where `path` was written, as `file:line:col` (empty when unknown).
pub fn at(loaded: &Loaded, path: &[&str]) -> String {
    key_node(&loaded.tree, path)
        .map(|n| span_text(loaded, n.span))
        .unwrap_or_default()
}

fn span_text(loaded: &Loaded, s: Span) -> String {
    let file = loaded
        .sources
        .get(s.file as usize)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{file}:{}:{}", s.line, s.col)
}

/// Collects warnings for one export.
pub struct Warner<'a> {
    pub loaded: &'a Loaded,
    pub out: Vec<Warning>,
}

impl Warner<'_> {
    pub fn warn(&mut self, path: &[&str], message: impl Into<String>) {
        self.out.push(Warning {
            key: path.join("."),
            at: at(self.loaded, path),
            message: message.into(),
        });
    }
}

/// The top-level `volumes:` key a mount's volume was declared under (the model holds the
/// project-scoped name, `PROJECT_KEY`, or the volume's own `name:`).
pub fn volume_key(loaded: &Loaded, source: &str) -> String {
    if let Some(m) = loaded.tree.get("volumes").and_then(Node::as_map) {
        for (k, v) in m {
            let Some(k) = k.as_str() else { continue };
            let custom = v.get("name").and_then(Node::as_str);
            if custom == Some(source)
                || (custom.is_none() && format!("{}_{k}", loaded.stack.name) == source)
            {
                return k.to_string();
            }
        }
    }
    source.to_string()
}
