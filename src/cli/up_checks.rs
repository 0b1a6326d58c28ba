//! Checks `up`/`create` make between loading the stack and asking the daemon to act, where
//! the answer depends on the daemon's state but the error belongs at the stack file's key:
//! a `container_name` another project's (or service's) container already has. The daemon
//! checks it again before it starts anything (the truth, if the state changed meanwhile).

use super::locate;
use crate::api::client::Client;
use crate::api::types::ContainerView;
use crate::spec::{Diagnostics, Loaded};
use anyhow::Result;

/// Refuses a `container_name` in use by a container of another project or service, at the
/// key's file:line:col, before anything is created or started.
pub fn container_names(client: &Client, loaded: &Loaded) -> Result<()> {
    let stack = &loaded.stack;
    let wanted: Vec<(&String, &String)> = stack
        .services
        .iter()
        .filter_map(|(svc, s)| s.options.container_name.as_ref().map(|n| (svc, n)))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let list: Vec<ContainerView> = super::commands::autostart(client, || {
        Ok(client.call::<(), _>("GET", "/v1/containers", None)?)
    })?;
    let errors: Vec<_> = wanted
        .into_iter()
        .filter_map(|(svc, name)| {
            let r = clash(&list, name, &stack.name, svc)?;
            Some(locate::error(
                loaded,
                &["services", svc, "container_name"],
                format!(
                    "services.{svc}.container_name: container name \"{name}\" is already in use by service \"{}\" of project \"{}\"",
                    r.service, r.project
                ),
                "choose another container_name, or remove that container first (`rstack rm`, or `rstack down` in its project)",
            ))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(anyhow::Error::new(Diagnostics(errors)))
    }
}

/// A failed `up` whose message names a failed `post_start` hook: each such line gets the
/// hook's file:line:col, and the error says what to do. The container stays running, as
/// compose leaves it.
pub fn place_hook_failures(loaded: &Loaded, e: anyhow::Error) -> anyhow::Error {
    let msg = format!("{e:#}");
    let mut placed = false;
    let lines: Vec<String> = msg
        .lines()
        .map(|line| match hook_of(loaded, line) {
            Some((svc, i)) => {
                placed = true;
                let i = i.to_string();
                let at = locate::at(loaded, &["services", svc, "post_start", &i]);
                format!("{line}{at}")
            }
            None => line.to_string(),
        })
        .collect();
    if !placed {
        return e;
    }
    anyhow::anyhow!(
        "{}\n  = hint: the container was left running with the failed hook's output above; fix the hook (try its command with `rstack exec SERVICE ...`), then run `rstack up` again",
        lines.join("\n")
    )
}

/// The service and index of the `post_start` hook a failure line names
/// (`SERVICE hook exited with status N (container NAME, post_start[I] [...]): ...`, see
/// `reconcile::hooks`).
fn hook_of<'a>(loaded: &'a Loaded, line: &str) -> Option<(&'a String, usize)> {
    let rest = &line[line.find(" hook exited with status ")?..];
    let rest = &rest[rest.find("(container ")? + "(container ".len()..];
    let (name, rest) = rest.split_once(", post_start[")?;
    let i: usize = rest.split_once(']')?.0.parse().ok()?;
    let project = &loaded.stack.name;
    loaded.stack.services.iter().find_map(|(svc, s)| {
        let own = match &s.options.container_name {
            Some(n) => n == name,
            None => name
                .strip_prefix(&format!("{project}-{svc}-"))
                .is_some_and(|n| n.parse::<u32>().is_ok()),
        };
        (own && i < s.post_start.len()).then_some((svc, i))
    })
}

/// The container other than this service's own that is called `name`.
fn clash<'a>(
    list: &'a [ContainerView],
    name: &str,
    project: &str,
    service: &str,
) -> Option<&'a ContainerView> {
    list.iter()
        .find(|r| r.name == name && (r.project != project || r.service != service))
}
