//! Level-triggered controller: turns plans into running containers and keeps them so.
//!
//! `engine` runs project operations (up, down, start/stop...) in dependency order; one
//! `supervisor` task per container applies restart policies and healthchecks. Both work
//! against the `Runtime` trait, so they are tested with `fake::FakeRuntime` under paused time.

mod boot;
mod conditions;
pub mod engine;
mod error;
pub mod health;
mod lifecycle;
pub mod policy;
pub mod runtime;
pub mod supervisor;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use engine::Engine;
pub use error::EngineError;
