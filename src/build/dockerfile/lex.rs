//! Physical lines to logical lines, as BuildKit's parser reads a Dockerfile: parser
//! directives at the top, comment lines, line continuations with the escape character,
//! empty continuation lines, and here-document bodies after the line that names them.

use super::Heredoc;
use super::words;

/// `# escape=` and `# syntax=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
}

/// A stretch of a logical line that came from one physical line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    /// Byte offset in the logical text.
    offset: usize,
    /// 1-based physical line.
    line: usize,
    /// 1-based column (in characters) of the segment's start in its physical line.
    col: usize,
}

/// One instruction's text, continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logical {
    pub text: String,
    pub line: usize,
    pub end_line: usize,
    segments: Vec<Segment>,
    pub heredocs: Vec<Heredoc>,
}

impl Logical {
    /// The physical line and column of byte `offset` of `text`.
    pub fn pos(&self, offset: usize) -> (usize, usize) {
        let seg = self
            .segments
            .iter()
            .rev()
            .find(|s| s.offset <= offset)
            .copied()
            .unwrap_or(Segment {
                offset: 0,
                line: self.line,
                col: 1,
            });
        let within = self.text.get(seg.offset..offset.min(self.text.len()));
        (seg.line, seg.col + within.map_or(0, |s| s.chars().count()))
    }
}

/// A problem the lexer found: where, what, and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexProblem {
    pub line: usize,
    pub col: usize,
    pub width: usize,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Default)]
pub struct Lexed {
    pub directives: Option<Directives>,
    pub lines: Vec<Logical>,
    pub errors: Vec<LexProblem>,
    pub warnings: Vec<LexProblem>,
}

/// Splits `text` into logical lines.
pub fn lex(text: &str) -> Lexed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let phys: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut out = Lexed::default();
    let (dirs, mut i) = directives(&phys, &mut out.errors);
    let escape = dirs.escape;
    out.directives = Some(dirs);

    while i < phys.len() {
        let raw = phys[i];
        i += 1;
        let start_line = i;
        let trimmed = raw.trim_start();
        if is_comment(trimmed) {
            continue;
        }
        let lead = raw.chars().count() - trimmed.chars().count();
        let (first, mut more) = trim_continuation(trimmed, escape);
        if !more && first.trim().is_empty() {
            continue;
        }
        let mut logical = Logical {
            text: first.to_string(),
            line: start_line,
            end_line: start_line,
            segments: vec![Segment {
                offset: 0,
                line: start_line,
                col: lead + 1,
            }],
            heredocs: Vec::new(),
        };
        let mut empty_continuation = None;
        while more && i < phys.len() {
            let raw = phys[i];
            i += 1;
            logical.end_line = i;
            if is_comment(raw.trim_start()) {
                continue;
            }
            if raw.trim_start().is_empty() {
                empty_continuation.get_or_insert(i);
                continue;
            }
            let (part, again) = trim_continuation(raw, escape);
            logical.segments.push(Segment {
                offset: logical.text.len(),
                line: i,
                col: 1,
            });
            logical.text.push_str(part);
            more = again;
        }
        if let Some(line) = empty_continuation {
            out.warnings.push(LexProblem {
                line,
                col: 1,
                width: 1,
                message: "empty continuation line".into(),
                hint: Some(
                    "an empty line inside a continued instruction is ignored today but will be an error in future Docker releases: remove it".into(),
                ),
            });
        }
        if may_have_heredocs(&logical.text) {
            for (name_at, doc) in heredoc_names(&logical, &mut out.errors) {
                let (found, body, next) = read_body(&phys, i, &doc);
                i = next;
                logical.end_line = i.max(logical.end_line);
                if !found {
                    let (line, col) = logical.pos(name_at);
                    out.errors.push(LexProblem {
                        line,
                        col,
                        width: doc.name.chars().count() + 2,
                        message: format!("unterminated here-document {}", doc.name),
                        hint: Some(format!(
                            "end it with a line that is exactly `{}`{}",
                            doc.name,
                            if doc.strip_tabs {
                                " (leading tabs allowed)"
                            } else {
                                ""
                            }
                        )),
                    });
                }
                logical.heredocs.push(Heredoc { body, ..doc });
            }
        }
        out.lines.push(logical);
    }
    out
}

fn is_comment(trimmed: &str) -> bool {
    trimmed.starts_with('#')
}

/// Removes a trailing escape (and blanks after it): `(text, continues)`.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(rest) => (rest, true),
        None => (line, false),
    }
}

/// Parser directives: `# key=value` lines at the very top; the first other line ends them.
fn directives(phys: &[&str], errors: &mut Vec<LexProblem>) -> (Directives, usize) {
    let mut d = Directives {
        escape: '\\',
        syntax: None,
    };
    let mut seen: Vec<String> = Vec::new();
    let mut i = 0;
    while i < phys.len() {
        let Some((key, value, value_col)) = directive(phys[i]) else {
            break;
        };
        let k = key.to_ascii_lowercase();
        if !matches!(k.as_str(), "escape" | "syntax" | "check") {
            break;
        }
        if seen.contains(&k) {
            errors.push(LexProblem {
                line: i + 1,
                col: 1,
                width: phys[i].chars().count(),
                message: format!("only one {k} parser directive can be used"),
                hint: Some("remove the repeated directive".into()),
            });
        }
        seen.push(k.clone());
        match k.as_str() {
            "escape" => match value {
                "\\" => d.escape = '\\',
                "`" => d.escape = '`',
                _ => errors.push(LexProblem {
                    line: i + 1,
                    col: value_col,
                    width: value.chars().count().max(1),
                    message: format!("invalid escape character {value:?}"),
                    hint: Some("the escape directive takes \\ or `".into()),
                }),
            },
            "syntax" => d.syntax = Some(value.to_string()),
            _ => {}
        }
        i += 1;
    }
    (d, i)
}

/// `#[ \t]*key[ \t]*=[ \t]*value`: key, value and the value's 1-based column.
fn directive(line: &str) -> Option<(&str, &str, usize)> {
    let rest = line.strip_prefix('#')?.trim_start_matches([' ', '\t']);
    let key_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let key = &rest[..key_len];
    if key.is_empty() || !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let after = rest[key_len..].trim_start_matches([' ', '\t']);
    let value = after
        .strip_prefix('=')?
        .trim_start_matches([' ', '\t'])
        .trim_end_matches([' ', '\t']);
    if value.is_empty() {
        return None;
    }
    let col = line
        .find(value)
        .map_or(1, |b| line[..b].chars().count() + 1);
    Some((key, value, col))
}

/// RUN, COPY and ADD (also as ONBUILD triggers) may name here-documents, unless in the
/// JSON form.
fn may_have_heredocs(text: &str) -> bool {
    if !text.contains("<<") {
        return false;
    }
    let mut rest = text.trim_start();
    let mut kw = first_word(rest);
    if kw.eq_ignore_ascii_case("onbuild") {
        rest = rest[kw.len()..].trim_start();
        kw = first_word(rest);
    }
    if !["run", "copy", "add"]
        .iter()
        .any(|k| kw.eq_ignore_ascii_case(k))
    {
        return false;
    }
    rest = rest[kw.len()..].trim_start();
    while rest.starts_with("--") {
        let w = first_word(rest);
        rest = rest[w.len()..].trim_start();
    }
    !matches!(words::json_form(rest), words::Json::Array(_))
}

fn first_word(s: &str) -> &str {
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    &s[..end]
}

/// The here-documents a line names (`[n]<<[-]NAME`, NAME optionally quoted), each with the
/// offset of its word; bodies are read afterwards, in this order.
fn heredoc_names(logical: &Logical, errors: &mut Vec<LexProblem>) -> Vec<(usize, Heredoc)> {
    let mut out = Vec::new();
    for w in words::split(&logical.text, '\\') {
        let t = w.text.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(rest) = t.strip_prefix("<<") else {
            continue;
        };
        let (strip_tabs, rest) = match rest.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        let doc = match rest.find(['\'', '"']) {
            None => Heredoc {
                name: rest.to_string(),
                body: String::new(),
                expand: true,
                strip_tabs,
            },
            Some(open) => {
                let q = rest.as_bytes()[open] as char;
                let close = rest.rfind(q).unwrap_or(open);
                if close == open {
                    let (line, col) = logical.pos(w.at);
                    errors.push(LexProblem {
                        line,
                        col,
                        width: w.text.chars().count(),
                        message: "the here-document name's quotes do not match".into(),
                        hint: Some("write <<\"EOF\" or <<'EOF'".into()),
                    });
                    continue;
                }
                let name = format!(
                    "{}{}{}",
                    &rest[..open],
                    &rest[open + 1..close],
                    &rest[close + 1..]
                );
                Heredoc {
                    name,
                    body: String::new(),
                    expand: false,
                    strip_tabs,
                }
            }
        };
        out.push((w.at, doc));
    }
    out
}

/// Reads a body from line index `i` on: `(terminated, body, next index)`.
fn read_body(phys: &[&str], mut i: usize, doc: &Heredoc) -> (bool, String, usize) {
    let mut body = String::new();
    while i < phys.len() {
        let line = phys[i];
        i += 1;
        let candidate = if doc.strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        if candidate == doc.name {
            return (true, body, i);
        }
        // The last physical line of a file without a final newline has none.
        body.push_str(candidate);
        if i < phys.len() {
            body.push('\n');
        }
    }
    (false, body, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(l: &Lexed) -> Vec<(&str, usize, usize)> {
        l.lines
            .iter()
            .map(|l| (l.text.as_str(), l.line, l.end_line))
            .collect()
    }

    #[test]
    fn continuations_comments_and_empty_lines() {
        let l = lex("FROM a\n\n# c\nRUN a \\\n  # inner comment\n\n  b \\  \n c\nCMD x\n");
        assert_eq!(
            texts(&l),
            vec![("FROM a", 1, 1), ("RUN a   b  c", 4, 8), ("CMD x", 9, 9)]
        );
        assert_eq!(l.warnings.len(), 1);
        assert_eq!(l.warnings[0].line, 6);
        assert!(l.errors.is_empty());
    }

    #[test]
    fn positions_map_back_to_physical_lines() {
        let l = lex("  RUN a \\\nbcd");
        let lg = &l.lines[0];
        assert_eq!(lg.text, "RUN a bcd");
        assert_eq!(lg.pos(0), (1, 3));
        assert_eq!(lg.pos(6), (2, 1));
        assert_eq!(lg.pos(8), (2, 3));
    }

    #[test]
    fn directives_at_the_top_only() {
        let l = lex("# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN a `\n b\n");
        let d = l.directives.clone().unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(l.lines[1].text, "RUN a  b");

        // After a comment, `# escape=` is a comment.
        let l = lex("# hello\n# escape=`\nFROM a\nRUN a \\\n b\n");
        assert_eq!(l.directives.unwrap().escape, '\\');
        assert_eq!(l.lines[1].text, "RUN a  b");

        // An unknown directive ends them.
        let l = lex("# foo=bar\n# escape=`\nFROM a");
        assert_eq!(l.directives.unwrap().escape, '\\');

        let l = lex("# escape=x\nFROM a");
        assert_eq!(l.errors[0].message, "invalid escape character \"x\"");
        let l = lex("# escape=\\\n# ESCAPE=`\nFROM a");
        assert_eq!(
            l.errors[0].message,
            "only one escape parser directive can be used"
        );
    }

    #[test]
    fn heredocs() {
        let l = lex("FROM a\nRUN <<EOF\necho $x\n  EOF\nEOF\nCMD y");
        assert_eq!(texts(&l)[1], ("RUN <<EOF", 2, 5));
        let d = &l.lines[1].heredocs[0];
        assert_eq!(d.name, "EOF");
        assert_eq!(d.body, "echo $x\n  EOF\n");
        assert!(d.expand && !d.strip_tabs);
        assert_eq!(l.lines[2].text, "CMD y");
    }

    #[test]
    fn heredoc_variants() {
        let l = lex("RUN <<-\"A\" cat - <<'B' >f\n\tone\n\t\ttwo\n\tA\nthree\nB\n");
        let docs = &l.lines[0].heredocs;
        assert_eq!(docs.len(), 2);
        assert_eq!(
            (docs[0].name.as_str(), docs[0].body.as_str()),
            ("A", "one\ntwo\n")
        );
        assert!(!docs[0].expand && docs[0].strip_tabs);
        assert_eq!(
            (docs[1].name.as_str(), docs[1].body.as_str()),
            ("B", "three\n")
        );
        assert!(!docs[1].expand && !docs[1].strip_tabs);
        // JSON form and other instructions have none; `cat<<X` is no heredoc word.
        assert!(
            lex("RUN [\"a\", \"<<EOF\"]\nX").lines[0]
                .heredocs
                .is_empty()
        );
        assert!(lex("ENV a=<<EOF\nX").lines[0].heredocs.is_empty());
        assert!(lex("RUN cat<<EOF\nX").lines[0].heredocs.is_empty());
        // COPY with flags, and ONBUILD.
        let l = lex("COPY --chmod=755 <<EOF /x\nhi\nEOF");
        assert_eq!(l.lines[0].heredocs[0].body, "hi\n");
        let l = lex("ONBUILD RUN <<EOF\nhi\nEOF");
        assert_eq!(l.lines[0].heredocs[0].body, "hi\n");
        // A body reaching the end of a file without a final newline.
        let l = lex("RUN <<EOF\nhi\nEOF");
        assert_eq!(l.lines[0].heredocs[0].body, "hi\n");
    }

    #[test]
    fn unterminated_heredoc() {
        let l = lex("FROM a\nRUN cat <<EOF\nhi\n");
        assert_eq!(l.errors.len(), 1);
        assert_eq!(l.errors[0].message, "unterminated here-document EOF");
        assert_eq!((l.errors[0].line, l.errors[0].col), (2, 9));
    }

    #[test]
    fn bom_and_crlf() {
        let l = lex("\u{feff}FROM a\r\nRUN b \\\r\n c\r\n");
        assert_eq!(texts(&l), vec![("FROM a", 1, 1), ("RUN b  c", 2, 3)]);
    }
}
