//! `create` (containers made, not started) and `wait` (block until services stop), as
//! docker compose v2 has them.

use super::args::{Cli, PullFlag, UpArgs};
use super::project;
use crate::api::Client;
use crate::api::types::{DownRequest, DownResponse, ServicesRequest, WaitedContainer};
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Recreate containers even if their configuration is unchanged
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, do not recreate them
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Remove containers of services no longer in the stack file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Pull images first: policy (each service's pull_policy), always, missing, never
    #[arg(long, value_enum, default_value = "policy")]
    pub pull: PullFlag,
    /// Build the images of services with `build:` first, even when present
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Never build: a `build:` service's image must be present
    #[arg(long)]
    pub no_build: bool,
    /// Create NUM containers of SERVICE, over its `scale`/`deploy.replicas` (repeatable)
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Assume "yes" as answer to all prompts and run non-interactively (rstack never
    /// prompts: accepted for compose's scripts)
    #[arg(short = 'y', long)]
    pub yes: bool,
    pub services: Vec<String>,
}

impl CreateArgs {
    /// `create` is `up --no-start`.
    pub fn as_up(&self) -> UpArgs {
        UpArgs {
            detach: true,
            wait: false,
            force_recreate: self.force_recreate,
            no_start: true,
            no_recreate: self.no_recreate,
            always_recreate_deps: false,
            remove_orphans: self.remove_orphans,
            pull: self.pull,
            build: self.build,
            no_build: self.no_build,
            scale: self.scale.clone(),
            watch: false,
            no_deps: false,
            quiet_build: false,
            attached: super::up_flags::AttachedArgs {
                quiet_pull: self.quiet_pull,
                ..Default::default()
            },
            services: self.services.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub services: Vec<String>,
    /// Drops project when the first container stops
    #[arg(long)]
    pub down_project: bool,
}

/// Prints one line per container as compose does; the exit status is the exit code of the
/// container that stopped first.
pub fn wait(cli: &Cli, client: &Client, a: &WaitArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    let req = ServicesRequest {
        services: a.services.clone(),
        first: a.down_project,
        ..Default::default()
    };
    let done: Vec<WaitedContainer> =
        client.call("POST", &format!("/v1/projects/{p}/wait"), Some(&req))?;
    for c in &done {
        println!(
            "container \"{}\" exited with status code {}",
            c.name, c.exit_code
        );
    }
    if a.down_project {
        // As compose: the project goes down once the first container has stopped.
        let removed: DownResponse = client.call(
            "POST",
            &format!("/v1/projects/{p}/down"),
            Some(&DownRequest::default()),
        )?;
        super::down::print_removed(removed, &[]);
    }
    Ok(done.first().map(|c| c.exit_code).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::super::args::Command;
    use super::*;
    use clap::Parser;

    #[test]
    fn create_is_up_no_start_and_refuses_what_compose_refuses() {
        let cli = Cli::try_parse_from(["rstack", "create", "--no-recreate", "web"]).expect("parse");
        let Command::Create(a) = cli.command else {
            panic!("not create");
        };
        let up = a.as_up();
        assert!(up.no_start && up.detach && up.no_recreate && !up.wait);
        assert_eq!(up.services, ["web"]);
        for bad in [
            &["rstack", "create", "--no-recreate", "--force-recreate"][..],
            &["rstack", "up", "--no-recreate", "--always-recreate-deps"],
            &["rstack", "up", "--no-start", "--wait"],
            &["rstack", "wait"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
