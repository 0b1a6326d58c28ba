//! Dockerfile diagnostics: file:line:col, the source line, a caret and a hint, rendered
//! exactly as the stack-file diagnostics of `spec::error` are (`build` may not use `spec`).

use std::fmt;

/// One problem in a Dockerfile, at a 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub file: String,
    /// 0 when the problem is about the whole file (e.g. no FROM).
    pub line: usize,
    pub col: usize,
    /// Caret width under the source line (at least 1).
    pub width: usize,
    pub source_line: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem at `line`:`col` (1-based), `width` characters wide, quoting the line.
    pub fn at(
        file: &str,
        lines: &[&str],
        line: usize,
        col: usize,
        width: usize,
        message: impl Into<String>,
    ) -> Self {
        let source_line = line
            .checked_sub(1)
            .and_then(|i| lines.get(i))
            .map(|l| l.trim_end_matches('\r').to_string());
        let width = match &source_line {
            Some(l) => {
                let rest = l.chars().count().saturating_sub(col.saturating_sub(1));
                width.min(rest).max(1)
            }
            None => 1,
        };
        Diagnostic {
            message: message.into(),
            file: file.to_string(),
            line,
            col: col.max(1),
            width,
            source_line,
            hint: None,
        }
    }

    /// A problem about the whole file.
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            file: file.to_string(),
            line: 0,
            col: 0,
            width: 1,
            source_line: None,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if !self.file.is_empty() && self.line > 0 {
            let num = self.line.to_string();
            let w = num.len() + 1;
            let pad = " ".repeat(w);
            write!(f, "\n{pad}--> {}:{}:{}", self.file, self.line, self.col)?;
            if let Some(src) = &self.source_line {
                let src = src.replace('\t', " ");
                let caret_pad = " ".repeat(self.col.saturating_sub(1));
                let carets = "^".repeat(self.width.max(1));
                write!(
                    f,
                    "\n{pad} |\n{num:>w$} | {src}\n{pad} | {caret_pad}{carets}"
                )?;
            }
            if let Some(h) = &self.hint {
                write!(f, "\n{pad} = hint: {h}")?;
            }
        } else {
            if !self.file.is_empty() {
                write!(f, "\n  --> {}", self.file)?;
            }
            if let Some(h) = &self.hint {
                write!(f, "\n  = hint: {h}")?;
            }
        }
        Ok(())
    }
}

/// Every problem of a Dockerfile, found in one pass before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_all(.0))]
pub struct Diagnostics(pub Vec<Diagnostic>);

fn render_all(list: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in list.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&d.to_string());
    }
    if list.len() > 1 {
        out.push_str(&format!(
            "\n\nerror: {} problems in the Dockerfile",
            list.len()
        ));
    }
    out
}

/// Edit distance with transpositions (optimal string alignment), for did-you-mean hints:
/// `--form` is one step from `--from`.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest of `candidates` to `word` (case-insensitive), if close enough to be a typo.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let limit = (w.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (distance(&w, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
