//! Desired containers: config hashes, runtime configs, and the diff against what runs.
//!
//! Pure: no I/O. The daemon resolves images and reads the store, then asks `plan` what to do.

mod changes;
mod container;
mod diff;
mod files;
mod hash;
mod hash_shape;
mod image;
mod mounts;
pub mod net;
mod options;
mod recreate;

pub use changes::changed_keys;
pub use container::{CGROUP_PARENT, ContainerIdentity, PlanError, container_config};
pub use diff::{Action, Desired, Observed, diff, orphans, replica_number};
pub use hash::config_hash;
pub use image::{ImageConfig, ResolvedImage};
pub use recreate::{RecreatePolicy, apply_recreate_policy};

#[cfg(test)]
mod hash_tests;
#[cfg(test)]
mod scale_tests;
#[cfg(test)]
pub(crate) mod tests;
