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
    /// The prefixes seen so far (their order picks the colors).
    services: Vec<String>,
    /// The project, whose name (and dash) compose leaves out of the prefix.
    project: Option<String>,
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
            project: None,
            width: services.iter().map(String::len).max().unwrap_or(0),
            color: super::display::ansi(1),
            prefix,
            timestamps,
            only: None,
        }
    }

    /// The project of the containers: their prefix is their name without it (`web-1`).
    pub fn project(mut self, project: &str) -> LogPrinter {
        self.project = Some(project.to_string());
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

    /// The prefix of a line, as compose's: the container's name without the project
    /// (`web-1`), or the whole name when it is a `container_name` of its own.
    fn label(&self, item: &LogLine) -> String {
        prefix_of(self.project.as_deref(), &item.container, &item.service)
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
            // compose pads to one more than the longest name: `web-1  | hello`.
            let name = format!("{service:<w$} | ", w = self.width + 1);
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

/// compose's log prefix of a container: `project-service-N` without `project-`; any other
/// name (a `container_name`) whole. Without the project, a name ending in `-service-N` is
/// taken as the default one.
pub fn prefix_of(project: Option<&str>, container: &str, service: &str) -> String {
    let rest = match project {
        Some(p) => container
            .strip_prefix(p)
            .and_then(|r| r.strip_prefix('-'))
            .unwrap_or(container),
        None => container
            .rfind(&format!("-{service}-"))
            .map_or(container, |at| &container[at + 1..]),
    };
    let default = rest
        .strip_prefix(service)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    match default {
        true => rest.to_string(),
        false => container.to_string(),
    }
}

/// The prefixes of a service's containers in a stack: `service-1`..`service-N`, or its
/// `container_name`.
pub fn prefixes_of(service: &str, container_name: Option<&str>, replicas: u32) -> Vec<String> {
    match container_name {
        Some(c) => vec![c.to_string()],
        None => (1..=replicas.max(1))
            .map(|i| format!("{service}-{i}"))
            .collect(),
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
            command: String::new(),
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
    fn prefixes_are_compose_container_names_without_the_project() {
        let line = |container: &str, service: &str| LogLine {
            container: container.into(),
            service: service.into(),
            stream: "stdout".into(),
            time: String::new(),
            data: "x".into(),
        };
        let p = LogPrinter::new(&[], true, false).project("p");
        assert_eq!(p.label(&line("p-web-2", "web")), "web-2");
        assert_eq!(p.label(&line("p-db-1", "db")), "db-1");
        assert_eq!(p.label(&line("my-db", "db")), "my-db");
        assert_eq!(prefix_of(None, "a-b-web-10", "web"), "web-10");
        assert_eq!(prefix_of(None, "custom", "web"), "custom");
        assert_eq!(prefixes_of("web", None, 2), ["web-1", "web-2"]);
        assert_eq!(prefixes_of("web", Some("w"), 1), ["w"]);
    }
}
