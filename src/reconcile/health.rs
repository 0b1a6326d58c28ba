//! Healthcheck state machine and probe execution.
//!
//! Docker semantics (moby daemon/health.go) with one deliberate change users asked for
//! (compose#10461): the first probe runs right at start and, while the container is
//! `starting`, again every `start_interval`, instead of after a full `interval`.

use super::runtime::{ExecSpec, Runtime};
use crate::model::{HealthTest, Healthcheck};
use crate::runtime::config::ContainerConfig;
use tokio::time::{Instant, timeout};

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

#[derive(Debug, Clone)]
pub struct Health {
    check: Healthcheck,
    status: &'static str,
    failures: u32,
    started: Instant,
    next: Instant,
}

impl Health {
    pub fn new(mut check: Healthcheck) -> Health {
        // Docker's rule: a zero duration means "the default" (a zero interval would probe
        // in a busy loop, a zero timeout would fail every probe).
        let defaults = Healthcheck::default();
        for (value, default) in [
            (&mut check.interval, defaults.interval),
            (&mut check.timeout, defaults.timeout),
            (&mut check.start_interval, defaults.start_interval),
        ] {
            if value.is_zero() {
                *value = default;
            }
        }
        let now = Instant::now();
        Health {
            check,
            status: STARTING,
            failures: 0,
            started: now,
            next: now,
        }
    }

    pub fn status(&self) -> &'static str {
        self.status
    }

    pub fn check(&self) -> &Healthcheck {
        &self.check
    }

    pub fn next_probe_at(&self) -> Instant {
        self.next
    }

    /// When the next failure of a still-starting container may count.
    fn counts_from(&self) -> Instant {
        self.started + self.check.start_period + self.check.interval * (self.failures + 1)
    }

    /// Records one probe result taken at `now` and schedules the next probe.
    pub fn record(&mut self, ok: bool, now: Instant) {
        if ok {
            self.failures = 0;
            self.status = HEALTHY;
        } else if self.status == STARTING && now < self.counts_from() {
            // Failures inside start_period do not count (Docker). Beyond it, a container that
            // has never been healthy is probed every start_interval but its failures count
            // at most once per interval: faster to healthy than Docker, never faster to
            // unhealthy.
        } else {
            self.failures += 1;
            if self.failures >= self.check.retries.max(1) {
                self.status = UNHEALTHY;
            }
        }
        let every = if self.status == STARTING {
            self.check.start_interval
        } else {
            self.check.interval
        };
        self.next = now + every;
    }
}

/// One probe run: the test command inside the container, bounded by the check's timeout.
pub struct Probe {
    spec: ExecSpec,
    timeout: std::time::Duration,
    cfg: ContainerConfig,
    pid: i32,
}

impl Probe {
    pub fn new(check: &Healthcheck, cfg: &ContainerConfig, pid: i32) -> Probe {
        let args = match &check.test {
            HealthTest::Cmd(argv) => argv.clone(),
            HealthTest::Shell(cmd) => vec!["/bin/sh".into(), "-c".into(), cmd.clone()],
        };
        Probe {
            spec: ExecSpec {
                args,
                env: cfg.process.env.clone(),
                cwd: Some(cfg.process.cwd.clone()),
                user: cfg.process.user.clone(),
                stdin: false,
                tty: None,
            },
            timeout: check.timeout,
            cfg: cfg.clone(),
            pid,
        }
    }

    /// True when the test exited 0 within the timeout.
    pub async fn run<R: Runtime>(&self, rt: &R) -> bool {
        rt.probe(&self.cfg, self.pid, &self.spec, self.timeout)
            .await
    }
}

/// Waits for a probe process, killing it when it overruns `limit`. Its stdout and stderr
/// are read to their end meanwhile: a probe that prints (`redis-cli ping`, `curl`) must not
/// die of SIGPIPE on a closed pipe. (What it printed is not kept yet.)
pub async fn wait_probe_process(
    mut child: tokio::process::Child,
    limit: std::time::Duration,
) -> bool {
    // Drained on tasks of their own: the verdict is the exit status, and a process the
    // probe left behind holding the pipes must not hold the probe up.
    if let Some(mut p) = child.stdout.take() {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut p, &mut tokio::io::sink()).await;
        });
    }
    if let Some(mut p) = child.stderr.take() {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut p, &mut tokio::io::sink()).await;
        });
    }
    let waited = child.wait();
    match timeout(limit, waited).await {
        Ok(Ok(st)) => st.success(),
        Ok(Err(_)) => false,
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn check() -> Healthcheck {
        Healthcheck {
            test: HealthTest::Shell("true".into()),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(1),
            retries: 3,
            start_period: Duration::from_secs(10),
            start_interval: Duration::from_secs(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn zero_durations_mean_the_defaults() {
        let mut c = check();
        c.interval = Duration::ZERO;
        c.start_interval = Duration::ZERO;
        let mut h = Health::new(c);
        let t0 = Instant::now();
        h.record(false, t0);
        assert_eq!(h.next_probe_at(), t0 + Duration::from_secs(5));
        h.record(true, t0);
        assert_eq!(h.next_probe_at(), t0 + Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn probes_fast_while_starting_then_at_interval() {
        let mut h = Health::new(check());
        let t0 = Instant::now();
        assert_eq!(h.next_probe_at(), t0, "first probe right at start");
        h.record(false, t0);
        assert_eq!(h.status(), STARTING);
        assert_eq!(h.next_probe_at(), t0 + Duration::from_secs(1));
        h.record(true, t0 + Duration::from_secs(1));
        assert_eq!(h.status(), HEALTHY);
        assert_eq!(h.next_probe_at(), t0 + Duration::from_secs(31));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_count_only_after_start_period_and_once_per_interval() {
        let mut h = Health::new(check());
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        for i in 0..=40 {
            h.record(false, at(i));
        }
        assert_eq!(
            h.status(),
            STARTING,
            "start_period, then one failure per 30 s interval"
        );
        h.record(false, at(70));
        assert_eq!(h.status(), STARTING);
        h.record(false, at(100));
        assert_eq!(
            h.status(),
            UNHEALTHY,
            "10 s start_period + 3 x 30 s, as Docker"
        );
        h.record(true, at(130));
        assert_eq!(h.status(), HEALTHY);
        h.record(false, at(160));
        h.record(false, at(190));
        assert_eq!(h.status(), HEALTHY);
        h.record(false, at(220));
        assert_eq!(h.status(), UNHEALTHY, "after healthy, every failure counts");
    }
}
