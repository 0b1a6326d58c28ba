use super::*;
use crate::cli::args::{Cli, Command};
use crate::model::{Dependency, Service};
use clap::Parser;

fn up(args: &[&str]) -> UpArgs {
    let mut v = vec!["rstack", "up"];
    v.extend_from_slice(args);
    match Cli::try_parse_from(v).expect("parse").command {
        Command::Up(a) => a,
        _ => panic!("not up"),
    }
}

/// db <- web <- proxy, and a lone job.
fn stack() -> Stack {
    let mut s = Stack {
        name: "p".into(),
        ..Default::default()
    };
    for (name, dep) in [
        ("db", None),
        ("web", Some("db")),
        ("proxy", Some("web")),
        ("job", None),
    ] {
        let mut svc = Service::new(name, "busybox");
        if let Some(d) = dep {
            svc.depends_on.insert(d.into(), Dependency::default());
        }
        s.services.insert(name.into(), svc);
    }
    s
}

#[test]
fn refuses_what_compose_refuses_with_its_words() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["-V", "--no-recreate"],
            "--no-recreate and --renew-anon-volumes are incompatible",
        ),
        (
            &["-d", "--abort-on-container-exit"],
            "--detach cannot be combined with",
        ),
        (
            &["-d", "--exit-code-from", "web"],
            "--detach cannot be combined with",
        ),
        (
            &["-d", "--attach", "web"],
            "--detach cannot be combined with",
        ),
        (
            &["--wait", "--abort-on-container-failure"],
            "--wait cannot be combined with",
        ),
        (
            &["--abort-on-container-exit", "--abort-on-container-failure"],
            "--abort-on-container-failure cannot be combined with --abort-on-container-exit",
        ),
        (
            &["--attach", "web", "--attach-dependencies"],
            "cannot combine --attach and --attach-dependencies",
        ),
    ];
    for (args, want) in cases {
        let e = validate(&up(args)).expect_err(&format!("{args:?}"));
        assert!(e.contains(want), "{args:?}: {e}");
    }
    // --exit-code-from with the failure cascade is compose's allowed combination.
    assert!(
        validate(&up(&[
            "--exit-code-from",
            "web",
            "--abort-on-container-failure"
        ]))
        .is_ok()
    );
    assert!(validate(&up(&["-d", "--no-attach", "web"])).is_ok());
}

#[test]
fn cascade_follows_the_flags() {
    assert_eq!(up(&[]).attached.cascade(), Cascade::Ignore);
    assert_eq!(
        up(&["--abort-on-container-exit"]).attached.cascade(),
        Cascade::Exit
    );
    assert_eq!(
        up(&["--exit-code-from", "db"]).attached.cascade(),
        Cascade::Exit
    );
    assert_eq!(
        up(&["--abort-on-container-failure"]).attached.cascade(),
        Cascade::Failure
    );
}

#[test]
fn selection_is_composes() {
    let s = stack();
    let sel = select(&s, &up(&[])).expect("all");
    assert_eq!(sel.attach, ["db", "web", "proxy", "job"]);
    assert_eq!(sel.monitor, sel.attach);

    let sel = select(&s, &up(&["proxy"])).expect("named");
    assert_eq!(
        sel.attach,
        ["proxy"],
        "dependencies are not attached by default"
    );
    assert_eq!(sel.monitor, ["proxy"]);

    let sel = select(&s, &up(&["--attach-dependencies", "proxy"])).expect("deps");
    assert_eq!(sel.attach, ["db", "web", "proxy"]);
    assert_eq!(
        sel.monitor,
        ["proxy"],
        "exits watched on the named services"
    );

    let sel = select(
        &s,
        &up(&["--attach", "web", "--attach", "job", "--no-attach", "job"]),
    )
    .expect("attach");
    assert_eq!(sel.attach, ["web"]);
    assert_eq!(sel.monitor, ["web"]);
    assert_eq!(sel.followed(), ["web"]);

    let sel = select(&s, &up(&["--no-attach", "web", "web"])).expect("no-attach");
    assert!(sel.attach.is_empty());
    assert_eq!(sel.followed(), ["web"]);

    let e = select(&s, &up(&["--attach", "nope", "--attach", "web"])).expect_err("unknown");
    assert_eq!(e, "cannot attach to services not included in up: nope");
    let e = select(&s, &up(&["--exit-code-from", "nope"])).expect_err("unknown");
    assert_eq!(e, "no such service: nope");
}

fn row(id: &str, service: &str, state: &str, code: i32, finished: Option<u64>) -> ContainerView {
    serde_json::from_value(serde_json::json!({
        "id": id, "name": format!("p-{service}-1"), "project": "p", "service": service,
        "state": state, "health": null, "pid": null, "exit_code": code, "oom_killed": false,
        "restarts": 0, "image": "busybox", "started_at": null, "finished_at": finished,
        "restart_delay_ms": null, "error": null, "one_off": false,
    }))
    .expect("row")
}

fn watcher(args: &[&str]) -> ExitWatcher {
    let a = up(args);
    let sel = select(&stack(), &a).expect("select");
    ExitWatcher::new("p", &sel, &a.attached, 1000)
}

#[test]
fn exits_are_reported_once_and_only_since_up() {
    let mut w = watcher(&[]);
    let rows = [
        row("a", "db", "exited", 3, Some(500)),
        row("b", "job", "exited", 0, Some(2000)),
        row("c", "web", "running", 0, None),
        row("d", "proxy", "restarting", 1, Some(1500)),
    ];
    let e = w.exits(&rows);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(
        (e[0].label.as_str(), e[0].code, e[0].restarting),
        ("proxy-1", 1, true)
    );
    assert_eq!(
        (e[1].label.as_str(), e[1].code, e[1].restarting),
        ("job-1", 0, false)
    );
    assert!(w.exits(&rows).is_empty(), "each exit once");
    for e in &e {
        assert!(!w.on_exit(e), "no cascade asked");
    }
    assert_eq!(w.code, 0);
}

#[test]
fn the_cascade_decides_the_abort_and_the_code() {
    let exit = |service: &str, code| Exit {
        label: format!("{service}-1"),
        service: service.into(),
        code,
        restarting: false,
    };
    // TestCascadeFail: a clean exit is let be, the failure aborts with its code.
    let mut w = watcher(&["--abort-on-container-failure"]);
    assert!(!w.on_exit(&exit("job", 0)));
    assert!(w.on_exit(&exit("web", 111)));
    assert!(!w.on_exit(&exit("db", 143)), "one abort");
    assert_eq!(w.code, 111);

    // TestCascadeStop: the first exit aborts, with its code.
    let mut w = watcher(&["--abort-on-container-exit"]);
    assert!(w.on_exit(&exit("job", 0)));
    assert!(!w.on_exit(&exit("web", 143)));
    assert_eq!(w.code, 0);

    // --exit-code-from: that service's first exit decides, even when another aborted.
    let mut w = watcher(&["--exit-code-from", "web"]);
    assert!(w.on_exit(&exit("job", 4)));
    assert_eq!(w.code, 4);
    assert!(!w.on_exit(&exit("web", 143)));
    assert!(!w.on_exit(&exit("web", 7)));
    assert_eq!(w.code, 143);
}
