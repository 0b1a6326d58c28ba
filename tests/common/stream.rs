//! A child's output gathered by a thread, so that a test can wait for a line of it without
//! blocking on a read that may never end.

use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

/// What a reader (a child's stdout) has printed so far, gathered by a thread of its own.
pub struct Gathered {
    out: mpsc::Receiver<Vec<u8>>,
    pub seen: Vec<u8>,
}

impl Gathered {
    /// Starts the thread reading `from` until its end.
    pub fn start(mut from: impl Read + Send + 'static) -> Gathered {
        let (tx, out) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Gathered {
            out,
            seen: Vec::new(),
        }
    }

    /// Waits until `text` has been printed; panics, naming `who`, when nothing more comes for
    /// `secs` (a bound only against hanging forever).
    pub fn wait_for(&mut self, who: &str, text: &str, secs: u64) {
        let text = text.as_bytes();
        while !self.seen.windows(text.len()).any(|w| w == text) {
            match self.out.recv_timeout(Duration::from_secs(secs)) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => panic!(
                    "{who} never printed {:?}; it printed {:?}",
                    String::from_utf8_lossy(text),
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }
}
