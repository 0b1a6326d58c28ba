//! Registries through the real binary (root only), against Debian's `docker-registry`
//! (the distribution reference implementation) serving on 127.0.0.1 from a temporary
//! directory, and `skopeo` as the independent client: push, pull back, run; images that
//! skopeo pushes (a multi-platform index) pull and run; a docker.io mirror; errors; htpasswd
//! basic auth with `rstack login`.

mod common;

use common::registry::{self, Registry, free_port, have_tools, skopeo_digest};
use common::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Skips unless root, busybox, docker-registry and skopeo are here (fails in CI instead).
fn setup(tag: &str) -> Option<Env> {
    if skip_unless_root(tag) {
        return None;
    }
    if !have_tools(tag, &["docker-registry", "skopeo", "perl"]) {
        return None;
    }
    Some(Env::new(tag))
}

/// rstack with the test's own Docker client config (credentials).
fn rs(env: &Env, args: &[&str]) -> Output {
    registry::rs(env, args)
}

fn ok(env: &Env, args: &[&str]) -> (String, String) {
    let out = rs(env, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "rstack {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}\ndaemon log: {}",
        env.daemon_log()
    );
    (stdout, stderr)
}

fn fails(env: &Env, args: &[&str]) -> String {
    let out = rs(env, args);
    assert!(!out.status.success(), "rstack {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn import(env: &Env, reference: &str) {
    let tar = busybox_rootfs_tar(&env.dir);
    ok(
        env,
        &["image", "import", tar.to_str().expect("utf8"), reference],
    );
}

fn references(env: &Env) -> Vec<String> {
    let (out, _) = ok(env, &["image", "ls", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    list.as_array()
        .expect("array")
        .iter()
        .map(|i| i["reference"].as_str().expect("reference").to_string())
        .collect()
}

/// Runs `echo` in a one-off container of `image`; returns its output.
fn run_echo(env: &mut Env, image: &str, word: &str) -> String {
    let p = env.project("reg");
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  s:\n    image: {image}\n"),
    );
    let (out, _) = ok(env, &["run", "--rm", "-T", "s", "echo", word]);
    out
}

#[test]
fn a_pushed_image_pulls_back_with_the_same_digest_and_runs() {
    let Some(mut env) = setup("regrt") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let image = format!("{}/rt/busybox:test", reg.host());
    import(&env, &image);
    let (out, push_log) = ok(&env, &["image", "push", &image]);
    let pushed = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("(sha256:"))
        .map(|h| format!("sha256:{}", h.trim_end_matches(')')))
        .expect("pushed digest");
    assert!(push_log.contains("pushed"), "{push_log}");
    // An independent client reads what rstack pushed, under the same digest.
    assert_eq!(skopeo_digest(&image), pushed);
    // A second push finds every blob there.
    let (_, again) = ok(&env, &["image", "push", &image]);
    assert!(!again.contains(": pushed"), "{again}");

    ok(&env, &["image", "rm", &image]);
    assert!(!references(&env).contains(&image));
    let (out, log) = ok(&env, &["image", "pull", &image]);
    assert!(out.contains("Pulled"), "{out}");
    assert!(log.contains(&format!("Digest: {pushed}")), "{log}");
    assert!(references(&env).contains(&image));
    assert_eq!(run_echo(&mut env, &image, "pulled-ok").trim(), "pulled-ok");

    // Pulling what is present downloads and unpacks nothing.
    let (_, again) = ok(&env, &["image", "pull", &image]);
    assert!(
        again.contains(": exists") && !again.contains("downloaded"),
        "{again}"
    );

    // `rstack pull` pulls the stack's images.
    ok(&env, &["image", "rm", &image]);
    let p = env.project("regpull");
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  a:\n    image: {image}\n  b:\n    image: {image}\n"),
    );
    let (out, _) = ok(&env, &["pull"]);
    assert_eq!(
        out.matches("Pulled").count(),
        1,
        "one pull per distinct image: {out}"
    );
    assert!(references(&env).contains(&image));
    let err = fails(&env, &["pull", "nosuchservice"]);
    assert!(err.contains("nosuchservice"), "{err}");
}

/// A layout for `skopeo copy oci:`: one gzip layer (busybox), an amd64 and an arm64
/// manifest, and the index over both.
fn oci_layout(dir: &Path) -> PathBuf {
    let tar = std::fs::read(busybox_rootfs_tar(dir)).expect("rootfs tar");
    let layout = dir.join("oci-layout-dir");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |bytes: &[u8]| -> (String, usize) {
        let hex = hex::encode(Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).expect("blob");
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("gzip");
    let layer_gz = gz.finish().expect("gzip");
    let (layer, layer_size) = put(&layer_gz);
    let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&tar)));
    let mut platforms = Vec::new();
    for arch in ["arm64", "amd64"] {
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"arch": arch}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]}
        });
        let (cd, cs) = put(&serde_json::to_vec(&config).expect("json"));
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}]
        });
        let (md, ms) = put(&serde_json::to_vec(&manifest).expect("json"));
        platforms.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
            "platform": {"architecture": arch, "os": "linux"}
        }));
    }
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": platforms
    });
    let (id, is) = put(&serde_json::to_vec(&index).expect("json"));
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": id, "size": is,
        "annotations": {"org.opencontainers.image.ref.name": "multi"}
    }]});
    std::fs::write(layout.join("index.json"), top.to_string()).expect("index.json");
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    layout
}

#[test]
fn a_multi_platform_image_pushed_by_skopeo_pulls_for_amd64_and_runs() {
    let Some(mut env) = setup("regsk") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let layout = oci_layout(&env.dir);
    let image = format!("{}/sk/multi:1", reg.host());
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--dest-tls-verify=false",
            &format!("oci:{}:multi", layout.display()),
            &format!("docker://{image}"),
        ])
        .output()
        .expect("skopeo copy");
    assert!(
        out.status.success(),
        "skopeo copy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&env, &["image", "pull", &image]);
    assert_eq!(
        run_echo(&mut env, &image, "from-skopeo").trim(),
        "from-skopeo"
    );
    // The amd64 manifest was chosen: its config says so.
    let (out, _) = ok(&env, &["image", "ls", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let id = list[0]["id"]
        .as_str()
        .expect("id")
        .trim_start_matches("sha256:")
        .to_string();
    let config = std::fs::read_to_string(env.data_root.join("images/blobs/sha256").join(id))
        .expect("config blob");
    assert!(config.contains(r#""arch":"amd64""#), "{config}");
}

#[test]
fn a_mirror_serves_docker_io_references() {
    let Some(mut env) = setup("regmirror") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    // The mirror holds `library/mirrortest:1`, i.e. docker.io's `mirrortest:1`.
    let in_mirror = format!("{}/library/mirrortest:1", reg.host());
    import(&env, &in_mirror);
    ok(&env, &["image", "push", &in_mirror]);
    ok(&env, &["image", "rm", &in_mirror]);
    // Restart the daemon with the mirror configured.
    env.stop_daemon(libc::SIGTERM);
    let cfg = env.write(
        "rstack.toml",
        &format!(
            "[registry]\nmirrors = [\"http://{}\"]\ninsecure = [\"myreg.example:5000\"]\n",
            reg.host()
        ),
    );
    let mut daemon = env.start_daemon_with(
        "daemon-mirror.log",
        &["--config", cfg.to_str().expect("utf8")],
    );
    // version and info show the daemon's registry settings.
    let (out, _) = ok(&env, &["version"]);
    let mirror = format!("http://{}", reg.host());
    assert!(
        out.contains(&format!("registry mirrors: {mirror}"))
            && out.contains("insecure registries: myreg.example:5000"),
        "{out}"
    );
    let (out, _) = ok(&env, &["info"]);
    assert!(
        out.contains(&format!("Registry Mirrors:\n {mirror}\n"))
            && out.contains("Insecure Registries:\n myreg.example:5000\n"),
        "{out}"
    );
    ok(&env, &["image", "pull", "mirrortest:1"]);
    assert!(references(&env).contains(&"mirrortest:1".to_string()));
    // The stack file names the docker.io image, unchanged.
    assert_eq!(
        run_echo(&mut env, "mirrortest:1", "mirrored").trim(),
        "mirrored"
    );
    // A tag the mirror lacks falls through to docker.io, which is not reached from the
    // tests: only the mirror's answer is checked, not the fallback's.
    drop(env);
    let _ = daemon.wait();
}

#[test]
fn unknown_tags_and_unreachable_registries_are_clear_errors() {
    let Some(env) = setup("regerr") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    import(&env, &format!("{}/e/busybox:1", reg.host()));
    ok(
        &env,
        &["image", "push", &format!("{}/e/busybox:1", reg.host())],
    );
    let before = references(&env);
    let missing = format!("{}/e/busybox:nope", reg.host());
    let err = fails(&env, &["image", "pull", &missing]);
    assert!(
        err.contains(&format!("manifest unknown: {missing}")),
        "{err}"
    );
    // Nothing listens on a port just freed.
    let dead = format!("127.0.0.1:{}/e/busybox:1", free_port());
    let err = fails(&env, &["image", "pull", &dead]);
    assert!(
        err.contains("unreachable") && err.contains(dead.split('/').next().unwrap_or("")),
        "{err}"
    );
    assert_eq!(references(&env), before, "a failed pull left an image");
    let err = fails(&env, &["image", "push", "no-such-local-image:1"]);
    assert!(err.contains("not found"), "{err}");

    // A layer the registry serves corrupted (same size, one byte changed) is refused by its
    // digest, and nothing of the image is kept.
    let image = format!("{}/e/busybox:1", reg.host());
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{image}"),
        ])
        .output()
        .expect("skopeo");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let layer = v["Layers"][0].as_str().expect("layer").to_string();
    let hex = layer.trim_start_matches("sha256:");
    let data = reg
        .dir
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    let mut bytes = std::fs::read(&data).expect("stored layer");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&data, bytes).expect("corrupt layer");
    ok(&env, &["image", "rm", &image]);
    let before = references(&env);
    let err = fails(&env, &["image", "pull", &image]);
    assert!(
        err.contains(&format!("digest mismatch for layer {layer}")),
        "{err}"
    );
    assert_eq!(references(&env), before, "a failed pull left an image");
    let layers = std::fs::read_dir(env.data_root.join("images/layers"))
        .expect("layers")
        .count();
    assert_eq!(layers, 0, "a failed pull left a layer");
    let tmp = std::fs::read_dir(env.data_root.join("images/tmp"))
        .expect("tmp")
        .count();
    assert_eq!(tmp, 0, "a failed pull left staged files");
    let partial = std::fs::read_dir(env.data_root.join("images/partial"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(partial, 0, "a corrupted download was kept to resume");
}

#[test]
fn a_basic_auth_registry_refuses_anonymous_pushes_and_accepts_after_login() {
    let Some(env) = setup("regauth") else {
        return;
    };
    let reg = Registry::start(&env.dir, Some(("alice", "s3cret")));
    let image = format!("{}/auth/busybox:1", reg.host());
    import(&env, &image);
    let err = fails(&env, &["image", "push", &image]);
    assert!(
        err.contains("requires credentials")
            && err.contains(&format!("rstack login {}", reg.host())),
        "{err}"
    );
    let login = |password: &str| {
        let mut child = env
            .cmd(&["login", "-u", "alice", "--password-stdin", &reg.host()])
            .env("DOCKER_CONFIG", env.dir.join("docker-config"))
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("login");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("password");
        child.wait_with_output().expect("login")
    };
    let bad = login("wrong");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("refused the credentials of \"alice\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let good = login("s3cret");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let saved = std::fs::read_to_string(env.dir.join("docker-config/config.json")).expect("config");
    assert!(
        saved.contains(&reg.host()) && saved.contains("YWxpY2U6czNjcmV0"),
        "{saved}"
    );
    ok(&env, &["image", "push", &image]);
    ok(&env, &["image", "rm", &image]);
    ok(&env, &["image", "pull", &image]);
    ok(&env, &["logout", &reg.host()]);
    let err = fails(&env, &["image", "pull", &image]);
    assert!(err.contains("requires credentials"), "{err}");
}

/// A loopback port that is listening but never answers: whether anyone connected to it is
/// known afterwards, without the connection doing anything.
struct Watched(TcpListener);

impl Watched {
    fn new() -> Watched {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        Watched(l)
    }
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.0.local_addr().expect("addr").port())
    }
    fn connected(&self) -> bool {
        self.0.accept().is_ok()
    }
}

fn sleeper(image: &str, name: &str, extra: &str) -> String {
    format!("  {name}:\n    image: {image}\n    command: [\"sleep\", \"300\"]\n{extra}")
}

#[test]
fn up_with_its_images_present_asks_no_registry_and_never_refuses_a_missing_one() {
    let Some(mut env) = setup("ppnone") else {
        return;
    };
    let reg = Watched::new();
    let image = format!("{}/pp/busybox:1", reg.host());
    import(&env, &image);
    let p = env.project("ppnone");
    let services = [
        sleeper(&image, "a", ""),
        sleeper(&image, "b", "    pull_policy: never\n"),
        sleeper(
            &image,
            "c",
            "    pull_policy: weekly\n    platform: linux/amd64\n",
        ),
    ];
    // weekly: an imported image has no pull time, so only a/b are in this stack.
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n{}{}", services[0], services[1]),
    );
    ok(&env, &["up", "-d"]);
    assert!(!reg.connected(), "up connected to the registry");
    assert_eq!(env.ps_json(&p).len(), 2);
    ok(&env, &["down"]);

    // A missing image with pull_policy never: an error naming service and image, nothing
    // started, no connection.
    let absent = format!("{}/pp/absent:1", reg.host());
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n{}{}",
            services[0],
            sleeper(&absent, "n", "    pull_policy: never\n")
        ),
    );
    let err = fails(&env, &["up", "-d"]);
    assert!(
        err.contains("service \"n\"") && err.contains(&absent) && err.contains("never"),
        "{err}"
    );
    assert!(env.ps_json(&p).is_empty(), "a refused up started something");
    assert!(!reg.connected(), "up connected to the registry");

    // --pull never: the same for the default policy; --pull always: a pull, which fails on
    // the silent registry... so use a closed port for a bounded, named failure.
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n{}", sleeper(&absent, "m", "")),
    );
    let err = fails(&env, &["up", "-d", "--pull", "never"]);
    assert!(
        err.contains("--pull never") && err.contains(&absent),
        "{err}"
    );
    let dead = format!("127.0.0.1:{}/pp/busybox:1", free_port());
    import(&env, &dead);
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n{}", sleeper(&dead, "d", "")),
    );
    ok(&env, &["up", "-d"]);
    ok(&env, &["down"]);
    let err = fails(&env, &["up", "-d", "--pull", "always"]);
    assert!(
        err.contains("unreachable") && err.contains(dead.split('/').next().unwrap_or("")),
        "{err}"
    );
    assert!(
        env.ps_json(&p).is_empty(),
        "a failed pull started something"
    );
    // weekly on an imported image (no pull time): it is pulled, so this fails the same way.
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n{}",
            sleeper(&dead, "w", "    pull_policy: weekly\n")
        ),
    );
    let err = fails(&env, &["up", "-d"]);
    assert!(err.contains("unreachable"), "{err}");
}

#[test]
fn up_pulls_each_missing_image_once_and_then_only_what_its_policy_asks() {
    let Some(mut env) = setup("ppull") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let one = format!("{}/pp/one:1", reg.host());
    let two = format!("{}/pp/two:1", reg.host());
    for i in [&one, &two] {
        import(&env, i);
        ok(&env, &["image", "push", i]);
        ok(&env, &["image", "rm", i]);
    }
    let p = env.project("ppull");
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n{}{}{}",
            sleeper(&one, "a", ""),
            sleeper(&one, "b", ""),
            sleeper(&two, "c", "    pull_policy: daily\n"),
        ),
    );
    let (_, log) = ok(&env, &["up", "-d"]);
    assert_eq!(log.matches(&format!("{one}: pulling")).count(), 1, "{log}");
    assert_eq!(log.matches(&format!("{two}: pulling")).count(), 1, "{log}");
    assert!(references(&env).contains(&one) && references(&env).contains(&two));
    assert_eq!(env.ps_json(&p).len(), 3);

    // Pulled just now: daily and missing pull nothing, even with the registry gone.
    let host = reg.host();
    drop(reg);
    let (_, log) = ok(&env, &["up", "-d"]);
    assert!(!log.contains("pulling"), "{log}");
    // always pulls, and fails naming the registry; what runs is left as it was.
    let err = fails(&env, &["up", "-d", "--pull", "always"]);
    assert!(err.contains(&host), "{err}");
    assert_eq!(env.ps_json(&p).len(), 3);
}

#[test]
fn a_platform_picks_from_an_index_and_a_stored_image_of_another_is_refused() {
    let Some(mut env) = setup("ppplat") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let layout = oci_layout(&env.dir);
    let image = format!("{}/pp/multi:1", reg.host());
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--dest-tls-verify=false",
            &format!("oci:{}:multi", layout.display()),
            &format!("docker://{image}"),
        ])
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = env.project("ppplat");
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n{}",
            sleeper(&image, "a", "    platform: linux/arm64/v8\n")
        ),
    );
    // The arm64 manifest is pulled (it would not run here: only pull).
    ok(&env, &["pull"]);
    let (out, _) = ok(&env, &["image", "ls", "--format", "json"]);
    assert!(out.contains(&image), "{out}");
    // Stored is arm64; a service wanting amd64 is refused, naming both.
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n{}",
            sleeper(&image, "a", "    platform: linux/amd64\n")
        ),
    );
    let err = fails(&env, &["up", "-d"]);
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64"),
        "{err}"
    );
    assert!(env.ps_json(&p).is_empty());
}

#[test]
fn pull_progress_is_a_line_per_layer_off_a_terminal_and_redrawn_rows_on_one() {
    let Some(env) = setup("ppprog") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let image = format!("{}/pp/prog:1", reg.host());
    import(&env, &image);
    ok(&env, &["image", "push", &image]);
    ok(&env, &["image", "rm", &image]);
    // No terminal: one line per layer as it completes, with its short digest and size.
    let (_, log) = ok(&env, &["image", "pull", &image]);
    let downloaded: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(": downloaded "))
        .collect();
    assert_eq!(downloaded.len(), 1, "{log}");
    let layer = downloaded[0].split(':').next().unwrap_or("");
    assert_eq!(layer.len(), 12, "{log}");
    assert!(log.contains(&format!("{layer}: extracted ")), "{log}");
    assert!(!log.contains("downloading"), "{log}");

    // A client that does not ask for byte counts (an older CLI) gets only lines it knows.
    ok(&env, &["image", "rm", &image]);
    let body = format!("{{\"reference\":\"{image}\"}}");
    let out = Command::new("curl")
        .args(["-sS", "--unix-socket"])
        .arg(&env.socket)
        .args(["-d", &body, "-H", "content-type: application/json"])
        .arg("http://rstack/v1/images/pull")
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(lines.len() > 1, "{text}");
    let (last, steps) = lines.split_last().expect("lines");
    assert!(last["image"].is_object(), "{text}");
    assert!(steps.iter().all(|l| l["status"].is_string()), "{text}");

    // On a terminal (script(1) gives one): byte counts drawn in place.
    ok(&env, &["image", "rm", &image]);
    let cmdline = format!(
        "RSTACK_SOCKET={} RSTACK_DATA_ROOT={} DOCKER_CONFIG={} {} image pull {image}",
        env.socket.display(),
        env.data_root.display(),
        env.dir.join("docker-config").display(),
        bin()
    );
    let out = Command::new("script")
        .args(["-qec", &cmdline, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains(&format!("{layer}: downloading ")), "{shown}");
    assert!(shown.contains("/s)") && shown.contains("\x1b["), "{shown}");
    assert!(shown.contains(&format!("{layer}: downloaded ")), "{shown}");
}

/// What the cutting proxy does to the next blob download it forwards.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cut {
    /// Forward everything.
    None,
    /// Close the connection after this many bytes of the answer.
    After(usize),
    /// Forward this many bytes, then hold the connection open without sending more.
    Stall(usize),
}

/// A loopback TCP proxy in front of a registry that spoils blob downloads as told (one
/// connection per request: the client closes after each), and records each blob request's
/// `Range` header.
struct Proxy {
    port: u16,
    plan: std::sync::Arc<std::sync::Mutex<Vec<Cut>>>,
    /// Only blob requests naming this (the layer's digest) are spoiled and recorded.
    target: std::sync::Arc<std::sync::Mutex<String>>,
    ranges: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stalled: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        use std::io::{BufRead, BufReader, Read};
        use std::sync::atomic::Ordering;
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let p = Proxy {
            port,
            plan: Default::default(),
            target: Default::default(),
            ranges: Default::default(),
            stalled: Default::default(),
        };
        let (plan, ranges, stalled) = (p.plan.clone(), p.ranges.clone(), p.stalled.clone());
        let target = p.target.clone();
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(client) = client else { return };
                let (plan, ranges, stalled) = (plan.clone(), ranges.clone(), stalled.clone());
                let target = target.lock().expect("lock").clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().expect("clone"));
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let blob = head.starts_with("GET ")
                        && !target.is_empty()
                        && head.contains(&format!("/blobs/{target}"));
                    let mut cut = Cut::None;
                    if blob {
                        let range = head
                            .lines()
                            .find(|l| l.to_ascii_lowercase().starts_with("range:"))
                            .unwrap_or("")
                            .to_string();
                        ranges.lock().expect("lock").push(range);
                        let mut plan = plan.lock().expect("lock");
                        if !plan.is_empty() {
                            cut = plan.remove(0);
                        }
                    }
                    let mut up = TcpStream::connect(("127.0.0.1", upstream)).expect("upstream");
                    up.write_all(head.as_bytes()).expect("forward");
                    let mut client = client;
                    let mut sent = 0usize;
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = match up.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let limit = match cut {
                            Cut::None => usize::MAX,
                            Cut::After(k) | Cut::Stall(k) => k,
                        };
                        let take = n.min(limit.saturating_sub(sent));
                        if client.write_all(&buf[..take]).is_err() {
                            return;
                        }
                        sent += take;
                        if take < n || sent >= limit {
                            if let Cut::Stall(_) = cut {
                                stalled.store(true, Ordering::SeqCst);
                                // Held until the client goes away (the daemon is killed).
                                let _ = reader.read(&mut [0u8; 1]);
                            }
                            return;
                        }
                    }
                });
            }
        });
        p
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

#[test]
fn an_interrupted_layer_download_resumes_with_a_range_request() {
    use std::sync::atomic::Ordering;
    let Some(env) = setup("ppresume") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let proxy = Proxy::start(reg.port);
    // Pushed straight to the registry, pulled through the proxy (same repository).
    let direct = format!("{}/pp/resume:1", reg.host());
    let image = format!("{}/pp/resume:1", proxy.host());
    import(&env, &direct);
    ok(&env, &["image", "push", &direct]);
    ok(&env, &["image", "rm", &direct]);
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{direct}"),
        ])
        .output()
        .expect("skopeo");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    *proxy.target.lock().expect("lock") = v["Layers"][0].as_str().expect("layer").to_string();

    // 1. The daemon dies in the middle of the layer: what it received stays in partial/.
    *proxy.plan.lock().expect("lock") = vec![Cut::Stall(150_000)];
    let mut child = env
        .cmd(&["image", "pull", &image])
        .env("DOCKER_CONFIG", env.dir.join("docker-config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pull");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !proxy.stalled.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the pull never reached the layer"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the daemon write what it got, then kill it.
    std::thread::sleep(Duration::from_millis(300));
    env.stop_daemon(9);
    let _ = child.wait();
    let partial = env.data_root.join("images/partial");
    let kept: Vec<u64> = std::fs::read_dir(&partial)
        .expect("partial dir")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .collect();
    assert!(
        kept.len() == 1 && kept[0] > 0 && kept[0] < 150_000,
        "partial downloads: {kept:?}"
    );

    // 2. The next pull asks for the rest; its connection is cut too, and the retry resumes.
    *proxy.plan.lock().expect("lock") = vec![Cut::After(100_000)];
    let (_, log) = ok(&env, &["image", "pull", &image]);
    assert!(log.contains("resuming at"), "{log}");
    let ranges = proxy.ranges.lock().expect("lock").clone();
    let resumed: Vec<&String> = ranges
        .iter()
        .filter(|r| r.contains("bytes=") && !r.contains("bytes=0-"))
        .collect();
    assert!(
        resumed.len() >= 2,
        "blob requests' Range headers: {ranges:?}"
    );
    assert!(references(&env).contains(&image));
    // Complete: nothing is left in partial/.
    assert_eq!(
        std::fs::read_dir(&partial).expect("partial").count(),
        0,
        "a completed download stayed in partial/"
    );
}

#[test]
fn a_full_disk_during_a_pull_is_a_clear_error_and_leaves_nothing() {
    let Some(env) = setup("ppfull") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let image = format!("{}/pp/full:1", reg.host());
    import(&env, &image);
    ok(&env, &["image", "push", &image]);
    let len = std::fs::metadata(busybox_rootfs_tar(&env.dir))
        .expect("tar")
        .len();
    // A second Env whose data root is a tmpfs with room for the daemon's own files and half
    // the layer. Env's drop unmounts it (lazily) once the daemon is stopped.
    let small = Env::new("ppfull-small");
    std::fs::create_dir_all(&small.data_root).expect("mkdir data root");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o"])
        .arg(format!("size={},mode=0700", (512 << 10) + len / 2))
        .arg("tmpfs")
        .arg(&small.data_root)
        .status()
        .expect("mount");
    assert!(st.success(), "mount tmpfs");
    let out = small
        .cmd(&["image", "pull", &image])
        .env("DOCKER_CONFIG", env.dir.join("docker-config"))
        .output()
        .expect("pull");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("No space left on device") || err.contains("free on the filesystem"),
        "{err}"
    );
    let (list, _) = ok(&small, &["image", "ls", "--format", "json"]);
    assert_eq!(list.trim(), "[]", "a failed pull left an image");
    for dir in ["images/tmp", "images/layers", "images/partial"] {
        let left = std::fs::read_dir(small.data_root.join(dir))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "a failed pull left files in {dir}");
    }
}

/// Runs a tool of the test and asserts it succeeded.
fn tool(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_image_umoci_makes_and_skopeo_pushes_pulls_and_runs() {
    let Some(mut env) = setup("regumoci") else {
        return;
    };
    if !common::registry::have_tools("regumoci", &["umoci"]) {
        return;
    }
    let reg = Registry::start(&env.dir, None);
    // umoci makes an image layer by layer from a bundle's rootfs: busybox, then a file.
    let layout = env.dir.join("umoci-layout");
    let bundle = env.dir.join("umoci-bundle");
    let img = format!("{}:app", layout.display());
    tool(
        Command::new("umoci")
            .args(["init", "--layout"])
            .arg(&layout),
    );
    tool(Command::new("umoci").args(["new", "--image", &img]));
    tool(
        Command::new("umoci")
            .args(["unpack", "--image", &img])
            .arg(&bundle),
    );
    let rootfs = bundle.join("rootfs");
    let tar = busybox_rootfs_tar(&env.dir);
    tool(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-xf")
            .arg(&tar),
    );
    tool(
        Command::new("umoci")
            .args(["repack", "--image", &img])
            .arg(&bundle),
    );
    std::fs::write(rootfs.join("made-by"), "umoci\n").expect("write");
    tool(
        Command::new("umoci")
            .args(["repack", "--image", &img])
            .arg(&bundle),
    );
    tool(Command::new("umoci").args([
        "config",
        "--image",
        &img,
        "--config.cmd",
        "cat",
        "--config.cmd",
        "/made-by",
    ]));
    let remote = format!("{}/umoci/app:1", reg.host());
    tool(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{img}"),
        &format!("docker://{remote}"),
    ]));
    ok(&env, &["image", "pull", &remote]);
    let p = env.project("umoci");
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  s:\n    image: {remote}\n"),
    );
    let (out, _) = ok(&env, &["run", "--rm", "-T", "s"]);
    assert_eq!(out, "umoci\n");
}
