//! Container runtime: the only module that makes kernel calls for containers.

pub mod config;
