//! `include` long syntax: `project_directory` and `env_file` (checked against docker compose
//! 2.40 `config` on the same trees).

use super::opts;
use crate::spec::{Diagnostics, Loaded, MemFs, load, to_compose_json};

fn load_fs(files: &[(&str, &str)]) -> Result<Loaded, Diagnostics> {
    let mut fs = MemFs::new();
    for (p, t) in files {
        fs.insert(*p, *t);
    }
    load(&opts(), &fs)
}

fn ok_fs(files: &[(&str, &str)]) -> Loaded {
    load_fs(files).unwrap_or_else(|d| panic!("{d}"))
}

fn env(l: &Loaded, svc: &str, key: &str) -> Option<String> {
    l.stack.services[svc].environment.get(key).cloned()
}

const MAIN: &str = "include:
  - path: sub/app.yaml
    project_directory: proj
    env_file: [envs/a.env, envs/b.env]
  - path: other/x.yaml
services:
  web:
    image: w:${TAG}
";

const APP: &str = "services:
  app:
    image: app:${APP_TAG}
    environment:
      S: ${SHARED}
      B: ${B_ONLY}
      C: ${C}
    env_file: app.env
    volumes: [./data:/data]
    build: ./ctx
  e:
    extends:
      file: base2.yaml
      service: b2
include:
  - nested.yaml
";

fn tree() -> Vec<(&'static str, &'static str)> {
    vec![
        ("/p/compose.yaml", MAIN),
        ("/p/.env", "TAG=1\nSHARED=top\n"),
        ("/p/sub/app.yaml", APP),
        ("/p/sub/app.env", "X=wrong-dir\n"),
        ("/p/proj/app.env", "X=1\n"),
        ("/p/proj/base2.yaml", "services:\n  b2:\n    image: b2\n"),
        (
            "/p/proj/nested.yaml",
            "services:\n  n:\n    image: n:${APP_TAG}\n    volumes: [./nv:/nv]\n",
        ),
        ("/p/envs/a.env", "APP_TAG=a\nB_ONLY=a\nSHARED=fromA\n"),
        ("/p/envs/b.env", "B_ONLY=b\nC=${APP_TAG}-c\n"),
        (
            "/p/other/x.yaml",
            "services:\n  x:\n    image: x:${XTAG}\n    env_file: x.env\n    volumes: [./d:/d]\n",
        ),
        ("/p/other/.env", "XTAG=7\n"),
        ("/p/other/x.env", "Y=2\n"),
    ]
}

#[test]
fn env_file_gives_defaults_for_the_included_files() {
    let l = ok_fs(&tree());
    assert_eq!(l.stack.services["web"].image, "w:1");
    assert_eq!(l.stack.services["app"].image, "app:a");
    // The including project's variables win over the include's env files...
    assert_eq!(env(&l, "app", "S").as_deref(), Some("top"));
    // ...later env files over earlier ones, which they can reference.
    assert_eq!(env(&l, "app", "B").as_deref(), Some("b"));
    assert_eq!(env(&l, "app", "C").as_deref(), Some("a-c"));
    // Nested includes inherit the variables; the default is `.env` of the included directory.
    assert_eq!(l.stack.services["n"].image, "n:a");
    assert_eq!(l.stack.services["x"].image, "x:7");
}

#[test]
fn project_directory_is_the_base_of_relative_paths() {
    let l = ok_fs(&tree());
    assert_eq!(env(&l, "app", "X").as_deref(), Some("1"));
    assert_eq!(env(&l, "x", "Y").as_deref(), Some("2"));
    assert_eq!(l.stack.services["e"].image, "b2");
    let json = to_compose_json(&l);
    let source = |svc: &str| json["services"][svc]["volumes"][0]["source"].clone();
    assert_eq!(source("app"), "/p/proj/data");
    assert_eq!(source("n"), "/p/proj/nv");
    assert_eq!(source("x"), "/p/other/d");
    assert_eq!(json["services"]["app"]["build"]["context"], "/p/proj/ctx");
}

#[test]
fn same_extended_file_under_different_include_env() {
    let ext = "services:\n  s:\n    extends: {file: ../common.yaml, service: c}\n";
    let ext2 = "services:\n  t:\n    extends: {file: ../common.yaml, service: c}\n";
    let l = ok_fs(&[
        ("/p/compose.yaml", "include: [a/x.yaml, b/y.yaml]\n"),
        ("/p/common.yaml", "services:\n  c:\n    image: img-${IMG}\n"),
        ("/p/a/.env", "IMG=a\n"),
        ("/p/b/.env", "IMG=b\n"),
        ("/p/a/x.yaml", ext),
        ("/p/b/y.yaml", ext2),
    ]);
    assert_eq!(l.stack.services["s"].image, "img-a");
    assert_eq!(l.stack.services["t"].image, "img-b");
}

#[test]
fn include_env_file_errors() {
    let main = "include:\n  - path: a.yaml\n    env_file: missing.env\n";
    let d = load_fs(&[("/p/compose.yaml", main), ("/p/a.yaml", "services: {}\n")])
        .expect_err("missing env file");
    let e = d.errors().next().expect("an error");
    assert!(
        e.message
            .starts_with("include[0].env_file: cannot read env file missing.env"),
        "{}",
        e.message
    );
    assert_eq!((e.line, e.col), (3, 15));

    let main = "include:\n  - path: a.yaml\n    env_file: [/dev/null, bad.env]\n";
    let d = load_fs(&[
        ("/p/compose.yaml", main),
        ("/p/a.yaml", "services: {}\n"),
        ("/p/bad.env", "OK=1\n'oops\n"),
    ])
    .expect_err("bad env file");
    let e = d.errors().next().expect("an error");
    assert_eq!((e.file.as_str(), e.line), ("bad.env", 2), "{}", e.message);

    // A missing default `.env` is fine; a wrongly typed option is reported where it is.
    let main = "include:\n  - path: a.yaml\n    project_directory: [x]\n";
    let d = load_fs(&[("/p/compose.yaml", main), ("/p/a.yaml", "services: {}\n")])
        .expect_err("bad project_directory");
    assert_eq!(d.0[0].line, 3, "{}", d.0[0].message);
}
