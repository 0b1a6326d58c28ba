//! Top-level `secrets:` / `configs:` and the services' references to them, into
//! `model::FileMount`s.
//!
//! A definition gives its content by `file` (relative to the directory of the file that
//! declares it), `environment` (a variable of the project environment) or `content` (inline).
//! `external` ones live in a swarm's store, which rstack has not: using one is an error, as
//! docker compose refuses them outside swarm. With `LoadOptions::read_secrets` the content is
//! read here, through `SourceFs`, and a missing file or unset variable is an error at the
//! key that names it; `config` loads without reading, as `docker compose config` does not
//! check them either.
//!
//! A service names them in the short form (`- NAME`) or the long one (`source`, `target`,
//! `uid`, `gid`, `mode`). Secrets go to /run/secrets/NAME (a relative target lands under
//! /run/secrets), configs to /NAME (a relative target under /).

use super::SourceFs;
use super::files::absolute;
use super::keys;
use super::source::display_path;
use super::value::Cx;
use super::yaml::{Kind, Node, Span};
use crate::model::{FileMount, Service};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

/// Keys of a top-level definition.
const DEF_KEYS: &[&str] = &[
    "file",
    "environment",
    "content",
    "external",
    "name",
    "labels",
    "driver",
    "driver_opts",
    "template_driver",
];
/// Keys of a service's long-form entry.
const ENTRY_KEYS: &[&str] = &["source", "target", "uid", "gid", "mode"];

/// Where a definition's content comes from.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf, Span),
    Env(String, Span),
    Content(String),
    External(Span),
}

/// What the converter needs to read sources.
pub struct Inputs<'a> {
    pub fs: &'a dyn SourceFs,
    pub project_dir: &'a Path,
    pub top_files: &'a [PathBuf],
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Read the content (`up`, `run`...); `config` renders without.
    pub read: bool,
}

/// Fills `secrets` and `configs` of every converted service from `root`.
pub fn resolve(
    cx: &mut Cx<'_>,
    root: &Node,
    inputs: &Inputs<'_>,
    services: &mut IndexMap<String, Service>,
) {
    for kind in ["secrets", "configs"] {
        let defs = definitions(cx, root, kind, inputs);
        // Each definition is read once, however many services use it.
        let mut cache: IndexMap<String, Option<Vec<u8>>> = IndexMap::new();
        for (name, svc) in services.iter_mut() {
            let Some(node) = root
                .get("services")
                .and_then(|s| s.get(name))
                .and_then(|s| s.get(kind))
            else {
                continue;
            };
            let path = format!("services.{name}.{kind}");
            let list = entries(cx, &path, node, kind, &defs, inputs, &mut cache);
            match kind {
                "secrets" => svc.secrets = list,
                _ => svc.configs = list,
            }
        }
    }
}

/// The top-level definitions of `kind`, checked.
fn definitions(
    cx: &mut Cx<'_>,
    root: &Node,
    kind: &str,
    inputs: &Inputs<'_>,
) -> IndexMap<String, Source> {
    let mut out = IndexMap::new();
    let Some(node) = root.get(kind).filter(|n| !n.is_null()) else {
        return out;
    };
    let Some(entries) = cx.map(kind, node) else {
        return out;
    };
    for (name, knode, def) in entries {
        let path = format!("{kind}.{name}");
        let Some(keys) = cx.map(&path, def) else {
            continue;
        };
        let mut found: Vec<(&str, Span, Source)> = Vec::new();
        for (k, kn, v) in keys {
            let kp = format!("{path}.{k}");
            match k.as_str() {
                "file" => {
                    if let Some(f) = cx.string(&kp, v) {
                        let base =
                            cx.sources
                                .base_dir(v.span.file, inputs.project_dir, inputs.top_files);
                        let abs = absolute(&base, Path::new(&f));
                        found.push(("file", kn.span, Source::File(abs, v.span)));
                    }
                }
                "environment" => {
                    if let Some(e) = cx.string(&kp, v) {
                        found.push(("environment", kn.span, Source::Env(e, v.span)));
                    }
                }
                "content" => {
                    if let Some(c) = cx.string(&kp, v) {
                        found.push(("content", kn.span, Source::Content(c)));
                    }
                }
                "external" => {
                    let external = match &v.kind {
                        // The old form `external: {name: X}` means external too.
                        Kind::Map(_) => true,
                        _ => cx.boolean(&kp, v).unwrap_or(false),
                    };
                    if external {
                        found.push(("external", kn.span, Source::External(kn.span)));
                    }
                }
                "name" | "labels" => {}
                "driver" | "driver_opts" | "template_driver" => cx.unsupported(kn.span, &kp),
                k if k.starts_with("x-") => {}
                k => cx.unknown_key(kn.span, &path, k, DEF_KEYS),
            }
        }
        match found.len() {
            0 => cx.error_hint(
                knode.span,
                format!("{path}: no source"),
                "give it one of file:, environment: or content:",
            ),
            1 => {
                if let Some((_, _, src)) = found.pop() {
                    out.insert(name, src);
                }
            }
            _ => {
                let names: Vec<&str> = found.iter().map(|(n, _, _)| *n).collect();
                cx.error_hint(
                    found[1].1,
                    format!("{path}: {} are exclusive", names.join(" and ")),
                    "keep one of file:, environment:, content: or external:",
                );
            }
        }
    }
    out
}

/// A service's list, each entry checked against the definitions and its content attached.
fn entries(
    cx: &mut Cx<'_>,
    path: &str,
    node: &Node,
    kind: &str,
    defs: &IndexMap<String, Source>,
    inputs: &Inputs<'_>,
    cache: &mut IndexMap<String, Option<Vec<u8>>>,
) -> Vec<FileMount> {
    let mut out = Vec::new();
    if node.is_null() {
        return out;
    }
    let Some(items) = node.as_seq() else {
        cx.error(
            node.span,
            format!(
                "{path}: expected a list of names or of mappings, found {}",
                node.type_name()
            ),
        );
        return out;
    };
    let names: Vec<&str> = defs.keys().map(String::as_str).collect();
    for (i, it) in items.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let Some((mut m, source_span)) = entry(cx, &ip, it) else {
            continue;
        };
        let Some(src) = defs.get(&m.source) else {
            let msg = format!("{ip}: undefined {} \"{}\"", singular(kind), m.source);
            match keys::suggest(&m.source, &names) {
                Some(s) => cx.error_hint(source_span, msg, format!("did you mean {s}?")),
                None => cx.error_hint(
                    source_span,
                    msg,
                    format!("declare it under the top-level {kind}:"),
                ),
            }
            continue;
        };
        m.target = target(kind, &m.source, &m.target);
        if let Source::External(at) = src {
            cx.error_hint(
                *at,
                format!(
                    "{kind}.{}: external {kind} are not supported: they live in a swarm's store, which rstack has not (used by {ip})",
                    m.source
                ),
                "give it a file:, environment: or content: instead",
            );
            continue;
        }
        if inputs.read {
            let data = match cache.get(&m.source) {
                Some(d) => d.clone(),
                None => {
                    let d = content(cx, kind, &m.source, src, inputs);
                    cache.insert(m.source.clone(), d.clone());
                    d
                }
            };
            match data {
                Some(d) => m.data = d,
                None => continue,
            }
        }
        out.push(m);
    }
    out
}

/// One entry, short or long form; also the span of its source name.
fn entry(cx: &mut Cx<'_>, ip: &str, it: &Node) -> Option<(FileMount, Span)> {
    if !matches!(it.kind, Kind::Map(_)) {
        let name = cx.string(ip, it)?;
        let m = FileMount {
            source: name,
            ..FileMount::default()
        };
        return Some((m, it.span));
    }
    let mut m = FileMount::default();
    let mut source_span = None;
    for (k, kn, v) in cx.map(ip, it)? {
        let kp = format!("{ip}.{k}");
        match k.as_str() {
            "source" => {
                m.source = cx.string(&kp, v).unwrap_or_default();
                source_span = Some(v.span);
            }
            "target" => m.target = cx.string(&kp, v).unwrap_or_default(),
            "uid" => m.uid = id(cx, &kp, v),
            "gid" => m.gid = id(cx, &kp, v),
            "mode" => m.mode = mode(cx, &kp, v),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(kn.span, ip, k, ENTRY_KEYS),
        }
    }
    match source_span {
        Some(s) if !m.source.is_empty() => Some((m, s)),
        _ => {
            cx.error_hint(
                it.span,
                format!("{ip}: source is required"),
                "add source: NAME",
            );
            None
        }
    }
}

fn singular(kind: &str) -> &str {
    kind.strip_suffix('s').unwrap_or(kind)
}

/// Where the file appears: secrets under /run/secrets, configs under /, unless absolute.
pub fn target(kind: &str, source: &str, target: &str) -> String {
    let dir = if kind == "secrets" {
        "/run/secrets"
    } else {
        ""
    };
    match target {
        "" => format!("{dir}/{source}"),
        t if t.starts_with('/') => t.to_string(),
        t => format!("{dir}/{t}"),
    }
}

/// `uid`/`gid`: a number (compose writes them as strings).
fn id(cx: &mut Cx<'_>, kp: &str, v: &Node) -> Option<u32> {
    let text = cx.string(kp, v)?;
    match text.trim().parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            cx.error_hint(
                v.span,
                format!("{kp}: invalid id \"{text}\""),
                "give a numeric user or group id",
            );
            None
        }
    }
}

/// `mode`, read as Go reads an integer literal (compose's YAML): `0440` and `0o440` are
/// octal, `288` decimal. The text as written decides, since YAML 1.2 reads `0440` as 440.
fn mode(cx: &mut Cx<'_>, kp: &str, v: &Node) -> Option<u32> {
    let written = written_text(cx, v);
    let text = match (&v.kind, written) {
        (Kind::Int(_), Some(w)) if go_int(&w).is_some() => w,
        _ => cx.string(kp, v)?,
    };
    match go_int(text.trim()) {
        Some(m) if m <= 0o7777 => Some(m),
        _ => {
            cx.error_hint(
                v.span,
                format!("{kp}: invalid mode \"{text}\""),
                "write an octal mode such as 0440",
            );
            None
        }
    }
}

/// The scalar's text as it appears in its file, when the span covers it.
fn written_text(cx: &Cx<'_>, v: &Node) -> Option<String> {
    let line = cx.sources.line(v.span.file, v.span.line)?;
    let start = (v.span.col as usize).checked_sub(1)?;
    let t: String = line.chars().skip(start).take(v.span.len as usize).collect();
    (!t.is_empty()).then_some(t)
}

/// Go's `strconv.ParseUint(s, 0, 32)` for the forms a mode is written in.
pub fn go_int(s: &str) -> Option<u32> {
    if let Some(o) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        return u32::from_str_radix(o, 8).ok();
    }
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u32::from_str_radix(h, 16).ok();
    }
    if s.len() > 1
        && let Some(o) = s.strip_prefix('0')
    {
        return u32::from_str_radix(o, 8).ok();
    }
    s.parse().ok()
}

/// Reads a definition's content; `None` after reporting why it cannot be read.
fn content(
    cx: &mut Cx<'_>,
    kind: &str,
    name: &str,
    src: &Source,
    inputs: &Inputs<'_>,
) -> Option<Vec<u8>> {
    let path = format!("{kind}.{name}");
    match src {
        Source::Content(c) => Some(c.clone().into_bytes()),
        Source::External(_) => None,
        Source::Env(var, at) => match (inputs.lookup)(var) {
            Some(v) => Some(v.into_bytes()),
            None => {
                cx.error_hint(
                    *at,
                    format!("{path}: environment variable \"{var}\" is not set"),
                    format!("set {var} in the shell or in the project's .env"),
                );
                None
            }
        },
        Source::File(file, at) => match inputs.fs.read_bytes(file) {
            Ok(b) => Some(b),
            Err(e) => {
                let shown = display_path(file, inputs.project_dir);
                let msg = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("{path}: {} file {shown} not found", singular(kind))
                } else {
                    format!("{path}: cannot read {shown}: {e}")
                };
                cx.error_hint(*at, msg, "create the file, or correct the path");
                None
            }
        },
    }
}
