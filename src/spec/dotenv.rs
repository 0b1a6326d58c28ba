//! `.env` / `--env-file` / `env_file` parsing, following the dotenv format Compose accepts:
//! `KEY=VALUE`, `export KEY=VALUE`, `# comments`, single quotes (literal), double quotes (escapes,
//! interpolation), unquoted values (interpolation, trailing ` #comment` dropped), and a bare `KEY`
//! which takes the value from the lookup environment (or is skipped when unset).

use super::interp::interpolate;

/// One dotenv problem: 1-based line and column plus a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl DotenvError {
    /// Where the problem is, in the env file registered as source `file`.
    pub fn span(&self, file: u32) -> super::yaml::Span {
        super::yaml::Span {
            file,
            line: self.line,
            col: self.col,
            len: 1,
        }
    }
}

/// Parses `text`; variables in values resolve first against earlier lines of the same file,
/// then against `lookup`.
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, DotenvError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut idx = 0;
    while idx < lines.len() {
        let lineno = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let raw = lines[idx].trim_end_matches('\r');
        idx += 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = raw.len() - trimmed.len();
        let body = trimmed
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(trimmed);
        let (key, value) = match body.find('=') {
            Some(i) => (body[..i].trim(), Some(&body[i + 1..])),
            None => (body.trim(), None),
        };
        if key.is_empty()
            || !key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        {
            return Err(DotenvError {
                line: lineno,
                col: u32::try_from(indent + 1).unwrap_or(u32::MAX),
                message: format!("invalid variable name \"{key}\""),
            });
        }
        let Some(value) = value else {
            let known = out
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone());
            if let Some(v) = known.or_else(|| lookup(key)) {
                out.push((key.to_string(), v));
            }
            continue;
        };
        let value = value.trim_start();
        let local = |name: &str| {
            out.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| lookup(name))
        };
        let mut unset = Vec::new();
        let parsed = if let Some(rest) = value.strip_prefix('\'') {
            // Single quotes: literal, may span lines.
            quoted_block(rest, '\'', &lines, &mut idx).ok_or_else(|| DotenvError {
                line: lineno,
                col: u32::try_from(indent + 1).unwrap_or(u32::MAX),
                message: "unterminated single-quoted value".into(),
            })?
        } else if let Some(rest) = value.strip_prefix('"') {
            let content = quoted_block(rest, '"', &lines, &mut idx).ok_or_else(|| DotenvError {
                line: lineno,
                col: u32::try_from(indent + 1).unwrap_or(u32::MAX),
                message: "unterminated double-quoted value".into(),
            })?;
            let unescaped = unescape(&content);
            interpolate(&unescaped, &local, &mut unset).map_err(|e| DotenvError {
                line: lineno,
                col: u32::try_from(indent + 1).unwrap_or(u32::MAX),
                message: e.to_string(),
            })?
        } else {
            let v = match value.find(" #") {
                Some(i) => &value[..i],
                None => value,
            };
            interpolate(v.trim_end(), &local, &mut unset).map_err(|e| DotenvError {
                line: lineno,
                col: u32::try_from(indent + 1).unwrap_or(u32::MAX),
                message: e.to_string(),
            })?
        };
        out.push((key.to_string(), parsed));
    }
    // Later definitions win; keep first-seen order.
    let mut dedup: Vec<(String, String)> = Vec::new();
    for (k, v) in out {
        match dedup.iter_mut().find(|(dk, _)| *dk == k) {
            Some(slot) => slot.1 = v,
            None => dedup.push((k, v)),
        }
    }
    Ok(dedup)
}

/// Reads a quoted value starting after the opening quote; continues onto following lines until
/// the closing quote.
fn quoted_block(first: &str, q: char, lines: &[&str], idx: &mut usize) -> Option<String> {
    if let Some(end) = find_close(first, q) {
        return Some(first[..end].to_string());
    }
    let mut acc = first.to_string();
    while *idx < lines.len() {
        let l = lines[*idx].trim_end_matches('\r');
        *idx += 1;
        acc.push('\n');
        if let Some(end) = find_close(l, q) {
            acc.push_str(&l[..end]);
            return Some(acc);
        }
        acc.push_str(l);
    }
    None
}

fn find_close(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if q == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return Some(i);
        }
        escaped = false;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}
