//! `rstack events [--json] [SERVICE...]`: the stack's container events as they happen, in
//! `docker compose events`'s text (`TIME container ACTION ID (k=v, ...)`) or JSON lines.

use super::project;
use crate::api::Client;
use crate::api::events::EventView;
use crate::api::types::ServicesRequest;
use anyhow::{Context, Result};
use clap::Args;
use std::io::{BufRead, Write};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    pub json: bool,
    pub services: Vec<String>,
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
    let req = ServicesRequest {
        services: a.services.clone(),
        ..Default::default()
    };
    let resp = client
        .request("POST", &format!("/v1/projects/{p}/events"), Some(&req))?
        .ok()?;
    let reader = std::io::BufReader::new(resp.into_reader());
    let mut out = std::io::stdout();
    for line in reader.lines() {
        let line = line.context("reading events")?;
        if line.trim().is_empty() {
            continue;
        }
        let e: EventView = serde_json::from_str(&line).context("bad event")?;
        match a.json {
            true => writeln!(out, "{}", serde_json::to_string(&e)?)?,
            false => writeln!(out, "{}", text(&e))?,
        }
        out.flush()?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
