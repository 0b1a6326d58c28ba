//! Polling until something holds: a generous bound for a slow machine, never a speed check.

use super::Env;
use std::time::{Duration, Instant};

/// Calls `attempt` every `every_ms` until it returns `Ok`; panics with its last `Err` once
/// `secs` have passed.
pub fn poll_for<T>(secs: u64, every_ms: u64, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match attempt() {
            Ok(v) => return v,
            Err(why) => assert!(Instant::now() < deadline, "{why}"),
        }
        std::thread::sleep(Duration::from_millis(every_ms));
    }
}

/// Calls `check` every `every_ms` until it holds; panics with `why()` (asked only then) once
/// `secs` have passed.
pub fn poll_until(
    secs: u64,
    every_ms: u64,
    mut check: impl FnMut() -> bool,
    why: impl Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "{}", why());
        std::thread::sleep(Duration::from_millis(every_ms));
    }
}

impl Env {
    /// Runs `exec ARGS` in `project` until it succeeds with output containing `want` (a
    /// server may still be starting); panics after 10 s with its output and the daemon log.
    pub fn exec_until(&self, project: &str, args: &[&str], want: &str) -> String {
        let mut full = vec!["-p", project, "exec"];
        full.extend_from_slice(args);
        poll_for(10, 100, || {
            let out = self.run(&full);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() && text.contains(want) {
                return Ok(text);
            }
            Err(format!(
                "{args:?}: {text}{}\ndaemon log: {}",
                String::from_utf8_lossy(&out.stderr),
                self.daemon_log()
            ))
        })
    }
}
