use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PWD" => Some("/home".into()),
        "SHELL" => Some("bash".into()),
        "NULL" => Some(String::new()),
        "KOREAN" => Some("한국어".into()),
        _ => None,
    }
}

fn ex(w: &str) -> Result<String, SubstError> {
    expand(w, &env, '\\')
}

/// Behaviour of Docker's shell lexer, case by case (BuildKit's envVarTest facts).
#[test]
fn docker_cases() {
    let ok: &[(&str, &str)] = &[
        ("hello", "hello"),
        ("he'll'o", "hello"),
        (r"he\'llo", "he'llo"),
        (r"abc\tdef", "abctdef"),
        (r#""abc\tdef""#, r"abc\tdef"),
        (r#""abc\\tdef""#, r"abc\tdef"),
        (r"'abc\tdef'", r"abc\tdef"),
        (r"hello\", "hello"),
        (r"hello\\", r"hello\"),
        (r#""hel'lo""#, "hel'lo"),
        (r"'hello\'", r"hello\"),
        (r#""''""#, "''"),
        ("$.", "$."),
        ("he$1x", "hex"),
        ("he$.x", "he$.x"),
        ("he$pwd.", "he."),
        ("he$PWD", "he/home"),
        (r"he\$PWD", "he$PWD"),
        (r"he\\$PWD", r"he\/home"),
        (r#""he\$PWD""#, "he$PWD"),
        (r#""he\\$PWD""#, r"he\/home"),
        (r"\${}", "${}"),
        (r"he\${}xx", "he${}xx"),
        ("he${hi}xx", "hexx"),
        ("he${PWD}", "he/home"),
        ("he${XXX:-000}xx", "he000xx"),
        ("he${PWD:-000}xx", "he/homexx"),
        ("he${XXX:-$PWD}xx", "he/homexx"),
        ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
        ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
        ("he${PWD?}", "he/home"),
        ("he${PWD:?}", "he/home"),
        ("he${NULL?}", "he"),
        ("he${XXX:+${PWD}}xx", "hexx"),
        ("he${PWD:+${XXX}}xx", "hexx"),
        ("he${PWD:+${SHELL}}xx", "hebashxx"),
        ("he${PWD:+000}xx", "he000xx"),
        ("'he${XX}'", "he${XX}"),
        (r#""he'$PWD'""#, "he'/home'"),
        ("'$PWD'", "$PWD"),
        (r"'\$PWD'", r"\$PWD"),
        ("he${PWD:+${PWD}:}xx", "he/home:xx"),
        (r"he${XXX:-\$PWD:}xx", "he$PWD:xx"),
        (r"he${XXX:-\${PWD}z}xx", "he${PWDz}xx"),
        ("안'녕'하세요", "안녕하세요"),
        ("안녕$KOREAN", "안녕한국어"),
        ("${aaa}}", "}"),
        ("${aaa:-bbb}}", "bbb}"),
        ("${aaa:-${bbb:-ccc}}", "ccc"),
        ("${aaa:-bbb {foo}", "bbb {foo"),
        ("${1:-bbb}", "bbb"),
        ("$999aaa", "aaa"),
        ("$001aaa", "aaa"),
        ("$@@@", "@@"),
        ("${@:-bbb}aaa", "bbbaaa"),
        ("${#:-bbb}", "bbb"),
        ("$$", ""),
        ("${FOO-x}${NULL-y}${NULL:-z}", "xz"),
        ("${NULL+a}${NULL:+b}${XXX+c}", "a"),
    ];
    for (input, want) in ok {
        assert_eq!(ex(input).as_deref(), Ok(*want), "input {input:?}");
    }
    let errors = [
        "he'llo",
        r"he\\'llo",
        r#""hello"#,
        r#""hello\""#,
        "'hello",
        "${}",
        "he${}xx",
        "he${.}",
        "he${XXX:YYY}",
        "he${XXX?}",
        "he${XXX:?}",
        "he${NULL:?}",
        "he${PWD",
        "he${PWD:=000}xx",
        "${{aaa}",
        "${aaa:-bbb ${foo}",
        "${:}",
        "${:-bbb}",
        "${FOO=aaa}",
    ];
    for input in errors {
        assert!(ex(input).is_err(), "input {input:?} gave {:?}", ex(input));
    }
}

#[test]
fn required_messages() {
    let with = |v: &'static str| {
        move |n: &str| match n {
            "ARG" => Some("x".to_string()),
            "VAR" => (v != "unset").then(|| v.to_string()),
            _ => None,
        }
    };
    let noempty = "${VAR:?message here$ARG}";
    let nounset = "${VAR?message here$ARG}";
    assert_eq!(expand(noempty, &with("plain"), '\\').unwrap(), "plain");
    let e = expand(noempty, &with(""), '\\').unwrap_err();
    assert_eq!(e.to_string(), "VAR: message herex");
    assert!(expand(noempty, &with("unset"), '\\').is_err());
    assert_eq!(expand(nounset, &with(""), '\\').unwrap(), "");
    assert!(expand(nounset, &with("unset"), '\\').is_err());
    let e = expand("${X?}", &with("unset"), '\\').unwrap_err();
    assert_eq!(e.to_string(), "X: is not allowed to be unset");
}

#[test]
fn patterns_and_replacement() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |n: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        }
    };
    type Vars = &'static [(&'static str, &'static str)];
    let cases: &[(&str, Vars, &str)] = &[
        (r"${FOO%%\**}", &[("FOO", "xx**")], "xx"),
        ("${FOO#*x*y}", &[("FOO", "xxyy")], "y"),
        ("${FOO##*x}", &[("FOO", "xxyy")], "yy"),
        (r"${FOO#?\?}", &[("FOO", "???y")], "?y"),
        ("${ABC:-.}${FOO%x}${ABC:-.}", &[("FOO", "xxyy")], ".xxyy."),
        (r"${FOO%%\**\*}", &[("FOO", "a***yy*")], "a"),
        ("${FOO%.*}", &[("FOO", "a.tar.gz")], "a.tar"),
        ("${FOO%%.*}", &[("FOO", "a.tar.gz")], "a"),
        (
            r"${FOO#()[]{\}^$.\*\?|\\}",
            &[("FOO", r"()[]{}^$.*?|\x")],
            "x",
        ),
        (
            "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
            &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", r"\*/")],
            "/foo.*/*.txt - /foo..*.txt",
        ),
        (
            "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
            &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
            "/tmp/bar.txt - /bar.txt",
        ),
        (
            "${FOO/$N/$R} - ${FOO//$N/$R}",
            &[("FOO", "/a/foo/b/c.txt"), ("N", "/?/"), ("R", "/")],
            "/foo/b/c.txt - /foo/c.txt",
        ),
        (
            r"${FOO//\//\/}",
            &[("FOO", "/tmp/foo.txt")],
            r"\/tmp\/foo.txt",
        ),
        (
            "something-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tar.gz",
            &[
                ("V", "v1"),
                ("OS", "linux"),
                ("ARCH", "arm64"),
                ("VARIANT", ""),
            ],
            "something-v1.linux-arm64.tar.gz",
        ),
    ];
    for (input, env, want) in cases {
        assert_eq!(
            expand(input, &vars(env), '\\').unwrap(),
            *want,
            "input {input:?}"
        );
    }
    assert!(expand("${FOO:#x}", &vars(&[]), '\\').is_err());
}

/// Word splitting (BuildKit's wordsTest facts).
#[test]
fn words() {
    let vars = |n: &str| match n {
        "hi" => Some("hi".to_string()),
        "space" => Some("abc  def".to_string()),
        "leading" => Some("  ab c".to_string()),
        "trailing" => Some("ab c   ".to_string()),
        _ => None,
    };
    let cases: &[(&str, &[&str])] = &[
        ("hello", &["hello"]),
        ("hello${hi}bye", &["hellohibye"]),
        ("hello${space}bye", &["helloabc", "defbye"]),
        (r#"hello"${space}"bye"#, &["helloabc  defbye"]),
        (r#"hello "${space}"bye"#, &["hello", "abc  defbye"]),
        ("hello${leading}def", &["hello", "ab", "cdef"]),
        (r#"hello"${leading}" def"#, &["hello  ab c", "def"]),
        ("hello${trailing}d", &["helloab", "c", "d"]),
        (r#"hel"lo${trailing}""#, &["helloab c   "]),
        ("hello there     ", &["hello", "there"]),
        (r"hello\ there", &["hello there"]),
        (r#"hello\" there"#, &["hello\"", "there"]),
        (r#"hello"\\there""#, &[r"hello\there"]),
        (r"hello'\\there'", &[r"hello\\there"]),
        ("hello'$there'", &["hello$there"]),
        ("80/tcp ${P:-443}", &["80/tcp", "443"]),
    ];
    for (input, want) in cases {
        assert_eq!(
            expand_words(input, &vars, '\\').unwrap(),
            *want,
            "input {input:?}"
        );
    }
    assert!(expand_words(r#"hello" there"#, &vars, '\\').is_err());
}

#[test]
fn backtick_escape() {
    let e = |w: &str| expand(w, &env, '`').unwrap();
    assert_eq!(e(r"C:\dir\$PWD"), r"C:\dir\/home");
    assert_eq!(e("`$PWD"), "$PWD");
    assert_eq!(e(r#""a`"b""#), "a\"b");
}

#[test]
fn heredoc_bodies_keep_quotes() {
    let body = "echo \"$PWD\" '${SHELL}' \\$PWD\n";
    assert_eq!(
        expand_heredoc(body, &env, '\\').unwrap(),
        "echo \"/home\" 'bash' $PWD\n"
    );
}
