//! `post_start` / `pre_stop` hooks: each runs inside the container as `exec` runs a process
//! (the container's environment with the hook's on top, its user and working directory
//! unless the hook names others), one after the other, its output captured for the error.

use super::runtime::{ExecSpec, Runtime};
use crate::model::Hook;
use crate::runtime::config::ContainerConfig;
use std::time::Duration;

/// How long one hook may run (compose sets no bound; a hung `pre_stop` must not hold a
/// `down` forever): then it is killed with its children and counts as failed.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// The process a hook runs.
pub fn spec(hook: &Hook, cfg: &ContainerConfig) -> ExecSpec {
    let mut env: Vec<String> = cfg
        .process
        .env
        .iter()
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or("");
            !hook.environment.contains_key(key)
        })
        .cloned()
        .collect();
    env.extend(hook.environment.iter().map(|(k, v)| format!("{k}={v}")));
    ExecSpec {
        args: hook.command.clone(),
        env,
        cwd: Some(
            hook.working_dir
                .clone()
                .unwrap_or_else(|| cfg.process.cwd.clone()),
        ),
        user: hook.user.clone().or_else(|| cfg.process.user.clone()),
        stdin: false,
        tty: None,
        privileged: false,
    }
}

/// Runs `hooks` in order in the container whose init is `pid`; the first failure stops
/// them and is returned as a message naming the hook (`what`: "post_start" / "pre_stop").
/// The message starts as compose's does (`<service> hook exited with status N`), then
/// rstack's detail (container, hook index and command), then the output's tail.
pub async fn run_all<R: Runtime>(
    rt: &R,
    cfg: &ContainerConfig,
    pid: i32,
    hooks: &[Hook],
    what: &str,
    (service, container): (&str, &str),
) -> Result<(), String> {
    for (i, h) in hooks.iter().enumerate() {
        let o = rt.probe(cfg, pid, &spec(h, cfg), HOOK_TIMEOUT).await;
        if !o.ok() {
            return Err(failure(
                service,
                container,
                &format!("{what}[{i}]"),
                h,
                o.exit_code,
                &o.output,
            ));
        }
    }
    Ok(())
}

/// Lines and bytes of a failed hook's output kept for its error (compose keeps as many).
const TAIL_LINES: usize = 10;
const TAIL_BYTES: usize = 2048;

/// The error of a failed hook: compose's text first, so that what matches compose's
/// message matches rstack's, then which container and hook, then the output's tail.
fn failure(service: &str, container: &str, which: &str, h: &Hook, code: i32, out: &str) -> String {
    let tail = tail(out.trim());
    let detail = if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    };
    format!(
        "{service} hook exited with status {code} (container {container}, {which} {:?}){detail}",
        h.command
    )
}

/// The last `TAIL_LINES` lines of `out`, at most `TAIL_BYTES` bytes (cut at a char boundary).
fn tail(out: &str) -> &str {
    // After the TAIL_LINES-th newline from the end.
    let start = out
        .rmatch_indices('\n')
        .nth(TAIL_LINES - 1)
        .map_or(0, |(i, _)| i + 1);
    let mut s = &out[start..];
    while s.len() > TAIL_BYTES {
        let mut cut = s.len() - TAIL_BYTES;
        while !s.is_char_boundary(cut) {
            cut += 1;
        }
        s = &s[cut..];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reads_as_composes_then_names_the_hook_and_keeps_the_tail() {
        let h = Hook {
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            ..Default::default()
        };
        assert_eq!(
            failure("web", "p-web-1", "post_start[1]", &h, 3, "boom\n"),
            "web hook exited with status 3 (container p-web-1, post_start[1] \
             [\"sh\", \"-c\", \"exit 3\"]): boom"
        );
        assert!(failure("web", "c", "pre_stop[0]", &h, 1, " ").ends_with("\"exit 3\"])"));
        let many: String = (1..=12).map(|i| format!("l{i}\n")).collect();
        assert_eq!(
            tail(many.trim()),
            "l3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12"
        );
        assert_eq!(tail("a\nb"), "a\nb");
        let long = "é".repeat(2000);
        let t = tail(&long);
        assert!(
            t.len() <= TAIL_BYTES && t.len() >= TAIL_BYTES - 1,
            "{}",
            t.len()
        );
    }

    #[test]
    fn a_hook_runs_with_the_containers_settings_unless_it_names_its_own() {
        let mut cfg: ContainerConfig = serde_json::from_value(serde_json::json!({
            "id": "c", "hostname": "h",
            "root": {"layers": [], "upper": "/u", "work": "/w", "merged": "/m", "readonly": false},
            "process": {"args": ["sh"], "env": ["A=1", "B=2"], "cwd": "/app", "user": "1000",
                        "capabilities": [], "no_new_privileges": true, "rlimits": []},
            "mounts": [], "resources": {}, "cgroup_path": "x", "init": false,
            "masked_paths": [], "readonly_paths": [], "state_dir": "/s"
        }))
        .expect("config");
        let mut h = Hook {
            command: vec!["touch".into(), "/x".into()],
            ..Default::default()
        };
        h.environment.insert("B".into(), "3".into());
        let s = spec(&h, &cfg);
        assert_eq!(s.env, ["A=1", "B=3"]);
        assert_eq!(
            (s.cwd.as_deref(), s.user.as_deref()),
            (Some("/app"), Some("1000"))
        );
        h.user = Some("root".into());
        h.working_dir = Some("/".into());
        cfg.process.user = None;
        let s = spec(&h, &cfg);
        assert_eq!(
            (s.cwd.as_deref(), s.user.as_deref()),
            (Some("/"), Some("root"))
        );
    }
}
