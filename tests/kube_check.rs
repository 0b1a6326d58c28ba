//! Differential test of `rstack export kubernetes --check`'s validator (`export::check`)
//! against the reference, the `kubernetes-validate` tool (PyPI), for Kubernetes 1.30 in strict
//! mode. Every manifest under tests/data/kube-check gets the same verdict from both:
//! `good/` valid, `bad/` invalid. `api-server-only/` holds what the API server rejects but the
//! schemas allow (names, int32 ranges): rstack rejects those, kubernetes-validate accepts them.
//!
//! The reference is `$RSTACK_KUBE_VALIDATE_BIN`, else `kubernetes-validate` on PATH (.ci/run
//! installs it). Without it the comparison is skipped (our own verdicts are still checked),
//! and fails under `RSTACK_REQUIRE_ROOT_TESTS=1`. Needs no root.

use std::path::{Path, PathBuf};
use std::process::Command;

use rstack::export::check::check;

fn manifests(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/kube-check")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    files
}

/// rstack's verdict: the errors `check` finds in the file's one object.
fn ours(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("read manifest");
    let obj: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    check(&obj).iter().map(ToString::to_string).collect()
}

/// The reference binary, or None (after failing under RSTACK_REQUIRE_ROOT_TESTS) if absent.
fn reference() -> Option<PathBuf> {
    let bin = std::env::var_os("RSTACK_KUBE_VALIDATE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubernetes-validate"));
    let works = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(bin);
    }
    let why = format!(
        "{} does not run (pip install kubernetes-validate==1.37.0, or set RSTACK_KUBE_VALIDATE_BIN)",
        bin.display()
    );
    assert!(
        std::env::var_os("RSTACK_REQUIRE_ROOT_TESTS").is_none(),
        "kube_check: {why} (RSTACK_REQUIRE_ROOT_TESTS is set, so this test may not skip)"
    );
    eprintln!("skipping the comparison with kubernetes-validate: {why}");
    None
}

/// kubernetes-validate's verdict: Ok if valid, Err(its output) if not. A kind it has no
/// schema for is only a warning there (exit 0), so it is a defect of this test's data.
fn theirs(bin: &Path, file: &Path) -> Result<(), String> {
    let out = Command::new(bin)
        .args(["--kubernetes-version", "1.30", "--strict"])
        .arg(file)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("WARN"), "{}: {text}", file.display());
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(text),
        _ => panic!("kubernetes-validate failed on {}: {text}", file.display()),
    }
}

#[test]
fn verdicts_match_kubernetes_validate() {
    let reference = reference();
    let mut mismatches = Vec::new();
    for (dir, we_accept, they_accept) in [
        ("good", true, true),
        ("bad", false, false),
        ("api-server-only", false, true),
    ] {
        for file in manifests(dir) {
            let errors = ours(&file);
            if errors.is_empty() != we_accept {
                mismatches.push(format!("{}: rstack says {errors:?}", file.display()));
            }
            if let Some(bin) = &reference {
                let verdict = theirs(bin, &file);
                if verdict.is_ok() != they_accept {
                    mismatches.push(format!(
                        "{}: kubernetes-validate says {verdict:?}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Errors name the object and the path of the offending value.
#[test]
fn errors_name_object_and_path() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/kube-check/bad/deployment-port-string.json");
    assert_eq!(
        ours(&file),
        [
            "Deployment/web: spec.template.spec.containers[0].ports[0].containerPort: \
          expected integer, found string \"80\""
        ]
    );
}

/// Issue 15's acceptance: for every corpus file that loads, `rstack export kubernetes
/// --check` passes and kubernetes-validate (Kubernetes 1.30, strict) accepts every file the
/// export writes. A file that does not load (`config` fails) is not an export case.
#[test]
fn every_loadable_corpus_export_is_valid_for_kubernetes_1_30() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/compat/compose");
    if !corpus.is_dir() {
        eprintln!("skipping: {} missing", corpus.display());
        return;
    }
    let reference = reference();
    let out_root = std::env::temp_dir().join(format!("rstack-kube-corpus-{}", std::process::id()));
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(out_root.clone());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("read corpus")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let rstack = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rstack"))
            .args(args)
            .current_dir(&corpus)
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_PROFILES")
            .env("RSTACK_SOCKET", "/nonexistent/rstack-kube-check.sock")
            .output()
            .expect("run rstack")
    };
    let mut failures = Vec::new();
    let mut exported = 0;
    for (i, f) in files.iter().enumerate() {
        let name = f.to_str().expect("utf-8 path");
        if !rstack(&["-p", "kc", "-f", name, "config", "-q"])
            .status
            .success()
        {
            continue;
        }
        let dir = out_root.join(i.to_string());
        let d = dir.to_str().expect("utf-8 path");
        let out = rstack(&[
            "-p",
            "kc",
            "-f",
            name,
            "export",
            "kubernetes",
            "--check",
            "-o",
            d,
        ]);
        if !out.status.success() {
            failures.push(format!(
                "{name}: export --check failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        exported += 1;
        let Some(bin) = &reference else { continue };
        let mut manifests: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("read export dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        manifests.sort();
        for m in manifests {
            if let Err(text) = theirs(bin, &m) {
                failures.push(format!("{name}: {}: {text}", m.display()));
            }
        }
    }
    assert!(exported > 30, "only {exported} corpus files exported");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
