//! The files a container sees its network through: /etc/resolv.conf (the daemon's resolver
//! on its first network's gateway), /etc/hosts and /etc/hostname. They are written into the
//! container's state directory and bound over the image's, so no image can break them.

use std::net::Ipv4Addr;

/// /etc/resolv.conf for a container whose names the daemon answers at `nameserver`.
pub fn resolv_conf(nameserver: Ipv4Addr, search: &[String], options: &[String]) -> String {
    let mut s = format!("nameserver {nameserver}\n");
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    // Docker's ndots:0 keeps short names from trying the search domains first.
    let mut opts: Vec<String> = options.to_vec();
    if !opts.iter().any(|o| o.starts_with("ndots")) {
        opts.insert(0, "ndots:0".to_string());
    }
    s.push_str(&format!("options {}\n", opts.join(" ")));
    s
}

/// /etc/resolv.conf for a container without the daemon's resolver (`network_mode: none` or
/// `host`): the host's own, with `dns*` keys applied over it.
pub fn host_resolv_conf(
    host: &str,
    dns: &[String],
    search: &[String],
    options: &[String],
) -> String {
    if dns.is_empty() && search.is_empty() && options.is_empty() {
        return host.to_string();
    }
    let mut s = String::new();
    let servers: Vec<String> = if dns.is_empty() {
        host.lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .map(|v| v.trim().to_string())
            .collect()
    } else {
        dns.to_vec()
    };
    for ns in servers {
        s.push_str(&format!("nameserver {ns}\n"));
    }
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    s
}

/// /etc/hosts: localhost, the container's own address and names, then `extra_hosts`
/// (`host-gateway` is `gateway`).
pub fn hosts(
    own: Option<Ipv4Addr>,
    hostname: &str,
    domainname: Option<&str>,
    extra: &[(String, String)],
    gateway: Option<Ipv4Addr>,
) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    if let Some(ip) = own {
        match domainname.filter(|d| !d.is_empty()) {
            Some(d) => s.push_str(&format!("{ip}\t{hostname}.{d} {hostname}\n")),
            None => s.push_str(&format!("{ip}\t{hostname}\n")),
        }
    }
    for (host, ip) in extra {
        let ip = match (ip.as_str(), gateway) {
            ("host-gateway", Some(gw)) => gw.to_string(),
            // No network, no gateway: the host is reached on loopback.
            ("host-gateway", None) => "127.0.0.1".to_string(),
            (ip, _) => ip.to_string(),
        };
        s.push_str(&format!("{ip}\t{host}\n"));
    }
    s
}

/// One /etc/hosts line for the container's own `ip` (its IPv6 address on a dual-stack
/// network, after the IPv4 one `hosts` writes).
pub fn hosts_line(ip: std::net::IpAddr, hostname: &str, domainname: Option<&str>) -> String {
    match domainname.filter(|d| !d.is_empty()) {
        Some(d) => format!("{ip}\t{hostname}.{d} {hostname}\n"),
        None => format!("{ip}\t{hostname}\n"),
    }
}

/// Writes `text` to `path` unless the file already holds exactly that: a container that
/// starts again (a restart, `start` after `stop`) finds its files as its last run left them,
/// and a start then only reads them. Same file, same inode: whatever binds it sees the text.
/// Returns whether it wrote.
pub fn write_if_changed(path: &std::path::Path, text: &str) -> std::io::Result<bool> {
    // A file of another length cannot hold the text: no read of it needed.
    let same_len = std::fs::metadata(path).is_ok_and(|m| m.len() == text.len() as u64);
    if same_len && std::fs::read(path).is_ok_and(|b| b == text.as_bytes()) {
        return Ok(false);
    }
    // In place, never truncated to zero: see `runtime::rewrite`.
    crate::runtime::rewrite::rewrite(path, text.as_bytes(), 0o666, false).map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_only_when_their_text_changes() {
        let dir = crate::testutil::TempDir::new("files-changed");
        let p = dir.0.join("hosts");
        assert!(write_if_changed(&p, "a\n").expect("new"));
        assert!(!write_if_changed(&p, "a\n").expect("same"));
        assert!(write_if_changed(&p, "b\n").expect("same length, other text"));
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "b\n");
        assert!(write_if_changed(&p, "longer\n").expect("other length"));
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "longer\n");
    }

    #[test]
    fn resolv_conf_points_at_the_daemons_resolver() {
        let gw = Ipv4Addr::new(10, 89, 0, 1);
        assert_eq!(
            resolv_conf(gw, &[], &[]),
            "nameserver 10.89.0.1\noptions ndots:0\n"
        );
        assert_eq!(
            resolv_conf(
                gw,
                &["example.com".into()],
                &["ndots:2".into(), "timeout:1".into()]
            ),
            "nameserver 10.89.0.1\nsearch example.com\noptions ndots:2 timeout:1\n"
        );
    }

    #[test]
    fn host_resolv_conf_takes_the_services_keys() {
        let host = "nameserver 1.1.1.1\nsearch lan\n";
        assert_eq!(host_resolv_conf(host, &[], &[], &[]), host);
        assert_eq!(
            host_resolv_conf(host, &["9.9.9.9".into()], &[], &[]),
            "nameserver 9.9.9.9\n"
        );
        assert_eq!(
            host_resolv_conf(host, &[], &["x".into()], &[]),
            "nameserver 1.1.1.1\nsearch x\n"
        );
    }

    #[test]
    fn hosts_lists_own_address_and_extra_hosts() {
        let h = hosts(
            Some(Ipv4Addr::new(10, 89, 0, 2)),
            "web",
            Some("example.com"),
            &[
                ("db".into(), "10.0.0.9".into()),
                ("host.docker.internal".into(), "host-gateway".into()),
            ],
            Some(Ipv4Addr::new(10, 89, 0, 1)),
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.89.0.2\tweb.example.com web\n"));
        assert!(h.contains("10.0.0.9\tdb\n"));
        assert!(h.ends_with("10.89.0.1\thost.docker.internal\n"));
    }
}
