//! `--dry-run` (a global flag, as in docker compose v2): every command that changes state
//! prints what it would do, prefixed as compose prints it (`DRY-RUN MODE -  Container p-web-1
//! Recreated`), and changes nothing. `up`/`create` ask the daemon for the plan (`UpRequest::
//! dry_run`); the other commands list the containers they would act on.

use super::args::{Cli, Command, ImageCommand};
use super::networks::NetworkCommand;
use super::project;
use super::volumes::VolumeCommand;
use crate::api::Client;
use crate::api::networks::NetworkView;
use crate::api::types::{ContainerView, UpResponse};
use crate::model::Stack;
use anyhow::{Result, bail};

/// compose's prefix of every progress line in dry-run mode.
pub const PREFIX: &str = " DRY-RUN MODE - ";

/// Prints one progress line (`Container NAME  Verb`) as dry-run mode does, on stderr.
pub fn line(text: &str) {
    eprintln!("{PREFIX} {text}");
}

/// `up --dry-run`'s lines for the daemon's plan: what would be created, recreated (and
/// why), started, left running and removed.
pub fn up_lines(resp: &UpResponse, no_start: bool) -> Vec<String> {
    let mut out = Vec::new();
    for r in &resp.actions {
        let c = &r.container;
        // Changed keys read "(changed: environment, image)"; other reasons as they are.
        let (keys, other): (Vec<&String>, Vec<&String>) = r
            .reasons
            .iter()
            .partition(|k| !k.contains(' ') && r.action == "recreated");
        let mut why: Vec<String> = other.iter().map(|s| s.to_string()).collect();
        if !keys.is_empty() {
            let keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
            why.insert(0, format!("changed: {}", keys.join(", ")));
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        };
        match r.action.as_str() {
            "created" => out.push(format!("Container {c}  Created")),
            "recreated" => out.push(format!("Container {c}  Recreated{why}")),
            "removed" => out.push(format!("Container {c}  Removed{why}")),
            "started" => out.push(format!("Container {c}  Started")),
            _ => out.push(format!("Container {c}  Running")),
        }
        if !no_start && matches!(r.action.as_str(), "created" | "recreated") {
            out.push(format!("Container {c}  Started"));
        }
    }
    out
}

/// The networks `up` would create: those (not external) of the services it acts on that do
/// not exist yet, each once, in service order.
pub fn networks_to_create(
    stack: &Stack,
    resp: &UpResponse,
    existing: &[NetworkView],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, svc) in &stack.services {
        if !resp.actions.iter().any(|r| &r.service == name) {
            continue;
        }
        for (_, n) in svc.net.attachments(&stack.name) {
            let def = &n.network;
            if !def.external
                && !existing.iter().any(|e| e.name == def.name)
                && !out.contains(&def.name)
            {
                out.push(def.name.clone());
            }
        }
    }
    out
}

/// Whether `command` changes nothing, so that it runs as usual under `--dry-run`.
fn reads_only(command: &Command) -> bool {
    use Command as C;
    matches!(
        command,
        C::Ps(_)
            | C::Ls(_)
            | C::Top(_)
            | C::Images(_)
            | C::Stats(_)
            | C::Events(_)
            | C::Inspect(_)
            | C::Logs(_)
            | C::Config(_)
            | C::Validate
            | C::Port(_)
            | C::Version
            | C::Info
            | C::Completion(_)
            | C::Man(_)
            | C::Wait(super::lifecycle::WaitArgs {
                down_project: false,
                ..
            })
            | C::Image(ImageCommand::Ls { .. })
            | C::Volume(VolumeCommand::Ls { .. } | VolumeCommand::Inspect { .. })
            | C::Network(NetworkCommand::Ls { .. } | NetworkCommand::Inspect { .. })
    )
}

/// Runs `cli.command` in dry-run mode, except `up` and `create` (the caller sends their
/// request with `dry_run` set) and the commands that change nothing (`None`: run as usual).
pub fn run(cli: &Cli, client: &Client) -> Option<Result<i32>> {
    use Command as C;
    let containers = |services: &[String], states: &[&str], verb: &str| {
        act_on(cli, client, services, states, verb)
    };
    const ANY: &[&str] = &[];
    const UP: &[&str] = &["running", "restarting", "paused"];
    let res = match &cli.command {
        C::Up(_) | C::Create(_) | C::Scale(_) => return None,
        c if reads_only(c) => return None,
        C::Start(a) => containers(&a.services, &["created", "exited", "dead"], "Started"),
        C::Stop(a) => containers(&a.services, UP, "Stopped"),
        C::Restart(a) => containers(&a.services, ANY, "Restarted"),
        C::Kill(a) => containers(&a.services, &["running", "restarting"], "Killed"),
        C::Pause(a) => containers(&a.services, &["running"], "Paused"),
        C::Unpause(a) => containers(&a.services, &["paused"], "Unpaused"),
        C::Rm(a) => {
            let stopped: &[&str] = if a.stop || a.force {
                ANY
            } else {
                &["created", "exited", "dead"]
            };
            containers(&a.services, UP, "Stopped")
                .and_then(|_| containers(&a.services, stopped, "Removed"))
        }
        C::Down(_) => down(cli, client),
        C::Pull(a) => images(cli, &a.services, "Pulled"),
        C::Push(a) => images(cli, &a.services, "Pushed"),
        C::Build(a) => images(cli, &a.services, "Built"),
        C::Volume(VolumeCommand::Create { name, .. }) => named("Volume", [name], "Created"),
        C::Volume(VolumeCommand::Rm { names, .. }) => named("Volume", names, "Removed"),
        C::Network(NetworkCommand::Create { name, .. }) => named("Network", [name], "Created"),
        C::Network(NetworkCommand::Rm { names }) => named("Network", names, "Removed"),
        _ => Err(anyhow::anyhow!(
            "--dry-run is not supported for this command yet: nothing was done; run it without --dry-run"
        )),
    };
    Some(res)
}

/// `volume`/`network` `create` and `rm`: the names given, as the command would report them.
fn named<'a>(kind: &str, names: impl IntoIterator<Item = &'a String>, verb: &str) -> Result<i32> {
    for n in names {
        line(&format!("{kind} {n}  {verb}"));
    }
    Ok(0)
}

/// Prints `Container NAME  verb` for each service container (no one-offs) of `services`
/// (all when empty) in one of `states` (any when empty).
fn act_on(
    cli: &Cli,
    client: &Client,
    services: &[String],
    states: &[&str],
    verb: &str,
) -> Result<i32> {
    for c in project_containers(cli, client)? {
        if !c.one_off
            && (services.is_empty() || services.contains(&c.service))
            && (states.is_empty() || states.contains(&c.state.as_str()))
        {
            line(&format!("Container {}  {verb}", c.name));
        }
    }
    Ok(0)
}

fn project_containers(cli: &Cli, client: &Client) -> Result<Vec<ContainerView>> {
    let p = project::project_name(cli)?;
    let mut rows: Vec<ContainerView> =
        client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// `down`: every container of the project stopped (if running) and removed, then its networks.
fn down(cli: &Cli, client: &Client) -> Result<i32> {
    let rows = project_containers(cli, client)?;
    for c in rows
        .iter()
        .filter(|c| c.state == "running" || c.state == "paused")
    {
        line(&format!("Container {}  Stopped", c.name));
    }
    for c in &rows {
        line(&format!("Container {}  Removed", c.name));
    }
    let p = project::project_name(cli)?;
    let networks: Vec<NetworkView> = client.call::<(), _>("GET", "/v1/networks", None)?;
    for n in networks.iter().filter(|n| n.project == p) {
        line(&format!("Network {}  Removed", n.name));
    }
    Ok(0)
}

/// `pull`/`push`/`build`: the images of `services` (all when empty), each once.
fn images(cli: &Cli, services: &[String], verb: &str) -> Result<i32> {
    let stack = project::load_for(cli, services)?;
    let mut seen: Vec<String> = Vec::new();
    for (name, s) in &stack.services {
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        if verb == "Built" && s.build.is_none() {
            continue;
        }
        let image = if s.image.is_empty() {
            format!("{}-{name}", stack.name)
        } else {
            s.image.clone()
        };
        if !seen.contains(&image) {
            line(&format!("Image {image}  {verb}"));
            seen.push(image);
        }
    }
    if seen.is_empty() && !services.is_empty() {
        bail!("no image to act on for {}", services.join(", "));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::ActionReport;

    fn report(container: &str, action: &str, reasons: &[&str]) -> ActionReport {
        ActionReport {
            container: container.into(),
            service: "web".into(),
            action: action.into(),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn up_lines_say_what_and_why() {
        let resp = UpResponse {
            actions: vec![
                report("p-web-1", "recreated", &["environment", "image"]),
                report("p-db-1", "created", &[]),
                report("p-old-1", "removed", &["orphan"]),
            ],
            warnings: vec![],
        };
        assert_eq!(
            up_lines(&resp, false),
            [
                "Container p-web-1  Recreated (changed: environment, image)",
                "Container p-web-1  Started",
                "Container p-db-1  Created",
                "Container p-db-1  Started",
                "Container p-old-1  Removed (orphan)",
            ]
        );
        assert_eq!(up_lines(&resp, true).len(), 3);
    }
}
