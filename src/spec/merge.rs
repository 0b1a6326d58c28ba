//! Multi-file merging by Compose's rules: mappings merge, sequences append, `command`,
//! `entrypoint` and `healthcheck.test` replace, `ports`/`volumes`/`secrets`/`configs` merge on
//! their key, `!reset` removes and `!override` replaces. List-form `environment`, `labels`, ...
//! are first normalized to mappings so a later file can override single entries.

use super::yaml::{Kind, Node, Tag, key_text};

/// Service keys whose list form `K=V` is normalized to a mapping before merging.
const KV_KEYS: &[&str] = &["environment", "labels", "annotations", "sysctls"];

/// Normalizes list forms in every service of a file tree (before interpolation results are
/// merged), so merging works entry by entry.
pub fn normalize(root: &mut Node) {
    let Kind::Map(top) = &mut root.kind else {
        return;
    };
    for (k, v) in top.iter_mut() {
        if k.as_str() != Some("services") {
            continue;
        }
        let Kind::Map(services) = &mut v.kind else {
            continue;
        };
        for (_, svc) in services.iter_mut() {
            let Kind::Map(keys) = &mut svc.kind else {
                continue;
            };
            for (sk, sv) in keys.iter_mut() {
                let Some(name) = sk.as_str() else { continue };
                if KV_KEYS.contains(&name) {
                    kv_list_to_map(sv);
                } else if name == "depends_on" {
                    depends_list_to_map(sv);
                } else if name == "build"
                    && let Some(args) = map_get_mut(sv, "args")
                {
                    kv_list_to_map(args);
                }
            }
        }
    }
}

fn map_get_mut<'a>(n: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut n.kind {
        Kind::Map(m) => m
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// `["A=1", "B"]` -> `{A: "1", B: null}`; entries that are not scalars are left for the
/// converter to report.
fn kv_list_to_map(n: &mut Node) {
    let Kind::Seq(items) = &n.kind else { return };
    if items
        .iter()
        .any(|i| matches!(i.kind, Kind::Seq(_) | Kind::Map(_)))
    {
        return;
    }
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(items.len());
    for it in items {
        let text = it.scalar_text().unwrap_or_default();
        let (k, v) = match text.split_once('=') {
            Some((k, v)) => (k.to_string(), Kind::Str(v.to_string())),
            None => (text.clone(), Kind::Null),
        };
        let key = Node::new(Kind::Str(k.clone()), it.span);
        let val = Node::new(v, it.span);
        match out
            .iter_mut()
            .find(|(ek, _)| ek.as_str() == Some(k.as_str()))
        {
            Some(slot) => *slot = (key, val),
            None => out.push((key, val)),
        }
    }
    n.kind = Kind::Map(out);
}

/// `[db, cache]` -> `{db: {condition: service_started}, cache: ...}`.
fn depends_list_to_map(n: &mut Node) {
    let Kind::Seq(items) = &n.kind else { return };
    if items.iter().any(|i| i.as_str().is_none()) {
        return;
    }
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(items.len());
    for it in items {
        if out.iter().any(|(k, _)| k.as_str() == it.as_str()) {
            continue;
        }
        let cond = Node::new(
            Kind::Map(vec![(
                Node::new(Kind::Str("condition".into()), it.span),
                Node::new(Kind::Str("service_started".into()), it.span),
            )]),
            it.span,
        );
        out.push((it.clone(), cond));
    }
    n.kind = Kind::Map(out);
}

/// Merges `over` (a later file) into `base`.
pub fn merge_files(base: Node, over: Node) -> Node {
    merge_value(&mut Vec::new(), base, over)
}

fn merge_value(path: &mut Vec<String>, base: Node, over: Node) -> Node {
    if over.tag == Some(Tag::Override) {
        return Node { tag: None, ..over };
    }
    let replace = is_replace_path(path);
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) if !replace => Node {
            kind: Kind::Map(merge_maps(path, b, o)),
            span: over.span,
            tag: None,
        },
        (Kind::Seq(b), Kind::Seq(o)) if !replace => Node {
            kind: Kind::Seq(merge_seqs(path, b, o)),
            span: over.span,
            tag: None,
        },
        (_, kind) => Node {
            kind,
            span: over.span,
            tag: over.tag,
        },
    }
}

fn is_replace_path(path: &[String]) -> bool {
    matches!(
        path,
        [s, _, k] if s == "services" && (k == "command" || k == "entrypoint")
    ) || matches!(
        path,
        [s, _, h, t] if s == "services" && h == "healthcheck" && t == "test"
    )
}

fn merge_maps(
    path: &mut Vec<String>,
    base: Vec<(Node, Node)>,
    over: Vec<(Node, Node)>,
) -> Vec<(Node, Node)> {
    let mut out = base;
    for (k, v) in over {
        let Some(kt) = key_text(&k) else { continue };
        let pos = out
            .iter()
            .position(|(bk, _)| key_text(bk).as_deref() == Some(kt.as_str()));
        if v.tag == Some(Tag::Reset) {
            if let Some(i) = pos {
                out.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => {
                let (bk, bv) = out.remove(i);
                path.push(kt);
                let merged = merge_value(path, bv, v);
                path.pop();
                let _ = bk;
                out.insert(i, (k, merged));
            }
            None => out.push((k, v)),
        }
    }
    out
}

/// Identity of a sequence entry for keyed merging, if the path has one.
fn entry_key(path: &[String], item: &Node) -> Option<String> {
    let field = match path {
        [s, _, f] if s == "services" => f.as_str(),
        _ => return item.scalar_text(),
    };
    match field {
        "volumes" => match &item.kind {
            Kind::Str(s) => {
                let parts: Vec<&str> = s.split(':').collect();
                Some(if parts.len() == 1 { parts[0] } else { parts[1] }.to_string())
            }
            Kind::Map(_) => item.get("target").and_then(Node::scalar_text),
            _ => None,
        },
        "secrets" | "configs" => match &item.kind {
            Kind::Map(_) => item.get("source").and_then(Node::scalar_text),
            _ => item.scalar_text(),
        },
        "ports" => match &item.kind {
            Kind::Map(_) => Some(
                ["host_ip", "published", "target", "protocol"]
                    .iter()
                    .map(|f| item.get(f).and_then(Node::scalar_text).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => item.scalar_text(),
        },
        _ => item.scalar_text(),
    }
}

fn merge_seqs(path: &[String], base: Vec<Node>, over: Vec<Node>) -> Vec<Node> {
    let mut out = base;
    for item in over {
        if item.tag == Some(Tag::Reset) {
            continue;
        }
        match entry_key(path, &item) {
            Some(key) => match out
                .iter()
                .position(|b| entry_key(path, b).as_deref() == Some(key.as_str()))
            {
                Some(i) => out[i] = item,
                None => out.push(item),
            },
            None => out.push(item),
        }
    }
    out
}

/// Drops every `!reset` value left in a tree (a single file may use them too) and clears tags.
pub fn strip_resets(n: &mut Node) {
    match &mut n.kind {
        Kind::Map(m) => {
            m.retain(|(_, v)| v.tag != Some(Tag::Reset));
            for (_, v) in m.iter_mut() {
                strip_resets(v);
            }
        }
        Kind::Seq(s) => {
            s.retain(|v| v.tag != Some(Tag::Reset));
            for v in s.iter_mut() {
                strip_resets(v);
            }
        }
        _ => {}
    }
    n.tag = None;
}

/// Merges one service definition over another (for `extends`), with the service-level rules.
pub fn merge_service(base: Node, over: Node) -> Node {
    let mut path = vec!["services".to_string(), String::new()];
    merge_value(&mut path, base, over)
}
