//! From a service and its image to the runtime's `ContainerConfig`.
//!
//! Docker's rules: an `entrypoint` override drops the image's CMD unless `command` is given;
//! service environment overrides the image's by key; working_dir and user fall back to the
//! image's; the hostname defaults to the short container id.

use crate::image::ResolvedImage;
use crate::model::{SeccompProfile, Service};
use crate::runtime::config::{
    ContainerConfig, MountConfig, ProcessConfig, ROOT_DIRS, ResourceConfig, RootConfig, Seccomp,
};
use std::path::Path;

/// Every container's cgroup lives below this directory of each hierarchy.
pub const CGROUP_PARENT: &str = "rstack";

/// CFS period used for `cpus` (Docker's default).
const CPU_PERIOD_US: u64 = 100_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error(
        "service \"{service}\": no command to run: image \"{image}\" has no entrypoint or cmd; set `command:` in the stack file"
    )]
    NoCommand { service: String, image: String },
}

/// Identity of the container being planned.
pub struct ContainerIdentity<'a> {
    pub id: &'a str,
    pub state_dir: &'a Path,
}

/// Builds the runtime config. `command` is given for one-off containers (`run`): a
/// non-empty one replaces the service's command, and the container reads the client's stdin.
pub fn container_config(
    who: &ContainerIdentity<'_>,
    service: &Service,
    image: &ResolvedImage,
    command: Option<&[String]>,
) -> Result<ContainerConfig, PlanError> {
    let args = argv(service, image, command);
    if args.is_empty() {
        return Err(PlanError::NoCommand {
            service: service.name.clone(),
            image: image.reference.clone(),
        });
    }
    let state = who.state_dir;
    Ok(ContainerConfig {
        id: who.id.to_string(),
        hostname: service
            .hostname
            .clone()
            .unwrap_or_else(|| who.id.chars().take(12).collect()),
        root: RootConfig {
            layers: image.layers.clone(),
            upper: state.join(ROOT_DIRS.upper),
            work: state.join(ROOT_DIRS.work),
            merged: state.join(ROOT_DIRS.merged),
            readonly: service.read_only,
            volatile: false,
        },
        process: ProcessConfig {
            args,
            env: environment(service, image),
            cwd: service
                .working_dir
                .clone()
                .or_else(|| image.config.working_dir.clone())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".to_string()),
            user: service
                .user
                .clone()
                .or_else(|| image.config.user.clone())
                .filter(|u| !u.is_empty()),
            capabilities: crate::runtime::docker_default_capabilities(),
            // rstack sets no_new_privs unless the service turns it off (Docker's default is off).
            no_new_privileges: service.no_new_privileges.unwrap_or(true),
            rlimits: crate::runtime::default_rlimits(),
            // One-off containers (`run`, given a command override) read the client's stdin.
            stdin: command.is_some(),
            tty: None,
        },
        mounts: service
            .tmpfs
            .iter()
            .map(|t| {
                let mut options = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
                if let Some(size) = t.size {
                    options.push(format!("size={size}"));
                }
                if let Some(mode) = t.mode {
                    options.push(format!("mode={mode:o}"));
                }
                MountConfig {
                    destination: t.target.clone(),
                    kind: "tmpfs".into(),
                    source: "tmpfs".into(),
                    options,
                }
            })
            .collect(),
        resources: ResourceConfig {
            memory: service.resources.memory,
            cpu_quota: service
                .resources
                .cpus
                .map(|c| (c * CPU_PERIOD_US as f64).round() as i64),
            cpu_period: service.resources.cpus.map(|_| CPU_PERIOD_US),
            pids: service.resources.pids,
        },
        cgroup_path: format!("{CGROUP_PARENT}/{}", who.id),
        init: service.init,
        masked_paths: crate::runtime::docker_default_masked_paths(),
        readonly_paths: crate::runtime::docker_default_readonly_paths(),
        state_dir: state.to_path_buf(),
        seccomp: match &service.seccomp {
            None => Seccomp::Default,
            Some(SeccompProfile::Unconfined) => Seccomp::Unconfined,
            Some(SeccompProfile::Json(text)) => Seccomp::Profile(text.clone()),
        },
        // Compiled and named by the daemon at the start.
        seccomp_filter: None,
    })
}

fn argv(service: &Service, image: &ResolvedImage, command: Option<&[String]>) -> Vec<String> {
    let cmd_override = command
        .filter(|c| !c.is_empty())
        .map(|c| c.to_vec())
        .or_else(|| service.command.clone());
    let (entrypoint, cmd) = match &service.entrypoint {
        Some(ep) => (ep.clone(), cmd_override.unwrap_or_default()),
        None => (
            image.config.entrypoint.clone().unwrap_or_default(),
            cmd_override
                .or_else(|| image.config.cmd.clone())
                .unwrap_or_default(),
        ),
    };
    entrypoint.into_iter().chain(cmd).collect()
}

fn environment(service: &Service, image: &ResolvedImage) -> Vec<String> {
    let mut env: Vec<String> = image
        .config
        .env
        .iter()
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or("");
            !service.environment.contains_key(key)
        })
        .cloned()
        .collect();
    if !env.iter().any(|kv| kv.starts_with("PATH=")) && !service.environment.contains_key("PATH") {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    env.extend(service.environment.iter().map(|(k, v)| format!("{k}={v}")));
    env
}
