//! Level-triggered controller: turns plans into running containers and keeps them so.
//!
//! `engine` runs project operations (up, down, start/stop...) in dependency order; one
//! `supervisor` task per container applies restart policies and healthchecks. Both work
//! against traits, `Runtime`, `StateStore` and `ImageSource`, which the daemon implements on
//! the real runtime, store and image store; tests use `fake::FakeRuntime` under paused time
//! and `fake_state::MemState`.

mod anon;
mod boot;
mod changes;
mod conditions;
mod create;
mod dry_run;
pub mod engine;
mod error;
pub mod fs_target;
mod project_files;
pub mod health;
mod hooks;
mod images;
mod lifecycle;
pub mod netchange;
pub mod policy;
mod remove;
mod replicas;
mod request;
pub mod runtime;
mod state;
pub mod supervisor;
mod wait;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod fake_state;
#[cfg(test)]
pub(crate) mod tests;

pub use engine::Engine;
pub use error::{Cause, ContainerError, EngineError, ServiceError};
pub use images::{ImageSource, ImageSourceError};
pub use lifecycle::DownOptions;
pub use request::{ActionReport, UpRequest, UpResponse, orphan_warning};
pub use state::StateStore;
pub use wait::WaitedContainer;
