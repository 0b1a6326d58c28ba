//! Running the binary to its end with a hang guard, and reading one service's state.

use super::Env;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

impl Env {
    /// Runs `rstack ARGS` to its end with stdout and stderr captured; one that has not
    /// returned after `secs` is killed and fails the test with what it printed (a hang
    /// guard, not a timing check). `what` names the command in that message.
    pub fn run_guarded(&self, what: &str, args: &[&str], secs: u64) -> Output {
        let mut child = self
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let start = Instant::now();
        while child.try_wait().expect("try_wait").is_none() {
            if start.elapsed() > Duration::from_secs(secs) {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "{what} never returned:\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    }

    /// The `state` `ps` shows for `service`'s container in `project` ("" if it has none).
    pub fn state_of(&self, project: &str, service: &str) -> String {
        let rows = self.ps_json(project);
        self.service(&rows, service)["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}
