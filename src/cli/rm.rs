//! `rstack rm [-f] [-s] [-v] [SERVICE...]`: removes the stack's stopped service containers,
//! asking first as `docker compose rm` does.
//!
//! Without a terminal on stdin compose does not draw its prompt: it prints the question and
//! reads one line, so `echo y | rstack rm` confirms and end of input (stdin /dev/null)
//! declines. Never a wait on a prompt nobody can answer.

use super::output::is_tty;
use super::project;
use crate::api::Client;
use crate::api::rm::RmRequest;
use crate::api::types::{ContainerView, ServicesRequest};
use anyhow::Result;
use clap::Args;
use std::io::{BufRead, Write};

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

/// The containers `rm` would take: the service containers (no one-offs) not running,
/// starting or restarting, of the named services (all when none), in name order.
pub fn stopped(rows: &[ContainerView], services: &[String]) -> Vec<String> {
    let mut names: Vec<String> = rows
        .iter()
        .filter(|c| !c.one_off && matches!(c.state.as_str(), "created" | "exited" | "dead"))
        .filter(|c| services.is_empty() || services.contains(&c.service))
        .map(|c| c.name.clone())
        .collect();
    names.sort();
    names
}

/// An answer to the confirmation as compose reads it: y/yes/true/1 (any case) say yes.
pub fn yes(answer: &str) -> bool {
    matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "true" | "t" | "1"
    )
}

/// Asks `question` on stdout and reads one line of stdin (end of input: no).
fn confirm(question: &str) -> bool {
    let mut out = std::io::stdout();
    match is_tty(0) {
        true => print!("? {question} (y/N) "),
        false => print!("{question}"),
    }
    let _ = out.flush();
    let mut line = String::new();
    let got = std::io::stdin().lock().read_line(&mut line).unwrap_or(0);
    if !is_tty(0) {
        println!();
    }
    got > 0 && yes(&line)
}

pub fn run(cli: &super::args::Cli, client: &Client, a: &RmArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    if a.stop {
        let req = ServicesRequest {
            services: a.services.clone(),
            ..Default::default()
        };
        let _: serde_json::Value =
            client.call("POST", &format!("/v1/projects/{p}/stop"), Some(&req))?;
    }
    let rows: Vec<ContainerView> =
        client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
    let names = stopped(&rows, &a.services);
    if names.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    let question = format!("Going to remove {}", names.join(", "));
    if a.force {
        println!("{question}");
    } else if !confirm(&question) {
        return Ok(0);
    }
    let removed: Vec<String> = client.call(
        "POST",
        &format!("/v1/projects/{p}/rm"),
        Some(&RmRequest {
            services: a.services.clone(),
            containers: names,
            volumes: a.volumes,
        }),
    )?;
    for name in removed {
        eprintln!("Container {name}  Removed");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, service: &str, state: &str, one_off: bool) -> ContainerView {
        serde_json::from_value(serde_json::json!({
            "id": "x", "name": name, "project": "p", "service": service, "state": state,
            "restarts": 0, "image": "i", "oom_killed": false, "one_off": one_off
        }))
        .expect("view")
    }

    #[test]
    fn takes_only_stopped_service_containers() {
        let rows = [
            c("p-b-1", "b", "exited", false),
            c("p-a-1", "a", "created", false),
            c("p-a-2", "a", "running", false),
            c("p-a-run-1", "a", "exited", true),
            c("p-c-1", "c", "paused", false),
            c("p-d-1", "d", "restarting", false),
            c("p-e-1", "e", "dead", false),
        ];
        assert_eq!(stopped(&rows, &[]), ["p-a-1", "p-b-1", "p-e-1"]);
        assert_eq!(stopped(&rows, &["a".to_string()]), ["p-a-1"]);
    }

    #[test]
    fn reads_answers_as_compose() {
        assert!(yes("y\n") && yes("YES") && yes("true") && yes(" 1 "));
        assert!(!yes("") && !yes("n") && !yes("no") && !yes("maybe"));
    }
}
