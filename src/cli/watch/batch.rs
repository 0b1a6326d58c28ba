//! Debouncing of file events: changed paths are gathered until no event came for the quiet
//! period, then handed over as one batch (one sync request per batch). Pure: the caller
//! passes the time.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long the tree must stay quiet before a batch is acted on.
pub const QUIET: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
pub struct Batch {
    paths: BTreeSet<PathBuf>,
    last: Option<Instant>,
}

impl Batch {
    pub fn push(&mut self, path: PathBuf, now: Instant) {
        self.paths.insert(path);
        self.last = Some(now);
    }

    /// How long to wait for more events: `None` when there is nothing pending.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        let last = self.last?;
        Some((last + QUIET).saturating_duration_since(now))
    }

    /// The batch, when the quiet period has passed since the last event.
    pub fn take_due(&mut self, now: Instant) -> Option<Vec<PathBuf>> {
        if self.wait(now)? > Duration::ZERO {
            return None;
        }
        self.last = None;
        Some(std::mem::take(&mut self.paths).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_within_the_quiet_period_make_one_batch() {
        let t0 = Instant::now();
        let mut b = Batch::default();
        assert_eq!(b.wait(t0), None);
        assert_eq!(b.take_due(t0), None);
        b.push("/a".into(), t0);
        b.push("/b".into(), t0 + Duration::from_millis(30));
        b.push("/a".into(), t0 + Duration::from_millis(40));
        assert_eq!(b.take_due(t0 + Duration::from_millis(60)), None);
        assert_eq!(
            b.wait(t0 + Duration::from_millis(60)),
            Some(Duration::from_millis(30))
        );
        let got = b.take_due(t0 + Duration::from_millis(90)).unwrap();
        assert_eq!(got, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(b.wait(t0 + Duration::from_millis(90)), None);
    }
}
