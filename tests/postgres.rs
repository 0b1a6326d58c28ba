//! Secrets, hooks and healthchecks proven on real software (root only): PostgreSQL from
//! Debian's packages (a rootfs made offline by mmdebstrap, cached under
//! /var/cache/rstack-test, imported as an image). The `db` service takes its password from
//! a compose secret, is healthy by `pg_isready` (a probe that prints), and its `post_start`
//! hook creates a table with psql; the `client` waits for `db` to be healthy and reads the
//! table over the network by service name, with the password from the same secret.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CACHE: &str = "/var/cache/rstack-test";
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The Debian rootfs with PostgreSQL, made once per machine; concurrent tests wait on the
/// lock, and a failed run leaves no tar behind.
fn postgres_tar() -> PathBuf {
    std::fs::create_dir_all(CACHE).expect("mkdir cache");
    let tar = Path::new(CACHE).join("debian-bookworm-postgres-slim.tar");
    let lock = std::fs::File::create(Path::new(CACHE).join("postgres.lock")).expect("lock");
    // SAFETY: flock on a descriptor we own; released when `lock` is dropped.
    let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    assert_eq!(rc, 0);
    if tar.exists() {
        return tar;
    }
    // mmdebstrap picks the output format from the name's extension: keep .tar.
    let partial = Path::new(CACHE).join(format!("partial-pg-{}.tar", std::process::id()));
    // Without what a test does not need (LLVM for JIT, documentation, locales): half the
    // size, so the import into each test's daemon is quicker.
    let mut cmd = Command::new("mmdebstrap");
    cmd.args([
        "--variant=essential",
        "--include=postgresql,postgresql-client",
    ]);
    for path in [
        "/usr/lib/x86_64-linux-gnu/libLLVM*",
        "/usr/lib/x86_64-linux-gnu/libz3*",
        "/usr/lib/postgresql/15/lib/llvmjit*",
        "/usr/lib/postgresql/15/lib/bitcode/*",
        "/usr/share/doc/*",
        "/usr/share/man/*",
        "/usr/share/locale/*",
        "/usr/share/i18n/*",
    ] {
        cmd.arg(format!("--dpkgopt=path-exclude={path}"));
    }
    let out = cmd
        .arg("bookworm")
        .arg(&partial)
        .output()
        .expect("mmdebstrap (apt-get install mmdebstrap)");
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        panic!(
            "mmdebstrap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::rename(&partial, &tar).expect("rename");
    tar
}

/// The db's entrypoint, run as the postgres user: a cluster whose superuser password is the
/// secret's, listening on the network with password authentication.
const ENTRY: &str = r#"#!/bin/sh
set -e
D=/var/lib/postgresql/data
if [ ! -s "$D/PG_VERSION" ]; then
  BIN/initdb -D "$D" -U postgres --pwfile=/run/secrets/db_password \
    --auth-local=trust --auth-host=scram-sha-256
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$D/pg_hba.conf"
fi
exec BIN/postgres -D "$D" -c listen_addresses='*' -c unix_socket_directories=/tmp
"#;

fn stack(p: &str) -> String {
    format!(
        r#"name: {p}
secrets:
  db_password:
    file: ./db_password.txt
services:
  db:
    image: deb/postgres:test
    user: postgres
    command: [sh, /entry.sh]
    stop_grace_period: 5s
    volumes:
      - ./entry.sh:/entry.sh:ro
    secrets:
      - db_password
    healthcheck:
      test: ["CMD", "{BIN}/pg_isready", "-h", "127.0.0.1", "-U", "postgres"]
      interval: 1s
      retries: 60
    post_start:
      - command: [sh, -c, 'until {BIN}/pg_isready -q -h /tmp; do sleep 0.2; done; {BIN}/psql -v ON_ERROR_STOP=1 -h /tmp -U postgres -c "CREATE TABLE greeting (msg text); INSERT INTO greeting VALUES (''hello from postgres'')"']
  client:
    image: deb/postgres:test
    user: postgres
    depends_on:
      db:
        condition: service_healthy
    secrets:
      - source: db_password
    command: [sh, -c, 'PGPASSWORD=$$(cat /run/secrets/db_password) {BIN}/psql -h db -U postgres -tAc "SELECT msg FROM greeting" && echo client-done; exec sleep 1000']
"#
    )
}

#[test]
fn postgres_with_a_secret_password_a_hook_and_a_printing_healthcheck() {
    if skip_unless_root("postgres") || !common::registry::have_tools("postgres", &["mmdebstrap"]) {
        return;
    }
    let mut env = Env::new("postgres");
    let p = env.project("pg");
    let tar = postgres_tar();
    env.ok(&[
        "image",
        "import",
        tar.to_str().expect("utf8"),
        "deb/postgres:test",
    ]);
    env.write("entry.sh", &ENTRY.replace("BIN", BIN));
    env.write("db_password.txt", "s3cret-from-a-file\n");
    env.write("compose.yaml", &stack(&p));
    let up = env.run(&["up", "-d", "--wait"]);
    assert!(
        up.status.success(),
        "up --wait: {}{}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr),
        env.ok(&["logs", "db"])
    );
    let rows = env.ps_json(&p);
    assert_eq!(env.service(&rows, "db")["health"], "healthy", "{rows:?}");
    // The probe printed ("... accepting connections") and was kept: it did not die of it.
    let inspect = env.ok(&["inspect", "db"]);
    assert!(inspect.contains("accepting connections"), "{inspect}");

    // The client read the table the hook made, over the network with the secret.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut logs = env.ok(&["logs", "--no-log-prefix", "client"]);
    while !logs.contains("client-done") {
        assert!(Instant::now() < deadline, "client: {logs}");
        std::thread::sleep(Duration::from_millis(100));
        logs = env.ok(&["logs", "--no-log-prefix", "client"]);
    }
    assert!(logs.contains("hello from postgres"), "{logs}");
    // The password matters: a wrong one is refused.
    let wrong = env.run(&[
        "exec",
        "client",
        "sh",
        "-c",
        &format!("PGPASSWORD=wrong {BIN}/psql -h db -U postgres -tAc 'SELECT 1'"),
    ]);
    assert!(!wrong.status.success(), "a wrong password was accepted");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    env.ok(&["down", "-v", "-t", "5"]);
    assert!(
        env.ps_json(&p).is_empty(),
        "left behind: {:?}",
        env.ps_json(&p)
    );
}
