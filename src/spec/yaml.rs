//! YAML text -> a spanned tree (`Node`).
//!
//! Built on `saphyr-parser` events rather than serde so that every value keeps the place it was
//! written (file, line, column) through interpolation and multi-file merging. Aliases are expanded,
//! `<<` merge keys applied (explicit keys win, earlier merge sources win over later ones), and plain
//! scalars resolved with the YAML 1.2 core schema (`yes`/`on` stay strings).

use saphyr_parser::{Event, Parser, ScalarStyle, Tag as PTag};
use std::collections::{HashMap, HashSet};

/// Where a node was written. `line` and `col` are 1-based; `len` is its length in characters on
/// the first line (0 for collections, which are underlined with one caret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub file: u32,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// Compose's merge-control tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `!reset`: remove the value inherited from earlier files.
    Reset,
    /// `!override`: replace instead of merging.
    Override,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
    pub tag: Option<Tag>,
}

/// A YAML syntax (or structure) problem at a position.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub message: String,
    pub span: Span,
}

/// Bounds on the tree a document may expand to through aliases (billion-laughs guard).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Nodes, aliases expanded.
    pub nodes: usize,
    /// Bytes, aliases expanded: every scalar's text plus `NODE_BYTES` per node. A count of
    /// nodes alone lets a few aliases of 4 KB strings grow to gigabytes.
    pub bytes: usize,
}

/// The bounds every stack file is parsed with. A large real stack file is well under a
/// megabyte, expanded.
pub const LIMITS: Limits = Limits {
    nodes: 2_000_000,
    bytes: 64 << 20,
};

/// What one node costs besides its text (the size of a `Node` and its slot in a parent).
pub const NODE_BYTES: usize = std::mem::size_of::<Node>();
/// Nesting deeper than this is refused: later passes recurse over the tree.
const MAX_DEPTH: usize = 200;

impl Node {
    pub fn new(kind: Kind, span: Span) -> Self {
        Node {
            kind,
            span,
            tag: None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// Text of a scalar as Compose would stringify it (`None` for collections).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Null => Some(String::new()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(format_float(*f)),
            Kind::Str(s) => Some(s.clone()),
            Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// Looks up `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Short name of the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// (nodes, bytes) of the tree, as `Limits` counts them.
    fn count(&self) -> (usize, usize) {
        let add = |(n, b): (usize, usize), (n2, b2): (usize, usize)| (n + n2, b + b2);
        match &self.kind {
            Kind::Seq(s) => s.iter().map(Node::count).fold((1, NODE_BYTES), add),
            Kind::Map(m) => m
                .iter()
                .map(|(k, v)| add(k.count(), v.count()))
                .fold((1, NODE_BYTES), add),
            Kind::Str(s) => (1, NODE_BYTES + s.len()),
            _ => (1, NODE_BYTES),
        }
    }
}

/// Formats a float the way Go's `strconv.FormatFloat(f, 'f', -1, 64)` would for common values.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+.inf".into()
        } else {
            "-.inf".into()
        }
    } else {
        f.to_string()
    }
}

enum Frame {
    Seq {
        span: Span,
        anchor: usize,
        tag: Option<Tag>,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        anchor: usize,
        tag: Option<Tag>,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

fn span_of(file: u32, s: &saphyr_parser::Span) -> Span {
    let line = u32::try_from(s.start.line()).unwrap_or(u32::MAX);
    let col = u32::try_from(s.start.col() + 1).unwrap_or(u32::MAX);
    let len = s.end.index().saturating_sub(s.start.index());
    Span {
        file,
        line,
        col,
        len: u32::try_from(len).unwrap_or(u32::MAX),
    }
}

fn merge_tag(t: Option<&PTag>) -> Option<Tag> {
    let t = t?;
    if t.handle == "!" {
        match t.suffix.as_str() {
            "reset" => Some(Tag::Reset),
            "override" => Some(Tag::Override),
            _ => None,
        }
    } else {
        None
    }
}

/// Parses the first document of `text`. An empty document gives a `Null` root.
pub fn parse(text: &str, file: u32) -> Result<Node, YamlError> {
    parse_limited(text, file, LIMITS)
}

/// `parse` within `limits`.
pub fn parse_limited(text: &str, file: u32, limits: Limits) -> Result<Node, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, (usize, usize))> = HashMap::new();
    let mut total = 0usize;
    let mut bytes = 0usize;
    let too_big = |what: &str| {
        format!(
            "document too large after expanding aliases: {what} (at most {} nodes and {} MiB; \
             anchors and aliases may repeat only that much)",
            limits.nodes,
            limits.bytes >> 20
        )
    };
    let mut root: Option<Node> = None;
    let mut docs = 0;
    let err = |message: String, span: Span| YamlError { message, span };

    while let Some(ev) = parser.next_event() {
        let (ev, pspan) = ev.map_err(|e| {
            let m = e.marker();
            err(
                format!("invalid YAML: {}", e.info()),
                Span {
                    file,
                    line: u32::try_from(m.line()).unwrap_or(u32::MAX),
                    col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                    len: 1,
                },
            )
        })?;
        let span = span_of(file, &pspan);
        let done: Option<(Node, usize)> = match ev {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    return Err(err(
                        "multiple YAML documents in one stack file are not supported".into(),
                        span,
                    ));
                }
                None
            }
            Event::Alias(id) => {
                let (node, (n, b)) = anchors
                    .get(&id)
                    .ok_or_else(|| err("alias to an unknown anchor".into(), span))?;
                total += n;
                bytes += b;
                // Checked before the copy: the copy is what would take the memory.
                if total > limits.nodes {
                    return Err(err(too_big("this alias goes past the node limit"), span));
                }
                if bytes > limits.bytes {
                    return Err(err(too_big("this alias goes past the size limit"), span));
                }
                Some((node.clone(), 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                total += 1;
                bytes += NODE_BYTES + value.len();
                let mut node =
                    Node::new(resolve_scalar(&value, style, tag.as_deref(), span)?, span);
                node.tag = merge_tag(tag.as_deref());
                Some((node, anchor))
            }
            Event::SequenceStart(anchor, tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err("nesting too deep".into(), span));
                }
                stack.push(Frame::Seq {
                    span: Span { len: 0, ..span },
                    anchor,
                    tag: merge_tag(tag.as_deref()),
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err("nesting too deep".into(), span));
                }
                stack.push(Frame::Map {
                    span: Span { len: 0, ..span },
                    anchor,
                    tag: merge_tag(tag.as_deref()),
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    span,
                    anchor,
                    tag,
                    items,
                }) => {
                    total += 1;
                    bytes += NODE_BYTES;
                    Some((
                        Node {
                            kind: Kind::Seq(items),
                            span,
                            tag,
                        },
                        anchor,
                    ))
                }
                _ => return Err(err("unbalanced sequence".into(), span)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    span,
                    anchor,
                    tag,
                    entries,
                    ..
                }) => {
                    total += 1;
                    bytes += NODE_BYTES;
                    let entries = apply_merges(entries)?;
                    Some((
                        Node {
                            kind: Kind::Map(entries),
                            span,
                            tag,
                        },
                        anchor,
                    ))
                }
                _ => return Err(err("unbalanced mapping".into(), span)),
            },
        };
        if total > limits.nodes || bytes > limits.bytes {
            return Err(err("document too large".into(), span));
        }
        let Some((node, anchor)) = done else { continue };
        if anchor != 0 {
            let n = node.count();
            anchors.insert(anchor, (node.clone(), n));
        }
        match stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
        }
    }
    Ok(root.unwrap_or_else(|| {
        Node::new(
            Kind::Null,
            Span {
                file,
                line: 1,
                col: 1,
                len: 0,
            },
        )
    }))
}

/// Key identity for duplicate detection and merging: scalars by their text.
pub fn key_text(k: &Node) -> Option<String> {
    k.scalar_text()
}

fn apply_merges(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, YamlError> {
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    let mut seen: HashSet<String> = HashSet::new();
    let mut sources: Vec<Node> = Vec::new();
    for (k, v) in entries {
        if k.as_str() == Some("<<") && k.span.len == 2 {
            sources.push(v);
            continue;
        }
        let Some(text) = key_text(&k) else {
            return Err(YamlError {
                message: "complex mapping keys are not supported".into(),
                span: k.span,
            });
        };
        if !seen.insert(text.clone()) {
            return Err(YamlError {
                message: format!("duplicate key \"{text}\" in mapping"),
                span: k.span,
            });
        }
        out.push((k, v));
    }
    for src in sources {
        let maps: Vec<Node> = match src.kind {
            Kind::Map(_) => vec![src],
            Kind::Seq(items) => items,
            _ => {
                return Err(YamlError {
                    message: "merge key << expects a mapping or a list of mappings".into(),
                    span: src.span,
                });
            }
        };
        for m in maps {
            let span = m.span;
            let Kind::Map(es) = m.kind else {
                return Err(YamlError {
                    message: "merge key << expects a mapping or a list of mappings".into(),
                    span,
                });
            };
            for (k, v) in es {
                if let Some(t) = key_text(&k)
                    && seen.insert(t)
                {
                    out.push((k, v));
                }
            }
        }
    }
    Ok(out)
}

fn resolve_scalar(
    value: &str,
    style: ScalarStyle,
    tag: Option<&PTag>,
    span: Span,
) -> Result<Kind, YamlError> {
    if let Some(t) = tag
        && t.is_yaml_core_schema()
    {
        let bad = |what: &str| YamlError {
            message: format!("invalid !!{what} value \"{value}\""),
            span,
        };
        return match t.suffix.as_str() {
            "str" => Ok(Kind::Str(value.to_string())),
            "null" => Ok(Kind::Null),
            "bool" => match plain_scalar(value) {
                Kind::Bool(b) => Ok(Kind::Bool(b)),
                _ => Err(bad("bool")),
            },
            "int" => match plain_scalar(value) {
                Kind::Int(i) => Ok(Kind::Int(i)),
                _ => Err(bad("int")),
            },
            "float" => match plain_scalar(value) {
                Kind::Int(i) => Ok(Kind::Float(i as f64)),
                Kind::Float(f) => Ok(Kind::Float(f)),
                _ => Err(bad("float")),
            },
            _ => Ok(plain_scalar(value)),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Kind::Str(value.to_string()));
    }
    Ok(plain_scalar(value))
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn plain_scalar(v: &str) -> Kind {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" => return Kind::Bool(true),
        "false" | "False" | "FALSE" => return Kind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Kind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Kind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Kind::Float(f64::NAN),
        _ => {}
    }
    if let Some(o) = v.strip_prefix("0o")
        && !o.is_empty()
        && o.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return i64::from_str_radix(o, 8).map_or_else(|_| Kind::Str(v.into()), Kind::Int);
    }
    if let Some(h) = v.strip_prefix("0x")
        && !h.is_empty()
        && h.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return i64::from_str_radix(h, 16).map_or_else(|_| Kind::Str(v.into()), Kind::Int);
    }
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match v.parse::<i64>() {
            Ok(i) => Kind::Int(i),
            Err(_) => v
                .parse::<f64>()
                .map_or_else(|_| Kind::Str(v.into()), Kind::Float),
        };
    }
    if is_core_float(digits)
        && let Ok(f) = v.parse::<f64>()
    {
        return Kind::Float(f);
    }
    Kind::Str(v.to_string())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (sign already stripped).
fn is_core_float(s: &str) -> bool {
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some((a, b)) => {
            a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
                && !(a.is_empty() && b.is_empty())
        }
        None => !mant.is_empty() && mant.bytes().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
        }
    };
    mant_ok && exp_ok
}
