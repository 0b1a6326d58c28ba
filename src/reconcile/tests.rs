//! Reconciler tests against the fake runtime, under paused time.

use super::engine::ImageSource;
use super::fake::FakeRuntime;
use super::fake_state::MemState;
use super::*;
use crate::model::{
    DependCondition, Dependency, HealthTest, Healthcheck, RestartPolicy, Service, Stack,
};
use crate::plan::{ImageConfig, ResolvedImage};
use crate::store::State;
use indexmap::IndexMap;
use std::sync::Arc;
use std::time::Duration;

struct Images;

impl ImageSource for Images {
    async fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageSourceError> {
        if reference == "missing:1" {
            return Err(ImageSourceError::NotFound {
                reference: reference.into(),
            });
        }
        Ok(ResolvedImage {
            id: format!("sha256:{reference}"),
            reference: reference.into(),
            layers: vec![],
            config: ImageConfig::default(),
        })
    }
}

type TestEngine = Engine<Arc<FakeRuntime>, Images>;

fn engine() -> (Arc<TestEngine>, Arc<FakeRuntime>) {
    let rt = FakeRuntime::new();
    let store = Arc::new(MemState::default());
    let e = Engine::new(Arc::new(rt.clone()), Images, store, "/nonexistent".into());
    (Arc::new(e), rt)
}

fn svc(name: &str, args: &[&str]) -> Service {
    let mut s = crate::plan::tests::service(name);
    s.hostname = Some(name.into());
    s.command = Some(args.iter().map(|a| a.to_string()).collect());
    s
}

fn dep(s: &mut Service, on: &str, condition: DependCondition) {
    s.depends_on.insert(
        on.into(),
        Dependency {
            condition,
            required: true,
            restart: false,
        },
    );
}

fn stack(name: &str, services: Vec<Service>) -> Stack {
    let mut map = IndexMap::new();
    for s in services {
        map.insert(s.name.clone(), s);
    }
    Stack {
        name: name.into(),
        working_dir: "/".into(),
        services: map,
        ..Default::default()
    }
}

fn up_req(stack: Stack) -> UpRequest {
    UpRequest {
        stack,
        services: vec![],
        wait: false,
        force_recreate: false,
        remove_orphans: false,
        no_start: false,
        no_recreate: false,
        always_recreate_deps: false,
        wait_timeout: None,
        renew_anon_volumes: false,
        dry_run: false,
        no_deps: false,
        stop_timeout: None,
    }
}

fn healthcheck() -> Healthcheck {
    Healthcheck {
        test: HealthTest::Shell("true".into()),
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(1),
        retries: 2,
        start_period: Duration::ZERO,
        start_interval: Duration::from_millis(200),
    }
}

fn record(e: &TestEngine, service: &str) -> crate::store::ContainerRecord {
    e.list(None)
        .expect("list")
        .into_iter()
        .find(|r| r.service == service)
        .expect("container")
}

#[tokio::test(start_paused = true)]
async fn starts_in_order_and_waits_for_health() {
    let (e, rt) = engine();
    let mut db = svc("db", &["run"]);
    db.healthcheck = Some(healthcheck());
    let mut api = svc("api", &["run"]);
    dep(&mut api, "db", DependCondition::ServiceHealthy);
    let web = {
        let mut w = svc("web", &["run"]);
        dep(&mut w, "api", DependCondition::ServiceStarted);
        w
    };
    let s = stack("p1", vec![web, api, db]);
    let rt2 = rt.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        rt2.set_healthy("db", true);
    });
    let resp = e.up(up_req(s)).await.expect("up");
    assert_eq!(rt.starts(), ["db", "api", "web"]);
    assert_eq!(resp.actions.len(), 3);
    assert_eq!(record(&e, "db").health.as_deref(), Some("healthy"));
}

#[tokio::test(start_paused = true)]
async fn unhealthy_dependency_fails_dependents_only() {
    let (e, rt) = engine();
    let mut db = svc("db", &["run"]);
    db.healthcheck = Some(healthcheck());
    let mut api = svc("api", &["run"]);
    dep(&mut api, "db", DependCondition::ServiceHealthy);
    let other = svc("other", &["run"]);
    let err = e
        .up(up_req(stack("p2", vec![db, api, other])))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("service \"api\"") && msg.contains("unhealthy"),
        "{msg}"
    );
    let mut started = rt.starts();
    started.sort();
    assert_eq!(started, ["db", "other"]);
}

#[tokio::test(start_paused = true)]
async fn always_restarts_with_doubling_backoff() {
    let (e, rt) = engine();
    let mut s = svc("crash", &["exit", "3", "50"]);
    s.restart = RestartPolicy::Always;
    e.up(up_req(stack("p3", vec![s]))).await.expect("up");
    // run 50ms + 100ms delay, 50 + 200, 50 + 400: three restarts within 900ms.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let r = record(&e, "crash");
    assert_eq!(r.restarts, 3, "{r:?}");
    assert_eq!(rt.starts().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn on_failure_stops_after_max_retries_and_external_kill_restarts() {
    let (e, rt) = engine();
    let mut s = svc("flaky", &["exit", "1", "10"]);
    s.restart = RestartPolicy::OnFailure { max_retries: 2 };
    let mut keep = svc("keep", &["run"]);
    keep.restart = RestartPolicy::UnlessStopped;
    e.up(up_req(stack("p4", vec![s, keep]))).await.expect("up");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = record(&e, "flaky");
    assert_eq!(
        (r.restarts, r.state, r.exit_code),
        (2, State::Exited, Some(1))
    );
    let pid = record(&e, "keep").pid.expect("pid");
    rt.crash(pid);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let k = record(&e, "keep");
    assert_eq!((k.state, k.restarts), (State::Running, 1));
    assert_ne!(k.pid, Some(pid));
}

#[tokio::test(start_paused = true)]
async fn up_again_keeps_unchanged_and_recreates_changed() {
    let (e, rt) = engine();
    let a = svc("a", &["run"]);
    let b = svc("b", &["run"]);
    e.up(up_req(stack("p5", vec![a.clone(), b.clone()])))
        .await
        .expect("up");
    let pid_a = record(&e, "a").pid;
    let mut b2 = b.clone();
    b2.environment.insert("NEW".into(), "1".into());
    let resp = e.up(up_req(stack("p5", vec![a, b2]))).await.expect("up 2");
    let acts: Vec<_> = resp
        .actions
        .iter()
        .map(|r| (r.service.as_str(), r.action.as_str()))
        .collect();
    assert!(
        acts.contains(&("a", "running")) && acts.contains(&("b", "recreated")),
        "{acts:?}"
    );
    assert_eq!(
        record(&e, "a").pid,
        pid_a,
        "unchanged service keeps its process"
    );
    assert_eq!(rt.removed(), 1);
}

#[tokio::test(start_paused = true)]
async fn completed_successfully_and_down_in_reverse() {
    let (e, rt) = engine();
    let init = svc("init", &["exit", "0", "300"]);
    let mut app = svc("app", &["run"]);
    dep(
        &mut app,
        "init",
        DependCondition::ServiceCompletedSuccessfully,
    );
    let mut req = up_req(stack("p6", vec![app, init]));
    req.wait = true;
    e.up(req).await.expect("up --wait");
    assert_eq!(record(&e, "init").exit_code, Some(0));
    assert_eq!(record(&e, "app").state, State::Running);
    let removed = e.down("p6", None, &Default::default()).await.expect("down");
    assert_eq!(removed.len(), 2);
    assert_eq!(rt.live(), 0);
    assert!(e.list(Some("p6")).expect("list").is_empty());
    assert!(e.store().project("p6").expect("project").is_none());
}

#[tokio::test(start_paused = true)]
async fn restart_on_unhealthy_is_opt_in() {
    let (e, _rt) = engine();
    let mut s = svc("sick", &["run"]);
    s.healthcheck = Some(healthcheck());
    s.x_rstack.restart_on_unhealthy = true;
    let mut plain = svc("plain", &["run"]);
    plain.healthcheck = Some(healthcheck());
    e.up(up_req(stack("p7", vec![s, plain]))).await.expect("up");
    // retries 2 x interval 30 s while never healthy.
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert!(record(&e, "sick").restarts >= 1);
    let p = record(&e, "plain");
    assert_eq!((p.restarts, p.health.as_deref()), (0, Some("unhealthy")));
}

#[tokio::test(start_paused = true)]
async fn start_failure_and_missing_image_name_the_service() {
    let (e, _rt) = engine();
    let bad = svc("bad", &["nostart"]);
    let err = e
        .up(up_req(stack("p8", vec![bad])))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("p8-bad-1") && err.contains("nostart"), "{err}");
    let mut img = svc("img", &["run"]);
    img.image = "missing:1".into();
    let err = e
        .up(up_req(stack("p9", vec![img])))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("service \"img\"") && err.contains("missing:1"),
        "{err}"
    );
    assert!(
        e.list(Some("p9")).expect("list").is_empty(),
        "nothing started"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_is_manual_and_start_resumes() {
    let (e, rt) = engine();
    let mut s = svc("svc", &["run"]);
    s.restart = RestartPolicy::Always;
    e.up(up_req(stack("p10", vec![s]))).await.expect("up");
    e.stop_services("p10", &[], None).await.expect("stop");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = record(&e, "svc");
    assert_eq!((r.state, r.stopped_by_user), (State::Exited, true));
    e.start_services("p10", &[]).await.expect("start");
    assert_eq!(record(&e, "svc").state, State::Running);
    assert_eq!(rt.starts().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_optional_dependency_that_fails_only_warns() {
    let (e, rt) = engine();
    let mut db = svc("db", &["run"]);
    db.healthcheck = Some(healthcheck());
    let mut api = svc("api", &["run"]);
    api.depends_on.insert(
        "db".into(),
        Dependency {
            condition: DependCondition::ServiceHealthy,
            required: false,
            restart: false,
        },
    );
    let resp = e.up(up_req(stack("p11", vec![db, api]))).await.expect("up");
    assert!(
        resp.warnings.iter().any(|w| w.contains("not required")
            && w.starts_with("optional dependency \"db\" failed to start: ")),
        "{:?}",
        resp.warnings
    );
    assert_eq!(rt.starts(), ["db", "api"], "api starts anyway");
}

#[tokio::test(start_paused = true)]
async fn start_resets_the_restart_count() {
    let (e, rt) = engine();
    let mut s = svc("flaky", &["exit", "1", "10"]);
    s.restart = RestartPolicy::OnFailure { max_retries: 1 };
    e.up(up_req(stack("p12", vec![s]))).await.expect("up");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rt.starts().len(), 2, "one retry");
    e.start_services("p12", &[]).await.expect("start");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rt.starts().len(), 4, "the retry budget is back after start");
}

#[tokio::test(start_paused = true)]
async fn restarting_a_dependency_restarts_dependents_that_ask_for_it() {
    let (e, rt) = engine();
    let db = svc("db", &["run"]);
    let mut api = svc("api", &["run"]);
    api.depends_on.insert(
        "db".into(),
        Dependency {
            condition: DependCondition::ServiceStarted,
            required: true,
            restart: true,
        },
    );
    let mut other = svc("other", &["run"]);
    dep(&mut other, "db", DependCondition::ServiceStarted);
    e.up(up_req(stack("p13", vec![db, api, other])))
        .await
        .expect("up");
    e.restart_services("p13", &["db".to_string()], None)
        .await
        .expect("restart");
    let mut again: Vec<String> = rt.starts()[3..].to_vec();
    again.sort();
    assert_eq!(
        again,
        ["api", "db"],
        "api (restart: true) follows db; other does not"
    );
}

#[tokio::test(start_paused = true)]
async fn a_removed_one_off_leaves_listings_before_its_record_goes() {
    let (e, _rt) = engine();
    let s = stack("p14", vec![svc("job", &["run"])]);
    let rec = e
        .oneoff_record(&s, "job", &["true".to_string()], true, None)
        .await
        .expect("record");
    let h = e.start_oneoff(rec).await.expect("run");
    let id = h.record().id;
    assert_eq!(e.list(Some("p14")).expect("list").len(), 1);
    e.hide_removing(&id);
    assert!(e.list(Some("p14")).expect("list").is_empty(), "hidden");
    assert_eq!(
        e.store().containers(Some("p14")).expect("store").len(),
        1,
        "the record stays until the removal is done"
    );
    e.remove_by_id(&id).await;
    assert!(e.store().containers(Some("p14")).expect("store").is_empty());
    assert!(e.list(Some("p14")).expect("list").is_empty());
}

/// Starts a one-off of `job` in project `p`, then kills it from outside (`kill -9`) and
/// waits until its exit is published.
async fn one_off_killed(
    e: &TestEngine,
    rt: &FakeRuntime,
    p: &str,
    rm: bool,
) -> super::supervisor::Handle {
    let s = stack(p, vec![svc("job", &["run"])]);
    let rec = e
        .oneoff_record(&s, "job", &["sleep".to_string()], rm, None)
        .await
        .expect("record");
    let h = e.start_oneoff(rec).await.expect("run");
    let saved = e.store().containers(Some(p)).expect("store");
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].state, State::Running, "saved once it runs");
    rt.crash(h.record().pid.expect("pid"));
    super::conditions::wait_ready(h.status.clone(), super::conditions::WaitMode::Exited)
        .await
        .expect("exited");
    // The supervisor's write, if any, follows its publication.
    tokio::time::sleep(Duration::from_millis(10)).await;
    h
}

#[tokio::test(start_paused = true)]
async fn a_run_rm_one_off_is_saved_only_while_it_runs() {
    let (e, rt) = engine();
    let h = one_off_killed(&e, &rt, "p15", true).await;
    assert_eq!(
        e.store().containers(Some("p15")).expect("store")[0].state,
        State::Running,
        "the exit is published, not saved: the removal comes next"
    );
    assert_eq!(e.list(Some("p15")).expect("list")[0].state, State::Exited);
    e.remove_by_id(&h.record().id).await;
    assert!(e.list(Some("p15")).expect("list").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_kept_one_off_saves_its_exit() {
    let (e, rt) = engine();
    one_off_killed(&e, &rt, "p16", false).await;
    let saved = e.store().containers(Some("p16")).expect("store");
    assert_eq!(saved[0].state, State::Exited);
    assert_eq!(saved[0].exit_code, Some(137));
}

/// The error of `up` for a one-service stack whose command is `args` (for the API's tests of
/// how an engine error is answered).
pub(crate) async fn up_error(project: &str, args: &[&str]) -> EngineError {
    let (e, _rt) = engine();
    e.up(up_req(stack(project, vec![svc("web", args)])))
        .await
        .expect_err("up must fail")
}

#[tokio::test(start_paused = true)]
async fn a_start_on_a_full_disk_keeps_its_os_error() {
    let err = up_error("p17", &["nospace"]).await;
    let EngineError::Failed(errors) = &err else {
        panic!("not a service failure: {err:?}");
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].service, "web");
    let Cause::Container(ContainerError::Runtime(rt)) = &errors[0].cause else {
        panic!("not a runtime failure: {:?}", errors[0].cause);
    };
    let os = rt.io_error().and_then(|e| e.raw_os_error());
    assert_eq!(os, Some(libc::ENOSPC), "{rt}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("container p17-web-1: writing ") && msg.ends_with("(os error 28)"),
        "{msg}"
    );
}

#[tokio::test(start_paused = true)]
async fn failure_messages_name_the_service_or_container_as_before() {
    let err = up_error("p18", &["nostart"]).await.to_string();
    assert_eq!(
        err,
        "container p18-web-1: exec: \"nostart\": executable file not found"
    );
    // A dependent of a service that failed names itself and the dependency.
    let (e, _rt) = engine();
    let bad = svc("bad", &["nostart"]);
    let mut web = svc("web", &["run"]);
    dep(&mut web, "bad", DependCondition::ServiceStarted);
    let err = e
        .up(up_req(stack("p19", vec![bad, web])))
        .await
        .expect_err("up must fail")
        .to_string();
    assert_eq!(
        err,
        "container p19-bad-1: exec: \"nostart\": executable file not found\n\
         service \"web\": dependency \"bad\" failed to start"
    );
    // A dependency that exits names the dependent and the container.
    let (e, _rt) = engine();
    let once = svc("once", &["exit", "3", "10"]);
    let mut web = svc("web", &["run"]);
    dep(
        &mut web,
        "once",
        DependCondition::ServiceCompletedSuccessfully,
    );
    let err = e
        .up(up_req(stack("p20", vec![once, web])))
        .await
        .expect_err("up must fail")
        .to_string();
    assert_eq!(
        err,
        "service \"web\": container p20-once-1 exited with code 3"
    );
}

/// The service's containers as (name, id, pid), by name.
fn replicas(e: &TestEngine, project: &str, service: &str) -> Vec<(String, String, Option<i32>)> {
    let mut v: Vec<_> = e
        .list(Some(project))
        .expect("list")
        .into_iter()
        .filter(|r| r.service == service && !r.one_off)
        .map(|r| (r.name, r.id, r.pid))
        .collect();
    v.sort();
    v
}

fn names(v: &[(String, String, Option<i32>)]) -> Vec<&str> {
    v.iter().map(|(n, _, _)| n.as_str()).collect()
}

fn scaled(name: &str, n: u32) -> Service {
    let mut s = svc(name, &["run"]);
    s.scale = Some(n);
    s
}

#[tokio::test(start_paused = true)]
async fn scaling_up_adds_replicas_and_keeps_the_running_one() {
    let (e, rt) = engine();
    e.up(up_req(stack("ps1", vec![scaled("web", 1)])))
        .await
        .expect("up");
    let before = replicas(&e, "ps1", "web");
    assert_eq!(names(&before), ["ps1-web-1"]);
    let resp = e
        .up(up_req(stack("ps1", vec![scaled("web", 3)])))
        .await
        .expect("up 3");
    let after = replicas(&e, "ps1", "web");
    assert_eq!(names(&after), ["ps1-web-1", "ps1-web-2", "ps1-web-3"]);
    assert_eq!(after[0], before[0], "replica 1 keeps its id and pid");
    let acts: Vec<_> = resp
        .actions
        .iter()
        .map(|a| (a.container.as_str(), a.action.as_str()))
        .collect();
    assert!(
        acts.contains(&("ps1-web-1", "running"))
            && acts.contains(&("ps1-web-2", "created"))
            && acts.contains(&("ps1-web-3", "created")),
        "{acts:?}"
    );
    assert_eq!(rt.live(), 3);
    assert_eq!(rt.removed(), 0);
}

#[tokio::test(start_paused = true)]
async fn scaling_down_removes_the_highest_numbers_and_keeps_the_rest() {
    let (e, rt) = engine();
    e.up(up_req(stack("ps2", vec![scaled("web", 3)])))
        .await
        .expect("up");
    let before = replicas(&e, "ps2", "web");
    let resp = e
        .up(up_req(stack("ps2", vec![scaled("web", 1)])))
        .await
        .expect("up 1");
    let after = replicas(&e, "ps2", "web");
    assert_eq!(after, before[..1], "replica 1 keeps its id and pid");
    let removed: Vec<&str> = resp
        .actions
        .iter()
        .filter(|a| a.action == "removed")
        .map(|a| a.container.as_str())
        .collect();
    assert_eq!(removed, ["ps2-web-3", "ps2-web-2"]);
    assert_eq!((rt.live(), rt.removed()), (1, 2));
    // Up again: the lowest free numbers come back.
    e.up(up_req(stack("ps2", vec![scaled("web", 2)])))
        .await
        .expect("up 2");
    let again = replicas(&e, "ps2", "web");
    assert_eq!(names(&again), ["ps2-web-1", "ps2-web-2"]);
    assert_eq!(again[0], before[0]);
    // Scale 0: no container at all.
    e.up(up_req(stack("ps2", vec![scaled("web", 0)])))
        .await
        .expect("up 0");
    assert!(replicas(&e, "ps2", "web").is_empty());
    assert_eq!(rt.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_changed_config_recreates_every_replica_under_its_name() {
    let (e, rt) = engine();
    e.up(up_req(stack("ps3", vec![scaled("web", 2)])))
        .await
        .expect("up");
    let before = replicas(&e, "ps3", "web");
    let mut changed = scaled("web", 2);
    changed.environment.insert("NEW".into(), "1".into());
    e.up(up_req(stack("ps3", vec![changed])))
        .await
        .expect("up 2");
    let after = replicas(&e, "ps3", "web");
    assert_eq!(names(&after), names(&before));
    assert!(after.iter().zip(&before).all(|(a, b)| a.1 != b.1));
    assert_eq!((rt.live(), rt.removed()), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn lifecycle_acts_on_every_replica_and_exec_picks_one() {
    let (e, rt) = engine();
    e.up(up_req(stack("ps4", vec![scaled("web", 3)])))
        .await
        .expect("up");
    let listed: Vec<String> = e
        .list(Some("ps4"))
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(listed, ["ps4-web-1", "ps4-web-2", "ps4-web-3"]);
    let (first, _) = e.exec_target("ps4", "web", None).expect("exec target");
    assert_eq!(first.name, "ps4-web-1");
    let (second, _) = e.exec_target("ps4", "web", Some(2)).expect("index 2");
    assert_eq!(second.name, "ps4-web-2");
    assert!(e.exec_target("ps4", "web", Some(4)).is_err());
    e.stop_services("ps4", &["web".into()], None)
        .await
        .expect("stop");
    assert_eq!(rt.live(), 0);
    e.start_services("ps4", &["web".into()])
        .await
        .expect("start");
    assert_eq!(rt.live(), 3);
    let removed = e
        .down("ps4", None, &Default::default())
        .await
        .expect("down");
    assert_eq!(removed.len(), 3);
    assert_eq!(rt.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dependent_waits_until_every_replica_is_healthy() {
    let (e, rt) = engine();
    let mut db = scaled("db", 2);
    // Each replica answers its own health (the fake's probes go by hostname).
    db.hostname = None;
    db.healthcheck = Some(healthcheck());
    let mut api = svc("api", &["run"]);
    dep(&mut api, "db", DependCondition::ServiceHealthy);
    let e2 = e.clone();
    let up = tokio::spawn(async move { e2.up(up_req(stack("ps5", vec![db, api]))).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let dbs: Vec<_> = e
        .list(Some("ps5"))
        .expect("list")
        .into_iter()
        .filter(|r| r.service == "db")
        .collect();
    assert_eq!(dbs.len(), 2);
    rt.set_healthy(&dbs[0].config.hostname, true);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !rt.starts().contains(&"api".to_string()),
        "one replica is healthy, not both"
    );
    rt.set_healthy(&dbs[1].config.hostname, true);
    up.await.expect("join").expect("up");
    assert_eq!(rt.starts().last().map(String::as_str), Some("api"));
}

#[tokio::test(start_paused = true)]
async fn a_dependency_scaled_to_zero_is_not_waited_for() {
    let (e, rt) = engine();
    let mut db = scaled("db", 0);
    db.healthcheck = Some(healthcheck());
    let mut api = svc("api", &["run"]);
    dep(&mut api, "db", DependCondition::ServiceHealthy);
    e.up(up_req(stack("ps6", vec![db, api]))).await.expect("up");
    assert_eq!(rt.starts(), ["api"]);
}

#[tokio::test(start_paused = true)]
async fn listings_order_replica_numbers_as_numbers() {
    let (e, _rt) = engine();
    e.up(up_req(stack("ps7", vec![scaled("web", 10)])))
        .await
        .expect("up");
    let listed: Vec<String> = e
        .list(Some("ps7"))
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    let want: Vec<String> = (1..=10).map(|i| format!("ps7-web-{i}")).collect();
    assert_eq!(listed, want);
}

#[tokio::test(start_paused = true)]
async fn scaling_a_dependency_leaves_dependents_that_restart_with_it_alone() {
    let (e, _rt) = engine();
    let mut api = svc("api", &["run"]);
    api.depends_on.insert(
        "db".into(),
        Dependency {
            condition: DependCondition::ServiceStarted,
            required: true,
            restart: true,
        },
    );
    e.up(up_req(stack("ps8", vec![scaled("db", 1), api.clone()])))
        .await
        .expect("up");
    let pid = record(&e, "api").pid;
    for n in [3, 2] {
        e.up(up_req(stack("ps8", vec![scaled("db", n), api.clone()])))
            .await
            .expect("scale");
        assert_eq!(record(&e, "api").pid, pid, "scale {n}");
    }
    assert_eq!(replicas(&e, "ps8", "db").len(), 2);
}

/// compose's TestUpServiceUnhealthy under the engine: `false` every 1 s, retries 3, no
/// start_period. Docker says unhealthy after its third probe (3 s); rstack says so by then
/// too (it used to take 15 s with the default 5 s start_interval), and not before.
#[tokio::test(start_paused = true)]
async fn unhealthy_after_retries_intervals_as_docker() {
    let (e, _rt) = engine();
    let mut s = svc("fail", &["run"]);
    s.healthcheck = Some(Healthcheck {
        test: HealthTest::Shell("false".into()),
        interval: Duration::from_secs(1),
        retries: 3,
        ..Healthcheck::default()
    });
    e.up(up_req(stack("p30", vec![s]))).await.expect("up");
    tokio::time::sleep(Duration::from_millis(2900)).await;
    assert_eq!(record(&e, "fail").health.as_deref(), Some("starting"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = record(&e, "fail");
    assert_eq!(r.health.as_deref(), Some("unhealthy"));
    assert_eq!(r.failing_streak, 3);
}

/// The record keeps the last 5 probe results, output and exit code included.
#[tokio::test(start_paused = true)]
async fn the_record_keeps_the_last_five_probe_results() {
    let (e, rt) = engine();
    let mut s = svc("db", &["run"]);
    s.healthcheck = Some(Healthcheck {
        interval: Duration::from_secs(1),
        ..healthcheck()
    });
    e.up(up_req(stack("p31", vec![s]))).await.expect("up");
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let r = record(&e, "db");
    assert_eq!(r.health_log.len(), 5, "{:?}", r.health_log);
    assert!(
        r.health_log
            .iter()
            .all(|p| p.exit_code == 1 && p.output == "connection refused\n")
    );
    assert!(
        r.health_log
            .windows(2)
            .all(|w| w[0].start_ms <= w[1].start_ms)
    );
    rt.set_healthy("db", true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = record(&e, "db");
    assert_eq!(r.health_log.len(), 5);
    assert_eq!(r.health_log.last().map(|p| p.exit_code), Some(0));
    assert_eq!(
        (r.health.as_deref(), r.failing_streak),
        (Some("healthy"), 0)
    );
}

/// compose's TestUpWithDependencyExit: a service_healthy dependency that exited is
/// reported as exited, with its code, not as lacking a healthcheck.
#[tokio::test(start_paused = true)]
async fn a_healthy_dependency_that_exited_is_reported_as_exited() {
    let (e, rt) = engine();
    let db = svc("db", &["exit", "1", "10"]);
    let mut web = svc("web", &["run"]);
    dep(&mut web, "db", DependCondition::ServiceHealthy);
    let err = e
        .up(up_req(stack("p32", vec![db, web])))
        .await
        .expect_err("up must fail")
        .to_string();
    assert_eq!(
        err,
        "service \"web\": dependency failed to start: container p32-db-1 exited (1)"
    );
    // As compose: the dependent is left created, not started.
    assert_eq!(record(&e, "web").state, State::Created);
    assert_eq!(rt.starts(), ["db"]);
}

#[tokio::test(start_paused = true)]
async fn no_start_creates_everything_and_waits_for_no_dependency() {
    let (e, rt) = engine();
    let mut db = svc("db", &["run"]);
    // Never healthy: a start would wait on it, a create must not.
    db.healthcheck = Some(healthcheck());
    let mut api = svc("api", &["run"]);
    dep(&mut api, "db", DependCondition::ServiceHealthy);
    let s = stack("pns", vec![api, db]);
    let mut req = up_req(s.clone());
    req.no_start = true;
    let resp = e.up(req).await.expect("up --no-start");
    assert!(rt.starts().is_empty(), "{:?}", rt.starts());
    assert!(resp.actions.iter().all(|a| a.action == "created"));
    for name in ["db", "api"] {
        assert_eq!(record(&e, name).state, State::Created);
    }
    let db_id = record(&e, "db").id;
    rt.set_healthy("db", true);
    e.up(up_req(s)).await.expect("up");
    assert_eq!(rt.starts(), ["db", "api"]);
    assert_eq!(record(&e, "db").id, db_id, "up starts what was created");
}

#[tokio::test(start_paused = true)]
async fn no_recreate_keeps_a_changed_container() {
    let (e, rt) = engine();
    e.up(up_req(stack("pnr", vec![svc("web", &["run"])])))
        .await
        .expect("up");
    let id = record(&e, "web").id;
    let mut req = up_req(stack("pnr", vec![svc("web", &["run", "changed"])]));
    req.no_recreate = true;
    let resp = e.up(req).await.expect("up --no-recreate");
    assert_eq!(resp.actions[0].action, "running");
    assert_eq!(record(&e, "web").id, id);
    assert_eq!(rt.starts().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn wait_reports_exit_codes_in_the_order_containers_stop() {
    let (e, _rt) = engine();
    let s = stack(
        "pw",
        vec![
            svc("a", &["exit", "3", "200"]),
            svc("b", &["exit", "0", "100"]),
        ],
    );
    e.up(up_req(s)).await.expect("up");
    let done = e
        .wait_services("pw", &["a".into(), "b".into()], false)
        .await
        .expect("wait");
    let got: Vec<(&str, i32)> = done
        .iter()
        .map(|c| (c.name.as_str(), c.exit_code))
        .collect();
    assert_eq!(got, [("pw-b-1", 0), ("pw-a-1", 3)]);
    assert!(e.wait_services("pw", &[], false).await.is_err());
    assert!(
        e.wait_services("pw", &["nope".into()], false)
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn wait_for_the_first_answers_when_one_container_stops() {
    let (e, _rt) = engine();
    let s = stack(
        "pwf",
        vec![
            svc("a", &["exit", "3", "200"]),
            svc("b", &["exit", "4", "100"]),
        ],
    );
    e.up(up_req(s)).await.expect("up");
    let done = e
        .wait_services("pwf", &["a".into(), "b".into()], true)
        .await
        .expect("wait");
    let got: Vec<(&str, i32)> = done
        .iter()
        .map(|c| (c.name.as_str(), c.exit_code))
        .collect();
    assert_eq!(got, [("pwf-b-1", 4)]);
    // `a` was not waited for: it still runs.
    assert_eq!(record(&e, "a").exit_code, None);
}

#[tokio::test(start_paused = true)]
async fn deploy_restart_policy_gives_up_after_max_attempts_with_its_fixed_delay() {
    let (e, rt) = engine();
    let mut s = svc("capped", &["exit", "0", "10"]);
    s.restart = RestartPolicy::Always;
    s.restart_limits = crate::model::RestartLimits {
        delay: Some(Duration::from_millis(300)),
        max_attempts: Some(2),
        window: None,
    };
    e.up(up_req(stack("prp1", vec![s]))).await.expect("up");
    // Fixed delay (no doubling): exits at 10ms, 320ms, 630ms; the third exit is the last.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(record(&e, "capped").restarts, 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = record(&e, "capped");
    assert_eq!((r.restarts, r.state), (2, State::Exited), "{r:?}");
    assert_eq!(rt.starts().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn deploy_restart_policy_counts_only_the_restarts_within_its_window() {
    let (e, _rt) = engine();
    let limits = |delay| crate::model::RestartLimits {
        delay: Some(Duration::from_millis(delay)),
        max_attempts: Some(2),
        window: Some(Duration::from_secs(1)),
    };
    // Restarts decided 410ms apart: two fit in a second, the third is refused.
    let mut fast = svc("fast", &["exit", "1", "10"]);
    fast.restart = RestartPolicy::OnFailure { max_retries: 0 };
    fast.restart_limits = limits(400);
    // 610ms apart: never more than two in a second, so it goes on restarting.
    let mut slow = svc("slow", &["exit", "1", "10"]);
    slow.restart = RestartPolicy::OnFailure { max_retries: 0 };
    slow.restart_limits = limits(600);
    e.up(up_req(stack("prp2", vec![fast, slow])))
        .await
        .expect("up");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let f = record(&e, "fast");
    assert_eq!((f.restarts, f.state), (2, State::Exited), "{f:?}");
    let s = record(&e, "slow");
    assert!(s.restarts >= 5, "{s:?}");
}

#[tokio::test(start_paused = true)]
async fn dry_run_up_plans_with_reasons_and_changes_nothing() {
    let (e, rt) = engine();
    let a = svc("a", &["run"]);
    let dry = |s: Stack| UpRequest {
        dry_run: true,
        no_deps: false,
        ..up_req(s)
    };
    // Nothing there: would create, and creates nothing (no record, no project entry).
    let resp = e
        .up(dry(stack("pd", vec![a.clone()])))
        .await
        .expect("dry up");
    assert_eq!(resp.actions.len(), 1);
    assert_eq!(resp.actions[0].action, "created");
    assert_eq!(resp.actions[0].container, "pd-a-1");
    assert!(rt.starts().is_empty());
    assert!(e.list(None).expect("list").is_empty());
    e.up(up_req(stack("pd", vec![a.clone()])))
        .await
        .expect("up");
    let before = record(&e, "a");
    let mut a2 = a.clone();
    a2.environment.insert("NEW".into(), "1".into());
    let resp = e.up(dry(stack("pd", vec![a2]))).await.expect("dry up 2");
    assert_eq!(resp.actions[0].action, "recreated");
    assert_eq!(resp.actions[0].reasons, ["environment"]);
    assert_eq!(record(&e, "a").id, before.id);
    assert_eq!(rt.removed(), 0);
    assert_eq!(rt.starts().len(), 1);
}
