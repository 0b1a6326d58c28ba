//! Reads one container's log (container.log and its rotated files, see
//! `runtime::log_rotate`) in bounded chunks, oldest line first.
//!
//! A reader opens the files that exist when it starts (newest first, one per inode) and reads
//! them in order, each up to the size it had then: that is the backlog, and holding the files
//! open means a rotation meanwhile cannot take them away. A following reader then goes on
//! with the file being written and follows it by inode through rotations: once
//! `container.log` names another file, the old one is final (the shim flushed it before the
//! rename), so it is read to its end and the reader moves on to the next newer file. No line
//! is read twice, and none is lost unless the writer rotated a file away entirely before the
//! reader reached it.

use super::types::LogLine;
use crate::runtime::log_rotate::{MAX_FILES, rotated_path};
use serde::Deserialize;
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;
/// A "line" longer than this is no record of the shim's (those are at most ~100 KB): it is
/// dropped rather than buffered.
const MAX_RECORD: usize = 1024 * 1024;

/// One line as the shim writes it (docker's json-file format).
#[derive(Deserialize)]
struct Line {
    stream: String,
    time: String,
    log: String,
}

/// (device, inode): what a file is, whatever it is named now.
type FileId = (u64, u64);

/// An open log file and how far it has been read.
struct Segment {
    file: File,
    id: FileId,
    offset: u64,
    /// Read up to here (its size when the reader started); `None` while following.
    end: Option<u64>,
}

impl Segment {
    fn open(path: &Path) -> Option<Segment> {
        let file = File::open(path).ok()?;
        let m = file.metadata().ok()?;
        Some(Segment {
            id: (m.dev(), m.ino()),
            end: Some(m.len()),
            offset: 0,
            file,
        })
    }
}

/// What `LogReader::read` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Lines were added (possibly none, when only a partial line was read).
    More,
    /// Nothing new for now (following: the writer may add more later).
    AtEnd,
}

/// One container's log, read forwards in chunks.
pub struct LogReader {
    base: PathBuf,
    /// The file being read.
    seg: Option<Segment>,
    /// Files of the backlog after `seg`, oldest first.
    rest: VecDeque<Segment>,
    /// Go on past the backlog with the lines written later.
    follow: bool,
    /// Set once `seg` is known not to be written any more: its end is final.
    seg_final: bool,
    partial: Vec<u8>,
    /// The read buffer (`CHUNK` bytes once used).
    buf: Vec<u8>,
    container: String,
    service: String,
}

impl LogReader {
    /// The whole retained log of `base` (container.log) as it is now, oldest line first.
    pub fn open(base: &Path, container: &str, service: &str) -> LogReader {
        let mut rest = VecDeque::new();
        let mut seen: Vec<FileId> = Vec::new();
        // Newest first: a rotation in between then shows a file twice (skipped by its id),
        // rather than hiding one.
        for n in 0..MAX_FILES {
            let Some(seg) = Segment::open(&rotated_path(base, n)) else {
                break;
            };
            if !seen.contains(&seg.id) {
                seen.push(seg.id);
                rest.push_front(seg);
            }
        }
        let seg = rest.pop_front();
        LogReader {
            base: base.to_path_buf(),
            seg,
            rest,
            follow: false,
            seg_final: false,
            partial: Vec::new(),
            buf: Vec::new(),
            container: container.to_string(),
            service: service.to_string(),
        }
    }

    /// Goes on past the backlog (once it has been read) with the lines written later.
    pub fn follow(&mut self) {
        self.follow = true;
    }

    /// Starts the backlog at its last `n` complete lines, reading the files backwards in
    /// blocks: a `--tail` of a large log reads only its end.
    pub fn keep_last_lines(&mut self, n: usize) {
        const BLOCK: u64 = 64 * 1024;
        let mut files: Vec<Segment> = self.seg.take().into_iter().collect();
        files.extend(self.rest.drain(..));
        // The newline before the first of those lines is the (n+1)-th from the end.
        let mut newlines = 0;
        let mut buf = vec![0u8; BLOCK as usize];
        let mut start: Option<(usize, u64)> = None;
        'files: for (idx, seg) in files.iter().enumerate().rev() {
            let mut pos = seg.end.unwrap_or(0);
            while pos > 0 {
                let len = pos.min(BLOCK);
                pos -= len;
                let chunk = &mut buf[..len as usize];
                if seg.file.read_exact_at(chunk, pos).is_err() {
                    // Shorter than it was (truncated): start after it.
                    start = Some((idx + 1, 0));
                    break 'files;
                }
                if let Some(i) = nth_newline_from_end(chunk, n + 1 - newlines) {
                    start = Some((idx, pos + i as u64 + 1));
                    break 'files;
                }
                newlines += chunk.iter().filter(|b| **b == b'\n').count();
            }
        }
        // Fewer lines than asked for: all of them.
        let (idx, offset) = start.unwrap_or((0, 0));
        let mut kept: VecDeque<Segment> = files.into_iter().skip(idx).collect();
        if let Some(first) = kept.front_mut() {
            first.offset = offset;
        }
        self.seg = kept.pop_front();
        self.rest = kept;
        self.partial.clear();
    }

    /// Reads one chunk and appends the complete lines in it to `out`.
    pub fn read(&mut self, out: &mut Vec<LogLine>) -> Read {
        // Kept between calls: a follower polls every reader several times a second.
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(CHUNK, 0);
        let res = self.read_into(&mut buf, out);
        self.buf = buf;
        res
    }

    fn read_into(&mut self, buf: &mut [u8], out: &mut Vec<LogLine>) -> Read {
        loop {
            let Some(seg) = self.seg.as_mut() else {
                if self.follow {
                    // No file yet (nothing logged so far, or the log was removed).
                    self.seg = Segment::open(&self.base).map(|mut s| {
                        s.end = None;
                        s
                    });
                    if self.seg.is_some() {
                        continue;
                    }
                }
                return Read::AtEnd;
            };
            let want = match seg.end {
                Some(end) => (end.saturating_sub(seg.offset) as usize).min(CHUNK),
                None => CHUNK,
            };
            let n = if want == 0 {
                0
            } else {
                seg.file.read_at(&mut buf[..want], seg.offset).unwrap_or(0)
            };
            if n > 0 {
                seg.offset += n as u64;
                self.take_lines(&buf[..n], out);
                return Read::More;
            }
            if !self.next_file() {
                return Read::AtEnd;
            }
        }
    }

    /// At the end of `seg`: moves on to the next file, if there is one now.
    fn next_file(&mut self) -> bool {
        if let Some(next) = self.rest.pop_front() {
            self.switch_to(next);
            return true;
        }
        if !self.follow {
            return false;
        }
        let Some(seg) = self.seg.as_mut() else {
            return false;
        };
        if seg.end.take().is_some() {
            // The backlog's newest file: followed from here on.
            return true;
        }
        let current = std::fs::metadata(&self.base)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if current == Some(seg.id) {
            if std::fs::metadata(&self.base).is_ok_and(|m| m.len() < seg.offset) {
                // Truncated (not by the shim, which starts new files): from the start again.
                seg.offset = 0;
                self.partial.clear();
                return true;
            }
            return false;
        }
        if !self.seg_final {
            // Renamed away: what the shim wrote before the rename may have arrived after our
            // last read, so read to the end once more before moving on.
            self.seg_final = true;
            return true;
        }
        match self.successor() {
            Some(next) => {
                self.switch_to(next);
                true
            }
            None => false,
        }
    }

    /// The file written after `seg`: the one just newer than it in the rotation (the oldest
    /// left, when `seg` was rotated away entirely), opened and checked against its name.
    fn successor(&self) -> Option<Segment> {
        let me = self.seg.as_ref()?.id;
        // A rotation between the listing and the open renames the files: list again.
        for _ in 0..10 {
            let mut chain: Vec<FileId> = Vec::new();
            for n in 0..MAX_FILES {
                match std::fs::metadata(rotated_path(&self.base, n)) {
                    Ok(m) => chain.push((m.dev(), m.ino())),
                    Err(_) => break,
                }
            }
            let n = match chain.iter().position(|id| *id == me) {
                Some(0) => return None,
                Some(p) => p - 1,
                None => chain.len().checked_sub(1)?,
            };
            let mut seg = Segment::open(&rotated_path(&self.base, n as u32))?;
            if seg.id == chain[n] {
                seg.end = None;
                return Some(seg);
            }
        }
        None
    }

    fn switch_to(&mut self, next: Segment) {
        self.seg = Some(next);
        self.seg_final = false;
        // A final file that ends without a newline was cut short (a crash): that part is lost.
        self.partial.clear();
    }

    fn take_lines(&mut self, data: &[u8], out: &mut Vec<LogLine>) {
        let mut rest = data;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            let line = if self.partial.is_empty() {
                &rest[..i]
            } else {
                self.partial.extend_from_slice(&rest[..i]);
                &self.partial[..]
            };
            if let Ok(l) = serde_json::from_slice::<Line>(line) {
                out.push(LogLine {
                    container: self.container.clone(),
                    service: self.service.clone(),
                    stream: l.stream,
                    time: l.time,
                    data: l.log,
                });
            }
            self.partial.clear();
            rest = &rest[i + 1..];
        }
        if self.partial.len() + rest.len() > MAX_RECORD {
            self.partial.clear();
        } else {
            self.partial.extend_from_slice(rest);
        }
    }
}

/// The position of the `k`-th newline counted from the end of `chunk` (k >= 1).
fn nth_newline_from_end(chunk: &[u8], k: usize) -> Option<usize> {
    chunk
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(k.checked_sub(1)?)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests;
