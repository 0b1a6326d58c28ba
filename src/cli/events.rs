//! `rstack events [--json] [--since T] [--until T] [SERVICE...]`: the stack's container
//! events as they happen, in `docker compose events`'s text (`TIME container ACTION ID
//! (k=v, ...)`) or JSON lines.
//!
//! The daemon keeps no event log, so `--since` replays what its records still know: each
//! container's last `start` and last `die` at or after that time (not earlier restarts,
//! creations or removals), oldest first, then the live stream follows. `--until` ends the
//! command at that time (at once, after the replay, when it is past), as docker does.

use super::project;
use crate::api::Client;
use crate::api::events::EventView;
use crate::api::types::ContainerView;
use crate::api::types::ServicesRequest;
use anyhow::{Context, Result};
use clap::Args;
use std::io::{BufRead, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    pub json: bool,
    /// Show all events created since timestamp (the last start and exit of each container
    /// the daemon knows: it keeps no event log), then follow
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    pub services: Vec<String>,
}

/// The events the records still show: each container's last start and exit within
/// [since, until], oldest first.
pub fn replay(
    rows: &[ContainerView],
    services: &[String],
    since: SystemTime,
    until: Option<SystemTime>,
) -> Vec<EventView> {
    let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
    let within = |t: SystemTime| t >= since && until.is_none_or(|u| t <= u);
    let mut out: Vec<(SystemTime, EventView)> = Vec::new();
    for c in rows
        .iter()
        .filter(|c| services.is_empty() || services.contains(&c.service))
    {
        let event = |action: &str, t: SystemTime| {
            let mut attributes = std::collections::BTreeMap::new();
            attributes.insert("image".to_string(), c.image.clone());
            attributes.insert("name".to_string(), c.name.clone());
            if action == "die"
                && let Some(code) = c.exit_code
            {
                attributes.insert("exitCode".to_string(), code.to_string());
            }
            EventView {
                time: crate::api::logs::log_time(t),
                kind: "container".to_string(),
                action: action.to_string(),
                id: c.id.clone(),
                service: c.service.clone(),
                attributes,
            }
        };
        if let Some(t) = c.started_at.map(at).filter(|t| within(*t)) {
            out.push((t, event("start", t)));
        }
        if let Some(t) = c.finished_at.map(at).filter(|t| within(*t)) {
            out.push((t, event("die", t)));
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out.into_iter().map(|(_, e)| e).collect()
}

fn print(out: &mut impl Write, e: &EventView, json: bool) -> Result<()> {
    match json {
        true => writeln!(out, "{}", serde_json::to_string(e)?)?,
        false => writeln!(out, "{}", text(e))?,
    }
    Ok(out.flush()?)
}

/// Compose's text line for an event.
pub fn text(e: &EventView) -> String {
    let attrs: Vec<String> = e
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{} {} {} {} ({})",
        e.time,
        e.kind,
        e.action,
        e.id,
        attrs.join(", ")
    )
}

pub fn run(cli: &super::args::Cli, client: &Client, a: &EventsArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    let now = SystemTime::now();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<SystemTime>> {
        v.as_deref()
            .map(|v| super::log_time::parse_time(flag, v, now))
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    let since = time("--since", &a.since)?;
    let until = time("--until", &a.until)?;
    let mut out = std::io::stdout();
    if let Some(since) = since {
        let rows: Vec<ContainerView> =
            client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
        for e in replay(&rows, &a.services, since, until) {
            print(&mut out, &e, a.json)?;
        }
    }
    if let Some(u) = until {
        // Ends the stream at `until`, events or not; a past one ends it now.
        match u.duration_since(SystemTime::now()) {
            Ok(left) => {
                std::thread::spawn(move || {
                    std::thread::sleep(left);
                    std::process::exit(0);
                });
            }
            Err(_) => return Ok(0),
        }
    }
    let req = ServicesRequest {
        services: a.services.clone(),
        ..Default::default()
    };
    let resp = client
        .request("POST", &format!("/v1/projects/{p}/events"), Some(&req))?
        .ok()?;
    let reader = std::io::BufReader::new(resp.into_reader());
    let end = until.map(crate::api::logs::log_time);
    for line in reader.lines() {
        let line = line.context("reading events")?;
        if line.trim().is_empty() {
            continue;
        }
        let e: EventView = serde_json::from_str(&line).context("bad event")?;
        // Both times are in the logs' format, which compares as text.
        if end.as_ref().is_some_and(|end| e.time > *end) {
            return Ok(0);
        }
        print(&mut out, &e, a.json)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_orders_the_known_starts_and_exits_within_the_window() {
        let c: ContainerView = serde_json::from_value(serde_json::json!({
            "id": "c1", "name": "p-web-1", "project": "p", "service": "web",
            "state": "exited", "health": null, "pid": null, "exit_code": 3,
            "oom_killed": false, "restarts": 0, "image": "busybox",
            "started_at": 2000, "finished_at": 5000, "restart_delay_ms": null,
            "error": null, "one_off": false
        }))
        .unwrap();
        let t = |ms| UNIX_EPOCH + Duration::from_millis(ms);
        let all = replay(std::slice::from_ref(&c), &[], t(1000), None);
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["start", "die"]);
        assert_eq!(all[1].attributes["exitCode"], "3");
        assert_eq!(
            replay(std::slice::from_ref(&c), &[], t(3000), None).len(),
            1
        );
        assert!(replay(std::slice::from_ref(&c), &[], t(1000), Some(t(1500))).is_empty());
        assert!(replay(&[c], &["db".into()], t(0), None).is_empty());
    }

    #[test]
    fn text_is_composes() {
        let e = EventView {
            time: "2024-01-01T00:00:00.000000000Z".into(),
            kind: "container".into(),
            action: "start".into(),
            id: "abc".into(),
            service: "web".into(),
            attributes: [("name", "p-web-1"), ("image", "busybox")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(
            text(&e),
            "2024-01-01T00:00:00.000000000Z container start abc (image=busybox, name=p-web-1)"
        );
    }
}
