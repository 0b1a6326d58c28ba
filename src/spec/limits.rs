//! `deploy` (resource limits, replicas) and `tmpfs` of a service.

use super::keys;
use super::value::Cx;
use super::yaml::{Kind, Node, Span};
use crate::model::{Resources, Tmpfs};

/// What `deploy` sets: resource limits, and `replicas` with where it was written.
#[derive(Default)]
pub struct Deploy {
    pub limits: Resources,
    /// `deploy.resources.reservations`: `memory_reservation` and `cpus_reservation` set.
    pub reservations: Resources,
    pub replicas: Option<(u32, Span)>,
    /// `deploy.restart_policy` (see `restart_policy`).
    pub restart_policy: Option<(crate::model::RestartPolicy, crate::model::RestartLimits)>,
}

pub fn deploy(cx: &mut Cx<'_>, path: &str, v: &Node, out: &mut Deploy) {
    let limits = &mut out.limits;
    let Some(entries) = cx.map(path, v) else {
        return;
    };
    let known: Vec<&str> = keys::DEPLOY_IMPLEMENTED
        .iter()
        .chain(keys::DEPLOY_UNSUPPORTED)
        .copied()
        .collect();
    for (k, knode, val) in entries {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "replicas" => out.replicas = replicas(cx, &p, val).map(|n| (n, val.span)),
            "restart_policy" => out.restart_policy = super::restart_policy::read(cx, &p, val),
            "resources" => {
                let Some(res) = cx.map(&p, val) else { continue };
                for (rk, rknode, rv) in res {
                    let rp = format!("{p}.{rk}");
                    match rk.as_str() {
                        "limits" => {
                            let Some(lim) = cx.map(&rp, rv) else { continue };
                            for (lk, lknode, lv) in lim {
                                let lp = format!("{rp}.{lk}");
                                match lk.as_str() {
                                    "memory" => limits.memory = cx.memory_limit(&lp, lv),
                                    "cpus" => limits.cpus = cx.cpus(&lp, lv),
                                    "pids" => limits.pids = cx.int(&lp, lv).filter(|p| *p > 0),
                                    "devices" => cx.unsupported(lknode.span, &lp),
                                    k if k.starts_with("x-") => {}
                                    k => cx.unknown_key(
                                        lknode.span,
                                        &rp,
                                        k,
                                        keys::LIMITS_IMPLEMENTED,
                                    ),
                                }
                            }
                        }
                        "reservations" => reservations(cx, &rp, rv, &mut out.reservations),
                        k if k.starts_with("x-") => {}
                        k => cx.unknown_key(rknode.span, &p, k, keys::RESOURCES),
                    }
                }
            }
            k if k.starts_with("x-") => {}
            k if keys::DEPLOY_UNSUPPORTED.contains(&k) => cx.unsupported(knode.span, &p),
            k => cx.unknown_key(knode.span, path, k, &known),
        }
    }
}

/// `deploy.resources.reservations`, as docker compose uses it on one engine: `memory` is the
/// container's soft memory limit (MemoryReservation); `cpus` is a swarm scheduling option
/// that compose passes to no container (kept for the Kubernetes export's `requests.cpu`);
/// `pids` is only a limit (compose ignores it here too). GPU `devices` and
/// `generic_resources` cannot be honoured by this runtime: those warn.
fn reservations(cx: &mut Cx<'_>, path: &str, v: &Node, out: &mut Resources) {
    let Some(entries) = cx.map(path, v) else {
        return;
    };
    for (k, knode, val) in entries {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "memory" => out.memory_reservation = cx.size(&p, val),
            "cpus" => out.cpus_reservation = cx.cpus(&p, val),
            "pids" => {
                let _ = cx.int(&p, val);
            }
            k if keys::RESERVATIONS_UNSUPPORTED.contains(&k) => cx.unsupported(knode.span, &p),
            k if k.starts_with("x-") => {}
            k => {
                let known: Vec<&str> = keys::RESERVATIONS_IMPLEMENTED
                    .iter()
                    .chain(keys::RESERVATIONS_UNSUPPORTED)
                    .copied()
                    .collect();
                cx.unknown_key(knode.span, path, k, &known)
            }
        }
    }
}

/// `scale` or `deploy.replicas`: a count of containers, 0 or more.
pub fn replicas(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<u32> {
    let n = cx.int(path, v)?;
    match u32::try_from(n) {
        Ok(n) => Some(n),
        Err(_) => {
            cx.error(
                v.span,
                format!("{path}: must be a number of containers (0 or more), found {n}"),
            );
            None
        }
    }
}

pub fn tmpfs(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<Tmpfs> {
    let items: Vec<(String, &Node)> = match &v.kind {
        Kind::Str(s) => vec![(s.clone(), v)],
        Kind::Seq(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, n)| cx.string(&format!("{path}[{i}]"), n).map(|s| (s, n)))
            .collect(),
        Kind::Null => Vec::new(),
        _ => {
            cx.error(
                v.span,
                format!(
                    "{path}: expected a path or a list of paths, found {}",
                    v.type_name()
                ),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (text, node) in items {
        let (target, opts) = match text.split_once(':') {
            Some((t, o)) => (t, Some(o)),
            None => (text.as_str(), None),
        };
        if !target.starts_with('/') {
            cx.error(
                node.span,
                format!("{path}: tmpfs target \"{target}\" must be an absolute path"),
            );
            continue;
        }
        let mut t = Tmpfs {
            target: target.to_string(),
            size: None,
            mode: None,
        };
        for opt in opts.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
            match opt.split_once('=') {
                Some(("size", s)) => match crate::model::units::parse_size(s) {
                    Ok(b) => t.size = Some(b),
                    Err(e) => cx.error(node.span, format!("{path}: {e}")),
                },
                Some(("mode", m)) => match u32::from_str_radix(m, 8) {
                    Ok(m) if m <= 0o7777 => t.mode = Some(m),
                    _ => cx.error(
                        node.span,
                        format!("{path}: invalid tmpfs mode \"{m}\" (expected octal, e.g. 1777)"),
                    ),
                },
                _ => cx.warn(
                    node.span,
                    format!("{path}: tmpfs option \"{opt}\" is not supported yet and is ignored"),
                ),
            }
        }
        out.push(t);
    }
    out
}
