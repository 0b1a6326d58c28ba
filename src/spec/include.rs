//! Top-level `include`: other stack files whose services (and other resources) are added to
//! this one. A name defined both here and in an included file is an error, as in Compose.

use super::fileload::FileLoader;
use super::files::absolute;
use super::merge;
use super::yaml::{Kind, Node, Span};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const RESOURCES: &[&str] = &["services", "networks", "volumes", "secrets", "configs"];

/// Loads the files `tree` includes and adds their resources to it; removes the `include` key.
pub fn apply(loader: &mut FileLoader<'_>, tree: &mut Node, file: &Path, chain: &mut Vec<PathBuf>) {
    let Kind::Map(top) = &mut tree.kind else {
        return;
    };
    let Some(pos) = top.iter().position(|(k, _)| k.as_str() == Some("include")) else {
        return;
    };
    let (_, inc) = top.remove(pos);
    let items: Vec<Node> = match inc.kind {
        Kind::Seq(items) => items,
        Kind::Null => return,
        _ => {
            loader.cx().error(
                inc.span,
                format!("include: expected a list, found {}", inc.type_name()),
            );
            return;
        }
    };
    let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut inserted: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("include[{i}]");
        let Some(paths) = entry_paths(loader, &ipath, item) else {
            continue;
        };
        let mut merged: Option<Node> = None;
        for (p, span) in paths {
            let abs = absolute(&dir, Path::new(&p));
            if chain.contains(&abs) {
                loader
                    .cx()
                    .error(span, format!("{ipath}: include cycle through {p}"));
                continue;
            }
            let Some(t) = loader.read_full(&abs, None, Some(span), chain) else {
                continue;
            };
            merged = Some(match merged {
                None => t,
                Some(m) => merge::merge_files(m, t),
            });
        }
        if let Some(inc_tree) = merged {
            add_resources(loader, tree, inc_tree, item.span, &mut inserted);
        }
    }
}

/// The paths of one include entry: a string, or `{path: str|[str], project_directory, env_file}`.
fn entry_paths(
    loader: &mut FileLoader<'_>,
    ipath: &str,
    item: &Node,
) -> Option<Vec<(String, Span)>> {
    let mut cx = loader.cx();
    match &item.kind {
        Kind::Str(s) => Some(vec![(s.clone(), item.span)]),
        Kind::Map(_) => {
            let entries = cx.map(ipath, item)?;
            let mut out = Vec::new();
            for (k, knode, v) in entries {
                let p = format!("{ipath}.{k}");
                match k.as_str() {
                    "path" => match &v.kind {
                        Kind::Seq(list) => {
                            for (j, n) in list.iter().enumerate() {
                                if let Some(s) = cx.string(&format!("{p}[{j}]"), n) {
                                    out.push((s, n.span));
                                }
                            }
                        }
                        _ => {
                            if let Some(s) = cx.string(&p, v) {
                                out.push((s, v.span));
                            }
                        }
                    },
                    "project_directory" | "env_file" => cx.unsupported(knode.span, &p),
                    k if k.starts_with("x-") => {}
                    k => cx.unknown_key(
                        knode.span,
                        ipath,
                        k,
                        &["path", "project_directory", "env_file"],
                    ),
                }
            }
            if out.is_empty() {
                cx.error(item.span, format!("{ipath}: path is required"));
                return None;
            }
            Some(out)
        }
        _ => {
            cx.error(
                item.span,
                format!(
                    "{ipath}: expected a path or a mapping, found {}",
                    item.type_name()
                ),
            );
            None
        }
    }
}

/// `inserted` counts, per resource kind, the entries earlier includes put in front, so included
/// entries keep include order and come before the local ones.
fn add_resources(
    loader: &mut FileLoader<'_>,
    tree: &mut Node,
    inc: Node,
    inc_span: Span,
    inserted: &mut HashMap<String, usize>,
) {
    let Kind::Map(inc_top) = inc.kind else { return };
    let Kind::Map(top) = &mut tree.kind else {
        return;
    };
    for (ik, iv) in inc_top {
        let Some(kind) = ik.as_str().map(str::to_string) else {
            continue;
        };
        if !RESOURCES.contains(&kind.as_str()) {
            continue;
        }
        let Kind::Map(entries) = iv.kind else {
            continue;
        };
        let slot = match top
            .iter()
            .position(|(k, _)| k.as_str() == Some(kind.as_str()))
        {
            Some(i) => i,
            None => {
                top.push((ik.clone(), Node::new(Kind::Map(Vec::new()), ik.span)));
                top.len() - 1
            }
        };
        let target = &mut top[slot].1;
        if target.is_null() {
            target.kind = Kind::Map(Vec::new());
        }
        let Kind::Map(local) = &mut target.kind else {
            continue;
        };
        let mut added = Vec::new();
        for (name, def) in entries {
            let n = name.scalar_text().unwrap_or_default();
            if let Some((lk, _)) = local
                .iter()
                .find(|(k, _)| k.scalar_text().as_deref() == Some(n.as_str()))
            {
                let span = lk.span;
                loader.cx().error_hint(
                    span,
                    format!("{kind}.{n} conflicts with a definition from an included file"),
                    format!(
                        "the include at line {} also defines it; rename one of them",
                        inc_span.line
                    ),
                );
                continue;
            }
            added.push((name, def));
        }
        let at = inserted.entry(kind.clone()).or_insert(0);
        let n = added.len();
        let at_now = (*at).min(local.len());
        local.splice(at_now..at_now, added);
        *at += n;
    }
}
