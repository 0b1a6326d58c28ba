//! A healthcheck probe's result as the container record keeps it (Docker's
//! `State.Health.Log` entries): the last few are saved with the record, so `inspect` and
//! `ps` can say why a container is unhealthy, also after a daemon restart.

use serde::{Deserialize, Serialize};

/// How many results a record keeps (Docker keeps 5).
pub const KEPT: usize = 5;

/// Bytes of a probe's output kept per result (Docker's limit); the rest is read and dropped.
pub const OUTPUT_LIMIT: usize = 4096;

/// One probe run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Unix ms when the probe started and ended.
    pub start_ms: u64,
    pub end_ms: u64,
    /// The test's exit code; -1 when it could not run or overran its timeout (Docker).
    pub exit_code: i32,
    /// Its stdout and stderr, interleaved, at most `OUTPUT_LIMIT` bytes.
    pub output: String,
}

/// Appends `r` to `log`, keeping the last `KEPT`.
pub fn push(log: &mut Vec<ProbeResult>, r: ProbeResult) {
    log.push(r);
    if log.len() > KEPT {
        let extra = log.len() - KEPT;
        log.drain(..extra);
    }
}

/// While `r` is unhealthy: the last failing probe's output, its last non-empty line (where
/// programs put their error), or its exit code when it printed nothing.
pub fn failing_output(r: &super::ContainerRecord) -> Option<String> {
    if r.health.as_deref() != Some("unhealthy") {
        return None;
    }
    let last = r.health_log.iter().rev().find(|p| p.exit_code != 0)?;
    Some(
        last.output
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("exit code {}", last.exit_code)),
    )
}

pub fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_five() {
        let mut log = Vec::new();
        for i in 0..8 {
            push(
                &mut log,
                ProbeResult {
                    start_ms: i,
                    end_ms: i,
                    exit_code: i as i32,
                    output: String::new(),
                },
            );
        }
        let codes: Vec<i32> = log.iter().map(|r| r.exit_code).collect();
        assert_eq!(codes, [3, 4, 5, 6, 7]);
    }
}
