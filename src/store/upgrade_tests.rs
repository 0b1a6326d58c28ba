//! State written by the release before schema versions (`fixtures/v1`) loads, keeps its
//! containers, and a newer schema is refused without a write.

use super::*;
use crate::plan::{Action, Desired, Observed, config_hash, diff};
use std::path::PathBuf;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/fixtures/v1");

/// A private copy of the fixture database, removed even when the test fails.
struct Copy(PathBuf);

impl Copy {
    fn new(tag: &str) -> Copy {
        let dir =
            std::env::temp_dir().join(format!("rstack-store-upgrade-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(format!("{FIXTURE}/state.db"), dir.join("state.db")).expect("copy");
        Copy(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("state.db")
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn user_version(db: &Path) -> i64 {
    let conn = Connection::open(db).expect("open");
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version")
}

#[test]
fn the_previous_release_database_opens_with_every_project_and_container() {
    let copy = Copy::new("open");
    assert_eq!(user_version(&copy.db()), 0, "the fixture predates versions");
    assert!(!Store::has_no_schema(&copy.db()).expect("read"));
    let store = Store::open(&copy.db()).expect("opens");
    let projects = store.projects().expect("projects");
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].name, "v1fixture");
    assert_eq!(
        projects[0].services.keys().collect::<Vec<_>>(),
        ["db", "app"]
    );
    let all = store.containers(None).expect("containers");
    let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["v1fixture-app-1", "v1fixture-db-1"]);
    assert_eq!(
        store.containers(Some("v1fixture")).expect("by project"),
        all
    );
    // The rows are the fixture's documents, read with today's types.
    for (rec, file) in all.iter().zip(["container-app.json", "container-db.json"]) {
        let text = std::fs::read_to_string(format!("{FIXTURE}/{file}")).expect("fixture");
        let doc: ContainerRecord = serde_json::from_str(&text).expect("decodes");
        assert_eq!(&doc, rec);
    }
    // Step 2 gave it the sync tables, empty.
    assert!(store.sources().expect("sources table").is_empty());
    assert!(store.history("any").expect("history table").is_empty());
    drop(store);
    assert_eq!(user_version(&copy.db()), schema::LATEST);
    // Written back in today's shape, a record reads the same.
    let store = Store::open(&copy.db()).expect("reopens");
    for rec in &all {
        store.put_container(rec).expect("put");
    }
    assert_eq!(store.containers(None).expect("containers"), all);
}

#[test]
fn a_container_of_the_previous_release_is_not_recreated() {
    let copy = Copy::new("diff");
    let store = Store::open(&copy.db()).expect("opens");
    let stored = store.project("v1fixture").expect("read").expect("project");
    // After the upgrade, `up` loads the same stack file with today's loader.
    let fs = crate::spec::MemFs::new().with(
        "/tmp/v1fix/work/compose.yaml",
        std::fs::read_to_string(format!("{FIXTURE}/compose.yaml")).expect("fixture"),
    );
    let opts = crate::spec::LoadOptions {
        working_dir: "/tmp/v1fix/work".into(),
        ..Default::default()
    };
    let loaded = crate::spec::load(&opts, &fs).expect("loads").stack;
    assert_eq!(loaded, stored);
    let records = store.containers(Some("v1fixture")).expect("containers");
    let observed: Vec<Observed> = records
        .iter()
        .map(|r| Observed {
            id: r.id.clone(),
            service: r.service.clone(),
            hash: r.config_hash.clone(),
            running: r.state == State::Running,
            number: 1,
        })
        .collect();
    let desired: Vec<Desired> = records
        .iter()
        .map(|r| Desired {
            service: r.service.clone(),
            hash: config_hash(&loaded.services[&r.service], &r.image_id),
            replicas: 1,
        })
        .collect();
    let actions = diff(&desired, &observed, false, false);
    let kept: Vec<Action> = records
        .iter()
        .map(|r| Action::Keep {
            service: r.service.clone(),
            id: r.id.clone(),
        })
        .collect();
    assert_eq!(actions, kept);
}

#[test]
fn a_newer_schema_is_refused_and_the_file_left_unchanged() {
    let copy = Copy::new("newer");
    {
        let conn = Connection::open(copy.db()).expect("open");
        conn.pragma_update(None, "user_version", schema::LATEST + 1)
            .expect("bump");
    }
    let before = std::fs::read(copy.db()).expect("read");
    let err = match Store::open(&copy.db()) {
        Ok(_) => panic!("a newer database was opened"),
        Err(e) => e.to_string(),
    };
    let want = format!(
        "was written by a newer rstack (schema {}, this one knows up to {}): upgrade rstack",
        schema::LATEST + 1,
        schema::LATEST
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains(&copy.db().display().to_string()), "{err}");
    assert_eq!(std::fs::read(copy.db()).expect("read"), before);
    assert_eq!(user_version(&copy.db()), schema::LATEST + 1);
}

#[test]
fn a_new_database_gets_every_step_once() {
    let copy = Copy::new("new");
    std::fs::remove_file(copy.db()).expect("rm");
    assert!(Store::has_no_schema(&copy.db()).expect("read"));
    drop(Store::open(&copy.db()).expect("creates"));
    assert_eq!(user_version(&copy.db()), schema::LATEST);
    assert!(!Store::has_no_schema(&copy.db()).expect("read"));
    // Reopening runs no step again.
    let store = Store::open(&copy.db()).expect("reopens");
    assert!(store.projects().expect("projects").is_empty());
    assert_eq!(user_version(&copy.db()), schema::LATEST);
    let mem = Store::in_memory().expect("memory");
    let v: i64 = mem
        .conn()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(v, schema::LATEST);
}
