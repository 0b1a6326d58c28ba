//! `ps --format json` as docker compose v2 prints it: one JSON object per container and
//! line, with compose's keys (those of its container formatter, in Go's sorted order) and
//! shapes: strings for `Ports`, `Labels`, `Mounts`, `Networks`, `Command` quoted,
//! `Publishers` as objects, `ExitCode` a number, `Health` empty without a healthcheck. As
//! compose, the ID and the command are cut short unless `--no-trunc`.

use super::output::{human, ports, status};
use crate::api::types::ContainerView;
use serde_json::{Value, json};

/// One container's line. `now` in unix ms (for `RunningFor` and `Status`).
pub fn row(c: &ContainerView, now: u64, trunc: bool) -> Value {
    let id = match trunc {
        true => c.id.chars().take(12).collect(),
        false => c.id.clone(),
    };
    let command = match trunc {
        true => ellipsis(&c.command, 20),
        false => c.command.clone(),
    };
    // rstack keeps no creation time: the last start stands for it (0 before any start,
    // as compose shows a zero time).
    let created_ms = c.started_at.unwrap_or(0);
    let publishers: Vec<Value> = c
        .ports
        .iter()
        .map(|p| {
            json!({
                "URL": p.host_ip.clone().unwrap_or_default(),
                "TargetPort": p.target,
                "PublishedPort": p.host_port.unwrap_or(0),
                "Protocol": p.protocol,
            })
        })
        .collect();
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "Command": serde_json::to_string(&command).unwrap_or_default(),
        "CreatedAt": go_time(created_ms),
        "ExitCode": c.exit_code.unwrap_or(0),
        "Health": c.health.clone().unwrap_or_default(),
        "ID": id,
        "Image": c.image,
        "Labels": labels.join(","),
        "LocalVolumes": "0",
        "Mounts": "",
        "Name": c.name,
        "Names": c.name,
        "Networks": "",
        "Ports": ports(c),
        "Project": c.project,
        "Publishers": publishers,
        "RunningFor": format!("{} ago", human(now.saturating_sub(created_ms))),
        "Service": c.service,
        "Size": "0B",
        "State": c.state,
        "Status": status(c, now),
    })
}

/// Go's `time.Time.String()` of a unix ms time in UTC: `2026-12-06 22:11:00 +0000 UTC`.
fn go_time(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let s = crate::runtime::log::rfc3339_nanos(t);
    match (s.get(..10), s.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time} +0000 UTC"),
        _ => s,
    }
}

/// docker's `Ellipsis`: at most `max` characters, the last one `…` when cut.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::networks::PortView;

    #[test]
    fn rows_have_composes_keys_and_shapes() {
        let c = ContainerView {
            id: "0123456789abcdef".into(),
            name: "p-web-1".into(),
            project: "p".into(),
            service: "web".into(),
            state: "exited".into(),
            health: None,
            health_output: None,
            pid: None,
            exit_code: Some(3),
            oom_killed: false,
            restarts: 0,
            image: "busybox".into(),
            started_at: Some(1_000),
            finished_at: Some(4_000),
            restart_delay_ms: None,
            error: None,
            one_off: false,
            ports: vec![PortView {
                host_ip: Some("0.0.0.0".into()),
                host_port: Some(8080),
                target: 80,
                protocol: "tcp".into(),
            }],
            labels: [("a".to_string(), "1".to_string())].into(),
            command: "sh -c echo hello world; sleep 1000".into(),
        };
        let r = row(&c, 6_000, true);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Command"], "\"sh -c echo hello wo…\"");
        assert_eq!(r["ExitCode"], 3);
        assert_eq!(r["Health"], "");
        assert_eq!(r["State"], "exited");
        assert_eq!(r["Status"], "Exited (3) 2 seconds ago");
        assert_eq!(r["Labels"], "a=1");
        assert_eq!(r["Ports"], "0.0.0.0:8080->80/tcp");
        assert_eq!(
            r["Publishers"],
            json!([{"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"}])
        );
        assert_eq!(r["CreatedAt"], "1970-01-01 00:00:01 +0000 UTC");
        assert_eq!(r["RunningFor"], "5 seconds ago");
        assert_eq!(row(&c, 6_000, false)["ID"], "0123456789abcdef");
        // Go's map order: the keys sorted.
        let text = serde_json::to_string(&r).expect("json");
        assert!(text.starts_with("{\"Command\":"), "{text}");
    }
}
