//! `post_start` / `pre_stop`: hooks reach the model; a hook without a command or with an
//! unknown key is an error at its position.

use super::{errors, ok};

#[test]
fn hooks_reach_the_model() {
    let l = ok(
        "services:\n  a:\n    image: i\n    post_start:\n      - command: touch /x\n        user: root\n        working_dir: /w\n        environment: [K=V]\n    pre_stop:\n      - command: [echo, bye]\n",
    );
    let a = &l.stack.services["a"];
    assert_eq!(a.post_start[0].command, ["touch", "/x"]);
    assert_eq!(a.post_start[0].user.as_deref(), Some("root"));
    assert_eq!(a.post_start[0].working_dir.as_deref(), Some("/w"));
    assert_eq!(a.post_start[0].environment["K"], "V");
    assert_eq!(a.pre_stop[0].command, ["echo", "bye"]);
    assert!(
        !l.warnings
            .iter()
            .any(|w| w.message.contains("not supported")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn bad_hooks_are_errors_at_their_position() {
    let e = errors(
        "services:\n  a:\n    image: i\n    post_start:\n      - user: root\n    pre_stop:\n      - command: [x]\n        comand: y\n",
    );
    assert_eq!(
        e,
        vec![
            (
                "services.a.post_start[0]: command is required".to_string(),
                5,
                9
            ),
            (
                "services.a.pre_stop[0]: unknown key \"comand\"".to_string(),
                8,
                9
            ),
        ]
    );
}
