//! A container's processes as `docker top` shows them: the pids of its cgroup, each described
//! from /proc (stat, status, cmdline) in the columns of `ps -ef`.
//!
//! Parsing is separate from reading so the pure part is tested on fixed text.

use super::cgroup::{Cgroup, Layout};
use super::config::ResourceConfig;
use super::error::Result;
use std::collections::HashMap;

/// The columns, as `ps -ef` (and so `docker top`) names them.
pub const TITLES: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// What /proc/PID/stat says that `top` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub ppid: i32,
    pub tty_nr: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Start, in clock ticks after boot.
    pub start_ticks: u64,
}

/// Parses /proc/PID/stat. The command name is in parentheses and may itself hold spaces and
/// parentheses: the fields start after the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        comm,
        ppid: f.get(1)?.parse().ok()?,
        tty_nr: n(4)?,
        cpu_ticks: n(11)? + n(12)?,
        start_ticks: n(19)?,
    })
}

/// The effective uid from /proc/PID/status (`Uid: real effective saved fs`).
pub fn parse_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// /proc/PID/cmdline (NUL-separated) as one line; a process without one (a zombie) shows
/// its name in brackets, as ps does.
pub fn command_line(cmdline: &[u8], comm: &str) -> String {
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.is_empty() {
        format!("[{comm}]")
    } else {
        args.join(" ")
    }
}

/// A terminal device number as ps names it: pts/N for the pseudo-terminals (major 136-143),
/// `?` for none.
pub fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match (tty_nr, major) {
        (0, _) => "?".into(),
        (_, 136..=143) => format!("pts/{}", (major - 136) * 256 + minor),
        (_, 4) => format!("tty{minor}"),
        _ => "?".into(),
    }
}

/// hh:mm:ss of CPU time, as ps's TIME.
pub fn cpu_time(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Host-side process clock: ticks per second, boot time and uptime in seconds.
pub struct Clock {
    pub hz: u64,
    pub btime: u64,
    pub uptime: f64,
}

impl Clock {
    fn read() -> Clock {
        // SAFETY: sysconf has no memory effects.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let btime = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
            })
            .unwrap_or(0);
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Clock {
            hz: if hz > 0 { hz as u64 } else { 100 },
            btime,
            uptime,
        }
    }
}

/// One row in TITLES' order.
pub fn row(pid: i32, uid: String, st: &Stat, cmd: String, clock: &Clock) -> Vec<String> {
    let started = st.start_ticks / clock.hz;
    let cpu_secs = st.cpu_ticks / clock.hz;
    let elapsed = (clock.uptime - st.start_ticks as f64 / clock.hz as f64).max(0.0);
    // ps's C: CPU use over the process's life, in percent.
    let c = match elapsed > 0.0 {
        true => ((st.cpu_ticks as f64 / clock.hz as f64) * 100.0 / elapsed) as u64,
        false => 0,
    };
    let at = (clock.btime + started) % 86_400;
    vec![
        uid,
        pid.to_string(),
        st.ppid.to_string(),
        c.to_string(),
        format!("{:02}:{:02}", at / 3600, (at / 60) % 60),
        tty_name(st.tty_nr),
        cpu_time(cpu_secs),
        cmd,
    ]
}

/// uid -> name from a passwd file's text.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, (*f.first()?).to_string()))
        })
        .collect()
}

/// The processes of the container whose cgroup is `cgroup_path`, by pid. A process that
/// exits while it is read is left out.
pub fn list(cgroup_path: &str, res: &ResourceConfig) -> Result<Vec<Vec<String>>> {
    let cg = Cgroup::locate(&Layout::detect()?, cgroup_path, res)?;
    let mut pids = cg.pids();
    pids.sort_unstable();
    let clock = Clock::read();
    // The host's names, as `docker top` (ps on the host) shows them.
    let users = parse_passwd(&std::fs::read_to_string("/etc/passwd").unwrap_or_default());
    let mut rows = Vec::new();
    for pid in pids {
        let dir = format!("/proc/{pid}");
        let Some(st) = std::fs::read_to_string(format!("{dir}/stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        else {
            continue;
        };
        let uid = std::fs::read_to_string(format!("{dir}/status"))
            .ok()
            .and_then(|s| parse_uid(&s));
        let uid = match uid {
            Some(u) => users.get(&u).cloned().unwrap_or_else(|| u.to_string()),
            None => "?".into(),
        };
        let cmd = command_line(
            &std::fs::read(format!("{dir}/cmdline")).unwrap_or_default(),
            &st.comm,
        );
        rows.push(row(pid, uid, &st, cmd, &clock));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (we(ird) name) S 4200 4242 4242 34817 4242 4194560 100 0 0 0 \
                        150 50 0 0 20 0 1 0 360000 1000000 100 18446744073709551615";

    #[test]
    fn parses_stat_past_the_last_paren() {
        let st = parse_stat(STAT).expect("stat");
        assert_eq!(st.comm, "we(ird) name");
        assert_eq!(st.ppid, 4200);
        assert_eq!(st.tty_nr, 34817);
        assert_eq!(st.cpu_ticks, 200);
        assert_eq!(st.start_ticks, 360000);
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S"), None);
    }

    #[test]
    fn row_has_ps_columns() {
        let st = parse_stat(STAT).expect("stat");
        let clock = Clock {
            hz: 100,
            btime: 86_400 * 10 + 3600,
            uptime: 3700.0,
        };
        let r = row(4242, "root".into(), &st, "sleep 1000".into(), &clock);
        // Started 3600 s after a boot at 01:00: 02:00; 2 s of CPU over 100 s of life.
        assert_eq!(
            r,
            [
                "root",
                "4242",
                "4200",
                "2",
                "02:00",
                "pts/1",
                "00:00:02",
                "sleep 1000"
            ]
        );
    }

    #[test]
    fn status_cmdline_tty_and_passwd() {
        assert_eq!(
            parse_uid("Name:\tsh\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"),
            Some(0)
        );
        assert_eq!(parse_uid("Name:\tsh\n"), None);
        assert_eq!(command_line(b"sleep\x001000\x00", "sleep"), "sleep 1000");
        assert_eq!(command_line(b"", "sh"), "[sh]");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(cpu_time(3723), "01:02:03");
        let users =
            parse_passwd("root:x:0:0:root:/root:/bin/sh\nbad\nnobody:x:65534:65534::/:/x\n");
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&65534).map(String::as_str), Some("nobody"));
    }
}
