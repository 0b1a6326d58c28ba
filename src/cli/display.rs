//! The global `--ansi` and `--progress` choices (compose's), read by what prints: colours
//! and in-place redraws follow `--ansi`; pull progress follows `--progress`.
//!
//! Set once from the command line before the command runs (`set`), read anywhere after.

use clap::ValueEnum;
use std::sync::OnceLock;

/// `--ansi`: when to print ANSI control characters (colours, redraws in place).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Ansi {
    Never,
    Always,
    #[default]
    Auto,
}

/// `--progress`: how pull progress is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// Rows redrawn in place on a terminal (and `--ansi` not never), lines otherwise.
    #[default]
    Auto,
    /// Rows redrawn in place, even off a terminal.
    Tty,
    /// One line per step and per finished layer.
    Plain,
    /// One JSON object per line: {"id": ..., "status": ...}.
    Json,
    /// Nothing.
    Quiet,
}

static MODES: OnceLock<(Ansi, Progress)> = OnceLock::new();

/// Records the command line's choices (the first call wins).
pub fn set(ansi: Ansi, progress: Progress) {
    let _ = MODES.set((ansi, progress));
}

fn modes() -> (Ansi, Progress) {
    MODES.get().copied().unwrap_or_default()
}

/// Whether output to `fd` may carry colours and cursor moves.
pub fn ansi(fd: i32) -> bool {
    match modes().0 {
        Ansi::Never => false,
        Ansi::Always => true,
        Ansi::Auto => super::output::is_tty(fd),
    }
}

/// The progress mode in effect, `auto` resolved: `Tty` when stderr may be redrawn.
pub fn progress() -> Progress {
    match modes() {
        (Ansi::Never, Progress::Auto | Progress::Tty) => Progress::Plain,
        (_, Progress::Auto) if ansi(2) => Progress::Tty,
        (_, Progress::Auto) => Progress::Plain,
        (_, p) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_composes() {
        for v in ["never", "always", "auto"] {
            assert!(Ansi::from_str(v, false).is_ok(), "{v}");
        }
        for v in ["auto", "tty", "plain", "json", "quiet"] {
            assert!(Progress::from_str(v, false).is_ok(), "{v}");
        }
        assert!(Progress::from_str("fancy", false).is_err());
    }
}
