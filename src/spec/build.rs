//! A service's `build:` into `model::BuildSpec`, in every form of the Compose Specification:
//! `build: DIR`, or the mapping with context, dockerfile, dockerfile_inline, args (list or
//! mapping), target, tags, labels, additional_contexts, no_cache, pull and network. Paths
//! resolve from the directory of the file that wrote them. Keys Compose has that rstack
//! accepts without effect (caches, secrets, ssh, platforms...) are warned about, one by one.

use super::files::absolute;
use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::BuildSpec;
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

/// The environment's values for value-less entries.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The build keys rstack honours.
const HONOURED: &[&str] = &[
    "context",
    "dockerfile",
    "dockerfile_inline",
    "args",
    "target",
    "tags",
    "labels",
    "additional_contexts",
    "no_cache",
    "pull",
    "network",
];

/// Compose's other build keys: accepted, warned about, without effect.
const IGNORED: &[&str] = &[
    "cache_from",
    "cache_to",
    "entitlements",
    "extra_hosts",
    "isolation",
    "platforms",
    "privileged",
    "provenance",
    "sbom",
    "secrets",
    "shm_size",
    "ssh",
    "ulimits",
];

/// Reads `build` of service `name` (its tree `svc`); `None` when absent or wrong (reported).
pub fn read(
    cx: &mut Cx<'_>,
    name: &str,
    svc: &Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    (project_dir, top_files): (&Path, &[PathBuf]),
) -> Option<BuildSpec> {
    let node = svc.get("build")?;
    let path = format!("services.{name}.build");
    let base = cx.sources.base_dir(node.span.file, project_dir, top_files);
    let mut spec = BuildSpec::default();
    let mut context: Option<(String, &Node)> = None;
    let mut dockerfile: Option<(String, &Node)> = None;
    let before = cx.report.items.iter().filter(|d| d.is_error()).count();
    match &node.kind {
        Kind::Null => return None,
        Kind::Str(_) => context = cx.string(&path, node).map(|c| (c, node)),
        Kind::Map(_) => {
            let known: Vec<&str> = HONOURED.iter().chain(IGNORED).copied().collect();
            for (key, knode, v) in cx.map(&path, node)? {
                let kpath = format!("{path}.{key}");
                match key.as_str() {
                    "context" => context = cx.string(&kpath, v).map(|c| (c, v)),
                    "dockerfile" => dockerfile = cx.string(&kpath, v).map(|d| (d, v)),
                    "dockerfile_inline" => spec.dockerfile_inline = cx.string(&kpath, v),
                    "args" => spec.args = args(cx, &kpath, v, lookup),
                    "target" => spec.target = non_empty(cx, &kpath, v),
                    "tags" => spec.tags = cx.string_list(&kpath, v).unwrap_or_default(),
                    "labels" => spec.labels = pairs(cx, &kpath, v, None).into_iter().collect(),
                    "additional_contexts" => {
                        spec.additional_contexts = pairs(cx, &kpath, v, None)
                            .into_iter()
                            .map(|(k, c)| {
                                let c = if c.contains(':') {
                                    c
                                } else {
                                    absolute(&base, Path::new(&c)).display().to_string()
                                };
                                (k, c)
                            })
                            .collect()
                    }
                    "no_cache" => spec.no_cache = cx.boolean(&kpath, v).unwrap_or(false),
                    "pull" => spec.pull = cx.boolean(&kpath, v).unwrap_or(false),
                    "network" => spec.network = non_empty(cx, &kpath, v),
                    // Builds are for the host's platform: naming only it changes nothing.
                    "platforms" if only_host_platform(v) => {}
                    k if IGNORED.contains(&k) => {
                        if !v.is_null() {
                            cx.warn(
                                knode.span,
                                format!("{kpath}: accepted but has no effect in rstack builds"),
                            );
                        }
                    }
                    k if k.starts_with("x-") => {}
                    k => cx.unknown_key(knode.span, &path, k, &known),
                }
            }
        }
        _ => {
            cx.error_hint(
                node.span,
                format!(
                    "{path}: expected a string or a mapping, found {}",
                    node.type_name()
                ),
                "write build: DIR, or build: {context: DIR, dockerfile: FILE}",
            );
            return None;
        }
    }
    let (ctx, ctx_node) = match context {
        Some((c, n)) => (c, n),
        None => (".".to_string(), node),
    };
    if is_remote(&ctx) {
        cx.error_hint(
            ctx_node.span,
            format!("{path}: remote build context \"{ctx}\" is not supported"),
            "clone the repository and give its directory as the context",
        );
        return None;
    }
    let ctx_dir = absolute(&base, Path::new(&ctx));
    spec.context = ctx_dir.display().to_string();
    match (&dockerfile, &spec.dockerfile_inline) {
        (Some((_, n)), Some(_)) => {
            cx.error_hint(
                n.span,
                format!("{path}: dockerfile and dockerfile_inline are mutually exclusive"),
                "keep one of them",
            );
        }
        (Some((d, _)), None) => {
            spec.dockerfile = absolute(&ctx_dir, Path::new(d)).display().to_string()
        }
        (None, None) => spec.dockerfile = ctx_dir.join("Dockerfile").display().to_string(),
        (None, Some(_)) => {}
    }
    let after = cx.report.items.iter().filter(|d| d.is_error()).count();
    (after == before).then_some(spec)
}

fn only_host_platform(v: &Node) -> bool {
    v.as_seq().is_some_and(|items| {
        items
            .iter()
            .all(|i| matches!(i.as_str(), Some("linux/amd64") | Some("linux/x86_64")))
    })
}

/// git URLs and other remote contexts (Compose accepts them; rstack builds local ones only).
fn is_remote(ctx: &str) -> bool {
    ctx.contains("://") || ctx.starts_with("git@") || ctx.starts_with("github.com/")
}

fn non_empty(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<String> {
    if v.is_null() {
        return None;
    }
    let s = cx.string(path, v)?;
    if s.is_empty() {
        cx.error(v.span, format!("{path}: must not be empty"));
        return None;
    }
    Some(s)
}

/// `args`: a list of `K=V` / `K`, or a mapping (a null value = `K` alone). A value-less
/// arg takes the environment's value, or is left out.
fn args(
    cx: &mut Cx<'_>,
    path: &str,
    v: &Node,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> IndexMap<String, String> {
    pairs(cx, path, v, Some(lookup)).into_iter().collect()
}

/// A list of `K=V` or a mapping, in order. With `lookup`, a bare `K` (or `K:` with no value)
/// takes its value from it and is dropped when it has none; without, its value is empty.
fn pairs(
    cx: &mut Cx<'_>,
    path: &str,
    v: &Node,
    lookup: Option<Lookup<'_>>,
) -> Vec<(String, String)> {
    let bare = |k: &str| match lookup {
        Some(l) => l(k),
        None => Some(String::new()),
    };
    let mut out = Vec::new();
    match &v.kind {
        Kind::Null => {}
        Kind::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let Some(s) = cx.string(&format!("{path}[{i}]"), it) else {
                    continue;
                };
                match s.split_once('=') {
                    Some((k, val)) => out.push((k.to_string(), val.to_string())),
                    None => {
                        if let Some(val) = bare(&s) {
                            out.push((s, val));
                        }
                    }
                }
            }
        }
        Kind::Map(_) => {
            for (k, _, val) in cx.map(path, v).unwrap_or_default() {
                if val.is_null() {
                    if let Some(x) = bare(&k) {
                        out.push((k, x));
                    }
                } else if let Some(s) = cx.string(&format!("{path}.{k}"), val) {
                    out.push((k, s));
                }
            }
        }
        _ => {
            cx.error_hint(
                v.span,
                format!(
                    "{path}: expected a list or a mapping, found {}",
                    v.type_name()
                ),
                "write - KEY=VALUE items, or KEY: VALUE entries",
            );
        }
    }
    out
}
