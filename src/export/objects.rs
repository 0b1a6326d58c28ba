//! The object list: ConfigMaps and Secrets, PVCs, then per service its workload
//! (Deployment, StatefulSet or Job) and its Services.

use super::locate::Warner;
use super::pod::{PodCx, pod_spec};
use super::{Export, Object, Options, PublishAs, names};
use crate::model::{DependCondition, MountKind, RestartPolicy, Service};
use crate::spec::Loaded;
use crate::spec::yaml::Node;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// Service keys the export carries over (some with a warning of their own); any other key
/// written under a service is reported as having no equivalent.
const HANDLED: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "working_dir",
    "user",
    "depends_on",
    "restart",
    "healthcheck",
    "deploy",
    "scale",
    "volumes",
    "tmpfs",
    "ports",
    "expose",
    "links",
    "secrets",
    "configs",
    "cap_add",
    "cap_drop",
    "read_only",
    "privileged",
    "hostname",
    "stop_grace_period",
    "labels",
    "tty",
    "stdin_open",
    "extra_hosts",
    "profiles",
    "networks",
    "pull_policy",
    "pid",
    "mem_limit",
    "mem_reservation",
    "cpus",
    "pids_limit",
    "extends",
];
/// `deploy` keys carried over.
const DEPLOY_HANDLED: &[&str] = &["replicas", "resources", "restart_policy"];

/// A key of a ConfigMap/Secret for a stack config/secret name: `[-._a-zA-Z0-9]`.
pub fn data_key(source: &str) -> String {
    let k: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if k.is_empty() { "data".into() } else { k }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for ch in data.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= ch.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn meta(name: &str, project: &str, opts: &Options) -> Value {
    let mut m =
        json!({"name": name, "labels": {"app.kubernetes.io/part-of": super::dns_label(project)}});
    if let Some(ns) = &opts.namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn written<'a>(loaded: &'a Loaded, path: &[&str]) -> Option<&'a Node> {
    let mut cur = &loaded.tree;
    for p in path {
        cur = cur.get(p)?;
    }
    Some(cur)
}

/// `path` under `node`.
fn under<'a>(node: Option<&'a Node>, path: &[&str]) -> Option<&'a Node> {
    path.iter().try_fold(node?, |cur, p| cur.get(p))
}

/// Each service's node in the tree, by name: looked up once rather than by a scan of all
/// services per key (quadratic for large stacks).
fn service_nodes(loaded: &Loaded) -> HashMap<&str, &Node> {
    loaded
        .tree
        .get("services")
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?, v)))
                .collect()
        })
        .unwrap_or_default()
}

/// The workload kind of a service.
#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Deployment,
    StatefulSet,
    Job,
}

pub fn build(loaded: &Loaded, opts: &Options) -> Export {
    let stack = &loaded.stack;
    let mut w = Warner {
        loaded,
        out: Vec::new(),
    };
    let names = names::service_names(stack.services.keys());
    let nodes = service_nodes(loaded);
    let selected: Vec<&Service> = stack
        .services
        .values()
        .filter(|s| opts.services.is_empty() || opts.services.contains(&s.name))
        .collect();
    for s in &selected {
        if names[&s.name] != s.name {
            w.warn(
                &["services", &s.name],
                format!(
                    "{:?} is not a valid DNS-1123 label; exported as {:?} (object names, selectors and waits follow)",
                    s.name, names[&s.name]
                ),
            );
        }
    }
    let completed: Vec<&String> = stack
        .services
        .values()
        .flat_map(|s| s.depends_on.iter())
        .filter(|(_, d)| d.condition == DependCondition::ServiceCompletedSuccessfully)
        .map(|(n, _)| n)
        .collect();
    // Services other services reach by name: a Service keeps their DNS name working.
    let reached: Vec<&String> = stack
        .services
        .values()
        .flat_map(|s| {
            s.depends_on
                .keys()
                .chain(s.net.links.iter().map(|l| &l.service))
        })
        .collect();
    let ports_of = |svc: &str| -> Vec<(u16, &'static str)> {
        let Some(s) = stack.services.get(svc) else {
            return Vec::new();
        };
        let mut v: Vec<(u16, &'static str)> = Vec::new();
        for p in &s.net.ports {
            let e = (p.target, p.protocol.as_str());
            if !v.contains(&e) {
                v.push(e);
            }
        }
        for e in &s.net.expose {
            if let Some(p) = e.split('/').next().and_then(|p| p.parse::<u16>().ok())
                && !v.contains(&(p, "tcp"))
            {
                v.push((p, "tcp"));
            }
        }
        v
    };
    let first_port = |svc: &str| ports_of(svc).first().map(|p| p.0);

    let mut files: BTreeMap<(bool, String), &crate::model::FileMount> = BTreeMap::new();
    let mut claims: BTreeMap<String, String> = BTreeMap::new();
    let mut claimed_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut workloads: Vec<Object> = Vec::new();
    let mut services: Vec<Object> = Vec::new();
    let mut env_maps: Vec<Object> = Vec::new();
    let kubectl_image = opts.wait_image.as_deref().unwrap_or(super::KUBECTL_IMAGE);
    let waiter = super::dns_label(&format!("{}-job-waiter", stack.name));
    let exported = |s: &str| opts.services.is_empty() || opts.services.iter().any(|x| x == s);
    let mut waits_for_job: Option<String> = None;

    for svc in &selected {
        let name = &names[&svc.name];
        let node = nodes.get(svc.name.as_str()).copied();
        key_warnings(node, svc, &mut w);
        for f in &svc.secrets {
            files.entry((true, f.source.clone())).or_insert(f);
        }
        for f in &svc.configs {
            files.entry((false, f.source.clone())).or_insert(f);
        }
        let named_keys: Vec<String> = svc
            .volumes
            .iter()
            .filter(|v| {
                v.kind == MountKind::Volume
                    && !v.source.is_empty()
                    && !v.volume.as_ref().is_some_and(|d| d.external)
            })
            .map(|v| super::locate::volume_key(loaded, &v.source))
            .collect();
        let named: Vec<&String> = named_keys.iter().collect();
        let explicit_restart = under(node, &["restart"]).is_some()
            || under(node, &["deploy", "restart_policy"]).is_some();
        let batch = matches!(
            svc.restart,
            RestartPolicy::No | RestartPolicy::OnFailure { .. }
        ) && explicit_restart;
        let kind = if batch || completed.contains(&&svc.name) {
            Kind::Job
        } else if named.is_empty() {
            Kind::Deployment
        } else {
            Kind::StatefulSet
        };
        for v in &named {
            let size = written(loaded, &["volumes", v, "x-rstack", "size"])
                .and_then(Node::scalar_text)
                .unwrap_or_else(|| "1Gi".into());
            claims.entry((*v).clone()).or_insert(size);
            let by = claimed_by.entry((*v).clone()).or_default();
            if !by.contains(&svc.name) {
                by.push(svc.name.clone());
            }
        }
        let cx = PodCx {
            names: &names,
            first_port: &first_port,
            templates: kind == Kind::StatefulSet,
            kubectl_image,
            waiter: &waiter,
            exported: &exported,
        };
        let mut pod = pod_spec(svc, &cx, &mut w);
        if pod.contains_key("serviceAccountName") && waits_for_job.is_none() {
            waits_for_job = Some(svc.name.clone());
        }
        let (cm_env, _) = super::env::split(svc);
        if !cm_env.is_empty() {
            let n = super::env::config_map_name(name);
            env_maps.push(Object {
                kind: "ConfigMap".into(),
                value: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(&n, &stack.name, opts), "data": cm_env}),
                name: n,
            });
        }
        let labels = json!({"app.kubernetes.io/name": name});
        let mut template_meta = json!({"labels": labels});
        if !svc.options.labels.is_empty() {
            template_meta["annotations"] = json!(svc.options.labels);
        }
        let replicas = svc.replicas();
        let obj = match kind {
            Kind::Job => {
                let (policy, backoff) = match svc.restart {
                    RestartPolicy::OnFailure { max_retries } => {
                        if max_retries > 0 {
                            w.warn(
                                &["services", &svc.name, "restart"],
                                format!("on-failure:{max_retries} has no exact equivalent: exported as a Job with backoffLimit {max_retries} (new pods, not in-place restarts)"),
                            );
                        }
                        ("OnFailure", if max_retries > 0 { max_retries } else { 6 })
                    }
                    _ => ("Never", 0),
                };
                pod.insert("restartPolicy".into(), json!(policy));
                let mut spec = json!({"backoffLimit": backoff, "template": {"metadata": template_meta, "spec": pod}});
                if replicas != 1 {
                    spec["completions"] = json!(replicas);
                    spec["parallelism"] = json!(replicas);
                }
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(name, &stack.name, opts), "spec": spec})
            }
            Kind::Deployment | Kind::StatefulSet => {
                pod.insert("restartPolicy".into(), json!("Always"));
                let mut spec = json!({
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": template_meta, "spec": pod},
                });
                let k = if kind == Kind::StatefulSet {
                    spec["serviceName"] = json!(name);
                    let mut uniq: Vec<&String> = Vec::new();
                    for v in &named {
                        if !uniq.contains(v) {
                            uniq.push(v);
                        }
                    }
                    let tpl: Vec<Value> = uniq
                        .iter()
                        .map(|v| {
                            json!({
                                "metadata": {"name": super::dns_label(v)},
                                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": claims[*v]}}},
                            })
                        })
                        .collect();
                    spec["volumeClaimTemplates"] = json!(tpl);
                    "StatefulSet"
                } else {
                    "Deployment"
                };
                json!({"apiVersion": "apps/v1", "kind": k, "metadata": meta(name, &stack.name, opts), "spec": spec})
            }
        };
        if kind != Kind::StatefulSet {
            for v in &named {
                claimed_by.entry(format!("pvc:{v}")).or_default();
            }
        }
        workloads.push(Object {
            kind: obj["kind"].as_str().unwrap_or_default().to_string(),
            name: name.clone(),
            value: obj,
        });
        service_objects(
            svc,
            name,
            &ports_of(&svc.name),
            reached.contains(&&svc.name),
            loaded,
            opts,
            &mut w,
            &mut services,
        );
    }

    let mut objects = Vec::new();
    for ((secret, source), f) in &files {
        let obj_name = super::dns_label(source);
        let key = data_key(source);
        let mut v = if *secret {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(&obj_name, &stack.name, opts), "type": "Opaque"})
        } else {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(&obj_name, &stack.name, opts)})
        };
        match (std::str::from_utf8(&f.data), secret) {
            (Ok(t), true) => v["stringData"] = json!({key: t}),
            (Ok(t), false) => v["data"] = json!({key: t}),
            (Err(_), true) => v["data"] = json!({key: base64(&f.data)}),
            (Err(_), false) => v["binaryData"] = json!({key: base64(&f.data)}),
        }
        let kind = if *secret { "Secret" } else { "ConfigMap" };
        objects.push(Object {
            kind: kind.into(),
            name: obj_name,
            value: v,
        });
    }
    objects.extend(env_maps);
    if let Some(first) = &waits_for_job {
        objects.extend(job_waiter(&waiter, first, loaded, opts, &mut w));
    }
    for (vol, by) in &claimed_by {
        if by.len() > 1 {
            w.warn(
                &["volumes", vol],
                format!(
                    "volume shared by {}: each StatefulSet gets its own claim (ReadWriteOnce)",
                    by.join(", ")
                ),
            );
        }
    }
    for (vol, size) in &claims {
        if claimed_by.contains_key(&format!("pvc:{vol}")) {
            let n = super::dns_label(vol);
            let v = json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(&n, &stack.name, opts),
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
            });
            objects.push(Object {
                kind: "PersistentVolumeClaim".into(),
                name: n,
                value: v,
            });
        }
    }
    objects.extend(workloads);
    objects.extend(services);
    Export {
        objects,
        warnings: w.out,
    }
}

/// The ServiceAccount that init containers waiting for a Job run as, with a Role allowing
/// it to read Jobs (all `kubectl wait` needs) and the RoleBinding between them.
/// `first`: a service with such a wait (where a missing namespace is reported).
fn job_waiter(
    name: &str,
    first: &str,
    loaded: &Loaded,
    opts: &Options,
    w: &mut Warner,
) -> Vec<Object> {
    let project = &loaded.stack.name;
    // A ServiceAccount subject must name its namespace.
    let ns = match &opts.namespace {
        Some(ns) => ns.clone(),
        None => {
            w.warn(
                &["services", first, "depends_on"],
                format!(
                    "service_completed_successfully: the RoleBinding {name:?} that lets init containers wait for Jobs names the ServiceAccount in namespace \"default\"; pass --namespace NS to deploy elsewhere"
                ),
            );
            "default".into()
        }
    };
    let rbac = "rbac.authorization.k8s.io/v1";
    let objs = [
        (
            "ServiceAccount",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, project, opts)}),
        ),
        (
            "Role",
            json!({"apiVersion": rbac, "kind": "Role", "metadata": meta(name, project, opts),
            "rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}]}),
        ),
        (
            "RoleBinding",
            json!({"apiVersion": rbac, "kind": "RoleBinding", "metadata": meta(name, project, opts),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]}),
        ),
    ];
    objs.into_iter()
        .map(|(kind, value)| Object {
            kind: kind.into(),
            name: name.into(),
            value,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
/// The ClusterIP Service (named as the service: its DNS name keeps working) and, for
/// published ports, `NAME-published` of type NodePort or LoadBalancer.
fn service_objects(
    svc: &Service,
    name: &str,
    ports: &[(u16, &'static str)],
    reached: bool,
    loaded: &Loaded,
    opts: &Options,
    w: &mut Warner,
    out: &mut Vec<Object>,
) {
    let project = &loaded.stack.name;
    let selector = json!({"app.kubernetes.io/name": name});
    if !ports.is_empty() {
        let sp: Vec<Value> = ports
            .iter()
            .map(|(p, proto)| json!({"name": format!("{proto}-{p}"), "port": p, "targetPort": p, "protocol": proto.to_uppercase()}))
            .collect();
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(name, project, opts),
            "spec": {"type": "ClusterIP", "selector": selector, "ports": sp}});
        out.push(Object {
            kind: "Service".into(),
            name: name.into(),
            value: v,
        });
    } else if reached {
        // No known port: a headless Service, whose DNS name resolves to the ready pods'
        // addresses, so every port is reachable as on the stack's network.
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(name, project, opts),
            "spec": {"clusterIP": "None", "selector": selector}});
        out.push(Object {
            kind: "Service".into(),
            name: name.into(),
            value: v,
        });
    }
    let mut published = Vec::new();
    for (i, p) in svc.net.ports.iter().enumerate() {
        let Some(r) = p.published else { continue };
        let idx = i.to_string();
        let path = ["services", &svc.name, "ports", &idx];
        if r.end != r.start {
            w.warn(
                &path,
                format!(
                    "published range {}-{}: only {} is exported",
                    r.start, r.end, r.start
                ),
            );
        }
        if p.host_ip.is_some() {
            w.warn(&path, "host_ip has no Kubernetes equivalent; left out");
        }
        let proto = p.protocol.as_str();
        let mut e = json!({"name": format!("{proto}-{}", r.start), "protocol": proto.to_uppercase(), "targetPort": p.target});
        match opts.publish_as {
            PublishAs::NodePort => {
                e["port"] = json!(p.target);
                if (30000..=32767).contains(&r.start) {
                    e["nodePort"] = json!(r.start);
                } else {
                    w.warn(&path, format!("published port {} is outside the NodePort range 30000-32767: Kubernetes assigns one (or use --publish-as loadbalancer)", r.start));
                }
            }
            PublishAs::LoadBalancer => e["port"] = json!(r.start),
        }
        if !published.iter().any(|x: &Value| x["name"] == e["name"]) {
            published.push(e);
        }
    }
    if !published.is_empty() {
        let base: String = name.chars().take(63 - "-published".len()).collect();
        let n = format!("{}-published", base.trim_end_matches('-'));
        let t = match opts.publish_as {
            PublishAs::NodePort => "NodePort",
            PublishAs::LoadBalancer => "LoadBalancer",
        };
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(&n, project, opts),
            "spec": {"type": t, "selector": selector, "ports": published}});
        out.push(Object {
            kind: "Service".into(),
            name: n,
            value: v,
        });
    }
}

/// Warnings for keys written under the service that the export does not carry over.
fn key_warnings(node: Option<&Node>, svc: &Service, w: &mut Warner) {
    let Some(node) = node else {
        return;
    };
    let Some(map) = node.as_map() else { return };
    for (k, _) in map {
        let Some(k) = k.as_str() else { continue };
        if k.starts_with("x-") || HANDLED.contains(&k) {
            continue;
        }
        let msg = match k {
            "build" => format!(
                "the image {} must be built and pushed to a registry the cluster pulls from; build left out",
                svc.image
            ),
            _ => "has no Kubernetes equivalent; left out".into(),
        };
        w.warn(&["services", &svc.name, k], msg);
    }
    if let Some(d) = node.get("deploy").and_then(Node::as_map) {
        for (k, _) in d {
            if let Some(k) = k.as_str()
                && !DEPLOY_HANDLED.contains(&k)
                && !k.starts_with("x-")
            {
                w.warn(
                    &["services", &svc.name, "deploy", k],
                    "has no Kubernetes equivalent here; left out",
                );
            }
        }
    }
    // GPU and generic resource requests need a cluster's device plugin resource names, which
    // a Compose file does not give.
    for part in ["limits", "reservations"] {
        for k in ["devices", "generic_resources"] {
            if under(Some(node), &["deploy", "resources", part, k]).is_some() {
                w.warn(
                    &["services", &svc.name, "deploy", "resources", part, k],
                    "has no Kubernetes equivalent here (a device plugin's resource); left out",
                );
            }
        }
    }
    if let Some(rp) = under(Some(node), &["deploy", "restart_policy"]).and_then(Node::as_map) {
        for (k, _) in rp {
            if let Some(k) = k.as_str()
                && k != "condition"
                && k != "max_attempts"
            {
                w.warn(
                    &["services", &svc.name, "deploy", "restart_policy", k],
                    "has no Kubernetes equivalent; left out",
                );
            }
        }
    }
    for (i, l) in svc.net.links.iter().enumerate() {
        if l.alias.is_some() {
            w.warn(
                &["services", &svc.name, "links", &i.to_string()],
                "link aliases have no Kubernetes equivalent (the Service keeps the service's name); left out",
            );
        }
    }
    if under(Some(node), &["healthcheck", "start_interval"]).is_some() {
        w.warn(
            &["services", &svc.name, "healthcheck", "start_interval"],
            "probes have one period; start_interval left out",
        );
    }
    for (i, v) in svc.volumes.iter().enumerate() {
        if v.mode.is_some() || v.propagation.is_some() {
            w.warn(
                &["services", &svc.name, "volumes", &i.to_string()],
                "mount mode/propagation have no Kubernetes equivalent here; left out",
            );
        }
    }
    for (i, e) in svc.net.expose.iter().enumerate() {
        if e.split('/')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .is_none()
        {
            w.warn(
                &["services", &svc.name, "expose", &i.to_string()],
                format!("{e:?}: only single ports are exported; left out"),
            );
        }
    }
    if svc
        .net
        .networks
        .values()
        .any(|n| !n.aliases.is_empty() || n.ipv4_address.is_some())
    {
        w.warn(&["services", &svc.name, "networks"], "aliases and fixed addresses have no equivalent on Kubernetes' flat pod network; left out");
    }
}

#[cfg(test)]
pub fn base64_for_test(d: &[u8]) -> String {
    base64(d)
}
