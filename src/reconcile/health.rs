//! Healthcheck state machine and probe execution.
//!
//! Docker semantics (moby daemon/health.go) with one deliberate change users asked for
//! (compose#10461): the first probe runs right at start and, while the container is
//! `starting`, again every `start_interval`, instead of after a full `interval`.

use super::runtime::{ExecSpec, ProbeOutcome, Runtime};
use super::supervisor::now_ms;
use crate::model::{HealthTest, Healthcheck};
use crate::runtime::config::ContainerConfig;
use crate::store::health_log::{OUTPUT_LIMIT, ProbeResult};
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

    /// Failed probes in a row that counted (Docker's FailingStreak).
    pub fn failing_streak(&self) -> u32 {
        self.failures
    }

    /// From when the next failure of a still-starting container may count: the times of
    /// Docker's own probes, its earliest verdict. Docker probes first after `start_interval`
    /// when there is a start period (a failure counts once the period is over), else after
    /// `interval`; then every `interval`. So the k-th failure counts from `first + (k-1) x
    /// interval`, never sooner than Docker would say unhealthy.
    fn counts_from(&self) -> Instant {
        let c = &self.check;
        let first = if c.start_period.is_zero() {
            c.interval
        } else {
            c.start_period.max(c.start_interval)
        };
        self.started + first + c.interval * self.failures
    }

    /// Records one probe result taken at `now` and schedules the next probe.
    pub fn record(&mut self, ok: bool, now: Instant) {
        if ok {
            self.failures = 0;
            self.status = HEALTHY;
        } else if self.status == STARTING && now < self.counts_from() {
            // Not yet a failure Docker would have counted (inside start_period, or sooner
            // than its probes): rstack probes a starting container more often, to be
            // healthy sooner, but is never unhealthy sooner than Docker.
        } else {
            self.failures += 1;
            if self.failures >= self.check.retries.max(1) {
                self.status = UNHEALTHY;
            }
        }
        // While starting, at least as often as Docker probes: every start_interval, or every
        // interval when that is shorter (a 1s interval with the default 5s start_interval
        // must not take 15s to be unhealthy).
        let every = if self.status == STARTING {
            self.check.start_interval.min(self.check.interval)
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
                privileged: false,
            },
            timeout: check.timeout,
            cfg: cfg.clone(),
            pid,
        }
    }

    /// Runs the test once; the result as the record keeps it.
    pub async fn run<R: Runtime>(&self, rt: &R) -> ProbeResult {
        let start_ms = now_ms();
        let o = rt
            .probe(&self.cfg, self.pid, &self.spec, self.timeout)
            .await;
        ProbeResult {
            start_ms,
            end_ms: now_ms(),
            exit_code: o.exit_code,
            output: o.output,
        }
    }
}

/// Output of a probe, shared by its stdout and stderr readers: the first `OUTPUT_LIMIT`
/// bytes in arrival order (Docker's one buffer for both), the rest read and dropped.
type Captured = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

fn capture<P>(pipe: Option<P>, into: &Captured) -> Option<tokio::task::JoinHandle<()>>
where
    P: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let mut pipe = pipe?;
    let into = into.clone();
    Some(tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let mut out = into.lock().unwrap_or_else(|p| p.into_inner());
            let room = OUTPUT_LIMIT.saturating_sub(out.len());
            out.extend_from_slice(&buf[..n.min(room)]);
        }
    }))
}

/// A duration as Go prints it in Docker's messages: "1s", "1.5s", "500ms".
fn go_duration(d: std::time::Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Waits for a probe process, killing it with its process group when it overruns
/// `limit`. Its stdout and stderr are read meanwhile (a probe that prints must not die of
/// SIGPIPE on a closed pipe) and what they said is kept, as Docker keeps it.
/// `output`: one pipe the probe writes both streams to, if it was given one.
pub async fn wait_probe_process(
    mut child: tokio::process::Child,
    output: Option<tokio::net::unix::pipe::Receiver>,
    limit: std::time::Duration,
) -> ProbeOutcome {
    let out: Captured = Default::default();
    // Read on tasks of their own: the verdict is the exit status, and a process the probe
    // left behind holding the pipes must not hold the probe up.
    let readers: Vec<_> = [
        capture(child.stdout.take(), &out),
        capture(child.stderr.take(), &out),
        capture(output, &out),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (exit_code, note) = match timeout(limit, child.wait()).await {
        Ok(Ok(st)) => (st.code().unwrap_or(-1), None),
        Ok(Err(e)) => (-1, Some(format!("waiting for the probe: {e}"))),
        Err(_) => {
            // The helper made the group (`process_group(0)`); the test and what it started
            // inherited it. Killing only the helper would leave `sleep 100 &` in the container.
            if let Some(pgid) = child.id() {
                // SAFETY: kill with integer arguments, on a group this daemon created.
                unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
            }
            let _ = child.start_kill();
            let _ = child.wait().await;
            (
                -1,
                Some(format!(
                    "Health check exceeded timeout ({})",
                    go_duration(limit)
                )),
            )
        }
    };
    // What the probe wrote before it exited is in the pipes: give the readers a moment to
    // reach their end, without waiting on a left-behind process that keeps them open.
    let _ = timeout(
        std::time::Duration::from_millis(200),
        futures_util::future::join_all(readers),
    )
    .await;
    let bytes = out.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut output = String::from_utf8_lossy(&bytes).into_owned();
    if let Some(n) = note {
        output = if output.is_empty() {
            n
        } else {
            format!("{output}{n}")
        };
    }
    ProbeOutcome { exit_code, output }
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

    /// compose's TestUpServiceUnhealthy: `false`, interval 1s, retries 3, no start_period.
    /// Docker probes at 1, 2 and 3 s and is unhealthy after the third: rstack too, though it
    /// probes first at 0 and its default start_interval is 5 s.
    #[tokio::test(start_paused = true)]
    async fn unhealthy_no_later_than_docker_with_a_short_interval() {
        let mut h = Health::new(Healthcheck {
            test: HealthTest::Shell("false".into()),
            interval: Duration::from_secs(1),
            retries: 3,
            start_period: Duration::ZERO,
            ..Healthcheck::default()
        });
        let t0 = Instant::now();
        let mut at = t0;
        let mut probes = Vec::new();
        while h.status() == STARTING {
            at = h.next_probe_at().max(at) + Duration::from_millis(10);
            probes.push((at - t0).as_millis());
            h.record(false, at);
        }
        assert_eq!(h.status(), UNHEALTHY);
        assert_eq!(probes, [10, 1020, 2030, 3040], "unhealthy at the 3 s probe");
        assert_eq!(h.failing_streak(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn never_unhealthy_sooner_than_docker() {
        // Failures at every instant: the third counted one is no sooner than Docker's
        // third probe (interval 1 s, no start_period: 3 s).
        let mut h = Health::new(Healthcheck {
            test: HealthTest::Shell("false".into()),
            interval: Duration::from_secs(1),
            start_interval: Duration::from_millis(100),
            retries: 3,
            ..Healthcheck::default()
        });
        let t0 = Instant::now();
        for ms in (0..2999).step_by(50) {
            h.record(false, t0 + Duration::from_millis(ms));
            assert_eq!(h.status(), STARTING, "at {ms} ms");
        }
        h.record(false, t0 + Duration::from_secs(3));
        assert_eq!(h.status(), UNHEALTHY);
    }

    fn sh(script: &str) -> tokio::process::Child {
        tokio::process::Command::new("/bin/sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("sh")
    }

    #[tokio::test]
    async fn output_is_kept_up_to_4_kib_and_the_rest_drained() {
        let child = sh("head -c 100000 /dev/zero | tr '\\0' x; echo late >&2; exit 3");
        let o = wait_probe_process(child, None, Duration::from_secs(30)).await;
        assert_eq!(o.exit_code, 3, "the probe ran to its end: {}", o.output);
        assert_eq!(o.output.len(), OUTPUT_LIMIT);
        assert!(o.output.bytes().all(|b| b == b'x'));
    }

    #[tokio::test]
    async fn an_overrunning_probe_is_killed_with_its_group() {
        let child = sh("echo started; sleep 100 & sleep 100");
        let pgid = child.id().expect("pid") as i32;
        let o = wait_probe_process(child, None, Duration::from_millis(300)).await;
        assert_eq!(o.exit_code, -1);
        assert_eq!(o.output, "started\nHealth check exceeded timeout (300ms)");
        // The background sleep was in the group too: none is left alive (SIGKILL takes
        // effect asynchronously, so give it a moment; a zombie is dead).
        let live_in_group = || {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                .filter(|stat| {
                    let rest: Vec<&str> = stat
                        .rsplit_once(')')
                        .map(|(_, r)| r.split_whitespace().collect())
                        .unwrap_or_default();
                    rest.get(2) == Some(&pgid.to_string().as_str())
                        && !matches!(rest.first(), Some(&"Z") | Some(&"X"))
                })
                .count()
        };
        let gone = (0..100).any(|_| {
            let n = live_in_group();
            if n > 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            n == 0
        });
        assert!(gone, "processes of group {pgid} outlived the probe");
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
        assert_eq!(h.failing_streak(), 2, "counted at 10 s and 40 s");
        h.record(false, at(69));
        assert_eq!(
            h.status(),
            STARTING,
            "Docker's third counted probe is at 70 s"
        );
        h.record(false, at(70));
        assert_eq!(
            h.status(),
            UNHEALTHY,
            "failures at 10 s (end of start_period), 40 s and 70 s, as Docker"
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
