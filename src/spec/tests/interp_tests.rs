//! Interpolation forms and `.env` parsing.

use super::super::dotenv;
use super::super::interp::{InterpError, interpolate};
use std::collections::BTreeMap;

fn env() -> BTreeMap<String, String> {
    [("A", "alpha"), ("EMPTY", ""), ("N", "3"), ("NEST", "A")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(s: &str) -> (Result<String, InterpError>, Vec<String>) {
    let e = env();
    let lookup = |n: &str| e.get(n).cloned();
    let mut unset = Vec::new();
    (interpolate(s, &lookup, &mut unset), unset)
}

#[test]
fn forms() {
    let cases: &[(&str, &str)] = &[
        ("plain", "plain"),
        ("$A", "alpha"),
        ("${A}", "alpha"),
        ("x${A}y", "xalphay"),
        ("$A-$N", "alpha-3"),
        ("${MISSING:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${MISSING-def}", "def"),
        ("${A:-def}", "alpha"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${MISSING+alt}", ""),
        ("${A:?boom}", "alpha"),
        ("$$A", "$A"),
        ("$${A}", "${A}"),
        ("cost: $$5", "cost: $5"),
        ("${MISSING:-${A}}", "alpha"),
        ("${MISSING:-${ALSO:-deep}}", "deep"),
        ("${MISSING:-a}b}", "ab}"),
        ("${A:+x${N}y}", "x3y"),
        ("${MISSING:-}", ""),
        ("é$A€", "éalpha€"),
        (
            "${MISSING:-with space and : colon}",
            "with space and : colon",
        ),
    ];
    for (input, want) in cases {
        let (got, unset) = run(input);
        assert_eq!(got.as_deref(), Ok(*want), "{input}");
        assert!(unset.is_empty(), "{input}: unexpected unset {unset:?}");
    }
}

#[test]
fn unset_variables_are_reported_and_empty() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("$NOPE", "", &["NOPE"]),
        ("a${NOPE}b", "ab", &["NOPE"]),
        ("$X1 $X2", " ", &["X1", "X2"]),
    ];
    for (input, want, names) in cases {
        let (got, unset) = run(input);
        assert_eq!(got.as_deref(), Ok(*want), "{input}");
        assert_eq!(
            unset,
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn errors() {
    let required = [
        ("${MISSING:?need it}", "MISSING", "need it"),
        ("${EMPTY:?empty!}", "EMPTY", "empty!"),
        ("${MISSING?gone}", "MISSING", "gone"),
        ("${MISSING:?}", "MISSING", ""),
    ];
    for (input, name, msg) in required {
        assert_eq!(
            run(input).0,
            Err(InterpError::Required {
                name: name.into(),
                message: msg.into()
            }),
            "{input}"
        );
    }
    assert_eq!(run("${EMPTY?fine}").0.as_deref(), Ok(""));
    for bad in ["${A", "${}", "${1A}", "$", "a $ b", "${A!x}", "$1"] {
        assert!(
            matches!(run(bad).0, Err(InterpError::Syntax(_))),
            "{bad} should be a syntax error"
        );
    }
}

#[test]
fn dotenv_format() {
    let text = "\
# comment
A=1
export B=two
C='lit $A'
D=\"dq $A\\n\"
E=unq $A # trailing comment
F=
G=\"multi
line\"
H
SHELLONLY
I = spaced
J=${A:-x}${NOTSET:-y}
";
    let lookup = |n: &str| (n == "SHELLONLY").then(|| "fromshell".to_string());
    let got = dotenv::parse(text, &lookup).expect("parse");
    let want: Vec<(&str, &str)> = vec![
        ("A", "1"),
        ("B", "two"),
        ("C", "lit $A"),
        ("D", "dq 1\n"),
        ("E", "unq 1"),
        ("F", ""),
        ("G", "multi\nline"),
        ("SHELLONLY", "fromshell"),
        ("I", "spaced"),
        ("J", "1y"),
    ];
    let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, want);
}

#[test]
fn dotenv_errors_have_positions() {
    let none = |_: &str| None;
    let cases = [
        ("A=1\nB C=2\n", 2, 1),
        ("A=1\n  X='open\n", 2, 3),
        ("A=${\n", 1, 1),
    ];
    for (text, line, col) in cases {
        let e = dotenv::parse(text, &none).expect_err(text);
        assert_eq!((e.line, e.col), (line, col), "{text:?}: {}", e.message);
    }
}

#[test]
fn dotenv_later_definitions_win() {
    let none = |_: &str| None;
    let got = dotenv::parse("A=1\nB=2\nA=3\n", &none).expect("parse");
    assert_eq!(
        got,
        vec![("A".into(), "3".into()), ("B".into(), "2".into())]
    );
}
