//! config/rstack.service, the systemd unit that starts the daemon at boot (so services with a
//! restart policy come back after a reboot): systemd reads it without a complaint, it runs
//! `rstack daemon` with options the binary has, and a stop ends only the daemon, since
//! containers outlive a daemon restart (their shims are adopted).

mod common;

use common::registry::have_tools;
use std::path::Path;
use std::process::Command;

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rstack.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value of `key=` in the unit (the last one, as systemd takes it).
fn setting(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .next_back()
}

#[test]
fn the_unit_runs_the_daemon_and_stops_only_the_daemon() {
    let text = unit_text();
    let exec = setting(&text, "ExecStart").expect("ExecStart=");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/rstack"), "{exec}");
    assert_eq!(words.next(), Some("daemon"), "{exec}");
    // Every option it passes is one `rstack daemon` has.
    let help = Command::new(env!("CARGO_BIN_EXE_rstack"))
        .args(["daemon", "--help"])
        .output()
        .expect("rstack daemon --help");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for w in words.filter(|w| w.starts_with('-')) {
        let option = w.split('=').next().unwrap_or(w);
        assert!(
            help.contains(option),
            "{option} is not an option of rstack daemon"
        );
    }
    assert_eq!(setting(&text, "KillMode").as_deref(), Some("process"));
    assert_eq!(setting(&text, "Delegate").as_deref(), Some("yes"));
    assert_eq!(
        setting(&text, "WantedBy").as_deref(),
        Some("multi-user.target")
    );
}

#[test]
fn systemd_reads_the_unit_without_a_complaint() {
    if !have_tools("systemd_unit", &["systemd-analyze"]) {
        return;
    }
    // The unit as installed, but running this build (systemd checks that the program exists).
    let dir = std::env::temp_dir().join(format!("rstack-it-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let unit = dir.join("rstack.service");
    let text = unit_text().replace("/usr/local/bin/rstack", env!("CARGO_BIN_EXE_rstack"));
    std::fs::write(&unit, text).expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze");
    let _ = std::fs::remove_dir_all(&dir);
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "systemd-analyze verify: {complaints}"
    );
}
