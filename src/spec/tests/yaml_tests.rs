//! YAML layer: core-schema scalars, anchors, merge keys, tags, positions of syntax errors.

use super::super::yaml::{Kind, Node, Tag, parse, plain_scalar};

fn root(text: &str) -> Node {
    match parse(text, 0) {
        Ok(n) => n,
        Err(e) => panic!("parse failed: {e:?}"),
    }
}

#[test]
fn core_schema_scalars() {
    let cases: &[(&str, Kind)] = &[
        ("", Kind::Null),
        ("~", Kind::Null),
        ("null", Kind::Null),
        ("NULL", Kind::Null),
        ("true", Kind::Bool(true)),
        ("False", Kind::Bool(false)),
        ("yes", Kind::Str("yes".into())),
        ("on", Kind::Str("on".into())),
        ("no", Kind::Str("no".into())),
        ("42", Kind::Int(42)),
        ("-7", Kind::Int(-7)),
        ("+3", Kind::Int(3)),
        ("0o17", Kind::Int(15)),
        ("0x1F", Kind::Int(31)),
        ("1.5", Kind::Float(1.5)),
        (".5", Kind::Float(0.5)),
        ("1e3", Kind::Float(1000.0)),
        ("-.inf", Kind::Float(f64::NEG_INFINITY)),
        ("512m", Kind::Str("512m".into())),
        ("1m30s", Kind::Str("1m30s".into())),
        ("0.0.0.0", Kind::Str("0.0.0.0".into())),
        ("8080:80", Kind::Str("8080:80".into())),
        ("0o", Kind::Str("0o".into())),
    ];
    for (text, want) in cases {
        assert_eq!(&plain_scalar(text), want, "{text:?}");
    }
}

#[test]
fn quoted_and_tagged_scalars_are_strings() {
    let n = root("a: \"1\"\nb: '~'\nc: !!str 12\nd: !!int \"7\"\ne: \"yes\"\n");
    assert_eq!(n.get("a").map(|v| &v.kind), Some(&Kind::Str("1".into())));
    assert_eq!(n.get("b").map(|v| &v.kind), Some(&Kind::Str("~".into())));
    assert_eq!(n.get("c").map(|v| &v.kind), Some(&Kind::Str("12".into())));
    assert_eq!(n.get("d").map(|v| &v.kind), Some(&Kind::Int(7)));
    assert_eq!(n.get("e").map(|v| &v.kind), Some(&Kind::Str("yes".into())));
    let bad = parse("a: !!int abc\n", 0).expect_err("!!int abc must fail");
    assert_eq!((bad.span.line, bad.span.col), (1, 4));
}

#[test]
fn positions_are_one_based() {
    let n = root("services:\n  api:\n    mem_limit: 12x\n");
    let v = n
        .get("services")
        .and_then(|s| s.get("api"))
        .and_then(|s| s.get("mem_limit"))
        .expect("mem_limit");
    assert_eq!((v.span.line, v.span.col, v.span.len), (3, 16, 3));
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let text = "\
x-base: &base
  image: busybox
  restart: always
x-env: &env
  environment: {A: '1'}
a:
  <<: *base
  restart: 'no'
b:
  <<: [*env, *base]
c: *base
";
    let n = root(text);
    let a = n.get("a").expect("a");
    assert_eq!(a.get("image").and_then(Node::as_str), Some("busybox"));
    // Explicit keys win over merged ones.
    assert_eq!(a.get("restart").and_then(Node::as_str), Some("no"));
    let b = n.get("b").expect("b");
    assert_eq!(b.get("image").and_then(Node::as_str), Some("busybox"));
    assert!(b.get("environment").is_some());
    let c = n.get("c").expect("c");
    // Aliased nodes keep the anchor's position (the text that produced them).
    assert_eq!(c.get("image").map(|v| v.span.line), Some(2));
}

#[test]
fn merge_sources_in_order_earlier_wins() {
    let n = root("x: &x {k: 1}\ny: &y {k: 2, j: 3}\nz:\n  <<: [*x, *y]\n");
    let z = n.get("z").expect("z");
    assert_eq!(z.get("k").map(|v| &v.kind), Some(&Kind::Int(1)));
    assert_eq!(z.get("j").map(|v| &v.kind), Some(&Kind::Int(3)));
}

#[test]
fn reset_and_override_tags_are_kept() {
    let n = root("a: !reset []\nb: !override {x: 1}\nc: !custom 5\n");
    assert_eq!(n.get("a").and_then(|v| v.tag), Some(Tag::Reset));
    assert_eq!(n.get("b").and_then(|v| v.tag), Some(Tag::Override));
    assert_eq!(n.get("c").and_then(|v| v.tag), None);
    assert_eq!(n.get("c").map(|v| &v.kind), Some(&Kind::Int(5)));
}

#[test]
fn structural_errors_have_positions() {
    let cases: &[(&str, &str, u32, u32)] = &[
        ("a: 1\na: 2\n", "duplicate key", 2, 1),
        ("a: [1, 2\n", "invalid YAML", 2, 1),
        ("a:\n  b: c\n d: e\n", "invalid YAML", 3, 2),
        ("a: *nope\n", "invalid YAML", 1, 4),
        ("x: 1\n<<: 5\n", "merge key", 2, 5),
        ("a: 1\n---\nb: 2\n", "multiple YAML documents", 2, 1),
        ("a: \"unterminated\n", "invalid YAML", 1, 4),
    ];
    for (text, want, line, col) in cases {
        let e = parse(text, 0).expect_err(text);
        assert!(e.message.contains(want), "{text:?}: {}", e.message);
        assert_eq!(
            (e.span.line, e.span.col),
            (*line, *col),
            "{text:?}: {}",
            e.message
        );
    }
}

#[test]
fn alias_bomb_is_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let e = parse(&text, 0).expect_err("bomb");
    assert!(e.message.contains("too large"), "{}", e.message);
}

#[test]
fn deep_nesting_is_refused() {
    let text = "[".repeat(500) + &"]".repeat(500);
    let e = parse(&text, 0).expect_err("deep");
    assert!(
        e.message.contains("too deep") || e.message.contains("recursion limit"),
        "{}",
        e.message
    );
}

#[test]
fn empty_document_is_null() {
    assert!(root("").is_null());
    assert!(root("# only a comment\n").is_null());
}

/// Nested anchors over a 4 KB string: a few KB of text that expand to gigabytes.
fn string_bomb(levels: usize) -> String {
    let mut text = format!("x-s0: &s0 \"{}\"\n", "A".repeat(4096));
    for i in 1..=levels {
        let p = i - 1;
        let items = vec![format!("*s{p}"); 10].join(", ");
        text.push_str(&format!("x-s{i}: &s{i} [{items}]\n"));
    }
    text
}

#[test]
fn alias_bomb_of_long_strings_is_refused_by_size_at_the_alias() {
    let text = string_bomb(6);
    assert!(text.len() < 5000, "a small file: {}", text.len());
    let e = parse(&text, 0).expect_err("bomb");
    assert!(e.message.contains("past the size limit"), "{}", e.message);
    assert!(e.message.contains("64 MiB"), "{}", e.message);
    // The first alias that crosses 64 MiB: in the line of x-s5 (4 MB per item of x-s4...).
    assert_eq!(e.span.line, 6, "{e:?}");
    assert!(e.span.col > 8, "at an alias, not the key: {e:?}");
}

#[test]
fn the_byte_limit_is_counted_through_aliases() {
    let limits = super::super::yaml::Limits {
        nodes: 1000,
        bytes: 2 * 500 + 12 * super::super::yaml::NODE_BYTES,
    };
    let long = "b".repeat(500);
    let ok = format!("x: &a {long}\ny: *a\n");
    assert!(super::super::yaml::parse_limited(&ok, 0, limits).is_ok());
    let bad = format!("x: &a {long}\ny: *a\nz: [1, *a]\n");
    let e = super::super::yaml::parse_limited(&bad, 0, limits).expect_err("over");
    assert_eq!((e.span.line, e.span.col), (3, 8), "{e:?}");
    assert!(e.message.contains("size limit"), "{}", e.message);
}
