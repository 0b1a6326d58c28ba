//! Diagnostics: every problem `spec` finds, with file:line:col, rendered like rustc.

use super::source::SourceMap;
use super::yaml::Span;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, resolved to a file position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Empty when the problem is not tied to a file (e.g. no stack file found).
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub hint: Option<String>,
    /// The quoted source line, if known.
    pub source_line: Option<String>,
    /// Caret width under the source line (at least 1).
    pub width: u32,
}

impl Diagnostic {
    /// A problem without a position.
    pub fn plain(severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            file: String::new(),
            line: 0,
            col: 0,
            hint: None,
            source_line: None,
            width: 1,
        }
    }

    /// A problem at `span`, quoting its line from `sources`.
    pub fn at(
        severity: Severity,
        message: impl Into<String>,
        span: Span,
        sources: &SourceMap,
    ) -> Self {
        let file = sources
            .get(span.file)
            .map(|f| f.display.clone())
            .unwrap_or_default();
        let source_line = sources.line(span.file, span.line).map(str::to_string);
        let width = match &source_line {
            Some(l) => {
                let rest = l
                    .chars()
                    .count()
                    .saturating_sub(span.col.saturating_sub(1) as usize);
                (span.len as usize).min(rest).max(1) as u32
            }
            None => 1,
        };
        Diagnostic {
            severity,
            message: message.into(),
            file,
            line: span.line,
            col: span.col,
            hint: None,
            source_line,
            width,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.message)?;
        if !self.file.is_empty() && self.line > 0 {
            let num = self.line.to_string();
            let w = num.len() + 1;
            let pad = " ".repeat(w);
            write!(f, "\n{pad}--> {}:{}:{}", self.file, self.line, self.col)?;
            if let Some(src) = &self.source_line {
                let src = src.replace('\t', " ");
                let caret_pad = " ".repeat(self.col.saturating_sub(1) as usize);
                let carets = "^".repeat(self.width.max(1) as usize);
                write!(
                    f,
                    "\n{pad} |\n{num:>w$} | {src}\n{pad} | {caret_pad}{carets}"
                )?;
            }
            if let Some(h) = &self.hint {
                write!(f, "\n{pad} = hint: {h}")?;
            }
        } else if !self.file.is_empty() {
            write!(f, "\n  --> {}", self.file)?;
            if let Some(h) = &self.hint {
                write!(f, "\n  = hint: {h}")?;
            }
        } else if let Some(h) = &self.hint {
            write!(f, "\n  = hint: {h}")?;
        }
        Ok(())
    }
}

/// All errors (and the warnings found alongside them) of a failed load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_all(.0))]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
}

fn render_all(list: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in list.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&d.to_string());
    }
    let n = list.iter().filter(|d| d.is_error()).count();
    if n > 1 {
        out.push_str(&format!("\n\nerror: {n} problems in the stack file"));
    }
    out
}

/// Collects diagnostics during a load; errors and warnings are both kept in order.
#[derive(Debug, Default)]
pub struct Report {
    pub items: Vec<Diagnostic>,
}

impl Report {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn error(&mut self, sources: &SourceMap, span: Span, msg: impl Into<String>) {
        self.push(Diagnostic::at(Severity::Error, msg, span, sources));
    }

    pub fn error_hint(
        &mut self,
        sources: &SourceMap,
        span: Span,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(Diagnostic::at(Severity::Error, msg, span, sources).with_hint(hint));
    }

    pub fn warn(&mut self, sources: &SourceMap, span: Span, msg: impl Into<String>) {
        self.push(Diagnostic::at(Severity::Warning, msg, span, sources));
    }
}
