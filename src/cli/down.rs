//! `down`, with compose's `--rmi local|all` (the images the stack used go after its
//! containers) and `--remove-orphans`.

use super::args::{Cli, DownArgs};
use super::project;
use crate::api::images::{RemoveReport, RemoveRequest};
use crate::api::types::{ContainerView, DownRequest, DownResponse, orphan_warning};
use crate::api::{ApiError, Client};
use crate::model::Stack;
use anyhow::Result;
use clap::ValueEnum;

/// `down --rmi`: which images to remove.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Rmi {
    /// Only images that do not have a custom tag (those built for services without `image:`)
    Local,
    /// Every image used by the services
    All,
}

/// What `down` works from: the project, its containers, the images `--rmi` takes and the
/// orphans it keeps (warned about here, as compose does before acting).
struct Prepared {
    project: String,
    rows: Vec<ContainerView>,
    images: Vec<String>,
    request: DownRequest,
}

fn prepare(cli: &Cli, client: &Client, a: &DownArgs) -> Result<Prepared> {
    let p = project::project_name(cli)?;
    let rows: Vec<ContainerView> =
        client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
    // Without a readable stack file, the containers alone say what was used (as compose
    // falls back to their labels): then no container is an orphan.
    let stack = project::load_for(cli, &[]).ok();
    // Chosen before the containers go: afterwards nothing says which images they used.
    let images = match a.rmi {
        Some(rmi) => images_to_remove(rmi, &p, stack.as_ref(), &rows),
        None => Vec::new(),
    };
    let orphans = match stack.as_ref() {
        Some(s) => orphans(s, &rows),
        None => Vec::new(),
    };
    let keep = match a.remove_orphans {
        true => Vec::new(),
        false => orphans,
    };
    if !keep.is_empty() {
        eprintln!("warning: {}", orphan_warning(&keep));
    }
    Ok(Prepared {
        project: p,
        rows,
        images,
        request: DownRequest {
            timeout: a.timeout,
            volumes: a.volumes,
            keep,
            ..Default::default()
        },
    })
}

/// `--dry-run down`: the daemon answers what the same request would remove (orphans kept,
/// the networks they hold in use, `-v` volumes); nothing is stopped or removed.
pub fn dry_run(cli: &Cli, client: &Client, a: &DownArgs) -> Result<i32> {
    let Prepared {
        project: p,
        rows,
        images,
        mut request,
    } = prepare(cli, client, a)?;
    request.dry_run = true;
    // The daemon checks `--rmi`'s images as their removal would after the containers go.
    request.images = images;
    let mut removed: DownResponse =
        client.call("POST", &format!("/v1/projects/{p}/down"), Some(&request))?;
    let images = std::mem::take(&mut removed.images);
    let refused = std::mem::take(&mut removed.images_refused);
    print_removed_with(removed, &rows, super::dry_run::line);
    for image in &images {
        super::dry_run::line(&format!("Image {image}  Removed"));
    }
    // As the real `down`: the refusal said, the others done, failure at the end.
    for (image, e) in &refused {
        eprintln!("error: removing image {image}: {e}");
    }
    Ok(if refused.is_empty() {
        0
    } else {
        super::EXIT_FAILURE
    })
}

pub fn run(cli: &Cli, client: &Client, a: &DownArgs) -> Result<i32> {
    let Prepared {
        project: p,
        rows,
        images,
        request,
    } = prepare(cli, client, a)?;
    let removed: DownResponse =
        client.call("POST", &format!("/v1/projects/{p}/down"), Some(&request))?;
    print_removed(removed, &rows);
    let mut failed = false;
    for image in images {
        let req = RemoveRequest {
            reference: image.clone(),
            force: false,
        };
        match client.call::<_, RemoveReport>("POST", "/v1/images/remove", Some(&req)) {
            Ok(_) => eprintln!("Image {image}  Removed"),
            // As compose: an image already gone is not an error.
            Err(ApiError::Daemon { status: 404, .. }) => {}
            Err(e) => {
                eprintln!("error: removing image {image}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { super::EXIT_FAILURE } else { 0 })
}

/// The project's containers whose service the stack file no longer has, in name order.
pub fn orphans(stack: &Stack, rows: &[ContainerView]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .filter(|c| !stack.services.contains_key(&c.service))
        .map(|c| c.name.clone())
        .collect();
    out.sort();
    out
}

/// The image a service gets when it has `build:` and no `image:` (compose's default name).
fn default_image(project: &str, service: &str) -> String {
    format!("{project}-{service}")
}

/// compose's choice: `all`, every image of the services and of the containers; `local`, only
/// those named by default, i.e. built for a service without `image:`.
pub fn images_to_remove(
    rmi: Rmi,
    project: &str,
    stack: Option<&Stack>,
    rows: &[ContainerView],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |image: &str, service: &str| {
        let local = image == default_image(project, service);
        if !image.is_empty() && (rmi == Rmi::All || local) && !out.iter().any(|i| i == image) {
            out.push(image.to_string());
        }
    };
    if let Some(s) = stack {
        for (name, svc) in &s.services {
            add(&svc.image, name);
        }
    }
    for r in rows {
        add(&r.image, &r.service);
    }
    out
}

/// What a `down` removed, one line each, as compose prints it.
/// A container that was running when the `down` began (`before`) was stopped first:
/// compose's `Stopping`/`Stopped` come before its `Removing`/`Removed`.
pub(super) fn print_removed(removed: DownResponse, before: &[ContainerView]) {
    // A failed pre_stop hook: the stop went on (rstack's choice; compose fails `down`).
    for w in &removed.warnings {
        eprintln!("warning: {w} (the container was stopped anyway)");
    }
    print_removed_with(removed, before, |l| eprintln!("{l}"));
}

fn print_removed_with(removed: DownResponse, before: &[ContainerView], out: impl Fn(&str)) {
    use super::container_events::pair;
    for name in removed.containers {
        let was_up = before.iter().any(|c| {
            c.name == name && matches!(c.state.as_str(), "running" | "restarting" | "paused")
        });
        if was_up {
            for l in pair(&name, "Stopping", "Stopped") {
                out(&l);
            }
        }
        for l in pair(&name, "Removing", "Removed") {
            out(&l);
        }
    }
    for name in removed.networks {
        out(&format!("Network {name}  Removed"));
    }
    // compose's warning event for a network a container still holds.
    for name in removed.networks_in_use {
        out(&format!("Network {name}  Resource is still in use"));
    }
    for name in removed.volumes {
        out(&format!("Volume {name}  Removed"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Service;

    fn row(service: &str, image: &str) -> ContainerView {
        serde_json::from_value(serde_json::json!({
            "id": service, "name": format!("p-{service}-1"), "project": "p", "service": service,
            "state": "exited", "health": null, "pid": null, "exit_code": 0, "oom_killed": false,
            "restarts": 0, "image": image, "started_at": null, "finished_at": null,
            "restart_delay_ms": null, "error": null, "one_off": false,
        }))
        .expect("row")
    }

    #[test]
    fn local_is_the_default_named_images_all_is_every_one() {
        let mut stack = Stack::default();
        for (name, image) in [
            ("web", "p-web"),
            ("db", "busybox:test"),
            ("tagged", "me/app:1"),
        ] {
            stack
                .services
                .insert(name.into(), Service::new(name, image));
        }
        // An orphan's image counts too.
        let rows = [row("old", "p-old"), row("db", "busybox:test")];
        assert_eq!(
            images_to_remove(Rmi::Local, "p", Some(&stack), &rows),
            ["p-web", "p-old"]
        );
        assert_eq!(
            images_to_remove(Rmi::All, "p", Some(&stack), &rows),
            ["p-web", "busybox:test", "me/app:1", "p-old"]
        );
        assert_eq!(images_to_remove(Rmi::Local, "p", None, &rows), ["p-old"]);
    }

    #[test]
    fn orphans_are_the_containers_of_services_the_file_no_longer_has() {
        let mut stack = Stack::default();
        stack
            .services
            .insert("db".into(), Service::new("db", "busybox:test"));
        let rows = [row("zold", "i"), row("db", "i"), row("old", "i")];
        assert_eq!(orphans(&stack, &rows), ["p-old-1", "p-zold-1"]);
        assert!(orphans(&stack, &rows[1..2]).is_empty());
        assert_eq!(
            orphan_warning(&orphans(&stack, &rows)),
            "Found orphan containers ([p-old-1 p-zold-1]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up."
        );
    }
}
