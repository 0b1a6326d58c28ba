//! One reading of a container's resource counters (`stats`): CPU time, memory, block I/O
//! and pids from its cgroup, network bytes from its init's /proc/PID/net/dev.
//!
//! v2: cpu.stat, memory.current/stat/max, io.stat, pids.current of its one directory.
//! v1: a container only has the hierarchies it needs (pids and devices; memory and cpu when
//! limited), so what its cgroup lacks is summed over its processes from /proc: CPU from
//! /proc/PID/schedstat (ns), memory from the resident pages of /proc/PID/statm, block I/O from /proc/PID/io. The daemon turns
//! two readings into rates; this module only reads.

use super::cgroup::{Cgroup, Layout};
use super::config::ResourceConfig;
use std::path::Path;

/// Counters at one instant. Everything in bytes but `cpu_ns`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// CPU time used so far, in ns.
    pub cpu_ns: u64,
    pub mem_usage: u64,
    /// The memory limit, `None` when unlimited (the host's memory then).
    pub mem_limit: Option<u64>,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// Received and sent bytes over every interface but loopback (/proc/PID/net/dev).
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut rx = 0;
    let mut tx = 0;
    for line in text.lines().skip(2) {
        let Some((iface, rest)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

/// Read and written bytes summed over the devices of a v2 io.stat.
pub fn parse_io_stat(text: &str) -> (u64, u64) {
    let mut r = 0;
    let mut w = 0;
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            r += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            w += v.parse::<u64>().unwrap_or(0);
        }
    }
    (r, w)
}

/// Read and written bytes of a v1 blkio.throttle.io_service_bytes.
pub fn parse_blkio_v1(text: &str) -> (u64, u64) {
    let mut r = 0;
    let mut w = 0;
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [_, op, v] = f[..] {
            let v: u64 = v.parse().unwrap_or(0);
            match op {
                "Read" => r += v,
                "Write" => w += v,
                _ => {}
            }
        }
    }
    (r, w)
}

/// A v2 cgroup directory's counters (network not included: it is per namespace).
pub fn read_v2(dir: &Path) -> Sample {
    let mut s = Sample::default();
    if let Some(t) = read(&dir.join("cpu.stat")) {
        s.cpu_ns = keyed(&t, "usage_usec").unwrap_or(0) * 1000;
    }
    let usage = read(&dir.join("memory.current"))
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0);
    // As docker: the page cache that can go at once does not count.
    let inactive = read(&dir.join("memory.stat"))
        .and_then(|t| keyed(&t, "inactive_file"))
        .unwrap_or(0);
    s.mem_usage = usage.saturating_sub(inactive);
    s.mem_limit = read(&dir.join("memory.max")).and_then(|t| t.trim().parse().ok());
    if let Some(t) = read(&dir.join("io.stat")) {
        (s.blk_read, s.blk_write) = parse_io_stat(&t);
    }
    s.pids = read(&dir.join("pids.current"))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    s
}

/// The v1 counters the container's cgroup directories have; what they lack is summed over
/// `pids` from /proc.
fn read_v1(cg: &Cgroup, pids: &[i32]) -> Sample {
    let mut s = Sample::default();
    let find = |file: &str| cg.dirs.iter().find_map(|d| read(&d.join(file)));
    match find("cpuacct.usage").and_then(|t| t.trim().parse().ok()) {
        Some(ns) => s.cpu_ns = ns,
        None => {
            for p in pids {
                // First field: time on CPU, in ns.
                if let Some(ns) = read(Path::new(&format!("/proc/{p}/schedstat")))
                    .and_then(|t| t.split_whitespace().next()?.parse::<u64>().ok())
                {
                    s.cpu_ns += ns;
                }
            }
        }
    }
    match find("memory.usage_in_bytes").and_then(|t| t.trim().parse::<u64>().ok()) {
        Some(u) => {
            let inactive = find("memory.stat")
                .and_then(|t| keyed(&t, "total_inactive_file"))
                .unwrap_or(0);
            s.mem_usage = u.saturating_sub(inactive);
            // v1 says "unlimited" with a huge number.
            s.mem_limit = find("memory.limit_in_bytes")
                .and_then(|t| t.trim().parse::<u64>().ok())
                .filter(|l| *l < (1 << 60));
        }
        None => {
            // statm's second field: resident pages (far cheaper to make than `status`).
            // SAFETY: sysconf has no memory effects.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
            for p in pids {
                if let Some(pages) = read(Path::new(&format!("/proc/{p}/statm")))
                    .and_then(|t| t.split_whitespace().nth(1)?.parse::<u64>().ok())
                {
                    s.mem_usage += pages * page;
                }
            }
        }
    }
    match find("blkio.throttle.io_service_bytes") {
        Some(t) => (s.blk_read, s.blk_write) = parse_blkio_v1(&t),
        None => {
            for p in pids {
                if let Some(t) = read(Path::new(&format!("/proc/{p}/io"))) {
                    let t = t.replace(": ", " ");
                    s.blk_read += keyed(&t, "read_bytes").unwrap_or(0);
                    s.blk_write += keyed(&t, "write_bytes").unwrap_or(0);
                }
            }
        }
    }
    s.pids = find("pids.current")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(pids.len() as u64);
    s
}

/// One reading of the container whose cgroup is `cgroup_path` and whose init is `pid`.
pub fn sample(layout: &Layout, cgroup_path: &str, res: &ResourceConfig, pid: i32) -> Sample {
    let Ok(cg) = Cgroup::locate(layout, cgroup_path, res) else {
        return Sample::default();
    };
    let mut s = match cg.v2 {
        true => cg.dirs.first().map(|d| read_v2(d)).unwrap_or_default(),
        false => read_v1(&cg, &cg.pids()),
    };
    if let Some(t) = read(Path::new(&format!("/proc/{pid}/net/dev"))) {
        (s.net_rx, s.net_tx) = parse_net_dev(&t);
    }
    s
}

/// The host's memory (the limit of a container without one), from /proc/meminfo.
pub fn host_memory() -> u64 {
    read(Path::new("/proc/meminfo"))
        .and_then(|t| keyed(&t.replace(':', "").replace(" kB", ""), "MemTotal"))
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_net_dev_without_loopback() {
        let t = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    1500      10    0    0    0     0          0         0      700       5    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(t), (1500, 700));
    }

    #[test]
    fn parses_blkio_v1() {
        let t = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\nTotal 12288\n";
        assert_eq!(parse_blkio_v1(t), (4096, 8192));
    }

    /// A v2 cgroup directory laid out in a temp dir, as the kernel shows it.
    #[test]
    fn reads_a_v2_directory() {
        let d = std::env::temp_dir().join(format!("rstack-stats-v2-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("mkdir");
        let w = |f: &str, t: &str| std::fs::write(d.join(f), t).expect("write");
        w(
            "cpu.stat",
            "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
        );
        w("memory.current", "10485760\n");
        w(
            "memory.stat",
            "anon 4096\nfile 2097152\ninactive_file 1048576\n",
        );
        w("memory.max", "max\n");
        w(
            "io.stat",
            "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=4 wbytes=8 rios=1 wios=1\n",
        );
        w("pids.current", "3\n");
        let s = read_v2(&d);
        assert_eq!(s.cpu_ns, 2_500_000);
        assert_eq!(s.mem_usage, 10_485_760 - 1_048_576);
        assert_eq!(s.mem_limit, None);
        assert_eq!((s.blk_read, s.blk_write), (4100, 520));
        assert_eq!(s.pids, 3);
        w("memory.max", "536870912\n");
        assert_eq!(read_v2(&d).mem_limit, Some(536_870_912));
        let _ = std::fs::remove_dir_all(&d);
    }
}
