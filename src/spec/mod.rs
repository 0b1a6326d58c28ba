//! Stack files -> validated `model::Stack`.
//!
//! Pipeline: read files through [`SourceFs`] -> YAML into a spanned tree (`yaml`) ->
//! interpolate values with the shell env over `.env` (`interp`, `dotenv`) -> normalize list forms
//! and merge multiple files (`merge`) -> profiles and `env_file` -> typed conversion with units
//! and defaults (`service`, `value`) -> reference and cycle checks. Every problem becomes a
//! [`Diagnostic`] with file:line:col; all of them are collected, not only the first.
//!
//! serde-saphyr's typed deserialization is not used: spans must survive interpolation and the
//! multi-file merge so that a type error found late still points at the text that produced it.

mod build;
mod cidr;
mod config;
mod depends;
mod develop;
mod devices;
mod dotenv;
mod emit;
mod envfile;
mod error;
mod extends;
mod fileload;
mod files;
mod include;
mod interp;
mod ipam6;
mod keys;
mod limits;
mod load;
mod logging;
mod merge;
mod netopts;
mod network;
mod options;
mod ports;
mod restart_policy;
mod schema;
pub(crate) mod secrets;
mod security;
mod service;
mod shortsyntax;
mod source;
mod targets;
mod value;
mod volumes;
pub mod yaml;

#[cfg(test)]
mod tests;

pub use config::{node_json, profile_names, to_compose_json};
pub use emit::{is_plain_safe, to_yaml};
pub use error::{Diagnostic, Diagnostics, Severity};
pub use files::{normalize as normalize_path, normalize_project_name};
pub use load::load;
pub use logging::human_size;
pub use schema::json_schema;
pub use source::{MemFs, RealFs, SourceFs};
pub use value::split_words;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Fuzzing entry point: loads `data` as `/fuzz/compose.yaml` (plus an `.env` of the same bytes);
/// must never panic whatever the input.
#[doc(hidden)]
pub fn fuzz_load(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let fs = MemFs::new()
        .with("/fuzz/compose.yaml", text.clone())
        .with("/fuzz/.env", text);
    let opts = LoadOptions {
        working_dir: "/fuzz".into(),
        build_image_names: true,
        ..LoadOptions::default()
    };
    if let Ok(l) = load(&opts, &fs) {
        let _ = to_yaml(&to_compose_json(&l));
    }
}

/// What the CLI/daemon knows when asking for a stack.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Stack files in order (`-f`); empty = `COMPOSE_FILE` or the default names in `working_dir`.
    pub files: Vec<PathBuf>,
    /// Directory relative paths (and default file names) are looked up in.
    pub working_dir: PathBuf,
    /// `-p`.
    pub project_name: Option<String>,
    /// The caller's shell environment; it beats `.env`.
    pub env: BTreeMap<String, String>,
    /// `--env-file` (replaces the project's `.env`).
    pub env_files: Vec<PathBuf>,
    /// `--profile`.
    pub profiles: Vec<String>,
    /// Services named on the command line (`up SVC`, `run SVC`). As in Compose, each is loaded
    /// whatever the active profiles, and its profiles are activated for the services it
    /// (transitively) depends on; they are added to `Loaded::profiles`. A name that is not a
    /// service of the stack is an error (with a did-you-mean hint). Empty: no effect.
    pub target_services: Vec<String>,
    /// No effect any more: a service with `build` but no `image` always gets Compose's image
    /// name `<project>-<service>`, since rstack builds it. Kept so callers compile.
    pub build_image_names: bool,
    /// CPUs of the host that will run the stack: `cpus` (and deploy limits) above it are
    /// errors at their file:line:col, as Docker refuses them at start. `None`: not checked.
    /// A function, asked only when a service sets `cpus`: counting the host's CPUs reads
    /// files (std looks at cgroup quotas), which every CLI call would pay otherwise.
    pub host_cpus: Option<fn() -> Option<u32>>,
    /// Read the content of the `secrets`/`configs` services use (their `file` or
    /// `environment`) into the model; a missing one is an error at its file:line:col.
    /// false (`config`): not read nor checked, as `docker compose config` does.
    pub read_secrets: bool,
    /// Whether the host's kernel has a sysctl: one it lacks is an error at its key's
    /// file:line:col, before anything starts. `None`: not checked (`config`).
    pub known_sysctl: Option<fn(&str) -> bool>,
    /// `--project-directory` (relative to `working_dir`): the project's directory instead of
    /// the first file's. Its `.env`, the relative paths of the files and the default project
    /// name are taken from it, and without `-f` the stack file is looked up in it (compose's
    /// rule; `-f` paths stay relative to `working_dir`).
    pub project_directory: Option<PathBuf>,
}

/// The CPUs of this host, for `LoadOptions::host_cpus` (counted once per process).
pub fn this_host_cpus() -> Option<u32> {
    static CPUS: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| {
        std::thread::available_parallelism()
            .ok()
            .and_then(|n| u32::try_from(n.get()).ok())
    })
}

/// A successfully loaded stack and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub stack: crate::model::Stack,
    pub warnings: Vec<Diagnostic>,
    /// The stack files actually read, in merge order.
    pub files: Vec<PathBuf>,
    /// Interpolated, merged tree of all files (input of `config`-style output).
    pub tree: yaml::Node,
    /// Profiles that were active.
    pub profiles: Vec<String>,
    /// `HOME` from the caller's environment (expands `~` in volume sources).
    pub home: Option<String>,
    /// Every file read (stack files, includes, extends, env files), indexed by `Span::file`.
    pub sources: Vec<PathBuf>,
    /// For each of `sources`, the directory relative paths written in it resolve from.
    pub bases: Vec<PathBuf>,
    /// Per service, its dependencies on profile-disabled services that are not required:
    /// left out of the model (nothing waits on them) but printed by `config`, as Compose does.
    pub disabled_dependencies:
        BTreeMap<String, indexmap::IndexMap<String, crate::model::Dependency>>,
}

impl Loaded {
    /// Directory relative paths in `node` resolve from: the project directory for the
    /// top-level stack files, the `project_directory` of an include (default: the directory of
    /// its first file), else the directory of the extended file that wrote it.
    pub fn base_dir(&self, node: &yaml::Node) -> PathBuf {
        self.bases
            .get(node.span.file as usize)
            .cloned()
            .unwrap_or_else(|| PathBuf::from(&self.stack.working_dir))
    }
}
