//! Typed reads of tree nodes with Compose's lenient casting (strings produced by interpolation
//! become numbers, booleans, sizes, durations), reporting every failure at the node's span.

use super::error::{Diagnostic, Report, Severity};
use super::keys::suggest;
use super::source::SourceMap;
use super::yaml::{Kind, Node, Span};
use crate::model::{UnitError, units};
use std::time::Duration;

/// Conversion context: where diagnostics go and what they quote.
pub struct Cx<'a> {
    pub sources: &'a mut SourceMap,
    pub report: &'a mut Report,
    /// CPUs of the host the stack is for (`LoadOptions::host_cpus`); `cpus` above it is
    /// refused, as Docker refuses it. `None`: not checked.
    pub host_cpus: Option<fn() -> Option<u32>>,
    /// `LoadOptions::known_sysctl`.
    pub known_sysctl: Option<fn(&str) -> bool>,
}

impl Cx<'_> {
    pub fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.report.error(self.sources, span, msg);
    }

    pub fn error_hint(&mut self, span: Span, msg: impl Into<String>, hint: impl Into<String>) {
        self.report.error_hint(self.sources, span, msg, hint);
    }

    pub fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.report.warn(self.sources, span, msg);
    }

    /// " (FILE:LINE:COL)" of `span`, for messages that must keep it on one line.
    pub fn location(&self, span: Span) -> String {
        self.sources
            .get(span.file)
            .map(|f| format!(" ({}:{}:{})", f.display, span.line, span.col))
            .unwrap_or_default()
    }

    /// The standard "not supported yet" warning (file:line:col is in the rendered diagnostic and
    /// repeated in the message so single-line log output keeps it).
    pub fn unsupported(&mut self, span: Span, path: &str) {
        let loc = self
            .sources
            .get(span.file)
            .map(|f| format!(" ({}:{}:{})", f.display, span.line, span.col))
            .unwrap_or_default();
        self.report.push(Diagnostic::at(
            Severity::Warning,
            format!("not supported yet: {path}{loc}"),
            span,
            self.sources,
        ));
    }

    /// Reports an unknown key with a did-you-mean hint drawn from `known`.
    pub fn unknown_key(&mut self, span: Span, path: &str, key: &str, known: &[&str]) {
        let msg = format!("{path}: unknown key \"{key}\"");
        match suggest(key, known) {
            Some(s) => self.error_hint(span, msg, format!("did you mean {s}?")),
            None => self.error(span, msg),
        }
    }

    fn expected(&mut self, path: &str, n: &Node, what: &str) {
        let shown = n
            .scalar_text()
            .map(|t| format!(" \"{t}\""))
            .unwrap_or_default();
        self.error(
            n.span,
            format!("{path}: expected {what}, found {}{shown}", n.type_name()),
        );
    }

    /// A mapping's entries as (key text, key node, value node); reports non-mappings.
    pub fn map<'n>(
        &mut self,
        path: &str,
        n: &'n Node,
    ) -> Option<Vec<(String, &'n Node, &'n Node)>> {
        match &n.kind {
            Kind::Map(m) => Some(
                m.iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), k, v))
                    .collect(),
            ),
            _ => {
                self.expected(path, n, "a mapping");
                None
            }
        }
    }

    /// Any scalar as text (Compose casts numbers and booleans to strings).
    pub fn string(&mut self, path: &str, n: &Node) -> Option<String> {
        match &n.kind {
            Kind::Str(_) | Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => n.scalar_text(),
            _ => {
                self.expected(path, n, "a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, path: &str, n: &Node) -> Option<bool> {
        match &n.kind {
            Kind::Bool(b) => Some(*b),
            Kind::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" => Some(true),
                "false" | "no" | "n" | "off" => Some(false),
                _ => {
                    self.expected(path, n, "a boolean (true or false)");
                    None
                }
            },
            _ => {
                self.expected(path, n, "a boolean (true or false)");
                None
            }
        }
    }

    pub fn int(&mut self, path: &str, n: &Node) -> Option<i64> {
        match &n.kind {
            Kind::Int(i) => Some(*i),
            Kind::Str(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            _ => {
                self.expected(path, n, "an integer");
                None
            }
        }
    }

    pub fn duration(&mut self, path: &str, n: &Node) -> Option<Duration> {
        match &n.kind {
            Kind::Int(0) => Some(Duration::ZERO),
            Kind::Int(i) => {
                self.error_hint(
                    n.span,
                    format!("{path}: duration {i} has no unit"),
                    format!("write it with a unit, e.g. \"{i}s\""),
                );
                None
            }
            Kind::Str(s) => match units::parse_duration(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    let hint = s
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .map(|i| format!("write it with a unit, e.g. \"{i}s\""));
                    let msg = format!("{path}: {e}");
                    match hint {
                        Some(h) => self.error_hint(n.span, msg, h),
                        None => self.error(n.span, msg),
                    }
                    None
                }
            },
            _ => {
                self.expected(path, n, "a duration such as \"10s\"");
                None
            }
        }
    }

    pub fn size(&mut self, path: &str, n: &Node) -> Option<u64> {
        match &n.kind {
            Kind::Int(i) if *i >= 0 => u64::try_from(*i).ok(),
            Kind::Str(s) => match units::parse_size(s) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.error(n.span, format!("{path}: {e}"));
                    None
                }
            },
            Kind::Int(_) | Kind::Float(_) => {
                self.error(
                    n.span,
                    format!(
                        "{path}: invalid size \"{}\" (expected e.g. \"512m\", \"1g\" or a number of bytes)",
                        n.scalar_text().unwrap_or_default()
                    ),
                );
                None
            }
            _ => {
                self.expected(path, n, "a size such as \"512m\"");
                None
            }
        }
    }

    pub fn cpus(&mut self, path: &str, n: &Node) -> Option<f64> {
        let r = match &n.kind {
            Kind::Int(i) => {
                units::check_cpus(*i as f64).ok_or_else(|| model_cpus_err(&i.to_string()))
            }
            Kind::Float(f) => units::check_cpus(*f).ok_or_else(|| model_cpus_err(&f.to_string())),
            Kind::Str(s) => units::parse_cpus(s),
            _ => {
                self.expected(path, n, "a number of CPUs such as 1.5");
                return None;
            }
        };
        match r {
            Ok(v) => match self
                .host_cpus
                .and_then(|host| host())
                .and_then(|host| units::cpus_out_of_range(v, host))
            {
                Some(msg) => {
                    self.error(n.span, format!("{path}: {msg}"));
                    None
                }
                None => Some(v),
            },
            Err(e) => {
                self.error(n.span, format!("{path}: {e}"));
                None
            }
        }
    }

    /// A memory limit: a size, where 0 means no limit and anything else must be at least
    /// Docker's minimum of 6 MiB (below it, the container would be OOM-killed at once).
    pub fn memory_limit(&mut self, path: &str, n: &Node) -> Option<u64> {
        let v = self.size(path, n)?;
        if v != 0 && v < units::MIN_MEMORY_LIMIT {
            self.error(
                n.span,
                format!(
                    "{path}: {v} bytes is below the minimum memory limit of 6MB (6291456 bytes); \
                     use at least \"6m\", or 0 for no limit"
                ),
            );
            return None;
        }
        Some(v)
    }

    /// A list of scalars as strings.
    pub fn string_list(&mut self, path: &str, n: &Node) -> Option<Vec<String>> {
        let Kind::Seq(items) = &n.kind else {
            self.expected(path, n, "a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, it) in items.iter().enumerate() {
            match self.string(&format!("{path}[{i}]"), it) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `command`/`entrypoint`: a string (split like a shell) or a list.
    pub fn command(&mut self, path: &str, n: &Node) -> Option<Vec<String>> {
        match &n.kind {
            Kind::Str(s) => match split_words(s) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.error(n.span, format!("{path}: {e}"));
                    None
                }
            },
            Kind::Seq(_) => self.string_list(path, n),
            _ => {
                self.expected(path, n, "a string or a list of strings");
                None
            }
        }
    }
}

fn model_cpus_err(s: &str) -> UnitError {
    UnitError::Cpus(s.to_string())
}

/// Splits a command string like a POSIX shell does for words (quotes and backslashes; no
/// expansion), as Compose's `shellwords` does.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(n) => cur.push(n),
                    None => cur.push('\\'),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                        None => return Err(format!("unterminated single quote in \"{s}\"")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some('\n') => {}
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err(format!("unterminated double quote in \"{s}\"")),
                        },
                        Some(n) => cur.push(n),
                        None => return Err(format!("unterminated double quote in \"{s}\"")),
                    }
                }
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}
