//! What a pull reports as it goes: steps (text), per-layer byte counts (throttled), and each
//! layer's final state, for the API to stream and the CLI to draw.

use std::io::{self, Read};
use std::time::{Duration, Instant};

/// Byte counts of one layer are reported at most this often.
pub const BYTES_EVERY: Duration = Duration::from_millis(100);

/// One thing a pull reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A step, shown as written ("trying the next source", "Digest: ...").
    Step(&'a str),
    /// `done` of `total` bytes of `layer` (a short digest) downloaded so far.
    Bytes {
        layer: &'a str,
        done: u64,
        total: u64,
    },
    /// `layer` reached `state`: "exists" (stored before), "downloaded" or "extracted".
    Layer {
        layer: &'a str,
        size: u64,
        state: &'a str,
    },
}

impl Event<'_> {
    /// The line an old client (or a log) shows for it; byte counts have none.
    pub fn text(&self) -> Option<String> {
        match self {
            Event::Step(s) => Some((*s).to_string()),
            Event::Bytes { .. } => None,
            Event::Layer { layer, size, state } => Some(format!(
                "{layer}: {state} {}",
                crate::image::budget::human(*size)
            )),
        }
    }
}

/// The short form of a digest shown per layer (12 hex digits, as docker).
pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// Counts what is read through it and reports it every `BYTES_EVERY` and at the end.
pub struct Counted<'a, R> {
    inner: R,
    layer: &'a str,
    done: u64,
    total: u64,
    last: Option<Instant>,
    report: &'a (dyn Fn(Event) + Sync),
}

impl<'a, R: Read> Counted<'a, R> {
    /// `done`: bytes already there (a resumed download).
    pub fn new(
        inner: R,
        layer: &'a str,
        done: u64,
        total: u64,
        report: &'a (dyn Fn(Event) + Sync),
    ) -> Self {
        Counted {
            inner,
            layer,
            done,
            total,
            last: None,
            report,
        }
    }

    fn emit(&mut self) {
        self.last = Some(Instant::now());
        (self.report)(Event::Bytes {
            layer: self.layer,
            done: self.done,
            total: self.total,
        });
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        let due = self.last.is_none_or(|t| t.elapsed() >= BYTES_EVERY);
        if n == 0 || due {
            self.emit();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn byte_counts_are_throttled_and_the_last_one_is_sent() {
        let seen = Mutex::new(Vec::new());
        let report = |e: Event| {
            if let Event::Bytes { done, .. } = e {
                seen.lock().expect("lock").push(done);
            }
        };
        let data = vec![7u8; 10_000];
        let mut r = Counted::new(&data[..], "abc", 0, 10_000, &report);
        let mut buf = [0u8; 100];
        while r.read(&mut buf).expect("read") > 0 {}
        let seen = seen.into_inner().expect("lock");
        // The first read reports, the 99 quick ones after it do not, the end does.
        assert!(seen.len() < 10, "{seen:?}");
        assert_eq!(seen.last(), Some(&10_000));
        assert_eq!(
            Event::Layer {
                layer: "abc",
                size: 2048,
                state: "downloaded"
            }
            .text()
            .as_deref(),
            Some("abc: downloaded 2.0 KiB")
        );
    }
}
