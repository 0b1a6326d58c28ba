//! Content-addressed OCI image store on disk: import of image archives (OCI archive, docker-save
//! tar, plain rootfs tar), resolution of references to extracted layer directories (overlay
//! lowerdirs, topmost first) and image configs, listing and removal with garbage collection.

mod archive;
pub mod budget;
mod error;
mod fsutil;
mod layer;
mod oci;
mod reference;
pub mod registry;
mod store;
mod zstd;

pub use error::ImageError;
pub use reference::{Reference, normalize_reference};
pub use store::{ImageConfig, ImageInfo, ImageStore, PullStatus, ResolvedImage};

#[cfg(test)]
mod tests;
