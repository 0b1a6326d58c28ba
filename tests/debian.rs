//! A real distribution's image (root only): a Debian bookworm root filesystem made by
//! `mmdebstrap` from Debian's own packages (cached under /var/cache/rstack-test, never in
//! the repo), imported, built FROM with a COPY and a RUN, and run. Debian's merged /usr
//! (`/bin -> usr/bin`) is where a COPY must follow the image's symlinks.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const CACHE: &str = "/var/cache/rstack-test";

/// The Debian rootfs tar (essential packages plus redis and procps), made once per machine.
/// Concurrent tests wait on a lock; a failed or partial run leaves no tar behind.
fn debian_tar() -> PathBuf {
    std::fs::create_dir_all(CACHE).expect("mkdir cache");
    let tar = Path::new(CACHE).join("debian-bookworm-redis.tar");
    let lock = std::fs::File::create(Path::new(CACHE).join("debian.lock")).expect("lock file");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&lock);
    // SAFETY: flock on a descriptor we own; released when `lock` is dropped.
    let rc = unsafe { libc::flock(fd, libc::LOCK_EX) };
    assert_eq!(rc, 0);
    if tar.exists() {
        return tar;
    }
    // mmdebstrap picks the output format from the name's extension: keep .tar.
    let partial = Path::new(CACHE).join(format!("partial-{}.tar", std::process::id()));
    let out = Command::new("mmdebstrap")
        .args([
            "--variant=essential",
            "--include=redis-server,redis-tools,procps",
            "bookworm",
        ])
        .arg(&partial)
        .output()
        .expect("mmdebstrap (apt-get install mmdebstrap)");
    assert!(
        out.status.success(),
        "mmdebstrap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&partial, &tar).expect("rename");
    tar
}

fn have_mmdebstrap(tag: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v mmdebstrap"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("RSTACK_REQUIRE_ROOT_TESTS").is_none(),
            "{tag} needs mmdebstrap (apt-get install mmdebstrap)"
        );
        eprintln!("skipping {tag}: needs mmdebstrap");
    }
    found
}

#[test]
fn a_debian_image_builds_with_copy_and_run_and_the_result_runs() {
    if skip_unless_root("debbuild") || !have_mmdebstrap("debbuild") {
        return;
    }
    let mut env = Env::new("debbuild");
    let tar = debian_tar();
    env.ok(&[
        "image",
        "import",
        tar.to_str().expect("utf8"),
        "debian:test",
    ]);
    let ctx = env.dir.join("ctx");
    std::fs::create_dir_all(&ctx).expect("mkdir");
    std::fs::write(
        ctx.join("greet.sh"),
        "#!/bin/sh\necho \"hello from $(id -un)\"\n",
    )
    .expect("write");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM debian:test\n\
         COPY --chmod=755 greet.sh /bin/greet\n\
         RUN useradd --create-home app && greet > /greeting && redis-server --version | cut -d' ' -f1-3 > /redis-version\n\
         USER app\n\
         CMD [\"greet\"]\n",
    )
    .expect("write");
    let out = env.run(&[
        "image",
        "build",
        "-t",
        "deb-app:1",
        ctx.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "build failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        env.daemon_log()
    );

    let p = env.project("debbuild");
    let file = env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  s:\n    image: deb-app:1\n"),
    );
    let f = file.to_str().expect("utf8");
    let run = |cmd: &[&str]| {
        let mut a = vec!["-f", f, "run", "--rm", "-T", "s"];
        a.extend_from_slice(cmd);
        env.ok(&a)
    };
    // The image's CMD and USER.
    assert_eq!(run(&[]), "hello from app\n");
    // What the RUN made, as root, in the image's own environment.
    assert_eq!(run(&["cat", "/greeting"]), "hello from root\n");
    assert!(
        run(&["cat", "/redis-version"]).starts_with("Redis server v="),
        "redis-server ran in the RUN"
    );
    // The COPY followed Debian's /bin -> usr/bin: the symlink is intact, the file in
    // /usr/bin, with its mode.
    assert_eq!(run(&["readlink", "/bin"]), "usr/bin\n");
    assert_eq!(
        run(&["stat", "-c", "%a %U", "/usr/bin/greet"]),
        "755 root\n"
    );
    assert_eq!(run(&["id", "-un"]), "app\n");

    // Real software under its own healthcheck: redis, probed with `redis-cli ping`, which
    // prints PONG (issue 13: a printing probe died of SIGPIPE and never turned healthy).
    let r = env.project("debredis");
    let file = env.write(
        "redis.yaml",
        &format!(
            "name: {r}\nservices:\n  redis:\n    image: debian:test\n    user: redis\n    command: [\"redis-server\", \"--save\", \"\", \"--appendonly\", \"no\"]\n    healthcheck:\n      test: [\"CMD\", \"redis-cli\", \"ping\"]\n      start_interval: 100ms\n"
        ),
    );
    let f = file.to_str().expect("utf8");
    env.ok(&["-f", f, "up", "-d"]);
    env.wait_for(&r, "redis", 30, |row| row["health"] == "healthy");
    assert_eq!(
        env.ok(&["-f", f, "exec", "-T", "redis", "redis-cli", "ping"]),
        "PONG\n"
    );
}
