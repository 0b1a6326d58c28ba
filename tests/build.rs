//! Dockerfile builds through the real binary (root only): a multi-stage build with RUN,
//! COPY --from, .dockerignore, ENV and WORKDIR whose image runs; a rebuild served from the
//! cache with the same image id; an edit that re-runs only the steps after it; a failing
//! RUN; Dockerfile errors before anything runs; ADD of a tar; RUN on the host's network.

mod common;

use common::registry;
use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn context(env: &Env, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.dir.join(name);
    for (f, text) in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

fn build(env: &Env, args: &[&str]) -> std::process::Output {
    let mut a = vec!["image", "build"];
    a.extend_from_slice(args);
    env.run(&a)
}

fn built(env: &Env, args: &[&str]) -> String {
    let out = build(env, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "build {args:?} failed:\n{err}\n{}\ndaemon log: {}",
        String::from_utf8_lossy(&out.stdout),
        env.daemon_log()
    );
    err
}

fn image_id(env: &Env, reference: &str) -> Option<String> {
    let out = env.ok(&["image", "ls", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    list.as_array()
        .expect("array")
        .iter()
        .find(|i| i["reference"] == reference)
        .map(|i| i["id"].as_str().expect("id").to_string())
}

/// The step lines (`[n/N] TEXT[ CACHED]`) of a build's output. FROM and ARG do no work
/// of their own, so they are never marked CACHED.
fn steps(err: &str) -> Vec<String> {
    err.lines()
        .filter(|l| l.starts_with('['))
        .map(str::to_string)
        .collect()
}

fn run_in(env: &mut Env, image: &str, cmd: &[&str]) -> String {
    let p = env.project("bld");
    let file = env.write(
        &format!("{p}.yaml"),
        &format!("name: {p}\nservices:\n  s:\n    image: {image}\n"),
    );
    let mut a = vec!["-f", file.to_str().expect("utf8"), "run", "--rm", "-T", "s"];
    a.extend_from_slice(cmd);
    env.ok(&a)
}

const MULTI: &str = "\
FROM busybox:test AS builder
ARG GREETING=hello
COPY app.txt /src/
RUN mkdir -p /out && cat /src/app.txt > /out/app && echo \"$GREETING from RUN\" > /out/greeting && ls /src > /out/listing
FROM busybox:test
COPY --from=builder /out/ /app/
WORKDIR /app
ENV MODE=production
COPY other.txt ./
RUN echo \"mode=$MODE\" > /app/mode
CMD [\"cat\", \"/app/app\", \"/app/greeting\", \"/app/mode\", \"/app/other.txt\"]
";

#[test]
fn a_multi_stage_build_runs_and_rebuilds_from_its_cache() {
    let Some((mut env, _)) = setup("bldms") else {
        return;
    };
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", MULTI),
            ("app.txt", "app v1\n"),
            ("other.txt", "other v1\n"),
            ("secret.txt", "not sent\n"),
            (".dockerignore", "secret.txt\n"),
        ],
    );
    let c = ctx.to_str().expect("utf8");
    let first = built(&env, &["-t", "app:1", c]);
    let s = steps(&first);
    assert_eq!(s.len(), 11, "{first}");
    assert!(s.iter().all(|l| !l.ends_with("CACHED")), "{first}");
    let id = image_id(&env, "app:1").expect("app:1 listed");

    let out = run_in(&mut env, "app:1", &[]);
    assert_eq!(out, "app v1\nhello from RUN\nmode=production\nother v1\n");
    // .dockerignore kept secret.txt out of the context; the build stage saw app.txt only.
    let listing = run_in(&mut env, "app:1", &["cat", "/app/listing"]);
    assert_eq!(listing, "app.txt\n");
    let cwd = run_in(&mut env, "app:1", &["pwd"]);
    assert_eq!(cwd, "/app\n");

    // Nothing changed: every step comes from the cache, and the image is the same one.
    let again = built(&env, &["-t", "app:1", c]);
    let s = steps(&again);
    assert!(
        s.iter()
            .filter(|l| !l.contains("] FROM ") && !l.contains("] ARG "))
            .all(|l| l.ends_with("CACHED")),
        "{again}"
    );
    assert_eq!(image_id(&env, "app:1"), Some(id.clone()));

    // An edit to other.txt re-runs its COPY and what follows, nothing before it.
    std::fs::write(ctx.join("other.txt"), "other v2\n").expect("write");
    let edited = built(&env, &["-t", "app:1", c]);
    let s = steps(&edited);
    let pos = s
        .iter()
        .position(|l| l.contains("COPY other.txt"))
        .expect("copy step");
    for (i, l) in s.iter().enumerate() {
        if l.contains("] FROM ") || l.contains("] ARG ") {
            continue;
        }
        assert_eq!(l.ends_with("CACHED"), i < pos, "step {l}:\n{edited}");
    }
    assert_ne!(image_id(&env, "app:1"), Some(id));
    let out = run_in(&mut env, "app:1", &["cat", "/app/other.txt"]);
    assert_eq!(out, "other v2\n");

    // A build arg changes the RUN that uses it.
    let arg = built(&env, &["-t", "app:2", "--build-arg", "GREETING=hi", c]);
    assert!(
        steps(&arg)
            .iter()
            .any(|l| l.contains("RUN mkdir") && !l.ends_with("CACHED")),
        "{arg}"
    );
    let out = run_in(&mut env, "app:2", &["cat", "/app/greeting"]);
    assert_eq!(out, "hi from RUN\n");
}

#[test]
fn a_failing_run_shows_its_output_names_its_line_and_tags_nothing() {
    let Some((env, _)) = setup("bldfail") else {
        return;
    };
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox:test\nRUN echo fine\nRUN echo about to fail && exit 3\nRUN echo never\n",
        )],
    );
    let out = build(&env, &["-t", "broken:1", ctx.to_str().expect("utf8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("about to fail"), "{err}");
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.contains("code 3"), "{err}");
    assert!(!err.contains("never"), "{err}");
    assert_eq!(image_id(&env, "broken:1"), None);
}

#[test]
fn dockerfile_errors_and_missing_sources_are_reported_with_their_place() {
    let Some((env, _)) = setup("blderr") else {
        return;
    };
    let ctx = context(
        &env,
        "bad",
        &[(
            "Dockerfile",
            "FROM busybox:test\nRUNN echo hi\nCOPY --form=x a /b\n",
        )],
    );
    let out = build(&env, &["-t", "bad:1", ctx.to_str().expect("utf8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Both problems, each at its place, and nothing ran.
    assert!(err.contains("Dockerfile:2:1"), "{err}");
    assert!(err.contains("RUN"), "{err}");
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(!err.contains("[1/"), "{err}");

    let ctx = context(
        &env,
        "missing",
        &[("Dockerfile", "FROM busybox:test\nCOPY nothere.txt /x\n")],
    );
    let out = build(&env, &["-t", "bad:2", ctx.to_str().expect("utf8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("nothere.txt"), "{err}");
    assert_eq!(image_id(&env, "bad:2"), None);
}

#[test]
fn add_extracts_a_local_tar_and_chown_and_chmod_apply() {
    let Some((mut env, _)) = setup("bldadd") else {
        return;
    };
    let ctx = context(&env, "ctx", &[("plain.txt", "plain\n")]);
    let src = env.dir.join("tarsrc");
    std::fs::create_dir_all(src.join("pkg")).expect("mkdir");
    std::fs::write(src.join("pkg/inside.txt"), "inside\n").expect("write");
    let st = std::process::Command::new("tar")
        .args(["-C", src.to_str().expect("utf8"), "-czf"])
        .arg(ctx.join("bundle.tar.gz"))
        .arg("pkg")
        .status()
        .expect("tar");
    assert!(st.success());
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox:test\nADD bundle.tar.gz /opt/\nCOPY --chown=nobody:nogroup --chmod=600 plain.txt /opt/plain.txt\n",
    )
    .expect("write");
    built(&env, &["-t", "add:1", ctx.to_str().expect("utf8")]);
    let out = run_in(&mut env, "add:1", &["cat", "/opt/pkg/inside.txt"]);
    assert_eq!(out, "inside\n");
    let out = run_in(
        &mut env,
        "add:1",
        &["stat", "-c", "%U:%G %a", "/opt/plain.txt"],
    );
    assert_eq!(out, "nobody:nogroup 600\n");
}

#[test]
fn run_steps_reach_the_hosts_network_unless_it_is_none() {
    let Some((mut env, _)) = setup("bldnet") else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.0 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nfrom-the-host",
            );
        }
    });
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            &format!("FROM busybox:test\nRUN wget -q -O /fetched http://127.0.0.1:{port}/\n"),
        )],
    );
    built(&env, &["-t", "net:1", ctx.to_str().expect("utf8")]);
    let _ = server.join();
    let out = run_in(&mut env, "net:1", &["cat", "/fetched"]);
    assert_eq!(out, "from-the-host");

    // With --network none the same step has only its own loopback.
    let out = build(
        &env,
        &[
            "-t",
            "net:2",
            "--no-cache",
            "--network",
            "none",
            ctx.to_str().expect("utf8"),
        ],
    );
    assert!(
        !out.status.success(),
        "a RUN without network reached the host"
    );
}

#[test]
fn a_build_leaves_no_container_mount_or_cgroup_behind() {
    let Some((env, _)) = setup("bldclean") else {
        return;
    };
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox:test\nRUN echo a > /a\nRUN echo b > /b\n",
        )],
    );
    built(&env, &["-t", "clean:1", ctx.to_str().expect("utf8")]);
    assert!(
        mounts_under(&env.data_root).is_empty(),
        "{:?}",
        mounts_under(&env.data_root)
    );
    // Build containers are named b-<daemon pid>-...: only this daemon's are looked for.
    let pid = std::fs::read_to_string(env.data_root.join("daemon.lock")).expect("daemon.lock");
    let mine = format!("b-{}-", pid.trim());
    let leftovers: Vec<PathBuf> = ["pids", "memory", "cpu,cpuacct", "devices", "unified"]
        .iter()
        .map(|h| Path::new("/sys/fs/cgroup").join(h).join("rstack"))
        .filter_map(|d| std::fs::read_dir(&d).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&mine))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let tmp = env.data_root.join("images/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn independent_stages_build_at_the_same_time() {
    let Some((mut env, _)) = setup("bldpar") else {
        return;
    };
    // The server answers only once both stages' RUNs are connected: built one after the
    // other, the first RUN's wget would time out and fail the build. (busybox wget -T
    // crashes, so `timeout` bounds it.)
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let mut conns = Vec::new();
        while conns.len() < 2 {
            match listener.accept() {
                Ok((s, _)) => conns.push(s),
                Err(_) => return,
            }
        }
        for mut s in conns {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    let df = format!(
        "FROM busybox:test AS a\nRUN timeout 30 wget -q -O /a http://127.0.0.1:{port}/a\n\
         FROM busybox:test AS b\nRUN timeout 30 wget -q -O /b http://127.0.0.1:{port}/b\n\
         FROM busybox:test\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
    );
    let ctx = context(&env, "ctx", &[("Dockerfile", &df)]);
    built(&env, &["-t", "par:1", ctx.to_str().expect("utf8")]);
    let _ = server.join();
    let out = run_in(&mut env, "par:1", &["cat", "/a", "/b"]);
    assert_eq!(out, "okok");
}

#[test]
fn a_built_image_pushes_and_pulls_back_with_the_same_digest_and_runs() {
    let Some((mut env, _)) = setup("bldreg") else {
        return;
    };
    if !registry::have_tools("bldreg", &["docker-registry", "skopeo"]) {
        return;
    }
    let reg = registry::Registry::start(&env.dir, None);
    let image = format!("{}/built/app:1", reg.host());
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", MULTI),
            ("app.txt", "app v1\n"),
            ("other.txt", "other v1\n"),
        ],
    );
    built(&env, &["-t", &image, ctx.to_str().expect("utf8")]);
    let history = env.ok(&["image", "history", "--no-trunc", &image]);
    assert!(history.contains("RUN echo \"mode=$MODE\""), "{history}");
    assert!(history.contains("COPY other.txt ./"), "{history}");
    let digest = |env: &Env| -> String {
        let out = env.ok(&["image", "ls", "--format", "json"]);
        let list: serde_json::Value = serde_json::from_str(&out).expect("json");
        list.as_array()
            .expect("array")
            .iter()
            .find(|i| i["reference"] == image.as_str())
            .and_then(|i| i["digest"].as_str())
            .expect("digest")
            .to_string()
    };
    let before = digest(&env);
    env.ok(&["image", "push", &image]);
    // An independent client reads what was pushed, under the same digest.
    assert_eq!(registry::skopeo_digest(&image), before);

    env.ok(&["image", "rm", &image]);
    assert_eq!(image_id(&env, &image), None);
    env.ok(&["image", "pull", &image]);
    assert_eq!(digest(&env), before);
    let out = run_in(&mut env, &image, &["cat", "/app/mode", "/app/greeting"]);
    assert_eq!(out, "mode=production\nhello from RUN\n");
}

#[test]
fn rstack_build_builds_a_services_image_with_its_args_and_additional_contexts() {
    let Some((mut env, _)) = setup("bldsvc") else {
        return;
    };
    let p = env.project("bldsvc");
    context(
        &env,
        "stack",
        &[
            (
                "web/Dockerfile",
                "FROM busybox:test\nARG GREETING=unset\nRUN echo \"$GREETING\" > /greeting\nCOPY --from=extra extra.txt /extra.txt\n",
            ),
            ("extra/extra.txt", "from the extra context\n"),
            (
                "compose.yaml",
                &format!(
                    "name: {p}\nservices:\n  web:\n    build:\n      context: ./web\n      args: [GREETING=hey]\n      additional_contexts:\n        extra: ./extra\n    command: [\"cat\", \"/greeting\", \"/extra.txt\"]\n  plain:\n    image: busybox:test\n"
                ),
            ),
        ],
    );
    let file = env.dir.join("stack/compose.yaml");
    let f = file.to_str().expect("utf8");
    let out = env.run(&["-f", f, "build", "plain"]);
    assert!(!out.status.success(), "plain has no build: section");
    let out = env.run(&["-f", f, "build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(image_id(&env, &format!("{p}-web:latest")).is_some());
    let out = env.ok(&["-f", f, "run", "--rm", "-T", "web"]);
    assert_eq!(out, "hey\nfrom the extra context\n");
}

#[test]
fn up_builds_a_missing_image_once_and_up_build_rebuilds_it() {
    let Some((mut env, _)) = setup("bldup") else {
        return;
    };
    let p = env.project("bldup");
    context(
        &env,
        "stack",
        &[
            ("web/Dockerfile", "FROM busybox:test\nRUN echo v1 > /v\n"),
            (
                "compose.yaml",
                &format!(
                    "name: {p}\nservices:\n  web:\n    build: ./web\n    init: true\n    command: [\"sleep\", \"1000\"]\n"
                ),
            ),
        ],
    );
    let file = env.dir.join("stack/compose.yaml");
    let f = file.to_str().expect("utf8");
    let up = |env: &Env, extra: &[&str]| -> String {
        let mut a = vec!["-f", f, "up", "-d"];
        a.extend_from_slice(extra);
        let out = env.run(&a);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "up {extra:?}: {err}\n{}",
            env.daemon_log()
        );
        err
    };
    let first = up(&env, &[]);
    assert!(first.contains("Building web"), "{first}");
    assert_eq!(env.ok(&["-f", f, "exec", "-T", "web", "cat", "/v"]), "v1\n");
    // Present now: not built again.
    let second = up(&env, &[]);
    assert!(!second.contains("Building"), "{second}");
    // An edit is built only when asked, and the container follows the new image.
    std::fs::write(
        env.dir.join("stack/web/Dockerfile"),
        "FROM busybox:test\nRUN echo v2 > /v\n",
    )
    .expect("write");
    up(&env, &[]);
    assert_eq!(env.ok(&["-f", f, "exec", "-T", "web", "cat", "/v"]), "v1\n");
    let rebuilt = up(&env, &["--build"]);
    assert!(rebuilt.contains("Building web"), "{rebuilt}");
    assert_eq!(env.ok(&["-f", f, "exec", "-T", "web", "cat", "/v"]), "v2\n");
    // --no-build with the image gone is an error that says what to do.
    env.ok(&["-f", f, "down"]);
    env.ok(&["image", "rm", &format!("{p}-web")]);
    let out = env.run(&["-f", f, "up", "-d", "--no-build", "--pull", "never"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rstack build web") || err.contains("not present"),
        "{err}"
    );
}

#[test]
fn cache_mounts_persist_across_builds_and_platform_args_are_the_hosts() {
    let Some((mut env, _)) = setup("bldmnt") else {
        return;
    };
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM --platform=$BUILDPLATFORM busybox:test\n\
             ARG TARGETARCH\n\
             RUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /runs\n\
             RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && echo \"$TARGETARCH\" > /arch\n",
        )],
    );
    let c = ctx.to_str().expect("utf8");
    built(&env, &["-t", "mnt:1", "--no-cache", c]);
    built(&env, &["-t", "mnt:2", "--no-cache", c]);
    // The cache directory outlived the first build; its content is in no layer.
    assert_eq!(run_in(&mut env, "mnt:1", &["cat", "/runs"]).trim(), "1");
    assert_eq!(run_in(&mut env, "mnt:2", &["cat", "/runs"]).trim(), "2");
    assert_eq!(
        run_in(&mut env, "mnt:2", &["ls", "-A", "/cache", "/scratch"]).trim(),
        "/cache:\n\n/scratch:"
    );
    let arch = run_in(&mut env, "mnt:2", &["cat", "/arch"]);
    assert!(!arch.trim().is_empty(), "TARGETARCH is set");

    // What rstack cannot do is refused with the line and what to do.
    for (df, what) in [
        ("FROM --platform=linux/s390x busybox:test\n", "s390x"),
        (
            "FROM busybox:test\nADD https://example.invalid/x.tgz /x\n",
            "RUN",
        ),
        (
            "FROM busybox:test\nRUN --mount=type=secret,id=s,target=/s true\n",
            "secret",
        ),
    ] {
        std::fs::write(ctx.join("Dockerfile"), df).expect("write");
        let out = build(&env, &["-t", "mnt:bad", c]);
        assert!(!out.status.success(), "{df}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(what) && err.contains("Dockerfile:"),
            "{df}: {err}"
        );
    }
}
