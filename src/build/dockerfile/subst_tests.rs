use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PWD" => Some("/home".into()),
        "SHELL" => Some("bash".into()),
        "EMPTY" => Some(String::new()),
        "WORDS" => Some("a  b c".into()),
        "FILE" => Some("dir/sub/name.tar.gz".into()),
        _ => None,
    }
}

fn ex(w: &str) -> String {
    expand(w, &env, '\\').unwrap_or_else(|e| panic!("{w}: {e}"))
}

#[test]
fn plain_and_braced() {
    assert_eq!(ex("hello"), "hello");
    assert_eq!(ex("$PWD"), "/home");
    assert_eq!(ex("${PWD}/x"), "/home/x");
    assert_eq!(ex("$PWD/x"), "/home/x");
    assert_eq!(ex("$UNSET"), "");
    assert_eq!(ex("a$"), "a$");
    assert_eq!(ex("$/x"), "$/x");
}
