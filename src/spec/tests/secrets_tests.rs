//! `secrets:` / `configs:`: sources read into the model, targets, owners and modes, and every
//! error at its file:line:col.

use super::opts;
use crate::model::FileMount;
use crate::spec::{Diagnostics, LoadOptions, Loaded, MemFs, load};

fn reading() -> LoadOptions {
    let mut o = opts();
    o.read_secrets = true;
    o.env.insert("PW".into(), "from-env".into());
    o
}

fn load_with(yaml: &str, fs: MemFs, o: &LoadOptions) -> Result<Loaded, Diagnostics> {
    load(o, &fs.with("/p/compose.yaml", yaml))
}

fn errs(yaml: &str, fs: MemFs) -> Vec<(String, u32, u32)> {
    match load_with(yaml, fs, &reading()) {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(d) => d
            .errors()
            .map(|e| (e.message.clone(), e.line, e.col))
            .collect(),
    }
}

const STACK: &str = "services:
  a:
    image: busybox
    secrets:
      - pw
      - source: token
        target: tok
        uid: \"100\"
        gid: \"101\"
        mode: 0400
    configs:
      - source: conf
        target: /etc/app.conf
        mode: 0440
      - conf
secrets:
  pw:
    environment: PW
  token:
    file: ./token.txt
configs:
  conf:
    content: |
      x=1
";

#[test]
fn sources_targets_owners_and_modes_reach_the_model() {
    let fs = MemFs::new().with("/p/token.txt", "t0k");
    let l = load_with(STACK, fs, &reading()).unwrap_or_else(|d| panic!("{d}"));
    assert!(
        !l.warnings
            .iter()
            .any(|w| w.message.contains("not supported")),
        "{:?}",
        l.warnings
    );
    let a = &l.stack.services["a"];
    assert_eq!(
        a.secrets,
        vec![
            FileMount {
                source: "pw".into(),
                target: "/run/secrets/pw".into(),
                data: b"from-env".to_vec(),
                ..Default::default()
            },
            FileMount {
                source: "token".into(),
                target: "/run/secrets/tok".into(),
                uid: Some(100),
                gid: Some(101),
                mode: Some(0o400),
                data: b"t0k".to_vec(),
            },
        ]
    );
    assert_eq!(a.configs[0].target, "/etc/app.conf");
    assert_eq!(a.configs[0].mode, Some(0o440));
    assert_eq!(a.configs[0].data, b"x=1\n");
    assert_eq!(a.configs[1].target, "/conf");
}

#[test]
fn config_does_not_read_sources_as_compose_does() {
    // `docker compose config` prints a stack whose secret file is missing.
    let l = load_with(STACK, MemFs::new(), &opts()).unwrap_or_else(|d| panic!("{d}"));
    let a = &l.stack.services["a"];
    assert_eq!(a.secrets.len(), 2);
    assert!(a.secrets[1].data.is_empty());
}

#[test]
fn missing_file_and_unset_variable_are_errors_at_their_keys() {
    let yaml = STACK.replace("environment: PW", "environment: NOPE");
    let e = errs(&yaml, MemFs::new());
    assert_eq!(
        e,
        vec![
            (
                "secrets.pw: environment variable \"NOPE\" is not set".to_string(),
                18,
                18
            ),
            (
                "secrets.token: secret file token.txt not found".to_string(),
                20,
                11
            ),
        ]
    );
}

#[test]
fn undefined_exclusive_external_and_bad_values_are_errors() {
    let e = errs(
        "services:\n  a:\n    image: i\n    secrets: [pws, ext]\nsecrets:\n  pw:\n    file: x\n    environment: Y\n  ext:\n    external: true\n",
        MemFs::new(),
    );
    let msgs: Vec<&str> = e.iter().map(|(m, _, _)| m.as_str()).collect();
    assert_eq!(e[0].0, "secrets.pw: file and environment are exclusive");
    assert_eq!((e[0].1, e[0].2), (8, 5));
    assert!(
        msgs.contains(&"services.a.secrets[0]: undefined secret \"pws\""),
        "{msgs:?}"
    );
    assert!(
        e.iter().any(
            |(m, l, c)| m.starts_with("secrets.ext: external secrets are not supported")
                && (*l, *c) == (10, 5)
        ),
        "{e:?}"
    );
    let e = errs(
        "services:\n  a:\n    image: i\n    configs:\n      - source: c\n        mode: rw\n        uid: root\n        size: 1\nconfigs:\n  c:\n    content: x\n",
        MemFs::new(),
    );
    let msgs: Vec<&str> = e.iter().map(|(m, _, _)| m.as_str()).collect();
    assert!(
        msgs.contains(&"services.a.configs[0].mode: invalid mode \"rw\""),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"services.a.configs[0].uid: invalid id \"root\""),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"services.a.configs[0]: unknown key \"size\""),
        "{msgs:?}"
    );
}

#[test]
fn modes_read_as_go_reads_integers() {
    use crate::spec::secrets::go_int;
    assert_eq!(go_int("0440"), Some(0o440));
    assert_eq!(go_int("0o440"), Some(0o440));
    assert_eq!(go_int("288"), Some(288));
    assert_eq!(go_int("0"), Some(0));
    assert_eq!(go_int("089"), None);
}
