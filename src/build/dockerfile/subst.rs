//! Variable substitution in Dockerfile words, as Docker's shell lexer (BuildKit's
//! `frontend/dockerfile/shell`) does it for ENV, LABEL, COPY, WORKDIR... (not for RUN or
//! CMD, which the shell expands).
//!
//! `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
//! `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`,
//! `${VAR/pat/repl}`, `${VAR//pat/repl}`. Single quotes are literal; in double quotes only
//! `\"`, `\$` and `\\` are escapes (other backslashes stay); outside quotes the escape
//! character takes the next character literally. Quotes are removed. An unset variable is
//! empty.

use crate::build::glob::Glob;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstError {
    /// `${VAR?msg}` / `${VAR:?msg}` with VAR unset (or empty).
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("{0}")]
    Syntax(String),
}

/// Expands `word` into one string (quotes removed, whitespace kept).
pub fn expand(
    word: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    escape: char,
) -> Result<String, SubstError> {
    let mut sh = Shell::new(word, lookup, escape);
    let (s, _) = sh.process(None, false)?;
    Ok(s)
}

/// Expands `word` and splits it into words as the shell does: on whitespace outside quotes,
/// including whitespace that variables expand to. For EXPOSE, VOLUME's shell form and the
/// like.
pub fn expand_words(
    word: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    escape: char,
) -> Result<Vec<String>, SubstError> {
    let mut sh = Shell::new(word, lookup, escape);
    let (_, w) = sh.process(None, false)?;
    Ok(w.finish())
}

/// Expands the body of a here-document whose name was not quoted (`Heredoc::expand`), for
/// COPY/ADD: variables and escapes as in `expand`, but quotes are ordinary characters, as
/// BuildKit does it (`SkipProcessQuotes`).
pub fn expand_heredoc(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    escape: char,
) -> Result<String, SubstError> {
    let mut sh = Shell::new(body, lookup, escape);
    sh.keep_quotes = true;
    let (s, _) = sh.process(None, false)?;
    Ok(s)
}

/// Word splitting alongside the plain result.
#[derive(Default)]
struct Words {
    words: Vec<String>,
    word: String,
    in_word: bool,
}

impl Words {
    /// A character that splits on whitespace.
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if self.in_word {
            self.words.push(self.word);
        }
        self.words
    }
}

struct Shell<'a> {
    chars: Vec<char>,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    escape: char,
    /// Quotes are ordinary characters (here-document bodies).
    keep_quotes: bool,
}

impl<'a> Shell<'a> {
    fn new(word: &str, lookup: &'a dyn Fn(&str) -> Option<String>, escape: char) -> Self {
        Shell {
            chars: word.chars().collect(),
            pos: 0,
            lookup,
            escape,
            keep_quotes: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Processes up to `stop` (consumed) or the end. `raw_escapes` keeps escape characters
    /// (for patterns, where they still mean "literal").
    fn process(
        &mut self,
        stop: Option<&[char]>,
        raw_escapes: bool,
    ) -> Result<(String, Words), SubstError> {
        let mut out = String::new();
        let mut words = Words::default();
        loop {
            let Some(c) = self.peek() else {
                if let Some(s) = stop {
                    return Err(SubstError::Syntax(format!(
                        "unexpected end of statement while looking for matching {}",
                        s[0]
                    )));
                }
                break;
            };
            if stop.is_some_and(|s| s.contains(&c)) {
                break;
            }
            match c {
                '\'' if !self.keep_quotes => {
                    let s = self.single_quote()?;
                    out.push_str(&s);
                    words.add_raw_string(&s);
                }
                '"' if !self.keep_quotes => {
                    let s = self.double_quote()?;
                    out.push_str(&s);
                    words.add_raw_string(&s);
                }
                '$' => {
                    let v = self.dollar()?;
                    out.push_str(&v);
                    words.add_string(&v);
                }
                c if c == self.escape => {
                    self.next();
                    let Some(n) = self.next() else { continue };
                    if raw_escapes {
                        out.push(c);
                    }
                    out.push(n);
                    words.add_raw_char(n);
                }
                c => {
                    self.next();
                    out.push(c);
                    words.add_char(c);
                }
            }
        }
        Ok((out, words))
    }

    fn single_quote(&mut self) -> Result<String, SubstError> {
        self.next();
        let mut s = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(SubstError::Syntax(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    ));
                }
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, SubstError> {
        self.next();
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(SubstError::Syntax(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    ));
                }
                Some('"') => {
                    self.next();
                    return Ok(s);
                }
                Some('$') => s.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.next();
                                s.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    s.push(c);
                }
            }
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    fn dollar(&mut self) -> Result<String, SubstError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.get(&name).unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return Err(missing_brace()),
            Some('{' | '}' | ':') => {
                return Err(SubstError::Syntax("syntax error: bad substitution".into()));
            }
            _ => {}
        }
        let name = self.name();
        let Some(mut op) = self.next() else {
            return Err(missing_brace());
        };
        let mut modifier = op.to_string();
        let mut null_is_unset = false;
        if op == '}' {
            return Ok(self.get(&name).unwrap_or_default());
        }
        if op == ':' {
            null_is_unset = true;
            op = self.next().ok_or_else(missing_brace)?;
            modifier.push(op);
        }
        match op {
            '+' | '-' | '?' => {
                let word = self.word_to_brace(false)?;
                let value = self.get(&name);
                let unset = match &value {
                    None => true,
                    Some(v) => null_is_unset && v.is_empty(),
                };
                match op {
                    '-' => Ok(if unset {
                        word
                    } else {
                        value.unwrap_or_default()
                    }),
                    '+' => Ok(if unset { String::new() } else { word }),
                    _ => {
                        if unset {
                            let message = if !word.is_empty() {
                                word
                            } else if value.is_none() {
                                "is not allowed to be unset".into()
                            } else {
                                "is not allowed to be empty".into()
                            };
                            Err(SubstError::Required { name, message })
                        } else {
                            Ok(value.unwrap_or_default())
                        }
                    }
                }
            }
            '#' | '%' if !null_is_unset => {
                let longest = self.peek() == Some(op);
                if longest {
                    self.next();
                }
                let pattern = self.word_to_brace(true)?;
                let value = self.get(&name).unwrap_or_default();
                let glob =
                    Glob::new(&pattern, None).map_err(|e| SubstError::Syntax(e.to_string()))?;
                Ok(trim_pattern(&value, &glob, op == '#', longest))
            }
            '/' if !null_is_unset => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let (pattern, _) = self.process(Some(&['/', '}']), true)?;
                // BuildKit keeps escapes in the replacement too (`${v//\//\/}` is `\/...`).
                let repl = if self.next() == Some('/') {
                    self.word_to_brace(true)?
                } else {
                    String::new()
                };
                let value = self.get(&name).unwrap_or_default();
                let glob =
                    Glob::new(&pattern, None).map_err(|e| SubstError::Syntax(e.to_string()))?;
                Ok(replace(&value, &glob, &repl, all))
            }
            _ => Err(SubstError::Syntax(format!(
                "unsupported modifier ({modifier}) in substitution"
            ))),
        }
    }

    /// The word of a `${VAR<op>word}` up to its `}` (consumed).
    fn word_to_brace(&mut self, raw_escapes: bool) -> Result<String, SubstError> {
        let (w, _) = self
            .process(Some(&['}']), raw_escapes)
            .map_err(|e| match self.peek() {
                None => missing_brace(),
                _ => e,
            })?;
        self.next();
        Ok(w)
    }

    /// A variable name: letters, digits, `_`; or a run of digits; or one special character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            self.next();
            name.push(c);
        }
        name
    }
}

fn missing_brace() -> SubstError {
    SubstError::Syntax("syntax error: missing '}'".into())
}

/// `${v#p}`, `${v##p}` (prefix) and `${v%p}`, `${v%%p}` (suffix).
fn trim_pattern(value: &str, glob: &Glob, prefix: bool, longest: bool) -> String {
    let mut cuts: Vec<usize> = value.char_indices().map(|(i, _)| i).collect();
    cuts.push(value.len());
    if prefix {
        let ok = glob.matching_prefixes(value);
        let cut = if longest { ok.last() } else { ok.first() };
        cut.map_or(value.to_string(), |c| value[*c..].to_string())
    } else {
        let mut ok: Vec<usize> = cuts
            .into_iter()
            .filter(|c| glob.matches(&value[*c..]))
            .collect();
        if !longest {
            ok.reverse();
        }
        ok.first()
            .map_or(value.to_string(), |c| value[..*c].to_string())
    }
}

/// `${v/p/r}` (first, longest match) and `${v//p/r}` (every match).
fn replace(value: &str, glob: &Glob, repl: &str, all: bool) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < value.len() {
        let ends = glob.matching_prefixes(&value[i..]);
        match ends.last() {
            Some(&len) if len > 0 => {
                out.push_str(repl);
                i += len;
                if !all {
                    out.push_str(&value[i..]);
                    return out;
                }
            }
            _ => {
                let c = value[i..].chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "subst_tests.rs"]
mod tests;
