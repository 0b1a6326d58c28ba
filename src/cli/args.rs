//! Command-line arguments (clap), shaped like `docker compose` so muscle memory works.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rstack",
    version,
    about = "Run Compose stacks with rstack's own container runtime",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Stack file(s); later files override earlier ones. Default: compose.yaml in the
    /// current directory (or COMPOSE_FILE).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Project name (default: `name:` in the file, COMPOSE_PROJECT_NAME, or the directory).
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project: Option<String>,

    /// Profiles to enable.
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,

    /// Alternative environment file(s) instead of the project's .env.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,

    /// Daemon socket (unix://PATH); default $RSTACK_SOCKET or /run/rstack/rstack.sock.
    #[arg(short = 'H', long = "host", value_name = "unix://PATH")]
    pub host: Option<String>,

    /// Specify an alternate working directory (default: the path of the first specified
    /// stack file): its .env, the relative paths and, without -f, the stack file
    #[arg(long = "project-directory", value_name = "DIR")]
    pub project_directory: Option<PathBuf>,

    /// Control when to print ANSI control characters: colours, redraws in place
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub ansi: super::display::Ansi,

    /// Set type of progress output (pulls; quiet: also builds and container lines)
    #[arg(long, value_enum, value_name = "TYPE", default_value = "auto")]
    pub progress: super::display::Progress,

    /// Execute command in dry run mode: print what would be done, change nothing (interactive
    /// exec/attach, watch and daemon refuse).
    #[arg(long = "dry-run", global = true)]
    pub dry_run: bool,

    #[command(subcommand)]
    pub command: Command,
}

// Each subcommand's arguments are built only when it is the one invoked: every call of the
// CLI, `run` on the start path included, would otherwise build all of them first.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create and start the stack's services (starts the daemon if needed)
    Up(UpArgs),
    /// Create the stack's containers without starting them
    Create(super::lifecycle::CreateArgs),
    /// Block until the services' containers stop; print their exit codes
    Wait(super::lifecycle::WaitArgs),
    /// Stop and remove the stack's containers, in reverse dependency order
    Down(DownArgs),
    /// List the stack's containers
    Ps(PsArgs),
    /// List the projects the daemon runs, with their containers' states
    Ls(super::ls::LsArgs),
    /// Show the processes running in the service containers
    Top(ServicesArgs),
    /// Pause the services' running containers (cgroup freezer)
    Pause(ServicesArgs),
    /// Resume the services' paused containers
    Unpause(ServicesArgs),
    /// Remove stopped service containers
    Rm(super::rm::RmArgs),
    /// List images used by the created containers
    Images(super::stack_images::ImagesArgs),
    /// Copy files/folders between a service container and the local filesystem
    Cp(super::cp::CpArgs),
    /// Export a service container's filesystem as a tar archive
    Export(super::cp::ExportArgs),
    /// Display the running containers' resource usage statistics
    Stats(super::stats::StatsArgs),
    /// Receive real time events from containers
    Events(super::events::EventsArgs),
    /// Show containers in detail as JSON, health checks' last results included
    Inspect(super::inspect::InspectArgs),
    /// Show containers' output
    Logs(LogsArgs),
    /// Run a command in a running service container
    Exec(ExecArgs),
    /// Run a one-off command in a new container of a service
    Run(RunArgs),
    /// Attach our terminal to a service container's main process (detach: ctrl-p ctrl-q)
    Attach(super::attach::AttachArgs),
    /// Start existing containers
    Start(ServicesArgs),
    /// Stop running containers without removing them
    Stop(StopArgs),
    /// Restart service containers
    Restart(StopArgs),
    /// Send a signal to service containers
    Kill(KillArgs),
    /// Print the resolved, normalized stack file (as `docker compose config`)
    Config(ConfigArgs),
    /// Check the stack file; list every problem (exit 0 when valid, 1 otherwise)
    Validate,
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(super::volumes::VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(super::networks::NetworkCommand),
    /// Follow a directory or Git repository and keep its stack applied (GitOps)
    #[command(subcommand)]
    Sync(super::sync::SyncCommand),
    /// Watch the services' develop.watch paths: sync, restart or rebuild on file changes
    Watch(super::watch::WatchArgs),
    /// Scale services: run SERVICE=REPLICAS containers of each (as `up -d --scale`)
    Scale(super::scale::ScaleArgs),
    /// Print the host address and port a service's container port is published on
    Port(super::networks::PortArgs),
    /// Build the images of the stack's services that have `build:` (all, or those named)
    Build(BuildServicesArgs),
    /// Pull the images of the stack's services (all, or those named)
    Pull(ServicesArgs),
    /// Push the images of the stack's services (all, or those named)
    Push(ServicesArgs),
    /// Log in to a registry (credentials saved in ~/.docker/config.json)
    Login(LoginArgs),
    /// Log out from a registry (removes its credentials from ~/.docker/config.json)
    Logout {
        /// Registry host[:port] (default docker.io)
        registry: Option<String>,
    },
    /// Show version information
    Version,
    /// Show the daemon's settings: data root, cgroups, registry mirrors and insecure registries
    Info,
    /// Print the shell completion script for bash, zsh or fish
    Completion(super::help::CompletionArgs),
    /// Print the man page (or write one page per command into a directory)
    Man(super::help::ManArgs),
    /// Run the rstack daemon (normally started by `rstack up`)
    Daemon(DaemonArgs),
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached: start and return (default streams logs; Ctrl-C stops the stack)
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Wait until services are running/healthy (implies -d)
    #[arg(long)]
    pub wait: bool,
    /// Recreate containers even if their configuration is unchanged
    #[arg(long)]
    pub force_recreate: bool,
    /// Create the containers but do not start them
    #[arg(long, conflicts_with = "wait")]
    pub no_start: bool,
    /// If containers already exist, do not recreate them (even when their configuration changed)
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Recreate the dependencies of the services named, changed or not
    #[arg(long, conflicts_with = "no_recreate")]
    pub always_recreate_deps: bool,
    /// Remove containers of services no longer in the stack file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Pull images before starting: policy (each service's pull_policy), always, missing, never
    #[arg(long, value_enum, default_value = "policy")]
    pub pull: PullFlag,
    /// Build the images of services with `build:` before starting, even when present
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Never build: a `build:` service's image must be present
    #[arg(long)]
    pub no_build: bool,
    /// Run NUM containers of SERVICE, over its `scale`/`deploy.replicas` (repeatable)
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Attached-mode options (`--abort-on-container-exit`, `--attach`, ...).
    /// Watch source code and rebuild/refresh containers when files are updated
    #[arg(short = 'w', long, conflicts_with_all = ["no_start", "wait"])]
    pub watch: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Suppress the build output (also set by `watch --quiet`)
    #[arg(long)]
    pub quiet_build: bool,
    #[command(flatten)]
    pub attached: super::up_flags::AttachedArgs,
    pub services: Vec<String>,
}

/// `up --pull`: each service's `pull_policy`, or one rule for all.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PullFlag {
    Policy,
    Always,
    Missing,
    Never,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Seconds to wait for each container to stop before SIGKILL
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<u64>,
    /// Also remove the named volumes the stack declares (external ones are kept) and the
    /// containers' anonymous volumes
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove images used by services: "local" only those without a custom tag, "all" every one
    #[arg(long, value_enum, value_name = "TYPE")]
    pub rmi: Option<super::down::Rmi>,
    /// Remove containers for services not defined in the stack file
    #[arg(long)]
    pub remove_orphans: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show stopped containers too
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only print container names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter containers: status=STATE (paused, restarting, removing, running, dead, created,
    /// exited), label=KEY or label=KEY=VALUE (repeatable; all must match)
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Don't truncate output (`--format json`'s ID and command)
    #[arg(long)]
    pub no_trunc: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines from the end of each container's log
    #[arg(short = 'n', long)]
    pub tail: Option<usize>,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Do not prefix lines with the service name
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Show logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (2013-01-02T13:23:37Z) or relative (42m for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Show the logs of this replica of a scaled service
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub index: Option<u32>,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Set environment variables (KEY=VALUE)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// User (name or uid[:gid])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Do not allocate a TTY (by default one is allocated when stdin and stdout are terminals)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Which replica of a scaled service (default 1)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub index: Option<u32>,
    /// Give extended privileges to the process (every capability, no seccomp filter)
    #[arg(long)]
    pub privileged: bool,
    pub service: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Do not start the service's dependencies
    #[arg(long)]
    pub no_deps: bool,
    /// Do not allocate a TTY (by default one is allocated when stdin and stdout are terminals)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ConfigFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: ConfigFormat,
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Only validate; print nothing but problems
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildServicesArgs {
    /// Run every step, using no cached result
    #[arg(long)]
    pub no_cache: bool,
    /// Pull base images even when they are present
    #[arg(long)]
    pub pull: bool,
    /// Print only the image ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before SIGKILL (default: each service's stop_grace_period)
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<u64>,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    pub services: Vec<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCommand {
    /// Import a rootfs tar, a `docker save` tar or an OCI archive as NAME[:TAG]
    Import { file: PathBuf, name: String },
    /// Build an image from a Dockerfile
    Build(ImageBuildArgs),
    /// Pull an image from a registry (docker.io by default)
    Pull { reference: String },
    /// Push an image to the registry its name names (e.g. 127.0.0.1:5000/app:1)
    Push { reference: String },
    /// List images (dangling ones, whose tag moved to another image, as <none>:<none>)
    #[command(alias = "list")]
    Ls {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Show the manifest digests
        #[arg(long)]
        digests: bool,
        /// Only image ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Remove images (refused while a container uses one, unless --force: then only the
    /// tag goes, and the image stays while containers use it)
    #[command(alias = "remove", alias = "rmi")]
    Rm {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Give an image another name
    Tag { source: String, target: String },
    /// Show images' config and manifest as JSON
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show the steps that made an image, newest first
    History {
        name: String,
        /// Do not truncate the CREATED BY column
        #[arg(long)]
        no_trunc: bool,
        /// Only image ids
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Remove dangling images; with --all every image no container uses
    Prune {
        #[arg(short, long)]
        all: bool,
    },
    /// Write images to a tar archive (OCI layout with docker's manifest.json)
    Save {
        /// Output file (default: stdout, unless it is a terminal)
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Load images from a docker-save or OCI archive, keeping their names
    Load {
        /// Input file (default: stdin)
        #[arg(short, long)]
        input: Option<PathBuf>,
    },
    /// Search a registry's catalog: [REGISTRY/]TERM (default: the first [registry] mirror)
    Search {
        term: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password (visible to other users in the process list: prefer --password-stdin)
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Registry host[:port] (default docker.io)
    pub registry: Option<String>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Daemon config file (TOML; see config/rstack.toml)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data root (default /var/lib/rstack)
    #[arg(long, env = "RSTACK_DATA_ROOT")]
    pub data_root: Option<PathBuf>,
    /// API socket path (default /run/rstack/rstack.sock)
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn compose_style_global_options_then_command() {
        let cli = Cli::try_parse_from(["rstack", "-f", "a.yaml", "-p", "x", "logs", "-f", "api"])
            .expect("parse");
        assert_eq!(cli.files, [PathBuf::from("a.yaml")]);
        assert!(matches!(
            cli.command,
            Command::Logs(LogsArgs { follow: true, .. })
        ));
    }
}

#[derive(Debug, Args)]
pub struct ImageBuildArgs {
    /// Name and optionally a tag (NAME[:TAG]); may be given several times
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile)
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// A build argument (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// The stage to build (default: the last)
    #[arg(long)]
    pub target: Option<String>,
    /// Run every step, using no cached result
    #[arg(long)]
    pub no_cache: bool,
    /// Pull base images even when they are present
    #[arg(long)]
    pub pull: bool,
    /// A label for the image (KEY=VALUE)
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Network for RUN steps: host (default) or none
    #[arg(long)]
    pub network: Option<String>,
    /// Print only the image id
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The build context: a directory
    pub context: PathBuf,
}
