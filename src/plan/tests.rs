//! Unit tests for hashing, container configs and the convergence diff.

use super::*;
use crate::model::{Resources, Service, Tmpfs};
use std::path::{Path, PathBuf};

pub(crate) fn service(name: &str) -> Service {
    Service::new(name, "busybox:latest")
}

fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ResolvedImage {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    ResolvedImage {
        id: "sha256:abc".into(),
        reference: "busybox:latest".into(),
        layers: vec![PathBuf::from("/l2"), PathBuf::from("/l1")],
        config: ImageConfig {
            entrypoint: entrypoint.map(v),
            cmd: cmd.map(v),
            env: vec!["PATH=/bin".into(), "A=image".into()],
            ..Default::default()
        },
    }
}

fn cfg(svc: &Service, img: &ResolvedImage) -> crate::runtime::config::ContainerConfig {
    let who = ContainerIdentity {
        id: "0123456789abcdef",
        project: "p",
        name: "p-api-1",
        state_dir: Path::new("/data/c/0123"),
    };
    container_config(&who, svc, img, None).expect("config")
}

#[test]
fn hash_ignores_depends_on_and_env_order_but_not_values() {
    let mut a = service("api");
    a.environment.insert("X".into(), "1".into());
    a.environment.insert("Y".into(), "2".into());
    let mut b = service("api");
    b.environment.insert("Y".into(), "2".into());
    b.environment.insert("X".into(), "1".into());
    b.depends_on.insert(
        "db".into(),
        crate::model::Dependency {
            condition: crate::model::DependCondition::ServiceStarted,
            required: true,
            restart: false,
        },
    );
    assert_eq!(config_hash(&a, "sha256:1"), config_hash(&b, "sha256:1"));
    assert_ne!(config_hash(&a, "sha256:1"), config_hash(&a, "sha256:2"));
    b.environment.insert("X".into(), "changed".into());
    assert_ne!(config_hash(&a, "sha256:1"), config_hash(&b, "sha256:1"));
}

#[test]
fn argv_follows_docker_entrypoint_rules() {
    let img = image(Some(&["/entry"]), Some(&["serve"]));
    let mut svc = service("api");
    assert_eq!(cfg(&svc, &img).process.args, ["/entry", "serve"]);
    svc.command = Some(vec!["run".into()]);
    assert_eq!(cfg(&svc, &img).process.args, ["/entry", "run"]);
    svc.command = None;
    svc.entrypoint = Some(vec!["/other".into()]);
    // An entrypoint override drops the image's CMD.
    assert_eq!(cfg(&svc, &img).process.args, ["/other"]);
}

#[test]
fn no_command_is_an_error_naming_the_service() {
    let img = image(None, None);
    let who = ContainerIdentity {
        id: "x",
        project: "p",
        name: "p-api-1",
        state_dir: Path::new("/s"),
    };
    let err = container_config(&who, &service("api"), &img, None).unwrap_err();
    assert!(err.to_string().contains("service \"api\""), "{err}");
}

#[test]
fn logging_reaches_the_runtime_and_is_absent_where_unset() {
    use crate::model::{LogDriver, Logging};
    let img = image(None, Some(&["sh"]));
    let mut svc = service("api");
    // Unset: nothing new in the hashed service nor in config.json (no recreate on upgrade).
    let json = serde_json::to_string(&svc).expect("json");
    assert!(!json.contains("logging"), "{json}");
    let c = cfg(&svc, &img);
    assert!(c.log.is_default());
    assert!(!serde_json::to_string(&c).expect("json").contains("\"log\""));
    svc.logging = Some(Logging {
        driver: LogDriver::Local,
        max_size: Some(10_000_000),
        max_file: Some(3),
    });
    let c = cfg(&svc, &img);
    assert_eq!(
        (c.log.disabled, c.log.max_size, c.log.max_file),
        (false, Some(10_000_000), Some(3))
    );
    svc.logging = Some(Logging {
        driver: LogDriver::None,
        max_size: None,
        max_file: None,
    });
    assert!(cfg(&svc, &img).log.disabled);
}

#[test]
fn env_limits_and_mounts_are_translated() {
    let img = image(None, Some(&["sh"]));
    let mut svc = service("api");
    svc.environment.insert("A".into(), "svc".into());
    svc.resources = Resources {
        memory: Some(512 * 1024 * 1024),
        cpus: Some(1.5),
        pids: Some(64),
        memory_reservation: Some(1 << 24),
        cpus_reservation: Some(0.5),
    };
    svc.tmpfs.push(Tmpfs {
        target: "/run".into(),
        size: Some(65536),
        mode: Some(0o1777),
    });
    let c = cfg(&svc, &img);
    assert_eq!(c.process.env, ["PATH=/bin", "A=svc"]);
    assert_eq!(c.resources.memory, Some(536870912));
    assert_eq!(c.resources.cpu_quota, Some(150_000));
    assert_eq!(c.resources.cpu_period, Some(100_000));
    assert_eq!(c.resources.pids, Some(64));
    // The soft limit reaches the runtime; a CPU reservation (swarm only) does not.
    assert_eq!(c.resources.memory_reservation, Some(16777216));
    assert_eq!(c.hostname, "0123456789ab");
    assert_eq!(c.root.layers, [PathBuf::from("/l2"), PathBuf::from("/l1")]);
    assert!(c.mounts[0].options.contains(&"mode=1777".to_string()));
    assert!(c.mounts[0].options.contains(&"size=65536".to_string()));
}

#[test]
fn diff_keeps_unchanged_and_recreates_changed() {
    let desired = vec![
        Desired {
            service: "a".into(),
            hash: "1".into(),
            replicas: 1,
        },
        Desired {
            service: "b".into(),
            hash: "2".into(),
            replicas: 1,
        },
        Desired {
            service: "c".into(),
            hash: "3".into(),
            replicas: 1,
        },
        Desired {
            service: "d".into(),
            hash: "4".into(),
            replicas: 1,
        },
    ];
    let observed = vec![
        Observed {
            id: "ia".into(),
            service: "a".into(),
            hash: "1".into(),
            running: true,
            number: 1,
        },
        Observed {
            id: "ib".into(),
            service: "b".into(),
            hash: "old".into(),
            running: true,
            number: 1,
        },
        Observed {
            id: "ic".into(),
            service: "c".into(),
            hash: "3".into(),
            running: false,
            number: 1,
        },
        Observed {
            id: "io".into(),
            service: "gone".into(),
            hash: "x".into(),
            running: true,
            number: 1,
        },
    ];
    let acts = diff(&desired, &observed, false, false);
    assert_eq!(
        acts,
        vec![
            Action::Keep {
                service: "a".into(),
                id: "ia".into()
            },
            Action::Recreate {
                service: "b".into(),
                old: "ib".into(),
                number: 1
            },
            Action::Start {
                service: "c".into(),
                id: "ic".into()
            },
            Action::Create {
                service: "d".into(),
                number: 1
            },
        ]
    );
    assert_eq!(orphans(&desired, &observed).len(), 1);
    let acts = diff(&desired, &observed, true, true);
    assert!(matches!(acts[0], Action::Recreate { .. }));
    assert_eq!(acts.last(), Some(&Action::RemoveOrphan { id: "io".into() }));
}

#[test]
fn security_options_reach_the_container_config() {
    use crate::model::SeccompProfile;
    use crate::runtime::config::Seccomp;
    let img = image(None, Some(&["sh"]));
    let mut svc = service("api");
    let plain = cfg(&svc, &img);
    assert_eq!(plain.seccomp, Seccomp::Default);
    assert!(plain.process.no_new_privileges);
    // The default leaves config.json (and stored records) as they were.
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("seccomp"), "{json}");
    let hash = config_hash(&svc, "sha256:abc");
    svc.seccomp = Some(SeccompProfile::Unconfined);
    svc.no_new_privileges = Some(false);
    let c = cfg(&svc, &img);
    assert_eq!(c.seccomp, Seccomp::Unconfined);
    assert!(!c.process.no_new_privileges);
    assert_ne!(config_hash(&svc, "sha256:abc"), hash);
    svc.seccomp = Some(SeccompProfile::Json("{}".into()));
    assert_eq!(cfg(&svc, &img).seccomp, Seccomp::Profile("{}".into()));
}

#[test]
fn stdin_open_and_tty_make_an_attachable_container() {
    let img = image(None, Some(&["sh"]));
    let mut svc = service("api");
    let plain = cfg(&svc, &img);
    assert!(!plain.process.stdin && !plain.process.attachable);
    assert_eq!(plain.process.tty, None);
    // Left out of config.json and of the hash when unused: no recreate after an upgrade.
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("attachable"), "{json}");
    let hash = config_hash(&svc, "sha256:abc");
    let svc_json = serde_json::to_string(&svc).unwrap();
    assert!(
        !svc_json.contains("stdin_open") && !svc_json.contains("tty"),
        "{svc_json}"
    );
    svc.options.stdin_open = true;
    let c = cfg(&svc, &img);
    assert!(c.process.stdin && c.process.attachable);
    assert_eq!(c.process.tty, None);
    assert_ne!(config_hash(&svc, "sha256:abc"), hash);
    svc.options.stdin_open = false;
    svc.options.tty = true;
    let c = cfg(&svc, &img);
    assert!(!c.process.stdin && c.process.attachable);
    assert_eq!(c.process.tty, Some((24, 80)));
}
