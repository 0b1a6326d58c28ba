//! A service's `volumes:` (short `SRC:DST[:MODE]` and long syntax) into `model::VolumeMount`s,
//! and the top-level `volumes:` they name: full names (`<project>_<key>` or `name:`), Docker's
//! name rule, the `local` driver's options. Every malformed entry is reported at its position.
//!
//! The only filesystem question asked here is whether a bind's host path exists when the
//! entry says `create_host_path: false`: the answer belongs at the entry, before anything runs.

use super::shortsyntax::{absolute, clean_target, is_path};
use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::{MountKind, Service, VolumeDef, VolumeMount, check_volume_name};
use indexmap::IndexMap;
use std::path::Path;

const LONG_KEYS: &[&str] = &[
    "type",
    "source",
    "target",
    "read_only",
    "bind",
    "volume",
    "tmpfs",
    "consistency",
];
const BIND_KEYS: &[&str] = &["propagation", "create_host_path", "selinux"];
const VOLUME_KEYS: &[&str] = &["nocopy", "subpath"];
const TMPFS_KEYS: &[&str] = &["size", "mode"];
const TOP_KEYS: &[&str] = &["name", "external", "labels", "driver", "driver_opts"];
const PROPAGATIONS: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// Reads `services.NAME.volumes`; `base` is the directory relative host paths resolve from.
pub fn read(
    cx: &mut Cx<'_>,
    path: &str,
    v: &Node,
    base: &Path,
    home: Option<&str>,
) -> Vec<VolumeMount> {
    let items = match &v.kind {
        Kind::Seq(items) => items,
        Kind::Null => return Vec::new(),
        _ => {
            cx.error(
                v.span,
                format!("{path}: expected a list, found {}", v.type_name()),
            );
            return Vec::new();
        }
    };
    let mut out: Vec<VolumeMount> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let m = match &it.kind {
            Kind::Map(_) => long(cx, &p, it, base, home),
            _ => match cx.string(&p, it) {
                Some(text) => short(cx, &p, it, &text, base, home),
                None => None,
            },
        };
        let Some(m) = m else { continue };
        if let Some(prop) = m.propagation.as_deref().filter(|p| !p.ends_with("private")) {
            // The container's mount tree is made private before its mounts (runtime::rootfs).
            cx.warn(
                it.span,
                format!("{p}: propagation \"{prop}\" is not applied yet: the mount stays private"),
            );
        }
        if !m.target.starts_with('/') {
            cx.error_hint(
                it.span,
                format!("{p}: target \"{}\" must be an absolute path", m.target),
                "write the path inside the container from /, e.g. /data",
            );
            continue;
        }
        if out.iter().any(|o| o.target == m.target) {
            cx.error(
                it.span,
                format!("{p}: \"{}\" is mounted twice in this service", m.target),
            );
            continue;
        }
        if m.no_create_host_path && m.kind == MountKind::Bind && !Path::new(&m.source).exists() {
            cx.error_hint(
                it.span,
                format!(
                    "{p}: bind source path \"{}\" does not exist (bind.create_host_path is false)",
                    m.source
                ),
                "create the directory, or drop create_host_path: false to have it created",
            );
            continue;
        }
        out.push(m);
    }
    out
}

/// `[SOURCE:]TARGET[:MODE,...]`.
fn short(
    cx: &mut Cx<'_>,
    p: &str,
    it: &Node,
    text: &str,
    base: &Path,
    home: Option<&str>,
) -> Option<VolumeMount> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.iter().any(|s| s.is_empty()) || parts.len() > 3 {
        cx.error_hint(
            it.span,
            format!("{p}: invalid volume \"{text}\""),
            "expected [SOURCE:]TARGET[:MODE] (MODE: ro, rw, z, Z, nocopy or a propagation); is a variable in it unset?",
        );
        return None;
    }
    let (src, dst, mode) = match parts.as_slice() {
        [d] => (None, *d, None),
        [s, d] => (Some(*s), *d, None),
        [s, d, m] => (Some(*s), *d, Some(*m)),
        _ => return None,
    };
    let mut m = VolumeMount {
        target: clean_target(dst),
        ..VolumeMount::default()
    };
    match src {
        Some(s) if is_path(s) => {
            m.kind = MountKind::Bind;
            m.source = absolute(s, base, home);
        }
        Some(s) => {
            m.kind = MountKind::Volume;
            m.source = s.to_string();
        }
        None => m.kind = MountKind::Volume,
    }
    for opt in mode.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => m.read_only = true,
            "rw" => m.read_only = false,
            "z" | "Z" => selinux_note(cx, p, it),
            "nocopy" if m.kind == MountKind::Volume => m.nocopy = true,
            o if PROPAGATIONS.contains(&o) && m.kind == MountKind::Bind => {
                m.propagation = Some(o.to_string())
            }
            o => {
                cx.error_hint(
                    it.span,
                    format!("{p}: unknown volume option \"{o}\" in \"{text}\""),
                    "expected ro, rw, z, Z, nocopy (volumes) or a propagation (binds)",
                );
                return None;
            }
        }
    }
    Some(m)
}

fn selinux_note(cx: &mut Cx<'_>, p: &str, it: &Node) {
    cx.warn(
        it.span,
        format!("{p}: SELinux relabeling (z/Z) is ignored: rstack does not relabel host paths"),
    );
}

/// The long syntax (`type`, `source`, `target`, ...).
fn long(
    cx: &mut Cx<'_>,
    p: &str,
    it: &Node,
    base: &Path,
    home: Option<&str>,
) -> Option<VolumeMount> {
    let entries = cx.map(p, it)?;
    let mut m = VolumeMount::default();
    let mut kind = None;
    let mut source: Option<(String, &Node)> = None;
    let errors_before = cx.report.items.iter().filter(|d| d.is_error()).count();
    for (k, knode, v) in &entries {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "type" => {
                let t = cx.string(&kp, v)?;
                kind = Some(match t.as_str() {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    other => {
                        cx.error_hint(
                            v.span,
                            format!("{kp}: mount type \"{other}\" is not supported"),
                            "expected bind, volume or tmpfs",
                        );
                        return None;
                    }
                });
            }
            "source" => source = cx.string(&kp, v).map(|s| (s, *v)),
            "target" => m.target = clean_target(&cx.string(&kp, v).unwrap_or_default()),
            "read_only" => m.read_only = cx.boolean(&kp, v).unwrap_or(false),
            "consistency" => {}
            "bind" | "volume" | "tmpfs" => {}
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, p, k, LONG_KEYS),
        }
    }
    let Some(kind) = kind else {
        cx.error_hint(
            it.span,
            format!("{p}: type is required"),
            "add type: bind, volume or tmpfs",
        );
        return None;
    };
    m.kind = kind;
    if m.target.is_empty() {
        cx.error(it.span, format!("{p}: target is required"));
        return None;
    }
    for (k, _, v) in &entries {
        let kp = format!("{p}.{k}");
        match (k.as_str(), kind) {
            ("bind", MountKind::Bind) => bind_opts(cx, &kp, v, &mut m),
            ("volume", MountKind::Volume) => volume_opts(cx, &kp, v, &mut m),
            ("tmpfs", MountKind::Tmpfs) => tmpfs_opts(cx, &kp, v, &mut m),
            ("bind" | "volume" | "tmpfs", _) => {
                cx.error(v.span, format!("{kp}: only allowed with type: {k}"))
            }
            _ => {}
        }
    }
    match (kind, source) {
        (MountKind::Bind, Some((s, _))) if !s.is_empty() => m.source = absolute(&s, base, home),
        (MountKind::Bind, _) => {
            cx.error(
                it.span,
                format!("{p}: a bind mount needs a source (the host path)"),
            );
        }
        (MountKind::Volume, Some((s, _))) => m.source = s,
        (MountKind::Volume, None) => {}
        (MountKind::Tmpfs, Some((s, n))) if !s.is_empty() => {
            cx.error(n.span, format!("{p}.source: a tmpfs mount has no source"));
        }
        (MountKind::Tmpfs, _) => {}
    }
    let errors_after = cx.report.items.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(m)
}

fn bind_opts(cx: &mut Cx<'_>, p: &str, v: &Node, m: &mut VolumeMount) {
    let Some(entries) = cx.map(p, v) else { return };
    for (k, knode, val) in entries {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "create_host_path" => {
                m.no_create_host_path = !cx.boolean(&kp, val).unwrap_or(true);
            }
            "propagation" => {
                if let Some(s) = cx.string(&kp, val) {
                    if PROPAGATIONS.contains(&s.as_str()) {
                        m.propagation = Some(s);
                    } else {
                        cx.error_hint(
                            val.span,
                            format!("{kp}: invalid propagation \"{s}\""),
                            "expected one of shared, rshared, slave, rslave, private, rprivate",
                        );
                    }
                }
            }
            "selinux" => selinux_note(cx, &kp, val),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, p, k, BIND_KEYS),
        }
    }
}

fn volume_opts(cx: &mut Cx<'_>, p: &str, v: &Node, m: &mut VolumeMount) {
    let Some(entries) = cx.map(p, v) else { return };
    for (k, knode, val) in entries {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "nocopy" => m.nocopy = cx.boolean(&kp, val).unwrap_or(false),
            "subpath" => cx.unsupported(knode.span, &kp),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, p, k, VOLUME_KEYS),
        }
    }
}

fn tmpfs_opts(cx: &mut Cx<'_>, p: &str, v: &Node, m: &mut VolumeMount) {
    let Some(entries) = cx.map(p, v) else { return };
    for (k, knode, val) in entries {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "size" => m.size = cx.size(&kp, val),
            "mode" => {
                // An int in YAML is already the octal number Compose reads (1777 -> 0o1777),
                // as Docker reads `mode` of the tmpfs option string.
                let text = cx.string(&kp, val).unwrap_or_default();
                match u32::from_str_radix(text.trim_start_matches("0o"), 8) {
                    Ok(mode) if mode <= 0o7777 => m.mode = Some(mode),
                    _ => cx.error(
                        val.span,
                        format!("{kp}: invalid mode \"{text}\" (expected octal, e.g. 1777)"),
                    ),
                }
            }
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, p, k, TMPFS_KEYS),
        }
    }
}

/// The top-level `volumes:` of the project, by key.
fn top_level(cx: &mut Cx<'_>, root: &Node, project: &str) -> IndexMap<String, (String, VolumeDef)> {
    let mut out = IndexMap::new();
    let Some(node) = root.get("volumes").filter(|n| !n.is_null()) else {
        return out;
    };
    let Some(entries) = cx.map("volumes", node) else {
        return out;
    };
    for (key, knode, v) in entries {
        let p = format!("volumes.{key}");
        let mut def = VolumeDef {
            project: project.to_string(),
            ..VolumeDef::default()
        };
        let mut name = None;
        let mut ok = true;
        if let Some(fields) = (!v.is_null()).then(|| cx.map(&p, v)).flatten() {
            for (k, fk, fv) in fields {
                let kp = format!("{p}.{k}");
                match k.as_str() {
                    "name" => name = cx.string(&kp, fv).map(|s| (s, fv.span)),
                    "external" => {
                        def.external = match &fv.kind {
                            // The old form `external: {name: x}`.
                            Kind::Map(_) => {
                                if let Some(n) = fv.get("name") {
                                    name = cx.string(&kp, n).map(|s| (s, n.span));
                                }
                                true
                            }
                            _ => cx.boolean(&kp, fv).unwrap_or(false),
                        }
                    }
                    "labels" => def.labels = string_map(cx, &kp, fv),
                    "driver" => {
                        let d = cx.string(&kp, fv).unwrap_or_default();
                        if !d.is_empty() && d != "local" {
                            cx.error_hint(
                                fv.span,
                                format!("{kp}: volume driver \"{d}\" is not supported"),
                                "rstack has the local driver only: remove driver: or write driver: local",
                            );
                            ok = false;
                        }
                    }
                    "driver_opts" => {
                        def.driver_opts = string_map(cx, &kp, fv);
                        ok &= check_driver_opts(cx, &kp, fv, &def.driver_opts);
                    }
                    k if k.starts_with("x-") => {}
                    k => {
                        cx.unknown_key(fk.span, &p, k, TOP_KEYS);
                        ok = false;
                    }
                }
            }
        }
        let (full, span) = match name {
            Some((n, span)) => (n, span),
            None if def.external => (key.clone(), knode.span),
            None => (format!("{project}_{key}"), knode.span),
        };
        if let Err(e) = check_volume_name(&full) {
            cx.error_hint(
                span,
                format!("{p}: {e}"),
                "volume names cannot hold a /: use a bind mount (./dir:/path) for a host directory",
            );
            ok = false;
        }
        if ok {
            out.insert(key, (full, def));
        }
    }
    out
}

fn string_map(cx: &mut Cx<'_>, p: &str, v: &Node) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    match &v.kind {
        Kind::Map(_) => {
            for (k, _, val) in cx.map(p, v).unwrap_or_default() {
                let s = if val.is_null() {
                    String::new()
                } else {
                    cx.string(&format!("{p}.{k}"), val).unwrap_or_default()
                };
                out.insert(k, s);
            }
        }
        Kind::Seq(_) => {
            for s in cx.string_list(p, v).unwrap_or_default() {
                let (k, val) = s.split_once('=').unwrap_or((&s, ""));
                out.insert(k.to_string(), val.to_string());
            }
        }
        Kind::Null => {}
        _ => cx.error(
            v.span,
            format!("{p}: expected a mapping, found {}", v.type_name()),
        ),
    }
    out
}

/// The `local` driver's options rstack makes: a bind of `device` (`type: none`, `o: bind`)
/// or a tmpfs (`type: tmpfs`, `o: size=...`).
fn check_driver_opts(cx: &mut Cx<'_>, p: &str, v: &Node, opts: &IndexMap<String, String>) -> bool {
    for k in opts.keys() {
        if !matches!(k.as_str(), "type" | "o" | "device") {
            cx.error_hint(
                v.span,
                format!("{p}: unknown driver option \"{k}\""),
                "the local driver takes type, o and device",
            );
            return false;
        }
    }
    let kind = opts.get("type").map(String::as_str).unwrap_or("none");
    let o = opts.get("o").map(String::as_str).unwrap_or("");
    match kind {
        "tmpfs" => true,
        "none" | "" if o.split(',').any(|x| x == "bind" || x == "rbind") => {
            let dev = opts.get("device").map(String::as_str).unwrap_or("");
            if !dev.starts_with('/') {
                cx.error_hint(
                    v.span,
                    format!("{p}: device must be an absolute host path, found \"{dev}\""),
                    "write device: /path/on/the/host",
                );
                return false;
            }
            true
        }
        other => {
            cx.error_hint(
                v.span,
                format!("{p}: type \"{other}\" with o \"{o}\" is not supported"),
                "rstack's local driver makes binds (type: none, o: bind, device: PATH) and tmpfs (type: tmpfs)",
            );
            false
        }
    }
}

/// Resolves every named volume of the services against the top-level `volumes:`: full name
/// and definition, or an error at the entry that names an undeclared one.
pub fn resolve(
    cx: &mut Cx<'_>,
    root: &Node,
    project: &str,
    services: &mut IndexMap<String, Service>,
) {
    let declared = top_level(cx, root, project);
    for (name, svc) in services.iter_mut() {
        let items = root
            .get("services")
            .and_then(|s| s.get(name))
            .and_then(|s| s.get("volumes"))
            .and_then(Node::as_seq)
            .unwrap_or(&[]);
        for m in svc.volumes.iter_mut() {
            if m.kind != MountKind::Volume || m.source.is_empty() {
                continue;
            }
            match declared.get(&m.source) {
                Some((full, def)) => {
                    m.source = full.clone();
                    m.volume = Some(def.clone());
                }
                None => {
                    // The entry that names it, for the position.
                    let span = items
                        .iter()
                        .find(|it| entry_names(it, &m.source))
                        .map_or(root.span, |it| it.span);
                    let declared_in_file =
                        root.get("volumes").and_then(|v| v.get(&m.source)).is_some();
                    if !declared_in_file {
                        cx.error_hint(
                            span,
                            format!(
                                "services.{name}.volumes: volume \"{}\" is not declared under the top-level volumes:",
                                m.source
                            ),
                            format!(
                                "add `volumes: {{{}: {{}}}}` at the top level, or write ./{} for a directory next to the stack file",
                                m.source, m.source
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// `volumes_from: [SERVICE[:ro|rw]]`: the service gets the binds and named volumes of
/// SERVICE (read-only with `:ro`), but where it mounts something itself. Anonymous volumes
/// belong to one container and are not shared (warned); `container:NAME` is not supported.
pub fn volumes_from(cx: &mut Cx<'_>, root: &Node, services: &mut IndexMap<String, Service>) {
    let mut wants: Vec<(String, String, bool)> = Vec::new();
    for name in services.keys() {
        let Some(list) = root
            .get("services")
            .and_then(|s| s.get(name))
            .and_then(|s| s.get("volumes_from"))
        else {
            continue;
        };
        let path = format!("services.{name}.volumes_from");
        let Some(items) = cx.string_list(&path, list) else {
            continue;
        };
        let nodes = list.as_seq().unwrap_or(&[]);
        for (i, text) in items.iter().enumerate() {
            let span = nodes.get(i).map_or(list.span, |n| n.span);
            let p = format!("{path}[{i}]");
            if text.starts_with("container:") {
                cx.error_hint(
                    span,
                    format!("{p}: \"{text}\": volumes from a container outside the stack are not supported"),
                    "name a service of this stack instead",
                );
                continue;
            }
            let (from, mode) = text.split_once(':').unwrap_or((text, "rw"));
            let ro = match mode {
                "ro" => true,
                "rw" => false,
                m => {
                    cx.error_hint(
                        span,
                        format!("{p}: invalid mode \"{m}\""),
                        "expected ro or rw",
                    );
                    continue;
                }
            };
            match services.get(from) {
                None => cx.error(span, format!("{p}: no service \"{from}\" in the stack")),
                Some(src) => {
                    if src
                        .volumes
                        .iter()
                        .any(|m| m.kind == MountKind::Volume && m.source.is_empty())
                    {
                        cx.warn(
                            span,
                            format!("{p}: the anonymous volumes of \"{from}\" are not shared (each container has its own)"),
                        );
                    }
                    wants.push((name.clone(), from.to_string(), ro));
                }
            }
        }
    }
    // Chains (a from b from c) settle in as many passes as there are links.
    for _ in 0..wants.len() {
        for (to, from, ro) in &wants {
            let Some(src) = services.get(from) else {
                continue;
            };
            let shared: Vec<VolumeMount> = src
                .volumes
                .iter()
                .filter(|m| {
                    m.kind != MountKind::Tmpfs
                        && !(m.kind == MountKind::Volume && m.source.is_empty())
                })
                .cloned()
                .collect();
            let Some(dst) = services.get_mut(to) else {
                continue;
            };
            for mut m in shared {
                if dst.volumes.iter().any(|d| d.target == m.target) {
                    continue;
                }
                m.read_only |= *ro;
                dst.volumes.push(m);
            }
        }
    }
}

fn entry_names(it: &Node, key: &str) -> bool {
    match &it.kind {
        Kind::Str(s) => s.split(':').next() == Some(key),
        Kind::Map(_) => it.get("source").and_then(Node::as_str) == Some(key),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{MountKind, VolumeMount};
    use crate::spec::tests::load_str;

    fn vols(yaml: &str) -> Vec<VolumeMount> {
        load_str(yaml).expect("loads").stack.services["a"]
            .volumes
            .clone()
    }

    #[test]
    fn short_syntax() {
        let v = vols(
            "name: p\nservices:\n  a:\n    image: x\n    volumes:\n      - ./d:/d:ro\n      - db:/db\n      - /anon\n      - /h:/h:z\nvolumes:\n  db: {}\n",
        );
        assert_eq!(v[0].kind, MountKind::Bind);
        assert!(v[0].source.ends_with("/d") && v[0].source.starts_with('/'));
        assert!(v[0].read_only);
        assert_eq!(v[1].kind, MountKind::Volume);
        assert_eq!(v[1].source, "p_db");
        assert_eq!(v[1].volume.as_ref().map(|d| d.project.as_str()), Some("p"));
        assert_eq!((v[2].kind, v[2].source.as_str()), (MountKind::Volume, ""));
        assert_eq!(v[3].source, "/h");
    }

    #[test]
    fn volumes_from_copies_binds_and_named_volumes() {
        let l = load_str(
            "name: p\nservices:\n  a:\n    image: x\n    volumes: [db:/db, /anon, /h:/h]\n  b:\n    image: x\n    volumes_from: ['a:ro']\n    volumes: [/h2:/h]\n  c:\n    image: x\n    volumes_from: [b]\nvolumes: {db: {}}\n",
        )
        .expect("loads");
        let b = &l.stack.services["b"].volumes;
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(b[0].source, "/h2");
        assert!(b[1].read_only && b[1].source == "p_db");
        assert_eq!(l.stack.services["c"].volumes.len(), 2);
        assert!(
            l.warnings
                .iter()
                .any(|w| w.to_string().contains("anonymous volumes of \"a\""))
        );
        let e = err("services:\n  a:\n    image: x\n    volumes_from: ['container:x']\n");
        assert!(e.contains("not supported"), "{e}");
    }

    #[test]
    fn long_syntax() {
        let v = vols(
            "name: p\nservices:\n  a:\n    image: x\n    volumes:\n      - type: bind\n        source: /s\n        target: /t/\n        read_only: true\n        bind: {create_host_path: true, propagation: rslave}\n      - type: tmpfs\n        target: /tmp\n        tmpfs: {size: 1m, mode: 1770}\n      - type: volume\n        source: db\n        target: /db\n        volume: {nocopy: true}\nvolumes:\n  db:\n    name: custom\n",
        );
        assert_eq!(v[0].target, "/t");
        assert_eq!(v[0].propagation.as_deref(), Some("rslave"));
        assert_eq!((v[1].size, v[1].mode), (Some(1 << 20), Some(0o1770)));
        assert_eq!(v[2].source, "custom");
        assert!(v[2].nocopy);
    }

    fn err(yaml: &str) -> String {
        match load_str(yaml) {
            Ok(_) => panic!("loaded"),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn bad_input_at_its_position() {
        let e = err("services:\n  a:\n    image: x\n    volumes:\n      - nope:/d\n");
        assert!(
            e.contains("volume \"nope\" is not declared") && e.contains(":5:"),
            "{e}"
        );
        let e = err(
            "services:\n  a:\n    image: x\n    volumes:\n      - d:/d\nvolumes:\n  d:\n    name: a/b\n",
        );
        assert!(
            e.contains("invalid volume name \"a/b\"") && e.contains(":8:"),
            "{e}"
        );
        let e = err(
            "services:\n  a:\n    image: x\n    volumes:\n      - type: bind\n        source: /nonexistent/rstack-x\n        target: /d\n        bind: {create_host_path: false}\n",
        );
        assert!(e.contains("does not exist") && e.contains(":5:"), "{e}");
        let e = err("services:\n  a:\n    image: x\n    volumes:\n      - /a:/b:xx\n");
        assert!(e.contains("unknown volume option \"xx\""), "{e}");
        let e =
            err("services:\n  a:\n    image: x\n    volumes:\n      - d:rel\nvolumes: {d: {}}\n");
        assert!(e.contains("must be an absolute path"), "{e}");
        let e = err(
            "services:\n  a:\n    image: x\n    volumes: [d:/d]\nvolumes:\n  d: {driver: nfs}\n",
        );
        assert!(e.contains("driver \"nfs\" is not supported"), "{e}");
    }
}
