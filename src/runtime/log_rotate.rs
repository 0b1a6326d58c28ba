//! Size-based rotation of `container.log`, as Docker's json-file and local drivers do it:
//! when the next record would take the file past `max_size`, `container.log` becomes
//! `container.log.1` (`.1` becomes `.2`, and so on), `max_file` files are kept in all, the
//! one being written included, and a new file is begun. A record is never split across
//! files, so every file but the one being written ends with a whole line, and the files on
//! disk never exceed `max_size * max_file` plus one record.
//!
//! Readers (`api::log_reader`) hold the files open and follow them by inode, so a rename
//! under them loses nothing: the shim flushes a file before it renames it and never writes
//! to it again.

use super::log::Records;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Docker's `local` driver: 20 MB per file ("20m" in Docker's decimal units)...
pub const DEFAULT_MAX_SIZE: u64 = 20_000_000;
/// ... and 5 files per container.
pub const DEFAULT_MAX_FILE: u32 = 5;
/// No more rotated files than this are kept or looked for (Docker sets no limit; this one
/// bounds the renames of a rotation and a reader's directory probes). The stack file's
/// bound, `model::MAX_LOG_FILES`, is the same.
pub const MAX_FILES: u32 = 100;

/// How much the shim buffers before it writes (it also writes after every poll round).
const BUFFER: usize = 64 * 1024;

/// `container.log` for 0, `container.log.N` for the N-th newest rotated file.
pub fn rotated_path(current: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return current.to_path_buf();
    }
    let mut s = current.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The shim's writer of one container's log.
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// Bytes in the file plus those buffered.
    size: u64,
    /// 0: never rotate.
    max_size: u64,
    max_file: u32,
}

impl RotatingLog {
    /// Appends to `path` (a restarted container continues its log) and removes rotated files
    /// beyond `max_file` that an earlier run with a larger `max_file` left.
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> std::io::Result<RotatingLog> {
        let max_file = max_file.clamp(1, MAX_FILES);
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        for n in max_file..=MAX_FILES {
            if std::fs::remove_file(rotated_path(path, n)).is_err() {
                break;
            }
        }
        Ok(RotatingLog {
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(BUFFER),
            size,
            max_size,
            max_file,
        })
    }

    /// Writes the buffer out; every file the shim leaves behind ends at a whole record.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let res = self.file.write_all(&self.buf);
        self.buf.clear();
        res
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.flush()?;
        self.size = 0;
        if self.max_file == 1 {
            // One file only: it starts over, as Docker's does, but as a new file rather than
            // truncated in place, so that a reader in the old one sees it change (by inode).
            std::fs::remove_file(&self.path)?;
        } else {
            // The oldest (`.max_file-1`) is replaced by the rename of the one before it.
            for n in (1..self.max_file - 1).rev() {
                let from = rotated_path(&self.path, n);
                let _ = std::fs::rename(from, rotated_path(&self.path, n + 1));
            }
            std::fs::rename(&self.path, rotated_path(&self.path, 1))?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        Ok(())
    }
}

impl Records for RotatingLog {
    fn record(&mut self, rec: &[u8]) -> std::io::Result<()> {
        let len = rec.len() as u64;
        let mut res = Ok(());
        if self.max_size > 0 && self.size > 0 && self.size + len > self.max_size {
            // A failed rotation (a rename refused) must not lose the output: the record is
            // still written, to whichever file is open.
            res = self.rotate();
        }
        self.buf.extend_from_slice(rec);
        self.size += len;
        if self.buf.len() >= BUFFER {
            self.flush()?;
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed when dropped (when a test fails too).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let d = std::env::temp_dir().join(format!(
                "rstack-logrot-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
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

    fn record(i: usize) -> Vec<u8> {
        format!("{i:09}\n").into_bytes()
    }

    fn lines_of(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn rotates_by_size_and_keeps_max_file_files() {
        let d = Scratch::new("keep");
        let base = d.0.join("container.log");
        // 10-byte records, 35-byte files: 3 records per file.
        let mut log = RotatingLog::open(&base, 35, 3).unwrap();
        for i in 0..20 {
            log.record(&record(i)).unwrap();
        }
        log.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&d.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["container.log", "container.log.1", "container.log.2"]
        );
        // Oldest to newest: whole records, in order, contiguous up to the last one.
        let all: Vec<String> = [2, 1, 0]
            .iter()
            .flat_map(|n| lines_of(&rotated_path(&base, *n)))
            .collect();
        let want: Vec<String> = (12..20).map(|i| format!("{i:09}")).collect();
        assert_eq!(all, want);
        for n in 0..3 {
            let len = std::fs::metadata(rotated_path(&base, n)).unwrap().len();
            assert!(len <= 35, "file {n} has {len} bytes");
        }
    }

    #[test]
    fn one_file_starts_over_and_a_record_larger_than_max_size_is_kept_whole() {
        let d = Scratch::new("one");
        let base = d.0.join("container.log");
        let mut log = RotatingLog::open(&base, 25, 1).unwrap();
        for i in 0..7 {
            log.record(&record(i)).unwrap();
        }
        log.flush().unwrap();
        assert_eq!(lines_of(&base), ["000000006"]);
        assert!(!rotated_path(&base, 1).exists());
        let big = vec![b'x'; 100];
        log.record(&big).unwrap();
        log.flush().unwrap();
        assert_eq!(std::fs::metadata(&base).unwrap().len(), 100);
    }

    #[test]
    fn a_restart_continues_the_file_and_drops_files_beyond_a_smaller_max_file() {
        let d = Scratch::new("restart");
        let base = d.0.join("container.log");
        let mut log = RotatingLog::open(&base, 25, 4).unwrap();
        for i in 0..8 {
            log.record(&record(i)).unwrap();
        }
        log.flush().unwrap();
        drop(log);
        assert!(rotated_path(&base, 3).exists());
        let mut log = RotatingLog::open(&base, 25, 2).unwrap();
        assert!(!rotated_path(&base, 2).exists() && !rotated_path(&base, 3).exists());
        // The current file held 2 records already: the next one rotates it.
        log.record(&record(8)).unwrap();
        log.flush().unwrap();
        assert_eq!(lines_of(&base), ["000000008"]);
        assert_eq!(
            lines_of(&rotated_path(&base, 1)),
            ["000000006", "000000007"]
        );
    }

    #[test]
    fn zero_max_size_never_rotates() {
        let d = Scratch::new("zero");
        let base = d.0.join("container.log");
        let mut log = RotatingLog::open(&base, 0, 2).unwrap();
        for i in 0..100 {
            log.record(&record(i)).unwrap();
        }
        log.flush().unwrap();
        assert_eq!(lines_of(&base).len(), 100);
    }
}
