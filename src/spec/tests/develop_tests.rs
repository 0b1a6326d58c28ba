//! `develop:` into `model::Develop`, and its errors with line and column.

use super::{errors, ok};
use crate::model::{WatchAction, WatchRule};

fn rules(body: &str) -> Vec<WatchRule> {
    let l = ok(&format!(
        "name: proj\nservices:\n  s:\n    image: busybox\n    develop:\n{body}"
    ));
    let s = l.stack.services.get("s").cloned().expect("service s");
    s.develop.expect("develop").watch
}

#[test]
fn watch_rules_in_every_form() {
    let r = rules(
        "      watch:\n        - path: ./src\n          action: sync\n          target: /app\n          ignore: node_modules/\n          include: [\"*.py\"]\n          initial_sync: true\n        - path: /abs/Dockerfile\n          action: rebuild\n        - path: conf\n          action: sync+exec\n          target: /etc/app\n          exec:\n            command: kill -HUP 1\n            user: root\n            environment:\n              A: 1\n",
    );
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].path, "/p/src");
    assert_eq!(r[0].action, WatchAction::Sync);
    assert_eq!(r[0].target.as_deref(), Some("/app"));
    assert_eq!(r[0].ignore, vec!["node_modules/"]);
    assert_eq!(r[0].include, vec!["*.py"]);
    assert!(r[0].initial_sync);
    assert_eq!(r[1].path, "/abs/Dockerfile");
    assert_eq!(r[1].action, WatchAction::Rebuild);
    let x = r[2].exec.as_ref().expect("exec");
    assert_eq!(x.command, vec!["kill", "-HUP", "1"]);
    assert_eq!(x.user.as_deref(), Some("root"));
    assert_eq!(x.environment, vec!["A=1"]);
}

#[test]
fn missing_path_target_exec_and_bad_action_are_errors_at_the_rule() {
    let head = "services:\n  s:\n    image: busybox\n    develop:\n      watch:\n";
    let e = errors(&format!("{head}        - action: restart\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].0.contains("path is required"), "{e:?}");
    assert_eq!((e[0].1, e[0].2), (6, 11));
    let e = errors(&format!(
        "{head}        - path: .\n          action: sync\n"
    ));
    assert!(
        e[0].0.contains("target is required for action sync"),
        "{e:?}"
    );
    let e = errors(&format!(
        "{head}        - path: .\n          action: sync+exec\n          target: /a\n"
    ));
    assert!(e[0].0.contains("exec is required"), "{e:?}");
    let e = errors(&format!(
        "{head}        - path: .\n          action: copy\n"
    ));
    assert!(e[0].0.contains("unknown action \"copy\""), "{e:?}");
    assert_eq!((e[0].1, e[0].2), (7, 19));
    let e = errors(&format!(
        "{head}        - path: .\n          action: restart\n          tagret: /a\n"
    ));
    assert!(e[0].0.contains("tagret"), "{e:?}");
}
