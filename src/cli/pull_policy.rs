//! What `up` does about each service's image before it starts anything: use the stored one,
//! pull it, build it, or refuse (pure: `decide`), then the pulls, in parallel (`prepare`).
//!
//! The CLI holds the user's credentials, so it is the CLI that decides and pulls: one
//! `POST /v1/images/status` tells it what the store holds (with pull times and platforms), then
//! each image to pull goes through the ordinary pull API, `PARALLEL` at a time, each image
//! once however many services share it, and only then is `up` sent. An `up` whose images are
//! all present and whose policies do not ask for a pull makes no registry connection.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::{Result, bail};

use super::args::PullFlag;
use crate::api::Client;
use crate::api::registry::{ImageStatusRequest, ImageStatusView};
use crate::model::{Platform, PullPolicy, Service, Stack};

/// Images pulled at once.
const PARALLEL: usize = 4;

/// What to do about one service's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageAction {
    /// The stored image serves.
    Use,
    /// Pull it (again).
    Pull,
    /// Build it (`pull_policy: build`, or a `build:` service whose image is missing).
    Build,
    /// Cannot go on: the message says why and what to do.
    Fail(String),
}

/// The decision point for one service: its policy (or `--pull`), whether it can be built,
/// and what the store holds of its image; `now` in unix seconds. The build integration
/// calls this too: `Build` is where it takes over.
pub fn decide(
    svc: &Service,
    has_build: bool,
    flag: PullFlag,
    stored: &ImageStatusView,
    now: u64,
) -> ImageAction {
    let present = stored.present;
    let missing = || {
        if has_build {
            ImageAction::Build
        } else {
            ImageAction::Pull
        }
    };
    let action = match (flag, &svc.pull_policy) {
        (_, PullPolicy::Build) => ImageAction::Build,
        (PullFlag::Always, _) => ImageAction::Pull,
        (PullFlag::Never, _) | (PullFlag::Policy, PullPolicy::Never) if !present => {
            if has_build {
                ImageAction::Build
            } else {
                ImageAction::Fail(format!(
                    "service \"{}\": image {} is not present and {} forbids pulling it: pull it (rstack image pull {}) or import it (rstack image import FILE {})",
                    svc.name,
                    svc.image,
                    if flag == PullFlag::Never {
                        "--pull never".to_string()
                    } else {
                        "its pull_policy never".to_string()
                    },
                    svc.image,
                    svc.image
                ))
            }
        }
        (PullFlag::Never, _) | (PullFlag::Policy, PullPolicy::Never) => ImageAction::Use,
        (PullFlag::Missing, _) | (PullFlag::Policy, PullPolicy::Missing) => {
            if present {
                ImageAction::Use
            } else {
                missing()
            }
        }
        (PullFlag::Policy, PullPolicy::Always | PullPolicy::Refresh) => ImageAction::Pull,
        (PullFlag::Policy, PullPolicy::Every { period, .. }) => {
            let fresh = stored
                .pulled_at
                .is_some_and(|t| now.saturating_sub(t) < period.as_secs());
            if present && fresh {
                ImageAction::Use
            } else if present || !has_build {
                ImageAction::Pull
            } else {
                ImageAction::Build
            }
        }
    };
    if action == ImageAction::Use {
        return check_platform(svc, stored);
    }
    action
}

/// A stored image used as it is must be the platform the service names.
fn check_platform(svc: &Service, stored: &ImageStatusView) -> ImageAction {
    let (Some(want), Some(have)) = (&svc.platform, &stored.platform) else {
        return ImageAction::Use;
    };
    let mut parts = have.split('/');
    let (os, arch, variant) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next(),
    );
    if arch.is_empty() || want.matches(os, arch, variant) {
        return ImageAction::Use;
    }
    ImageAction::Fail(format!(
        "service \"{}\": its platform is {want} but the stored image {} is {have}: pull it for {want} (rstack up --pull always) or remove the platform key",
        svc.name, svc.image
    ))
}

/// `up --build` / `--no-build`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builds {
    /// Build every `build:` service's image, present or not.
    pub always: bool,
    /// Build nothing: a `build:` service's image must be present.
    pub never: bool,
    /// `--quiet-pull`: pull without printing progress.
    pub quiet_pull: bool,
    /// Build without printing the build's output (`watch --quiet`).
    pub quiet_build: bool,
    /// `--no-deps`: only the services named, not their dependencies.
    pub no_deps: bool,
}

/// Why a service that should be built cannot be, if so.
fn unbuildable(svc: &Service, builds: Builds) -> Option<String> {
    if svc.build.is_none() {
        return Some(format!(
            "service \"{}\": pull_policy build needs a build: section; add one, or set pull_policy to missing",
            svc.name
        ));
    }
    builds.never.then(|| {
        format!(
            "service \"{}\": image {} is not present and --no-build forbids building it: run rstack build {} first",
            svc.name, svc.image, svc.name
        )
    })
}

/// The services `up` starts: those named and what they depend on, or all.
fn in_scope<'a>(stack: &'a Stack, named: &[String]) -> Vec<&'a Service> {
    if named.is_empty() {
        return stack.services.values().collect();
    }
    let mut want: Vec<String> = named.to_vec();
    let mut i = 0;
    while i < want.len() {
        if let Some(s) = stack.services.get(&want[i]) {
            for d in s.depends_on.keys() {
                if !want.contains(d) {
                    want.push(d.clone());
                }
            }
        }
        i += 1;
    }
    stack
        .services
        .values()
        .filter(|s| want.contains(&s.name))
        .collect()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Applies the pull policies of the services `up` starts: asks the daemon once what it holds,
/// then pulls (in parallel) what the policies ask for. Every refusal is reported, and nothing
/// is started when one image cannot be had.
pub fn prepare(
    client: &Client,
    stack: &Stack,
    named: &[String],
    flag: PullFlag,
    builds: Builds,
) -> Result<()> {
    let services: Vec<&Service> = if builds.no_deps && !named.is_empty() {
        stack
            .services
            .values()
            .filter(|s| named.contains(&s.name))
            .collect()
    } else {
        in_scope(stack, named)
    };
    let mut refs: Vec<String> = Vec::new();
    for s in &services {
        if !s.image.is_empty() && !refs.contains(&s.image) {
            refs.push(s.image.clone());
        }
    }
    if refs.is_empty() {
        return Ok(());
    }
    let req = ImageStatusRequest {
        references: refs.clone(),
    };
    let status: Vec<ImageStatusView> = super::commands::autostart(client, || {
        Ok(client.call("POST", "/v1/images/status", Some(&req))?)
    })?;
    let stored: BTreeMap<&str, &ImageStatusView> =
        refs.iter().map(String::as_str).zip(status.iter()).collect();
    let now = now_secs();
    let mut failures = Vec::new();
    // image -> the platform its pull asks for (the first service's that names one).
    let mut pulls: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut to_build: Vec<String> = Vec::new();
    for s in &services {
        let Some(st) = stored.get(s.image.as_str()) else {
            continue;
        };
        let action = if builds.always && s.build.is_some() {
            ImageAction::Build
        } else {
            decide(s, s.build.is_some() && !builds.never, flag, st, now)
        };
        match action {
            ImageAction::Use => {}
            ImageAction::Pull => {
                let p = pulls.entry(s.image.clone()).or_insert(None);
                if p.is_none() {
                    *p = s.platform.as_ref().map(Platform::to_string);
                }
            }
            ImageAction::Build => match unbuildable(s, builds) {
                Some(m) => failures.push(m),
                None => to_build.push(s.name.clone()),
            },
            ImageAction::Fail(m) => failures.push(m),
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    pull_all(client, pulls, builds.quiet_pull)?;
    // Builds after the pulls: a build pulls its own base images when they are missing.
    if !to_build.is_empty() {
        super::build::build_services(
            client,
            stack,
            &to_build,
            &super::build::ServiceOptions {
                quiet: builds.quiet_build
                    || super::display::progress() == super::display::Progress::Quiet,
                ..Default::default()
            },
        )?;
    }
    Ok(())
}

/// Pulls each image, `PARALLEL` at a time; progress lines are prefixed with the image.
fn pull_all(client: &Client, pulls: BTreeMap<String, Option<String>>, quiet: bool) -> Result<()> {
    if pulls.is_empty() {
        return Ok(());
    }
    let queue = Mutex::new(pulls.into_iter().collect::<Vec<_>>());
    let errors = Mutex::new(Vec::new());
    let socket = client.socket().to_path_buf();
    let display = super::progress::Display::new();
    let display = if quiet { display.quiet() } else { display };
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                let c = Client::new(socket.clone());
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                    let Some((image, platform)) = next else {
                        return;
                    };
                    let prefix = format!("{image}: ");
                    let step = |s: &str| {
                        display.line(
                            &prefix,
                            &crate::api::registry::TransferLine {
                                status: Some(s.to_string()),
                                ..Default::default()
                            },
                        )
                    };
                    step("pulling");
                    match super::registry::transfer_with(
                        &c,
                        "/v1/images/pull",
                        &image,
                        platform.as_deref(),
                        &display,
                        &prefix,
                    ) {
                        Ok(_) => step("pulled"),
                        Err(e) => errors
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(format!("pulling {image}: {e:#}")),
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    if !errors.is_empty() {
        bail!("{}; nothing was started", errors.join("\n"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(policy: &str, platform: Option<&str>) -> Service {
        let mut s = Service::new("web", "busybox:1");
        s.pull_policy = PullPolicy::parse(policy).expect("policy");
        s.platform = platform.map(|p| Platform::parse(p, "amd64").expect("platform"));
        s
    }

    fn stored(present: bool, pulled_at: Option<u64>, platform: &str) -> ImageStatusView {
        ImageStatusView {
            reference: "busybox:1".into(),
            present,
            id: present.then(|| "sha256:x".into()),
            pulled_at,
            platform: present.then(|| platform.into()),
        }
    }

    #[test]
    fn each_policy_pulls_only_when_it_should() {
        let now = 1_000_000;
        let here = stored(true, Some(now - 10), "linux/amd64");
        let gone = stored(false, None, "");
        let d =
            |p: &str, st: &ImageStatusView| decide(&svc(p, None), false, PullFlag::Policy, st, now);
        assert_eq!(d("missing", &here), ImageAction::Use);
        assert_eq!(d("missing", &gone), ImageAction::Pull);
        assert_eq!(d("always", &here), ImageAction::Pull);
        assert_eq!(d("never", &here), ImageAction::Use);
        assert!(
            matches!(d("never", &gone), ImageAction::Fail(m) if m.contains("service \"web\"") && m.contains("busybox:1"))
        );
        assert_eq!(d("daily", &here), ImageAction::Use);
        let old = stored(true, Some(now - 2 * 86_400), "linux/amd64");
        assert_eq!(d("daily", &old), ImageAction::Pull);
        assert_eq!(d("every_1h", &old), ImageAction::Pull);
        assert_eq!(d("weekly", &old), ImageAction::Use);
        // Imported, never pulled: its age is unknown.
        assert_eq!(
            d("weekly", &stored(true, None, "linux/amd64")),
            ImageAction::Pull
        );
        assert_eq!(d("build", &here), ImageAction::Build);
        // A service that can be built builds what is missing.
        assert_eq!(
            decide(&svc("missing", None), true, PullFlag::Policy, &gone, now),
            ImageAction::Build
        );
    }

    #[test]
    fn the_pull_flag_overrides_the_policy() {
        let now = 1_000;
        let here = stored(true, Some(now), "linux/amd64");
        let gone = stored(false, None, "");
        let d = |p: &str, f, st: &ImageStatusView| decide(&svc(p, None), false, f, st, now);
        assert_eq!(d("never", PullFlag::Always, &here), ImageAction::Pull);
        assert_eq!(d("always", PullFlag::Missing, &here), ImageAction::Use);
        assert_eq!(d("always", PullFlag::Never, &here), ImageAction::Use);
        assert!(
            matches!(d("missing", PullFlag::Never, &gone), ImageAction::Fail(m) if m.contains("--pull never"))
        );
    }

    #[test]
    fn a_stored_image_of_another_platform_is_refused_naming_both() {
        let here = stored(true, Some(0), "linux/amd64");
        let a = decide(
            &svc("missing", Some("linux/arm64")),
            false,
            PullFlag::Policy,
            &here,
            0,
        );
        assert!(
            matches!(&a, ImageAction::Fail(m) if m.contains("linux/arm64") && m.contains("linux/amd64")),
            "{a:?}"
        );
        let a = decide(
            &svc("always", Some("linux/arm64")),
            false,
            PullFlag::Policy,
            &here,
            0,
        );
        assert_eq!(a, ImageAction::Pull);
        let a = decide(
            &svc("missing", Some("linux/amd64")),
            false,
            PullFlag::Policy,
            &here,
            0,
        );
        assert_eq!(a, ImageAction::Use);
    }
}
