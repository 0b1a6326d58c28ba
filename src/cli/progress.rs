//! Pull progress on stderr. On a terminal, one row per layer in flight with bytes done/total
//! and rate, redrawn in place (steps and finished layers are printed above the rows); otherwise the daemon's text lines
//! only: one per step and one per layer as it completes (exists, downloaded, extracted).
//! Shared by the parallel pulls of `up`, so every write goes through one lock.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use crate::api::registry::TransferLine;

pub struct Display {
    tty: bool,
    /// `--quiet-pull`, `--progress quiet`: nothing is printed.
    quiet: bool,
    /// `--progress json`: each step as a JSON line.
    json: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rows: Vec<Row>,
    /// Rows on screen below the cursor's line start (to move back over).
    drawn: usize,
}

struct Row {
    key: String,
    text: String,
    first: Instant,
    first_done: u64,
}

impl Display {
    /// As `--progress` (and `--ansi`) say.
    pub fn new() -> Display {
        use super::display::Progress;
        let mode = super::display::progress();
        Display {
            tty: mode == Progress::Tty,
            quiet: mode == Progress::Quiet,
            json: mode == Progress::Json,
            state: Mutex::new(State::default()),
        }
    }

    /// A display that prints nothing (`up --quiet-pull`).
    pub fn quiet(mut self) -> Display {
        self.quiet = true;
        self.tty = false;
        self
    }

    /// Whether to ask the daemon for byte counts (only a terminal draws them).
    pub fn wants_bytes(&self) -> bool {
        self.tty
    }

    /// Shows one line of a pull's answer; `prefix` names the image when several pull.
    pub fn line(&self, prefix: &str, l: &TransferLine) {
        if self.quiet {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut err = std::io::stderr().lock();
        if self.json {
            if let Some(s) = &l.status {
                let id = l
                    .layer
                    .as_deref()
                    .unwrap_or(prefix.trim_end_matches([':', ' ']));
                let v = serde_json::json!({"id": id, "status": s});
                let _ = writeln!(err, "{v}");
            }
            return;
        }
        if !self.tty {
            if let Some(s) = &l.status {
                let _ = writeln!(err, "{prefix}{s}");
            }
            return;
        }
        match &l.layer {
            // A layer done leaves the live rows for a line above them, so the rows redrawn
            // are only the downloads in flight (a few per image), never more than a screen.
            Some(layer) if l.state.is_some() => {
                let key = format!("{prefix}{layer}");
                let text = row_text(prefix, layer, l, &st, &key);
                st.rows.retain(|r| r.key != key);
                redraw(&mut st, &mut err, Some(&text));
            }
            Some(layer) => {
                let key = format!("{prefix}{layer}");
                let text = row_text(prefix, layer, l, &st, &key);
                match st.rows.iter_mut().find(|r| r.key == key) {
                    Some(r) => r.text = text,
                    None => st.rows.push(Row {
                        key,
                        text,
                        first: Instant::now(),
                        first_done: l.current.unwrap_or(0),
                    }),
                }
                redraw(&mut st, &mut err, None);
            }
            None => {
                if let Some(s) = &l.status {
                    redraw(&mut st, &mut err, Some(&format!("{prefix}{s}")));
                }
            }
        }
    }
}

impl Default for Display {
    fn default() -> Self {
        Display::new()
    }
}

fn row_text(prefix: &str, layer: &str, l: &TransferLine, st: &State, key: &str) -> String {
    if let Some(state) = &l.state {
        return format!("{prefix}{layer}: {state} {}", bytes(l.total.unwrap_or(0)));
    }
    let done = l.current.unwrap_or(0);
    let total = l.total.unwrap_or(0);
    let rate = st
        .rows
        .iter()
        .find(|r| r.key == key)
        .map(|r| {
            let secs = r.first.elapsed().as_secs_f64();
            if secs > 0.0 {
                (done.saturating_sub(r.first_done) as f64 / secs) as u64
            } else {
                0
            }
        })
        .unwrap_or(0);
    format!(
        "{prefix}{layer}: downloading {} / {} ({}/s)",
        bytes(done),
        bytes(total),
        bytes(rate)
    )
}

/// Moves back over the rows drawn, prints `above` (a step) if any, and draws the rows again.
fn redraw(st: &mut State, err: &mut impl Write, above: Option<&str>) {
    if st.drawn > 0 {
        let _ = write!(err, "\x1b[{}A", st.drawn);
    }
    let _ = write!(err, "\r\x1b[J");
    if let Some(a) = above {
        let _ = writeln!(err, "{a}");
    }
    for r in &st.rows {
        let _ = writeln!(err, "{}", r.text);
    }
    st.drawn = st.rows.len();
    let _ = err.flush();
}

/// Sizes as `image ls` and docker print them (decimal units).
fn bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1}{}", UNITS[u])
}
