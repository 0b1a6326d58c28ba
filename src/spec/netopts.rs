//! The per-service networking keys that need no other service nor top-level definition:
//! `links` (their services are checked with the other dependencies), `extra_hosts`, `dns`,
//! `dns_search`, `dns_opt`, `domainname`, `mac_address`.

use super::cidr::{is_ip, is_mac};
use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::{HostEntry, Link};

/// `links: [SERVICE[:ALIAS]]`.
pub fn links(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<Link> {
    let mut out = Vec::new();
    for (i, text, span) in items(cx, path, v) {
        let (service, alias) = match text.split_once(':') {
            Some((s, a)) => (s, Some(a)),
            None => (text.as_str(), None),
        };
        if service.is_empty() || alias.is_some_and(|a| a.is_empty() || a.contains(':')) {
            cx.error_hint(
                span,
                format!("{path}[{i}]: invalid link \"{text}\""),
                "expected SERVICE or SERVICE:ALIAS",
            );
            continue;
        }
        out.push(Link {
            service: service.to_string(),
            alias: alias.map(str::to_string),
        });
    }
    out
}

/// `extra_hosts`: a list of `HOST:IP` / `HOST=IP` (an IPv6 address after the first `:`
/// or `=`: `host:::1`), or a mapping `HOST: IP` (or a list of IPs).
pub fn extra_hosts(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<HostEntry> {
    let mut out = Vec::new();
    match &v.kind {
        Kind::Map(m) => {
            for (k, val) in m {
                let host = k.scalar_text().unwrap_or_default();
                let p = format!("{path}.{host}");
                let ips = match &val.kind {
                    Kind::Seq(_) => cx.string_list(&p, val).unwrap_or_default(),
                    _ => cx.string(&p, val).into_iter().collect(),
                };
                for ip in ips {
                    if let Some(e) = host_entry(cx, &p, val, &host, &ip) {
                        out.push(e);
                    }
                }
            }
        }
        Kind::Null => {}
        _ => {
            for (i, text, span) in items(cx, path, v) {
                let p = format!("{path}[{i}]");
                let split = text.split_once('=').or_else(|| text.split_once(':'));
                let Some((host, ip)) = split else {
                    cx.error_hint(
                        span,
                        format!("{p}: invalid extra host \"{text}\""),
                        "expected HOST:IP or HOST=IP, e.g. \"db.local:10.0.0.5\"",
                    );
                    continue;
                };
                let node = v.as_seq().and_then(|s| s.get(i)).unwrap_or(v);
                if let Some(e) = host_entry(cx, &p, node, host, ip) {
                    out.push(e);
                }
            }
        }
    }
    out
}

fn host_entry(cx: &mut Cx<'_>, p: &str, at: &Node, host: &str, ip: &str) -> Option<HostEntry> {
    // Docker accepts an IPv6 address in brackets too.
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    if host.is_empty() {
        cx.error(at.span, format!("{p}: the host name is empty"));
        return None;
    }
    if ip != "host-gateway" && !is_ip(ip) {
        cx.error_hint(
            at.span,
            format!("{p}: \"{ip}\" is not an IP address"),
            "write an IPv4 or IPv6 address, or host-gateway for the host",
        );
        return None;
    }
    Some(HostEntry {
        host: host.to_string(),
        ip: ip.to_string(),
    })
}

/// `dns`: one address or a list of them.
pub fn dns(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for (i, text, span) in string_or_list(cx, path, v) {
        if is_ip(&text) {
            out.push(text);
        } else {
            cx.error_hint(
                span,
                format!("{path}{i}: \"{text}\" is not an IP address"),
                "dns takes the addresses of name servers, e.g. 1.1.1.1",
            );
        }
    }
    out
}

/// `dns_search`: one domain or a list of them.
pub fn dns_search(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<String> {
    string_or_list(cx, path, v)
        .into_iter()
        .map(|(_, s, _)| s)
        .collect()
}

/// `dns_opt`: a list of resolver options (`ndots:2`).
pub fn dns_opt(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<String> {
    items(cx, path, v).into_iter().map(|(_, s, _)| s).collect()
}

/// `mac_address` (of a service, or of one of its networks).
pub fn mac_address(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<String> {
    if v.is_null() {
        return None;
    }
    let s = cx.string(path, v)?;
    if is_mac(&s) {
        Some(s)
    } else {
        cx.error_hint(
            v.span,
            format!("{path}: invalid MAC address \"{s}\""),
            "expected six hex pairs, e.g. 02:42:ac:11:00:02",
        );
        None
    }
}

/// The strings of a list, with their index and position; null is an empty list.
fn items(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<(usize, String, super::yaml::Span)> {
    if v.is_null() {
        return Vec::new();
    }
    let Kind::Seq(nodes) = &v.kind else {
        cx.error(
            v.span,
            format!("{path}: expected a list, found {}", v.type_name()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if let Some(s) = cx.string(&format!("{path}[{i}]"), n) {
            out.push((i, s, n.span));
        }
    }
    out
}

/// A string alone or a list of them; the index is rendered as `[i]` (empty for a string).
fn string_or_list(
    cx: &mut Cx<'_>,
    path: &str,
    v: &Node,
) -> Vec<(String, String, super::yaml::Span)> {
    match &v.kind {
        Kind::Seq(_) => items(cx, path, v)
            .into_iter()
            .map(|(i, s, span)| (format!("[{i}]"), s, span))
            .collect(),
        Kind::Null => Vec::new(),
        _ => cx
            .string(path, v)
            .map(|s| vec![(String::new(), s, v.span)])
            .unwrap_or_default(),
    }
}
