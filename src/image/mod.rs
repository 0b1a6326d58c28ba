//! Placeholder for the contract types of the image store (replaced by the real module).

use std::path::PathBuf;

pub struct ResolvedImage {
    pub id: String,
    pub reference: String,
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}

#[derive(Default)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
}
