//! `up --scale SERVICE=NUM`: the number of containers of a service, over the stack file's
//! `scale` / `deploy.replicas` (as docker compose); and `rstack scale SERVICE=NUM...`, which
//! is that `up` for the services named, detached, recreating nothing.

use crate::model::Stack;
use anyhow::{Result, bail};

#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// SERVICE=REPLICAS: the number of containers each named service runs
    #[arg(required = true, value_name = "SERVICE=REPLICAS")]
    pub scales: Vec<String>,
    /// Don't start linked services (the named services' dependencies are left as they are)
    #[arg(long)]
    pub no_deps: bool,
}

impl ScaleArgs {
    /// As compose: `up -d` of the named services (and their dependencies, unless `--no-deps`)
    /// at these numbers; the other containers are neither recreated nor started again.
    pub fn as_up(&self) -> super::args::UpArgs {
        let services = self
            .scales
            .iter()
            .map(|s| s.split_once('=').map_or(s.as_str(), |(n, _)| n).to_string())
            .collect();
        super::args::UpArgs {
            detach: true,
            wait: false,
            force_recreate: false,
            no_start: false,
            no_recreate: true,
            always_recreate_deps: false,
            remove_orphans: false,
            pull: super::args::PullFlag::Policy,
            build: false,
            no_build: false,
            scale: self.scales.clone(),
            watch: false,
            no_deps: self.no_deps,
            quiet_build: false,
            attached: Default::default(),
            services,
        }
    }
}

/// Sets each `SERVICE=NUM` on `stack`; a malformed flag or an unknown service is an error.
pub fn apply(stack: &mut Stack, flags: &[String]) -> Result<()> {
    for flag in flags {
        let Some((service, num)) = flag.split_once('=') else {
            bail!("--scale {flag}: expected SERVICE=NUM, e.g. --scale web=3");
        };
        let Ok(n) = num.trim().parse::<u32>() else {
            bail!("--scale {flag}: \"{num}\" is not a number of containers (0 or more)");
        };
        let Some(svc) = stack.services.get_mut(service) else {
            let known: Vec<&str> = stack.services.keys().map(String::as_str).collect();
            bail!(
                "--scale {flag}: no such service: {service} (the stack has: {})",
                known.join(", ")
            );
        };
        if n > 1
            && let Some(name) = &svc.options.container_name
        {
            bail!(
                "--scale {flag}: service {service} has container_name \"{name}\", and container names are unique: it runs one container only (remove container_name to scale it)"
            );
        }
        svc.scale = Some(n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Service;

    fn stack() -> Stack {
        let mut s = Stack {
            name: "p".into(),
            working_dir: "/".into(),
            services: Default::default(),
            ..Default::default()
        };
        s.services.insert("web".into(), Service::new("web", "img"));
        s
    }

    #[test]
    fn sets_the_scale_of_named_services() {
        let mut s = stack();
        apply(&mut s, &["web=3".into()]).expect("applies");
        assert_eq!(s.services["web"].replicas(), 3);
        apply(&mut s, &["web=0".into()]).expect("applies");
        assert_eq!(s.services["web"].replicas(), 0);
    }

    #[test]
    fn rejects_unknown_services_and_bad_numbers() {
        for (flag, want) in [
            ("db=2", "no such service: db"),
            ("web", "expected SERVICE=NUM"),
            ("web=-1", "not a number"),
            ("web=x", "not a number"),
        ] {
            let err = apply(&mut stack(), &[flag.into()]).unwrap_err().to_string();
            assert!(err.contains(want), "{flag}: {err}");
        }
    }
}
