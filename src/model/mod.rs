//! Validated stack model: units resolved, defaults applied, references checked.
//!
//! `types` is the contract the daemon is coded against; `units` parses the unit strings stack
//! files use (sizes, durations, CPUs, signals).

mod build;
mod defaults;
pub mod develop;
pub mod devices;
mod error;
pub mod hooks;
pub mod names;
pub mod network;
pub mod options;
mod pull;
mod restart;
pub mod secrets;
mod types;
pub mod units;
mod volumes;

pub use build::BuildSpec;
pub use develop::{Develop, WatchAction, WatchExec, WatchRule};
pub use devices::{Device, DeviceRule};
pub use error::UnitError;
pub use hooks::Hook;
pub use network::{
    HostEntry, IpamConfig, Link, NetworkDef, NetworkMode, PortMapping, PortRange, Protocol,
    ServiceNetwork, ServiceNetworking,
};
pub use options::{ContainerOptions, Ulimit};
pub use pull::{Platform, PullPolicy, host_arch};
pub use restart::RestartLimits;
pub use secrets::{DEFAULT_FILE_MODE, FileMount};
pub use types::*;
pub use volumes::{MountKind, VolumeDef, VolumeMount, check_volume_name};
