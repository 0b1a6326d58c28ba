//! Terminal output: the `ps` table, status phrases, service-prefixed colored log lines.

use crate::api::types::{ContainerView, LogLine, WARNING_STREAM};
use std::io::Write;

pub fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// "3 seconds", "2 minutes", "1 hour" like docker's human durations.
pub fn human(ms: u64) -> String {
    let s = ms / 1000;
    let (n, unit) = match s {
        0 => return "less than a second".into(),
        1..=59 => (s, "second"),
        60..=3599 => (s / 60, "minute"),
        3600..=86399 => (s / 3600, "hour"),
        _ => (s / 86400, "day"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The STATUS column: "Up 5 seconds (healthy)", "Exited (137) 3 seconds ago (OOM killed)".
pub fn status(c: &ContainerView, now: u64) -> String {
    let since = |t: Option<u64>| human(now.saturating_sub(t.unwrap_or(now)));
    let health = match (c.health.as_deref(), c.health_output.as_deref()) {
        (Some(h), Some(why)) => format!(" ({h}: {})", shorten(why, REASON_CHARS)),
        (Some(h), None) => format!(" ({h})"),
        _ => String::new(),
    };
    let code = c.exit_code.unwrap_or(0);
    match c.state.as_str() {
        "running" => format!("Up {}{health}", since(c.started_at)),
        // As docker: a paused container is still up.
        "paused" => format!("Up {} (Paused)", since(c.started_at)),
        "restarting" => {
            let delay = c
                .restart_delay_ms
                .map(|d| format!(", retry in {d}ms"))
                .unwrap_or_default();
            format!("Restarting ({code}){delay}")
        }
        "exited" => {
            let oom = if c.oom_killed { " (OOM killed)" } else { "" };
            let err = match &c.error {
                Some(e) => format!(": {e}"),
                None => String::new(),
            };
            format!("Exited ({code}) {} ago{oom}{err}", since(c.finished_at))
        }
        other => {
            let mut s = other.to_string();
            if let Some(first) = s.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            s
        }
    }
}

/// The PORTS column: `0.0.0.0:8080->80/tcp, 53/udp`, as Docker.
pub fn ports(c: &ContainerView) -> String {
    let list: Vec<String> = c.ports.iter().map(|p| p.text()).collect();
    list.join(", ")
}

/// How much of an unhealthy container's last probe output the STATUS column shows.
const REASON_CHARS: usize = 40;

/// `s` cut to `max` characters, "..." marking the cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let kept: String = s.chars().take(max.saturating_sub(3)).collect();
    format!("{}...", kept.trim_end())
}

pub fn print_table(rows: &[ContainerView]) {
    let now = now_ms();
    let header = [
        "NAME", "SERVICE", "STATUS", "PID", "RESTARTS", "IMAGE", "PORTS",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|c| {
            [
                c.name.clone(),
                c.service.clone(),
                status(c, now),
                c.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                c.restarts.to_string(),
                c.image.clone(),
                ports(c),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |out: &mut dyn Write, row: &[&str]| {
        let mut s = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&mut out, &header);
    for row in &cells {
        let r: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&mut out, &r);
    }
}

const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Prints stream items as `service  | line`, one color per service; a service with several
/// replicas as `service-N  | line`, one color per replica (as compose).
pub struct LogPrinter {
    services: Vec<String>,
    /// Services running more than one container: their lines name the replica.
    scaled: std::collections::HashSet<String>,
    width: usize,
    color: bool,
    pub prefix: bool,
    pub timestamps: bool,
    /// Services whose lines are printed; `None`: all.
    only: Option<std::collections::HashSet<String>>,
}

impl LogPrinter {
    pub fn new(services: &[String], prefix: bool, timestamps: bool) -> LogPrinter {
        LogPrinter {
            services: services.to_vec(),
            scaled: Default::default(),
            width: services.iter().map(String::len).max().unwrap_or(0),
            color: super::display::ansi(1),
            prefix,
            timestamps,
            only: None,
        }
    }

    /// Names the replica in the prefix of these services' lines (`web-2 | ...`).
    pub fn scaled(mut self, services: impl IntoIterator<Item = String>) -> LogPrinter {
        self.scaled.extend(services);
        self
    }

    /// Prints only these services' lines (attached `up`'s `--attach`/`--no-attach`).
    pub fn only(mut self, services: impl IntoIterator<Item = String>) -> LogPrinter {
        self.only = Some(services.into_iter().collect());
        self
    }

    /// Colors only when asked and printing to a terminal (`--no-color` turns them off).
    pub fn color(mut self, on: bool) -> LogPrinter {
        self.color &= on;
        self
    }

    /// The prefix of a line: its service, or `service-N` for a scaled one.
    fn label(&self, item: &LogLine) -> String {
        let number = item.container.rsplit('-').next().unwrap_or_default();
        if self.scaled.contains(&item.service) && number.parse::<u32>().is_ok() {
            format!("{}-{number}", item.service)
        } else {
            item.service.clone()
        }
    }

    pub fn print(&mut self, item: &LogLine) {
        if self
            .only
            .as_ref()
            .is_some_and(|o| !o.contains(&item.service))
        {
            return;
        }
        if item.stream == WARNING_STREAM {
            // As compose when a container's driver keeps no log.
            eprintln!(
                "WARN Can't retrieve logs for \"{}\": {}",
                item.container, item.data
            );
            return;
        }
        let service = &self.label(item);
        let LogLine {
            stream, time, data, ..
        } = item;
        let idx = match self.services.iter().position(|s| s == service) {
            Some(i) => i,
            None => {
                self.services.push(service.clone());
                self.width = self.width.max(service.len());
                self.services.len() - 1
            }
        };
        let mut line = String::new();
        if self.prefix {
            let name = format!("{service:<w$} | ", w = self.width);
            if self.color {
                line.push_str(&format!(
                    "\x1b[{}m{name}\x1b[0m",
                    COLORS[idx % COLORS.len()]
                ));
            } else {
                line.push_str(&name);
            }
        }
        if self.timestamps {
            line.push_str(time);
            line.push(' ');
        }
        line.push_str(data);
        if !line.ends_with('\n') {
            line.push('\n');
        }
        let _ = if stream == "stderr" && !self.prefix {
            std::io::stderr().write_all(line.as_bytes())
        } else {
            let r = std::io::stdout().write_all(line.as_bytes());
            super::broken_pipe::check(r);
            Ok(())
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(state: &str) -> ContainerView {
        ContainerView {
            id: "x".into(),
            name: "p-a-1".into(),
            project: "p".into(),
            service: "a".into(),
            state: state.into(),
            health: None,
            health_output: None,
            pid: None,
            exit_code: Some(137),
            oom_killed: true,
            restarts: 0,
            image: "busybox".into(),
            started_at: Some(1_000),
            finished_at: Some(4_000),
            restart_delay_ms: Some(400),
            error: None,
            one_off: false,
            ports: Vec::new(),
            labels: Default::default(),
        }
    }

    #[test]
    fn statuses_read_like_docker() {
        let mut v = view("running");
        v.health = Some("healthy".into());
        assert_eq!(status(&v, 6_000), "Up 5 seconds (healthy)");
        assert_eq!(status(&view("paused"), 6_000), "Up 5 seconds (Paused)");
        v.health = Some("unhealthy".into());
        v.health_output =
            Some("Could not connect to Redis at 127.0.0.1:6379: Connection refused".into());
        assert_eq!(
            status(&v, 6_000),
            "Up 5 seconds (unhealthy: Could not connect to Redis at 127.0.0...)"
        );
        assert_eq!(
            status(&view("exited"), 6_000),
            "Exited (137) 2 seconds ago (OOM killed)"
        );
        assert_eq!(
            status(&view("restarting"), 6_000),
            "Restarting (137), retry in 400ms"
        );
        assert_eq!(status(&view("created"), 6_000), "Created");
        assert_eq!(human(61_000), "1 minute");
    }

    #[test]
    fn scaled_services_name_the_replica_in_the_prefix() {
        let line = |container: &str, service: &str| LogLine {
            container: container.into(),
            service: service.into(),
            stream: "stdout".into(),
            time: String::new(),
            data: "x".into(),
        };
        let p = LogPrinter::new(&[], true, false).scaled(["web".to_string()]);
        assert_eq!(p.label(&line("p-web-2", "web")), "web-2");
        assert_eq!(p.label(&line("p-db-1", "db")), "db");
    }
}
