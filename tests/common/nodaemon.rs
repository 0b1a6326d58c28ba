//! Running the real binary on a stack file with no daemon and no root (`config`, `validate`,
//! `export`, refused `up`): a temporary directory removed on drop, and a command that can
//! never reach a daemon.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `rstack ARGS` in `dir` with the compose variables of the caller's shell removed and a
/// socket (named after `tag`) that does not exist, so nothing can reach a daemon.
pub fn rstack_in(dir: &Path, tag: &str, args: &[&str]) -> Output {
    Command::new(super::bin())
        .args(args)
        .current_dir(dir)
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_PROFILES")
        .env(
            "RSTACK_SOCKET",
            format!("/nonexistent/rstack-{tag}-test.sock"),
        )
        .output()
        .expect("run rstack")
}

/// A temporary directory removed when dropped, also when the test fails.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `$TMPDIR/{prefix}-{tag}-{pid}`, emptied first: unique per test as long as `tag` is.
    pub fn new(prefix: &str, tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("{prefix}-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        TempDir(d)
    }

    /// As `new`, with `yaml` written to `compose.yaml` in it.
    pub fn with_stack(prefix: &str, tag: &str, yaml: &str) -> TempDir {
        let d = TempDir::new(prefix, tag);
        std::fs::write(d.0.join("compose.yaml"), yaml).expect("write");
        d
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
