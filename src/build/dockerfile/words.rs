//! Splitting an instruction's arguments into words as Docker's parser does, before any
//! expansion: whitespace separates words outside quotes, and quotes and escapes stay in the
//! words (expansion removes them later).

/// A word and the byte offset it starts at in the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub at: usize,
}

/// Docker's `parseWords`: split on unquoted whitespace, keeping quotes and escapes.
/// An escape at the very end of the text is dropped.
pub fn split(rest: &str, escape: char) -> Vec<Word> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = rest.char_indices().peekable();
    while let Some((pos, ch)) = chars.next() {
        if !in_word {
            if ch.is_whitespace() {
                continue;
            }
            in_word = true;
            start = pos;
        }
        match quote {
            None => {
                if ch.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(Word {
                            text: std::mem::take(&mut word),
                            at: start,
                        });
                    }
                    in_word = false;
                    blank_ok = false;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    match chars.next() {
                        None => continue,
                        Some((_, next)) => {
                            word.push(ch);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    match chars.next() {
                        None => {
                            quote = None;
                            continue;
                        }
                        Some((_, next)) => {
                            word.push(ch);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(Word {
            text: word,
            at: start,
        });
    }
    words
}

/// Whitespace-separated words (`strings.Fields`), with their offsets.
pub fn fields(rest: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, ch) in rest.char_indices() {
        match (ch.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(Word {
                    text: rest[s..i].to_string(),
                    at: s,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Word {
            text: rest[s..].to_string(),
            at: s,
        });
    }
    out
}

/// What a `[`-prefixed argument turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Json {
    /// A JSON array of strings: the exec form.
    Array(Vec<String>),
    /// Not JSON: the shell form, as Docker falls back to.
    Shell,
    /// Looks like an attempt at the JSON form that is not valid JSON (e.g. single quotes):
    /// reported, because the shell form would run something else than meant.
    Broken(String),
}

/// Docker's `parseMaybeJSON` test: an argument starting with `[` that parses as a JSON array
/// of strings is the exec form; anything else is the shell form. `Broken` marks a text
/// that clearly meant JSON (`[` ... `]` with quoted, comma-separated items) but is not.
pub fn json_form(rest: &str) -> Json {
    let t = rest.trim();
    if !t.starts_with('[') {
        return Json::Shell;
    }
    match serde_json::from_str::<serde_json::Value>(t) {
        Ok(serde_json::Value::Array(items)) => {
            let strings: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            match strings {
                Some(s) => Json::Array(s),
                None if items.is_empty() => Json::Array(Vec::new()),
                None => Json::Broken("every item of the JSON form must be a string".into()),
            }
        }
        Ok(_) => Json::Shell,
        Err(e) => {
            let inner = t[1..].trim_end();
            let meant = inner.ends_with(']') && {
                let body = inner[..inner.len() - 1].trim();
                (body.starts_with('"') || body.starts_with('\''))
                    && (body.ends_with('"') || body.ends_with('\''))
                    && body.contains(',')
            };
            if meant {
                Json::Broken(e.to_string())
            } else {
                Json::Shell
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: Vec<Word>) -> Vec<String> {
        v.into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn split_keeps_quotes_and_escapes() {
        assert_eq!(
            texts(split(r#"a="b c" d\ e 'f g'  h"#, '\\')),
            vec![r#"a="b c""#, r"d\ e", "'f g'", "h"]
        );
        assert_eq!(texts(split(r#"x="a\"b""#, '\\')), vec![r#"x="a\"b""#]);
        assert_eq!(texts(split("''", '\\')), vec!["''"]);
        assert_eq!(texts(split("a\\", '\\')), vec!["a"]);
        assert_eq!(texts(split("a` b", '`')), vec!["a` b"]);
    }

    #[test]
    fn offsets() {
        let w = split("  ab  cd", '\\');
        assert_eq!((w[0].at, w[1].at), (2, 6));
        let f = fields(" x\ty ");
        assert_eq!(texts(f), vec!["x", "y"]);
    }

    #[test]
    fn json_detection() {
        assert_eq!(
            json_form(r#"["a", "b"]"#),
            Json::Array(vec!["a".into(), "b".into()])
        );
        assert_eq!(json_form("echo [x]"), Json::Shell);
        assert_eq!(json_form(r#"[ -f "/x" ]"#), Json::Shell);
        assert_eq!(json_form("[ \"$a\" = \"b\" ]"), Json::Shell);
        assert!(matches!(json_form("['a', 'b']"), Json::Broken(_)));
        assert!(matches!(json_form(r#"["a", 1]"#), Json::Broken(_)));
        assert_eq!(json_form("[]"), Json::Array(vec![]));
    }
}
