//! `devices:` (short `HOST[:CONTAINER[:PERMISSIONS]]` strings or the long form's
//! `source`/`target`/`permissions` mappings) and `device_cgroup_rules:` of a service. Every
//! bad entry is reported at its own node.

use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::devices::{device, parse_device, parse_device_rule};
use crate::model::{Device, DeviceRule};

/// Keys of the long form.
const LONG: &[&str] = &["source", "target", "permissions"];

pub fn devices(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<Device> {
    let items = match &v.kind {
        Kind::Seq(items) => items,
        Kind::Null => return Vec::new(),
        _ => {
            cx.error(
                v.span,
                format!(
                    "{path}: expected a list of devices, found {}",
                    v.type_name()
                ),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let parsed = match &it.kind {
            Kind::Map(_) => long_form(cx, &p, it),
            _ => cx.string(&p, it).map(|s| parse_device(&s)),
        };
        match parsed {
            Some(Ok(d)) => out.push(d),
            Some(Err(e)) => cx.error(it.span, format!("{p}: {e}")),
            None => {}
        }
    }
    out
}

/// `{source, target, permissions}`: target defaults to source, permissions to `rwm`.
fn long_form(cx: &mut Cx<'_>, path: &str, n: &Node) -> Option<Result<Device, String>> {
    let mut source = None;
    let mut target = None;
    let mut permissions = None;
    for (k, knode, val) in cx.map(path, n)? {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "source" => source = cx.string(&p, val),
            "target" => target = cx.string(&p, val),
            "permissions" => permissions = cx.string(&p, val),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, path, k, LONG),
        }
    }
    let Some(source) = source else {
        cx.error_hint(
            n.span,
            format!("{path}: source is required"),
            "add source: /dev/NAME (the device on the host)",
        );
        return None;
    };
    let target = target.filter(|t| !t.is_empty()).unwrap_or(source.clone());
    Some(device(
        &source,
        &target,
        permissions.as_deref().unwrap_or("rwm"),
    ))
}

pub fn cgroup_rules(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<DeviceRule> {
    if v.is_null() {
        return Vec::new();
    }
    let Kind::Seq(items) = &v.kind else {
        cx.error(
            v.span,
            format!(
                "{path}: expected a list of rules such as \"c 1:3 rwm\", found {}",
                v.type_name()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(text) = cx.string(&p, it) else {
            continue;
        };
        match parse_device_rule(&text) {
            Ok(r) => out.push(r),
            Err(e) => cx.error(it.span, format!("{p}: {e}")),
        }
    }
    out
}
