//! Versioned REST API over the daemon's unix socket: types, the axum server, the CLI's client.

pub mod attach;
pub mod attach_client;
pub mod attach_service;
pub mod build;
pub mod builtin_networks;
pub mod client;
pub mod cp;
pub mod detach;
mod down_plan;
mod error;
pub mod events;
mod failure;
pub mod images;
pub mod inspect;
pub mod listener;
pub mod log_reader;
pub mod logs;
pub mod netchange;
pub mod networks;
pub mod pause;
pub mod projects;
pub mod registry;
pub mod rm;
pub mod server;
pub mod stats;
pub mod top;
pub mod types;
mod upload;
pub mod validate;
pub mod volumes;

pub use client::Client;
pub use error::ApiError;
