//! Import of the three archive formats, whiteouts across layers, digest verification and the
//! non-archive error.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::json;

use super::{
    Tar, TestDir, TestLayer, config_json, docker_save, gzip, is_root, manifest_json, oci_archive,
    sha,
};
use crate::image::{ImageError, ImageStore};

/// Lower layer: a/keep, a/gone, b/old; upper (gzip): deletes a/gone, makes b opaque, adds b/new.
fn two_layers() -> (TestLayer, TestLayer) {
    let mut lower = Tar::new();
    lower
        .dir("a/", 0o755)
        .file("a/keep", b"keep", 0o644)
        .file("a/gone", b"gone", 0o644)
        .dir("b/", 0o755)
        .file("b/old", b"old", 0o644);
    let mut upper = Tar::new();
    upper
        .file("a/.wh.gone", b"", 0o644)
        .dir("b/", 0o755)
        .file("b/.wh..wh..opq", b"", 0o644)
        .file("b/new", b"new", 0o644)
        .file("top", b"top", 0o644);
    (
        TestLayer::plain(lower.finish()),
        TestLayer::gzip(upper.finish()),
    )
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.to_str()?).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: valid C strings and buffer.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (r >= 0).then(|| buf[..r as usize].to_vec())
}

/// Checks the two-layer image: order, contents and overlay whiteouts.
fn check_two_layer_image(s: &ImageStore, reference: &str, lower: &TestLayer, upper: &TestLayer) {
    let img = s.resolve(reference).expect("resolve");
    let root = s.root();
    assert_eq!(
        img.layers,
        vec![
            root.join("layers").join(&upper.diff_id),
            root.join("layers").join(&lower.diff_id)
        ],
        "topmost layer first"
    );
    let (top, bottom) = (&img.layers[0], &img.layers[1]);
    assert_eq!(fs::read(bottom.join("a/gone")).unwrap(), b"gone");
    assert_eq!(fs::read(top.join("b/new")).unwrap(), b"new");
    assert!(!top.join("a/.wh.gone").exists(), "whiteout file converted");
    assert!(
        !top.join("b/.wh..wh..opq").exists(),
        "opaque marker converted"
    );
    if is_root() {
        let wh = fs::symlink_metadata(top.join("a/gone")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(wh.rdev(), 0);
        assert_eq!(
            xattr(&top.join("b"), "trusted.overlay.opaque").as_deref(),
            Some(&b"y"[..])
        );
        assert_eq!(xattr(&top.join("a"), "trusted.overlay.opaque"), None);
    }
    let c = &img.config;
    assert_eq!(c.entrypoint, Some(vec!["/bin/app".to_string()]));
    assert_eq!(c.cmd, Some(vec!["--serve".to_string()]));
    assert_eq!(c.env, vec!["PATH=/usr/bin:/bin", "MODE=test"]);
    assert_eq!(c.working_dir.as_deref(), Some("/srv"));
    assert_eq!(c.user.as_deref(), Some("1000:1000"));
    assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
}

#[test]
fn oci_archive_two_layers_with_whiteouts() {
    let dir = TestDir::new("oci");
    let (lower, upper) = two_layers();
    let layers = [lower.clone(), upper.clone()];
    let config = config_json(&layers);
    let archive = dir.write("img.tar", &oci_archive(&config, &layers, Some("1.0")));
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let info = s.import(&archive, "app:1.0").expect("import");
    assert_eq!(info.reference, "app:1.0");
    assert_eq!(info.id, format!("sha256:{}", sha(&config)));
    assert_eq!(
        info.compressed_size,
        (lower.blob.len() + upper.blob.len()) as u64,
        "compressed size is the sum of layer blobs"
    );
    // keep, gone and old below; new and top above (whiteouts are not files).
    assert_eq!(
        info.size,
        4 + 4 + 3 + 3 + 3,
        "size is the unpacked files' bytes"
    );
    assert_eq!(s.list().unwrap()[0].size, info.size);
    assert_eq!(info.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    check_two_layer_image(&s, "app:1.0", &lower, &upper);
    let img = s.resolve("docker.io/library/app:1.0").unwrap();
    assert_eq!(img.id, info.id);
    assert_eq!(img.reference, "app:1.0");
    // The original manifest is kept, so its digest matches the archive's.
    let manifest = manifest_json(&config, &layers);
    assert!(s.root().join("blobs/sha256").join(sha(&manifest)).is_file());
    let by_digest = s
        .resolve(&format!("app@sha256:{}", sha(&manifest)))
        .unwrap();
    assert_eq!(by_digest.id, info.id);
    // The store itself is an OCI layout whose index names the image.
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(s.root().join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "app:1.0"
    );
    assert!(s.root().join("oci-layout").is_file());
}

#[test]
fn gzip_compressed_oci_archive() {
    let dir = TestDir::new("ocigz");
    let (lower, upper) = two_layers();
    let layers = [lower.clone(), upper.clone()];
    let config = config_json(&layers);
    let archive = dir.write("img.tar.gz", &gzip(&oci_archive(&config, &layers, None)));
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    s.import(&archive, "gz").expect("import");
    check_two_layer_image(&s, "gz:latest", &lower, &upper);
}

#[test]
fn docker_save_archive() {
    let dir = TestDir::new("docker");
    let (lower, upper) = two_layers();
    let layers = [lower.clone(), upper.clone()];
    let config = config_json(&layers);
    let archive = dir.write("save.tar", &docker_save(&config, &layers, &["web:2"]));
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let info = s
        .import(&archive, "docker.io/library/web:2")
        .expect("import");
    assert_eq!(info.reference, "web:2");
    assert_eq!(
        info.id,
        format!("sha256:{}", sha(&config)),
        "docker image id"
    );
    check_two_layer_image(&s, "web:2", &lower, &upper);
    assert_eq!(s.resolve(&info.id).unwrap().reference, "web:2");
}

#[test]
fn docker_save_picks_the_tagged_image() {
    let dir = TestDir::new("multi");
    let mk = |content: &[u8]| {
        let mut t = Tar::new();
        t.file("f", content, 0o644);
        TestLayer::plain(t.finish())
    };
    let (la, lb) = (mk(b"a"), mk(b"b"));
    let (ca, cb) = (
        config_json(std::slice::from_ref(&la)),
        config_json(std::slice::from_ref(&lb)),
    );
    let mut t = Tar::new();
    t.file(&format!("{}.json", sha(&ca)), &ca, 0o644)
        .file(&format!("{}.json", sha(&cb)), &cb, 0o644)
        .file("a/layer.tar", &la.blob, 0o644)
        .file("b/layer.tar", &lb.blob, 0o644)
        // Old docker versions store a repeated layer as a symlink to the first copy.
        .symlink("c/layer.tar", "../b/layer.tar");
    let manifest = json!([
        {"Config": format!("{}.json", sha(&ca)), "RepoTags": ["a:1"], "Layers": ["a/layer.tar"]},
        {"Config": format!("{}.json", sha(&cb)), "RepoTags": ["b:1"], "Layers": ["c/layer.tar"]},
    ]);
    t.file(
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
        0o644,
    );
    let archive = dir.write("multi.tar", &t.finish());
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    s.import(&archive, "b:1").expect("import b");
    let img = s.resolve("b:1").unwrap();
    assert_eq!(fs::read(img.layers[0].join("f")).unwrap(), b"b");
    let err = s.import(&archive, "c:1").unwrap_err();
    assert!(err.to_string().contains("holds 2 images"), "{err}");
}

#[test]
fn gzip_rootfs_tar() {
    let dir = TestDir::new("rootfsgz");
    let mut t = Tar::new();
    t.dir("./", 0o755).file("./bin/sh", b"shell", 0o755);
    let tar = t.finish();
    let archive = dir.write("rootfs.tar.gz", &gzip(&tar));
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let info = s.import(&archive, "rootfs").expect("import");
    let img = s.resolve("rootfs").unwrap();
    assert_eq!(img.layers, vec![s.root().join("layers").join(sha(&tar))]);
    assert_eq!(fs::read(img.layers[0].join("bin/sh")).unwrap(), b"shell");
    assert_eq!(info.compressed_size, fs::metadata(&archive).unwrap().len());
    assert_eq!(info.size, 5);
    assert_eq!(info.created, None);
    // The config blob is what the id names.
    let hex = info.id.strip_prefix("sha256:").unwrap();
    let config = fs::read(s.root().join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(sha(&config), hex);
}

#[test]
fn non_archive_is_rejected_with_a_clear_message() {
    let dir = TestDir::new("notes");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let long = "some notes\n".repeat(100);
    for body in [
        &b"just some notes\n"[..],
        long.as_bytes(),
        &gzip(b"hello")[..],
        b"",
    ] {
        let file = dir.write("notes.txt", body);
        let err = s.import(&file, "notes").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "\"{}\" is not an image archive: expected a rootfs tar, a docker-save tar or an OCI archive (gzip allowed)",
                file.display()
            )
        );
    }
    let err = s.import(&dir.path().join("missing.tar"), "x").unwrap_err();
    assert!(matches!(err, ImageError::Io { .. }), "{err}");
}

#[test]
fn bad_blob_digest_is_rejected() {
    let dir = TestDir::new("baddigest");
    let (lower, upper) = two_layers();
    let layers = [lower.clone(), upper];
    let config = config_json(&layers);
    let good = oci_archive(&config, &layers, None);
    // Same archive, but the lower layer's blob content is altered under its original name.
    let mut tampered = Tar::new();
    let mut ar = tar::Archive::new(&good[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if path.ends_with(&sha(&lower.blob)) {
            data[600] ^= 0xff;
        }
        if e.header().entry_type() == tar::EntryType::Directory {
            tampered.dir(&path, 0o755);
        } else {
            tampered.file(&path, &data, 0o644);
        }
    }
    let archive = dir.write("bad.tar", &tampered.finish());
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let err = s.import(&archive, "bad").unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(s.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(s.root().join("tmp")).unwrap().count(), 0);
}

#[test]
fn wrong_diff_id_is_rejected() {
    let dir = TestDir::new("baddiff");
    let (lower, mut upper) = two_layers();
    upper.diff_id = sha(b"something else");
    let layers = [lower, upper];
    let config = config_json(&layers);
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    for (name, bytes) in [
        ("oci.tar", oci_archive(&config, &layers, None)),
        ("save.tar", docker_save(&config, &layers, &["x:1"])),
    ] {
        let archive = dir.write(name, &bytes);
        let err = s.import(&archive, "x:1").unwrap_err();
        assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
        assert!(err.to_string().contains("diff_id"), "{err}");
    }
    assert!(s.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(s.root().join("tmp")).unwrap().count(), 0);
}

#[test]
fn docker_save_config_not_matching_its_name_is_rejected() {
    let dir = TestDir::new("badcfg");
    let (lower, upper) = two_layers();
    let layers = [lower, upper];
    let config = config_json(&layers);
    let mut t = Tar::new();
    t.file(&format!("{}.json", sha(b"other")), &config, 0o644)
        .file("l0/layer.tar", &layers[0].blob, 0o644)
        .file("l1/layer.tar", &layers[1].blob, 0o644);
    let manifest = json!([{
        "Config": format!("{}.json", sha(b"other")),
        "RepoTags": ["x:1"],
        "Layers": ["l0/layer.tar", "l1/layer.tar"]
    }]);
    t.file(
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
        0o644,
    );
    let archive = dir.write("save.tar", &t.finish());
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let err = s.import(&archive, "x:1").unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
}

#[test]
fn oci_index_selects_named_manifest_and_follows_nested_index() {
    let dir = TestDir::new("ociindex");
    let mk = |content: &[u8]| {
        let mut t = Tar::new();
        t.file("f", content, 0o644);
        TestLayer::plain(t.finish())
    };
    let (la, lb) = (mk(b"a"), mk(b"b"));
    let (ca, cb) = (
        config_json(std::slice::from_ref(&la)),
        config_json(std::slice::from_ref(&lb)),
    );
    let (ma, mb) = (
        manifest_json(&ca, std::slice::from_ref(&la)),
        manifest_json(&cb, std::slice::from_ref(&lb)),
    );
    // Image b sits behind a nested multi-platform index.
    let nested = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": format!("sha256:{}", sha(b"not-here")), "size": 8,
             "platform": {"architecture": "s390x", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": format!("sha256:{}", sha(&mb)), "size": mb.len(),
             "platform": {"architecture": crate::image::oci::host_arch(), "os": "linux"}}
        ]
    }))
    .unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": format!("sha256:{}", sha(&ma)), "size": ma.len(),
         "annotations": {"org.opencontainers.image.ref.name": "a"}},
        {"mediaType": "application/vnd.oci.image.index.v1+json",
         "digest": format!("sha256:{}", sha(&nested)), "size": nested.len(),
         "annotations": {"io.containerd.image.name": "docker.io/library/b:latest"}}
    ]});
    let mut t = Tar::new();
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)
        .file("index.json", &serde_json::to_vec(&index).unwrap(), 0o644);
    for b in [&ma, &mb, &ca, &cb, &nested, &la.blob, &lb.blob] {
        t.file(&format!("blobs/sha256/{}", sha(b)), b, 0o644);
    }
    let archive = dir.write("idx.tar", &t.finish());
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    s.import(&archive, "b").expect("import b");
    s.import(&archive, "a:latest").expect("import a");
    let read = |r: &str| fs::read(s.resolve(r).unwrap().layers[0].join("f")).unwrap();
    assert_eq!(read("a"), b"a");
    assert_eq!(read("b"), b"b");
    let err = s.import(&archive, "c").unwrap_err();
    assert!(matches!(err, ImageError::InvalidArchive { .. }), "{err}");
}

/// Unmounts (lazily) when dropped, so a failing assertion leaves no mount behind.
struct MountGuard(std::ffi::CString);

impl Drop for MountGuard {
    fn drop(&mut self) {
        // SAFETY: valid C string; detaching a mount we made.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn layers_stack_correctly_under_a_real_overlay_mount() {
    if !is_root()
        && crate::testutil::skip(
            "layers_stack_correctly_under_a_real_overlay_mount",
            "not root",
        )
    {
        return;
    }
    let dir = TestDir::new("overlay");
    let (lower, upper) = two_layers();
    let layers = [lower, upper];
    let config = config_json(&layers);
    let archive = dir.write("img.tar", &oci_archive(&config, &layers, None));
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    s.import(&archive, "ov").unwrap();
    let img = s.resolve("ov").unwrap();
    let lowerdir: Vec<String> = img.layers.iter().map(|p| p.display().to_string()).collect();
    let target = dir.path().join("merged");
    fs::create_dir(&target).unwrap();
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    let target_c = c(target.to_str().unwrap());
    let opts = c(&format!("lowerdir={}", lowerdir.join(":")));
    // SAFETY: valid C strings; read-only overlay of directories we own.
    let rc = unsafe {
        libc::mount(
            c("overlay").as_ptr(),
            target_c.as_ptr(),
            c("overlay").as_ptr(),
            libc::MS_RDONLY,
            opts.as_ptr().cast(),
        )
    };
    if rc != 0 {
        crate::testutil::skip(
            "layers_stack_correctly_under_a_real_overlay_mount",
            &format!("overlay mount failed: {}", std::io::Error::last_os_error()),
        );
        return;
    }
    let _guard = MountGuard(target_c);
    assert_eq!(fs::read(target.join("a/keep")).unwrap(), b"keep");
    assert!(!target.join("a/gone").exists(), "whiteout hides the file");
    assert!(
        !target.join("b/old").exists(),
        "opaque dir hides lower content"
    );
    assert_eq!(fs::read(target.join("b/new")).unwrap(), b"new");
    assert_eq!(fs::read(target.join("top")).unwrap(), b"top");
}

#[test]
fn zstd_layers_and_zstd_archives() {
    let dir = TestDir::new("zstd");
    let (lower, upper_gz) = two_layers();
    let mut plain_upper = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&upper_gz.blob[..]),
        &mut plain_upper,
    )
    .unwrap();
    let upper = TestLayer::zstd(plain_upper);
    let layers = [lower.clone(), upper.clone()];
    let config = config_json(&layers);
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let archive = dir.write("z.tar", &oci_archive(&config, &layers, None));
    s.import(&archive, "z").expect("import zstd layer");
    check_two_layer_image(&s, "z", &lower, &upper);

    let mut t = Tar::new();
    t.file("hello", b"zstd rootfs", 0o644);
    let rootfs = dir.write("rootfs.tar.zst", &super::zstd(&t.finish()));
    s.import(&rootfs, "zroot").expect("import zstd rootfs");
    let img = s.resolve("zroot").unwrap();
    assert_eq!(
        fs::read(img.layers[0].join("hello")).unwrap(),
        b"zstd rootfs"
    );
}

#[test]
fn non_tar_layer_media_types_are_refused() {
    let dir = TestDir::new("wasm");
    let mut layer = TestLayer::plain(b"\0asm\x01\0\0\0".to_vec());
    layer.media_type = "application/vnd.wasm.content.layer.v1+wasm";
    let layers = [layer];
    let config = config_json(&layers);
    let archive = dir.write("w.tar", &oci_archive(&config, &layers, None));
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let err = s.import(&archive, "w").unwrap_err();
    assert!(matches!(err, ImageError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("wasm"), "{err}");
}

#[test]
fn rootfs_with_marker_like_files_stays_a_rootfs() {
    let dir = TestDir::new("markers");
    let mut t = Tar::new();
    t.file("manifest.json", br#"{"name": "my-web-app"}"#, 0o644)
        .file("index.json", b"{}", 0o644)
        .file("app/main.js", b"console.log(1)", 0o644);
    let archive = dir.write("app.tar", &t.finish());
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    s.import(&archive, "node-app").expect("import");
    let img = s.resolve("node-app").unwrap();
    assert_eq!(img.layers.len(), 1);
    assert_eq!(
        fs::read(img.layers[0].join("manifest.json")).unwrap(),
        br#"{"name": "my-web-app"}"#
    );
    assert!(img.layers[0].join("app/main.js").is_file());
}

/// The entries of a store directory (empty when nothing of an import is left).
fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_gzip_bomb_layer_is_refused_and_leaves_nothing() {
    let dir = TestDir::new("bomb");
    let mut t = Tar::new();
    t.dir("./", 0o755)
        .file("./small", b"fine", 0o644)
        .file("./zeros", &vec![0u8; 1 << 20], 0o644);
    let archive = dir.write("bomb.tar.gz", &gzip(&t.finish()));
    assert!(
        fs::metadata(&archive).unwrap().len() < 16 << 10,
        "compresses well"
    );
    let root = dir.path().join("store");
    let s = ImageStore::open(&root)
        .unwrap()
        .with_max_unpacked(256 << 10);
    let e = s.import(&archive, "bomb").unwrap_err();
    assert!(matches!(e, ImageError::TooLarge { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("unpack to more than 256.0 KiB") && msg.contains("image_max_unpacked"),
        "{msg}"
    );
    assert_eq!(entries(&root.join("layers")), Vec::<String>::new());
    assert_eq!(entries(&root.join("blobs/sha256")), Vec::<String>::new());
    assert_eq!(entries(&root.join("tmp")), Vec::<String>::new());
    assert!(s.list().unwrap().is_empty());
    // The same archive under a limit it fits in is imported.
    let s = s.with_max_unpacked(2 << 20);
    let info = s.import(&archive, "bomb").expect("import");
    assert_eq!(info.size, 4 + (1 << 20));
}

#[test]
fn an_oci_layer_that_overflows_after_a_good_one_leaves_no_layer() {
    let dir = TestDir::new("bomb2");
    let mut good = Tar::new();
    good.dir("a/", 0o755).file("a/x", b"x", 0o644);
    let mut bomb = Tar::new();
    bomb.file("zeros", &vec![0u8; 1 << 20], 0o644);
    let layers = [
        TestLayer::plain(good.finish()),
        TestLayer::gzip(bomb.finish()),
    ];
    let config = config_json(&layers);
    let archive = dir.write("img.tar", &oci_archive(&config, &layers, Some("1.0")));
    let root = dir.path().join("store");
    let s = ImageStore::open(&root).unwrap().with_max_unpacked(64 << 10);
    let e = s.import(&archive, "app:1.0").unwrap_err();
    assert!(matches!(e, ImageError::TooLarge { .. }), "{e:?}");
    assert_eq!(entries(&root.join("layers")), Vec::<String>::new());
    assert_eq!(entries(&root.join("blobs/sha256")), Vec::<String>::new());
}
