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
        LogCursor {
            path: rec.config.state_dir.join(LOG_FILE),
            offset: 0,
            partial: Vec::new(),
            container: rec.name.clone(),
            service: rec.service.clone(),
        }
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

/// `logs`: what is there (last `tail` lines per container, merged by time), then, with
/// `follow`, new lines as they come until the client disconnects or `all_stopped` says every
/// followed container has stopped for good (as `docker compose logs -f` and attached `up`).
pub async fn follow_logs(
    recs: Vec<ContainerRecord>,
    q: LogsQuery,
    tx: Sender,
    all_stopped: impl Fn() -> bool + Send,
) {
    let mut cursors: Vec<LogCursor> = recs.iter().map(LogCursor::new).collect();
    let mut backlog = Vec::new();
    for c in &mut cursors {
        let mut items = c.read_new();
        if let Some(since) = &q.since {
            items.retain(|i| time_of(i) >= since.as_str());
        }
        if let Some(n) = q.tail {
            let skip = items.len().saturating_sub(n);
            items.drain(..skip);
        }
        backlog.extend(items);
    }
    backlog.sort_by(|a, b| time_of(a).cmp(time_of(b)));
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
