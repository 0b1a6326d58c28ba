//! The host's DNS servers, from its resolv.conf, for containers without `dns:` servers of their
//! own. Read at server start and again whenever the file's modification time changes (a laptop
//! changing networks rewrites it), so the daemon never needs a restart for it. Every server is
//! kept, 127.0.0.53 included: the daemon forwards from the host's network namespace.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::table::DNS_PORT;

/// The `nameserver` addresses of a resolv.conf text, in order. Lines that do not parse (an
/// IPv6 address with a `%zone`, which `IpAddr` cannot carry, or garbage) are skipped.
pub(crate) fn parse_nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            words.next()?.parse::<IpAddr>().ok()
        })
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .collect()
}

/// The host's servers, cached with the file's mtime.
#[derive(Debug)]
pub(crate) struct HostResolvers {
    path: PathBuf,
    cache: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    /// None: the file was missing or unreadable at the last look.
    mtime: Option<SystemTime>,
    servers: Vec<SocketAddr>,
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl HostResolvers {
    /// Reads `path` now (a missing file gives no servers: forwards then get SERVFAIL).
    pub(crate) fn new(path: PathBuf) -> Self {
        let this = Self {
            path,
            cache: Mutex::new(Cached::default()),
        };
        this.refresh();
        this
    }

    /// Re-reads the file if its mtime changed since the last read.
    fn refresh(&self) {
        let now = mtime(&self.path);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if now.is_some() && now == cache.mtime {
            return;
        }
        cache.servers = match std::fs::read_to_string(&self.path) {
            Ok(text) if now.is_some() => parse_nameservers(&text),
            _ => Vec::new(),
        };
        cache.mtime = now;
    }

    /// The servers, after a stat of the file (one syscall per forwarded query, next to a
    /// network round trip).
    pub(crate) fn servers(&self) -> Vec<SocketAddr> {
        self.refresh();
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .servers
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_nameservers_in_order() {
        let text = "# generated\nsearch lan\nnameserver 127.0.0.53\n nameserver   10.0.0.1 # x\n\
                    nameserver fe80::1%eth0\nnameserver ::1\nnameserver\noptions edns0\n";
        let got = parse_nameservers(text);
        let want: Vec<SocketAddr> = vec![
            "127.0.0.53:53".parse().unwrap(),
            "10.0.0.1:53".parse().unwrap(),
            "[::1]:53".parse().unwrap(),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn rereads_when_the_mtime_changes() {
        let dir = std::env::temp_dir().join(format!("rstack-dns-resolv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resolv.conf");
        std::fs::write(&path, "nameserver 10.1.1.1\n").unwrap();
        let host = HostResolvers::new(path.clone());
        assert_eq!(host.servers(), vec!["10.1.1.1:53".parse().unwrap()]);

        std::fs::write(&path, "nameserver 10.2.2.2\n").unwrap();
        // Set an mtime surely different from the first write's (coarse timestamps).
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(10))
            .unwrap();
        drop(file);
        assert_eq!(host.servers(), vec!["10.2.2.2:53".parse().unwrap()]);

        std::fs::remove_file(&path).unwrap();
        assert!(host.servers().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
