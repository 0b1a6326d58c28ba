//! docker/compose's own e2e fixtures (pkg/e2e/testdata, in the shared corpus) run through the
//! real binary with the expectations of their upstream tests (pkg/e2e/*_test.go), adapted to
//! the local busybox image: `image: alpine` becomes `busybox:test`, and the project is named
//! in the file. Root only; each Env takes its project down when dropped, even on failure.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Output;

/// The fixture of upstream test `test`, for project `p`; `None` (skipped, or failed under
/// CI) when the corpus is absent.
fn fixture(test: &str, p: &str) -> Option<String> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/compat/compose"
    ))
    .join(format!(
        "docker__compose__pkg__e2e__testdata__{test}__compose.yaml"
    ));
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var_os("RSTACK_REQUIRE_ROOT_TESTS").is_none(),
            "{} missing",
            path.display()
        );
        eprintln!("skipping {test}: {} missing", path.display());
        return None;
    };
    Some(format!(
        "name: {p}\n{}",
        text.replace("image: alpine", "image: busybox:test")
    ))
}

fn setup_fixture(tag: &str, test: &str) -> Option<(Env, String)> {
    let (env, p) = setup(tag)?;
    let yaml = fixture(test, &p)?;
    env.write("compose.yaml", &yaml);
    Some((env, p))
}

/// Runs rstack to its end; one that never returns is killed after two minutes (a hang guard,
/// not a timing check) and fails the test.
fn finish(env: &Env, args: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = env.run_guarded(&format!("rstack {args:?}"), args, 120);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn state(env: &Env, p: &str, service: &str) -> String {
    env.state_of(p, service)
}

/// cascade_test.go TestCascadeFail: clean exits are let be, the failure aborts with its code.
#[test]
fn cascade_fail() {
    let Some((env, p)) = setup_fixture("e2ecascade", "TestCascadeFail") else {
        return;
    };
    let (code, stdout, stderr) = finish(&env, &["up", "--abort-on-container-failure"]);
    assert_eq!(code, Some(111), "{stdout}{stderr}");
    assert!(stdout.contains("exit-1 exited with code 0"), "{stdout}");
    assert!(stdout.contains("fail-1 exited with code 111"), "{stdout}");
    assert_eq!(state(&env, &p, "running"), "exited");
}

/// compose_up_test.go TestUpWait: `up --wait -d` returns once the one-shot completed and the
/// long-running service runs.
#[test]
fn up_wait() {
    let Some((env, p)) = setup_fixture("e2ewait", "TestUpWait") else {
        return;
    };
    let (code, stdout, stderr) = finish(&env, &["up", "--wait", "-d"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains(&format!("{p}-oneshot-1")),
        "{stdout}{stderr}"
    );
    assert_eq!(state(&env, &p, "longrunning"), "running");
    assert_eq!(state(&env, &p, "oneshot"), "exited");
}

/// compose_test.go TestInitContainer: the init container's output comes before its
/// dependent's. Upstream matches `foo-1  | hello ... bar-1  | world`; rstack prefixes a
/// one-replica service's lines with the service alone (`foo  | hello`).
#[test]
fn init_container() {
    let Some((env, _p)) = setup_fixture("e2einit", "TestInitContainer") else {
        return;
    };
    let (code, stdout, stderr) = finish(&env, &["up"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let hello = stdout.find("| hello").unwrap_or_else(|| panic!("{stdout}"));
    let world = stdout.find("| world").unwrap_or_else(|| panic!("{stdout}"));
    assert!(hello < world, "{stdout}");
    let line = |needle: &str| {
        stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("| hello").starts_with("foo"), "{stdout}");
    assert!(line("| world").starts_with("bar"), "{stdout}");
}

/// up_test.go TestUpWithDependencyExit: a dependency that exits is reported as exited, with
/// its code, and its dependent is left created.
#[test]
fn up_with_dependency_exit() {
    let Some((env, p)) = setup_fixture("e2edepexit", "TestUpWithDependencyExit") else {
        return;
    };
    let (code, stdout, stderr) = finish(&env, &["up", "-d"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let want = format!("dependency failed to start: container {p}-db-1 exited (1)");
    assert!(
        format!("{stdout}{stderr}").contains(&want),
        "{stdout}{stderr}"
    );
    assert_eq!(state(&env, &p, "web"), "created");
}

/// up_test.go TestUpServiceUnhealthy: `up -d` fails naming the unhealthy container, and its
/// dependent is left created.
#[test]
fn up_service_unhealthy() {
    let Some((env, p)) = setup_fixture("e2eunhealthy", "TestUpServiceUnhealthy") else {
        return;
    };
    let (code, stdout, stderr) = finish(&env, &["up", "-d"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let want = format!("container {p}-fail-1 is unhealthy");
    assert!(
        format!("{stdout}{stderr}").contains(&want),
        "{stdout}{stderr}"
    );
    assert_eq!(state(&env, &p, "depends"), "created");
}

/// The containers of `service` in project `p`, by name.
fn replicas(env: &Env, p: &str, service: &str) -> Vec<String> {
    let mut names: Vec<String> = env
        .ps_json(p)
        .iter()
        .filter(|r| r["service"] == service)
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// healthcheck_test.go TestStartInterval. Upstream rejects `start_interval` without
/// `start_period`; rstack keeps accepting it (probing at start_interval from the start) and
/// warns, at the key's file:line:col, that docker compose rejects the file. The service with
/// both turns healthy (upstream: within 30 s, well before the 30 s interval; no time asserted
/// here).
#[test]
fn start_interval() {
    let Some((env, p)) = setup_fixture("e2estartiv", "TestStartInterval") else {
        return;
    };
    let (code, stdout, stderr) = finish(&env, &["up", "--wait", "-d", "error"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("compose.yaml:")
            && stderr.contains(
                "docker compose rejects this file (\"healthcheck.start_interval requires healthcheck.start_period to be set\")"
            ),
        "{stderr}"
    );
    let (code, stdout, stderr) = finish(&env, &["up", "--wait", "-d", "test"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(state(&env, &p, "test"), "running");
    let rows = env.ps_json(&p);
    assert_eq!(env.service(&rows, "test")["health"], "healthy", "{rows:?}");
}

/// hooks_test.go TestPostStartAndPreStopHook: post_start and pre_stop hooks in one project
/// do not get in the way of `up`; both services run.
#[test]
fn post_start_and_pre_stop_hook() {
    let Some((env, p)) = setup_fixture("e2ehooks", "TestPostStartAndPreStopHook") else {
        return;
    };
    let (code, stdout, stderr) = finish(&env, &["up", "-d"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(state(&env, &p, "sample"), "running");
    assert_eq!(state(&env, &p, "test"), "running");
}

/// scale_test.go TestScaleBasicCases: `deploy.replicas` (zero included) honoured by `up`,
/// then `scale` up, down, to zero and for two services at once.
#[test]
fn scale_basic_cases() {
    let Some((env, p)) = setup_fixture("e2escale", "TestScaleBasicCases") else {
        return;
    };
    let count = |s: &str| replicas(&env, &p, s).len();
    let (code, stdout, stderr) = finish(&env, &["up", "-d"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        (count("back"), count("db"), count("front"), count("dbadmin")),
        (1, 1, 2, 0)
    );
    env.ok(&["scale", "dbadmin=2"]);
    assert_eq!(count("dbadmin"), 2);
    env.ok(&["scale", "front=3", "back=2"]);
    assert_eq!((count("front"), count("back")), (3, 2));
    env.ok(&["scale", "dbadmin=1"]);
    assert_eq!(count("dbadmin"), 1);
    env.ok(&["scale", "dbadmin=0"]);
    assert_eq!(count("dbadmin"), 0);
    env.ok(&["scale", "front=2", "back=1"]);
    assert_eq!(
        replicas(&env, &p, "front"),
        [format!("{p}-front-1"), format!("{p}-front-2")]
    );
    assert_eq!(count("back"), 1);
}

/// up_test.go TestUpProfile: `up` of a profiled service starts it and its dependency, not its
/// profile sibling. busybox:test has no default command (alpine's is a shell that exits at
/// once on a closed stdin): the services get `true`.
#[test]
fn up_profile() {
    let Some((env, p)) = setup_fixture("e2eprofile", "TestUpProfile") else {
        return;
    };
    let yaml = fixture("TestUpProfile", &p).unwrap_or_default().replace(
        "image: busybox:test",
        "image: busybox:test\n    command: [\"true\"]",
    );
    env.write("compose.yaml", &yaml);
    let (code, stdout, stderr) = finish(&env, &["up", "foo"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(state(&env, &p, "foo"), "exited");
    assert_eq!(state(&env, &p, "db"), "exited");
    assert!(replicas(&env, &p, "bar").is_empty());
}

/// up_test.go TestUpWithDependencyNotRequired: an optional dependency that fails (here: no
/// healthcheck for `service_healthy`) is reported in compose's words and its dependent runs.
/// `image: bash` becomes busybox:test too.
#[test]
fn up_with_dependency_not_required() {
    let Some((env, p)) = setup_fixture("e2eoptdep", "TestUpWithDependencyNotRequired") else {
        return;
    };
    let yaml = fixture("TestUpWithDependencyNotRequired", &p)
        .unwrap_or_default()
        .replace("image: bash", "image: busybox:test");
    env.write("compose.yaml", &yaml);
    let (code, stdout, stderr) = finish(&env, &["--profile", "not-required", "up", "-d"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("foo"), "{all}");
    assert!(
        all.contains("optional dependency \"bar\" failed to start"),
        "{all}"
    );
}
