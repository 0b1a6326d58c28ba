use super::compile::{MAX_INSNS, compile, encode};
use super::profile::{Action, Cond, Host, Op, Policy, ProfileError, check, parse, resolve};
use super::*;

fn caps(extra: &[&str]) -> Vec<String> {
    let mut c = crate::runtime::docker_default_capabilities();
    c.extend(extra.iter().map(|s| s.to_string()));
    c
}

fn default_policy(caps: &[String]) -> Policy {
    let p = parse(DEFAULT_PROFILE).expect("the shipped profile parses");
    resolve(
        &p,
        &Host {
            caps,
            kernel: (6, 1),
        },
    )
    .expect("resolves")
}

fn rules_for<'a>(p: &'a Policy, name: &str) -> Vec<&'a profile::Rule> {
    p.rules.iter().filter(|r| r.name == name).collect()
}

#[test]
fn the_default_profile_is_an_allow_list_with_eperm() {
    let p = default_policy(&caps(&[]));
    assert_eq!(p.default, Action::Errno(libc::EPERM as u32));
    let read = rules_for(&p, "read");
    assert_eq!(read.len(), 1);
    assert_eq!((read[0].nr, read[0].action), (0, Action::Allow));
    assert!(read[0].conds.is_empty());
    assert!(
        rules_for(&p, "unshare").is_empty(),
        "unshare needs CAP_SYS_ADMIN"
    );
    assert!(rules_for(&p, "mount").is_empty());
    // Other architectures' calls are skipped, not errors.
    assert!(rules_for(&p, "chown32").is_empty());
    assert!(
        !rules_for(&p, "arch_prctl").is_empty(),
        "amd64-only rule applies"
    );
    assert!(
        rules_for(&p, "set_tls").is_empty(),
        "arm-only rule does not"
    );
}

#[test]
fn capability_rules_follow_the_containers_capabilities() {
    let plain = default_policy(&caps(&[]));
    let admin = default_policy(&caps(&["CAP_SYS_ADMIN"]));
    // clone3: ENOSYS without CAP_SYS_ADMIN, so glibc falls back to clone.
    let c3 = rules_for(&plain, "clone3");
    assert_eq!(c3.len(), 1);
    assert_eq!(c3[0].action, Action::Errno(libc::ENOSYS as u32));
    let c3 = rules_for(&admin, "clone3");
    assert_eq!(c3.len(), 1);
    assert_eq!(c3[0].action, Action::Allow);
    // clone: namespace flags masked out without CAP_SYS_ADMIN, free with it.
    let clone = rules_for(&plain, "clone");
    assert_eq!(clone.len(), 1);
    assert_eq!(
        clone[0].conds,
        vec![Cond {
            index: 0,
            op: Op::MaskedEq(0x7E02_0000),
            value: 0
        }]
    );
    assert!(
        rules_for(&admin, "clone")
            .iter()
            .any(|r| r.conds.is_empty())
    );
    assert!(!rules_for(&admin, "unshare").is_empty());
    assert!(!rules_for(&admin, "mount").is_empty());
    // ptrace: with CAP_SYS_PTRACE, or on kernels >= 4.8 (minKernel).
    assert!(!rules_for(&plain, "ptrace").is_empty());
    let old = resolve(
        &parse(DEFAULT_PROFILE).unwrap(),
        &Host {
            caps: &caps(&[]),
            kernel: (4, 4),
        },
    )
    .unwrap();
    assert!(rules_for(&old, "ptrace").is_empty());
    assert!(rules_for(&plain, "reboot").is_empty());
    assert!(!rules_for(&default_policy(&caps(&["CAP_SYS_BOOT"])), "reboot").is_empty());
}

#[test]
fn personality_is_allowed_for_listed_values_only() {
    let p = default_policy(&caps(&[]));
    let values: Vec<u64> = rules_for(&p, "personality")
        .iter()
        .map(|r| {
            assert_eq!(r.conds.len(), 1);
            assert_eq!(r.conds[0].op, Op::Eq);
            r.conds[0].value
        })
        .collect();
    assert_eq!(values, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
}

#[test]
fn the_default_filter_is_one_program_within_the_kernel_limit() {
    for extra in [&[][..], &["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"][..]] {
        let prog = compile(&default_policy(&caps(extra))).unwrap().unwrap();
        assert!(prog.len() <= MAX_INSNS, "{} instructions", prog.len());
        let f = Filters::decode(&encode(std::slice::from_ref(&prog))).unwrap();
        assert_eq!(f.instructions(), prog.len());
    }
}

#[test]
fn an_allow_by_default_profile_has_only_its_deny_rules() {
    let text = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
        {"name":"rmdir","action":"SCMP_ACT_ALLOW"}]}"#;
    check(text).unwrap();
    let p = resolve(
        &parse(text).unwrap(),
        &Host {
            caps: &[],
            kernel: (6, 1),
        },
    )
    .unwrap();
    assert_eq!(p.rules[0].action, Action::Errno(libc::EPERM as u32));
    assert!(compile(&p).unwrap().is_some());
    let none = r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;
    assert_eq!(
        compile_for(&Seccomp::Profile(none.into()), &[], (6, 1)).unwrap(),
        None
    );
}

#[test]
fn bad_profiles_are_refused_with_a_reason() {
    match check("{\n  \"defaultAction\": 3\n}") {
        Err(ProfileError::Json { line: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        check(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mkdri"],"action":"SCMP_ACT_ALLOW"}]}"#
        ),
        Err(ProfileError::UnknownSyscall("mkdri".into()))
    );
    let e = check(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown action"), "{e}");
    let e = check(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#).unwrap_err();
    assert!(e.to_string().contains("index 6"), "{e}");
    let e = check(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]}"#).unwrap_err();
    assert!(e.to_string().contains("unknown operator"), "{e}");
    check(DEFAULT_PROFILE).unwrap();
}

#[test]
fn the_cache_compiles_once_per_profile_and_capability_set() {
    let dir = std::env::temp_dir().join(format!("rstack-seccomp-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = FilterCache::new(dir.clone());
    let a = cache.filter_for(&Seccomp::Default, &caps(&[])).unwrap();
    let a = a.expect("a filter file");
    assert!(a.starts_with(&dir));
    std::fs::remove_file(&a).unwrap();
    // Served from memory: not written again.
    assert_eq!(
        cache.filter_for(&Seccomp::Default, &caps(&[])).unwrap(),
        Some(a.clone())
    );
    assert!(!a.exists());
    let b = cache
        .filter_for(&Seccomp::Default, &caps(&["CAP_SYS_ADMIN"]))
        .unwrap()
        .unwrap();
    assert_ne!(a, b);
    assert!(Filters::read(&b).is_ok());
    assert_eq!(cache.filter_for(&Seccomp::Unconfined, &[]).unwrap(), None);
    let _ = std::fs::remove_dir_all(&dir);
}
