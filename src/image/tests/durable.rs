//! Deferred durability (`store/durable.rs`): a commit's record of what is not on disk yet,
//! removed once the filesystem is synced, and what the daemon's start makes of one a crash
//! left behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Tar, TestDir, TestLayer, config_json, oci_archive, sha};
use crate::image::ImageStore;

fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut t = Tar::new();
    t.file(name, content, 0o644);
    t.finish()
}

fn layer(name: &str, content: &[u8]) -> TestLayer {
    TestLayer::plain(tar_of(name, content))
}

fn import(s: &ImageStore, dir: &TestDir, tag: &str, layers: &[TestLayer]) {
    let config = config_json(layers);
    let file = dir.write(&format!("{tag}.tar"), &oci_archive(&config, layers, None));
    s.import(&file, tag).expect("import");
}

fn record_paths(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root.join("unsynced"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// A record's layers as (blob, diff), and its other blobs.
type Listed = (Vec<(String, String)>, Vec<String>);

/// The records' contents.
fn records(root: &Path) -> Vec<Listed> {
    record_paths(root)
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_slice(&fs::read(p).unwrap()).unwrap();
            (
                serde_json::from_value(v["layers"].clone()).unwrap(),
                serde_json::from_value(v["blobs"].clone()).unwrap(),
            )
        })
        .collect()
}

/// Waits for the commits' sync threads to remove their records.
fn settled(root: &Path) {
    let start = Instant::now();
    while !record_paths(root).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "records stay");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a crash leaves: the record of a commit whose sync never finished.
fn leave_record(root: &Path, boot_id: &str, layers: &[&TestLayer]) {
    let layers: Vec<(String, String)> = layers
        .iter()
        .map(|l| (sha(&l.blob), l.diff_id.clone()))
        .collect();
    let record = serde_json::json!({ "boot_id": boot_id, "layers": layers, "blobs": [] });
    fs::write(root.join("unsynced/commit-crashed"), record.to_string()).unwrap();
}

/// Makes every record look left by an earlier boot (the machine went down).
fn from_an_earlier_boot(root: &Path) {
    for p in record_paths(root) {
        let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        v["boot_id"] = "an-earlier-boot".into();
        fs::write(&p, v.to_string()).unwrap();
    }
}

fn this_boot() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// A store of its own, in a directory of its own.
fn store(tag: &str) -> (TestDir, PathBuf, ImageStore) {
    let dir = TestDir::new(tag);
    let root = dir.path().join("store");
    let s = ImageStore::open(&root).unwrap();
    (dir, root, s)
}

fn names(s: &ImageStore) -> Vec<String> {
    s.list().unwrap().into_iter().map(|i| i.reference).collect()
}

#[test]
fn a_commits_sync_removes_its_record() {
    let (dir, root, s) = store("durable-settle");
    import(&s, &dir, "a", &[layer("f", b"a")]);
    settled(&root);
    assert!(s.resolve("a").is_ok());
}

#[test]
fn a_commit_records_the_layers_and_blobs_it_adds_and_nothing_in_place_already() {
    let (dir, root, s) = store("durable-record");
    let s = s.holding_syncs();
    let (base, a, b) = (layer("base", b"base"), layer("f", b"a"), layer("f", b"b"));
    // a's content again, as another blob (gzip): a new blob of a layer in place.
    let a_gz = TestLayer::gzip(tar_of("f", b"a"));
    assert_eq!(a_gz.diff_id, a.diff_id);

    import(&s, &dir, "a", &[base.clone(), a.clone(), a.clone()]);
    import(&s, &dir, "b", &[base.clone(), b.clone()]);
    import(&s, &dir, "c", std::slice::from_ref(&a_gz));
    import(&s, &dir, "c", std::slice::from_ref(&a_gz));
    let pair = |l: &TestLayer| (sha(&l.blob), l.diff_id.clone());
    let before = record_paths(&root);
    // A root filesystem tar names no diff_id: its layer is extracted before it is known to
    // be a's, which is in place, so only the new config and manifest are recorded.
    let rootfs = dir.write("rootfs.tar", &tar_of("f", b"a"));
    s.import(&rootfs, "r").unwrap();
    let added: Vec<PathBuf> = record_paths(&root)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&added[0]).unwrap()).unwrap();
    assert_eq!(v["layers"], serde_json::json!([]), "{v}");
    assert_eq!(v["blobs"].as_array().map(Vec::len), Some(2), "{v}");
    fs::remove_file(&added[0]).unwrap();
    let mut recs = records(&root);
    assert_eq!(recs.len(), 3, "the same image again adds nothing: {recs:?}");
    recs.sort_by_key(|(layers, _)| std::cmp::Reverse(layers.len()));
    // Layers once each (a repeated layer too), with config and manifest.
    assert_eq!(recs[0].0, [pair(&base), pair(&a)]);
    assert_eq!(recs[0].1.len(), 2);
    assert_eq!(recs[1].0, [pair(&b)]);
    assert_eq!(recs[1].1.len(), 2);
    assert!(
        recs[2].0.is_empty(),
        "a's layer was in place: {:?}",
        recs[2]
    );
    assert_eq!(recs[2].1.len(), 3);
    assert!(recs[2].1.contains(&sha(&a_gz.blob)));

    // The machine went down before any sync, and c's blob lost its data: c goes, and the
    // layer it shares with a stays (it was in place before c's commit).
    from_an_earlier_boot(&root);
    fs::write(root.join("blobs/sha256").join(sha(&a_gz.blob)), b"").unwrap();
    s.recover().unwrap();
    assert!(record_paths(&root).is_empty());
    assert_eq!(names(&s), ["a:latest", "b:latest", "r:latest"]);
    let img = s.resolve("a").unwrap();
    assert_eq!(fs::read(img.layers[0].join("f")).unwrap(), b"a");
}

#[test]
fn the_daemons_stop_settles_the_finished_commits() {
    let (dir, root, s) = store("durable-stop");
    let s = s.holding_syncs();
    import(&s, &dir, "a", &[layer("f", b"a")]);
    import(&s, &dir, "b", &[layer("f", b"b")]);
    assert_eq!(record_paths(&root).len(), 2);
    s.settle_finished();
    assert!(record_paths(&root).is_empty());
    assert_eq!(names(&s), ["a:latest", "b:latest"]);
}

#[test]
fn a_record_of_this_boot_is_only_synced() {
    let Some(boot) = this_boot() else { return };
    let (dir, root, s) = store("durable-same-boot");
    let a = layer("f", b"a");
    import(&s, &dir, "a", std::slice::from_ref(&a));
    settled(&root);
    // Only the daemon died: the page cache has the data, so nothing is checked again (the
    // edit below would be undone by a repair).
    let file = root.join("layers").join(&a.diff_id).join("f");
    fs::write(&file, b"edited").unwrap();
    leave_record(&root, &boot, &[&a]);
    s.recover().unwrap();
    assert!(record_paths(&root).is_empty());
    assert_eq!(fs::read(&file).unwrap(), b"edited");
}

#[test]
fn a_record_of_an_earlier_boot_restores_layers_and_drops_images_that_lost_blobs() {
    let (dir, root, s) = store("durable-earlier-boot");
    let (base, a, b) = (layer("base", b"base"), layer("f", b"a"), layer("f", b"b"));
    import(&s, &dir, "a", &[base.clone(), a.clone()]);
    import(&s, &dir, "b", &[base.clone(), b.clone()]);
    settled(&root);

    // The machine went down before the sync: a's layer lost its file's data, b's layer
    // blob lost its own.
    let layer_dir = |l: &TestLayer| root.join("layers").join(&l.diff_id);
    fs::write(layer_dir(&a).join("f"), b"").unwrap();
    fs::write(root.join("blobs/sha256").join(sha(&b.blob)), b"").unwrap();
    leave_record(&root, "an-earlier-boot", &[&a, &b]);
    s.recover().unwrap();

    assert!(record_paths(&root).is_empty());
    assert_eq!(
        fs::read(layer_dir(&a).join("f")).unwrap(),
        b"a",
        "extracted again"
    );
    assert!(!layer_dir(&b).exists(), "a layer without its blob is gone");
    assert!(!root.join("blobs/sha256").join(sha(&b.blob)).exists());
    assert_eq!(names(&s), ["a:latest"], "b lost a blob and is pulled again");
    let img = s.resolve("a").unwrap();
    assert_eq!(fs::read(img.layers[0].join("f")).unwrap(), b"a");
    assert_eq!(fs::read(img.layers[1].join("base")).unwrap(), b"base");
}

#[test]
fn a_torn_temp_record_goes_and_an_unreadable_record_stays() {
    let (dir, root, s) = store("durable-torn");
    import(&s, &dir, "a", &[layer("f", b"a")]);
    settled(&root);
    fs::write(root.join("unsynced/.tmp-1-2-3"), b"{\"boot").unwrap();
    fs::write(root.join("unsynced/commit-torn"), b"{\"boot").unwrap();
    s.recover().unwrap();
    assert!(!root.join("unsynced/.tmp-1-2-3").exists());
    assert!(root.join("unsynced/commit-torn").exists());
    assert!(s.resolve("a").is_ok());
}
