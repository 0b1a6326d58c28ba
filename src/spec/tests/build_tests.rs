//! `build:` in each of its forms, into `model::BuildSpec`.

use super::{errors, ok, opts};
use crate::model::BuildSpec;
use crate::spec::{MemFs, load};

fn build(body: &str) -> (String, Option<BuildSpec>) {
    let l = ok(&format!("name: proj\nservices:\n  s:\n{body}"));
    let s = l.stack.services.get("s").cloned().expect("service s");
    (s.image, s.build)
}

#[test]
fn string_form_and_image_name() {
    let (image, b) = build("    build: ./app\n");
    assert_eq!(image, "proj-s");
    let b = b.expect("build");
    assert_eq!(b.context, "/p/app");
    assert_eq!(b.dockerfile, "/p/app/Dockerfile");
    let (image, _) = build("    image: mine:1\n    build: .\n");
    assert_eq!(image, "mine:1");
    let l = ok("name: proj\nservices:\n  s:\n    build: .\n");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn long_form() {
    let (_, b) = build(
        "    build:\n      context: ctx\n      dockerfile: docker/Dev.Dockerfile\n      target: dev\n      args:\n        - A=1\n        - B\n        - C=\n      tags: [x:1, y]\n      labels:\n        l1: v\n        l2: 2\n      additional_contexts:\n        base: docker-image://alpine\n        src: ../src\n      no_cache: true\n      pull: \"true\"\n      network: none\n      x-own: 1\n",
    );
    let b = b.expect("build");
    assert_eq!(b.context, "/p/ctx");
    assert_eq!(b.dockerfile, "/p/ctx/docker/Dev.Dockerfile");
    assert_eq!(b.target.as_deref(), Some("dev"));
    let args: Vec<(&str, &str)> = b
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // B has no value and the environment has none: left out.
    assert_eq!(args, vec![("A", "1"), ("C", "")]);
    assert_eq!(b.tags, vec!["x:1", "y"]);
    assert_eq!(b.labels.get("l2").map(String::as_str), Some("2"));
    assert_eq!(
        b.additional_contexts.get("base").map(String::as_str),
        Some("docker-image://alpine")
    );
    assert_eq!(
        b.additional_contexts.get("src").map(String::as_str),
        Some("/src")
    );
    assert!(b.no_cache && b.pull);
    assert_eq!(b.network.as_deref(), Some("none"));
}

#[test]
fn value_less_args_take_the_environment() {
    let mut o = opts();
    o.env.insert("B".into(), "from-shell".into());
    let fs = MemFs::new()
        .with(
            "/p/compose.yaml",
            "services:\n  s:\n    build:\n      args:\n        B:\n        D: 4\n        E:\n",
        )
        .with("/p/.env", "E=from-dotenv\n");
    let l = load(&o, &fs).expect("loads");
    let b = l.stack.services["s"].build.clone().expect("build");
    let args: Vec<(&str, &str)> = b
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        args,
        vec![("B", "from-shell"), ("D", "4"), ("E", "from-dotenv")]
    );
}

#[test]
fn inline_dockerfile_and_ignored_keys() {
    let l = ok(
        "services:\n  s:\n    build:\n      dockerfile_inline: |\n        FROM alpine\n      cache_from: [a]\n      platforms: [linux/arm64]\n  t:\n    build:\n      platforms: [linux/amd64]\n",
    );
    let b = l.stack.services["s"].build.clone().expect("build");
    assert_eq!(b.dockerfile_inline.as_deref(), Some("FROM alpine\n"));
    assert_eq!(b.dockerfile, "");
    assert_eq!(b.context, "/p");
    let w: Vec<(&str, u32)> = l
        .warnings
        .iter()
        .map(|w| (w.message.as_str(), w.line))
        .collect();
    assert_eq!(
        w,
        vec![
            (
                "services.s.build.cache_from: accepted but has no effect in rstack builds",
                6
            ),
            (
                "services.s.build.platforms: accepted but has no effect in rstack builds",
                7
            ),
        ]
    );
}

#[test]
fn errors_at_their_position() {
    assert_eq!(
        errors("services:\n  s:\n    build:\n      context: https://github.com/a/b.git\n"),
        vec![(
            "services.s.build: remote build context \"https://github.com/a/b.git\" is not supported".into(),
            4,
            16
        )]
    );
    assert_eq!(
        errors("services:\n  s:\n    build: [a]\n"),
        vec![(
            "services.s.build: expected a string or a mapping, found a list".into(),
            3,
            12
        )]
    );
    assert_eq!(
        errors("services:\n  s:\n    build:\n      contxt: .\n"),
        vec![("services.s.build: unknown key \"contxt\"".into(), 4, 7)]
    );
    assert_eq!(
        errors("services:\n  s:\n    build:\n      no_cache: maybe\n      args: 3\n"),
        vec![
            ("services.s.build.no_cache: expected a boolean (true or false), found a string \"maybe\"".into(), 4, 17),
            ("services.s.build.args: expected a list or a mapping, found an integer".into(), 5, 13),
        ]
    );
    let e = errors(
        "services:\n  s:\n    build:\n      dockerfile: a\n      dockerfile_inline: FROM x\n",
    );
    assert_eq!(
        e,
        vec![(
            "services.s.build: dockerfile and dockerfile_inline are mutually exclusive".into(),
            4,
            19
        )]
    );
}

#[test]
fn extended_file_resolves_from_its_directory() {
    let fs = MemFs::new()
        .with(
            "/p/compose.yaml",
            "services:\n  s:\n    extends:\n      file: sub/base.yaml\n      service: b\n",
        )
        .with("/p/sub/base.yaml", "services:\n  b:\n    build: app\n");
    let l = load(&opts(), &fs).expect("loads");
    let b = l.stack.services["s"].build.clone().expect("build");
    assert_eq!(b.context, "/p/sub/app");
}

/// `config` prints `build` as docker compose v2.40.3 does for the same file (its output,
/// project directory /p): lists become mappings, value-less args without a value in the
/// environment are left out, local additional contexts are absolute, flags are booleans.
#[test]
fn config_output_matches_docker_compose() {
    let l = ok(
        "name: proj\nservices:\n  a:\n    build:\n      context: ./app\n      dockerfile: ../Dockerfile.x\n      args:\n        - A=1\n        - B\n        - C=\n      labels:\n        - l1=v\n        - l2\n      tags: [x:1]\n      no_cache: true\n      pull: \"true\"\n      network: none\n      target: dev\n      additional_contexts:\n        - base=docker-image://alpine\n        - src=../src\n      cache_from: [a]\n  b:\n    build:\n      dockerfile_inline: |\n        FROM alpine\n      args:\n        D: 4\n        E:\n        F: \"x\"\n",
    );
    let v = crate::spec::to_compose_json(&l);
    assert_eq!(
        v["services"]["a"]["build"],
        serde_json::json!({"additional_contexts": {"base": "docker-image://alpine", "src": "/src"}, "args": {"A": "1", "C": ""}, "cache_from": ["a"], "context": "/p/app", "dockerfile": "../Dockerfile.x", "labels": {"l1": "v", "l2": ""}, "network": "none", "no_cache": true, "pull": true, "tags": ["x:1"], "target": "dev"})
    );
    assert_eq!(
        v["services"]["b"]["build"],
        serde_json::json!({"args": {"D": "4", "F": "x"}, "context": "/p", "dockerfile_inline": "FROM alpine\n"})
    );
}
