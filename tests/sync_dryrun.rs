//! `sync add --dry-run` (issue 13) checks what the real add and its first sync would: the
//! directory's stack loads; a Git repository is reachable, its ref resolves and the stack of
//! that revision loads. Nothing is added. The real binary (root only).

mod common;
#[path = "common/git.rs"]
mod gitserve;

use common::*;
use gitserve::Repo;

const COMPOSE: &str =
    "services:\n  a:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n";

fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "rstack {args:?} failed: {err}\ndaemon log: {}",
        env.daemon_log()
    );
    err
}

fn fails(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(
        !out.status.success(),
        "rstack {args:?} should fail: {out:?}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn dry_run_sync_add_loads_the_source_and_adds_nothing() {
    if skip_unless_root("syncdry") {
        return;
    }
    let mut env = Env::new("syncdry");
    let p = env.project("syncdry");

    // A directory: its stack is loaded; a broken one is the error the first sync would meet.
    let good = env.dir.join("good");
    std::fs::create_dir_all(&good).expect("mkdir");
    std::fs::write(good.join("compose.yaml"), COMPOSE).expect("write");
    let dir = good.to_str().expect("utf8");
    let err = ok(
        &env,
        &[
            "--dry-run",
            "sync",
            "add",
            &p,
            "--dir",
            dir,
            "--project",
            &p,
        ],
    );
    assert!(
        err.contains(&format!(
            "Source {p}  Would apply project {p} (1 services: a)"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("Source {p}  Added")), "{err}");
    let bad = env.dir.join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join("compose.yaml"), "services:\n  a: [1\n").expect("write");
    let err = fails(
        &env,
        &[
            "--dry-run",
            "sync",
            "add",
            &p,
            "--dir",
            bad.to_str().expect("utf8"),
        ],
    );
    assert!(err.contains("compose.yaml"), "{err}");

    // Git: the ref is resolved to its commit; an unknown ref is an error.
    let repo = Repo::init(env.dir.join("origin"));
    repo.write("compose.yaml", COMPOSE);
    let commit = repo.commit("one");
    let url = repo.url();
    let err = ok(&env, &["--dry-run", "sync", "add", &p, "--git", &url]);
    assert!(
        err.contains(&format!("Source {p}  Revision {commit} resolved")),
        "{err}"
    );
    let err = fails(
        &env,
        &[
            "--dry-run",
            "sync",
            "add",
            &p,
            "--git",
            &url,
            "--ref",
            "nope",
        ],
    );
    assert!(err.contains("nope"), "{err}");
    let gone = format!("file://{}", env.dir.join("nowhere").display());
    assert!(
        !env.run(&["--dry-run", "sync", "add", &p, "--git", &gone])
            .status
            .success()
    );

    assert!(
        !env.ok(&["sync", "ls"]).contains(&p),
        "a dry run added the source"
    );
    let left: Vec<_> = std::fs::read_dir(&env.data_root)
        .expect("data root")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".sync-check"))
        .collect();
    assert!(left.is_empty(), "scratch caches left: {left:?}");
}
