//! `rstack export kubernetes` through the real binary (no daemon, no root): golden manifests
//! for three corpus stacks, a key-by-key round trip against `rstack config` for every corpus
//! file that loads, and the bad-input cases (bind mount under --strict, non-DNS names).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::nodaemon::{TempDir, rstack_in};

fn rstack(dir: &Path, args: &[&str]) -> Output {
    rstack_in(dir, "kube", args)
}

fn corpus() -> Option<PathBuf> {
    let d = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/compat/compose"
    ));
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("skipping: {} missing", d.display());
        None
    }
}

fn tempdir(tag: &str) -> TempDir {
    TempDir::new("rstack-kube", tag)
}

const GOLDEN: &[(&str, &str)] = &[
    (
        "docker__awesome-compose__nginx-golang-postgres__compose.yaml",
        "nginx-golang-postgres.yaml",
    ),
    (
        "dockersamples__example-voting-app__docker-compose.yml",
        "voting-app.yaml",
    ),
    (
        "docker__compose__pkg__e2e__testdata__TestInitContainer__compose.yaml",
        "init-container.yaml",
    ),
];

#[test]
fn golden_manifests_for_three_corpus_stacks() {
    let Some(dir) = corpus() else { return };
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kube");
    for (input, out) in GOLDEN {
        let file = dir.join(input);
        let o = rstack(
            &dir,
            &[
                "-p",
                "demo",
                "-f",
                file.to_str().unwrap(),
                "export",
                "kubernetes",
            ],
        );
        assert!(
            o.status.success(),
            "{input}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got = String::from_utf8(o.stdout).unwrap();
        let path = golden.join(out);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            got,
            want,
            "{input}: output differs from {} (UPDATE_GOLDEN=1 rewrites it)",
            path.display()
        );
    }
}

fn label(s: &str) -> String {
    s.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// `config` writes a literal `$` as `$$` (so its output reads back the same); the model and
/// the export hold the `$` itself.
fn unescape(v: &mut Value) {
    match v {
        Value::String(s) => *s = s.replace("$$", "$"),
        Value::Array(a) => a.iter_mut().for_each(unescape),
        Value::Object(m) => m.values_mut().for_each(unescape),
        _ => {}
    }
}

/// Compares the exported workload of each service with `config`'s resolved service.
fn round_trip(file: &Path, dir: &Path) -> Result<(), String> {
    let f = file.to_str().unwrap();
    let c = rstack(dir, &["-p", "rt", "-f", f, "config", "--format", "json"]);
    if !c.status.success() {
        return Ok(()); // does not load: not an export case
    }
    let mut cfg: Value = serde_json::from_slice(&c.stdout).map_err(|e| e.to_string())?;
    unescape(&mut cfg);
    let e = rstack(
        dir,
        &[
            "-p",
            "rt",
            "-f",
            f,
            "export",
            "kubernetes",
            "--format",
            "json",
        ],
    );
    if !e.status.success() {
        return Err(format!(
            "export failed: {}",
            String::from_utf8_lossy(&e.stderr)
        ));
    }
    let list: Value = serde_json::from_slice(&e.stdout).map_err(|e| e.to_string())?;
    let items = list["items"].as_array().ok_or("no items")?;
    let Some(services) = cfg["services"].as_object() else {
        return Ok(());
    };
    for (name, s) in services {
        let n = label(name);
        let w = items
            .iter()
            .find(|o| {
                o["metadata"]["name"] == n.as_str()
                    && ["Deployment", "StatefulSet", "Job"]
                        .contains(&o["kind"].as_str().unwrap_or(""))
            })
            .ok_or(format!("{name}: no workload"))?;
        let pod = &w["spec"]["template"]["spec"];
        let ctr = &pod["containers"][0];
        let ck = |what: &str, a: &Value, b: &Value| -> Result<(), String> {
            if a == b {
                Ok(())
            } else {
                Err(format!("{name}.{what}: model {a} != exported {b}"))
            }
        };
        ck("name", &Value::from(n.clone()), &ctr["name"])?;
        // A service with only `build:` runs compose's image name PROJECT-SERVICE.
        let image = match &s["image"] {
            Value::Null => Value::from(format!("rt-{name}")),
            i => i.clone(),
        };
        ck("image", &image, &ctr["image"])?;
        ck("command", &s["command"], &ctr["args"])?;
        ck("entrypoint", &s["entrypoint"], &ctr["command"])?;
        // The environment: each `envFrom` ConfigMap's data, then inline `env` (which wins).
        let mut env = serde_json::Map::new();
        for from in ctr["envFrom"].as_array().into_iter().flatten() {
            let cm = from["configMapRef"]["name"]
                .as_str()
                .ok_or(format!("{name}: envFrom without configMapRef"))?;
            let obj = items
                .iter()
                .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == cm)
                .ok_or(format!(
                    "{name}: envFrom names ConfigMap {cm}, not exported"
                ))?;
            for (k, v) in obj["data"].as_object().into_iter().flatten() {
                env.insert(k.clone(), v.clone());
            }
        }
        for e in ctr["env"].as_array().into_iter().flatten() {
            env.insert(
                e["name"].as_str().unwrap_or("").to_string(),
                e["value"].clone(),
            );
        }
        // An unset variable (`null`) is not passed to the container.
        let mut want_env = s["environment"].as_object().cloned().unwrap_or_default();
        want_env.retain(|_, v| !v.is_null());
        ck("environment", &Value::Object(want_env), &Value::Object(env))?;
        let cports: Vec<u64> = ctr["ports"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["containerPort"].as_u64())
                    .collect()
            })
            .unwrap_or_default();
        for p in s["ports"].as_array().into_iter().flatten() {
            let t = p["target"].as_u64().ok_or("port target")?;
            if !cports.contains(&t) {
                return Err(format!("{name}.ports: {t} not a containerPort"));
            }
        }
        let mounts: Vec<&str> = ctr["volumeMounts"]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["mountPath"].as_str()).collect())
            .unwrap_or_default();
        for v in s["volumes"].as_array().into_iter().flatten() {
            let t = v["target"].as_str().unwrap_or("");
            let bind = v["type"] == "bind";
            if bind == mounts.contains(&t) {
                return Err(format!(
                    "{name}.volumes: {t} (bind: {bind}) mounted: {}",
                    mounts.contains(&t)
                ));
            }
        }
        let test = &s["healthcheck"]["test"];
        let want_probe = match test
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        {
            Some(a) if a.first() == Some(&"CMD") => Some(Value::from(a[1..].to_vec())),
            Some(a) if a.first() == Some(&"CMD-SHELL") => {
                Some(serde_json::json!(["/bin/sh", "-c", a[1..].join(" ")]))
            }
            _ => None,
        };
        if s["healthcheck"]["disable"] != true
            && let Some(p) = want_probe
        {
            ck(
                "healthcheck.test",
                &p,
                &ctr["readinessProbe"]["exec"]["command"],
            )?;
            ck(
                "healthcheck.test",
                &p,
                &ctr["livenessProbe"]["exec"]["command"],
            )?;
        }
    }
    Ok(())
}

#[test]
fn every_loadable_corpus_file_exports_and_round_trips_key_by_key() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = round_trip(f, &dir) {
            failures.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bind_mount_under_strict_fails_naming_the_key_and_writes_nothing() {
    let d = tempdir("strict");
    std::fs::write(
        d.0.join("compose.yaml"),
        "services:\n  web:\n    image: nginx\n    volumes:\n      - ./site:/usr/share/nginx/html\n",
    )
    .unwrap();
    let out = d.0.join("out");
    let o = rstack(
        &d.0,
        &[
            "export",
            "kubernetes",
            "--strict",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("compose.yaml:5:9: services.web.volumes.0"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written under --strict");
    // Without --strict: a warning, and the manifests are written one file per object.
    let o = rstack(&d.0, &["export", "kubernetes", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("services.web.volumes.0"));
    assert!(out.join("web-deployment.yaml").is_file());
}

#[test]
fn non_dns_service_name_is_renamed_and_references_follow() {
    let d = tempdir("dns");
    std::fs::write(
        d.0.join("compose.yaml"),
        "services:\n  Web_App:\n    image: nginx\n    expose: ['80']\n    healthcheck:\n      test: ['CMD', 'true']\n  front:\n    image: nginx\n    depends_on:\n      Web_App:\n        condition: service_healthy\n",
    )
    .unwrap();
    let o = rstack(
        &d.0,
        &[
            "export",
            "kubernetes",
            "--format",
            "json",
            "--namespace",
            "team",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("compose.yaml:2:3: services.Web_App") && err.contains("\"web-app\""),
        "{err}"
    );
    let list: Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        items
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .cloned()
    };
    let dep = find("Deployment", "web-app").expect("renamed Deployment");
    assert_eq!(dep["metadata"]["namespace"], "team");
    assert_eq!(
        dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "web-app"
    );
    let svc = find("Service", "web-app").expect("renamed Service");
    assert_eq!(svc["spec"]["selector"]["app.kubernetes.io/name"], "web-app");
    let front = find("Deployment", "front").unwrap();
    let init = &front["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(init["name"], "wait-web-app");
    assert!(
        init["command"][2]
            .as_str()
            .unwrap()
            .contains("nc -z -w 2 web-app 80")
    );
}

#[test]
fn export_positional_form_still_means_a_container_tar() {
    let d = tempdir("tar");
    // `export -- kubernetes` is the tar of service "kubernetes": it asks the (absent) daemon.
    let o = rstack(&d.0, &["export", "--", "kubernetes"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("daemon"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
