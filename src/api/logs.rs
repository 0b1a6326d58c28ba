//! `logs` (and attached `up`): containers' logs streamed to the client in bounded memory.
//!
//! Each container's log is read in chunks (`log_reader`), its backlog merged with the others'
//! by time one line per container at a time, and sent in batches over a bounded channel: a
//! slow client stops the reading, so the daemon never holds more than a few chunks per
//! request, whatever the size of the logs.

use super::log_reader::{LogReader, Read};
use super::server::Sender;
use super::types::{LogLine, LogsQuery, WARNING_STREAM};
use crate::runtime::LOG_FILE;
use crate::store::ContainerRecord;
use std::collections::VecDeque;
use std::time::Duration;

/// What `docker logs` says of a container whose driver keeps no log.
pub const NOT_READABLE: &str = "configured logging driver does not support reading";

/// Lines are sent in batches of about this many bytes.
const BATCH: usize = 32 * 1024;
/// Chunks read from one container per round while following, so that a chatty container
/// does not hold back the others' lines.
const CHUNKS_PER_ROUND: usize = 8;
/// How often a follower looks for new lines once it has read everything.
const POLL: Duration = Duration::from_millis(100);

/// `LogsQuery::since` for the lines written from now on, in the logs' own time format (the
/// client's clock is the daemon's: both run on the same host).
pub fn since_now() -> String {
    log_time(std::time::SystemTime::now())
}

/// `t` in the logs' own time format (`2026-11-28T06:43:05.123456789Z`), which compares as text.
pub fn log_time(t: std::time::SystemTime) -> String {
    crate::runtime::log::rfc3339_nanos(t)
}

/// A reader of `rec`'s log, as it is now; `None` when it keeps none (`driver: none`).
pub fn reader(rec: &ContainerRecord) -> Option<LogReader> {
    (!rec.config.log.disabled).then(|| {
        LogReader::open(
            &rec.config.state_dir.join(LOG_FILE),
            &rec.name,
            &rec.service,
        )
    })
}

/// Serialized lines on their way to the client.
struct Batch<'a> {
    tx: &'a Sender,
    buf: Vec<u8>,
}

impl Batch<'_> {
    /// Fails once the client went away.
    fn push(&mut self, item: &LogLine) -> Result<(), ()> {
        serde_json::to_writer(&mut self.buf, item).map_err(|_| ())?;
        self.buf.push(b'\n');
        if self.buf.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends what is buffered, waiting while the client is slow.
    fn flush(&mut self) -> Result<(), ()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        self.tx.send_blocking(data).map_err(|_| ())
    }
}

/// One container's backlog while it is merged: the lines read but not yet sent.
struct Head<'a> {
    reader: &'a mut LogReader,
    queue: VecDeque<LogLine>,
    done: bool,
}

impl Head<'_> {
    /// Reads until a line is queued or the backlog is over.
    fn fill(&mut self, window: Window<'_>) {
        while self.queue.is_empty() && !self.done {
            let mut lines = Vec::new();
            self.done = self.reader.read(&mut lines) == Read::AtEnd;
            self.queue
                .extend(lines.into_iter().filter(|l| window.holds(&l.time)));
        }
    }
}

/// The times asked for (`--since`, `--until`), both inclusive, in the logs' own format,
/// which compares as text.
#[derive(Clone, Copy, Default)]
struct Window<'a> {
    since: Option<&'a str>,
    until: Option<&'a str>,
}

impl Window<'_> {
    fn holds(&self, time: &str) -> bool {
        self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time <= u)
    }

    /// Every line still to come is after `until`: a follower is done.
    fn closed(&self) -> bool {
        self.until.is_some_and(|u| since_now().as_str() > u)
    }
}

/// Hands every container's backlog (its lines since `since`) to `emit`, merged by time. A
/// log's lines are in time order, so taking the earliest head each time merges them.
fn merge_backlog(
    readers: &mut [LogReader],
    window: Window<'_>,
    mut emit: impl FnMut(&LogLine) -> Result<(), ()>,
) -> Result<(), ()> {
    let mut heads: Vec<Head<'_>> = readers
        .iter_mut()
        .map(|reader| Head {
            reader,
            queue: VecDeque::new(),
            done: false,
        })
        .collect();
    loop {
        let mut earliest: Option<(usize, &str)> = None;
        for h in &mut heads {
            h.fill(window);
        }
        for (i, h) in heads.iter().enumerate() {
            if let Some(l) = h.queue.front()
                && earliest.is_none_or(|(_, t)| l.time.as_str() < t)
            {
                earliest = Some((i, l.time.as_str()));
            }
        }
        let Some((i, _)) = earliest else {
            return Ok(());
        };
        if let Some(line) = heads[i].queue.pop_front() {
            emit(&line)?;
        }
    }
}

/// `logs`: what is there (the last `tail` lines per container, merged by time), then, with
/// `follow`, new lines as they come until the client disconnects or `all_stopped` says every
/// followed container has stopped for good (as `docker compose logs -f` and attached `up`).
/// Blocking: it reads files and waits on the client, so it runs on a thread of its own.
pub fn stream_logs(
    recs: Vec<ContainerRecord>,
    q: LogsQuery,
    tx: Sender,
    all_stopped: impl Fn() -> bool,
) {
    let mut out = Batch {
        tx: &tx,
        buf: Vec::with_capacity(BATCH),
    };
    let mut readers = Vec::new();
    for rec in &recs {
        match reader(rec) {
            Some(mut r) => {
                if let Some(n) = q.tail {
                    r.keep_last_lines(n);
                }
                readers.push(r);
            }
            // As compose: a warning, and the other containers' logs.
            None => {
                let warning = LogLine {
                    container: rec.name.clone(),
                    service: rec.service.clone(),
                    stream: WARNING_STREAM.into(),
                    time: String::new(),
                    data: NOT_READABLE.into(),
                };
                if out.push(&warning).is_err() {
                    return;
                }
            }
        }
    }
    let window = Window {
        since: q.since.as_deref(),
        until: q.until.as_deref(),
    };
    let backlog = merge_backlog(&mut readers, window, |l| out.push(l));
    if backlog.is_err() || out.flush().is_err() {
        return;
    }
    if q.follow {
        let _ = follow(&mut readers, &mut out, &tx, window, all_stopped);
    }
}

fn follow(
    readers: &mut [LogReader],
    out: &mut Batch<'_>,
    tx: &Sender,
    window: Window<'_>,
    all_stopped: impl Fn() -> bool,
) -> Result<(), ()> {
    for r in readers.iter_mut() {
        r.follow();
    }
    loop {
        // Checked before reading, so the last lines written before the stop are still sent.
        let stopped = all_stopped() || window.closed();
        let mut idle = true;
        let mut lines = Vec::new();
        for r in readers.iter_mut() {
            for _ in 0..CHUNKS_PER_ROUND {
                let end = r.read(&mut lines) == Read::AtEnd;
                for l in lines.drain(..) {
                    if window.holds(&l.time) {
                        out.push(&l)?;
                    }
                }
                if end {
                    break;
                }
                idle = false;
            }
        }
        out.flush()?;
        if idle {
            if stopped || tx.is_closed() {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests;
