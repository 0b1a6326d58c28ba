//! Content-addressed OCI image store on disk: import of image archives (OCI archive, docker-save
//! tar, plain rootfs tar), resolution of references to extracted layer directories (overlay
//! lowerdirs, topmost first) and image configs, listing and removal with garbage collection.

mod admin;
mod archive;
pub mod budget;
mod built;
mod details;
mod error;
mod fsutil;
mod layer;
pub mod layer_write;
mod oci;
mod pathset;
mod reference;
pub mod registry;
mod save;
mod store;
mod tags;
mod writers;
mod zstd;

pub use admin::{LoadedImage, Pruned};
pub use built::{BuildSession, CacheRecord, LayerDesc, StoredImage};
pub use details::HistoryRow;
pub use error::ImageError;
pub use reference::{Reference, normalize_reference};
pub use save::SavePlan;
pub use store::{
    ImageConfig, ImageInfo, ImageStore, NONE_REFERENCE, Pins, PullStatus, Removed, ResolvedImage,
};

#[cfg(test)]
mod tests;

/// The OCI architecture name of this host (`amd64`, `arm64`, ...).
pub fn host_arch() -> &'static str {
    oci::host_arch()
}

/// A name unique on this host for the life of the store (process id, counter, time).
pub fn unique_id() -> String {
    fsutil::unique_name("b")
}

/// Extracts a tar archive (plain or gzip) into the directory `dest` with the same safety
/// as a layer import (no entry escapes `dest`): ADD of a local archive.
pub fn extract_archive(
    archive: &std::path::Path,
    dest: &std::path::Path,
) -> Result<(), ImageError> {
    let budget = budget::Budget::for_store(budget::DEFAULT_MAX_UNPACKED, dest);
    layer::extract_layer(archive, dest, &budget).map(|_| ())
}
