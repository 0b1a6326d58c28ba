//! Variable interpolation in values: `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:?e}`, `${V?e}`,
//! `${V:+a}`, `${V+a}` (nested in the word), and `$$` for a literal `$`.

use super::yaml::{Kind, Node, Span};

/// What interpolating one string found besides its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    /// `${V:?msg}` / `${V?msg}` with V missing.
    Required { name: String, message: String },
    /// Malformed `$` expression.
    Syntax(String),
}

impl std::fmt::Display for InterpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpError::Required { name, message } => {
                write!(f, "required variable {name} is missing a value: {message}")
            }
            InterpError::Syntax(m) => f.write_str(m),
        }
    }
}

/// Interpolates `s`. `lookup` answers variables; names used without a default while unset are
/// pushed to `unset` (Compose warns about them and substitutes "").
pub fn interpolate(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpError> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            // Copy the whole run up to the next '$' (keeps UTF-8 intact).
            let next = s[i..].find('$').map_or(b.len(), |n| i + n);
            out.push_str(&s[i..next]);
            i = next;
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = matching_brace(s, i + 2).ok_or_else(|| {
                    InterpError::Syntax(format!("missing closing brace in \"{s}\""))
                })?;
                out.push_str(&braced(&s[i + 2..end], s, lookup, unset)?);
                i = end + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let name = &s[start..j];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => unset.push(name.to_string()),
                }
                i = j;
            }
            _ => {
                return Err(InterpError::Syntax(format!(
                    "invalid interpolation format in \"{s}\": a lone `$` (write `$$` for a literal `$`)"
                )));
            }
        }
    }
    Ok(out)
}

/// Index of the `}` closing a `${` whose body starts at `from`, honouring nested `${...}`.
fn matching_brace(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                if depth == 0 {
                    return Some(i);
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(
    body: &str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpError> {
    let name_len = body
        .bytes()
        .enumerate()
        .take_while(|(k, c)| {
            c.is_ascii_alphabetic() || *c == b'_' || (*k > 0 && c.is_ascii_digit())
        })
        .count();
    let name = &body[..name_len];
    if name.is_empty() {
        return Err(InterpError::Syntax(format!(
            "invalid interpolation format in \"{whole}\": expected a variable name after `${{`"
        )));
    }
    let rest = &body[name_len..];
    let value = lookup(name);
    if rest.is_empty() {
        return Ok(value.unwrap_or_else(|| {
            unset.push(name.to_string());
            String::new()
        }));
    }
    let (colon, op, word) = match rest.strip_prefix(':') {
        Some(r) => (true, r.chars().next(), r.get(1..).unwrap_or("")),
        None => (false, rest.chars().next(), rest.get(1..).unwrap_or("")),
    };
    let missing = match &value {
        None => true,
        Some(v) => colon && v.is_empty(),
    };
    match op {
        Some('-') => {
            if missing {
                interpolate(word, lookup, unset)
            } else {
                Ok(value.unwrap_or_default())
            }
        }
        Some('?') => {
            if missing {
                let message = interpolate(word, lookup, unset)?;
                Err(InterpError::Required {
                    name: name.to_string(),
                    message,
                })
            } else {
                Ok(value.unwrap_or_default())
            }
        }
        Some('+') => {
            if missing {
                Ok(String::new())
            } else {
                interpolate(word, lookup, unset)
            }
        }
        _ => Err(InterpError::Syntax(format!(
            "invalid interpolation format in \"{whole}\": unexpected `{rest}` after `${{{name}`"
        ))),
    }
}

/// A problem found while interpolating a tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeProblem {
    pub span: Span,
    pub error: Option<InterpError>,
    /// Set for unset-variable warnings.
    pub unset: Option<String>,
}

/// Interpolates every string value (never keys) of `node` in place.
pub fn interpolate_tree(
    node: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<TreeProblem>,
) {
    match &mut node.kind {
        Kind::Str(s) => {
            let mut unset = Vec::new();
            match interpolate(s, lookup, &mut unset) {
                Ok(v) => *s = v,
                Err(e) => problems.push(TreeProblem {
                    span: node.span,
                    error: Some(e),
                    unset: None,
                }),
            }
            for name in unset {
                problems.push(TreeProblem {
                    span: node.span,
                    error: None,
                    unset: Some(name),
                });
            }
        }
        Kind::Seq(items) => {
            for it in items {
                interpolate_tree(it, lookup, problems);
            }
        }
        Kind::Map(entries) => {
            for (_, v) in entries {
                interpolate_tree(v, lookup, problems);
            }
        }
        _ => {}
    }
}
