//! Finding the daemon: `--host unix://PATH`, `$RSTACK_SOCKET`, or the default socket; and
//! starting one (detached, its output in a log file) when `up` finds none.

use super::roles::{DEFAULT_DATA_ROOT, DEFAULT_SOCKET};
use crate::api::Client;
use crate::api::types::VersionInfo;
use anyhow::{Context, Result, bail};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub fn socket_path(host: Option<&str>) -> Result<PathBuf> {
    let raw = match host {
        Some(h) => h.to_string(),
        None => match std::env::var("RSTACK_SOCKET") {
            Ok(s) if !s.is_empty() => s,
            _ => return Ok(PathBuf::from(DEFAULT_SOCKET)),
        },
    };
    match raw.strip_prefix("unix://") {
        Some(p) => Ok(PathBuf::from(p)),
        None if raw.starts_with('/') => Ok(PathBuf::from(raw)),
        None => bail!("unsupported daemon address {raw:?}: use unix:///path/to/rstack.sock"),
    }
}

/// The data root an auto-started daemon gets: $RSTACK_DATA_ROOT or the default.
fn data_root() -> PathBuf {
    match std::env::var("RSTACK_DATA_ROOT") {
        Ok(s) if !s.is_empty() => PathBuf::from(s),
        _ => PathBuf::from(DEFAULT_DATA_ROOT),
    }
}

/// Whether a process holds the flock on the data root's `daemon.lock` (a daemon that is
/// starting, serving or exiting). Read from /proc/locks, without taking the lock even
/// briefly: a probe holding it would make a starting daemon fail.
fn lock_held(root: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(root.join("daemon.lock")) else {
        return false;
    };
    let dev = meta.dev();
    let id = format!(
        "{:02x}:{:02x}:{}",
        libc::major(dev),
        libc::minor(dev),
        meta.ino()
    );
    std::fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
            f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&id.as_str())
        })
}

/// A client for a daemon that answers, starting one if none does.
pub fn ensure_daemon(client: &Client) -> Result<()> {
    match client.call::<(), VersionInfo>("GET", "/v1/version", None) {
        Ok(_) => return Ok(()),
        Err(e) if e.is_not_running() => {}
        Err(e) => return Err(e.into()),
    }
    let root = data_root();
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let log_path = root.join("daemon.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let exe = std::env::current_exe().context("locating the rstack binary")?;
    let mut child = std::process::Command::new(exe)
        .arg("daemon")
        .arg("--data-root")
        .arg(&root)
        .arg("--socket")
        .arg(client.socket())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Own session: the daemon must not die with the terminal (or the test) that started it.
        .process_group(0)
        .spawn()
        .context("starting the rstack daemon")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if client
            .call::<(), VersionInfo>("GET", "/v1/version", None)
            .is_ok()
        {
            return Ok(());
        }
        if let Ok(Some(st)) = child.try_wait() {
            // Another command started a daemon on this data root at the same moment, and ours
            // lost the race for its lock: that one answers soon, wait for it.
            if lock_held(&root) {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last: Vec<&str> = tail.lines().rev().take(3).collect();
            bail!(
                "the rstack daemon exited at start ({st}); its log {} says:\n{}",
                log_path.display(),
                last.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the rstack daemon did not answer on {} within 10 s; see {}",
                client.socket().display(),
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
