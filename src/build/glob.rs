//! Glob patterns: the shell's as Docker's lexer has them (`*`, `?`, `\` escapes) for `${VAR%pattern}`, and
//! with a separator and `**` for `.dockerignore`, as moby's patternmatcher compiles them.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character (not the separator).
    One,
    /// `*`: any run of characters without the separator.
    Star,
    /// `**` followed by more pattern: zero or more whole leading directories (`(.*/)?`).
    DeepDirs,
    /// `**` at the end: anything.
    DeepAll,
    /// `[...]`: ranges, negated with `^` (Docker compiles these to regular expressions, where
    /// `[!a]` is `!` or `a`).
    Class {
        neg: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    toks: Vec<Tok>,
    sep: Option<char>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad pattern {0:?}: unterminated [ class")]
pub struct BadPattern(pub String);

impl Glob {
    /// Compiles `pattern`. With `sep`, `*` and `?` stop at it and `**` spans directories.
    pub fn new(pattern: &str, sep: Option<char>) -> Result<Glob, BadPattern> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if sep.is_some() && chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i).copied() == sep {
                        i += 1;
                    }
                    toks.push(if i >= chars.len() {
                        Tok::DeepAll
                    } else {
                        Tok::DeepDirs
                    });
                }
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::One),
                '\\' => match chars.get(i) {
                    Some(&n) => {
                        toks.push(Tok::Lit(n));
                        i += 1;
                    }
                    None => toks.push(Tok::Lit('\\')),
                },
                // Shell patterns in Docker's lexer have no classes: `[` is literal there.
                '[' if sep.is_some() => {
                    let mut neg = false;
                    if chars.get(i) == Some(&'^') {
                        neg = true;
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    let mut first = true;
                    while i < chars.len() {
                        let mut lo = chars[i];
                        i += 1;
                        if lo == ']' && !first {
                            closed = true;
                            break;
                        }
                        first = false;
                        if lo == '\\' && i < chars.len() {
                            lo = chars[i];
                            i += 1;
                        }
                        let mut hi = lo;
                        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']')
                        {
                            hi = chars[i + 1];
                            i += 2;
                            if hi == '\\' && i < chars.len() {
                                hi = chars[i];
                                i += 1;
                            }
                        }
                        ranges.push((lo, hi));
                    }
                    if !closed {
                        return Err(BadPattern(pattern.to_string()));
                    }
                    toks.push(Tok::Class { neg, ranges });
                }
                c => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Glob { toks, sep })
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        self.at(0, &chars, 0)
    }

    /// Byte lengths of the prefixes of `text` that match, shortest first.
    pub fn matching_prefixes(&self, text: &str) -> Vec<usize> {
        let mut ends: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        ends.push(text.len());
        ends.into_iter()
            .filter(|e| self.matches(&text[..*e]))
            .collect()
    }

    fn at(&self, t: usize, s: &[char], i: usize) -> bool {
        let Some(tok) = self.toks.get(t) else {
            return i == s.len();
        };
        let not_sep = |c: char| Some(c) != self.sep;
        match tok {
            Tok::Lit(c) => s.get(i) == Some(c) && self.at(t + 1, s, i + 1),
            Tok::One => s.get(i).is_some_and(|c| not_sep(*c)) && self.at(t + 1, s, i + 1),
            Tok::Class { neg, ranges } => {
                s.get(i).is_some_and(|c| {
                    let inside = ranges.iter().any(|(lo, hi)| lo <= c && c <= hi);
                    inside != *neg && not_sep(*c)
                }) && self.at(t + 1, s, i + 1)
            }
            Tok::Star => {
                let mut j = i;
                loop {
                    if self.at(t + 1, s, j) {
                        return true;
                    }
                    if j >= s.len() || !not_sep(s[j]) {
                        return false;
                    }
                    j += 1;
                }
            }
            Tok::DeepAll => true,
            Tok::DeepDirs => {
                // Zero directories, or any prefix that ends with the separator.
                if self.at(t + 1, s, i) {
                    return true;
                }
                (i..s.len()).any(|j| Some(s[j]) == self.sep && self.at(t + 1, s, j + 1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p, Some('/')).unwrap().matches(s)
    }

    #[test]
    fn path_globs() {
        assert!(m("*.go", "a.go"));
        assert!(!m("*.go", "d/a.go"));
        assert!(m("d/*", "d/a"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "a/c"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m("\\*", "*"));
        assert!(m("**/*.go", "a.go"));
        assert!(m("**/*.go", "x/y/a.go"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "ab"));
        assert!(m("a/**", "a/x/y"));
        assert!(m("**", "anything/at/all"));
        assert!(Glob::new("[ab", Some('/')).is_err());
    }

    #[test]
    fn shell_globs() {
        let g = Glob::new("*.", None).unwrap();
        assert_eq!(g.matching_prefixes("a.b.c"), vec![2, 4]);
        assert!(Glob::new("*", None).unwrap().matches("x/y"));
    }
}
