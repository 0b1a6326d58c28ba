//! Container runtime: the only module that makes kernel calls for containers.
//!
//! Flow: `ShimPool` (in the daemon) hands a container to a spare shim exec'd ahead from a
//! sealed memfd (`selfexe`); the shim
//! (`shim`) creates the cgroup (`cgroup`), clones the container init (`init`), which builds its
//! root (`rootfs`, `mounts`), applies limits and identity (`rlimit`, `user`, `caps`) and execs;
//! the shim then pumps logs (`log`), reaps, records `exit.json` and tears down. `exec` joins a
//! running container's namespaces.

pub mod caps;
pub mod cgroup;
pub mod config;
pub mod defaults;
pub mod devices;
pub mod error;
pub mod etc_stubs;
pub mod exec;
pub mod files;
pub mod fsaccess;
pub mod init;
pub mod launch;
pub mod log;
pub mod log_rotate;
pub mod mounts;
pub mod netlink;
pub mod netns;
pub mod procs;
pub mod rewrite;
pub mod rlimit;
pub mod rootfs;
pub mod seccomp;
pub mod selfexe;
pub mod shim;
pub mod signal;
pub mod spare_dir;
pub mod spawn;
pub mod stats;
pub mod stopped_root;
pub mod sys;
pub mod sysctl;
pub mod tty;
pub mod user;

pub use cgroup::dynmods::favor_dynamic_cgroups;
pub use defaults::{
    default_rlimits, docker_default_capabilities, docker_default_masked_paths,
    docker_default_readonly_paths,
};
pub use error::RuntimeError;
pub use exec::{ExecSpec, exec_command, nsexec_main};
pub use launch::{
    Begun, Launched, ShimPool, cleanup, finish_report, read_exit, release, remove_layer,
};
pub use selfexe::SelfExe;
pub use shim::parse_exit_report;
pub use shim::{LOG_FILE, RESIZE_FIFO, STDIN_FIFO, shim_main};
pub use signal::{parse_signal, signal};
