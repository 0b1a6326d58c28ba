//! `deploy.restart_policy` (condition, delay, max_attempts, window). As docker compose does,
//! it wins over `restart:`: its condition becomes the service's restart policy (`none` no,
//! `on-failure`, `any` always; `any` when absent). rstack also honours what compose leaves to
//! swarm: the delay between restarts and max_attempts, in all or within a window.

use super::value::Cx;
use super::yaml::Node;
use crate::model::{RestartLimits, RestartPolicy};

const KEYS: &[&str] = &["condition", "delay", "max_attempts", "window"];

/// The policy and limits `v` (at `path`) gives; `None` when it is not a mapping.
pub fn read(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<(RestartPolicy, RestartLimits)> {
    let entries = cx.map(path, v)?;
    let mut condition = "any".to_string();
    let mut limits = RestartLimits::default();
    for (k, knode, val) in entries {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "condition" => {
                let Some(c) = cx.string(&p, val) else {
                    continue;
                };
                if !matches!(c.as_str(), "none" | "on-failure" | "any") {
                    cx.error_hint(
                        val.span,
                        format!("{p}: unknown condition \"{c}\""),
                        "use none, on-failure or any",
                    );
                    continue;
                }
                condition = c;
            }
            "delay" => limits.delay = cx.duration(&p, val).filter(|d| !d.is_zero()),
            "window" => limits.window = cx.duration(&p, val).filter(|d| !d.is_zero()),
            "max_attempts" => match cx.int(&p, val).map(u32::try_from) {
                // 0: never give up (compose's default).
                Some(Ok(n)) => limits.max_attempts = Some(n).filter(|n| *n > 0),
                Some(Err(_)) => cx.error(
                    val.span,
                    format!("{p}: must be a number of restarts (0 or more)"),
                ),
                None => {}
            },
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, path, k, KEYS),
        }
    }
    let policy = match condition.as_str() {
        "none" => RestartPolicy::No,
        // Without a window, max_attempts is Docker's own on-failure count.
        "on-failure" => RestartPolicy::OnFailure {
            max_retries: match limits.window {
                None => limits.max_attempts.unwrap_or(0),
                Some(_) => 0,
            },
        },
        _ => RestartPolicy::Always,
    };
    Some((policy, limits))
}
