//! `Loaded` -> the normalized JSON shape `docker compose config --format json` prints: long
//! forms (ports, volumes, depends_on, healthcheck test), interpolated values, absolute paths,
//! durations as Go prints them. Keys rstack does not implement are passed through as written
//! so `config` never hides what a file says.

use super::Loaded;
use super::shortsyntax::{go_duration, port, port_long, volume, volume_long};
use super::yaml::{Kind, Node};
use crate::model::{DependCondition, HealthTest, RestartPolicy, Service};
use serde_json::{Map, Value, json};

/// Service keys rendered from the model (or normalized) rather than passed through.
const RENDERED: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "working_dir",
    "user",
    "hostname",
    "depends_on",
    "restart",
    "healthcheck",
    "mem_limit",
    "mem_reservation",
    "cpus",
    "pids_limit",
    "stop_signal",
    "stop_grace_period",
    "read_only",
    "init",
    "pull_policy",
    "tmpfs",
    "devices",
    "logging",
    "ports",
    "volumes",
    "networks",
    "extends",
    "build",
    "develop",
    "expose",
    "deploy",
    "secrets",
    "configs",
    "x-rstack",
    "labels",
    "sysctls",
    "group_add",
    "shm_size",
];

/// Plain JSON of a tree node (keys as text, NaN/inf as null).
pub fn node_json(n: &Node) -> Value {
    match &n.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b) => json!(b),
        Kind::Int(i) => json!(i),
        Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Kind::Str(s) => json!(s),
        Kind::Seq(items) => Value::Array(items.iter().map(node_json).collect()),
        Kind::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.scalar_text().unwrap_or_default(), node_json(v)))
                .collect(),
        ),
    }
}

/// The whole project in `docker compose config --format json` shape. Like Compose, every `$`
/// in the output is written `$$`, so the output is itself a valid stack file that interpolates
/// back to the same values.
pub fn to_compose_json(loaded: &Loaded) -> Value {
    escape_dollars(unescaped_json(loaded))
}

/// `$` -> `$$` in every string and key.
pub fn escape_dollars(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains('$') => Value::String(s.replace('$', "$$")),
        Value::Array(a) => Value::Array(a.into_iter().map(escape_dollars).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k.replace('$', "$$"), escape_dollars(v)))
                .collect(),
        ),
        other => other,
    }
}

fn unescaped_json(loaded: &Loaded) -> Value {
    let stack = &loaded.stack;
    let tree = &loaded.tree;
    let mut services = Map::new();
    let mut uses_default_network = false;
    for (name, svc) in &stack.services {
        let node = tree.get("services").and_then(|s| s.get(name));
        let v = service_json(loaded, svc, node);
        if node.and_then(|n| n.get("networks")).is_none()
            && node.and_then(|n| n.get("network_mode")).is_none()
        {
            uses_default_network = true;
        }
        services.insert(name.clone(), v);
    }
    // Like Compose, only resources some service uses are printed.
    let used = |key: &str| -> Vec<String> {
        let mut out = Vec::new();
        for svc in services.values() {
            match &svc[key] {
                Value::Object(o) => out.extend(o.keys().cloned()),
                Value::Array(list) => out.extend(list.iter().filter_map(|e| {
                    let is_volume = key != "volumes" || e["type"] == json!("volume");
                    e["source"]
                        .as_str()
                        .filter(|_| is_volume)
                        .map(str::to_string)
                })),
                _ => {}
            }
        }
        out
    };
    let keep = |mut m: Map<String, Value>, key: &str| {
        let names = used(key);
        m.retain(|k, _| names.contains(k));
        m
    };
    let mut networks = keep(
        named_resources(tree.get("networks"), &stack.name, true),
        "networks",
    );
    let volumes = keep(
        named_resources(tree.get("volumes"), &stack.name, false),
        "volumes",
    );
    let secrets = keep(
        named_resources(tree.get("secrets"), &stack.name, false),
        "secrets",
    );
    let configs = keep(
        named_resources(tree.get("configs"), &stack.name, false),
        "configs",
    );
    let mut top = Map::new();
    top.insert("name".into(), json!(stack.name));
    top.insert("services".into(), Value::Object(services));
    if uses_default_network && !networks.contains_key("default") {
        networks.insert(
            "default".into(),
            json!({"name": format!("{}_default", stack.name), "ipam": {}}),
        );
    }
    if !networks.is_empty() {
        top.insert("networks".into(), Value::Object(networks));
    }
    if !volumes.is_empty() {
        top.insert("volumes".into(), Value::Object(volumes));
    }
    let dir = std::path::Path::new(&stack.working_dir);
    for (key, mut res) in [("secrets", secrets), ("configs", configs)] {
        for v in res.values_mut() {
            if let Some(Value::String(f)) = v.get("file").cloned() {
                let abs = super::files::absolute(dir, std::path::Path::new(&f));
                v["file"] = json!(abs.display().to_string());
            }
        }
        if !res.is_empty() {
            top.insert(key.into(), Value::Object(res));
        }
    }
    for (k, v) in tree.as_map().unwrap_or(&[]) {
        if let Some(key) = k.as_str().filter(|k| k.starts_with("x-")) {
            top.insert(key.into(), node_json(v));
        }
    }
    Value::Object(top)
}

/// Top-level networks/volumes with Compose's default `name: <project>_<key>` (not for external).
fn named_resources(n: Option<&Node>, project: &str, with_ipam: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in n.and_then(Node::as_map).unwrap_or(&[]) {
        let key = k.scalar_text().unwrap_or_default();
        let mut obj = match node_json(v) {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        let external = obj
            .get("external")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !obj.contains_key("name") {
            let name = if external {
                key.clone()
            } else {
                format!("{project}_{key}")
            };
            obj.insert("name".into(), json!(name));
        }
        if with_ipam && !external && !obj.contains_key("ipam") {
            obj.insert("ipam".into(), json!({}));
        }
        out.insert(key, Value::Object(obj));
    }
    out
}

fn restart_text(r: RestartPolicy) -> String {
    match r {
        RestartPolicy::No => "no".into(),
        RestartPolicy::Always => "always".into(),
        RestartPolicy::UnlessStopped => "unless-stopped".into(),
        RestartPolicy::OnFailure { max_retries: 0 } => "on-failure".into(),
        RestartPolicy::OnFailure { max_retries } => format!("on-failure:{max_retries}"),
    }
}

fn condition_text(c: DependCondition) -> &'static str {
    match c {
        DependCondition::ServiceStarted => "service_started",
        DependCondition::ServiceHealthy => "service_healthy",
        DependCondition::ServiceCompletedSuccessfully => "service_completed_successfully",
    }
}

fn service_json(loaded: &Loaded, svc: &Service, node: Option<&Node>) -> Value {
    let has = |k: &str| node.and_then(|n| n.get(k)).is_some();
    let mut m = Map::new();
    // A build-only service got a generated image name; Compose prints none.
    if has("image") {
        m.insert("image".into(), json!(svc.image));
    }
    // Compose prints unset command/entrypoint as null.
    m.insert("command".into(), json!(svc.command));
    m.insert("entrypoint".into(), json!(svc.entrypoint));
    let mut env: Map<String, Value> = svc
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    // Entries without a value that the environment did not provide: Compose keeps them as null.
    if let Some(list) = node
        .and_then(|n| n.get("environment"))
        .and_then(Node::as_map)
    {
        for (k, v) in list {
            let key = k.scalar_text().unwrap_or_default();
            if v.is_null() && !env.contains_key(&key) {
                env.insert(key, Value::Null);
            }
        }
    }
    if !env.is_empty() {
        m.insert("environment".into(), Value::Object(env));
    }
    for (k, v) in [
        ("working_dir", &svc.working_dir),
        ("user", &svc.user),
        ("hostname", &svc.hostname),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    // From the model, which holds every dependency of a converted service but those on
    // profile-disabled services: Compose prints them too, so the loader kept them aside.
    let dropped = loaded.disabled_dependencies.get(&svc.name);
    let deps: Map<String, Value> = svc
        .depends_on
        .iter()
        .chain(dropped.into_iter().flatten())
        .map(|(k, d)| {
            let mut o = Map::new();
            o.insert("condition".into(), json!(condition_text(d.condition)));
            o.insert("required".into(), json!(d.required));
            if d.restart {
                o.insert("restart".into(), json!(true));
            }
            (k.clone(), Value::Object(o))
        })
        .collect();
    if !deps.is_empty() {
        m.insert("depends_on".into(), Value::Object(deps));
    }
    if has("restart") {
        m.insert("restart".into(), json!(restart_text(svc.restart)));
    }
    if let Some(hc_node) = node.and_then(|n| n.get("healthcheck")) {
        m.insert("healthcheck".into(), healthcheck_json(svc, hc_node));
    }
    if let Some(mem) = svc.resources.memory.filter(|m| *m > 0 && has("mem_limit")) {
        m.insert("mem_limit".into(), json!(mem.to_string()));
    }
    // Compose prints it in bytes, as text, 0 included.
    if let Some(r) = svc
        .resources
        .memory_reservation
        .filter(|_| has("mem_reservation"))
    {
        m.insert("mem_reservation".into(), json!(r.to_string()));
    }
    if let Some(c) = svc.resources.cpus.filter(|_| has("cpus")) {
        m.insert("cpus".into(), json!(c));
    }
    if let Some(p) = svc.resources.pids.filter(|_| has("pids_limit")) {
        m.insert("pids_limit".into(), json!(p));
    }
    if has("stop_signal") {
        m.insert("stop_signal".into(), json!(svc.stop_signal));
    }
    if has("stop_grace_period") {
        m.insert(
            "stop_grace_period".into(),
            json!(go_duration(svc.stop_grace_period)),
        );
    }
    if svc.read_only {
        m.insert("read_only".into(), json!(true));
    }
    if has("init") {
        m.insert("init".into(), json!(svc.init));
    }
    match node.and_then(|n| n.get("tmpfs")).map(node_json) {
        Some(Value::String(t)) => {
            m.insert("tmpfs".into(), json!([t]));
        }
        Some(Value::Array(list)) => {
            m.insert("tmpfs".into(), Value::Array(list));
        }
        _ => {}
    }
    // labels, sysctls, group_add, shm_size as Compose normalizes them (`spec::options`).
    m.extend(super::options::compose_json(&svc.options, &has));
    // Compose prints every device in the long form, the defaults filled in.
    if !svc.devices.is_empty() {
        let list: Vec<Value> = svc
            .devices
            .iter()
            .map(|d| json!({"source": d.source, "target": d.target, "permissions": d.permissions}))
            .collect();
        m.insert("devices".into(), Value::Array(list));
    }
    // As Compose prints it: normalized (`if_not_present` is `missing`). `platform` passes
    // through as written, as Compose prints it.
    if has("pull_policy") {
        m.insert("pull_policy".into(), json!(svc.pull_policy.to_string()));
    }
    if let Some(l) = node.and_then(|n| n.get("logging")) {
        m.insert("logging".into(), logging_json(l));
    }
    let home = loaded.home.as_deref();
    if let Some(ports) = node.and_then(|n| n.get("ports")).and_then(Node::as_seq) {
        let mut out = Vec::new();
        for p in ports {
            match (&p.kind, node_json(p)) {
                (Kind::Map(_), Value::Object(o)) => out.push(port_long(&o)),
                _ => match p.scalar_text().as_deref().and_then(port) {
                    Some(list) => out.extend(list),
                    None => out.push(node_json(p)),
                },
            }
        }
        m.insert("ports".into(), Value::Array(out));
    }
    if let Some(vols) = node.and_then(|n| n.get("volumes")).and_then(Node::as_seq) {
        let out: Vec<Value> = vols
            .iter()
            .map(|v| match node_json(v) {
                Value::Object(o) => volume_long(&o, &loaded.base_dir(v), home),
                Value::String(s) => volume(&s, &loaded.base_dir(v), home),
                other => other,
            })
            .collect();
        m.insert("volumes".into(), Value::Array(out));
    }
    match node.and_then(|n| n.get("networks")) {
        Some(n) => {
            let v = match node_json(n) {
                Value::Array(list) => Value::Object(
                    list.into_iter()
                        .filter_map(|x| x.as_str().map(|s| (s.to_string(), Value::Null)))
                        .collect(),
                ),
                other => other,
            };
            m.insert("networks".into(), v);
        }
        None if !has("network_mode") => {
            m.insert("networks".into(), json!({"default": null}));
        }
        None => {}
    }
    if has("x-rstack") {
        let x = &svc.x_rstack;
        m.insert(
            "x-rstack".into(),
            json!({
                "restart_on_unhealthy": x.restart_on_unhealthy,
                "restart_backoff": {
                    "initial": go_duration(x.restart_backoff_initial),
                    "max": go_duration(x.restart_backoff_max),
                },
            }),
        );
    }
    if let Some(b) = node.and_then(|n| n.get("build")) {
        m.insert(
            "build".into(),
            build_json(b, &loaded.base_dir(b), svc.build.as_ref()),
        );
    }
    if let Some(d) = node.and_then(|n| n.get("develop")) {
        m.insert("develop".into(), develop_json(d, svc.develop.as_ref()));
    }
    if let Some(Value::Array(list)) = node.and_then(|n| n.get("expose")).map(node_json) {
        let list: Vec<Value> = list
            .into_iter()
            .map(|v| match v {
                Value::Number(n) => json!(n.to_string()),
                other => other,
            })
            .collect();
        m.insert("expose".into(), Value::Array(list));
    }
    // Compose gives a short-form secret its default target, not a config; a mode prints
    // as Go's octal text ("0440"), read from the model where the loader parsed it.
    for (key, prefix, model) in [
        ("secrets", Some("/run/secrets/"), &svc.secrets),
        ("configs", None, &svc.configs),
    ] {
        if let Some(Value::Array(list)) = node.and_then(|n| n.get(key)).map(node_json) {
            let list: Vec<Value> = list
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(src) => match prefix {
                        Some(p) => json!({"source": src, "target": format!("{p}{src}")}),
                        None => json!({"source": src}),
                    },
                    Value::Object(mut o) => {
                        if let (Some(_), Some(mode)) =
                            (o.get("mode"), model.get(i).and_then(|m| m.mode))
                        {
                            o.insert("mode".into(), json!(format!("0{mode:o}")));
                        }
                        Value::Object(o)
                    }
                    other => other,
                })
                .collect();
            m.insert(key.into(), Value::Array(list));
        }
    }
    if let Some(d) = node.and_then(|n| n.get("deploy")) {
        m.insert("deploy".into(), deploy_json(d));
    }
    for (k, v) in node.and_then(Node::as_map).unwrap_or(&[]) {
        let key = k.scalar_text().unwrap_or_default();
        if !RENDERED.contains(&key.as_str()) && !m.contains_key(&key) {
            m.insert(key, node_json(v));
        }
    }
    Value::Object(m)
}

/// `logging` as Compose prints it: option values are strings (`max-file: 3` -> "3"), in
/// key order.
fn logging_json(n: &Node) -> Value {
    let mut m = Map::new();
    let Value::Object(src) = node_json(n) else {
        return node_json(n);
    };
    for (k, v) in src {
        let v = match (k.as_str(), v) {
            ("options", Value::Object(opts)) => {
                let mut sorted: Vec<(String, Value)> = opts.into_iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(
                    sorted
                        .into_iter()
                        .map(|(k, v)| match v {
                            Value::Number(n) => (k, json!(n.to_string())),
                            other => (k, other),
                        })
                        .collect(),
                )
            }
            (_, v) => v,
        };
        m.insert(k, v);
    }
    Value::Object(m)
}

/// `build: DIR` or its long form, with an absolute context and the default Dockerfile name.
fn build_json(b: &Node, dir: &std::path::Path, spec: Option<&crate::model::BuildSpec>) -> Value {
    let mut o = match node_json(b) {
        Value::String(ctx) => {
            let mut o = Map::new();
            o.insert("context".into(), json!(ctx));
            o
        }
        Value::Object(o) => o,
        other => return other,
    };
    let ctx = o
        .get("context")
        .and_then(Value::as_str)
        .unwrap_or(".")
        .to_string();
    // Remote contexts (git URLs) stay as written.
    if !ctx.contains("://") && !ctx.starts_with("git@") {
        let abs = super::files::absolute(dir, std::path::Path::new(&ctx));
        o.insert("context".into(), json!(abs.display().to_string()));
    }
    if !o.contains_key("dockerfile_inline") {
        o.entry("dockerfile").or_insert(json!("Dockerfile"));
    }
    // As Compose prints them: mappings of strings, value-less args resolved from the
    // environment (or left out), local additional contexts absolute, flags as booleans.
    if let Some(spec) = spec {
        let strings = |m: &indexmap::IndexMap<String, String>| {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
        };
        if o.contains_key("args") {
            o.insert("args".into(), strings(&spec.args));
        }
        if o.contains_key("labels") {
            o.insert("labels".into(), strings(&spec.labels));
        }
        if o.contains_key("additional_contexts") {
            o.insert(
                "additional_contexts".into(),
                strings(&spec.additional_contexts),
            );
        }
        for (key, v) in [("no_cache", spec.no_cache), ("pull", spec.pull)] {
            if o.contains_key(key) {
                o.insert(key.into(), json!(v));
            }
        }
    }
    Value::Object(o)
}

/// `develop` as written, with each watch path absolute and `ignore`/`include` as lists, as
/// Compose prints them.
fn develop_json(d: &Node, spec: Option<&crate::model::Develop>) -> Value {
    let mut v = node_json(d);
    if let (Some(Value::Array(rules)), Some(spec)) = (v.get_mut("watch"), spec) {
        for (rule, model) in rules.iter_mut().zip(&spec.watch) {
            let Value::Object(o) = rule else { continue };
            o.insert("path".into(), json!(model.path));
            // `exec.command: "a b"` prints as a list, as Compose prints commands.
            if let (Some(Value::Object(x)), Some(e)) = (o.get_mut("exec"), &model.exec) {
                x.insert("command".into(), json!(e.command));
            }
            for key in ["ignore", "include"] {
                if let Some(Value::String(s)) = o.get(key) {
                    let list = json!([s]);
                    o.insert(key.into(), list);
                }
            }
        }
    }
    v
}

/// `deploy` as written, with sizes in bytes and Compose's empty defaults.
fn deploy_json(d: &Node) -> Value {
    let Value::Object(mut o) = node_json(d) else {
        return node_json(d);
    };
    o.entry("placement").or_insert(json!({}));
    let res = o.entry("resources").or_insert(json!({}));
    for part in ["limits", "reservations"] {
        if let Some(Value::String(mem)) = res.get(part).and_then(|p| p.get("memory")).cloned()
            && let Ok(bytes) = crate::model::units::parse_size(&mem)
            && let Some(p) = res.get_mut(part).and_then(Value::as_object_mut)
        {
            p.insert("memory".into(), json!(bytes.to_string()));
        }
        if let Some(Value::String(c)) = res.get(part).and_then(|p| p.get("cpus")).cloned()
            && let Ok(cpus) = crate::model::units::parse_cpus(&c)
            && let Some(p) = res.get_mut(part).and_then(Value::as_object_mut)
        {
            p.insert("cpus".into(), json!(cpus));
        }
    }
    Value::Object(o)
}

fn healthcheck_json(svc: &Service, n: &Node) -> Value {
    let mut o = Map::new();
    match &svc.healthcheck {
        Some(hc) => {
            let test = match &hc.test {
                HealthTest::Cmd(argv) => {
                    let mut v = vec!["CMD".to_string()];
                    v.extend(argv.iter().cloned());
                    v
                }
                HealthTest::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
            };
            o.insert("test".into(), json!(test));
            for (key, d) in [
                ("interval", hc.interval),
                ("timeout", hc.timeout),
                ("start_period", hc.start_period),
                ("start_interval", hc.start_interval),
            ] {
                if n.get(key).is_some() {
                    o.insert(key.into(), json!(go_duration(d)));
                }
            }
            if n.get("retries").is_some() {
                o.insert("retries".into(), json!(hc.retries));
            }
        }
        // Disabled: `test: [NONE]` is shown as written, `disable: true` as such.
        None => match n.get("test") {
            Some(t) if n.get("disable").is_none() => {
                o.insert("test".into(), node_json(t));
            }
            _ => {
                o.insert("disable".into(), json!(true));
            }
        },
    }
    Value::Object(o)
}

/// Every profile named by any service of the merged files, sorted (`config --profiles`).
pub fn profile_names(loaded: &Loaded) -> Vec<String> {
    let mut out: Vec<String> = loaded
        .tree
        .get("services")
        .and_then(Node::as_map)
        .unwrap_or(&[])
        .iter()
        .filter_map(|(_, s)| s.get("profiles").and_then(Node::as_seq))
        .flatten()
        .filter_map(Node::scalar_text)
        .collect();
    out.sort();
    out.dedup();
    out
}
