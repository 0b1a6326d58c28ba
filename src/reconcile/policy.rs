//! Restart decisions and backoff (Docker's restart manager semantics, configurable delays).

use crate::model::{RestartLimits, RestartPolicy};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// A run at least this long resets the backoff to its initial delay (Docker: 10 s).
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// Should a container that just exited with `code` be started again?
/// `restarts` counts restarts so far; `stopped_by_user` is set by stop/down/kill.
pub fn should_restart(
    policy: RestartPolicy,
    code: i32,
    restarts: u32,
    stopped_by_user: bool,
) -> bool {
    if stopped_by_user {
        return false;
    }
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max_retries } => {
            code != 0 && (max_retries == 0 || restarts < max_retries)
        }
    }
}

/// `deploy.restart_policy`'s max_attempts: whether one more restart is allowed after
/// `restarts` so far; with a window, only the restarts decided within the last `window`
/// (`recent`, oldest first, kept here: the one allowed now is added) count.
pub fn attempt_allowed(
    limits: &RestartLimits,
    restarts: u32,
    recent: &mut VecDeque<Instant>,
    now: Instant,
) -> bool {
    let Some(max) = limits.max_attempts else {
        return true;
    };
    let Some(window) = limits.window else {
        return restarts < max;
    };
    while recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        recent.pop_front();
    }
    if recent.len() >= max as usize {
        return false;
    }
    recent.push_back(now);
    true
}

/// The restart delays of a service: `deploy.restart_policy.delay` fixed, or the doubling
/// backoff of `x-rstack`.
pub fn backoff_for(def: &crate::model::Service) -> Backoff {
    match def.restart_limits.delay {
        Some(d) => Backoff::new(d, d),
        None => Backoff::new(
            def.x_rstack.restart_backoff_initial,
            def.x_rstack.restart_backoff_max,
        ),
    }
}

/// Should the daemon start this container when it (re)starts? (moby's table.)
pub fn restart_on_boot(
    policy: RestartPolicy,
    last_code: Option<i32>,
    stopped_by_user: bool,
) -> bool {
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always => true,
        RestartPolicy::UnlessStopped => !stopped_by_user,
        RestartPolicy::OnFailure { .. } => !stopped_by_user && last_code.is_some_and(|c| c != 0),
    }
}

/// Exponential restart delay: initial, doubling, capped; reset by a long enough run.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        let initial = initial.min(max);
        Backoff {
            initial,
            max,
            next: initial,
        }
    }

    /// Delay before the next restart, given how long the last run lasted.
    pub fn next_delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= RESET_AFTER {
            self.next = self.initial;
        }
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_follow_docker() {
        use RestartPolicy::*;
        assert!(!should_restart(No, 1, 0, false));
        assert!(should_restart(Always, 0, 99, false));
        assert!(!should_restart(Always, 1, 0, true));
        assert!(should_restart(UnlessStopped, 0, 0, false));
        assert!(!should_restart(OnFailure { max_retries: 0 }, 0, 0, false));
        assert!(should_restart(OnFailure { max_retries: 0 }, 1, 1000, false));
        assert!(should_restart(OnFailure { max_retries: 2 }, 1, 1, false));
        assert!(!should_restart(OnFailure { max_retries: 2 }, 1, 2, false));
    }

    #[test]
    fn max_attempts_count_all_restarts_or_those_within_the_window() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut recent = VecDeque::new();
        let none = RestartLimits::default();
        assert!(attempt_allowed(&none, 1000, &mut recent, t0));
        let total = RestartLimits {
            max_attempts: Some(2),
            ..Default::default()
        };
        assert!(attempt_allowed(&total, 1, &mut recent, t0));
        assert!(!attempt_allowed(&total, 2, &mut recent, t0));
        let windowed = RestartLimits {
            max_attempts: Some(2),
            window: Some(s(10)),
            ..Default::default()
        };
        assert!(attempt_allowed(&windowed, 0, &mut recent, t0));
        assert!(attempt_allowed(&windowed, 1, &mut recent, t0 + s(5)));
        assert!(!attempt_allowed(&windowed, 2, &mut recent, t0 + s(9)));
        // The first has left the window: one more fits, the total does not matter.
        assert!(attempt_allowed(&windowed, 2, &mut recent, t0 + s(10)));
        assert!(!attempt_allowed(&windowed, 3, &mut recent, t0 + s(11)));
    }

    #[test]
    fn boot_table_matches_moby() {
        use RestartPolicy::*;
        assert!(!restart_on_boot(No, Some(1), false));
        assert!(restart_on_boot(Always, Some(0), true));
        assert!(!restart_on_boot(UnlessStopped, Some(0), true));
        assert!(restart_on_boot(UnlessStopped, Some(0), false));
        assert!(restart_on_boot(
            OnFailure { max_retries: 1 },
            Some(2),
            false
        ));
        assert!(!restart_on_boot(
            OnFailure { max_retries: 1 },
            Some(0),
            false
        ));
        assert!(!restart_on_boot(OnFailure { max_retries: 1 }, None, false));
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(1000));
        let short = ms(5);
        let got: Vec<_> = (0..6).map(|_| b.next_delay(short)).collect();
        assert_eq!(
            got,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(b.next_delay(RESET_AFTER), ms(100));
        assert_eq!(b.next_delay(short), ms(200));
    }
}
