//! `rstack sync` sources as the tests see them: one source from `sync ls`, and polling its
//! status until a condition holds.

use super::Env;
use serde_json::Value;
use std::time::{Duration, Instant};

impl Env {
    /// The source `name` as `sync ls --format json` shows it (panics if it is not listed).
    pub fn sync_source(&self, name: &str) -> Value {
        let out = self.ok(&["sync", "ls", "--format", "json"]);
        let all: Vec<Value> = serde_json::from_str(&out).expect("sync ls json");
        all.into_iter()
            .find(|s| s["spec"]["name"] == name)
            .unwrap_or_else(|| panic!("no source {name} in {out}"))
    }

    /// Polls the source's status until `check` holds; panics after `secs` with what it saw
    /// and the daemon log.
    pub fn wait_sync_status(
        &self,
        name: &str,
        what: &str,
        secs: u64,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.sync_source(name);
            if check(&s["status"]) {
                return s["status"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {s}\ndaemon log: {}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
