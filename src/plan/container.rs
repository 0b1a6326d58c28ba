//! From a service and its image to the runtime's `ContainerConfig`.
//!
//! Docker's rules: an `entrypoint` override drops the image's CMD unless `command` is given;
//! service environment overrides the image's by key; working_dir and user fall back to the
//! image's; the hostname defaults to the short container id.

use super::ResolvedImage;
use crate::model::{LogDriver, SeccompProfile, Service};
use crate::runtime::config::{
    ACC_MKNOD, ACC_READ, ACC_WRITE, ContainerConfig, DEFAULT_RLIMITS, DOCKER_DEFAULT_CAPABILITIES,
    DOCKER_DEFAULT_MASKED_PATHS, DOCKER_DEFAULT_READONLY_PATHS, DevKind, DeviceConfig, LogConfig,
    ProcessConfig, ROOT_DIRS, ResourceConfig, Rlimit, RootConfig, Rule, Seccomp,
};
use std::path::Path;

pub use crate::runtime::config::CGROUP_PARENT;

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
    /// The project and the container's name (`<project>-<service>-1`), for its network names.
    pub project: &'a str,
    pub name: &'a str,
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
    let cpus = service.resources.cpus.filter(|c| *c > 0.0);
    let hostname = service
        .hostname
        .clone()
        .unwrap_or_else(|| who.id.chars().take(12).collect());
    let host_network = service.net.network_mode == crate::model::NetworkMode::Host;
    let mut cfg = ContainerConfig {
        id: who.id.to_string(),
        network: crate::runtime::config::NetConfig {
            request: Some(super::net::request(
                who.project,
                who.name,
                &hostname,
                service,
                command.is_some(),
            )),
            ..Default::default()
        },
        hostname,
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
            capabilities: strings(&DOCKER_DEFAULT_CAPABILITIES),
            // rstack sets no_new_privs unless the service turns it off (Docker's default is off).
            no_new_privileges: service.no_new_privileges.unwrap_or(true),
            rlimits: DEFAULT_RLIMITS
                .iter()
                .map(|&(kind, soft, hard)| Rlimit {
                    kind: kind.to_string(),
                    soft,
                    hard,
                    exact: false,
                })
                .collect(),
            // One-off containers (`run`, given a command override) read the client's stdin.
            stdin: command.is_some(),
            tty: None,
            attachable: false,
            group_add: Vec::new(),
        },
        mounts: {
            let mut m = super::mounts::mounts(who.id, service, &image.config.volumes);
            // An anonymous volume belongs to the project too: one a removal keeps (orphan,
            // scale-down, `rm` without -v) is listed under its label and goes with `down -v`.
            for v in m.iter_mut().filter_map(|m| m.volume.as_mut()) {
                if v.anonymous && v.project.is_empty() {
                    v.project = who.project.to_string();
                }
            }
            super::files::add(&mut m, state, service);
            m
        },
        resources: ResourceConfig {
            // 0 is "no limit" for both, as in Docker (a memory limit of 0 bytes would
            // OOM-kill the container at once, a CFS quota of 0 is refused by the kernel).
            memory: service.resources.memory.filter(|m| *m > 0),
            cpu_quota: cpus.map(|c| (c * CPU_PERIOD_US as f64).round() as i64),
            cpu_period: cpus.map(|_| CPU_PERIOD_US),
            pids: service.resources.pids,
            memory_reservation: service.resources.memory_reservation.filter(|m| *m > 0),
        },
        cgroup_path: format!("{CGROUP_PARENT}/{}", who.id),
        init: service.init,
        masked_paths: strings(&DOCKER_DEFAULT_MASKED_PATHS),
        readonly_paths: strings(&DOCKER_DEFAULT_READONLY_PATHS),
        state_dir: state.to_path_buf(),
        devices: service
            .devices
            .iter()
            .map(|d| DeviceConfig {
                host_path: d.source.clone(),
                path: d.target.clone(),
                access: d.permissions.clone(),
            })
            .collect(),
        device_rules: service
            .device_cgroup_rules
            .iter()
            .map(device_rule)
            .collect(),
        log: log_config(service),
        seccomp: match &service.seccomp {
            None => Seccomp::Default,
            Some(SeccompProfile::Unconfined) => Seccomp::Unconfined,
            Some(SeccompProfile::Json(text)) => Seccomp::Profile(text.clone()),
        },
        // Compiled and named by the daemon at the start.
        seccomp_filter: None,
        host_network,
        sysctls: Vec::new(),
        shm_size: None,
        oom_score_adj: None,
        host_pid: false,
    };
    // cap_add/cap_drop, privileged, sysctls, ulimits, shm_size, ... (`options`).
    super::options::apply(service, &mut cfg);
    Ok(cfg)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A `device_cgroup_rules` entry as the runtime applies it (always an allow rule).
fn device_rule(r: &crate::model::DeviceRule) -> Rule {
    let kind = match r.kind {
        'b' => DevKind::Block,
        'c' => DevKind::Char,
        _ => DevKind::All,
    };
    let access = r.access.chars().fold(0, |a, c| match c {
        'r' => a | ACC_READ,
        'w' => a | ACC_WRITE,
        'm' => a | ACC_MKNOD,
        _ => a,
    });
    Rule::allow(kind, r.major, r.minor, access)
}

/// `logging` as the shim applies it; what the service leaves unset is the daemon's default.
fn log_config(service: &Service) -> LogConfig {
    match &service.logging {
        None => LogConfig::default(),
        Some(l) => LogConfig {
            disabled: l.driver == LogDriver::None,
            max_size: l.max_size,
            max_file: l.max_file,
        },
    }
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
