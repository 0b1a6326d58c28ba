//! Service keys that reach `model::ContainerOptions`: `cap_add`, `cap_drop`, `privileged`,
//! `sysctls`, `ulimits`, `shm_size`, `oom_score_adj`, `group_add`, `pid`, `container_name`,
//! `labels`, `stdin_open`, `tty`, and the checks of `runtime` and `userns_mode`. Every refusal points at the
//! entry that causes it.

use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::options::{SysctlNs, rlimit_kind, sysctl_namespaced};
use crate::model::{ContainerOptions, Ulimit};

/// Reads `key` (value `v`) of a service into `out`; false when the key is not one of these.
pub fn read(
    cx: &mut Cx<'_>,
    path: &str,
    key: &str,
    v: &Node,
    svc: &Node,
    out: &mut ContainerOptions,
) -> bool {
    match key {
        "cap_add" => out.cap_add = capabilities(cx, path, v),
        "cap_drop" => out.cap_drop = capabilities(cx, path, v),
        "privileged" => out.privileged = cx.boolean(path, v).unwrap_or(false),
        "sysctls" => out.sysctls = sysctls(cx, path, v, svc),
        "ulimits" => out.ulimits = ulimits(cx, path, v),
        "shm_size" => out.shm_size = if v.is_null() { None } else { cx.size(path, v) },
        "oom_score_adj" => out.oom_score_adj = oom_score_adj(cx, path, v),
        "group_add" => {
            if !v.is_null() {
                out.group_add = cx.string_list(path, v).unwrap_or_default();
            }
        }
        "pid" => out.pid_host = pid(cx, path, v),
        "runtime" => runtime(cx, path, v),
        "userns_mode" => {
            if let Some(m) = cx.string(path, v).filter(|m| !m.is_empty()) {
                cx.warn(
                    v.span,
                    format!("{path}: \"{m}\" is ignored: rstack does not remap users into a user namespace, so uid 0 in the container is root on the host"),
                );
            }
        }
        "container_name" => out.container_name = container_name(cx, path, v),
        "labels" => out.labels = labels(cx, path, v),
        "stdin_open" => out.stdin_open = cx.boolean(path, v).unwrap_or(false),
        "tty" => out.tty = cx.boolean(path, v).unwrap_or(false),
        _ => return false,
    }
    true
}

/// `CAP_NAME` for a capability as Docker accepts it (any case, with or without `CAP_`), or
/// `ALL`; `None` for a name the runtime does not know.
pub fn normalize_capability(name: &str) -> Option<String> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" || up == "CAP_ALL" {
        return Some("ALL".into());
    }
    crate::runtime::caps::cap_number(&up)?;
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    Some(format!("CAP_{bare}"))
}

fn capabilities(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<String> {
    if v.is_null() {
        return Vec::new();
    }
    let Some(items) = v.as_seq() else {
        cx.string_list(path, v);
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(name) = cx.string(&p, it) else {
            continue;
        };
        match normalize_capability(&name) {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => {}
            None => cx.error_hint(
                it.span,
                format!("{p}: unknown capability \"{name}\""),
                "name a capability of capabilities(7), e.g. NET_ADMIN or CAP_NET_ADMIN, or ALL",
            ),
        }
    }
    out
}

/// `KEY=VALUE` list or mapping entries as (key, key node, value text).
fn pairs<'n>(cx: &mut Cx<'_>, path: &str, v: &'n Node) -> Vec<(String, &'n Node, String)> {
    let mut out = Vec::new();
    match &v.kind {
        Kind::Null => {}
        Kind::Map(m) => {
            for (k, val) in m {
                let key = k.scalar_text().unwrap_or_default();
                let text = if val.is_null() {
                    Some(String::new())
                } else {
                    cx.string(&format!("{path}.{key}"), val)
                };
                if let Some(t) = text {
                    out.push((key, k, t));
                }
            }
        }
        Kind::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let Some(text) = cx.string(&format!("{path}[{i}]"), it) else {
                    continue;
                };
                let (k, val) = text.split_once('=').unwrap_or((&text, ""));
                out.push((k.to_string(), it, val.to_string()));
            }
        }
        _ => cx.error(
            v.span,
            format!(
                "{path}: expected a mapping or a list of \"KEY=VALUE\", found {}",
                v.type_name()
            ),
        ),
    }
    out
}

fn sysctls(
    cx: &mut Cx<'_>,
    path: &str,
    v: &Node,
    svc: &Node,
) -> indexmap::IndexMap<String, String> {
    let host_net = svc.get("network_mode").and_then(Node::as_str) == Some("host");
    let mut out = indexmap::IndexMap::new();
    for (k, at, val) in pairs(cx, path, v) {
        match sysctl_namespaced(&k) {
            None => cx.error_hint(
                at.span,
                format!("{path}: sysctl \"{k}\" is not namespaced: setting it in a container would change the whole host"),
                "only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* may be set per container; set others on the host (sysctl -w)",
            ),
            Some(SysctlNs::Net) if host_net => cx.error_hint(
                at.span,
                format!("{path}: sysctl \"{k}\" is not allowed with network_mode: host (it would change the host's network namespace)"),
                "remove network_mode: host, or set it on the host",
            ),
            Some(_) if k.contains(['/', '\0']) || k.split('.').any(str::is_empty) => {
                cx.error(at.span, format!("{path}: invalid sysctl name \"{k}\""))
            }
            Some(_) if cx.known_sysctl.is_some_and(|known| !known(&k)) => cx.error_hint(
                at.span,
                format!("{path}: sysctl \"{k}\" does not exist on this kernel"),
                "check its name (`sysctl -a` lists this kernel's settings), or remove it",
            ),
            Some(_) => {
                out.insert(k, val);
            }
        }
    }
    out
}

/// A ulimit value: a number, or -1 for unlimited.
fn limit_value(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<u64> {
    match cx.int(path, v)? {
        -1 => Some(u64::MAX),
        n if n >= 0 => u64::try_from(n).ok(),
        n => {
            cx.error(
                v.span,
                format!("{path}: must be -1 (unlimited) or at least 0, got {n}"),
            );
            None
        }
    }
}

fn ulimits(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<Ulimit> {
    if v.is_null() {
        return Vec::new();
    }
    let Some(entries) = cx.map(path, v) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, knode, val) in entries {
        let p = format!("{path}.{name}");
        if rlimit_kind(&name).is_none() {
            let names: Vec<&str> = crate::model::options::ULIMITS
                .iter()
                .map(|(n, _)| *n)
                .collect();
            cx.error_hint(
                knode.span,
                format!("{path}: unknown ulimit \"{name}\""),
                super::keys::suggest(&name, &names).map_or_else(
                    || format!("known ones: {}", names.join(", ")),
                    |s| format!("did you mean {s}?"),
                ),
            );
            continue;
        }
        let (soft, hard) = match &val.kind {
            Kind::Map(_) => {
                let (mut soft, mut hard) = (None, None);
                for (k, kn, x) in cx.map(&p, val).unwrap_or_default() {
                    match k.as_str() {
                        "soft" => soft = limit_value(cx, &format!("{p}.soft"), x),
                        "hard" => hard = limit_value(cx, &format!("{p}.hard"), x),
                        k if k.starts_with("x-") => {}
                        k => cx.unknown_key(kn.span, &p, k, &["soft", "hard"]),
                    }
                }
                match (soft, hard) {
                    (Some(s), Some(h)) => (s, h),
                    _ => {
                        cx.error(val.span, format!("{p}: needs both soft and hard"));
                        continue;
                    }
                }
            }
            _ => match limit_value(cx, &p, val) {
                Some(n) => (n, n),
                None => continue,
            },
        };
        if soft > hard {
            cx.error_hint(
                val.span,
                format!("{p}: soft limit {soft} is greater than hard limit {hard}"),
                "the soft limit must not exceed the hard limit",
            );
            continue;
        }
        out.push(Ulimit { name, soft, hard });
    }
    out
}

fn oom_score_adj(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<i32> {
    if v.is_null() {
        return None;
    }
    let n = cx.int(path, v)?;
    if !(-1000..=1000).contains(&n) {
        cx.error(
            v.span,
            format!("{path}: must be between -1000 and 1000, got {n}"),
        );
        return None;
    }
    i32::try_from(n).ok()
}

fn pid(cx: &mut Cx<'_>, path: &str, v: &Node) -> bool {
    match cx.string(path, v).as_deref() {
        None | Some("") => false,
        Some("host") => true,
        // `service:x` / `container:x`: kept as a warning, the container gets its own.
        Some(other) => {
            cx.unsupported(v.span, &format!("{path} ({other})"));
            false
        }
    }
}

/// rstack has one runtime, its own; `runc` (Docker's default, what a file written for Docker
/// means by it) is taken as that one, any other name is an error.
fn runtime(cx: &mut Cx<'_>, path: &str, v: &Node) {
    match cx.string(path, v).as_deref() {
        None | Some("") | Some("runc") => {}
        Some(other) => cx.error_hint(
            v.span,
            format!("{path}: runtime \"{other}\" is not available: rstack runs containers with its own built-in runtime"),
            "remove runtime (or write runtime: runc, which rstack takes as its own)",
        ),
    }
}

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_container_name(n: &str) -> bool {
    let mut chars = n.chars();
    n.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn container_name(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<String> {
    if v.is_null() {
        return None;
    }
    let n = cx.string(path, v)?;
    let n = n.strip_prefix('/').unwrap_or(&n).to_string();
    if !valid_container_name(&n) {
        cx.error_hint(
            v.span,
            format!("{path}: invalid container name \"{n}\""),
            "a name has at least two characters from [a-zA-Z0-9_.-] and starts with a letter or digit",
        );
        return None;
    }
    Some(n)
}

/// Two services of one stack may not share a `container_name`: the second one is refused at
/// its value.
pub fn unique_container_names(
    cx: &mut Cx<'_>,
    services: &[(String, &Node, &Node)],
    converted: &indexmap::IndexMap<String, crate::model::Service>,
) {
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for (name, _, node) in services {
        let Some(cn) = converted
            .get(name)
            .and_then(|s| s.options.container_name.as_deref())
        else {
            continue;
        };
        if let Some(first) = seen.insert(cn, name) {
            let span = node.get("container_name").map_or(node.span, |n| n.span);
            cx.error_hint(
                span,
                format!("services.{name}.container_name: \"{cn}\" is already the container name of service {first}"),
                "give each service its own container_name",
            );
        }
    }
}

fn labels(cx: &mut Cx<'_>, path: &str, v: &Node) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for (k, at, val) in pairs(cx, path, v) {
        if k.is_empty() {
            cx.error(at.span, format!("{path}: empty label name"));
            continue;
        }
        out.insert(k, val);
    }
    out
}

/// The keys `config` prints from the model, as `docker compose config` normalizes them:
/// `labels` and `sysctls` as mappings of strings, `group_add` as strings, `shm_size` in bytes.
/// Only keys the service's file sets (`has`).
pub fn compose_json(
    o: &ContainerOptions,
    has: &dyn Fn(&str) -> bool,
) -> Vec<(String, serde_json::Value)> {
    use serde_json::{Value, json};
    let mut out = Vec::new();
    if has("labels") {
        out.push(("labels".into(), json!(o.labels)));
    }
    if has("sysctls") {
        let m: serde_json::Map<String, Value> = o
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        out.push(("sysctls".into(), Value::Object(m)));
    }
    if has("group_add") {
        out.push(("group_add".into(), json!(o.group_add)));
    }
    if let Some(n) = o.shm_size.filter(|_| has("shm_size")) {
        out.push(("shm_size".into(), json!(n.to_string())));
    }
    out
}
