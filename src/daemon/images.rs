//! The engine's `ImageSource` on top of the image store: the store's answer becomes the plain
//! data `plan` reads, and its error the engine's typed one.
//!
//! A start resolves its image every time. An image resolved before (and index.json unchanged)
//! is answered at once, on the async thread: a hop to a blocking thread would cost every
//! start a wake-up. Only a first resolution, which reads the store's files, goes to one.

use super::adapter::Images;
use crate::image::{self, ImageError};
use crate::plan::{ImageConfig, ResolvedImage};
use crate::reconcile::{ImageSource, ImageSourceError};
use std::future::Future;

impl ImageSource for Images {
    fn resolve(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<ResolvedImage, ImageSourceError>> + Send {
        let cached = self.0.resolve_cached(reference);
        let store = self.0.clone();
        let reference = reference.to_string();
        async move {
            if let Some(img) = cached {
                return Ok(plain(img));
            }
            let shown = reference.clone();
            match tokio::task::spawn_blocking(move || store.resolve(&reference)).await {
                Ok(res) => res.map(plain).map_err(typed),
                Err(e) => Err(ImageSourceError::Io {
                    context: format!("resolving image \"{shown}\""),
                    source: std::io::Error::other(e),
                }),
            }
        }
    }
}

fn plain(img: image::ResolvedImage) -> ResolvedImage {
    let c = img.config;
    ResolvedImage {
        id: img.id,
        reference: img.reference,
        layers: img.layers,
        config: ImageConfig {
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            env: c.env,
            working_dir: c.working_dir,
            user: c.user,
            stop_signal: c.stop_signal,
            volumes: c.volumes,
        },
    }
}

/// The store's error as the engine tells kinds apart. Resolving reads index.json, a manifest
/// and a config: what else can fail there is a file that is not what it should be.
fn typed(e: ImageError) -> ImageSourceError {
    match e {
        ImageError::NotFound { reference } => ImageSourceError::NotFound { reference },
        ImageError::InvalidReference { reference, reason } => {
            ImageSourceError::InvalidReference { reference, reason }
        }
        ImageError::Io { context, source } => ImageSourceError::Io { context, source },
        ImageError::Corrupt { reason } => ImageSourceError::Corrupt { reason },
        other => ImageSourceError::Corrupt {
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageStore;
    use futures_util::FutureExt;
    use std::sync::Arc;

    use crate::testutil::TempDir;

    #[test]
    fn a_present_image_resolves_at_once_and_a_missing_one_by_kind() {
        let dir = TempDir::new("daemon-images");
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o755);
        h.set_cksum();
        tar.append_data(&mut h, "bin/x", &b"x\n"[..]).expect("tar");
        let file = dir.0.join("rootfs.tar");
        std::fs::write(&file, tar.into_inner().expect("tar")).expect("write");
        let store = ImageStore::open(&dir.0.join("store")).expect("store");
        store.import(&file, "app:1").expect("import");
        let images = Images(Arc::new(store));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        // A first resolution reads the store's files, on a blocking thread.
        let first = rt.block_on(images.resolve("app:1")).expect("resolve");
        assert_eq!(first.reference, "app:1");
        assert_eq!(first.layers.len(), 1);
        // Then it is answered at the first poll, outside any runtime: no thread hop (a
        // spawn_blocking here would panic).
        let again = images
            .resolve("app:1")
            .now_or_never()
            .expect("ready at the first poll")
            .expect("resolve");
        assert_eq!(again, first);
        let missing = rt.block_on(images.resolve("nope:1")).unwrap_err();
        assert!(
            matches!(&missing, ImageSourceError::NotFound { reference } if reference == "nope:1"),
            "{missing:?}"
        );
    }

    #[test]
    fn kinds_and_messages_survive_the_mapping() {
        let e = typed(ImageError::NotFound {
            reference: "web:1".into(),
        });
        assert!(matches!(e, ImageSourceError::NotFound { .. }));
        // The message users saw when the error was a string.
        let before = ImageError::NotFound {
            reference: "web:1".into(),
        }
        .to_string();
        assert_eq!(e.to_string(), before);
        let io = typed(ImageError::Io {
            context: "reading index.json".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        });
        match io {
            ImageSourceError::Io { source, .. } => {
                assert_eq!(source.raw_os_error(), Some(libc::ENOSPC))
            }
            other => panic!("{other:?}"),
        }
        let bad = typed(ImageError::Json {
            context: "reading config".into(),
            source: serde_json::from_str::<u8>("x").unwrap_err(),
        });
        assert!(matches!(bad, ImageSourceError::Corrupt { .. }), "{bad:?}");
    }
}
