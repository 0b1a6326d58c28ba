//! Compose short syntax -> long form, for `config` output: ports (`[IP:][HOST:]CONTAINER[/proto]`
//! with ranges) and volumes (`SRC:DST[:MODE]`), plus Go-style duration strings.

use serde_json::{Map, Value, json};
use std::path::Path;
use std::time::Duration;

/// Formats like Go's `time.Duration.String()` ("1m30s", "500ms", "1h0m0s"), which is how
/// `docker compose config` prints durations.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |v: u128, unit: u128, suffix: &str| {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            format!("{whole}{suffix}")
        } else {
            let digits = unit.to_string().len() - 1;
            let s = format!("{rest:0digits$}");
            format!("{whole}.{}{suffix}", s.trim_end_matches('0'))
        }
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return frac(ns, 1_000, "µs");
    }
    if ns < 1_000_000_000 {
        return frac(ns, 1_000_000, "ms");
    }
    let total_s = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let h = total_s / 3600;
    let m = (total_s % 3600) / 60;
    let s = frac((total_s % 60) * 1_000_000_000 + sub, 1_000_000_000, "s");
    if h > 0 {
        format!("{h}h{m}m{s}")
    } else if m > 0 {
        format!("{m}m{s}")
    } else {
        s
    }
}

fn range(s: &str) -> Option<(u32, u32)> {
    match s.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let v = s.parse().ok()?;
            Some((v, v))
        }
    }
}

/// A short-syntax port into long-form entries (a range gives one entry per port).
pub fn port(spec: &str) -> Option<Vec<Value>> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p),
        None => (spec, "tcp"),
    };
    // An IPv6 host address is written in brackets.
    let (host_ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r.split_once(']')?;
        (Some(ip.to_string()), after.strip_prefix(':')?)
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, published, target) = match (host_ip, parts.as_slice()) {
        (None, [t]) => (None, None, *t),
        (None, [p, t]) => (None, Some(*p), *t),
        (None, [ip, p, t]) => (Some(ip.to_string()), Some(*p), *t),
        (Some(ip), [p, t]) => (Some(ip), Some(*p), *t),
        _ => return None,
    };
    let (t0, t1) = range(target)?;
    let published = published.filter(|p| !p.is_empty());
    let pub_range = match published {
        Some(p) => Some(range(p)?),
        None => None,
    };
    let entry = |t: u32, p: Option<String>| {
        let mut m = Map::new();
        m.insert("mode".into(), json!("ingress"));
        if let Some(ip) = &ip {
            m.insert("host_ip".into(), json!(ip));
        }
        m.insert("target".into(), json!(t));
        if let Some(p) = p {
            m.insert("published".into(), json!(p));
        }
        m.insert("protocol".into(), json!(protocol));
        Value::Object(m)
    };
    let n = t1.checked_sub(t0)?;
    let mut out = Vec::new();
    match pub_range {
        Some((p0, p1)) if p1 - p0.min(p1) == n && n > 0 => {
            for i in 0..=n {
                out.push(entry(t0 + i, Some((p0 + i).to_string())));
            }
        }
        _ => {
            for i in 0..=n {
                out.push(entry(t0 + i, published.map(str::to_string)));
            }
        }
    }
    Some(out)
}

/// A long-form port mapping with Compose's defaults filled in.
pub fn port_long(m: &Map<String, Value>) -> Value {
    let mut out = m.clone();
    out.entry("mode").or_insert(json!("ingress"));
    out.entry("protocol").or_insert(json!("tcp"));
    if let Some(p) = out.get("published").cloned()
        && !p.is_string()
    {
        out.insert("published".into(), json!(p.to_string()));
    }
    if let Some(Value::String(t)) = out.get("target").cloned()
        && let Ok(n) = t.parse::<u32>()
    {
        out.insert("target".into(), json!(n));
    }
    Value::Object(out)
}

pub(super) fn is_path(src: &str) -> bool {
    src.starts_with('.') || src.starts_with('/') || src.starts_with('~')
}

pub(super) fn absolute(src: &str, project_dir: &Path, home: Option<&str>) -> String {
    if let Some(rest) = src.strip_prefix('~')
        && let Some(h) = home
    {
        return format!("{h}{rest}");
    }
    super::files::absolute(project_dir, Path::new(src))
        .display()
        .to_string()
}

/// Compose cleans the container path: no trailing `/` (except for `/` itself).
pub(super) fn clean_target(t: &str) -> String {
    let trimmed = t.trim_end_matches('/');
    if trimmed.is_empty() && t.starts_with('/') {
        "/".into()
    } else {
        trimmed.to_string()
    }
}

/// A short-syntax volume into its long form.
pub fn volume(spec: &str, project_dir: &Path, home: Option<&str>) -> Value {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [d] => (None, *d, None),
        [s, d] => (Some(*s), *d, None),
        [s, d, m, ..] => (Some(*s), *d, Some(*m)),
        [] => (None, spec, None),
    };
    let dst = clean_target(dst);
    let dst = dst.as_str();
    let mut m = Map::new();
    let opts: Vec<&str> = mode.map(|m| m.split(',').collect()).unwrap_or_default();
    match src {
        Some(s) if is_path(s) => {
            m.insert("type".into(), json!("bind"));
            m.insert("source".into(), json!(absolute(s, project_dir, home)));
            m.insert("target".into(), json!(dst));
            let mut bind = Map::new();
            bind.insert("create_host_path".into(), json!(true));
            if let Some(z) = opts.iter().find(|o| **o == "z" || **o == "Z") {
                bind.insert("selinux".into(), json!(z));
            }
            if let Some(p) = opts.iter().find(|o| {
                matches!(
                    **o,
                    "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
                )
            }) {
                bind.insert("propagation".into(), json!(p));
            }
            m.insert("bind".into(), Value::Object(bind));
        }
        Some(s) => {
            m.insert("type".into(), json!("volume"));
            m.insert("source".into(), json!(s));
            m.insert("target".into(), json!(dst));
            let mut vol = Map::new();
            if opts.contains(&"nocopy") {
                vol.insert("nocopy".into(), json!(true));
            }
            m.insert("volume".into(), Value::Object(vol));
        }
        None => {
            m.insert("type".into(), json!("volume"));
            m.insert("target".into(), json!(dst));
            m.insert("volume".into(), json!({}));
        }
    }
    if opts.contains(&"ro") {
        m.insert("read_only".into(), json!(true));
    }
    Value::Object(m)
}

/// A long-form volume: bind sources made absolute.
pub fn volume_long(v: &Map<String, Value>, project_dir: &Path, home: Option<&str>) -> Value {
    let mut out = v.clone();
    if out.get("type").and_then(Value::as_str) == Some("bind")
        && let Some(Value::String(s)) = out.get("source").cloned()
    {
        out.insert("source".into(), json!(absolute(&s, project_dir, home)));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_micros(2), "2µs"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_millis(3_723_004), "1h2m3.004s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want);
        }
    }

    #[test]
    fn ports() {
        let p = |s: &str| port(s).map(Value::Array);
        assert_eq!(
            p("80"),
            Some(json!([{"mode":"ingress","target":80,"protocol":"tcp"}]))
        );
        assert_eq!(
            p("8080:80/udp"),
            Some(json!([{"mode":"ingress","target":80,"published":"8080","protocol":"udp"}]))
        );
        assert_eq!(
            p("127.0.0.1:8080:80"),
            Some(
                json!([{"mode":"ingress","host_ip":"127.0.0.1","target":80,"published":"8080","protocol":"tcp"}])
            )
        );
        assert_eq!(
            p("[::1]:53:53"),
            Some(
                json!([{"mode":"ingress","host_ip":"::1","target":53,"published":"53","protocol":"tcp"}])
            )
        );
        assert_eq!(port("8000-8001:9000-9001").map(|v| v.len()), Some(2));
        assert_eq!(
            port("8000-8001:9000-9001").and_then(|v| v.get(1).cloned()),
            Some(json!({"mode":"ingress","target":9001,"published":"8001","protocol":"tcp"}))
        );
        assert_eq!(
            p("9090-9091:8080"),
            Some(
                json!([{"mode":"ingress","target":8080,"published":"9090-9091","protocol":"tcp"}])
            )
        );
        assert_eq!(port("a:b"), None);
        assert_eq!(port("1:2:3:4"), None);
    }

    #[test]
    fn volumes() {
        let dir = Path::new("/proj");
        assert_eq!(
            volume("./data:/data:ro", dir, None),
            json!({"type":"bind","source":"/proj/data","target":"/data","read_only":true,"bind":{"create_host_path":true}})
        );
        assert_eq!(
            volume("db:/var/lib/db", dir, None),
            json!({"type":"volume","source":"db","target":"/var/lib/db","volume":{}})
        );
        assert_eq!(
            volume("/cache", dir, None),
            json!({"type":"volume","target":"/cache","volume":{}})
        );
        assert_eq!(
            volume("~/x:/x", dir, Some("/home/u"))["source"],
            json!("/home/u/x")
        );
    }
}
