//! `up`'s attached-mode flags as docker compose v2 has them: whose logs are streamed
//! (`--attach`, `--no-attach`, `--attach-dependencies`), when the stack is stopped and what
//! `up` then returns (`--abort-on-container-exit`, `--abort-on-container-failure`,
//! `--exit-code-from`), how lines look (`--timestamps`, `--no-color`), and `--wait-timeout`,
//! `--quiet-pull`. The checks and messages are compose's (cmd/compose/up.go), and so is the
//! exit code (pkg/compose/up.go: the first exit that aborts, overridden by the first exit of
//! the `--exit-code-from` service).

use super::args::UpArgs;
use crate::api::Client;
use crate::api::types::{ContainerView, ServicesRequest};
use crate::model::Stack;
use clap::Args;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, Default, Args)]
pub struct AttachedArgs {
    /// Stops all containers if any container was stopped. Incompatible with -d
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Stops all containers if any container exited with failure. Incompatible with -d
    #[arg(long)]
    pub abort_on_container_failure: bool,
    /// Return the exit code of the selected service container. Implies --abort-on-container-exit
    #[arg(long, value_name = "SERVICE")]
    pub exit_code_from: Option<String>,
    /// Restrict attaching to the specified services (repeatable). Incompatible with --attach-dependencies
    #[arg(long, value_name = "SERVICE")]
    pub attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services (repeatable)
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
    /// Automatically attach to log output of dependent services
    #[arg(long)]
    pub attach_dependencies: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy (with --wait)
    #[arg(long, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,
    /// Show timestamps
    #[arg(long)]
    pub timestamps: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Use this timeout in seconds for container shutdown when attached (Ctrl-C, an
    /// aborting exit) or when containers are already running (recreated), instead of
    /// each service's stop_grace_period
    #[arg(short = 't', long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Don't prefix the attached log lines with the service name
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Assume "yes" as answer to all prompts and run non-interactively (rstack never
    /// prompts: accepted for compose's scripts)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Enable interactive shortcuts when running attached. rstack has no menu, as compose
    /// off a terminal: --menu and --menu=false are accepted and change nothing
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub menu: Option<bool>,
}

/// When attached `up` stops the stack by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cascade {
    Ignore,
    /// On any container's exit.
    Exit,
    /// On a non-zero exit.
    Failure,
}

impl AttachedArgs {
    pub fn cascade(&self) -> Cascade {
        if self.abort_on_container_failure {
            Cascade::Failure
        } else if self.abort_on_container_exit || self.exit_code_from.is_some() {
            Cascade::Exit
        } else {
            Cascade::Ignore
        }
    }
}

const DETACH_CONFLICT: &str = "--abort-on-container-exit, --abort-on-container-failure, --attach, --attach-dependencies or --watch";

/// compose's checks of these flags against the others, with its messages; before anything
/// is pulled or started.
pub fn validate(a: &UpArgs) -> Result<(), String> {
    let f = &a.attached;
    // As compose: --exit-code-from implies --abort-on-container-exit unless the failure
    // cascade is asked for.
    let stop =
        f.abort_on_container_exit || (f.exit_code_from.is_some() && !f.abort_on_container_failure);
    if f.renew_anon_volumes && a.no_recreate {
        return Err("--no-recreate and --renew-anon-volumes are incompatible".into());
    }
    if !f.attach.is_empty() && f.attach_dependencies {
        return Err("cannot combine --attach and --attach-dependencies".into());
    }
    if stop && f.abort_on_container_failure {
        return Err(
            "--abort-on-container-failure cannot be combined with --abort-on-container-exit".into(),
        );
    }
    if a.wait && (f.attach_dependencies || stop || !f.attach.is_empty()) {
        return Err(
            "--wait cannot be combined with --abort-on-container-exit, --attach or --attach-dependencies"
                .into(),
        );
    }
    let attached_only = f.attach_dependencies || stop || f.abort_on_container_failure;
    if (a.detach || a.wait) && (attached_only || !f.attach.is_empty()) {
        let flag = if a.wait { "--wait" } else { "--detach" };
        return Err(format!("{flag} cannot be combined with {DETACH_CONFLICT}"));
    }
    Ok(())
}

/// Whose logs attached `up` prints, and whose exits it watches.
#[derive(Debug, PartialEq, Eq)]
pub struct Selection {
    pub attach: Vec<String>,
    pub monitor: Vec<String>,
}

impl Selection {
    /// The services whose logs are read: the attached and the watched ones.
    pub fn followed(&self) -> Vec<String> {
        let mut all = self.attach.clone();
        for s in &self.monitor {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        all
    }
}

/// compose's choice (cmd/compose/up.go `runUp`): `--attach` as given (each must be in the
/// stack), else the services named (all when none) with, under `--attach-dependencies`,
/// everything they depend on; minus `--no-attach`. Exits are watched on the services named,
/// or on the attached ones when none is named.
pub fn select(stack: &Stack, a: &UpArgs) -> Result<Selection, String> {
    let f = &a.attached;
    if let Some(s) = &f.exit_code_from
        && !stack.services.contains_key(s)
    {
        return Err(format!("no such service: {s}"));
    }
    let mut attach: Vec<String> = Vec::new();
    if !f.attach.is_empty() {
        let unknown: Vec<&str> = f
            .attach
            .iter()
            .filter(|s| !stack.services.contains_key(*s))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "cannot attach to services not included in up: {}",
                unknown.join(", ")
            ));
        }
        for s in &f.attach {
            push_new(&mut attach, s);
        }
    } else {
        let mut todo: Vec<String> = if a.services.is_empty() {
            stack.services.keys().cloned().collect()
        } else {
            a.services.clone()
        };
        while let Some(s) = todo.pop() {
            if attach.contains(&s) {
                continue;
            }
            if f.attach_dependencies
                && let Some(svc) = stack.services.get(&s)
            {
                todo.extend(svc.depends_on.keys().cloned());
            }
            attach.push(s);
        }
        // File order, as the prefixes are sized and listed.
        attach.sort_by_key(|s| stack.services.get_index_of(s).unwrap_or(usize::MAX));
    }
    attach.retain(|s| !f.no_attach.contains(s));
    let monitor = if a.services.is_empty() {
        attach.clone()
    } else {
        a.services.clone()
    };
    Ok(Selection { attach, monitor })
}

fn push_new(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// One container's exit, seen in the project's container list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The container's name without the project (`web-1`), as compose shows it.
    pub label: String,
    pub service: String,
    pub code: i32,
    /// It will run again (restart policy).
    pub restarting: bool,
}

/// Follows the exits of the watched services' containers from the container list, and decides
/// when to abort and what `up` returns.
pub struct ExitWatcher {
    project: String,
    monitor: HashSet<String>,
    /// Exits before this (unix ms) belong to earlier runs.
    since_ms: u64,
    /// Container id -> the exit time already reported.
    seen: HashMap<String, u64>,
    cascade: Cascade,
    exit_code_from: Option<String>,
    captured: bool,
    aborting: bool,
    pub code: i32,
}

impl ExitWatcher {
    pub fn new(project: &str, sel: &Selection, f: &AttachedArgs, since_ms: u64) -> ExitWatcher {
        ExitWatcher {
            project: project.to_string(),
            monitor: sel.monitor.iter().cloned().collect(),
            since_ms,
            seen: HashMap::new(),
            cascade: f.cascade(),
            exit_code_from: f.exit_code_from.clone(),
            captured: false,
            aborting: false,
            code: 0,
        }
    }

    /// The exits in `rows` not seen before, oldest first.
    pub fn exits(&mut self, rows: &[ContainerView]) -> Vec<Exit> {
        let mut new: Vec<(u64, Exit)> = Vec::new();
        for r in rows {
            if r.one_off || !self.monitor.contains(&r.service) {
                continue;
            }
            let Some(at) = r.finished_at.filter(|t| *t >= self.since_ms) else {
                continue;
            };
            // A container running again since that exit was seen through its restart.
            if self.seen.insert(r.id.clone(), at) == Some(at) {
                continue;
            }
            let prefix = format!("{}-", self.project);
            new.push((
                at,
                Exit {
                    label: r.name.strip_prefix(&prefix).unwrap_or(&r.name).to_string(),
                    service: r.service.clone(),
                    code: r.exit_code.unwrap_or(0),
                    restarting: !matches!(r.state.as_str(), "exited" | "dead"),
                },
            ));
        }
        new.sort_by_key(|(at, _)| *at);
        new.into_iter().map(|(_, e)| e).collect()
    }

    /// Takes one exit into account; true when it is the one that stops the stack.
    pub fn on_exit(&mut self, e: &Exit) -> bool {
        let mut abort = false;
        if !self.aborting
            && self.cascade != Cascade::Ignore
            && !(self.cascade == Cascade::Failure && e.code == 0)
        {
            self.aborting = true;
            self.code = e.code;
            abort = true;
        }
        if !self.captured && self.exit_code_from.as_deref() == Some(e.service.as_str()) {
            self.captured = true;
            self.code = e.code;
        }
        abort
    }
}

/// How often the container list is read for exits.
const POLL: Duration = Duration::from_millis(100);

/// Runs `w` on a thread until `done` is set (then one last look): prints each exit as compose
/// does, and on the aborting one stops `stop` (the services `up` started). Returns the code.
pub fn spawn_watcher(
    client: &Client,
    mut w: ExitWatcher,
    stop: ServicesRequest,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<i32> {
    let c = Client::new(client.socket().to_path_buf());
    std::thread::spawn(move || {
        let path = format!("/v1/containers?project={}", w.project);
        loop {
            let last = done.load(Ordering::SeqCst);
            if let Ok(rows) = c.call::<(), Vec<ContainerView>>("GET", &path, None) {
                for e in w.exits(&rows) {
                    let again = if e.restarting { " (restarting)" } else { "" };
                    println!("{} exited with code {}{again}", e.label, e.code);
                    if w.on_exit(&e) {
                        eprintln!("Aborting on container exit...");
                        let _ = c.call::<_, serde_json::Value>(
                            "POST",
                            &format!("/v1/projects/{}/stop", w.project),
                            Some(&stop),
                        );
                    }
                }
            }
            if last {
                return w.code;
            }
            std::thread::sleep(POLL);
        }
    })
}

#[cfg(test)]
mod tests;
