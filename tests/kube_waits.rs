//! `rstack export kubernetes` through the real binary: `service_completed_successfully`
//! waits (kubectl init container + RBAC), environment as ConfigMaps, waits on services left
//! out of a SERVICE selection, external volumes and tmpfs modes.

use serde_json::Value;
use std::path::Path;
use std::process::Output;

mod common;
use common::nodaemon::{TempDir, rstack_in};

fn rstack(dir: &Path, args: &[&str]) -> Output {
    rstack_in(dir, "kube", args)
}

fn stack(tag: &str, yaml: &str) -> TempDir {
    TempDir::with_stack("rstack-kubew", tag, yaml)
}

/// (objects, stderr) of a JSON export.
fn export(d: &TempDir, extra: &[&str]) -> (Vec<Value>, String) {
    let mut args = vec!["export", "kubernetes", "--format", "json", "--check"];
    args.extend_from_slice(extra);
    let o = rstack(&d.0, &args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    let list: Value = serde_json::from_slice(&o.stdout).expect("json");
    (list["items"].as_array().cloned().unwrap_or_default(), err)
}

fn find<'a>(items: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

const MIGRATE: &str = "name: shop\nservices:\n  migrate:\n    image: busybox\n    command: ['true']\n  web:\n    image: nginx\n    environment:\n      MODE: prod\n      '..X': x\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n";

#[test]
fn completed_successfully_waits_with_kubectl_and_rbac() {
    let d = stack("job", MIGRATE);
    let (items, err) = export(
        &d,
        &["--namespace", "team", "--wait-image", "example/kubectl:1"],
    );
    assert!(!err.contains("does not wait"), "{err}");
    assert!(!err.contains("depends_on"), "faithful: no warning\n{err}");
    assert!(find(&items, "Job", "migrate").is_some());
    let web = find(&items, "Deployment", "web").expect("web");
    let pod = &web["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "shop-job-waiter");
    let init = &pod["initContainers"][0];
    assert_eq!(init["name"], "wait-migrate");
    assert_eq!(init["image"], "example/kubectl:1");
    assert!(
        init["command"][2]
            .as_str()
            .unwrap()
            .contains("kubectl wait --for=condition=complete --timeout=60s job/migrate"),
        "{init}"
    );
    assert!(find(&items, "ServiceAccount", "shop-job-waiter").is_some());
    let role = find(&items, "Role", "shop-job-waiter").expect("Role");
    assert_eq!(role["rules"][0]["resources"][0], "jobs");
    let rb = find(&items, "RoleBinding", "shop-job-waiter").expect("RoleBinding");
    assert_eq!(rb["subjects"][0]["namespace"], "team");
    assert_eq!(rb["roleRef"]["name"], "shop-job-waiter");
    // The Job itself waits for nothing and needs no account.
    let job = find(&items, "Job", "migrate").unwrap();
    assert!(job["spec"]["template"]["spec"]["serviceAccountName"].is_null());

    // Environment: valid names in the ConfigMap web-env via envFrom, others inline.
    let cm = find(&items, "ConfigMap", "web-env").expect("web-env");
    assert_eq!(cm["data"], serde_json::json!({"MODE": "prod"}));
    let ctr = &pod["containers"][0];
    assert_eq!(ctr["envFrom"][0]["configMapRef"]["name"], "web-env");
    assert_eq!(
        ctr["env"],
        serde_json::json!([{"name": "..X", "value": "x"}])
    );
}

#[test]
fn default_wait_image_and_namespace_warning() {
    let d = stack("jobdef", &MIGRATE.replace("      '..X': x\n", ""));
    let (items, err) = export(&d, &[]);
    let web = find(&items, "Deployment", "web").expect("web");
    assert_eq!(
        web["spec"]["template"]["spec"]["initContainers"][0]["image"],
        "bitnami/kubectl:1.30"
    );
    let rb = find(&items, "RoleBinding", "shop-job-waiter").expect("RoleBinding");
    assert_eq!(rb["subjects"][0]["namespace"], "default");
    assert!(
        err.contains("services.web.depends_on") && err.contains("--namespace"),
        "{err}"
    );
}

#[test]
fn waits_on_services_left_out_of_the_selection_are_warned_about() {
    let d = stack("sel", MIGRATE);
    let (items, err) = export(&d, &["--namespace", "team", "web"]);
    assert!(find(&items, "Job", "migrate").is_none());
    assert!(
        err.contains("services.web.depends_on.migrate")
            && err.contains("not among the exported services"),
        "{err}"
    );
    let o = rstack(
        &d.0,
        &[
            "export",
            "kubernetes",
            "--namespace",
            "team",
            "--strict",
            "web",
        ],
    );
    assert!(!o.status.success());
}

#[test]
fn external_volume_is_mounted_not_claimed_and_tmpfs_mode_is_warned() {
    let d = stack(
        "ext",
        "services:\n  db:\n    image: postgres\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n    tmpfs:\n      - /run:mode=1777\nvolumes:\n  pgdata:\n    external: true\n    name: shared-pg\n",
    );
    let (items, err) = export(&d, &[]);
    assert!(
        err.contains("volumes.pgdata") && err.contains("external volume"),
        "{err}"
    );
    assert!(
        err.contains("services.db.tmpfs") && err.contains("1777"),
        "{err}"
    );
    assert!(
        !items.iter().any(|o| o["kind"] == "PersistentVolumeClaim"),
        "no claim is made for an external volume"
    );
    // Not a StatefulSet: no volumeClaimTemplates would create one either.
    let db = find(&items, "Deployment", "db").expect("db is a Deployment");
    let vols = db["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    assert!(
        vols.iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == "shared-pg"),
        "{vols:?}"
    );
}
