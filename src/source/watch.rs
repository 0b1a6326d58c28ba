//! File events for a directory source: the directories holding the files a revision was
//! loaded from (so editors that write a new file and rename it over the old one are seen),
//! debounced with our own timer, with the interval as a safety net for missed events.

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Quiet time after the last event before a change is reported: a save is often several
/// events (truncate, write, rename).
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// Why [`DirWatch::changed`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Event,
    Interval,
}

/// A watch on some directories (non-recursive).
pub struct DirWatch {
    _watcher: Option<RecommendedWatcher>,
    rx: mpsc::UnboundedReceiver<()>,
}

impl DirWatch {
    /// Watches `dirs`; one that cannot be watched (missing) is skipped: the interval covers it.
    pub fn new(dirs: &[PathBuf]) -> DirWatch {
        let (tx, rx) = mpsc::unbounded_channel();
        let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            // Only changes: inotify's access events (our own loader's reads) are not.
            if let Ok(ev) = ev
                && !matches!(ev.kind, notify::EventKind::Access(_))
            {
                let _ = tx.send(());
            }
        });
        let watcher = match watcher {
            Ok(mut w) => {
                let mut seen: Vec<&PathBuf> = Vec::new();
                for d in dirs {
                    if !seen.contains(&d) {
                        seen.push(d);
                        let _ = w.watch(d, RecursiveMode::NonRecursive);
                    }
                }
                Some(w)
            }
            Err(_) => None,
        };
        DirWatch {
            _watcher: watcher,
            rx,
        }
    }

    /// Sleeps until a change settles or `interval` passes. Costs nothing while idle.
    pub async fn changed(&mut self, interval: Duration) -> Wake {
        tokio::select! {
            got = self.rx.recv() => {
                if got.is_none() {
                    // No watcher: only the interval is left.
                    tokio::time::sleep(interval).await;
                    return Wake::Interval;
                }
            }
            _ = tokio::time::sleep(interval) => return Wake::Interval,
        }
        // Debounce: until DEBOUNCE passes without another event.
        while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, self.rx.recv()).await {}
        Wake::Event
    }
}

/// The directories to watch for a revision read from `files` below `root`.
pub fn dirs_of(root: &std::path::Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    for f in files {
        if let Some(p) = f.parent()
            && !dirs.iter().any(|d| d == p)
        {
            dirs.push(p.to_path_buf());
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rename_over_the_file_is_one_debounced_event_and_idle_waits_the_interval() {
        let dir = std::env::temp_dir().join(format!("rstack-src-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("compose.yaml");
        std::fs::write(&file, "a").unwrap();
        let mut w = DirWatch::new(&dirs_of(&dir, std::slice::from_ref(&file)));
        // Nothing happens: the interval wakes it.
        assert_eq!(w.changed(Duration::from_millis(20)).await, Wake::Interval);
        // An editor's save: a new file renamed over the old one, several events.
        let tmp = dir.join(".compose.yaml.swp");
        std::fs::write(&tmp, "b").unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        assert_eq!(w.changed(Duration::from_secs(30)).await, Wake::Event);
        // All of them were taken by the debounce: the next wait is quiet again.
        assert_eq!(w.changed(Duration::from_millis(20)).await, Wake::Interval);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
