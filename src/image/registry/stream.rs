//! Extracting a layer while it downloads: the download appends to its file and says how far
//! it got (`Growth`); a reader on the same file (`GrowingReader`) hands the extractor what is
//! there and waits for more, so unpacking a large layer overlaps its transfer instead of
//! following it.
//!
//! The reader only ever sees bytes the writer has written and will not change: a resume
//! appends at the end. A download that starts over (a registry that ignores Range) or fails
//! breaks the reader, and the extraction is thrown away; the commit then extracts from the
//! verified blob as without streaming. What the reader extracted is used only after the
//! download's digest check passed and its diff_id matched.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex};

#[derive(Debug, Default)]
struct State {
    /// The file being written, once opened (a descriptor of its own: the file may be
    /// renamed when it is complete).
    file: Option<Arc<File>>,
    /// Bytes written so far (the valid prefix).
    len: u64,
    done: bool,
    broken: bool,
}

/// What the writer tells the reader.
#[derive(Debug, Default)]
pub(crate) struct Growth {
    state: Mutex<State>,
    changed: Condvar,
}

impl Growth {
    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut st);
        self.changed.notify_all();
    }

    /// The download writes to `file` (open for reading too), of which the first `len`
    /// bytes are there.
    pub(crate) fn opened(&self, file: &File, len: u64) {
        let file = file.try_clone().ok().map(Arc::new);
        self.update(|s| {
            s.broken |= file.is_none();
            s.file = file;
            s.len = len;
        });
    }

    /// The file is cut to `len`: fine at its end (a resume), fatal below what was read.
    pub(crate) fn truncated(&self, len: u64) {
        self.update(|s| {
            if len < s.len {
                s.broken = true;
            }
            s.len = len;
        });
    }

    /// `n` more bytes were appended.
    pub(crate) fn grew(&self, n: u64) {
        self.update(|s| s.len += n);
    }

    /// The download is complete.
    pub(crate) fn finish(&self) {
        self.update(|s| s.done = true);
    }

    /// The download failed: the reader stops with an error.
    pub(crate) fn fail(&self) {
        self.update(|s| s.broken = true);
    }
}

/// Reads the file `Growth` describes, waiting for the writer.
pub(crate) struct GrowingReader<'a> {
    growth: &'a Growth,
    pos: u64,
}

impl<'a> GrowingReader<'a> {
    pub(crate) fn new(growth: &'a Growth) -> GrowingReader<'a> {
        GrowingReader { growth, pos: 0 }
    }
}

impl Read for GrowingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (file, avail) = {
            let mut st = self.growth.state.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if st.broken {
                    return Err(io::Error::other("the download started over or failed"));
                }
                if st.file.is_some() && (st.len > self.pos || st.done) {
                    break;
                }
                st = self
                    .growth
                    .changed
                    .wait(st)
                    .unwrap_or_else(|p| p.into_inner());
            }
            (st.file.clone(), st.len.saturating_sub(self.pos))
        };
        let Some(f) = file.filter(|_| avail > 0) else {
            return Ok(0);
        };
        let want = buf.len().min(avail.min(usize::MAX as u64) as usize);
        let n = f.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::io::Write;

    #[test]
    fn the_reader_follows_the_writer_to_the_end() {
        let t = TempDir::new("growing");
        let path = t.0.join("f");
        let g = Growth::default();
        std::thread::scope(|s| {
            let r = s.spawn(|| {
                let mut out = Vec::new();
                GrowingReader::new(&g).read_to_end(&mut out).map(|_| out)
            });
            // Opened for reading too, as the download's file is: the reader shares it.
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .expect("create");
            g.opened(&f, 0);
            for chunk in [b"abc".as_slice(), b"defg", b"h"] {
                f.write_all(chunk).expect("write");
                g.grew(chunk.len() as u64);
            }
            g.finish();
            assert_eq!(r.join().expect("join").expect("read"), b"abcdefgh");
        });
    }

    #[test]
    fn a_download_that_starts_over_breaks_the_reader() {
        let t = TempDir::new("growing-broken");
        let path = t.0.join("f");
        std::fs::write(&path, b"abcdef").expect("write");
        let g = Growth::default();
        g.opened(&File::open(&path).expect("open"), 6);
        let mut r = GrowingReader::new(&g);
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).expect("read"), 4);
        g.truncated(0);
        assert!(r.read(&mut buf).is_err());
    }
}
