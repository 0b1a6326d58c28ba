//! The validated, normalized stack: what every layer below `spec` consumes.
//!
//! All units are resolved (bytes, nanoseconds of CPU per period, `Duration`s), all defaults
//! applied, and every reference (depends_on targets) checked. Types here are plain data with
//! serde so `plan` can hash them and `api` can ship them to the daemon.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A whole project: the unit `up` and `down` work on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// Project name (`-p`, `name:`, `COMPOSE_PROJECT_NAME`, or the directory name).
    pub name: String,
    /// Directory relative paths resolve from (the first stack file's directory).
    pub working_dir: String,
    /// Services in file order.
    pub services: IndexMap<String, Service>,
}

/// One service after validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub image: String,
    /// `entrypoint` override; `None` keeps the image's.
    pub entrypoint: Option<Vec<String>>,
    /// `command` override; `None` keeps the image's.
    pub command: Option<Vec<String>>,
    /// Environment in declaration order; a `None` value means "take it from the caller's
    /// environment", already resolved by `spec`, so values here are always set.
    pub environment: IndexMap<String, String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub depends_on: IndexMap<String, Dependency>,
    pub restart: RestartPolicy,
    pub healthcheck: Option<Healthcheck>,
    pub resources: Resources,
    /// Signal name as written, e.g. "SIGTERM".
    pub stop_signal: String,
    pub stop_grace_period: Duration,
    pub read_only: bool,
    pub tmpfs: Vec<Tmpfs>,
    pub init: bool,
    /// rstack extensions (`x-rstack` on the service).
    pub x_rstack: ServiceExtensions,
    /// Host devices given to the container (`devices:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<super::Device>,
    /// Device cgroup rules added to Docker's defaults (`device_cgroup_rules:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<super::DeviceRule>,
    /// `logging`; `None`: the daemon's default (json lines, rotated as rstack.toml says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `security_opt: seccomp=...`; absent means Docker's default profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<SeccompProfile>,
    /// `security_opt: no-new-privileges[:true|false]`; absent means rstack's default (set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_new_privileges: Option<bool>,
}

/// The most files `max-file` may keep (the runtime's rotation has the same bound).
pub const MAX_LOG_FILES: u32 = 100;

/// `logging` of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logging {
    pub driver: LogDriver,
    /// `options.max-size` in bytes; `None`: the daemon's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// `options.max-file`: files kept, the one being written included; `None`: the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file: Option<u32>,
}

/// The logging drivers rstack has: both keep docker json-file lines on disk (`local` does not
/// use Docker's binary format); `none` keeps nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
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
            entrypoint: None,
            command: None,
            environment: IndexMap::new(),
            working_dir: None,
            user: None,
            hostname: None,
            depends_on: IndexMap::new(),
            restart: RestartPolicy::No,
            healthcheck: None,
            resources: Resources::default(),
            stop_signal: "SIGTERM".into(),
            stop_grace_period: Duration::from_secs(10),
            read_only: false,
            tmpfs: Vec::new(),
            init: false,
            x_rstack: ServiceExtensions::default(),
            devices: Vec::new(),
            device_cgroup_rules: Vec::new(),
            logging: None,
            seccomp: None,
            no_new_privileges: None,
        }
    }
}

/// `depends_on` entry, long form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub condition: DependCondition,
    /// false: a failing dependency only warns.
    pub required: bool,
    /// true: restart this service when the dependency is restarted by rstack.
    pub restart: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependCondition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    /// `max_retries` 0 = unlimited (Docker's meaning).
    OnFailure {
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Healthcheck {
    pub test: HealthTest,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
    pub start_interval: Duration,
}

/// Resource limits; `None` = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Bytes.
    pub memory: Option<u64>,
    /// Fractional CPUs ("1.5").
    pub cpus: Option<f64>,
    pub pids: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tmpfs {
    /// Absolute path inside the container.
    pub target: String,
    /// Bytes; `None` = kernel default (half of RAM).
    pub size: Option<u64>,
    /// Octal mode, e.g. 0o1777.
    pub mode: Option<u32>,
}

/// `x-rstack` keys on a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceExtensions {
    /// Restart the container when its healthcheck turns unhealthy (moby#28400).
    pub restart_on_unhealthy: bool,
    /// First restart delay (Docker: 100 ms).
    pub restart_backoff_initial: Duration,
    /// Cap on the restart delay (Docker: 1 min).
    pub restart_backoff_max: Duration,
}

impl Default for ServiceExtensions {
    fn default() -> Self {
        ServiceExtensions {
            restart_on_unhealthy: false,
            restart_backoff_initial: Duration::from_millis(100),
            restart_backoff_max: Duration::from_secs(60),
        }
    }
}

impl Default for Healthcheck {
    fn default() -> Self {
        Healthcheck {
            test: HealthTest::Cmd(Vec::new()),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            retries: 3,
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(5),
        }
    }
}
