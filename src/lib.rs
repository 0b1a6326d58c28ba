//! rstack: a Compose-file driven service deployer with its own isolation runtime.
//!
//! Data flows one way: `spec` (YAML text with spans) -> `model` (validated stack) ->
//! `graph` (dependency DAG) -> `plan` (desired containers, diffs) -> `reconcile`, which drives
//! `runtime` (namespaces, cgroups, rootfs) through the per-container shim. `store` keeps state,
//! `api` serves it over a unix socket, `cli` is the thin client. See ARCHITECTURE.md.

pub mod api;
pub mod build;
pub mod cli;
pub mod daemon;
pub mod graph;
pub mod image;
pub mod model;
pub mod network;
pub mod plan;
pub mod reconcile;
pub mod runtime;
pub mod source;
pub mod spec;
pub mod store;
#[cfg(test)]
mod testutil;
pub mod volume;
