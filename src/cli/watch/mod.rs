//! `rstack watch` and `rstack up --watch`: the Compose Specification's `develop.watch`, as
//! `docker compose watch` runs it, in the CLI process talking to the daemon. The services'
//! watch paths are watched with `notify` (recursively), events are debounced (`batch`),
//! filtered per rule (`rules`) and acted on: sync copies the changed files into the running
//! container (`sync`), restart restarts the service, rebuild builds its image with the cache
//! and `up`s only it (no dependencies; with `--prune`, the image it replaced is removed
//! when nothing else names it). Under `up --watch`, an edit of the stack files or `.env` is reconciled
//! as a new revision: reload, `up -d`, new watch set; a load error is printed and the running
//! state is left as it was. Ctrl-C ends watching; the services keep running.

mod batch;
mod prune;
mod rules;
mod sync;

use super::args::{Cli, PullFlag, UpArgs};
use super::project;
use crate::api::Client;
use crate::api::types::ServicesRequest;
use crate::build::ignore::{Ignore, candidates};
use crate::model::{Stack, WatchAction, WatchRule};
use anyhow::{Context, Result, bail};
use clap::Args;
use notify::{RecursiveMode, Watcher};
use rules::{Matcher, container_path};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Do not build & start services before watching
    #[arg(long)]
    pub no_up: bool,
    /// Prune dangling images on rebuild (default true; --prune=false keeps them)
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          require_equals = true, action = clap::ArgAction::Set)]
    pub prune: bool,
    /// Hide build output
    #[arg(long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

/// One watch rule of one service, with its filter.
struct Watched {
    service: String,
    rule: WatchRule,
    matcher: Matcher,
}

/// How rebuilds are done (`watch --prune`, `--quiet`).
#[derive(Debug, Clone, Copy)]
struct Opts {
    /// Remove the image a rebuild left dangling.
    prune: bool,
    /// No build (or pull) output.
    quiet: bool,
}

/// `rstack watch`.
pub fn watch(cli: &Cli, client: &Client, a: &WatchArgs) -> Result<i32> {
    let opts = Opts {
        prune: a.prune,
        quiet: a.quiet,
    };
    if !a.no_up {
        up_detached(cli, client, &a.services, false, opts)?;
    }
    run(cli, client, &a.services, false, opts)
}

/// `rstack up --watch`, after `up` brought the services up (its logs are followed beside).
pub fn after_up(cli: &Cli, client: &Client, services: &[String]) -> Result<i32> {
    // compose's `up --watch` prunes on rebuild, with the build output shown.
    let opts = Opts {
        prune: true,
        quiet: false,
    };
    run(cli, client, services, true, opts)
}

/// `up -d` of `services` (all when empty); `build`: rebuild their images first, and bring
/// up only the services named (compose's rebuild: no dependencies).
fn up_detached(
    cli: &Cli,
    client: &Client,
    services: &[String],
    build: bool,
    opts: Opts,
) -> Result<i32> {
    let a = UpArgs {
        detach: true,
        wait: false,
        force_recreate: false,
        no_start: false,
        no_recreate: false,
        always_recreate_deps: false,
        remove_orphans: false,
        pull: PullFlag::Policy,
        build,
        no_build: false,
        scale: Vec::new(),
        watch: false,
        no_deps: build,
        quiet_build: opts.quiet,
        attached: super::up_flags::AttachedArgs {
            quiet_pull: opts.quiet,
            ..Default::default()
        },
        services: services.to_vec(),
    };
    super::commands::up(cli, client, &a)
}

/// What is watched for one revision of the stack.
struct WatchSet {
    project: String,
    rules: Vec<Watched>,
    /// Stack files and env files (`up --watch` reconciles their edits).
    stack_files: BTreeSet<PathBuf>,
    /// Each service's image reference (what a rebuild replaces).
    images: std::collections::BTreeMap<String, String>,
}

fn watch_set(cli: &Cli, services: &[String]) -> Result<WatchSet> {
    let loaded = project::load_full(cli, true, false)?;
    let stack = &loaded.stack;
    let rules = rules_of(stack, services)?;
    let mut stack_files: BTreeSet<PathBuf> = loaded.sources.iter().cloned().collect();
    stack_files.extend(loaded.files.iter().cloned());
    stack_files.insert(Path::new(&stack.working_dir).join(".env"));
    Ok(WatchSet {
        project: stack.name.clone(),
        rules,
        stack_files,
        images: stack
            .services
            .iter()
            .map(|(n, s)| (n.clone(), s.image.clone()))
            .collect(),
    })
}

fn rules_of(stack: &Stack, services: &[String]) -> Result<Vec<Watched>> {
    for s in services {
        if !stack.services.contains_key(s) {
            bail!("no such service: {s}");
        }
    }
    let mut out = Vec::new();
    for (name, svc) in &stack.services {
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        let Some(dev) = &svc.develop else { continue };
        let di = svc.build.as_ref().map(|b| {
            let ctx = PathBuf::from(&b.context);
            let text = candidates(&ctx, Path::new(&b.dockerfile))
                .iter()
                .find_map(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default();
            (ctx, Ignore::parse(&text))
        });
        for rule in &dev.watch {
            out.push(Watched {
                service: name.clone(),
                rule: rule.clone(),
                matcher: Matcher::new(rule, di.clone()),
            });
        }
    }
    Ok(out)
}

fn run(cli: &Cli, client: &Client, services: &[String], reload: bool, opts: Opts) -> Result<i32> {
    let mut set = watch_set(cli, services)?;
    if set.rules.is_empty() && !reload {
        bail!(
            "none of the selected services is configured for watch: add develop.watch to them (see the Compose Specification's develop section)"
        );
    }
    let (tx, rx) = mpsc::channel();
    let mut watcher = start_watcher(&set, reload, tx.clone())?;
    initial_sync(client, &set);
    eprintln!("Watch enabled");
    let mut batch = batch::Batch::default();
    loop {
        let msg = match batch.wait(Instant::now()) {
            Some(d) => rx.recv_timeout(d),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match msg {
            // Reads (ours included: loading the stack file) change nothing.
            Ok(Ok(ev)) if matches!(ev.kind, notify::EventKind::Access(_)) => {}
            Ok(Ok(ev)) => {
                let now = Instant::now();
                for p in ev.paths {
                    batch.push(p, now);
                }
            }
            Ok(Err(e)) => eprintln!("watch: {e}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
        }
        let Some(paths) = batch.take_due(Instant::now()) else {
            continue;
        };
        if reload && paths.iter().any(|p| set.stack_files.contains(p)) {
            // A new revision of the stack: converge to it, then watch what it says.
            match up_detached(cli, client, services, false, opts)
                .and_then(|_| watch_set(cli, services))
            {
                Ok(new) => {
                    set = new;
                    drop(watcher);
                    watcher = start_watcher(&set, reload, tx.clone())?;
                }
                Err(e) => {
                    // Load errors are diagnostics that already say "error:".
                    let text = format!("{e:#}");
                    let prefix = if text.starts_with("error") {
                        ""
                    } else {
                        "error: "
                    };
                    eprintln!("{prefix}{text}\nthe running services are left as they were");
                }
            }
        }
        act(cli, client, &set, &paths, opts);
    }
}

type Events = mpsc::Sender<notify::Result<notify::Event>>;

fn start_watcher(set: &WatchSet, reload: bool, tx: Events) -> Result<notify::RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let _ = tx.send(ev);
    })
    .context("starting the file watcher")?;
    for r in &set.rules {
        let root = r.matcher.root();
        if let Err(e) = w.watch(root, RecursiveMode::Recursive) {
            eprintln!("warning: cannot watch {}: {e}", root.display());
        }
    }
    if reload {
        // The directories, not the files: editors that save by replacing a file are seen.
        let dirs: BTreeSet<&Path> = set.stack_files.iter().filter_map(|f| f.parent()).collect();
        for d in dirs {
            if let Err(e) = w.watch(d, RecursiveMode::NonRecursive) {
                eprintln!("warning: cannot watch {}: {e}", d.display());
            }
        }
    }
    Ok(w)
}

fn initial_sync(client: &Client, set: &WatchSet) {
    for w in set
        .rules
        .iter()
        .filter(|w| w.rule.initial_sync && w.rule.action.syncs())
    {
        let changes = changes_of(w, &sync::walk(w.matcher.root()));
        if let Err(e) = sync::sync(client, &set.project, &w.service, &changes) {
            eprintln!("error: initial sync of service \"{}\": {e:#}", w.service);
        }
    }
}

/// The host paths of `paths` that rule `w` syncs, with where they go.
fn changes_of(w: &Watched, paths: &[PathBuf]) -> Vec<sync::Change> {
    let target = w.rule.target.as_deref().unwrap_or("/");
    let root_is_dir = w.matcher.root().is_dir();
    paths
        .iter()
        .filter_map(|p| {
            let rel = w.matcher.relevant(p)?;
            // An event on the watched directory itself says nothing about its files.
            (!(rel.is_empty() && root_is_dir)).then(|| (p.clone(), container_path(target, &rel)))
        })
        .collect()
}

/// Acts on one batch: per service, a rebuild wins; otherwise syncs, then one restart and
/// the execs asked for. Errors are printed; watching goes on.
fn act(cli: &Cli, client: &Client, set: &WatchSet, paths: &[PathBuf], opts: Opts) {
    let services: Vec<&str> = {
        let mut v: Vec<&str> = set.rules.iter().map(|w| w.service.as_str()).collect();
        v.dedup();
        v
    };
    for svc in services {
        let rules: Vec<&Watched> = set.rules.iter().filter(|w| w.service == svc).collect();
        // Each path goes to the first of the service's rules that takes it.
        let mut claimed: BTreeSet<&PathBuf> = BTreeSet::new();
        let mut hits: Vec<(&Watched, Vec<PathBuf>)> = Vec::new();
        for w in &rules {
            let mine: Vec<PathBuf> = paths
                .iter()
                .filter(|p| !claimed.contains(p) && w.matcher.relevant(p).is_some())
                .cloned()
                .collect();
            if !mine.is_empty() {
                claimed.extend(paths.iter().filter(|p| mine.contains(p)));
                hits.push((w, mine));
            }
        }
        if hits.is_empty() {
            continue;
        }
        if let Err(e) = act_on(cli, client, set, svc, &hits, opts) {
            eprintln!("error: service \"{svc}\": {e:#}");
        }
    }
}

fn act_on(
    cli: &Cli,
    client: &Client,
    set: &WatchSet,
    svc: &str,
    hits: &[(&Watched, Vec<PathBuf>)],
    opts: Opts,
) -> Result<()> {
    let project = set.project.as_str();
    if hits
        .iter()
        .any(|(w, _)| w.rule.action == WatchAction::Rebuild)
    {
        eprintln!("Rebuilding service \"{svc}\" after changes were detected...");
        let image = set.images.get(svc).map(String::as_str).unwrap_or_default();
        let before = prune::image_id(client, image);
        up_detached(cli, client, &[svc.to_string()], true, opts)?;
        if opts.prune
            && let Some(old) = before
        {
            prune::if_dangling(client, &old);
        }
        eprintln!("service \"{svc}\" successfully built");
        return Ok(());
    }
    let changes: Vec<sync::Change> = hits
        .iter()
        .filter(|(w, _)| w.rule.action.syncs())
        .flat_map(|(w, p)| changes_of(w, p))
        .collect();
    if !changes.is_empty() {
        eprintln!(
            "Syncing service \"{svc}\" after {} changed files",
            changes.len()
        );
        sync::sync(client, project, svc, &changes)?;
    }
    let restart = hits.iter().any(|(w, _)| {
        matches!(
            w.rule.action,
            WatchAction::Restart | WatchAction::SyncRestart
        )
    });
    if restart {
        eprintln!("Restarting service \"{svc}\" after changes were detected...");
        let req = ServicesRequest {
            services: vec![svc.to_string()],
            ..Default::default()
        };
        client.call::<_, serde_json::Value>(
            "POST",
            &format!("/v1/projects/{project}/restart"),
            Some(&req),
        )?;
    }
    for (w, _) in hits
        .iter()
        .filter(|(w, _)| w.rule.action == WatchAction::SyncExec)
    {
        if let Some(x) = &w.rule.exec {
            // As compose: in every running replica.
            for index in sync::replicas(client, project, svc)? {
                let code = sync::exec(client, project, svc, index, x)?;
                if code != 0 {
                    eprintln!("service \"{svc}\": exec {:?} exited with {code}", x.command);
                }
            }
        }
    }
    Ok(())
}
