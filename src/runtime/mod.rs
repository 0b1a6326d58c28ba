//! Container runtime: the only module that makes kernel calls for containers.

pub mod config;

// Placeholder defaults until the runtime module lands.
pub fn docker_default_capabilities() -> Vec<String> {
    Vec::new()
}
pub fn docker_default_masked_paths() -> Vec<String> {
    Vec::new()
}
pub fn docker_default_readonly_paths() -> Vec<String> {
    Vec::new()
}
pub fn default_rlimits() -> Vec<config::Rlimit> {
    Vec::new()
}
pub fn parse_signal(_name: &str) -> Option<i32> {
    None
}
