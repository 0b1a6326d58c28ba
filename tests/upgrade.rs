//! Issue 10's upgrade path through the real binary: state the previous release wrote
//! (`src/store/fixtures/v1`) loads, its running containers are kept by `up`, and a state
//! database of a newer rstack is refused untouched.

mod common;

use common::*;
use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/fixtures/v1");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURE}/{name}")).expect("fixture")
}

/// The previous release's `plan::config_hash`, written out: sha256 of the version, the image
/// id and the service's JSON as that release serialized it (sorted keys, depends_on emptied).
fn v1_hash(service_def: &Value, image_id: &str) -> String {
    let mut def = service_def.clone();
    def["depends_on"] = Value::Object(Default::default());
    let mut h = Sha256::new();
    h.update(b"rstack-config-v1\0");
    h.update(image_id.as_bytes());
    h.update([0]);
    h.update(serde_json::to_string(&def).expect("json").as_bytes());
    hex::encode(h.finalize())
}

fn user_version(db: &Path) -> i64 {
    Connection::open(db)
        .expect("open")
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version")
}

#[test]
fn containers_the_previous_release_started_are_kept_by_up_after_the_upgrade() {
    if skip_unless_root("upgrade_keep") {
        return;
    }
    let mut env = Env::new("upgkeep");
    let p = env.project("upgkeep");
    env.import_busybox();
    let compose = fixture("compose.yaml").replace("name: v1fixture", &format!("name: {p}"));
    env.write("compose.yaml", &compose);
    env.ok(&["up", "-d", "--wait"]);
    let before = env.ps_json(&p);
    env.stop_daemon(libc::SIGTERM);

    // Make the state what the previous release wrote for these containers: its service
    // documents (every field written, defaults included), its hashes, no schema version.
    let db = env.data_root.join("state.db");
    {
        let conn = Connection::open(&db).expect("open");
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT id, doc FROM containers")
            .expect("select")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows.len(), 2);
        for (id, doc) in rows {
            let mut doc: Value = serde_json::from_str(&doc).expect("doc");
            let service = doc["service"].as_str().expect("service").to_string();
            let old: Value = serde_json::from_str(&fixture(&format!("container-{service}.json")))
                .expect("fixture doc");
            // The formula above is the one that release used: it gives its stored hash.
            assert_eq!(
                v1_hash(&old["service_def"], old["image_id"].as_str().expect("id")),
                old["config_hash"]
            );
            let image_id = doc["image_id"].as_str().expect("image id").to_string();
            doc["config_hash"] = Value::String(v1_hash(&old["service_def"], &image_id));
            doc["service_def"] = old["service_def"].clone();
            conn.execute(
                "UPDATE containers SET doc = ?1 WHERE id = ?2",
                (serde_json::to_string(&doc).expect("json"), id),
            )
            .expect("update");
        }
        conn.pragma_update(None, "user_version", 0)
            .expect("version");
    }

    // The upgraded daemon adopts them, and `up` with the same file keeps them: same
    // containers, same processes.
    env.ok(&["up", "-d", "--wait"]);
    let after = env.ps_json(&p);
    for svc in ["app", "db"] {
        let (b, a) = (env.service(&before, svc), env.service(&after, svc));
        assert_eq!(
            a["id"],
            b["id"],
            "{svc} was recreated:\n{}",
            env.daemon_log()
        );
        assert_eq!(a["pid"], b["pid"], "{svc} was restarted");
        assert_eq!(a["state"], "running");
    }
    assert_eq!(user_version(&db), 2);
    env.ok(&["-p", &p, "down", "-t", "1"]);
}

#[test]
fn the_previous_release_state_database_is_read_after_the_upgrade() {
    if skip_unless_root("upgrade_read") {
        return;
    }
    let env = Env::new("upgread");
    std::fs::create_dir_all(&env.data_root).expect("mkdir");
    std::fs::copy(
        format!("{FIXTURE}/state.db"),
        env.data_root.join("state.db"),
    )
    .expect("copy");
    let mut daemon = env.start_daemon();
    // Its containers' processes are long gone (the fixture was made on another boot): the
    // daemon finds them exited, and lists every one.
    let rows = env.ps_json("v1fixture");
    let mut names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["v1fixture-app-1", "v1fixture-db-1"], "{rows:?}");
    for file in ["container-app.json", "container-db.json"] {
        let old: Value = serde_json::from_str(&fixture(file)).expect("fixture");
        assert!(
            rows.iter().any(|r| r["id"] == old["id"]),
            "{file}: {rows:?}"
        );
    }
    // Migrated to this build's schema (step 2: sync sources).
    assert_eq!(user_version(&env.data_root.join("state.db")), 2);
    drop(env);
    let _ = daemon.wait();
}

#[test]
fn a_state_database_of_a_newer_rstack_is_refused_and_left_unchanged() {
    if skip_unless_root("upgrade_newer") {
        return;
    }
    let env = Env::new("upgnewer");
    std::fs::create_dir_all(&env.data_root).expect("mkdir");
    let db = env.data_root.join("state.db");
    std::fs::copy(format!("{FIXTURE}/state.db"), &db).expect("copy");
    Connection::open(&db)
        .expect("open")
        .pragma_update(None, "user_version", 99)
        .expect("version");
    let bytes = std::fs::read(&db).expect("read");

    let (st, msg) = env.daemon_refusal();
    assert!(
        st.is_some_and(|s| !s.success()),
        "a daemon started on a newer database: {msg}"
    );
    assert!(
        msg.contains("was written by a newer rstack (schema 99, this one knows up to 2)")
            && msg.contains("upgrade rstack"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(&db).expect("read"),
        bytes,
        "the database was written"
    );
    assert_eq!(user_version(&db), 99);
}
