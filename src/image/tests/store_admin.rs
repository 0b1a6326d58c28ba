//! Tag, inspect, history, rm that keeps a used image, save and load through the store.

use std::fs;
use std::path::PathBuf;

use super::{Tar, TestDir, TestLayer, config_json, docker_save, oci_archive};
use crate::image::{ImageStore, NONE_REFERENCE};

fn layer(content: &[u8]) -> TestLayer {
    let mut t = Tar::new();
    t.file("f", content, 0o644);
    TestLayer::plain(t.finish())
}

fn archive(dir: &TestDir, name: &str, layers: &[TestLayer]) -> PathBuf {
    let config = config_json(layers);
    dir.write(name, &oci_archive(&config, layers, None))
}

#[test]
fn tag_adds_a_name_and_inspect_shows_both() {
    let dir = TestDir::new("tag");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let info = s
        .import(&archive(&dir, "a.tar", &[layer(b"a")]), "app:1")
        .unwrap();
    assert_eq!(
        s.tag("app:1", "registry.local/app:2").unwrap(),
        "registry.local/app:2"
    );
    let v = s.inspect("registry.local/app:2").unwrap();
    assert_eq!(v["Id"], info.id.as_str());
    assert_eq!(
        v["RepoTags"],
        serde_json::json!(["app:1", "registry.local/app:2"])
    );
    assert_eq!(v["Manifest"]["Digest"], info.digest.as_str());
    assert_eq!(v["RootFS"]["Layers"].as_array().map(Vec::len), Some(1));
    // Untagging one name keeps the image; the other name still resolves.
    let removed = s.remove_image("app:1", false).unwrap();
    assert_eq!(removed.untagged, ["app:1"]);
    assert!(removed.deleted.is_empty());
    assert_eq!(s.resolve("registry.local/app:2").unwrap().id, info.id);
    assert!(s.tag("nope:1", "x:1").is_err());
}

#[test]
fn rm_of_a_used_image_keeps_it_dangling_with_its_layers() {
    let dir = TestDir::new("rm-used");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let info = s
        .import(&archive(&dir, "a.tar", &[layer(b"a")]), "app:1")
        .unwrap();
    let layers = s.resolve("app:1").unwrap().layers;
    let removed = s.remove_image("app:1", true).unwrap();
    assert_eq!(removed.untagged, ["app:1"]);
    assert!(removed.deleted.is_empty());
    let listed = s.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].reference, NONE_REFERENCE);
    assert!(layers.iter().all(|l| l.is_dir()));
    // Removed by id once unused: everything goes.
    let removed = s.remove_image(&info.id, false).unwrap();
    assert_eq!(removed.deleted, [info.id.as_str()]);
    assert!(s.list().unwrap().is_empty());
    assert!(layers.iter().all(|l| !l.exists()));
}

#[test]
fn a_rootfs_import_has_one_history_entry() {
    let dir = TestDir::new("history");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let mut t = Tar::new();
    t.file("bin/x", b"12345", 0o755);
    let file = dir.write("rootfs.tar", &t.finish());
    let info = s.import(&file, "root:1").unwrap();
    let rows = s.history("root:1").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, info.id);
    assert_eq!(rows[0].created_by, "rstack image import");
    assert_eq!(rows[0].size, 5);
}

#[test]
fn save_then_load_keeps_ids_digests_and_names() {
    let dir = TestDir::new("save-load");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let a = s
        .import(
            &archive(&dir, "a.tar", &[layer(b"a"), layer(b"b")]),
            "app:1",
        )
        .unwrap();
    s.tag("app:1", "app:also").unwrap();
    let b = s
        .import(&archive(&dir, "b.tar", &[layer(b"a")]), "other")
        .unwrap();
    let plan = s
        .save_plan(&["app:1".into(), "app:also".into(), "other".into()])
        .unwrap();
    let out = dir.path().join("saved.tar");
    plan.write(fs::File::create(&out).unwrap()).unwrap();
    assert!(s.save_plan(&["nope".into()]).is_err());

    let t = ImageStore::open(&dir.path().join("store2")).unwrap();
    let loaded = t.load_archive(&out, "saved.tar").unwrap();
    let names: Vec<(Option<String>, String)> =
        loaded.into_iter().map(|l| (l.reference, l.id)).collect();
    assert_eq!(
        names,
        [
            (Some("app:1".to_string()), a.id.clone()),
            (Some("app:also".to_string()), a.id.clone()),
            (Some("other:latest".to_string()), b.id.clone()),
        ]
    );
    let listed = t.list().unwrap();
    let digests: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|i| (i.reference.as_str(), i.id.as_str(), i.digest.as_str()))
        .collect();
    assert_eq!(
        digests,
        [
            ("app:1", a.id.as_str(), a.digest.as_str()),
            ("app:also", a.id.as_str(), a.digest.as_str()),
            ("other:latest", b.id.as_str(), b.digest.as_str()),
        ]
    );
}

#[test]
fn load_reads_every_image_of_a_docker_save() {
    let dir = TestDir::new("load-docker");
    let layers = [layer(b"x")];
    let config = config_json(&layers);
    let file = dir.write("d.tar", &docker_save(&config, &layers, &["one:1", "two:2"]));
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    let loaded = s.load_archive(&file, "d.tar").unwrap();
    let names: Vec<Option<String>> = loaded.into_iter().map(|l| l.reference).collect();
    assert_eq!(
        names,
        [Some("one:1".to_string()), Some("two:2".to_string())]
    );
    // A plain rootfs tar is not something to load.
    let mut t = Tar::new();
    t.file("x", b"x", 0o644);
    let rootfs = dir.write("r.tar", &t.finish());
    let err = s.load_archive(&rootfs, "r.tar").unwrap_err();
    assert!(err.to_string().contains("image import"), "{err}");
}

#[test]
fn gc_keeps_layer_directories_that_pins_name_and_all_when_they_fail() {
    let dir = TestDir::new("pins");
    let s = ImageStore::open(&dir.path().join("store")).unwrap();
    s.import(&archive(&dir, "a.tar", &[layer(b"a")]), "app:1")
        .unwrap();
    let layers = s.resolve("app:1").unwrap().layers;
    let pinned = std::sync::Arc::new(std::sync::Mutex::new(Ok(layers.clone())));
    let p = pinned.clone();
    s.set_pins(crate::image::Pins(Box::new(move || {
        p.lock().unwrap().clone()
    })));
    // The image goes (as an older release removed images), its layer stays while pinned.
    s.remove_image("app:1", false).unwrap();
    assert!(layers.iter().all(|l| l.is_dir()));
    *pinned.lock().unwrap() = Err("no list".to_string());
    s.gc().unwrap();
    assert!(layers.iter().all(|l| l.is_dir()));
    *pinned.lock().unwrap() = Ok(Vec::new());
    s.gc().unwrap();
    assert!(layers.iter().all(|l| !l.exists()));
}
