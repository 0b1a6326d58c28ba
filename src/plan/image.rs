//! What a plan needs of an image, as plain data: its id, its layer directories and the
//! run settings of its config. The daemon fills it from the image store (`image`), tests
//! write it by hand; `plan` itself never reads the store.

use std::path::PathBuf;

/// The run settings of an image config that a container inherits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    /// `VOLUME` paths: each gets an anonymous volume unless the service mounts something there.
    pub volumes: Vec<String>,
}

/// An image ready to be run: layer directories and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// `sha256:<hex>` of the config blob.
    pub id: String,
    /// The normalized reference it was resolved from.
    pub reference: String,
    /// Extracted layer directories, topmost first (overlay `lowerdir` order).
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}
