//! Store operations: reference handling, list, remove with garbage collection, re-tagging and
//! concurrent imports.

use std::fs;
use std::path::PathBuf;

use super::{Tar, TestDir, TestLayer, config_json, oci_archive, sha};
use crate::image::{ImageError, ImageInfo, ImageStore};

fn layer(content: &[u8]) -> TestLayer {
    let mut t = Tar::new();
    t.file("f", content, 0o644);
    TestLayer::plain(t.finish())
}

/// Writes an OCI archive whose layers are `layers` and returns its path.
fn archive(dir: &TestDir, name: &str, layers: &[TestLayer]) -> PathBuf {
    let config = config_json(layers);
    dir.write(name, &oci_archive(&config, layers, None))
}

fn count(dir: PathBuf) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn references_are_normalized_and_unknown_ones_reported() {
    let dir = TestDir::new("refs");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let file = archive(&dir, "a.tar", &[layer(b"a")]);
    let info = s.import(&file, "busybox").unwrap();
    assert_eq!(info.reference, "busybox:latest");
    for r in [
        "busybox",
        "busybox:latest",
        "library/busybox",
        "docker.io/library/busybox:latest",
        "index.docker.io/library/busybox",
    ] {
        let img = s.resolve(r).unwrap_or_else(|e| panic!("{r}: {e}"));
        assert_eq!(img.reference, "busybox:latest");
        assert_eq!(img.id, info.id);
    }
    let by_id = s.resolve(&format!("busybox@{}", info.id)).unwrap();
    assert_eq!(by_id.id, info.id);

    let err = s.resolve("x:1").unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }));
    assert_eq!(
        err.to_string(),
        "image \"x:1\" not found: import it with \"rstack image import FILE x:1\""
    );
    let err = s.resolve("docker.io/library/x").unwrap_err();
    assert!(
        err.to_string().starts_with("image \"x:latest\" not found"),
        "{err}"
    );
    let other = format!("sha256:{}", sha(b"nope"));
    assert!(matches!(
        s.resolve(&format!("busybox@{other}")),
        Err(ImageError::NotFound { .. })
    ));
    assert!(matches!(
        s.resolve(&other),
        Err(ImageError::NotFound { .. })
    ));

    for bad in ["Busybox", "bad name", "x@sha256:12"] {
        assert!(matches!(
            s.resolve(bad),
            Err(ImageError::InvalidReference { .. })
        ));
        assert!(matches!(
            s.import(&file, bad),
            Err(ImageError::InvalidReference { .. })
        ));
    }
    let err = s
        .import(&file, &format!("busybox@{}", info.id))
        .unwrap_err();
    assert!(matches!(err, ImageError::InvalidReference { .. }), "{err}");
}

#[test]
fn list_remove_and_garbage_collection() {
    let dir = TestDir::new("gc");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let (base, a, b) = (layer(b"base"), layer(b"a"), layer(b"b"));
    let fa = archive(&dir, "a.tar", &[base.clone(), a.clone()]);
    let fb = archive(&dir, "b.tar", &[base.clone(), b.clone()]);
    let ia = s.import(&fa, "img-a:1").unwrap();
    let ib = s.import(&fb, "img-b:1").unwrap();
    // The same content under a second tag shares everything.
    s.import(&fa, "alias:1").unwrap();

    let list = s.list().unwrap();
    let names: Vec<&str> = list.iter().map(|i| i.reference.as_str()).collect();
    assert_eq!(names, ["alias:1", "img-a:1", "img-b:1"]);
    assert_eq!(list[0].id, list[1].id);
    assert_eq!(list[1], ia);
    assert_eq!(list[2], ib);
    let layers = s.root().join("layers");
    assert_eq!(count(layers.clone()), 3, "base layer shared");

    s.remove("img-a:1").unwrap();
    assert!(s.resolve("alias:1").is_ok(), "alias keeps its content");
    assert_eq!(count(layers.clone()), 3);
    s.remove("alias:1").unwrap();
    assert!(!layers.join(&a.diff_id).exists(), "unused layer collected");
    assert!(layers.join(&base.diff_id).is_dir(), "shared layer kept");
    let img = s.resolve("img-b:1").unwrap();
    assert_eq!(fs::read(img.layers[0].join("f")).unwrap(), b"b");
    assert_eq!(fs::read(img.layers[1].join("f")).unwrap(), b"base");
    // manifest + config + 2 layers of img-b remain.
    assert_eq!(count(s.root().join("blobs/sha256")), 4);

    assert!(matches!(
        s.remove("img-a:1"),
        Err(ImageError::NotFound { .. })
    ));
    s.remove("docker.io/library/img-b:1").unwrap();
    assert!(s.list().unwrap().is_empty());
    assert_eq!(count(layers), 0);
    assert_eq!(count(s.root().join("blobs/sha256")), 0);
}

#[test]
fn reimport_under_same_tag_leaves_the_old_image_dangling_until_pruned() {
    let dir = TestDir::new("retag");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let (old, new) = (layer(b"old"), layer(b"new"));
    let first = s
        .import(&archive(&dir, "old.tar", std::slice::from_ref(&old)), "app")
        .unwrap();
    // Resolved (and cached) before the re-import, and by a second handle on the same store,
    // which must see the new image too.
    assert_eq!(s.resolve("app").unwrap().id, first.id);
    let other = ImageStore::open(s.root()).unwrap();
    assert_eq!(other.resolve("app").unwrap().id, first.id);
    let second = s
        .import(
            &archive(&dir, "new.tar", std::slice::from_ref(&new)),
            "app:latest",
        )
        .unwrap();
    assert_ne!(first.id, second.id);
    // The old image stays, untagged, as docker keeps it (a container may still use it).
    let dangling = ImageInfo {
        reference: crate::image::NONE_REFERENCE.to_string(),
        ..first.clone()
    };
    assert_eq!(s.list().unwrap(), vec![second.clone(), dangling.clone()]);
    assert_eq!(s.resolve("app").unwrap().id, second.id);
    assert_eq!(other.resolve("app").unwrap().id, second.id);
    assert_eq!(s.resolve(&first.id).unwrap().id, first.id);
    assert!(s.root().join("layers").join(&old.diff_id).is_dir());
    // Importing identical content again is a no-op that keeps the image.
    let again = s
        .import(
            &archive(&dir, "new2.tar", std::slice::from_ref(&new)),
            "app",
        )
        .unwrap();
    assert_eq!(again, second);
    // A prune that is told the old image is in use keeps it; then it collects it.
    let used: std::collections::HashSet<String> = [first.id.clone()].into();
    assert!(s.prune(false, &used, false).unwrap().deleted.is_empty());
    // A dry run names what would go and removes nothing.
    let dry = s.prune(false, &Default::default(), true).unwrap();
    assert_eq!(
        dry.deleted,
        [(dangling.reference.clone(), first.id.clone())]
    );
    assert_eq!(dry.reclaimed, 0);
    assert_eq!(s.list().unwrap(), vec![second.clone(), dangling.clone()]);
    assert!(s.root().join("layers").join(&old.diff_id).is_dir());
    let pruned = s.prune(false, &Default::default(), false).unwrap();
    assert_eq!(pruned.deleted, [(dangling.reference, first.id.clone())]);
    assert!(pruned.reclaimed > 0);
    assert_eq!(s.list().unwrap(), vec![second.clone()]);
    assert!(!s.root().join("layers").join(&old.diff_id).exists());
    assert!(s.root().join("layers").join(&new.diff_id).is_dir());
}

#[test]
fn store_survives_reopen_and_removes_stale_temp_dirs() {
    let dir = TestDir::new("reopen");
    let root = dir.path().join("store");
    let info = {
        let s = ImageStore::open(&root).unwrap();
        s.import(&archive(&dir, "a.tar", &[layer(b"a")]), "keep")
            .unwrap()
    };
    // Leftover of an import killed half way.
    fs::create_dir_all(root.join("tmp/layer-dead/etc")).unwrap();
    fs::write(root.join(".tmp-1-2-3"), b"half an index").unwrap();
    fs::write(root.join("blobs/sha256/.tmp-4-5-6"), b"half a blob").unwrap();
    let s = ImageStore::open(&root).unwrap();
    assert_eq!(s.list().unwrap(), vec![info]);
    s.gc().unwrap();
    assert_eq!(count(root.join("tmp")), 0);
    assert!(!root.join(".tmp-1-2-3").exists());
    assert!(!root.join("blobs/sha256/.tmp-4-5-6").exists());
    assert!(root.join("index.json").is_file());
    assert!(s.resolve("keep").is_ok());
}

#[test]
fn concurrent_imports_do_not_corrupt_the_store() {
    let dir = TestDir::new("concurrent");
    let root = dir.path().join("store");
    let base = layer(b"shared base");
    let files: Vec<PathBuf> = (0..6)
        .map(|i| {
            let top = layer(format!("top {i}").as_bytes());
            archive(&dir, &format!("{i}.tar"), &[base.clone(), top])
        })
        .collect();
    let first = &files[0];
    std::thread::scope(|scope| {
        for (i, f) in files.iter().enumerate() {
            let root = root.clone();
            scope.spawn(move || {
                // Each thread has its own handle, as separate processes would.
                let s = ImageStore::open(&root).unwrap();
                s.import(f, &format!("img{i}")).unwrap();
                // Everyone also imports image 0 under one tag, racing on it.
                s.import(first, "same").unwrap();
            });
        }
    });
    let s = ImageStore::open(&root).unwrap();
    let list = s.list().unwrap();
    assert_eq!(list.len(), 7);
    for i in 0..6 {
        let img = s.resolve(&format!("img{i}")).unwrap();
        assert_eq!(
            fs::read(img.layers[0].join("f")).unwrap(),
            format!("top {i}").as_bytes()
        );
        assert_eq!(fs::read(img.layers[1].join("f")).unwrap(), b"shared base");
    }
    assert_eq!(s.resolve("same").unwrap().id, s.resolve("img0").unwrap().id);
    assert_eq!(count(root.join("layers")), 7);
    assert_eq!(count(root.join("tmp")), 0);
}

/// The start path's cheap lookup answers only what a full resolve would answer now.
#[test]
fn a_cached_resolution_lasts_while_the_index_is_unchanged() {
    let dir = TestDir::new("cached");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    s.import(&archive(&dir, "a.tar", &[layer(b"a")]), "app:1")
        .unwrap();
    assert_eq!(s.resolve_cached("app:1"), None, "never resolved");
    let img = s.resolve("app:1").unwrap();
    assert_eq!(s.resolve_cached("app:1"), Some(img.clone()));
    assert_eq!(
        s.resolve_cached("app"),
        None,
        "cached by the reference asked for"
    );
    s.import(&archive(&dir, "b.tar", &[layer(b"b")]), "app:1")
        .unwrap();
    assert_eq!(s.resolve_cached("app:1"), None, "index.json changed");
    assert_ne!(s.resolve("app:1").unwrap().id, img.id);
    s.remove("app:1").unwrap();
    assert_eq!(s.resolve_cached("app:1"), None, "removed");
}
