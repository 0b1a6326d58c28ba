//! Content-addressed OCI image store on disk: import of image archives (OCI archive, docker-save
//! tar, plain rootfs tar), resolution of references to extracted layer directories (overlay
//! lowerdirs, topmost first) and image configs, listing and removal with garbage collection.

mod admin;
mod archive;
pub mod budget;
mod details;
mod error;
mod fsutil;
mod layer;
mod oci;
mod reference;
pub mod registry;
mod save;
mod store;
mod tags;
mod zstd;

pub use admin::{LoadedImage, Pruned};
pub use details::HistoryRow;
pub use error::ImageError;
pub use reference::{Reference, normalize_reference};
pub use save::SavePlan;
pub use store::{ImageConfig, ImageInfo, ImageStore, NONE_REFERENCE, Pins, Removed, ResolvedImage};

#[cfg(test)]
mod tests;
