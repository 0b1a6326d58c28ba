//! A service's `develop:` into `model::Develop`: `watch` rules with path (absolute, from the
//! directory of the file that wrote it), action, target, ignore, include, initial_sync and
//! exec. Errors point at the rule: path is required, target for the sync actions, exec for
//! `sync+exec`.

use super::files::absolute;
use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::{Develop, WatchAction, WatchExec, WatchRule};
use std::path::{Path, PathBuf};

const RULE_KEYS: &[&str] = &[
    "path",
    "action",
    "target",
    "ignore",
    "include",
    "initial_sync",
    "exec",
];
const EXEC_KEYS: &[&str] = &[
    "command",
    "user",
    "privileged",
    "working_dir",
    "environment",
];

/// Reads `develop` of service `name`; `None` when absent or wrong (reported).
pub fn read(
    cx: &mut Cx<'_>,
    name: &str,
    svc: &Node,
    (project_dir, top_files): (&Path, &[PathBuf]),
) -> Option<Develop> {
    let node = svc.get("develop")?;
    if node.is_null() {
        return None;
    }
    let path = format!("services.{name}.develop");
    let before = errors(cx);
    let mut dev = Develop::default();
    for (key, knode, v) in cx.map(&path, node)? {
        let kpath = format!("{path}.{key}");
        match key.as_str() {
            "watch" => {
                let Kind::Seq(items) = &v.kind else {
                    if !v.is_null() {
                        cx.error_hint(
                            v.span,
                            format!("{kpath}: expected a list, found {}", v.type_name()),
                            "write watch: [{path: DIR, action: sync, target: /DIR}]",
                        );
                    }
                    continue;
                };
                for (i, it) in items.iter().enumerate() {
                    let base = cx.sources.base_dir(it.span.file, project_dir, top_files);
                    if let Some(r) = rule(cx, &format!("{kpath}[{i}]"), it, &base) {
                        dev.watch.push(r);
                    }
                }
            }
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, &path, k, &["watch"]),
        }
    }
    (errors(cx) == before).then_some(dev)
}

fn errors(cx: &Cx<'_>) -> usize {
    cx.report.items.iter().filter(|d| d.is_error()).count()
}

fn rule(cx: &mut Cx<'_>, path: &str, node: &Node, base: &Path) -> Option<WatchRule> {
    let mut r = WatchRule::default();
    let (mut seen_path, mut seen_action) = (false, false);
    for (key, knode, v) in cx.map(path, node)? {
        let kpath = format!("{path}.{key}");
        match key.as_str() {
            "path" => {
                if let Some(p) = cx.string(&kpath, v) {
                    if p.is_empty() {
                        cx.error(v.span, format!("{kpath}: must not be empty"));
                    }
                    r.path = absolute(base, Path::new(&p)).display().to_string();
                    seen_path = true;
                }
            }
            "action" => {
                if let Some(a) = cx.string(&kpath, v) {
                    seen_action = true;
                    match WatchAction::parse(&a) {
                        Some(a) => r.action = a,
                        None => cx.error_hint(
                            v.span,
                            format!("{kpath}: unknown action \"{a}\""),
                            "use one of sync, rebuild, restart, sync+restart, sync+exec",
                        ),
                    }
                }
            }
            "target" => r.target = cx.string(&kpath, v).filter(|t| !t.is_empty()),
            "ignore" => r.ignore = string_or_list(cx, &kpath, v),
            "include" => r.include = string_or_list(cx, &kpath, v),
            "initial_sync" => r.initial_sync = cx.boolean(&kpath, v).unwrap_or(false),
            "exec" => r.exec = exec(cx, &kpath, v),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, path, k, RULE_KEYS),
        }
    }
    if !seen_path {
        cx.error_hint(
            node.span,
            format!("{path}: path is required"),
            "add path: DIR (relative to the stack file's directory)",
        );
    }
    if !seen_action {
        cx.error_hint(
            node.span,
            format!("{path}: action is required"),
            "add action: sync, rebuild, restart, sync+restart or sync+exec",
        );
    }
    if seen_action && r.action.syncs() && r.target.is_none() {
        cx.error_hint(
            node.span,
            format!(
                "{path}: target is required for action {}",
                r.action.as_str()
            ),
            "add target: /DIR (where the files go in the container)",
        );
    }
    if r.action == WatchAction::SyncExec && r.exec.is_none() {
        cx.error_hint(
            node.span,
            format!("{path}: exec is required for action sync+exec"),
            "add exec: {command: [CMD, ARG]}",
        );
    }
    Some(r)
}

fn string_or_list(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<String> {
    match &v.kind {
        Kind::Null => Vec::new(),
        Kind::Seq(_) => cx.string_list(path, v).unwrap_or_default(),
        _ => cx.string(path, v).into_iter().collect(),
    }
}

fn exec(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<WatchExec> {
    let mut e = WatchExec::default();
    let mut seen_command = false;
    for (key, knode, x) in cx.map(path, v)? {
        let kpath = format!("{path}.{key}");
        match key.as_str() {
            "command" => {
                if let Some(c) = cx.command(&kpath, x) {
                    seen_command = !c.is_empty();
                    e.command = c;
                }
            }
            "user" => e.user = cx.string(&kpath, x),
            "privileged" => e.privileged = cx.boolean(&kpath, x).unwrap_or(false),
            "working_dir" => e.working_dir = cx.string(&kpath, x),
            "environment" => e.environment = environment(cx, &kpath, x),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, path, k, EXEC_KEYS),
        }
    }
    if !seen_command {
        cx.error_hint(
            v.span,
            format!("{path}: command is required"),
            "add command: [CMD, ARG]",
        );
        return None;
    }
    Some(e)
}

/// `environment` as a list of `K=V` or a mapping, as `K=V` entries.
fn environment(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<String> {
    match &v.kind {
        Kind::Map(_) => cx
            .map(path, v)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _, x)| match x.scalar_text() {
                Some(s) if !x.is_null() => format!("{k}={s}"),
                _ => k,
            })
            .collect(),
        _ => string_or_list(cx, path, v),
    }
}
