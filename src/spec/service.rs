//! One service tree -> `model::Service`: every implemented key converted, every known but
//! unsupported key warned about, every unknown key an error with a suggestion.

use super::keys;
use super::limits;
use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::{
    DependCondition, Dependency, HealthTest, Healthcheck, RestartPolicy, Service, ServiceExtensions,
};
use indexmap::IndexMap;

/// What the converter needs besides the tree.
pub struct ServiceInput<'a> {
    pub name: &'a str,
    /// The service's key under `services:` (errors about the whole service point here).
    pub key: &'a Node,
    pub node: &'a Node,
    /// Variables for `environment` entries without a value (shell env over `.env`).
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Environment read from `env_file`, already in order; `environment` overrides it.
    pub env_file: Vec<(String, String)>,
    /// Image name for a `build`-only service: `<project>-<service>`, as Compose names it.
    pub build_image: Option<String>,
}

/// Converts one service. Returns `None` when it had errors (all of them reported).
pub fn convert(cx: &mut Cx<'_>, input: ServiceInput<'_>) -> Option<Service> {
    let name = input.name;
    let base = format!("services.{name}");
    let entries = cx.map(&base, input.node)?;
    let before = cx.report.items.iter().filter(|d| d.is_error()).count();

    let mut svc = Service::new(name, "");
    svc.environment = input.env_file.into_iter().collect();
    let mut image_seen = false;
    let mut deploy = limits::Deploy::default();
    let mut scale: Option<(u32, super::yaml::Span)> = None;
    let known: Vec<&str> = keys::SERVICE_IMPLEMENTED
        .iter()
        .chain(keys::SERVICE_UNSUPPORTED)
        .chain(keys::SERVICE_UNSUPPORTED_NEWER)
        .copied()
        .collect();

    for (key, knode, v) in entries {
        let path = format!("{base}.{key}");
        match key.as_str() {
            "image" => {
                image_seen = true;
                if let Some(s) = cx.string(&path, v) {
                    if s.trim().is_empty() {
                        cx.error(v.span, format!("{path}: must not be empty"));
                    }
                    svc.image = s;
                }
            }
            "command" => {
                if !v.is_null() {
                    svc.command = cx.command(&path, v);
                }
            }
            "entrypoint" => {
                if !v.is_null() {
                    svc.entrypoint = cx.command(&path, v);
                }
            }
            "environment" => environment(cx, &path, v, input.lookup, &mut svc.environment),
            "working_dir" => svc.working_dir = opt_string(cx, &path, v),
            "user" => svc.user = opt_string(cx, &path, v),
            "hostname" => svc.hostname = opt_string(cx, &path, v),
            "depends_on" => {
                svc.depends_on = super::depends::read(cx, &path, v)
                    .into_iter()
                    .map(|e| (e.name, e.dep))
                    .collect()
            }
            "restart" => {
                if let Some(r) = restart(cx, &path, v) {
                    svc.restart = r;
                }
            }
            "healthcheck" => svc.healthcheck = healthcheck(cx, &path, v),
            "mem_limit" => svc.resources.memory = cx.memory_limit(&path, v),
            "cpus" => svc.resources.cpus = cx.cpus(&path, v),
            "pids_limit" => svc.resources.pids = cx.int(&path, v).filter(|p| *p > 0),
            "mem_reservation" => svc.resources.memory_reservation = cx.size(&path, v),
            "deploy" => limits::deploy(cx, &path, v, &mut deploy),
            "scale" => scale = limits::replicas(cx, &path, v).map(|n| (n, v.span)),
            "stop_signal" => {
                if let Some(s) = cx.string(&path, v) {
                    match crate::model::units::normalize_signal(&s) {
                        Ok(sig) => svc.stop_signal = sig,
                        Err(e) => cx.error(v.span, format!("{path}: {e}")),
                    }
                }
            }
            "stop_grace_period" => {
                if let Some(d) = cx.duration(&path, v) {
                    svc.stop_grace_period = d;
                }
            }
            "read_only" => svc.read_only = cx.boolean(&path, v).unwrap_or(false),
            "init" => svc.init = cx.boolean(&path, v).unwrap_or(false),
            "tmpfs" => svc.tmpfs = limits::tmpfs(cx, &path, v),
            "devices" => svc.devices = super::devices::devices(cx, &path, v),
            "device_cgroup_rules" => {
                svc.device_cgroup_rules = super::devices::cgroup_rules(cx, &path, v)
            }
            "pull_policy" => {
                if let Some(s) = cx.string(&path, v) {
                    match crate::model::PullPolicy::parse(&s) {
                        Ok(p) => svc.pull_policy = p,
                        Err(e) => cx.error(v.span, format!("{path}: {e}")),
                    }
                }
            }
            "platform" => {
                if let Some(s) = cx.string(&path, v) {
                    match crate::model::Platform::parse(&s, crate::model::host_arch()) {
                        Ok(p) => svc.platform = Some(p),
                        Err(e) => cx.error(v.span, format!("{path}: {e}")),
                    }
                }
            }
            "logging" => svc.logging = super::logging::logging(cx, &path, v),
            "post_start" => svc.post_start = hooks(cx, &path, v, input.lookup),
            "pre_stop" => svc.pre_stop = hooks(cx, &path, v, input.lookup),
            "x-rstack" => svc.x_rstack = x_rstack(cx, &path, v),
            "ports" => svc.net.ports = super::ports::read(cx, &path, v),
            "expose" => svc.net.expose = super::ports::expose(cx, &path, v),
            "links" => svc.net.links = super::netopts::links(cx, &path, v),
            "extra_hosts" => svc.net.extra_hosts = super::netopts::extra_hosts(cx, &path, v),
            "dns" => svc.net.dns = super::netopts::dns(cx, &path, v),
            "dns_search" => svc.net.dns_search = super::netopts::dns_search(cx, &path, v),
            "dns_opt" => svc.net.dns_opt = super::netopts::dns_opt(cx, &path, v),
            "domainname" => svc.net.domainname = opt_string(cx, &path, v),
            "mac_address" => svc.net.mac_address = super::netopts::mac_address(cx, &path, v),
            // Consumed earlier in the pipeline (env_file, profiles, extends), or after the
            // conversion, where files can be read (security_opt).
            // `volumes` resolves relative paths from its file's directory (`spec::volumes`);
            // `networks` and `network_mode` need the top-level networks (`spec::network`).
            "env_file" | "profiles" | "extends" | "security_opt" | "build" | "develop"
            | "volumes" | "volumes_from" | "networks" | "network_mode" | "secrets" | "configs" => {}
            k if k.starts_with("x-") => {}
            k if super::options::read(cx, &path, k, v, input.node, &mut svc.options) => {}
            k if keys::service_unsupported(k) => cx.unsupported(knode.span, &path),
            k => cx.unknown_key(knode.span, &base, k, &known),
        }
    }
    if !image_seen
        && input.node.get("build").is_some()
        && let Some(img) = input.build_image
    {
        // Compose names built images `<project>-<service>`.
        svc.image = img;
    } else if !image_seen {
        cx.error_hint(
            input.key.span,
            format!("{base}: image is required"),
            "add image: NAME[:TAG], or build: DIR to build it",
        );
    }
    svc.scale = match (scale, deploy.replicas) {
        (Some((a, at)), Some((b, _))) if a != b => {
            cx.error_hint(
                at,
                format!(
                    "{base}: can't set distinct values on 'scale' ({a}) and 'deploy.replicas' ({b})"
                ),
                "keep one of them, or give both the same value",
            );
            None
        }
        (Some((n, _)), _) | (None, Some((n, _))) => Some(n),
        (None, None) => None,
    };
    if let (Some(n), Some(at)) = (
        svc.scale.filter(|n| *n > 1),
        input.node.get("container_name"),
    ) && svc.options.container_name.is_some()
    {
        cx.error_hint(
            at.span,
            format!("{base}: container_name \"{}\" cannot be used with {n} replicas: container names must be unique", svc.options.container_name.as_deref().unwrap_or_default()),
            "remove container_name, or run one replica",
        );
    }
    // As docker compose: deploy.restart_policy wins over `restart`.
    if let Some((policy, limits)) = deploy.restart_policy {
        svc.restart = policy;
        svc.restart_limits = limits;
    }
    let deploy_limits = deploy.limits;
    // deploy.resources.limits wins over the legacy keys (Compose rejects differing values;
    // rstack takes the deploy value).
    if deploy_limits.memory.is_some() {
        svc.resources.memory = deploy_limits.memory;
    }
    if deploy_limits.cpus.is_some() {
        svc.resources.cpus = deploy_limits.cpus;
    }
    if deploy_limits.pids.is_some() {
        svc.resources.pids = deploy_limits.pids;
    }
    // As docker compose: a non-zero reservations.memory wins over `mem_reservation` (Compose
    // rejects differing values; rstack takes the deploy value, as for the limits).
    let reserve = deploy.reservations;
    if let Some(m) = reserve.memory_reservation.filter(|m| *m != 0) {
        svc.resources.memory_reservation = Some(m);
    }
    svc.resources.cpus_reservation = reserve.cpus_reservation;
    // Docker refuses a soft limit above the hard one when it creates the container; say so
    // here, at the reservation.
    if let (Some(limit), Some(r)) = (
        svc.resources.memory.filter(|m| *m > 0),
        svc.resources.memory_reservation,
    ) && r > limit
    {
        let at = input
            .node
            .get("deploy")
            .and_then(|d| d.get("resources"))
            .and_then(|d| d.get("reservations"))
            .and_then(|d| d.get("memory"))
            .or_else(|| input.node.get("mem_reservation"));
        if let Some(at) = at {
            cx.error_hint(
                at.span,
                format!(
                    "{base}: memory reservation ({r} bytes) is above the memory limit ({limit} bytes)"
                ),
                "lower the reservation to the limit or below, or raise the limit",
            );
        }
    }
    for (dep, _, _) in implied_dependencies(input.node) {
        svc.depends_on.entry(dep).or_insert(Dependency {
            condition: DependCondition::ServiceStarted,
            required: true,
            restart: true,
        });
    }
    let after = cx.report.items.iter().filter(|d| d.is_error()).count();
    (after == before).then_some(svc)
}

/// Dependencies Compose derives from other keys: `links` (`svc[:alias]`), `volumes_from`
/// (`svc[:mode]`, not `container:`), `network_mode: service:svc`. Each comes with the span of
/// the entry that implies it and the key it is written under.
pub fn implied_dependencies(node: &Node) -> Vec<(String, super::yaml::Span, &'static str)> {
    let mut out = Vec::new();
    for key in ["links", "volumes_from"] {
        for item in node.get(key).and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(text) = item.as_str() else { continue };
            if text.starts_with("container:") {
                continue;
            }
            let svc = text.split(':').next().unwrap_or(text);
            if !svc.is_empty() {
                out.push((svc.to_string(), item.span, key));
            }
        }
    }
    if let Some(n) = node.get("network_mode")
        && let Some(svc) = n.as_str().and_then(|m| m.strip_prefix("service:"))
    {
        out.push((svc.to_string(), n.span, "network_mode"));
    }
    out
}

fn opt_string(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<String> {
    if v.is_null() {
        return None;
    }
    cx.string(path, v)
}

fn environment(
    cx: &mut Cx<'_>,
    path: &str,
    v: &Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut IndexMap<String, String>,
) {
    match &v.kind {
        Kind::Map(m) => {
            for (k, val) in m {
                let key = k.scalar_text().unwrap_or_default();
                if key.is_empty() {
                    cx.error(k.span, format!("{path}: empty variable name"));
                    continue;
                }
                if val.is_null() {
                    match lookup(&key) {
                        Some(x) => {
                            out.insert(key, x);
                        }
                        None => {
                            out.shift_remove(&key);
                        }
                    }
                } else if let Some(s) = cx.string(&format!("{path}.{key}"), val) {
                    out.insert(key, s);
                }
            }
        }
        Kind::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let Some(text) = cx.string(&format!("{path}[{i}]"), it) else {
                    continue;
                };
                match text.split_once('=') {
                    Some((k, val)) if !k.is_empty() => {
                        out.insert(k.to_string(), val.to_string());
                    }
                    Some(_) => cx.error(it.span, format!("{path}[{i}]: empty variable name")),
                    None => {
                        if let Some(x) = lookup(&text) {
                            out.insert(text, x);
                        }
                    }
                }
            }
        }
        Kind::Null => {}
        _ => cx.error(
            v.span,
            format!(
                "{path}: expected a mapping or a list of \"KEY=VALUE\", found {}",
                v.type_name()
            ),
        ),
    }
}

fn restart(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<RestartPolicy> {
    let s = cx.string(path, v)?;
    let policy = match s.as_str() {
        "no" | "" => Some(RestartPolicy::No),
        "always" => Some(RestartPolicy::Always),
        "unless-stopped" => Some(RestartPolicy::UnlessStopped),
        "on-failure" => Some(RestartPolicy::OnFailure { max_retries: 0 }),
        other => other
            .strip_prefix("on-failure:")
            .and_then(|n| n.parse::<u32>().ok())
            .map(|max_retries| RestartPolicy::OnFailure { max_retries }),
    };
    if policy.is_none() {
        let hint = if v.kind == Kind::Bool(false) {
            "write restart: \"no\" (quoted) or omit it"
        } else {
            "expected no, always, on-failure[:N] or unless-stopped"
        };
        cx.error_hint(
            v.span,
            format!("{path}: invalid restart policy \"{s}\""),
            hint,
        );
    }
    policy
}

fn healthcheck(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<Healthcheck> {
    let entries = cx.map(path, v)?;
    let mut hc = Healthcheck::default();
    let mut test: Option<Option<HealthTest>> = None;
    let mut disabled = false;
    let (mut start_interval_at, mut has_start_period) = (None, false);
    for (k, knode, val) in entries {
        let p = format!("{path}.{k}");
        match k.as_str() {
            // An empty test means "inherit the image's", like an absent one.
            "test" if val.as_seq().is_some_and(<[_]>::is_empty) => {}
            "test" => test = Some(health_test(cx, &p, val)),
            "interval" => hc.interval = cx.duration(&p, val).unwrap_or(hc.interval),
            "timeout" => hc.timeout = cx.duration(&p, val).unwrap_or(hc.timeout),
            "start_period" => {
                has_start_period = true;
                hc.start_period = cx.duration(&p, val).unwrap_or(hc.start_period)
            }
            "start_interval" => {
                start_interval_at = Some(knode.span);
                hc.start_interval = cx.duration(&p, val).unwrap_or(hc.start_interval)
            }
            "retries" => match cx.int(&p, val) {
                Some(r) if r >= 0 => hc.retries = u32::try_from(r).unwrap_or(u32::MAX),
                Some(r) => cx.error(val.span, format!("{p}: must not be negative, got {r}")),
                None => {}
            },
            "disable" => disabled = cx.boolean(&p, val).unwrap_or(false),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, path, k, keys::HEALTHCHECK),
        }
    }
    if let Some(span) = start_interval_at.filter(|_| !has_start_period && !disabled) {
        // rstack probes at start_interval from the start either way (see reconcile::health);
        // the file only works with rstack, which its user should know.
        let loc = cx.location(span);
        cx.warn(
            span,
            format!(
                "{path}.start_interval{loc}: docker compose rejects this file \
                 (\"healthcheck.start_interval requires healthcheck.start_period to be set\"); \
                 rstack accepts it. Add start_period to keep the file portable"
            ),
        );
    }
    if disabled {
        return None;
    }
    match test {
        Some(Some(t)) => {
            hc.test = t;
            Some(hc)
        }
        // test: NONE (or invalid, already reported).
        Some(None) => None,
        None => {
            cx.warn(
                v.span,
                format!("{path}: no test given; inheriting an image's HEALTHCHECK is not supported yet, so this service has no healthcheck"),
            );
            None
        }
    }
}

/// `None` for `["NONE"]` and for invalid tests (reported).
fn health_test(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<HealthTest> {
    if let Kind::Str(s) = &v.kind {
        if s.trim().is_empty() {
            cx.error(v.span, format!("{path}: must not be empty"));
            return None;
        }
        return Some(HealthTest::Shell(s.clone()));
    }
    let list = cx.string_list(path, v)?;
    let Some((first, rest)) = list.split_first() else {
        cx.error(v.span, format!("{path}: must not be empty"));
        return None;
    };
    match first.as_str() {
        "NONE" => None,
        "CMD" if !rest.is_empty() => Some(HealthTest::Cmd(rest.to_vec())),
        "CMD-SHELL" if !rest.is_empty() => Some(HealthTest::Shell(rest.join(" "))),
        "CMD" | "CMD-SHELL" => {
            cx.error(v.span, format!("{path}: {first} needs a command after it"));
            None
        }
        other => {
            let span = v
                .as_seq()
                .and_then(|s| s.first())
                .map_or(v.span, |n| n.span);
            cx.error_hint(
                span,
                format!("{path}: test must start with CMD, CMD-SHELL or NONE, found \"{other}\""),
                format!("write [\"CMD\", \"{other}\", ...] or [\"CMD-SHELL\", \"...\"]"),
            );
            None
        }
    }
}

fn x_rstack(cx: &mut Cx<'_>, path: &str, v: &Node) -> ServiceExtensions {
    let mut ext = ServiceExtensions::default();
    let Some(entries) = cx.map(path, v) else {
        return ext;
    };
    for (k, knode, val) in entries {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "restart_on_unhealthy" => {
                ext.restart_on_unhealthy = cx.boolean(&p, val).unwrap_or(false)
            }
            "restart_backoff" => {
                let Some(b) = cx.map(&p, val) else { continue };
                for (bk, bknode, bv) in b {
                    let bp = format!("{p}.{bk}");
                    match bk.as_str() {
                        "initial" => {
                            ext.restart_backoff_initial =
                                cx.duration(&bp, bv).unwrap_or(ext.restart_backoff_initial)
                        }
                        "max" => {
                            ext.restart_backoff_max =
                                cx.duration(&bp, bv).unwrap_or(ext.restart_backoff_max)
                        }
                        k => cx.unknown_key(bknode.span, &p, k, keys::BACKOFF),
                    }
                }
                if ext.restart_backoff_initial > ext.restart_backoff_max {
                    cx.error(
                        val.span,
                        format!("{p}: initial must not be greater than max"),
                    );
                }
                if ext.restart_backoff_initial.is_zero() {
                    cx.error(val.span, format!("{p}.initial: must be greater than 0"));
                }
            }
            k => cx.unknown_key(knode.span, path, k, keys::X_RSTACK),
        }
    }
    ext
}

/// Keys of a `post_start` / `pre_stop` entry.
const HOOK_KEYS: &[&str] = &[
    "command",
    "user",
    "privileged",
    "working_dir",
    "environment",
];

/// `post_start` / `pre_stop`: a list of hooks, each with a command.
fn hooks(
    cx: &mut Cx<'_>,
    path: &str,
    v: &Node,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<crate::model::Hook> {
    let mut out = Vec::new();
    if v.is_null() {
        return out;
    }
    let Some(items) = v.as_seq() else {
        cx.error(
            v.span,
            format!("{path}: expected a list of hooks, found {}", v.type_name()),
        );
        return out;
    };
    for (i, it) in items.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let Some(entries) = cx.map(&ip, it) else {
            continue;
        };
        let mut h = crate::model::Hook::default();
        for (k, knode, val) in entries {
            let kp = format!("{ip}.{k}");
            match k.as_str() {
                "command" => h.command = cx.command(&kp, val).unwrap_or_default(),
                "user" => h.user = opt_string(cx, &kp, val),
                "working_dir" => h.working_dir = opt_string(cx, &kp, val),
                "environment" => environment(cx, &kp, val, lookup, &mut h.environment),
                "privileged" => {
                    h.privileged = cx.boolean(&kp, val).unwrap_or(false);
                    if h.privileged {
                        // Hooks run as `exec` does, with the container's own privileges.
                        cx.unsupported(knode.span, &kp);
                    }
                }
                k if k.starts_with("x-") => {}
                k => cx.unknown_key(knode.span, &ip, k, HOOK_KEYS),
            }
        }
        if h.command.is_empty() {
            cx.error_hint(
                it.span,
                format!("{ip}: command is required"),
                "add command: [ARG, ...]",
            );
            continue;
        }
        out.push(h);
    }
    out
}
