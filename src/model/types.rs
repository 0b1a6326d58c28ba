//! The validated, normalized stack: what every layer below `spec` consumes.
//!
//! All units are resolved (bytes, nanoseconds of CPU per period, `Duration`s), all defaults
//! applied, and every reference (depends_on targets) checked. Types here are plain data with
//! serde so `plan` can hash them and `api` can ship them to the daemon.
//!
//! Every struct deserializes with its defaults for absent fields and serializes without the
//! fields at their default (`defaults.rs`): records of an older release decode, and a field
//! added later changes neither the stored document nor the config hash of a service that
//! does not use it. A new field MUST follow the rule
//! (`plan::hash_tests::every_model_default_serializes_to_nothing` checks it).

use super::defaults::{self, backoff, health, is_default, is_true};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A whole project: the unit `up` and `down` work on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stack {
    /// Project name (`-p`, `name:`, `COMPOSE_PROJECT_NAME`, or the directory name).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Directory relative paths resolve from (the first stack file's directory).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Services in file order.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub services: IndexMap<String, Service>,
    /// The stack files it was loaded from, absolute, in merge order (`ls` CONFIG FILES).
    /// Set by the commands that apply a project; not part of any service's config hash.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_files: Vec<String>,
}

/// One service after validation. `Default` is `Service::new("", "")`: Compose's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Service {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// `entrypoint` override; `None` keeps the image's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `command` override; `None` keeps the image's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Environment in declaration order; a `None` value means "take it from the caller's
    /// environment", already resolved by `spec`, so values here are always set.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, Dependency>,
    #[serde(skip_serializing_if = "is_default")]
    pub restart: RestartPolicy,
    /// `deploy.restart_policy`'s delay, max_attempts and window.
    #[serde(skip_serializing_if = "is_default")]
    pub restart_limits: super::RestartLimits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
    /// Signal name as written, e.g. "SIGTERM".
    #[serde(skip_serializing_if = "defaults::is_default_stop_signal")]
    pub stop_signal: String,
    #[serde(skip_serializing_if = "defaults::is_default_stop_grace_period")]
    pub stop_grace_period: Duration,
    #[serde(skip_serializing_if = "is_default")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<Tmpfs>,
    #[serde(skip_serializing_if = "is_default")]
    pub init: bool,
    /// rstack extensions (`x-rstack` on the service).
    #[serde(skip_serializing_if = "is_default")]
    pub x_rstack: ServiceExtensions,
    /// Host devices given to the container (`devices:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<super::Device>,
    /// Device cgroup rules added to Docker's defaults (`device_cgroup_rules:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<super::DeviceRule>,
    /// `logging`; `None`: the daemon's default (json lines, rotated as rstack.toml says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `security_opt: seccomp=...`; absent means Docker's default profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<SeccompProfile>,
    /// `security_opt: no-new-privileges[:true|false]`; absent means rstack's default (set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_new_privileges: Option<bool>,
    /// `build:`: how to build the image (named `image`, or `<project>-<service>` when the
    /// service has no `image:`). `None`: the image is pulled or imported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<super::BuildSpec>,
    /// `develop:`: watch rules of `rstack watch`; not hashed (an edit recreates nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub develop: Option<super::Develop>,
    /// `pull_policy`: when `up` pulls the image (default `missing`).
    #[serde(skip_serializing_if = "is_default")]
    pub pull_policy: super::PullPolicy,
    /// `platform`: which platform of a multi-platform image to pull and run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<super::Platform>,
    /// `volumes:`: bind mounts, named and anonymous volumes, tmpfs mounts, in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<super::VolumeMount>,
    /// `secrets:`: files bound read-only (by default under /run/secrets), content included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<super::FileMount>,
    /// `configs:`: files bound read-only at their target (by default /NAME), content included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<super::FileMount>,
    /// `post_start`: run in the container after it starts, before it counts as started.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<super::Hook>,
    /// `pre_stop`: run in the container before the stop signal of `stop`/`down`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<super::Hook>,
    /// `networks`, `network_mode`, `ports` and the other networking keys (flattened: each
    /// key sits at the service's top level, as in the stack file).
    #[serde(flatten)]
    pub net: super::ServiceNetworking,
    /// `scale` / `deploy.replicas` (or `up --scale`): how many containers the service runs;
    /// `None` is Compose's default of one. Not part of the config hash: scaling never
    /// recreates the replicas that stay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// Capabilities, sysctls, ulimits, labels, `container_name`... (`options.rs`; flattened:
    /// each key sits at the service's top level, left out at its default).
    #[serde(flatten)]
    pub options: super::ContainerOptions,
}

/// The most files `max-file` may keep (the runtime's rotation has the same bound).
pub const MAX_LOG_FILES: u32 = 100;

/// `logging` of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Logging {
    #[serde(skip_serializing_if = "is_default")]
    pub driver: LogDriver,
    /// `options.max-size` in bytes; `None`: the daemon's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// `options.max-file`: files kept, the one being written included; `None`: the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file: Option<u32>,
}

/// The logging drivers rstack has: both keep docker json-file lines on disk (`local` does not
/// use Docker's binary format); `none` keeps nothing. Compose's default is `json-file`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    #[default]
    JsonFile,
    Local,
    None,
}

/// A service's own seccomp profile (`security_opt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompProfile {
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// `seccomp=FILE.json`: the file's text (Docker's JSON format), read by the loader so the
    /// daemon never opens a path the client names.
    Json(String),
}

impl Service {
    /// A service running `image` with every other key at its Compose default.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Service {
        Service {
            name: name.into(),
            image: image.into(),
            ..Service::default()
        }
    }

    /// How many containers the service runs (`scale`, default 1).
    pub fn replicas(&self) -> u32 {
        self.scale.unwrap_or(1)
    }
}

impl Default for Service {
    /// Compose's defaults; what an absent field of a stored document decodes to.
    fn default() -> Service {
        Service {
            name: String::new(),
            image: String::new(),
            entrypoint: None,
            command: None,
            environment: IndexMap::new(),
            working_dir: None,
            user: None,
            hostname: None,
            depends_on: IndexMap::new(),
            restart: RestartPolicy::No,
            restart_limits: super::RestartLimits::default(),
            healthcheck: None,
            resources: Resources::default(),
            stop_signal: defaults::STOP_SIGNAL.into(),
            stop_grace_period: defaults::STOP_GRACE_PERIOD,
            read_only: false,
            tmpfs: Vec::new(),
            init: false,
            x_rstack: ServiceExtensions::default(),
            devices: Vec::new(),
            device_cgroup_rules: Vec::new(),
            logging: None,
            seccomp: None,
            no_new_privileges: None,
            build: None,
            develop: None,
            pull_policy: super::PullPolicy::Missing,
            platform: None,
            volumes: Vec::new(),
            secrets: Vec::new(),
            configs: Vec::new(),
            post_start: Vec::new(),
            pre_stop: Vec::new(),
            net: super::ServiceNetworking::default(),
            scale: None,
            options: super::ContainerOptions::default(),
        }
    }
}

/// `depends_on` entry, long form. `Default` is Compose's: started, required, no restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dependency {
    #[serde(skip_serializing_if = "is_default")]
    pub condition: DependCondition,
    /// false: a failing dependency only warns.
    #[serde(skip_serializing_if = "is_true")]
    pub required: bool,
    /// true: restart this service when the dependency is restarted by rstack.
    #[serde(skip_serializing_if = "is_default")]
    pub restart: bool,
}

impl Default for Dependency {
    fn default() -> Self {
        Dependency {
            condition: DependCondition::ServiceStarted,
            required: true,
            restart: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependCondition {
    #[default]
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    /// `max_retries` 0 = unlimited (Docker's meaning).
    OnFailure {
        #[serde(default)]
        max_retries: u32,
    },
}

/// How the probe runs inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthTest {
    /// `CMD`: exec the argv directly.
    Cmd(Vec<String>),
    /// `CMD-SHELL` or a plain string: run through `/bin/sh -c`.
    Shell(String),
}

/// A healthcheck; `Default` holds Docker's timings (and an empty test, which `spec` never
/// leaves: it turns a missing test into the image's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Healthcheck {
    #[serde(skip_serializing_if = "is_default")]
    pub test: HealthTest,
    #[serde(skip_serializing_if = "health::is_interval")]
    pub interval: Duration,
    #[serde(skip_serializing_if = "health::is_timeout")]
    pub timeout: Duration,
    #[serde(skip_serializing_if = "health::is_retries")]
    pub retries: u32,
    #[serde(skip_serializing_if = "is_default")]
    pub start_period: Duration,
    #[serde(skip_serializing_if = "health::is_start_interval")]
    pub start_interval: Duration,
}

impl Default for HealthTest {
    fn default() -> Self {
        HealthTest::Cmd(Vec::new())
    }
}

/// Resource limits; `None` = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Fractional CPUs ("1.5").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
    /// Soft memory limit in bytes (`mem_reservation`, `deploy.resources.reservations.memory`):
    /// the kernel reclaims down to it under memory pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
    /// `deploy.resources.reservations.cpus`: docker compose applies it only in swarm, so the
    /// runtime ignores it; the Kubernetes export maps it to `requests.cpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_reservation: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tmpfs {
    /// Absolute path inside the container.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Bytes; `None` = kernel default (half of RAM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Octal mode, e.g. 0o1777.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// `x-rstack` keys on a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceExtensions {
    /// Restart the container when its healthcheck turns unhealthy (moby#28400).
    #[serde(skip_serializing_if = "is_default")]
    pub restart_on_unhealthy: bool,
    /// First restart delay (Docker: 100 ms).
    #[serde(skip_serializing_if = "backoff::is_initial")]
    pub restart_backoff_initial: Duration,
    /// Cap on the restart delay (Docker: 1 min).
    #[serde(skip_serializing_if = "backoff::is_max")]
    pub restart_backoff_max: Duration,
}

impl Default for ServiceExtensions {
    fn default() -> Self {
        ServiceExtensions {
            restart_on_unhealthy: false,
            restart_backoff_initial: backoff::INITIAL,
            restart_backoff_max: backoff::MAX,
        }
    }
}

impl Default for Healthcheck {
    fn default() -> Self {
        Healthcheck {
            test: HealthTest::default(),
            interval: health::INTERVAL,
            timeout: health::TIMEOUT,
            retries: health::RETRIES,
            start_period: Duration::ZERO,
            start_interval: health::START_INTERVAL,
        }
    }
}
