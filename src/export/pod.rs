//! One service's pod template: its container, volumes, probes, security context and the
//! init containers that wait for `service_healthy` and `service_completed_successfully`
//! dependencies.

use super::locate::Warner;
use crate::model::{DependCondition, HealthTest, MountKind, Service};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The image init containers that wait for a dependency run.
pub const WAIT_IMAGE: &str = "busybox:1.36";

/// What the pod needs from the rest of the export.
pub struct PodCx<'a> {
    /// Object name of each service.
    pub names: &'a indexmap::IndexMap<String, String>,
    /// Per service, the first port its ClusterIP Service has (for readiness waits); `None`:
    /// it has a headless Service.
    pub first_port: &'a dyn Fn(&str) -> Option<u16>,
    /// Named volumes claimed by volumeClaimTemplates (StatefulSet) rather than by PVCs.
    pub templates: bool,
    /// Image of the init containers that `kubectl wait` for a Job.
    pub kubectl_image: &'a str,
    /// The ServiceAccount allowed to watch Jobs (set on pods that wait for one).
    pub waiter: &'a str,
    /// The services being exported (a wait for any other is warned about).
    pub exported: &'a dyn Fn(&str) -> bool,
}

/// Whole seconds, rounded up, at least 1 (Kubernetes probes count in seconds).
fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0).max(u64::from(d.is_zero()))
}

/// The Kubernetes name of a model volume/config/secret (`config-NAME`...).
pub fn vol_name(prefix: &str, source: &str) -> String {
    super::dns_label(&format!("{prefix}-{source}"))
}

pub fn probe(h: &crate::model::Healthcheck) -> Option<Value> {
    let cmd: Vec<String> = match &h.test {
        HealthTest::Cmd(a) if a.is_empty() => return None,
        HealthTest::Cmd(a) => a.clone(),
        HealthTest::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
    };
    let mut p = json!({
        "exec": {"command": cmd},
        "periodSeconds": secs(h.interval),
        "timeoutSeconds": secs(h.timeout),
        "failureThreshold": h.retries.max(1),
    });
    if !h.start_period.is_zero() {
        p["initialDelaySeconds"] = json!(secs(h.start_period));
    }
    Some(p)
}

/// The pod spec (without `restartPolicy`, which the workload kind decides).
pub fn pod_spec(svc: &Service, cx: &PodCx, w: &mut Warner) -> Map<String, Value> {
    let name = &svc.name;
    let mut c = Map::new();
    c.insert("name".into(), json!(cx.names[name]));
    c.insert("image".into(), json!(svc.image));
    if let Some(e) = &svc.entrypoint {
        c.insert("command".into(), json!(e));
    }
    if let Some(a) = &svc.command {
        c.insert("args".into(), json!(a));
    }
    let (cm_env, inline_env) = super::env::split(svc);
    if !cm_env.is_empty() {
        c.insert(
            "envFrom".into(),
            json!([{"configMapRef": {"name": super::env::config_map_name(&cx.names[name])}}]),
        );
    }
    if !inline_env.is_empty() {
        let env: Vec<Value> = inline_env
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        c.insert("env".into(), json!(env));
    }
    if let Some(d) = &svc.working_dir {
        c.insert("workingDir".into(), json!(d));
    }
    let mut ports: Vec<u16> = svc.net.ports.iter().map(|p| p.target).collect();
    for e in &svc.net.expose {
        if let Some(p) = e.split('/').next().and_then(|p| p.parse::<u16>().ok()) {
            ports.push(p);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cports = Vec::new();
    for p in &svc.net.ports {
        if seen.insert((p.target, p.protocol.as_str())) {
            cports.push(
                json!({"containerPort": p.target, "protocol": p.protocol.as_str().to_uppercase()}),
            );
        }
    }
    for p in ports.iter().skip(svc.net.ports.len()) {
        if seen.insert((*p, "tcp")) {
            cports.push(json!({"containerPort": p, "protocol": "TCP"}));
        }
    }
    if !cports.is_empty() {
        c.insert("ports".into(), json!(cports));
    }
    // Volumes.
    let mut volumes: Vec<Value> = Vec::new();
    let mut mounts: Vec<Value> = Vec::new();
    let mut anon = 0;
    for (i, v) in svc.volumes.iter().enumerate() {
        let idx = i.to_string();
        let vname = match v.kind {
            MountKind::Bind => {
                w.warn(
                    &["services", name, "volumes", &idx],
                    format!(
                        "bind mount of {} at {} has no portable Kubernetes equivalent; left out (use a named volume)",
                        v.source, v.target
                    ),
                );
                continue;
            }
            MountKind::Volume if v.source.is_empty() => {
                anon += 1;
                let n = format!("anon-{anon}");
                volumes.push(json!({"name": n, "emptyDir": {}}));
                n
            }
            MountKind::Volume if v.volume.as_ref().is_some_and(|d| d.external) => {
                // An external volume exists already: mount the claim of that name, make none.
                let key = super::locate::volume_key(w.loaded, &v.source);
                let claim = super::dns_label(&v.source);
                w.warn(
                    &["volumes", &key],
                    format!(
                        "external volume: no PersistentVolumeClaim is exported; pods mount an existing claim named {claim:?} (create it first)"
                    ),
                );
                let n = vol_name("ext", &key);
                if !volumes.iter().any(|x| x["name"] == json!(n)) {
                    volumes.push(json!({"name": n, "persistentVolumeClaim": {"claimName": claim}}));
                }
                n
            }
            MountKind::Volume => {
                let key = super::locate::volume_key(w.loaded, &v.source);
                let n = vol_name("data", &key);
                if !cx.templates && !volumes.iter().any(|x| x["name"] == json!(n)) {
                    volumes.push(json!({"name": n, "persistentVolumeClaim": {"claimName": super::dns_label(&key)}}));
                }
                if cx.templates {
                    // volumeClaimTemplates are named after the volume itself.
                    super::dns_label(&key)
                } else {
                    n
                }
            }
            MountKind::Tmpfs => {
                let n = format!("tmpfs-{i}");
                let mut e = json!({"medium": "Memory"});
                if let Some(s) = v.size {
                    e["sizeLimit"] = json!(s.to_string());
                }
                volumes.push(json!({"name": n, "emptyDir": e}));
                n
            }
        };
        let mut m = json!({"name": vname, "mountPath": v.target});
        if v.read_only {
            m["readOnly"] = json!(true);
        }
        mounts.push(m);
    }
    for (i, t) in svc.tmpfs.iter().enumerate() {
        let n = format!("tmp-{i}");
        if let Some(mode) = t.mode {
            w.warn(
                &["services", name, "tmpfs", &i.to_string()],
                format!("tmpfs mode {mode:o}: an emptyDir's mode cannot be set; left out"),
            );
        }
        let mut e = json!({"medium": "Memory"});
        if let Some(s) = t.size {
            e["sizeLimit"] = json!(s.to_string());
        }
        volumes.push(json!({"name": n, "emptyDir": e}));
        mounts.push(json!({"name": n, "mountPath": t.target}));
    }
    for (kind, list) in [("secret", &svc.secrets), ("config", &svc.configs)] {
        for (i, f) in list.iter().enumerate() {
            let n = vol_name(kind, &f.source);
            let key = super::objects::data_key(&f.source);
            if !volumes.iter().any(|x| x["name"] == json!(n)) {
                let obj = super::dns_label(&f.source);
                let mut src = if kind == "secret" {
                    json!({"secret": {"secretName": obj}})
                } else {
                    json!({"configMap": {"name": obj}})
                };
                if let Some(mode) = f.mode {
                    let inner = if kind == "secret" {
                        "secret"
                    } else {
                        "configMap"
                    };
                    src[inner]["defaultMode"] = json!(mode);
                }
                src["name"] = json!(n);
                volumes.push(src);
            }
            if f.uid.is_some() || f.gid.is_some() {
                w.warn(
                    &["services", name, &format!("{kind}s"), &i.to_string()],
                    "uid/gid of a mounted file have no Kubernetes equivalent (use fsGroup); left out",
                );
            }
            mounts
                .push(json!({"name": n, "mountPath": f.target, "subPath": key, "readOnly": true}));
        }
    }
    if !mounts.is_empty() {
        c.insert("volumeMounts".into(), json!(mounts));
    }
    if let Some(p) = svc.healthcheck.as_ref().and_then(probe) {
        c.insert("readinessProbe".into(), p.clone());
        c.insert("livenessProbe".into(), p);
    }
    // Resources.
    let mut limits = Map::new();
    if let Some(m) = svc.resources.memory {
        limits.insert("memory".into(), json!(m.to_string()));
    }
    if let Some(cpu) = svc.resources.cpus {
        limits.insert(
            "cpu".into(),
            json!(format!("{}m", (cpu * 1000.0).round() as u64)),
        );
    }
    if svc.resources.pids.is_some() {
        w.warn(
            &["services", name, "pids_limit"],
            "pids limit has no per-container Kubernetes equivalent (a kubelet setting); left out",
        );
    }
    // Reservations are what the container is guaranteed: Kubernetes requests.
    let mut requests = Map::new();
    if let Some(m) = svc.resources.memory_reservation.filter(|m| *m > 0) {
        requests.insert("memory".into(), json!(m.to_string()));
    }
    if let Some(cpu) = svc.resources.cpus_reservation.filter(|c| *c > 0.0) {
        requests.insert(
            "cpu".into(),
            json!(format!("{}m", (cpu * 1000.0).round() as u64)),
        );
    }
    let mut resources = Map::new();
    if !limits.is_empty() {
        resources.insert("limits".into(), Value::Object(limits));
    }
    if !requests.is_empty() {
        resources.insert("requests".into(), Value::Object(requests));
    }
    if !resources.is_empty() {
        c.insert("resources".into(), Value::Object(resources));
    }
    // Security context.
    let mut sc = Map::new();
    if let Some(u) = &svc.user {
        let mut parts = u.splitn(2, ':');
        let uid = parts.next().unwrap_or("").parse::<u64>();
        let gid = parts.next().map(|g| g.parse::<u64>());
        match (uid, gid) {
            (Ok(uid), None) => {
                sc.insert("runAsUser".into(), json!(uid));
            }
            (Ok(uid), Some(Ok(gid))) => {
                sc.insert("runAsUser".into(), json!(uid));
                sc.insert("runAsGroup".into(), json!(gid));
            }
            _ => w.warn(
                &["services", name, "user"],
                format!("user {u:?} is not numeric: Kubernetes needs a uid (runAsUser); left out"),
            ),
        }
    }
    let caps = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|c| c.trim_start_matches("CAP_").to_string())
            .collect()
    };
    let mut capabilities = Map::new();
    if !svc.options.cap_add.is_empty() {
        capabilities.insert("add".into(), json!(caps(&svc.options.cap_add)));
    }
    if !svc.options.cap_drop.is_empty() {
        capabilities.insert("drop".into(), json!(caps(&svc.options.cap_drop)));
    }
    if !capabilities.is_empty() {
        sc.insert("capabilities".into(), json!(capabilities));
    }
    if svc.read_only {
        sc.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    if svc.options.privileged {
        sc.insert("privileged".into(), json!(true));
    }
    if !sc.is_empty() {
        c.insert("securityContext".into(), json!(sc));
    }
    if svc.options.tty {
        c.insert("tty".into(), json!(true));
    }
    if svc.options.stdin_open {
        c.insert("stdin".into(), json!(true));
    }
    c.insert(
        "imagePullPolicy".into(),
        json!(match svc.pull_policy {
            crate::model::PullPolicy::Always => "Always",
            crate::model::PullPolicy::Never => "Never",
            _ => "IfNotPresent",
        }),
    );

    let mut spec = Map::new();
    let (inits, waits_for_job) = init_containers(svc, cx, w);
    if !inits.is_empty() {
        spec.insert("initContainers".into(), json!(inits));
    }
    if waits_for_job {
        spec.insert("serviceAccountName".into(), json!(cx.waiter));
    }
    spec.insert("containers".into(), json!([Value::Object(c)]));
    if !volumes.is_empty() {
        spec.insert("volumes".into(), json!(volumes));
    }
    if let Some(h) = &svc.hostname {
        spec.insert("hostname".into(), json!(super::dns_label(h)));
    }
    if !svc.net.extra_hosts.is_empty() {
        let mut by_ip: indexmap::IndexMap<&str, Vec<&str>> = indexmap::IndexMap::new();
        for h in &svc.net.extra_hosts {
            by_ip
                .entry(h.ip.as_str())
                .or_default()
                .push(h.host.as_str());
        }
        let aliases: Vec<Value> = by_ip
            .iter()
            .map(|(ip, hs)| json!({"ip": ip, "hostnames": hs}))
            .collect();
        spec.insert("hostAliases".into(), json!(aliases));
    }
    if svc.options.pid_host {
        spec.insert("hostPID".into(), json!(true));
    }
    if svc.stop_grace_period != Duration::from_secs(10) {
        spec.insert(
            "terminationGracePeriodSeconds".into(),
            json!(svc.stop_grace_period.as_secs()),
        );
    }
    spec
}

/// Waits for dependencies, as init containers (the pod's containers start after them).
///
/// `service_healthy`: an init container that polls the dependency's Service until a TCP
/// connection succeeds. A ClusterIP Service only routes to ready pods (readiness probe = the
/// dependency's healthcheck), so a connection means "healthy".
///
/// `service_completed_successfully`: the dependency is a Job; an init container runs
/// `kubectl wait --for=condition=complete` on it, as the ServiceAccount `cx.waiter` (allowed
/// to read Jobs). Returns whether such a wait is present (the pod then needs that account).
fn init_containers(svc: &Service, cx: &PodCx, w: &mut Warner) -> (Vec<Value>, bool) {
    let mut out = Vec::new();
    let mut job = false;
    for (dep, d) in &svc.depends_on {
        let target = cx
            .names
            .get(dep)
            .cloned()
            .unwrap_or_else(|| super::dns_label(dep));
        if d.condition != DependCondition::ServiceStarted && !(cx.exported)(dep) {
            w.warn(
                &["services", &svc.name, "depends_on", dep],
                format!(
                    "{dep} is not among the exported services: the pod waits for {target}, which must be deployed too (export it as well)"
                ),
            );
        }
        match d.condition {
            DependCondition::ServiceStarted => {}
            DependCondition::ServiceHealthy => {
                // With a port: a TCP connection to the ClusterIP Service succeeds only once a
                // ready pod backs it. Without: the headless Service's DNS name resolves only
                // once a pod is ready (not-ready addresses are not published).
                let check = match (cx.first_port)(dep) {
                    Some(port) => format!("nc -z -w 2 {target} {port}"),
                    None => format!("nslookup {target}"),
                };
                out.push(json!({
                    "name": format!("wait-{target}"),
                    "image": WAIT_IMAGE,
                    "command": ["sh", "-c", format!("until {check}; do echo waiting for {target}; sleep 2; done")],
                }));
            }
            DependCondition::ServiceCompletedSuccessfully => {
                job = true;
                // `kubectl wait` fails at once while the Job does not exist yet (objects are
                // created in any order), hence the loop.
                out.push(json!({
                    "name": format!("wait-{target}"),
                    "image": cx.kubectl_image,
                    "command": ["sh", "-c", format!("until kubectl wait --for=condition=complete --timeout=60s job/{target}; do echo waiting for job {target}; sleep 2; done")],
                }));
            }
        }
    }
    (out, job)
}
