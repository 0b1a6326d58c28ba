//! Test helpers for the image store: in-memory tar/gzip builders and builders for the three
//! archive formats (OCI archive, docker-save, rootfs tar), plus a self-removing temp dir.

mod durable;
mod extract;
mod import;
mod store_admin;
mod store_ops;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use sha2::{Digest, Sha256};

use super::fsutil::remove_tree;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temp directory removed (even on test failure) when dropped.
pub(super) struct TestDir(pub PathBuf);

impl TestDir {
    pub fn new(tag: &str) -> TestDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("rstack-image-{tag}-{}-{n}", std::process::id()));
        let _ = remove_tree(&p);
        std::fs::create_dir_all(&p).expect("create test dir");
        TestDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to a file in this dir and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write test file");
        p
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = remove_tree(&self.0);
    }
}

pub(super) fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

pub(super) fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

pub(super) fn is_root() -> bool {
    super::fsutil::is_root()
}

/// Builds a tar in memory, entry by entry, without the path checks of `tar::Builder` helpers
/// (tests need to write hostile paths).
pub(super) struct Tar {
    b: tar::Builder<Vec<u8>>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(path: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        let name = &mut h.as_old_mut().name;
        let bytes = path.as_bytes();
        assert!(bytes.len() < name.len(), "test path too long");
        name[..bytes.len()].copy_from_slice(bytes);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    fn push(&mut self, mut h: tar::Header, data: &[u8]) -> &mut Tar {
        h.set_cksum();
        self.b.append(&h, data).expect("append");
        self
    }

    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Tar {
        self.push(Self::header(path, tar::EntryType::Directory, mode, 0), &[])
    }

    pub fn file(&mut self, path: &str, data: &[u8], mode: u32) -> &mut Tar {
        self.push(
            Self::header(path, tar::EntryType::Regular, mode, data.len() as u64),
            data,
        )
    }

    pub fn owned_file(&mut self, path: &str, data: &[u8], uid: u64, gid: u64) -> &mut Tar {
        let mut h = Self::header(path, tar::EntryType::Regular, 0o640, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.push(h, data)
    }

    fn link(&mut self, kind: tar::EntryType, path: &str, target: &str) -> &mut Tar {
        let mut h = Self::header(path, kind, 0o777, 0);
        h.set_link_name_literal(target).expect("link name");
        self.push(h, &[])
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Tar {
        self.link(tar::EntryType::Symlink, path, target)
    }

    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Tar {
        self.link(tar::EntryType::Link, path, target)
    }

    pub fn device(&mut self, path: &str, kind: tar::EntryType, major: u32, minor: u32) -> &mut Tar {
        let mut h = Self::header(path, kind, 0o666, 0);
        h.set_device_major(major).expect("major");
        h.set_device_minor(minor).expect("minor");
        self.push(h, &[])
    }

    /// A pax extended header applying to the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Tar {
        let mut data = Vec::new();
        for (k, v) in records {
            let body_len = k.len() + v.len() + 3; // ' ', '=', '\n'
            let mut len = body_len + 1;
            while len != body_len + len.to_string().len() {
                len = body_len + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let h = Self::header(
            "PaxHeader",
            tar::EntryType::XHeader,
            0o644,
            data.len() as u64,
        );
        self.push(h, &data)
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().expect("finish tar")
    }
}

/// A layer as stored in an archive: its blob (maybe gzip) and its diff_id.
#[derive(Clone)]
pub(super) struct TestLayer {
    pub blob: Vec<u8>,
    pub diff_id: String,
    pub media_type: &'static str,
}

impl TestLayer {
    pub fn plain(tar: Vec<u8>) -> TestLayer {
        TestLayer {
            diff_id: sha(&tar),
            blob: tar,
            media_type: "application/vnd.oci.image.layer.v1.tar",
        }
    }

    pub fn zstd(tar: Vec<u8>) -> TestLayer {
        TestLayer {
            diff_id: sha(&tar),
            blob: zstd(&tar),
            media_type: "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }

    pub fn gzip(tar: Vec<u8>) -> TestLayer {
        TestLayer {
            diff_id: sha(&tar),
            blob: gzip(&tar),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
        }
    }
}

/// An image config JSON document for `layers` with a recognisable run config.
pub(super) fn config_json(layers: &[TestLayer]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": super::oci::host_arch(),
        "os": "linux",
        "config": {
            "Entrypoint": ["/bin/app"],
            "Cmd": ["--serve"],
            "Env": ["PATH=/usr/bin:/bin", "MODE=test"],
            "WorkingDir": "/srv",
            "User": "1000:1000",
            "StopSignal": "SIGQUIT"
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| format!("sha256:{}", l.diff_id)).collect::<Vec<_>>()
        }
    }))
    .expect("config json")
}

/// The manifest JSON for `config` and `layers`.
pub(super) fn manifest_json(config: &[u8], layers: &[TestLayer]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{}", sha(config)),
            "size": config.len()
        },
        "layers": layers.iter().map(|l| json!({
            "mediaType": l.media_type,
            "digest": format!("sha256:{}", sha(&l.blob)),
            "size": l.blob.len()
        })).collect::<Vec<_>>()
    }))
    .expect("manifest json")
}

/// An OCI archive (`oci-layout`, `index.json`, `blobs/sha256/*`) holding one image.
pub(super) fn oci_archive(config: &[u8], layers: &[TestLayer], ref_name: Option<&str>) -> Vec<u8> {
    let manifest = manifest_json(config, layers);
    let mut desc = json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{}", sha(&manifest)),
        "size": manifest.len()
    });
    if let Some(r) = ref_name {
        desc["annotations"] = json!({ "org.opencontainers.image.ref.name": r });
    }
    let index = json!({ "schemaVersion": 2, "manifests": [desc] });
    let mut t = Tar::new();
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644);
    t.file(
        "index.json",
        &serde_json::to_vec(&index).expect("index"),
        0o644,
    );
    t.dir("blobs/", 0o755).dir("blobs/sha256/", 0o755);
    let mut blobs = vec![manifest.clone(), config.to_vec()];
    blobs.extend(layers.iter().map(|l| l.blob.clone()));
    for b in blobs {
        t.file(&format!("blobs/sha256/{}", sha(&b)), &b, 0o644);
    }
    t.finish()
}

/// A legacy `docker save` tar: `<config hex>.json`, `<n>/layer.tar`, `manifest.json`.
pub(super) fn docker_save(config: &[u8], layers: &[TestLayer], tags: &[&str]) -> Vec<u8> {
    let mut t = Tar::new();
    let config_name = format!("{}.json", sha(config));
    let mut layer_paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let p = format!("layer{i}/layer.tar");
        t.dir(&format!("layer{i}/"), 0o755).file(&p, &l.blob, 0o644);
        layer_paths.push(p);
    }
    t.file(&config_name, config, 0o644);
    let manifest = json!([{ "Config": config_name, "RepoTags": tags, "Layers": layer_paths }]);
    t.file(
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("manifest"),
        0o644,
    );
    t.finish()
}
