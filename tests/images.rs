//! The image store commands through the real binary (root only): tag, inspect, history,
//! ls (json, digests, dangling images), rm refused while a container uses the image and
//! --force, prune [-a], save read by skopeo (oci-archive: and docker-archive:), save/load
//! round trips, and search against Debian's `docker-registry` on 127.0.0.1.

mod common;

use common::registry::Registry;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const STACK: &str = r#"
services:
  sleeper:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    restart: always
    command: [sleep, "1000"]
"#;

fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `setup`, and the tools the test needs (a missing one fails under CI, else skips).
fn setup_with(tag: &str, tools: &[&str]) -> Option<(Env, String)> {
    if skip_unless_root(tag) {
        return None;
    }
    for tool in tools {
        if !has(tool) {
            assert!(
                std::env::var_os("RSTACK_REQUIRE_ROOT_TESTS").is_none(),
                "{tag} needs {tool} (apt-get install docker-registry skopeo)"
            );
            eprintln!("skipping {tag}: needs {tool}");
            return None;
        }
    }
    setup(tag)
}

fn fails(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(1), "rstack {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ls(env: &Env) -> Vec<Value> {
    serde_json::from_str(&env.ok(&["image", "ls", "--format", "json"])).expect("ls json")
}

fn row<'a>(rows: &'a [Value], reference: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["reference"] == reference)
}

/// A busybox rootfs tar with one more file, so it imports as another image.
fn changed_rootfs(env: &Env, name: &str) -> PathBuf {
    let base = busybox_rootfs_tar(&env.dir);
    let out = env.dir.join(name);
    std::fs::copy(&base, &out).expect("copy tar");
    let extra = env.dir.join("extra");
    std::fs::create_dir_all(&extra).expect("mkdir");
    std::fs::write(extra.join("marker"), name).expect("marker");
    let st = Command::new("tar")
        .args(["-rf", out.to_str().expect("utf8"), "-C"])
        .arg(&extra)
        .arg("marker")
        .status()
        .expect("tar");
    assert!(st.success());
    out
}

#[test]
fn tag_inspect_history_and_ls_formats() {
    let Some((env, _)) = setup("imgtag") else {
        return;
    };
    env.ok(&["image", "tag", "busybox:test", "example.local/team/bb:2"]);
    let v: Value = serde_json::from_str(&env.ok(&[
        "image",
        "inspect",
        "busybox:test",
        "example.local/team/bb:2",
    ]))
    .expect("inspect json");
    let (a, b) = (&v[0], &v[1]);
    assert_eq!(a["Id"], b["Id"]);
    assert_eq!(
        a["RepoTags"],
        serde_json::json!(["busybox:test", "example.local/team/bb:2"])
    );
    assert!(
        a["RepoDigests"][0]
            .as_str()
            .is_some_and(|d| d.starts_with("busybox@sha256:")),
        "{a}"
    );
    assert_eq!(a["Os"], "linux");
    assert!(a["Config"]["Env"].is_array(), "{a}");
    assert_eq!(a["RootFS"]["Layers"].as_array().map(Vec::len), Some(1));
    assert_eq!(a["Manifest"]["Layers"].as_array().map(Vec::len), Some(1));
    let digest = a["Manifest"]["Digest"]
        .as_str()
        .expect("digest")
        .to_string();

    let err = fails(&env, &["image", "inspect", "nope:1"]);
    assert!(err.contains("\"nope:1\" not found"), "{err}");

    // ls: json objects with the fields scripts read; --digests shows the manifest digest.
    let rows = ls(&env);
    let r = row(&rows, "example.local/team/bb:2").expect("tagged row");
    for key in ["reference", "id", "digest", "size", "created"] {
        assert!(r.get(key).is_some(), "{key} missing in {r}");
    }
    assert_eq!(r["digest"], digest.as_str());
    assert_eq!(r["id"], a["Id"]);
    assert!(env.ok(&["image", "ls", "--digests"]).contains(&digest));
    assert!(!env.ok(&["image", "ls"]).contains(&digest));

    // history: one row for the import of a rootfs tar, the size of its layer.
    let out = env.ok(&["image", "history", "busybox:test"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("IMAGE") && lines[0].contains("CREATED BY"),
        "{out}"
    );
    assert_eq!(lines.len(), 2, "{out}");
    let short = &a["Id"].as_str().expect("id")[7..19];
    assert!(lines[1].starts_with(short), "{out}");
    assert!(lines[1].contains("rstack image import"), "{out}");
    let rows: Vec<Value> =
        serde_json::from_str(&env.ok(&["image", "history", "--format", "json", "busybox:test"]))
            .expect("history json");
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]["size"].as_u64().expect("size") > 100_000,
        "{rows:?}"
    );
    assert_eq!(
        env.ok(&["image", "history", "-q", "busybox:test"]).trim(),
        short
    );
}

#[test]
fn rm_is_refused_while_a_container_uses_the_image_and_force_only_untags() {
    let Some((mut env, _)) = setup("imgrm") else {
        return;
    };
    let p = env.project("imgrm");
    env.write("compose.yaml", &format!("name: {p}\n{STACK}"));
    env.ok(&["up", "-d"]);
    let before = env.wait_for(&p, "sleeper", 10, |r| r["state"] == "running");
    let id = row(&ls(&env), "busybox:test").expect("listed")["id"].clone();

    let err = fails(&env, &["image", "rm", "busybox:test"]);
    assert!(
        err.contains("is used by") && err.contains(&format!("{p}-sleeper-1")),
        "{err}"
    );
    assert!(row(&ls(&env), "busybox:test").is_some());

    let out = env.ok(&["image", "rm", "--force", "busybox:test"]);
    assert!(out.contains("Untagged: busybox:test"), "{out}");
    assert!(!out.contains("Deleted"), "{out}");
    // The image stays, dangling, while the container uses it: its layers are its lowerdirs.
    let rows = ls(&env);
    assert!(row(&rows, "busybox:test").is_none());
    let dangling = row(&rows, "<none>:<none>").expect("dangling row");
    assert_eq!(dangling["id"], id);
    // Prune does not take it either.
    env.ok(&["image", "prune", "-a"]);
    assert!(row(&ls(&env), "<none>:<none>").is_some());

    // The container still runs, and starts again after its process dies.
    let r = env.wait_for(&p, "sleeper", 5, |r| r["state"] == "running");
    assert_eq!(r["pid"], before["pid"]);
    env.ok(&["restart", "sleeper"]);
    let r = env.wait_for(&p, "sleeper", 10, |r| {
        r["state"] == "running" && r["pid"] != before["pid"]
    });
    let out = env.ok(&["exec", "sleeper", "cat", "/etc/group"]);
    assert!(out.contains("root"), "{out} {r}");

    // Once the container is gone, prune removes the image and its content.
    env.ok(&["down"]);
    let out = env.ok(&["image", "prune"]);
    assert!(
        out.contains(&format!("deleted: {}", id.as_str().expect("id"))),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert!(ls(&env).is_empty());
    let layers = std::fs::read_dir(env.data_root.join("images/layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(layers, 0);
}

#[test]
fn reimport_leaves_a_dangling_image_that_prune_removes_and_prune_all_keeps_used_ones() {
    let Some((mut env, _)) = setup("imgprune") else {
        return;
    };
    let first = changed_rootfs(&env, "one.tar");
    let second = changed_rootfs(&env, "two.tar");
    env.ok(&["image", "import", first.to_str().expect("utf8"), "app:1"]);
    let old = row(&ls(&env), "app:1").expect("app")["id"].clone();
    env.ok(&["image", "import", second.to_str().expect("utf8"), "app:1"]);
    let rows = ls(&env);
    assert_ne!(row(&rows, "app:1").expect("app")["id"], old);
    assert_eq!(row(&rows, "<none>:<none>").expect("dangling")["id"], old);
    let table = env.ok(&["image", "ls"]);
    assert!(table.contains("<none>:<none>"), "{table}");

    let out = env.ok(&["image", "prune"]);
    assert!(
        out.contains(&format!("deleted: {}", old.as_str().expect("id"))),
        "{out}"
    );
    let rows = ls(&env);
    assert!(row(&rows, "<none>:<none>").is_none());
    assert!(row(&rows, "app:1").is_some() && row(&rows, "busybox:test").is_some());

    // prune -a: every image no container uses.
    let p = env.project("imgprune");
    env.write("compose.yaml", &format!("name: {p}\n{STACK}"));
    env.ok(&["up", "-d"]);
    env.wait_for(&p, "sleeper", 10, |r| r["state"] == "running");
    let out = env.ok(&["image", "prune", "-a"]);
    assert!(out.contains("untagged: app:1"), "{out}");
    let rows = ls(&env);
    assert!(row(&rows, "app:1").is_none());
    assert!(row(&rows, "busybox:test").is_some());
    env.ok(&["down"]);
}

/// skopeo's view of an archive, as JSON.
fn skopeo_inspect(target: &str) -> Value {
    let out = Command::new("skopeo")
        .args(["inspect", target])
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("skopeo json")
}

#[test]
fn save_is_read_by_skopeo_and_load_restores_ids_digests_and_names() {
    let Some((env, _)) = setup_with("imgsave", &["skopeo"]) else {
        return;
    };
    env.ok(&["image", "tag", "busybox:test", "example.local/bb:2"]);
    let before = ls(&env);
    let one = env.dir.join("one.tar");
    env.ok(&[
        "image",
        "save",
        "-o",
        one.to_str().expect("utf8"),
        "busybox:test",
    ]);

    let digest = row(&before, "busybox:test").expect("row")["digest"].clone();
    let oci = skopeo_inspect(&format!("oci-archive:{}", one.display()));
    assert_eq!(oci["Digest"], digest);
    assert_eq!(oci["Layers"].as_array().map(Vec::len), Some(1));
    let docker = skopeo_inspect(&format!("docker-archive:{}", one.display()));
    assert_eq!(docker["Layers"].as_array().map(Vec::len), Some(1));
    assert_eq!(docker["Os"], "linux");
    // skopeo copies it too (reads every blob against its digest).
    let copied = env.dir.join("copied");
    let st = Command::new("skopeo")
        .args(["copy", &format!("oci-archive:{}", one.display())])
        .arg(format!("oci:{}:x", copied.display()))
        .status()
        .expect("skopeo copy");
    assert!(st.success());

    // Both names in one archive, written to stdout.
    let both = env.dir.join("both.tar");
    let out = env
        .cmd(&["image", "save", "busybox:test", "example.local/bb:2"])
        .stdout(std::fs::File::create(&both).expect("create"))
        .status()
        .expect("save");
    assert!(out.success());
    let err = fails(&env, &["image", "save", "-o", "/dev/null", "nope:1"]);
    assert!(err.contains("not found"), "{err}");

    env.ok(&["image", "rm", "busybox:test", "example.local/bb:2"]);
    assert!(ls(&env).is_empty());
    let out = env.ok(&["image", "load", "-i", both.to_str().expect("utf8")]);
    assert!(out.contains("Loaded image: busybox:test"), "{out}");
    assert!(out.contains("Loaded image: example.local/bb:2"), "{out}");
    let after = ls(&env);
    let shape = |rows: &[Value]| -> Vec<(Value, Value, Value)> {
        rows.iter()
            .map(|r| (r["reference"].clone(), r["id"].clone(), r["digest"].clone()))
            .collect()
    };
    assert_eq!(shape(&after), shape(&before));

    // From stdin as well, and the loaded image runs.
    env.ok(&["image", "rm", "busybox:test", "example.local/bb:2"]);
    let mut child = env
        .cmd(&["image", "load"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("load");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut data = Vec::new();
    std::fs::File::open(&one)
        .and_then(|mut f| f.read_to_end(&mut data))
        .expect("read");
    stdin.write_all(&data).expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("load");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Loaded image: busybox:test"));
    assert_eq!(shape(&ls(&env)), shape(&before)[..1].to_vec());
}

/// A server on 127.0.0.1 that answers every request 404 (a registry without a catalog).
fn not_found_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

fn output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn search_lists_matching_repositories_of_a_registry_with_their_tags() {
    let Some((env, _)) = setup_with("imgsearch", &["docker-registry"]) else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let host = format!("127.0.0.1:{}", reg.port);
    for name in ["team/web-front:1", "team/web-front:2", "db-main:5"] {
        let r = format!("{host}/{name}");
        env.ok(&["image", "tag", "busybox:test", &r]);
        env.ok(&["image", "push", &r]);
    }
    let out = env.ok(&["image", "search", &format!("{host}/web")]);
    assert!(
        out.contains("team/web-front") && out.contains("1, 2"),
        "{out}"
    );
    assert!(!out.contains("db-main"), "{out}");
    let all: Value = serde_json::from_str(&env.ok(&[
        "image",
        "search",
        "--format",
        "json",
        &format!("{host}/"),
    ]))
    .expect("search json");
    let names: Vec<&str> = all["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["db-main", "team/web-front"]);
    assert_eq!(all["repositories"][0]["tags"], serde_json::json!(["5"]));

    // A registry without a catalog, and no registry to ask at all.
    let port = not_found_server();
    let out = env.run(&["image", "search", &format!("127.0.0.1:{port}/x")]);
    assert_eq!(out.status.code(), Some(1));
    let text = output(&out);
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("no catalog"),
        "{text}"
    );
    let out = env.run(&["image", "search", "redis"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(output(&out).contains("no catalog"), "{}", output(&out));

    // Without a registry named, the first [registry] mirror is searched.
    env.stop_daemon(libc::SIGTERM);
    let cfg = env.write(
        "rstack.toml",
        &format!("[registry]\nmirrors = [\"http://{host}\"]\n"),
    );
    let mut daemon = env.start_daemon_with(
        "daemon-mirror.log",
        &["--config", cfg.to_str().expect("utf8")],
    );
    let out = env.run(&["image", "search", "db"]);
    let text = output(&out);
    drop(env);
    let _ = daemon.wait();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("db-main") && !text.contains("web-front"),
        "{text}"
    );
}

#[test]
fn gc_keeps_the_layers_of_a_container_whose_image_left_the_index() {
    let Some((mut env, _)) = setup("imgpin") else {
        return;
    };
    let p = env.project("imgpin");
    env.write("compose.yaml", &format!("name: {p}\n{STACK}"));
    env.ok(&["up", "-d"]);
    let before = env.wait_for(&p, "sleeper", 10, |r| r["state"] == "running");
    // As an older release left things: the image removed from index.json while a
    // container used it.
    let index = env.data_root.join("images/index.json");
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(&index).expect("index")).expect("json");
    v["manifests"] = serde_json::json!([]);
    let tmp = env.data_root.join("images/index.json.test");
    std::fs::write(&tmp, serde_json::to_vec(&v).expect("json")).expect("write");
    std::fs::rename(&tmp, &index).expect("rename");
    env.ok(&["image", "prune", "-a"]);
    let layers: Vec<_> = std::fs::read_dir(env.data_root.join("images/layers"))
        .expect("layers")
        .collect();
    assert_eq!(layers.len(), 1, "the container's lowerdir was collected");
    env.ok(&["restart", "sleeper"]);
    env.wait_for(&p, "sleeper", 10, |r| {
        r["state"] == "running" && r["pid"] != before["pid"]
    });
    let out = env.ok(&["exec", "sleeper", "cat", "/etc/passwd"]);
    assert!(out.contains("root"), "{out}");
    env.ok(&["down"]);
    env.ok(&["image", "prune", "-a"]);
    let left = std::fs::read_dir(env.data_root.join("images/layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);
}
