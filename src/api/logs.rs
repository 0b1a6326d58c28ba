//! Reading containers' log files (JSON lines written by the shim) for `logs`, `up` and `run`.

use super::server::Sender;
use super::types::{LogLine, LogsQuery};
use crate::store::ContainerRecord;
use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

/// The log file's name inside a container's state directory.
pub const LOG_FILE: &str = "container.log";

/// One line as the shim writes it (docker's json-file format).
#[derive(Deserialize)]
struct Line {
    stream: String,
    time: String,
    log: String,
}

/// Reads a log file incrementally.
pub struct LogCursor {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    container: String,
    service: String,
}

impl LogCursor {
    pub fn new(rec: &ContainerRecord) -> LogCursor {
        LogCursor::at(rec.config.state_dir.join(LOG_FILE), &rec.name, &rec.service)
    }

    fn at(path: PathBuf, container: &str, service: &str) -> LogCursor {
        LogCursor {
            path,
            offset: 0,
            partial: Vec::new(),
            container: container.to_string(),
            service: service.to_string(),
        }
    }

    /// Moves the cursor to the start of the last `n` complete lines, reading the file
    /// backwards in blocks: a `--tail` of a large log reads only its end.
    pub fn seek_last_lines(&mut self, n: usize) {
        const BLOCK: u64 = 64 * 1024;
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        let Ok(mut pos) = f.seek(SeekFrom::End(0)) else {
            return;
        };
        // The newline before the first of those lines is the (n+1)-th from the end.
        let mut newlines = 0;
        let mut buf = vec![0u8; BLOCK as usize];
        while pos > 0 {
            let len = pos.min(BLOCK);
            pos -= len;
            let chunk = &mut buf[..len as usize];
            if f.seek(SeekFrom::Start(pos)).is_err() || f.read_exact(chunk).is_err() {
                return;
            }
            for (i, b) in chunk.iter().enumerate().rev() {
                if *b == b'\n' {
                    newlines += 1;
                    if newlines == n + 1 {
                        self.offset = pos + i as u64 + 1;
                        self.partial.clear();
                        return;
                    }
                }
            }
        }
        // Fewer lines than asked for: all of them.
        self.offset = 0;
        self.partial.clear();
    }

    /// New complete lines since the last call.
    pub fn read_new(&mut self) -> Vec<LogLine> {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        let Ok(n) = f.read_to_end(&mut buf) else {
            return Vec::new();
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf);
        let mut items = Vec::new();
        let mut start = 0;
        for (i, b) in self.partial.iter().enumerate() {
            if *b == b'\n' {
                if let Ok(l) = serde_json::from_slice::<Line>(&self.partial[start..i]) {
                    items.push(LogLine {
                        container: self.container.clone(),
                        service: self.service.clone(),
                        stream: l.stream,
                        time: l.time,
                        data: l.log,
                    });
                }
                start = i + 1;
            }
        }
        self.partial.drain(..start);
        items
    }

    /// Sends new lines; fails once the client went away.
    pub async fn pump(&mut self, tx: &Sender) -> Result<(), ()> {
        for item in self.read_new() {
            tx.send(&item).await?;
        }
        Ok(())
    }
}

fn time_of(item: &LogLine) -> &str {
    &item.time
}

/// What the logs hold now: per container the lines since `since`, the last `tail` of them,
/// all merged by time. A log's lines are in time order, so the last `tail` lines since a
/// time are among the file's last `tail` lines, and only those are read.
fn backlog_of(
    mut cursors: Vec<LogCursor>,
    tail: Option<usize>,
    since: Option<&str>,
) -> (Vec<LogCursor>, Vec<LogLine>) {
    let mut backlog = Vec::new();
    for c in &mut cursors {
        if let Some(n) = tail {
            c.seek_last_lines(n);
        }
        let mut items = c.read_new();
        if let Some(since) = since {
            items.retain(|i| time_of(i) >= since);
        }
        if let Some(n) = tail {
            let skip = items.len().saturating_sub(n);
            items.drain(..skip);
        }
        backlog.extend(items);
    }
    backlog.sort_by(|a, b| time_of(a).cmp(time_of(b)));
    (cursors, backlog)
}

/// `logs`: what is there (last `tail` lines per container, merged by time), then, with
/// `follow`, new lines as they come until the client disconnects or `all_stopped` says every
/// followed container has stopped for good (as `docker compose logs -f` and attached `up`).
pub async fn follow_logs(
    recs: Vec<ContainerRecord>,
    q: LogsQuery,
    tx: Sender,
    all_stopped: impl Fn() -> bool + Send,
) {
    let cursors: Vec<LogCursor> = recs.iter().map(LogCursor::new).collect();
    // The files are read off the daemon's one async thread: a log may be large.
    let (tail, since) = (q.tail, q.since.clone());
    let read = tokio::task::spawn_blocking(move || backlog_of(cursors, tail, since.as_deref()));
    let Ok((mut cursors, backlog)) = read.await else {
        return;
    };
    for item in &backlog {
        if tx.send(item).await.is_err() {
            return;
        }
    }
    if !q.follow {
        return;
    }
    loop {
        // Checked before reading, so the last lines written before the stop are still sent.
        let stopped = all_stopped();
        for c in &mut cursors {
            if c.pump(&tx).await.is_err() {
                return;
            }
        }
        if stopped {
            return;
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A log file, removed when dropped (when a test fails too).
    struct TmpLog(PathBuf);

    impl Drop for TmpLog {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn log_with(name: &str, lines: usize, partial: bool) -> TmpLog {
        let p = std::env::temp_dir().join(format!("rstack-log-{name}-{}", std::process::id()));
        let mut f = std::fs::File::create(&p).unwrap();
        for i in 0..lines {
            // Long enough lines that the file spans several backward blocks.
            let pad = "x".repeat(200);
            writeln!(
                f,
                r#"{{"log":"line {i} {pad}\n","stream":"stdout","time":"2026-01-01T00:00:{:02}Z"}}"#,
                i % 60
            )
            .unwrap();
        }
        if partial {
            write!(f, r#"{{"log":"being writ"#).unwrap();
        }
        TmpLog(p)
    }

    fn numbers(items: &[LogLine]) -> Vec<usize> {
        items
            .iter()
            .map(|l| l.data.split(' ').nth(1).unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn tail_reads_the_last_complete_lines() {
        let p = log_with("tail", 2000, true);
        let mut c = LogCursor::at(p.0.clone(), "c", "s");
        c.seek_last_lines(3);
        assert_eq!(numbers(&c.read_new()), [1997, 1998, 1999]);
        let mut c = LogCursor::at(p.0.clone(), "c", "s");
        c.seek_last_lines(0);
        assert!(c.read_new().is_empty());
        let mut c = LogCursor::at(p.0.clone(), "c", "s");
        c.seek_last_lines(5000);
        assert_eq!(c.read_new().len(), 2000, "fewer lines than asked: all");
    }

    #[test]
    fn tail_of_a_file_ending_in_a_newline_and_of_a_missing_file() {
        let p = log_with("whole", 700, false);
        let mut c = LogCursor::at(p.0.clone(), "c", "s");
        c.seek_last_lines(2);
        assert_eq!(numbers(&c.read_new()), [698, 699]);
        let path = p.0.clone();
        drop(p);
        let mut gone = LogCursor::at(path, "c", "s");
        gone.seek_last_lines(2);
        assert!(gone.read_new().is_empty());
    }

    #[test]
    fn since_then_tail() {
        let p = log_with("since", 120, false);
        let c = LogCursor::at(p.0.clone(), "c", "s");
        // The last 4 lines (116-119, at :56-:59) are all since :50.
        let (_, items) = backlog_of(vec![c], Some(4), Some("2026-01-01T00:00:50Z"));
        assert_eq!(numbers(&items), [116, 117, 118, 119]);
        let c = LogCursor::at(p.0.clone(), "c", "s");
        let (_, items) = backlog_of(vec![c], Some(4), Some("2026-01-01T00:00:58Z"));
        assert_eq!(numbers(&items), [118, 119]);
    }
}
