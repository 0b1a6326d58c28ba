//! `--dry-run` (a global flag, as in docker compose v2): every command that changes state
//! prints what it would do, prefixed as compose prints it (`DRY-RUN MODE -  Container p-web-1
//! Recreated`), and changes nothing. `up`/`create` ask the daemon for the plan (`UpRequest::
//! dry_run`); the other commands list the containers they would act on, and the prunes ask
//! the daemon what they would remove (their requests' `dry_run`). Commands that change no
//! state run as usual; those that only make sense interactively (`exec`, `attach`, `watch`)
//! and the daemon itself refuse, as compose refuses interactive exec and attach.

use super::args::{Cli, Command, ImageCommand, RunArgs};
use super::networks::NetworkCommand;
use super::project;
use super::sync::SyncCommand;
use super::volumes::VolumeCommand;
use crate::api::Client;
use crate::api::networks::NetworkView;
use crate::api::types::{ActionReport, ContainerView, UpAnswer, UpRequest, UpResponse};
use crate::api::volumes::VolumeNamesRequest;
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
            | C::Export(_)
            | C::Image(
                ImageCommand::Ls { .. }
                    | ImageCommand::Inspect { .. }
                    | ImageCommand::History { .. }
                    | ImageCommand::Save { .. }
                    | ImageCommand::Search { .. }
            )
            | C::Sync(SyncCommand::Ls { .. } | SyncCommand::Status { .. })
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
        C::Down(a) => super::down::dry_run(cli, client, a),
        C::Pull(a) => super::registry_dry::services(cli, client, &a.services, false),
        C::Push(a) => super::registry_dry::services(cli, client, &a.services, true),
        C::Build(a) => images(cli, &a.services, "Built"),
        C::Volume(VolumeCommand::Create { name, .. }) => named("Volume", [name], "Created"),
        // The daemon checks what the real removal checks (exists, not in use) and removes nothing.
        C::Volume(VolumeCommand::Rm { names, .. }) => {
            let req = VolumeNamesRequest {
                names: names.clone(),
                dry_run: true,
                ..Default::default()
            };
            client
                .call::<_, Vec<String>>("POST", "/v1/volumes/remove", Some(&req))
                .map_err(Into::into)
                .and_then(|v| named("Volume", &v, "Removed"))
        }
        C::Network(NetworkCommand::Create { name, .. }) => named("Network", [name], "Created"),
        C::Network(NetworkCommand::Rm { names }) => {
            let req = crate::api::networks::NetworkNamesRequest {
                names: names.clone(),
            };
            client
                .call::<_, Vec<String>>("POST", "/v1/networks/remove?dry_run=true", Some(&req))
                .map_err(Into::into)
                .and_then(|v| named("Network", &v, "Removed"))
        }
        C::Volume(VolumeCommand::Prune { all, .. }) => {
            let req = VolumeNamesRequest {
                all: *all,
                dry_run: true,
                ..Default::default()
            };
            client
                .call::<_, Vec<String>>("POST", "/v1/volumes/prune", Some(&req))
                .map_err(Into::into)
                .and_then(|v| named("Volume", &v, "Removed"))
        }
        C::Network(NetworkCommand::Prune { .. }) => client
            .call::<(), Vec<String>>("POST", "/v1/networks/prune?dry_run=true", None)
            .map_err(Into::into)
            .and_then(|v| named("Network", &v, "Removed")),
        C::Image(c) => image(client, c),
        C::Wait(_) => project::project_name(cli).and_then(|p| down(client, &p)),
        C::Run(a) => run_oneoff(cli, client, a),
        C::Cp(a) => cp(cli, client, a),
        C::Sync(c) => sync(client, c),
        C::Login(a) => named(
            "Registry",
            [&a.registry.clone().unwrap_or_else(|| "docker.io".into())],
            "Logged in (credentials not checked, not saved)",
        ),
        C::Logout { registry } => named(
            "Registry",
            [&registry.clone().unwrap_or_else(|| "docker.io".into())],
            "Logged out (credentials kept)",
        ),
        C::Exec(_) => refuse("interactive exec", "it runs the command for real"),
        C::Attach(_) => refuse(
            "interactive attach",
            "it connects to the container's process",
        ),
        C::Watch(_) => refuse(
            "watch",
            "it acts on file changes as they come; `rstack --dry-run up` shows what it would start",
        ),
        C::Daemon(_) => refuse(
            "the daemon",
            "it serves requests and changes state by design",
        ),
        // A command added later without a dry run refuses rather than act.
        _ => Err(anyhow::anyhow!(
            "--dry-run is not supported for this command yet: nothing was done; run it without --dry-run"
        )),
    };
    Some(res)
}

/// compose's answer for what cannot run in dry-run mode (interactive exec and attach).
fn refuse(what: &str, why: &str) -> Result<i32> {
    bail!(
        "{what} is not supported in dry-run mode ({why}): nothing was done; run it without --dry-run"
    )
}

/// The `image` subcommands that change the store: checked (the images named exist, the file
/// is readable) and said, not done.
fn image(client: &Client, c: &ImageCommand) -> Result<i32> {
    use crate::api::images::{PruneReport, RefsRequest};
    let exists = |names: &[String]| -> Result<()> {
        let req = RefsRequest {
            references: names.to_vec(),
        };
        client.call::<_, serde_json::Value>("POST", "/v1/images/inspect", Some(&req))?;
        Ok(())
    };
    match c {
        // Each name checked by the daemon as the real removal checks it (found, not used by a
        // container unless forced); as the real one, it goes on and fails at the end.
        ImageCommand::Rm { names, force } => {
            use crate::api::images::{RemoveReport, RemoveRequest};
            let mut failed = false;
            for name in names {
                let req = RemoveRequest {
                    reference: name.clone(),
                    force: *force,
                };
                match client.call::<_, RemoveReport>(
                    "POST",
                    "/v1/images/remove?dry_run=true",
                    Some(&req),
                ) {
                    Ok(_) => line(&format!("Image {name}  Removed")),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            Ok(if failed { super::EXIT_FAILURE } else { 0 })
        }
        ImageCommand::Tag { source, target } => {
            exists(std::slice::from_ref(source))?;
            named("Image", [target], &format!("Tagged (from {source})"))
        }
        ImageCommand::Prune { all } => {
            let r: PruneReport = client.call(
                "POST",
                "/v1/images/prune",
                Some(&serde_json::json!({ "all": all, "dry_run": true })),
            )?;
            let refs: Vec<String> = r.deleted.into_iter().map(|(r, _)| r).collect();
            named("Image", &refs, "Removed")
        }
        ImageCommand::Import { file, name } => {
            readable(file)?;
            named(
                "Image",
                [name],
                &format!("Imported (from {})", file.display()),
            )
        }
        ImageCommand::Load { input } => {
            let from = match input {
                Some(f) => {
                    readable(f)?;
                    f.display().to_string()
                }
                None => "stdin".to_string(),
            };
            line(&format!("Images of {from}  Loaded"));
            Ok(0)
        }
        ImageCommand::Pull { reference } => {
            super::registry_dry::check(client, reference, None, false)
        }
        ImageCommand::Push { reference } => {
            exists(std::slice::from_ref(reference))?;
            super::registry_dry::check(client, reference, None, true)
        }
        ImageCommand::Build(b) => {
            if b.tags.is_empty() {
                line("Image <none>  Built");
                Ok(0)
            } else {
                named("Image", &b.tags, "Built")
            }
        }
        // Read-only ones run as usual (reads_only); nothing else is left.
        _ => Ok(0),
    }
}

fn readable(file: &std::path::Path) -> Result<()> {
    std::fs::File::open(file)
        .map(drop)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))
}

/// `run`: the dependencies' plan (the daemon's, as for `up`), then the one-off container.
fn run_oneoff(cli: &Cli, client: &Client, a: &RunArgs) -> Result<i32> {
    let stack = project::load_to_run(cli, std::slice::from_ref(&a.service))?;
    let deps: Vec<String> = match stack.services.get(&a.service) {
        Some(s) if !a.no_deps => s.depends_on.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut resp = if deps.is_empty() {
        UpResponse {
            actions: Vec::new(),
            warnings: Vec::new(),
        }
    } else {
        let req = UpRequest {
            stack: stack.clone(),
            services: deps,
            dry_run: true,
            ..Default::default()
        };
        let path = format!("/v1/projects/{}/up", stack.name);
        let answer: UpAnswer =
            super::commands::autostart(client, || Ok(client.call("POST", &path, Some(&req))?))?;
        answer.response
    };
    resp.actions.push(ActionReport {
        container: run_name(&stack.name, &a.service),
        service: a.service.clone(),
        action: "created".into(),
        reasons: Vec::new(),
    });
    let existing: Vec<NetworkView> = client.call::<(), _>("GET", "/v1/networks", None)?;
    for n in networks_to_create(&stack, &resp, &existing) {
        line(&format!("Network {n}  Created"));
    }
    for l in up_lines(&resp, false) {
        line(&l);
    }
    Ok(0)
}

/// A one-off container's name, as the daemon makes it: `P-S-run-` and 12 hex digits.
fn run_name(project: &str, service: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let id = format!("{:012x}", nanos ^ u128::from(std::process::id()) << 40);
    format!("{project}-{service}-run-{}", &id[id.len() - 12..])
}

/// `cp`: the copy said once its container is found (compose's `Copy SRC to DST`).
fn cp(cli: &Cli, client: &Client, a: &super::cp::CpArgs) -> Result<i32> {
    let side =
        super::cp::container_side(&a.source).or_else(|| super::cp::container_side(&a.destination));
    let Some((service, _)) = side else {
        bail!(
            "one of {} and {} must be SERVICE:PATH",
            a.source,
            a.destination
        );
    };
    let index = a.index.unwrap_or(1);
    let found = project_containers(cli, client)?.into_iter().any(|c| {
        !c.one_off
            && c.service == service
            && super::replica::number(&c.name, &c.project, &c.service) == index
    });
    if !found {
        bail!("no container found for service \"{service}\" (index {index})");
    }
    line(&format!("Copy {} to {}", a.source, a.destination));
    Ok(0)
}

/// `sync`: the source checked (it exists, but for `add`) and what would happen to it said.
fn sync(client: &Client, c: &SyncCommand) -> Result<i32> {
    use crate::source::status::SourceView;
    let get = |name: &str| -> Result<SourceView> {
        Ok(client.call::<(), _>("GET", &format!("/v1/sources/{name}"), None)?)
    };
    match c {
        SyncCommand::Add(a) => {
            // The daemon checks what the real add would (and fetches, loads, resolves).
            let spec = super::sync::spec_of(a)?;
            super::connect::ensure_daemon(client)?;
            let lines: Vec<String> =
                client.call("POST", "/v1/sources?dry_run=true", Some(&spec))?;
            for l in &lines {
                line(l);
            }
            Ok(0)
        }
        SyncCommand::Now { name } => get(name).and_then(|_| named("Source", [name], "Applied")),
        SyncCommand::Suspend { name } => {
            get(name).and_then(|_| named("Source", [name], "Suspended"))
        }
        SyncCommand::Resume { name } => get(name).and_then(|_| named("Source", [name], "Resumed")),
        SyncCommand::Rollback { name, revision } => get(name).and_then(|_| {
            let to = revision.as_deref().unwrap_or("the previous revision");
            named("Source", [name], &format!("Rolled back to {to}, suspended"))
        }),
        SyncCommand::Rm { name, keep_stack } => {
            let v = get(name)?;
            if !keep_stack {
                let p = v
                    .spec
                    .project
                    .clone()
                    .unwrap_or_else(|| v.spec.name.clone());
                down(client, &p)?;
            }
            named("Source", [name], "Removed")
        }
        SyncCommand::Ls { .. } | SyncCommand::Status { .. } => Ok(0),
    }
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
    containers_of(client, &project::project_name(cli)?)
}

fn containers_of(client: &Client, p: &str) -> Result<Vec<ContainerView>> {
    let mut rows: Vec<ContainerView> =
        client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// `down`: every container of project `p` stopped (if running) and removed, then its networks.
fn down(client: &Client, p: &str) -> Result<i32> {
    let rows = containers_of(client, p)?;
    for c in rows
        .iter()
        .filter(|c| c.state == "running" || c.state == "paused")
    {
        line(&format!("Container {}  Stopped", c.name));
    }
    for c in &rows {
        line(&format!("Container {}  Removed", c.name));
    }
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

    #[test]
    fn run_names_look_like_the_daemons() {
        let n = run_name("p", "web");
        let id = n.strip_prefix("p-web-run-").expect("prefix");
        assert_eq!(id.len(), 12);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{n}");
    }
}
