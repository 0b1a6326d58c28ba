//! A service's `ports:` (short `[HOST_IP:][HOST_PORT[-RANGE]:]CONTAINER_PORT[-RANGE][/PROTO]`
//! and long syntax) into `model::PortMapping`s, one per container port, and `expose:`.
//!
//! Ranges follow Docker's `nat.ParsePortSpec`: `8000-8002:80-82` maps port by port;
//! `8000-8010:80` publishes 80 on a free port of the host range; a container range with a
//! host range of another length is an error.

use super::cidr::is_ip;
use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::{PortMapping, PortRange, Protocol};

const LONG_KEYS: &[&str] = &[
    "target",
    "published",
    "host_ip",
    "protocol",
    "mode",
    "name",
    "app_protocol",
];
const SHORT_FORM: &str =
    "expected [HOST_IP:][HOST_PORT[-RANGE]:]CONTAINER_PORT[-RANGE][/tcp|/udp], e.g. \"8080:80\"";

/// Reads `services.NAME.ports`.
pub fn read(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<PortMapping> {
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
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match &it.kind {
            Kind::Map(_) => {
                if let Some(m) = long(cx, &p, it) {
                    out.push(m);
                }
            }
            Kind::Str(_) | Kind::Int(_) => {
                let text = it.scalar_text().unwrap_or_default();
                match parse_short(&text) {
                    Ok(list) => out.extend(list),
                    Err(why) => cx.error_hint(
                        it.span,
                        format!("{p}: invalid port \"{text}\": {why}"),
                        SHORT_FORM,
                    ),
                }
            }
            _ => cx.error_hint(
                it.span,
                format!(
                    "{p}: expected a port string or a mapping, found {}",
                    it.type_name()
                ),
                SHORT_FORM,
            ),
        }
    }
    out
}

/// One short-syntax entry, one mapping per container port.
pub fn parse_short(text: &str) -> Result<Vec<PortMapping>, String> {
    let (rest, protocol) = match text.rsplit_once('/') {
        Some((r, p)) => (r, protocol(p)?),
        None => (text, Protocol::Tcp),
    };
    // An IPv6 host address is written in brackets: `[::1]:80:80`.
    let (ip, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (ip, after) = r
                .split_once(']')
                .ok_or("the IPv6 address has no closing ]")?;
            let after = after
                .strip_prefix(':')
                .ok_or("a host port (or an empty one, \"[::1]::80\") must follow the address")?;
            (Some(ip.to_string()), after)
        }
        None => (None, rest),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, published, target) = match (ip, parts.as_slice()) {
        (None, [t]) => (None, None, *t),
        (None, [p, t]) => (None, Some(*p), *t),
        (None, [ip, p, t]) => (Some(ip.to_string()), Some(*p), *t),
        (Some(ip), [p, t]) => (Some(ip), Some(*p), *t),
        (None, _) => {
            return Err(
                "too many colons (write an IPv6 host address in brackets: [::1]:80:80)".into(),
            );
        }
        (Some(_), _) => return Err("too many colons".into()),
    };
    if let Some(ip) = &ip
        && !is_ip(ip)
    {
        return Err(format!("\"{ip}\" is not an IP address"));
    }
    let (t0, t1) = range(target, "container port")?;
    // Host port 0 asks for any free port, as an absent one does (Docker's reading).
    let published = match published.filter(|p| !p.is_empty() && *p != "0") {
        Some(p) => Some(range(p, "host port")?),
        None => None,
    };
    let n = t1 - t0;
    if let Some((p0, p1)) = published
        && p1 - p0 != n
        && n != 0
    {
        return Err(format!(
            "the container range has {} ports and the host range {}",
            u32::from(n) + 1,
            u32::from(p1 - p0) + 1
        ));
    }
    Ok((0..=n)
        .map(|i| PortMapping {
            target: t0 + i,
            published: published.map(|(p0, p1)| {
                if n == 0 {
                    PortRange { start: p0, end: p1 }
                } else {
                    PortRange {
                        start: p0 + i,
                        end: p0 + i,
                    }
                }
            }),
            host_ip: ip.clone(),
            protocol,
            name: None,
        })
        .collect())
}

fn protocol(p: &str) -> Result<Protocol, String> {
    match p {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(format!(
            "protocol \"{other}\" is not supported (tcp or udp)"
        )),
    }
}

/// A port number, 1 to 65535.
fn number(s: &str, what: &str) -> Result<u16, String> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{what} \"{s}\" is not a number"));
    }
    match s.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!("{what} {s} is out of range (1 to 65535)")),
    }
}

/// `PORT` or `START-END` (START <= END).
fn range(s: &str, what: &str) -> Result<(u16, u16), String> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a, what)?, number(b, what)?);
            if a > b {
                return Err(format!("{what} range {s} ends before it starts"));
            }
            Ok((a, b))
        }
        None => {
            let v = number(s, what)?;
            Ok((v, v))
        }
    }
}

/// The long syntax (`target`, `published`, `host_ip`, `protocol`, `mode`, `name`,
/// `app_protocol`).
fn long(cx: &mut Cx<'_>, p: &str, it: &Node) -> Option<PortMapping> {
    let entries = cx.map(p, it)?;
    let mut m = PortMapping::default();
    let mut target = None;
    let mut ok = true;
    for (k, knode, v) in entries {
        let kp = format!("{p}.{k}");
        let text = || v.scalar_text().unwrap_or_default();
        match k.as_str() {
            "target" => match v.kind {
                Kind::Int(_) | Kind::Str(_) => match number(&text(), "container port") {
                    Ok(t) => target = Some(t),
                    Err(why) => {
                        cx.error(v.span, format!("{kp}: {why}"));
                        ok = false;
                    }
                },
                _ => {
                    cx.error(
                        v.span,
                        format!("{kp}: expected a port number, found {}", v.type_name()),
                    );
                    ok = false;
                }
            },
            "published" => match v.kind {
                Kind::Null => {}
                Kind::Int(_) | Kind::Str(_) if text().is_empty() || text() == "0" => {}
                Kind::Int(_) | Kind::Str(_) => match range(&text(), "host port") {
                    Ok((start, end)) => m.published = Some(PortRange { start, end }),
                    Err(why) => {
                        cx.error_hint(v.span, format!("{kp}: {why}"), "expected PORT or START-END");
                        ok = false;
                    }
                },
                _ => {
                    cx.error(
                        v.span,
                        format!("{kp}: expected a port or a range, found {}", v.type_name()),
                    );
                    ok = false;
                }
            },
            "host_ip" => {
                if let Some(ip) = cx.string(&kp, v) {
                    if is_ip(&ip) {
                        m.host_ip = Some(ip);
                    } else {
                        cx.error(v.span, format!("{kp}: \"{ip}\" is not an IP address"));
                        ok = false;
                    }
                }
            }
            "protocol" => {
                if let Some(s) = cx.string(&kp, v) {
                    match protocol(&s) {
                        Ok(proto) => m.protocol = proto,
                        Err(why) => {
                            cx.error(v.span, format!("{kp}: {why}"));
                            ok = false;
                        }
                    }
                }
            }
            // `host` and `ingress` publish alike on a single host.
            "mode" => {
                if let Some(s) = cx.string(&kp, v)
                    && s != "host"
                    && s != "ingress"
                {
                    cx.error_hint(
                        v.span,
                        format!("{kp}: invalid mode \"{s}\""),
                        "expected ingress or host",
                    );
                    ok = false;
                }
            }
            "name" => m.name = cx.string(&kp, v),
            // A hint for tools (http, grpc...): nothing to do with it here.
            "app_protocol" => {
                cx.string(&kp, v);
            }
            k if k.starts_with("x-") => {}
            k => {
                cx.unknown_key(knode.span, p, k, LONG_KEYS);
                ok = false;
            }
        }
    }
    match target {
        Some(t) => m.target = t,
        None => {
            if ok {
                cx.error_hint(
                    it.span,
                    format!("{p}: target is required"),
                    "add target: CONTAINER_PORT",
                );
            }
            return None;
        }
    }
    ok.then_some(m)
}

/// `expose:` entries (`PORT[-END][/PROTO]`, strings or numbers), kept as written.
pub fn expose(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<String> {
    if v.is_null() {
        return Vec::new();
    }
    let Some(list) = cx.string_list(path, v) else {
        return Vec::new();
    };
    let nodes = v.as_seq().unwrap_or(&[]);
    let mut out = Vec::new();
    for (i, text) in list.into_iter().enumerate() {
        let span = nodes.get(i).map_or(v.span, |n| n.span);
        let (ports, proto) = text.rsplit_once('/').unwrap_or((&text, "tcp"));
        match protocol(proto).and_then(|_| range(ports, "port")) {
            Ok(_) => out.push(text),
            Err(why) => cx.error_hint(
                span,
                format!("{path}[{i}]: invalid port \"{text}\": {why}"),
                "expected PORT[-END][/tcp|/udp], e.g. \"3000\"",
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(target: u16, published: Option<(u16, u16)>) -> PortMapping {
        PortMapping {
            target,
            published: published.map(|(start, end)| PortRange { start, end }),
            ..PortMapping::default()
        }
    }

    #[test]
    fn short_forms() {
        assert_eq!(parse_short("80"), Ok(vec![one(80, None)]));
        assert_eq!(parse_short("0:80"), Ok(vec![one(80, None)]));
        assert_eq!(
            parse_short("8080:80"),
            Ok(vec![one(80, Some((8080, 8080)))])
        );
        let udp = parse_short("53:53/udp").expect("valid");
        assert_eq!(udp[0].protocol, Protocol::Udp);
        let ip = parse_short("127.0.0.1:8080:80").expect("valid");
        assert_eq!(ip[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            ip[0].published,
            Some(PortRange {
                start: 8080,
                end: 8080
            })
        );
        let v6 = parse_short("[::1]:80:80").expect("valid");
        assert_eq!(v6[0].host_ip.as_deref(), Some("::1"));
        let random = parse_short("127.0.0.1::80").expect("valid");
        assert_eq!((random[0].published, random[0].target), (None, 80));
        assert_eq!(
            parse_short("8000-8002:80-82"),
            Ok(vec![
                one(80, Some((8000, 8000))),
                one(81, Some((8001, 8001))),
                one(82, Some((8002, 8002)))
            ])
        );
        assert_eq!(
            parse_short("8000-8010:80"),
            Ok(vec![one(80, Some((8000, 8010)))])
        );
        assert_eq!(
            parse_short("80-82"),
            Ok(vec![one(80, None), one(81, None), one(82, None)])
        );
    }

    #[test]
    fn short_errors() {
        for (bad, why) in [
            ("0", "out of range"),
            ("65536", "out of range"),
            ("80/sctp", "protocol \"sctp\""),
            ("80:http", "not a number"),
            (
                "8000-8001:80-82",
                "container range has 3 ports and the host range 2",
            ),
            ("8000:80-82", "container range has 3 ports"),
            ("82-80", "ends before it starts"),
            ("1:2:3:4", "too many colons"),
            ("1.2.3:80:80", "not an IP address"),
            ("[::1:80:80", "no closing ]"),
            ("", "not a number"),
        ] {
            match parse_short(bad) {
                Ok(v) => panic!("{bad} parsed: {v:?}"),
                Err(e) => assert!(e.contains(why), "{bad}: {e}"),
            }
        }
    }
}
