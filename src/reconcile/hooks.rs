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
pub async fn run_all<R: Runtime>(
    rt: &R,
    cfg: &ContainerConfig,
    pid: i32,
    hooks: &[Hook],
    what: &str,
) -> Result<(), String> {
    for (i, h) in hooks.iter().enumerate() {
        let o = rt.probe(cfg, pid, &spec(h, cfg), HOOK_TIMEOUT).await;
        if !o.ok() {
            let out = o.output.trim();
            let detail = if out.is_empty() {
                String::new()
            } else {
                format!(": {out}")
            };
            return Err(format!(
                "{what}[{i}] hook {:?} exited with status {}{detail}",
                h.command, o.exit_code
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
