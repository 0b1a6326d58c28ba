use super::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A scratch directory, removed when dropped (when a test fails too).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("rstack-logs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A log whose line `i` is at second `secs[i]`.
fn log_at(dir: &Path, name: &str, secs: &[u32]) -> LogReader {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    for (i, s) in secs.iter().enumerate() {
        writeln!(
            f,
            r#"{{"log":"{name} {i}\n","stream":"stdout","time":"2026-01-01T00:00:{s:02}.000000000Z"}}"#
        )
        .unwrap();
    }
    LogReader::open(&p, name, name)
}

fn merged(readers: &mut [LogReader], since: Option<&str>) -> Vec<String> {
    merged_in(readers, Window { since, until: None })
}

fn merged_in(readers: &mut [LogReader], window: Window<'_>) -> Vec<String> {
    let mut got = Vec::new();
    merge_backlog(readers, window, |l| {
        got.push(l.data.trim_end().to_string());
        Ok(())
    })
    .unwrap();
    got
}

#[test]
fn backlogs_are_merged_by_time() {
    let d = Scratch::new("merge");
    let mut readers = vec![
        log_at(&d.0, "a", &[1, 4, 4, 9]),
        log_at(&d.0, "b", &[2, 3, 4, 10]),
    ];
    assert_eq!(
        merged(&mut readers, None),
        ["a 0", "b 0", "b 1", "a 1", "a 2", "b 2", "a 3", "b 3"]
    );
}

#[test]
fn since_then_tail() {
    let d = Scratch::new("since");
    let secs: Vec<u32> = (0..60).collect();
    // The last 4 lines (56-59) are all since :50.
    let mut r = log_at(&d.0, "a", &secs);
    r.keep_last_lines(4);
    let since = Some("2026-01-01T00:00:50.000000000Z");
    assert_eq!(merged(&mut [r], since), ["a 56", "a 57", "a 58", "a 59"]);
    let mut r = log_at(&d.0, "a", &secs);
    r.keep_last_lines(4);
    let since = Some("2026-01-01T00:00:58.000000000Z");
    assert_eq!(merged(&mut [r], since), ["a 58", "a 59"]);
}

#[test]
fn a_client_that_went_away_stops_the_merge() {
    let d = Scratch::new("gone");
    let mut readers = vec![log_at(&d.0, "a", &[1, 2, 3])];
    let mut sent = 0;
    let res = merge_backlog(&mut readers, Window::default(), |_| {
        sent += 1;
        Err(())
    });
    assert!(res.is_err());
    assert_eq!(sent, 1);
}

#[test]
fn since_and_until_bound_the_backlog_both_inclusive() {
    let d = Scratch::new("window");
    let mut readers = vec![log_at(&d.0, "a", &[1, 2, 3, 4]), log_at(&d.0, "b", &[2, 5])];
    let got = merged_in(
        &mut readers,
        Window {
            since: Some("2026-01-01T00:00:02.000000000Z"),
            until: Some("2026-01-01T00:00:04.000000000Z"),
        },
    );
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, ["a 1", "a 2", "a 3", "b 0"], "{got:?}");
    let w = Window {
        since: None,
        until: Some("2026-01-01T00:00:04.000000000Z"),
    };
    assert!(w.closed(), "an until in the past ends a follower");
    assert!(!Window::default().closed());
}
