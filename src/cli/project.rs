//! Loading the stack file for a command, and the project name commands act on.

use super::args::Cli;
use crate::model::Stack;
use crate::spec::{self, LoadOptions, RealFs};
use anyhow::{Context, Result};
use std::path::PathBuf;

pub fn options(cli: &Cli) -> Result<LoadOptions> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    Ok(LoadOptions {
        files: cli.files.clone(),
        working_dir: cwd,
        project_name: cli.project.clone(),
        env: std::env::vars().collect(),
        env_files: cli.env_files.clone(),
        profiles: cli.profiles.clone(),
        build_image_names: false,
        target_services: Vec::new(),
        host_cpus: Some(crate::spec::this_host_cpus),
        read_secrets: false,
        known_sysctl: None,
        project_directory: cli.project_directory.clone(),
    })
}

/// Loads and validates the stack; warnings go to stderr.
pub fn load(cli: &Cli) -> Result<Stack> {
    load_for(cli, &[])
}

/// Like `load`, for services named on the command line: as in compose, those are enabled
/// whatever their profiles (with their dependencies that share them).
pub fn load_for(cli: &Cli, targets: &[String]) -> Result<Stack> {
    let mut opts = options(cli)?;
    opts.target_services = targets.to_vec();
    Ok(load_with(opts)?.stack)
}

/// Like `load_for`, for commands that start containers (`up`, `create`, `run`): the content
/// of the secrets and configs is read into the stack, a missing one is an error.
pub fn load_to_run(cli: &Cli, targets: &[String]) -> Result<Stack> {
    Ok(load_to_run_full(cli, targets)?.stack)
}

/// `load_to_run` keeping the tree, whose spans place later checks (`locate`). Every sysctl
/// is checked against this kernel: an unknown one is refused before anything starts.
pub fn load_to_run_full(cli: &Cli, targets: &[String]) -> Result<spec::Loaded> {
    let mut opts = options(cli)?;
    opts.target_services = targets.to_vec();
    opts.read_secrets = true;
    opts.known_sysctl = Some(crate::runtime::sysctl::known);
    let mut loaded = load_with(opts)?;
    // Recorded with the project for `ls` (compose's CONFIG FILES).
    loaded.stack.config_files = loaded
        .files
        .iter()
        // Cleaned lexically, as compose's filepath.Abs does.
        .map(|p| crate::spec::normalize_path(p).display().to_string())
        .collect();
    Ok(loaded)
}

/// The whole load result (for `config`/`validate`). `build_image_names`: a service with only
/// `build:` gets compose's image name instead of an error (nothing is run from it).
/// `for_this_host`: check what depends on the host (its CPU count), as `validate` does;
/// `config` renders a file that may be meant for another machine.
pub fn load_full(cli: &Cli, build_image_names: bool, for_this_host: bool) -> Result<spec::Loaded> {
    let mut opts = options(cli)?;
    opts.build_image_names = build_image_names;
    if !for_this_host {
        opts.host_cpus = None;
    }
    load_with(opts)
}

pub fn load_with(opts: LoadOptions) -> Result<spec::Loaded> {
    match spec::load(&opts, &RealFs) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded)
        }
        Err(d) => Err(anyhow::Error::new(d)),
    }
}

/// The project a command without a stack argument acts on: `-p`, else the stack file's
/// name, else COMPOSE_PROJECT_NAME, else the directory name.
pub fn project_name(cli: &Cli) -> Result<String> {
    if let Some(p) = &cli.project {
        return Ok(spec::normalize_project_name(p));
    }
    let explicit = !cli.files.is_empty() || std::env::var_os("COMPOSE_FILE").is_some();
    match load(cli) {
        Ok(stack) => Ok(stack.name),
        Err(e) if explicit => Err(e),
        Err(_) => {
            if let Ok(p) = std::env::var("COMPOSE_PROJECT_NAME")
                && !p.is_empty()
            {
                return Ok(spec::normalize_project_name(&p));
            }
            let cwd: PathBuf = std::env::current_dir()?;
            let cwd = match &cli.project_directory {
                Some(d) => crate::spec::normalize_path(&cwd.join(d)),
                None => cwd,
            };
            let dir = cwd
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(spec::normalize_project_name(&dir))
        }
    }
}
