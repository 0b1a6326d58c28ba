//! `extends`: a service inherits another service's definition (same file or another file),
//! merged with the same rules as multiple files, the extending service winning.

use super::fileload::FileLoader;
use super::files::absolute;
use super::keys::suggest;
use super::merge;
use super::yaml::{Kind, Node};
use std::path::{Path, PathBuf};

/// Resolves `extends` of every service in `tree` (read from `file`).
pub fn apply(loader: &mut FileLoader<'_>, tree: &mut Node, file: &Path) {
    let Some(services) = tree.get("services").and_then(Node::as_map) else {
        return;
    };
    if !services.iter().any(|(_, s)| s.get("extends").is_some()) {
        return;
    }
    let snapshot: Vec<(Node, Node)> = services.to_vec();
    let mut resolved: Vec<(String, Node)> = Vec::new();
    for (k, s) in &snapshot {
        if s.get("extends").is_none() {
            continue;
        }
        let Some(name) = k.as_str() else { continue };
        let mut chain = Vec::new();
        if let Some(n) = resolve(loader, &snapshot, file, name, &mut chain) {
            resolved.push((name.to_string(), n));
        }
    }
    let Kind::Map(top) = &mut tree.kind else {
        return;
    };
    for (k, v) in top.iter_mut() {
        if k.as_str() != Some("services") {
            continue;
        }
        let Kind::Map(svcs) = &mut v.kind else {
            continue;
        };
        for (sk, sv) in svcs.iter_mut() {
            if let Some((_, n)) = resolved
                .iter()
                .find(|(n, _)| Some(n.as_str()) == sk.as_str())
            {
                *sv = n.clone();
            }
        }
    }
}

fn find<'n>(services: &'n [(Node, Node)], name: &str) -> Option<&'n Node> {
    services
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
}

/// The fully extended definition of `name`, without its `extends` key.
fn resolve(
    loader: &mut FileLoader<'_>,
    services: &[(Node, Node)],
    file: &Path,
    name: &str,
    chain: &mut Vec<(PathBuf, String)>,
) -> Option<Node> {
    let svc = find(services, name)?;
    let Some(ext) = svc.get("extends") else {
        return Some(svc.clone());
    };
    let path = format!("services.{name}.extends");
    let key = (file.to_path_buf(), name.to_string());
    if chain.contains(&key) {
        let mut names: Vec<&str> = chain.iter().map(|(_, n)| n.as_str()).collect();
        names.push(name);
        loader.cx().error(
            ext.span,
            format!("{path}: extends cycle: {}", names.join(" -> ")),
        );
        return None;
    }
    let (base_name, base_file, base_span) = match &ext.kind {
        Kind::Str(s) => (s.clone(), None, ext.span),
        Kind::Map(_) => {
            let mut cx = loader.cx();
            let entries = cx.map(&path, ext)?;
            let mut service = None;
            let mut other = None;
            for (k, knode, v) in entries {
                match k.as_str() {
                    "service" => {
                        service = cx
                            .string(&format!("{path}.service"), v)
                            .map(|s| (s, v.span))
                    }
                    "file" => other = cx.string(&format!("{path}.file"), v).map(|f| (f, v.span)),
                    k if k.starts_with("x-") => {}
                    k => cx.unknown_key(knode.span, &path, k, &["service", "file"]),
                }
            }
            let Some((service, sspan)) = service else {
                cx.error(ext.span, format!("{path}: service is required"));
                return None;
            };
            (service, other, sspan)
        }
        _ => {
            loader.cx().error(
                ext.span,
                format!(
                    "{path}: expected a service name or a mapping, found {}",
                    ext.type_name()
                ),
            );
            return None;
        }
    };
    chain.push(key);
    let base = match base_file {
        Some((f, fspan)) => {
            let dir = loader.dir_of(fspan.file, file);
            let other_path = absolute(&dir, Path::new(&f));
            let other = loader.read_cached(&other_path, fspan);
            let other_services: Vec<(Node, Node)> = other
                .as_ref()
                .and_then(|t| t.get("services"))
                .and_then(Node::as_map)
                .map(<[_]>::to_vec)
                .unwrap_or_default();
            if other.is_some() && find(&other_services, &base_name).is_none() {
                loader.cx().error(
                    base_span,
                    format!("{path}: no service \"{base_name}\" in {f}"),
                );
            }
            other.and_then(|_| resolve(loader, &other_services, &other_path, &base_name, chain))
        }
        None => {
            if find(services, &base_name).is_none() {
                let names: Vec<&str> = services.iter().filter_map(|(k, _)| k.as_str()).collect();
                let msg = format!("{path}: no service \"{base_name}\" to extend");
                match suggest(&base_name, &names) {
                    Some(s) => loader
                        .cx()
                        .error_hint(base_span, msg, format!("did you mean {s}?")),
                    None => loader.cx().error(base_span, msg),
                }
                None
            } else {
                resolve(loader, services, file, &base_name, chain)
            }
        }
    };
    chain.pop();
    let base = base?;
    let mut local = svc.clone();
    if let Kind::Map(m) = &mut local.kind {
        m.retain(|(k, _)| k.as_str() != Some("extends"));
    }
    Some(merge::merge_service(base, local))
}
