//! `source::git` against real repositories made with the `git` CLI: file:// and
//! git-http-backend served over http on 127.0.0.1 by the tiny CGI server of tests/common/git.rs
//! (optionally behind basic auth). No root needed; every temp dir and server thread is
//! removed on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[path = "common/git.rs"]
mod gitserve;
use gitserve::{HttpServer, Repo};

use rstack::source::git::{Credentials, GitError, checkout_notes, sync_repo};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rstack-gitsrc-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stack_repo(root: &Path) -> (Repo, String) {
    let r = Repo::init(root.join("origin"));
    r.write(
        "compose.yaml",
        "include: [extra/db.yaml]\nservices:\n  web:\n    image: busybox\n    command: [\"${CMD}\"]\n",
    );
    r.write(".env", "CMD=v1\n");
    r.write("extra/db.yaml", "services:\n  db:\n    image: busybox\n");
    r.write("bin/run.sh", "#!/bin/sh\n");
    std::fs::set_permissions(
        r.dir.join("bin/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("extra/db.yaml", r.dir.join("db-link.yaml")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", r.dir.join("escape")).unwrap();
    r.git(&["add", "-A"]);
    // A submodule entry (gitlink): skipped with a note, never fetched.
    r.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        "160000,1234567890123456789012345678901234567890,vendor/sub",
    ]);
    // Not `commit()`: its `add -A` would stage the gitlink's removal (no vendor/sub here).
    r.git(&["commit", "-q", "-m", "first"]);
    let sha = r.git(&["rev-parse", "HEAD"]);
    (r, sha)
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn file_clone_then_fetch_follows_new_commits() {
    let t = TempDir::new("file");
    let (origin, first) = stack_repo(&t.0);
    let cache = t.0.join("cache");

    let c = sync_repo(&origin.url(), None, &cache, None).unwrap();
    assert_eq!(c.revision, first);
    assert_eq!(c.root, cache.join("rev").join(&first));
    assert_eq!(read(&c.root, ".env"), "CMD=v1\n");
    assert!(read(&c.root, "compose.yaml").contains("include"));
    assert!(read(&c.root, "extra/db.yaml").contains("db:"));
    let mode = std::fs::metadata(c.root.join("bin/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let mode = std::fs::metadata(c.root.join(".env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    // An inside symlink stays a symlink; one pointing out of the checkout is not written.
    let link = std::fs::symlink_metadata(c.root.join("db-link.yaml")).unwrap();
    assert!(link.file_type().is_symlink());
    assert!(read(&c.root, "db-link.yaml").contains("db:"));
    assert!(std::fs::symlink_metadata(c.root.join("escape")).is_err());
    let notes = checkout_notes(&c);
    assert!(notes.iter().any(|n| n.contains("escape")), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("submodule vendor/sub")),
        "{notes:?}"
    );
    assert!(!c.root.join("vendor/sub").exists());
    assert!(!c.root.join(".git").exists());

    // No change: same revision, and the time of a no-change fetch for the report.
    let start = Instant::now();
    let again = sync_repo(&origin.url(), None, &cache, None).unwrap();
    eprintln!("file:// no-change fetch: {:?}", start.elapsed());
    assert_eq!(again.revision, first);

    origin.write(".env", "CMD=v2\n");
    let second = origin.commit("second");
    let c2 = sync_repo(&origin.url(), None, &cache, None).unwrap();
    assert_eq!(c2.revision, second);
    assert_eq!(read(&c2.root, ".env"), "CMD=v2\n");

    // Old revisions are pruned down to the last few.
    for i in 3..8 {
        origin.write(".env", &format!("CMD=v{i}\n"));
        origin.commit("more");
        sync_repo(&origin.url(), None, &cache, None).unwrap();
    }
    let revs = std::fs::read_dir(cache.join("rev"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert!(revs <= 3, "{revs} revision dirs kept");
}

#[test]
fn refs_by_branch_tag_and_sha() {
    let t = TempDir::new("refs");
    let (origin, first) = stack_repo(&t.0);
    origin.git(&["tag", "v1"]);
    origin.git(&["tag", "-a", "v1-annotated", "-m", "release"]);
    origin.git(&["checkout", "-q", "-b", "dev"]);
    origin.write(".env", "CMD=dev\n");
    let dev = origin.commit("dev");
    origin.git(&["checkout", "-q", "main"]);
    let cache = t.0.join("cache");
    let url = origin.url();

    let c = sync_repo(&url, Some("dev"), &cache, None).unwrap();
    assert_eq!(
        (c.revision.as_str(), read(&c.root, ".env").as_str()),
        (dev.as_str(), "CMD=dev\n")
    );
    assert_eq!(
        sync_repo(&url, Some("v1"), &cache, None).unwrap().revision,
        first
    );
    assert_eq!(
        sync_repo(&url, Some("v1-annotated"), &cache, None)
            .unwrap()
            .revision,
        first
    );
    assert_eq!(
        sync_repo(&url, Some("refs/heads/dev"), &cache, None)
            .unwrap()
            .revision,
        dev
    );
    assert_eq!(
        sync_repo(&url, Some(&first), &cache, None)
            .unwrap()
            .revision,
        first
    );
    assert_eq!(
        sync_repo(&url, Some(&dev[..10]), &cache, None)
            .unwrap()
            .revision,
        dev
    );
    assert_eq!(sync_repo(&url, None, &cache, None).unwrap().revision, first);

    let err = sync_repo(&url, Some("nope"), &cache, None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GitError::UnknownRef { .. }), "{msg}");
    assert!(msg.contains("`nope`") && msg.contains("dev, main"), "{msg}");

    // A deleted branch is gone even though the cache still has its old ref.
    origin.git(&["branch", "-D", "dev"]);
    let err = sync_repo(&url, Some("dev"), &cache, None).unwrap_err();
    assert!(matches!(err, GitError::UnknownRef { .. }), "{err}");
}

#[test]
fn unreachable_sources_say_so() {
    let t = TempDir::new("bad");
    let cache = t.0.join("cache");
    let missing = format!("file://{}/nothing-here", t.0.display());
    let err = sync_repo(&missing, None, &cache, None).unwrap_err();
    assert!(matches!(err, GitError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("nothing-here"), "{err}");

    // Port 1 on loopback: connection refused. The password never shows.
    let err = sync_repo("http://bob:hunter2@127.0.0.1:1/r.git", None, &cache, None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GitError::Connect { .. }), "{msg}");
    assert!(msg.contains("http://127.0.0.1:1/r.git"), "{msg}");
    assert!(!msg.contains("hunter2") && !msg.contains("bob"), "{msg}");
    assert!(!format!("{err:?}").contains("hunter2"));
    eprintln!("{msg}");

    // Not a URL gix can fetch from: named, with the forms that work.
    for bad in ["", "ftp://127.0.0.1/r.git"] {
        let err = sync_repo(bad, None, &cache, None).unwrap_err();
        eprintln!("{err}");
        assert!(
            matches!(err, GitError::InvalidUrl { .. } | GitError::Connect { .. }),
            "{err}"
        );
        assert!(err.to_string().contains(bad), "{err}");
    }
}

/// The work repository is served bare (as a server would) from `root/srv/stack.git`.
fn serve_bare(t: &TempDir, origin: &Repo) -> PathBuf {
    let srv = t.0.join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let bare = srv.join("stack.git");
    let out = Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(&origin.dir)
        .arg(&bare)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv
}

fn push(origin: &Repo, srv: &Path) {
    let bare = srv.join("stack.git");
    origin.git(&["push", "-q", bare.to_str().unwrap(), "main"]);
}

#[test]
fn http_clone_and_fetch_through_git_http_backend() {
    let t = TempDir::new("http");
    let (origin, first) = stack_repo(&t.0);
    let srv = serve_bare(&t, &origin);
    let server = HttpServer::start(srv.clone(), None);
    let url = format!("http://127.0.0.1:{}/stack.git", server.port);
    let cache = t.0.join("cache");

    let c = sync_repo(&url, None, &cache, None).unwrap();
    assert_eq!(c.revision, first);
    assert_eq!(read(&c.root, ".env"), "CMD=v1\n");

    let start = Instant::now();
    let again = sync_repo(&url, None, &cache, None).unwrap();
    eprintln!("http no-change fetch: {:?}", start.elapsed());
    assert_eq!(again.revision, first);

    origin.write(".env", "CMD=v2\n");
    let second = origin.commit("second");
    push(&origin, &srv);
    let start = Instant::now();
    let c2 = sync_repo(&url, None, &cache, None).unwrap();
    eprintln!(
        "http fetch of one new commit + checkout: {:?}",
        start.elapsed()
    );
    assert_eq!(c2.revision, second);
    assert_eq!(read(&c2.root, ".env"), "CMD=v2\n");
    assert_eq!(
        sync_repo(&url, Some("main"), &cache, None)
            .unwrap()
            .revision,
        second
    );
}

#[test]
fn http_basic_auth_credentials() {
    let t = TempDir::new("auth");
    let (origin, _first) = stack_repo(&t.0);
    let srv = serve_bare(&t, &origin);
    let server = HttpServer::start(srv, Some("bob:hunter2"));
    let url = format!("http://127.0.0.1:{}/stack.git", server.port);
    let cache = t.0.join("cache");

    let err = sync_repo(&url, None, &cache, None).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err}");

    let wrong = Credentials {
        username: "bob".into(),
        password: "wrong-pw".into(),
    };
    let err = sync_repo(&url, None, &cache, Some(&wrong)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GitError::Auth { .. }), "{msg}");
    assert!(!msg.contains("wrong-pw"), "{msg}");

    // Over plain http the password is never sent (gix refuses clear-text credentials):
    // a clear error that says to use https, with the password nowhere in it.
    let right = Credentials {
        username: "bob".into(),
        password: "hunter2".into(),
    };
    let err = sync_repo(&url, None, &cache, Some(&right)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GitError::Auth { .. }), "{msg}");
    assert!(msg.contains("https") && !msg.contains("hunter2"), "{msg}");
    let with_user = format!("http://bob:hunter2@127.0.0.1:{}/stack.git", server.port);
    let err = sync_repo(&with_user, None, &cache, None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GitError::Auth { .. }), "{msg}");
    assert!(!msg.contains("hunter2") && !msg.contains("bob:"), "{msg}");
}

/// The daemon calls `sync_repo` from `spawn_blocking`: reqwest's blocking client (with its
/// own runtime) must work there over http, not panic inside tokio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_fetch_runs_in_spawn_blocking() {
    let t = TempDir::new("tokio");
    let (origin, first) = stack_repo(&t.0);
    let srv = serve_bare(&t, &origin);
    let server = HttpServer::start(srv, None);
    let url = format!("http://127.0.0.1:{}/stack.git", server.port);
    let cache = t.0.join("cache");
    let got = tokio::task::spawn_blocking(move || sync_repo(&url, None, &cache, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.revision, first);
}
