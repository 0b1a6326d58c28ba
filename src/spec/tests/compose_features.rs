//! `extends` and `include`.

use super::opts;
use crate::spec::{Loaded, MemFs, load};

fn load_fs(files: &[(&str, &str)]) -> Result<Loaded, crate::spec::Diagnostics> {
    let mut fs = MemFs::new();
    for (p, t) in files {
        fs.insert(*p, *t);
    }
    load(&opts(), &fs)
}

fn ok_fs(files: &[(&str, &str)]) -> Loaded {
    load_fs(files).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn extends_same_file_and_chain() {
    let yaml = "services:
  base:
    image: busybox
    command: [a]
    environment: {A: '1', B: '2'}
    mem_limit: 64m
  mid:
    extends: base
    environment: {B: mid}
  leaf:
    extends:
      service: mid
    command: [leaf]
    environment: {C: '3'}
";
    let l = ok_fs(&[("/p/compose.yaml", yaml)]);
    let leaf = &l.stack.services["leaf"];
    assert_eq!(leaf.image, "busybox");
    assert_eq!(leaf.command, Some(vec!["leaf".to_string()]));
    assert_eq!(leaf.resources.memory, Some(64 << 20));
    let env: Vec<(&str, &str)> = leaf
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, vec![("A", "1"), ("B", "mid"), ("C", "3")]);
    assert_eq!(l.stack.services["mid"].command, Some(vec!["a".to_string()]));
}

#[test]
fn extends_other_file() {
    let l = ok_fs(&[
        (
            "/p/compose.yaml",
            "services:\n  web:\n    extends:\n      file: common/base.yaml\n      service: app\n    hostname: web\n",
        ),
        (
            "/p/common/base.yaml",
            "services:\n  app:\n    extends: root\n    restart: always\n  root:\n    image: img\n    env_file: vars.env\n",
        ),
        ("/p/common/vars.env", "FROM_BASE=yes\n"),
    ]);
    let web = &l.stack.services["web"];
    assert_eq!(web.image, "img");
    assert_eq!(web.hostname.as_deref(), Some("web"));
    assert_eq!(web.restart, crate::model::RestartPolicy::Always);
    // env_file written in the extended file resolves from that file's directory.
    assert_eq!(
        web.environment.get("FROM_BASE").map(String::as_str),
        Some("yes")
    );
}

#[test]
fn extends_errors() {
    let d = load_fs(&[(
        "/p/compose.yaml",
        "services:\n  a:\n    image: x\n  b:\n    extends: aa\n",
    )])
    .expect_err("unknown");
    let e = d.errors().next().expect("error");
    assert_eq!((e.line, e.col), (5, 14));
    assert_eq!(e.hint.as_deref(), Some("did you mean a?"));

    let d = load_fs(&[(
        "/p/compose.yaml",
        "services:\n  a:\n    extends: b\n  b:\n    extends: a\n",
    )])
    .expect_err("cycle");
    assert!(
        d.errors()
            .any(|e| e.message.contains("extends cycle: a -> b -> a")),
        "{d}"
    );

    let d = load_fs(&[(
        "/p/compose.yaml",
        "services:\n  a:\n    extends: {file: nope.yaml, service: x}\n",
    )])
    .expect_err("missing file");
    let e = d.errors().next().expect("error");
    assert!(
        e.message.contains("cannot read stack file nope.yaml"),
        "{}",
        e.message
    );
    assert_eq!((e.line, e.col), (3, 21));

    let d = load_fs(&[
        (
            "/p/compose.yaml",
            "services:\n  a:\n    extends: {file: o.yaml, service: x}\n",
        ),
        ("/p/o.yaml", "services:\n  y:\n    image: i\n"),
    ])
    .expect_err("missing service");
    assert!(
        d.errors()
            .any(|e| e.message.contains("no service \"x\" in o.yaml") && e.line == 3),
        "{d}"
    );
}

#[test]
fn include_adds_services() {
    let l = ok_fs(&[
        (
            "/p/compose.yaml",
            "include:\n  - db/compose.yaml\n  - path: [cache.yaml, cache.override.yaml]\nservices:\n  web:\n    image: w\n    depends_on: [db, cache]\n",
        ),
        (
            "/p/db/compose.yaml",
            "services:\n  db:\n    image: postgres\n    env_file: db.env\n",
        ),
        ("/p/db/db.env", "POSTGRES_PASSWORD=x\n"),
        ("/p/cache.yaml", "services:\n  cache:\n    image: redis\n"),
        (
            "/p/cache.override.yaml",
            "services:\n  cache:\n    image: redis:7\n",
        ),
    ]);
    assert_eq!(
        l.stack.services.keys().collect::<Vec<_>>(),
        vec!["db", "cache", "web"]
    );
    assert_eq!(l.stack.services["cache"].image, "redis:7");
    assert_eq!(
        l.stack.services["db"]
            .environment
            .get("POSTGRES_PASSWORD")
            .map(String::as_str),
        Some("x")
    );
}

#[test]
fn include_errors() {
    let d = load_fs(&[
        (
            "/p/compose.yaml",
            "include:\n  - other.yaml\nservices:\n  web:\n    image: w\n",
        ),
        ("/p/other.yaml", "services:\n  web:\n    image: x\n"),
    ])
    .expect_err("conflict");
    let e = d.errors().next().expect("error");
    assert_eq!(
        e.message,
        "services.web conflicts with a definition from an included file"
    );
    assert_eq!((e.line, e.col), (4, 3));

    let d = load_fs(&[(
        "/p/compose.yaml",
        "include:\n  - missing.yaml\nservices: {}\n",
    )])
    .expect_err("missing");
    let e = d.errors().next().expect("error");
    assert!(e.message.contains("cannot read stack file missing.yaml"));
    assert_eq!((e.line, e.col), (2, 5));

    let d = load_fs(&[
        ("/p/compose.yaml", "include: [a.yaml]\nservices: {}\n"),
        ("/p/a.yaml", "include: [compose.yaml]\nservices: {}\n"),
    ])
    .expect_err("cycle");
    assert!(
        d.errors().any(|e| e.message.contains("include cycle")),
        "{d}"
    );
}
