//! Deferred durability (`store/durable.rs`): a commit's record of what is not on disk yet,
//! removed once the filesystem is synced, and what the daemon's start makes of one a crash
//! left behind.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Tar, TestDir, TestLayer, config_json, oci_archive, sha};
use crate::image::ImageStore;

fn layer(name: &str, content: &[u8]) -> TestLayer {
    let mut t = Tar::new();
    t.file(name, content, 0o644);
    TestLayer::plain(t.finish())
}

fn import(s: &ImageStore, dir: &TestDir, tag: &str, layers: &[TestLayer]) {
    let config = config_json(layers);
    let file = dir.write(&format!("{tag}.tar"), &oci_archive(&config, layers, None));
    s.import(&file, tag).expect("import");
}

fn records(root: &Path) -> usize {
    fs::read_dir(root.join("unsynced")).map_or(0, |d| d.count())
}

/// Waits for the commits' sync threads to remove their records.
fn settled(root: &Path) {
    let start = Instant::now();
    while records(root) > 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "records stay");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a crash leaves: the record of a commit whose sync never finished.
fn leave_record(root: &Path, boot_id: &str, layers: &[&TestLayer], blobs: &[String]) {
    let layers: Vec<(String, String)> = layers
        .iter()
        .map(|l| (sha(&l.blob), l.diff_id.clone()))
        .collect();
    let record = serde_json::json!({ "boot_id": boot_id, "layers": layers, "blobs": blobs });
    fs::create_dir_all(root.join("unsynced")).unwrap();
    fs::write(root.join("unsynced/commit-crashed"), record.to_string()).unwrap();
}

fn this_boot() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_commit_is_recorded_until_its_sync_removes_the_record() {
    let dir = TestDir::new("durable-settle");
    let root = dir.path().join("store");
    let s = ImageStore::open(&root).unwrap();
    import(&s, &dir, "a", &[layer("f", b"a")]);
    settled(&root);
    // Nothing new: nothing recorded.
    import(&s, &dir, "a", &[layer("f", b"a")]);
    assert_eq!(records(&root), 0);
    assert!(s.resolve("a").is_ok());
}

#[test]
fn a_record_of_this_boot_is_only_synced() {
    let dir = TestDir::new("durable-same-boot");
    let root = dir.path().join("store");
    let s = ImageStore::open(&root).unwrap();
    let a = layer("f", b"a");
    import(&s, &dir, "a", std::slice::from_ref(&a));
    settled(&root);
    // Only the daemon died: the page cache has the data, so nothing is checked again (the
    // edit below would be undone by a repair).
    let file = root.join("layers").join(&a.diff_id).join("f");
    fs::write(&file, b"edited").unwrap();
    leave_record(&root, &this_boot(), &[&a], &[]);
    s.recover().unwrap();
    assert_eq!(records(&root), 0);
    assert_eq!(fs::read(&file).unwrap(), b"edited");
}

#[test]
fn a_record_of_an_earlier_boot_restores_layers_and_drops_images_that_lost_blobs() {
    let dir = TestDir::new("durable-earlier-boot");
    let root = dir.path().join("store");
    let s = ImageStore::open(&root).unwrap();
    let (base, a, b) = (layer("base", b"base"), layer("f", b"a"), layer("f", b"b"));
    import(&s, &dir, "a", &[base.clone(), a.clone()]);
    import(&s, &dir, "b", &[base.clone(), b.clone()]);
    settled(&root);

    // The machine went down before the sync: a's layer lost its file's data, b's layer
    // blob lost its own.
    let layer_dir = |l: &TestLayer| root.join("layers").join(&l.diff_id);
    fs::write(layer_dir(&a).join("f"), b"").unwrap();
    fs::write(root.join("blobs/sha256").join(sha(&b.blob)), b"").unwrap();
    leave_record(&root, "an-earlier-boot", &[&a, &b], &[]);
    s.recover().unwrap();

    assert_eq!(records(&root), 0);
    assert_eq!(
        fs::read(layer_dir(&a).join("f")).unwrap(),
        b"a",
        "extracted again"
    );
    assert!(!layer_dir(&b).exists(), "a layer without its blob is gone");
    assert!(!root.join("blobs/sha256").join(sha(&b.blob)).exists());
    let names: Vec<String> = s.list().unwrap().into_iter().map(|i| i.reference).collect();
    assert_eq!(names, ["a:latest"], "b lost a blob and is pulled again");
    let img = s.resolve("a").unwrap();
    assert_eq!(fs::read(img.layers[0].join("f")).unwrap(), b"a");
    assert_eq!(fs::read(img.layers[1].join("base")).unwrap(), b"base");
}

#[test]
fn a_record_cut_short_or_unreadable_does_not_stop_the_start() {
    let dir = TestDir::new("durable-torn");
    let root = dir.path().join("store");
    let s = ImageStore::open(&root).unwrap();
    import(&s, &dir, "a", &[layer("f", b"a")]);
    settled(&root);
    fs::write(root.join("unsynced/.tmp-1-2-3"), b"{\"boot").unwrap();
    fs::write(root.join("unsynced/commit-torn"), b"{\"boot").unwrap();
    s.recover().unwrap();
    assert_eq!(records(&root), 0);
    assert!(s.resolve("a").is_ok());
}
