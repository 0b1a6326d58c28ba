//! Multi-file merging, default/override file names, `.env` precedence, env_file, profiles and
//! project names.

use super::opts;
use crate::model::DependCondition;
use crate::spec::yaml::Node;
use crate::spec::{LoadOptions, Loaded, MemFs, load};

fn load_files(files: &[(&str, &str)], o: LoadOptions) -> Loaded {
    let mut fs = MemFs::new();
    for (p, t) in files {
        fs.insert(*p, *t);
    }
    load(&o, &fs).unwrap_or_else(|d| panic!("{d}"))
}

fn two(base: &str, over: &str) -> Loaded {
    let mut o = opts();
    o.files = vec!["a.yaml".into(), "b.yaml".into()];
    load_files(&[("/p/a.yaml", base), ("/p/b.yaml", over)], o)
}

fn seq_texts(n: Option<&Node>) -> Vec<String> {
    n.and_then(Node::as_seq)
        .map(|s| s.iter().filter_map(Node::scalar_text).collect())
        .unwrap_or_default()
}

#[test]
fn mappings_merge_and_scalars_replace() {
    let l = two(
        "services:\n  a:\n    image: x:1\n    environment: [A=1, B=2]\n    user: root\n",
        "services:\n  a:\n    image: x:2\n    environment:\n      B: three\n      C: '4'\n  b:\n    image: y\n",
    );
    let a = &l.stack.services["a"];
    assert_eq!(a.image, "x:2");
    assert_eq!(a.user.as_deref(), Some("root"));
    let env: Vec<(&str, &str)> = a
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, vec![("A", "1"), ("B", "three"), ("C", "4")]);
    assert_eq!(l.stack.services.keys().collect::<Vec<_>>(), vec!["a", "b"]);
}

#[test]
fn command_entrypoint_and_healthcheck_test_replace() {
    let l = two(
        "services:\n  a:\n    image: x\n    command: [a, b]\n    entrypoint: [e1]\n    healthcheck:\n      test: [CMD, one]\n      retries: 9\n",
        "services:\n  a:\n    command: [c]\n    entrypoint: e2 e3\n    healthcheck:\n      test: [CMD, two]\n",
    );
    let a = &l.stack.services["a"];
    assert_eq!(a.command, Some(vec!["c".to_string()]));
    assert_eq!(a.entrypoint, Some(vec!["e2".to_string(), "e3".to_string()]));
    let hc = a.healthcheck.as_ref().expect("hc");
    assert_eq!(hc.test, crate::model::HealthTest::Cmd(vec!["two".into()]));
    assert_eq!(hc.retries, 9);
}

#[test]
fn sequences_append_and_keyed_lists_merge_on_target() {
    let l = two(
        "services:\n  a:\n    image: x\n    tmpfs: [/run]\n    ports: ['80:80', '443:443']\n    volumes: ['data:/data', '/host:/cfg:ro']\n    dns: [1.1.1.1]\nvolumes: {data: {}}\n",
        "services:\n  a:\n    tmpfs: [/tmp]\n    ports: ['80:80', '8080:8080']\n    volumes: ['other:/data']\n    dns: [8.8.8.8]\nvolumes: {other: {}}\n",
    );
    let a = &l.stack.services["a"];
    assert_eq!(
        a.tmpfs
            .iter()
            .map(|t| t.target.as_str())
            .collect::<Vec<_>>(),
        vec!["/run", "/tmp"]
    );
    let svc = l.tree.get("services").and_then(|s| s.get("a"));
    assert_eq!(
        seq_texts(svc.and_then(|s| s.get("ports"))),
        vec!["80:80", "443:443", "8080:8080"]
    );
    assert_eq!(
        seq_texts(svc.and_then(|s| s.get("volumes"))),
        vec!["other:/data", "/host:/cfg:ro"]
    );
    assert_eq!(
        seq_texts(svc.and_then(|s| s.get("dns"))),
        vec!["1.1.1.1", "8.8.8.8"]
    );
}

#[test]
fn reset_and_override_tags() {
    let l = two(
        "services:\n  a:\n    image: x\n    command: [a]\n    tmpfs: [/run]\n    environment: {A: '1', B: '2'}\n    depends_on: [db]\n  db:\n    image: d\n",
        "services:\n  a:\n    command: !reset null\n    tmpfs: !reset []\n    environment: !override {C: '3'}\n    depends_on: !reset []\n",
    );
    let a = &l.stack.services["a"];
    assert_eq!(a.command, None);
    assert!(a.tmpfs.is_empty());
    assert_eq!(a.environment.keys().collect::<Vec<_>>(), vec!["C"]);
    assert!(a.depends_on.is_empty());
}

#[test]
fn depends_on_list_merges_with_long_form() {
    let l = two(
        "services:\n  a:\n    image: x\n    depends_on: [db]\n  db:\n    image: d\n  c:\n    image: c\n",
        "services:\n  a:\n    depends_on:\n      db:\n        condition: service_healthy\n      c:\n        condition: service_started\n",
    );
    let deps = &l.stack.services["a"].depends_on;
    assert_eq!(deps.keys().collect::<Vec<_>>(), vec!["db", "c"]);
    assert_eq!(deps["db"].condition, DependCondition::ServiceHealthy);
}

#[test]
fn errors_point_into_the_file_that_wrote_the_value() {
    let mut o = opts();
    o.files = vec!["a.yaml".into(), "b.yaml".into()];
    let fs = MemFs::new()
        .with("/p/a.yaml", "services:\n  a:\n    image: x\n")
        .with("/p/b.yaml", "services:\n  a:\n    mem_limit: 5q\n");
    let d = load(&o, &fs).expect_err("bad");
    assert_eq!(
        (d.0[0].file.as_str(), d.0[0].line, d.0[0].col),
        ("b.yaml", 3, 16)
    );
}

#[test]
fn default_names_and_override_file() {
    let fs = MemFs::new()
        .with("/p/docker-compose.yml", "services:\n  a:\n    image: old\n")
        .with(
            "/p/docker-compose.override.yml",
            "services:\n  a:\n    image: new\n",
        );
    let l = load(&opts(), &fs).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.stack.services["a"].image, "new");
    assert_eq!(l.files.len(), 2);

    let fs = MemFs::new()
        .with("/p/compose.yaml", "services:\n  a:\n    image: first\n")
        .with(
            "/p/docker-compose.yaml",
            "services:\n  a:\n    image: second\n",
        );
    let l = load(&opts(), &fs).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.stack.services["a"].image, "first");
    assert!(
        l.warnings
            .iter()
            .any(|w| w.message.contains("multiple stack files"))
    );

    let mut o = opts();
    o.env.insert("COMPOSE_FILE".into(), "x.yaml:y.yaml".into());
    let l = load_files(
        &[
            ("/p/x.yaml", "services:\n  a:\n    image: x\n"),
            ("/p/y.yaml", "services:\n  a:\n    init: true\n"),
        ],
        o,
    );
    assert!(l.stack.services["a"].init);

    let l = load_files(
        &[
            (
                "/p/.env",
                "COMPOSE_FILE=x.yaml,y.yaml\nCOMPOSE_PATH_SEPARATOR=,\n",
            ),
            ("/p/x.yaml", "services:\n  a:\n    image: x\n"),
            ("/p/y.yaml", "services:\n  a:\n    image: fromy\n"),
        ],
        opts(),
    );
    assert_eq!(l.stack.services["a"].image, "fromy");
}

#[test]
fn shell_env_beats_dotenv_and_env_file_flag_replaces_it() {
    let yaml = "services:\n  a:\n    image: \"img:${TAG}\"\n    hostname: ${HOST:-h}\n";
    let mut o = opts();
    o.env.insert("TAG".into(), "shell".into());
    let l = load_files(
        &[
            ("/p/compose.yaml", yaml),
            ("/p/.env", "TAG=dotenv\nHOST=fromdot\n"),
        ],
        o,
    );
    assert_eq!(l.stack.services["a"].image, "img:shell");
    assert_eq!(l.stack.services["a"].hostname.as_deref(), Some("fromdot"));

    let mut o = opts();
    o.env_files = vec!["custom.env".into()];
    let l = load_files(
        &[
            ("/p/compose.yaml", yaml),
            ("/p/.env", "TAG=dotenv\n"),
            ("/p/custom.env", "TAG=custom\n"),
        ],
        o,
    );
    assert_eq!(l.stack.services["a"].image, "img:custom");

    let mut o = opts();
    o.env_files = vec!["nope.env".into()];
    let fs = MemFs::new().with("/p/compose.yaml", yaml);
    let d = load(&o, &fs).expect_err("missing env file");
    assert!(
        d.0.iter()
            .any(|e| e.message.contains("cannot read env file nope.env"))
    );

    let fs = MemFs::new()
        .with("/p/compose.yaml", yaml)
        .with("/p/.env", "OK=1\nBAD LINE\n");
    let d = load(&opts(), &fs).expect_err("bad .env");
    assert_eq!(
        (d.0[0].file.as_str(), d.0[0].line, d.0[0].col),
        (".env", 2, 1)
    );
}

#[test]
fn service_env_file() {
    let yaml = "services:\n  a:\n    image: x\n    env_file:\n      - common.env\n      - path: ./local.env\n        required: false\n      - path: override.env\n    environment:\n      WIN: env\n";
    let l = load_files(
        &[
            ("/p/compose.yaml", yaml),
            ("/p/common.env", "A=1\nWIN=file\nB=${TAG:-t}\n"),
            ("/p/override.env", "A=2\n"),
        ],
        opts(),
    );
    let env: Vec<(&str, &str)> = l.stack.services["a"]
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, vec![("A", "2"), ("WIN", "env"), ("B", "t")]);

    let fs = MemFs::new().with(
        "/p/compose.yaml",
        "services:\n  a:\n    image: x\n    env_file: missing.env\n",
    );
    let d = load(&opts(), &fs).expect_err("missing");
    assert_eq!((d.0[0].line, d.0[0].col), (4, 15));
    assert!(
        d.0[0]
            .message
            .contains("cannot read env file /p/missing.env")
    );
}

#[test]
fn profiles_select_services() {
    let yaml = "services:\n  app:\n    image: a\n  debug:\n    image: d\n    profiles: [dev]\n  tools:\n    image: t\n    profiles: [ops, dev]\n";
    let l = load_files(&[("/p/compose.yaml", yaml)], opts());
    assert_eq!(l.stack.services.keys().collect::<Vec<_>>(), vec!["app"]);
    let mut o = opts();
    o.profiles = vec!["ops".into()];
    let l = load_files(&[("/p/compose.yaml", yaml)], o);
    assert_eq!(
        l.stack.services.keys().collect::<Vec<_>>(),
        vec!["app", "tools"]
    );
    let mut o = opts();
    o.env.insert("COMPOSE_PROFILES".into(), "dev".into());
    let l = load_files(&[("/p/compose.yaml", yaml)], o);
    assert_eq!(
        l.stack.services.keys().collect::<Vec<_>>(),
        vec!["app", "debug", "tools"]
    );
    let mut o = opts();
    o.profiles = vec!["*".into()];
    assert_eq!(
        load_files(&[("/p/compose.yaml", yaml)], o)
            .stack
            .services
            .len(),
        3
    );

    let dep = "services:\n  app:\n    image: a\n    depends_on: [debug]\n  debug:\n    image: d\n    profiles: [dev]\n";
    let fs = MemFs::new().with("/p/compose.yaml", dep);
    let d = load(&opts(), &fs).expect_err("disabled dependency");
    assert_eq!((d.0[0].line, d.0[0].col), (4, 18));
    assert_eq!(
        d.0[0].hint.as_deref(),
        Some("activate it with --profile dev")
    );
    let optional = "services:\n  app:\n    image: a\n    depends_on:\n      debug:\n        condition: service_started\n        required: false\n  debug:\n    image: d\n    profiles: [dev]\n";
    let l = load_files(&[("/p/compose.yaml", optional)], opts());
    assert!(l.stack.services["app"].depends_on.is_empty());
}

#[test]
fn project_name_precedence() {
    let yaml = "name: FromFile\nservices:\n  a:\n    image: x\n";
    let plain = "services:\n  a:\n    image: x\n";
    let mut o = opts();
    o.project_name = Some("Cli.Name!".into());
    assert_eq!(
        load_files(&[("/p/compose.yaml", yaml)], o).stack.name,
        "cliname"
    );
    assert_eq!(
        load_files(&[("/p/compose.yaml", yaml)], opts()).stack.name,
        "fromfile"
    );
    let mut o = opts();
    o.env
        .insert("COMPOSE_PROJECT_NAME".into(), "envname".into());
    assert_eq!(
        load_files(&[("/p/compose.yaml", plain)], o).stack.name,
        "envname"
    );
    let mut o = opts();
    o.working_dir = "/home/u/My App".into();
    assert_eq!(
        load_files(&[("/home/u/My App/compose.yaml", plain)], o)
            .stack
            .name,
        "myapp"
    );
    let mut o = opts();
    o.project_name = Some("!!!".into());
    let fs = MemFs::new().with("/p/compose.yaml", plain);
    assert!(load(&o, &fs).is_err());
}
