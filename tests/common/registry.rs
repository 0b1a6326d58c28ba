//! A real OCI registry for tests: Debian's `docker-registry` (the distribution reference
//! implementation) on a free loopback port, serving from the test's own directory.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `docker-registry` process on a free loopback port; stopped (by its pid) and its
/// directory removed when dropped, even if the test failed.
pub struct Registry {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl Registry {
    /// Starts a registry; with `htpasswd`, only that user (bcrypt) may use it.
    pub fn start(dir: &Path, htpasswd: Option<(&str, &str)>) -> Registry {
        let port = free_port();
        let dir = dir.join(format!("registry-{port}"));
        std::fs::create_dir_all(dir.join("data")).expect("mkdir registry");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        if let Some((user, password)) = htpasswd {
            // bcrypt through libcrypt (perl's crypt): docker-registry accepts only bcrypt.
            let out = Command::new("perl")
                .args([
                    "-e",
                    "print crypt($ARGV[0], q($2b$05$abcdefghijklmnopqrstuu))",
                    password,
                ])
                .output()
                .expect("perl");
            let hash = String::from_utf8(out.stdout).expect("utf8");
            assert!(hash.starts_with("$2b$"), "no bcrypt from crypt(3): {hash}");
            std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).expect("htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: rstack-test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        let cfg = dir.join("config.yml");
        std::fs::write(&cfg, config).expect("config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).expect("log"))
            .spawn()
            .expect("docker-registry");
        let reg = Registry { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not come up: {}",
                std::fs::read_to_string(reg.dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        reg
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Whether `tools` are on PATH; a test without them skips, or fails under CI
/// (`RSTACK_REQUIRE_ROOT_TESTS`), where .ci/run installs them.
pub fn have_tools(tag: &str, tools: &[&str]) -> bool {
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("RSTACK_REQUIRE_ROOT_TESTS").is_none(),
                "{tag} needs {tool} (see .ci/run)"
            );
            eprintln!("skipping {tag}: needs {tool}");
            return false;
        }
    }
    true
}

/// The manifest digest of `image` as an independent client (skopeo, plain http) reads it.
pub fn skopeo_digest(image: &str) -> String {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{image}"),
        ])
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["Digest"].as_str().expect("Digest").to_string()
}

/// rstack with the test's own Docker client config (`DOCKER_CONFIG` in its directory), so
/// that no credentials of the host's are used and the test's own are.
pub fn rs(env: &super::Env, args: &[&str]) -> std::process::Output {
    env.cmd(args)
        .env("DOCKER_CONFIG", env.dir.join("docker-config"))
        .output()
        .expect("rstack")
}
