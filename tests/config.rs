//! `rstack config` / `validate` through the real binary (no root, no daemon needed), and the
//! checked-in JSON Schema.

use std::path::PathBuf;

mod common;
use common::nodaemon::{TempDir, rstack_in};

fn rstack(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    rstack_in(dir, "config", args)
}

fn tempdir(tag: &str) -> TempDir {
    TempDir::new("rstack-config", tag)
}

#[test]
fn config_prints_the_resolved_stack_as_json_and_yaml() {
    let d = tempdir("ok");
    std::fs::write(
        d.join("compose.yaml"),
        "services:\n  web:\n    image: nginx:${TAG:-1.27}\n    environment: [A=1]\n  db:\n    image: postgres\n    profiles: [debug]\n",
    )
    .expect("write");
    std::fs::write(
        d.join("compose.override.yaml"),
        "services:\n  web:\n    command: serve --fast\n",
    )
    .expect("write");
    let out = rstack(&d, &["config", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["services"]["web"]["image"], "nginx:1.27");
    assert_eq!(
        v["services"]["web"]["command"],
        serde_json::json!(["serve", "--fast"])
    );
    assert_eq!(v["services"]["web"]["environment"]["A"], "1");
    assert!(v["services"].get("db").is_none(), "profile not enabled");
    let yaml = rstack(&d, &["config"]);
    assert!(String::from_utf8_lossy(&yaml.stdout).contains("image: nginx:1.27"));
    let svcs = rstack(&d, &["--profile", "debug", "config", "--services"]);
    assert_eq!(String::from_utf8_lossy(&svcs.stdout), "web\ndb\n");
    let profiles = rstack(&d, &["config", "--profiles"]);
    assert_eq!(String::from_utf8_lossy(&profiles.stdout), "debug\n");
}

#[test]
fn validate_lists_every_problem_with_positions() {
    let d = tempdir("bad");
    std::fs::write(
        d.join("compose.yaml"),
        "services:\n  a:\n    image: x\n    restrat: always\n  b:\n    image: y\n    mem_limit: 1q\n",
    )
    .expect("write");
    let out = rstack(&d, &["validate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("compose.yaml:4:5") && err.contains("did you mean restart?"),
        "{err}"
    );
    assert!(err.contains("compose.yaml:7:16"), "{err}");
    assert_eq!(rstack(&d, &["config", "-q"]).status.code(), Some(1));
    // Nothing is started for an invalid file: `up` fails before reaching any daemon.
    let up = rstack(&d, &["up", "-d"]);
    assert_eq!(up.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&up.stderr).contains("daemon"));
}

#[test]
fn checked_in_schema_is_current() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/rstack-stack.schema.json"
    ));
    let want = serde_json::to_string_pretty(&rstack::spec::json_schema()).expect("schema") + "\n";
    if std::env::var_os("RSTACK_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &want).expect("write schema");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: regenerate it with `RSTACK_UPDATE_SCHEMA=1 cargo test --test config`",
        path.display()
    );
}

#[test]
fn an_unknown_service_on_the_command_line_fails_at_load_time() {
    let d = tempdir("targets");
    std::fs::write(
        d.join("compose.yaml"),
        "services:\n  web:\n    image: busybox:test\n  admin:\n    image: busybox:test\n    profiles: [debug]\n",
    )
    .expect("write");
    // Unknown services are refused at load time, with the stack's services, before any daemon.
    let out = rstack(&d, &["run", "--rm", "admn", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("admn") && err.contains("admin"), "{err}");
}
