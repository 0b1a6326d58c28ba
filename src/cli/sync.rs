//! `rstack sync`: sources the daemon follows (a directory or a Git repository), their
//! status as Argo CD shows it, history, rollback, suspend and resume.

use super::args::Format;
use crate::api::Client;
use crate::source::status::SourceView;
use crate::source::{DIR_INTERVAL, GIT_INTERVAL, SourceKind, SourceSpec};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
// Built only when used (`args::Command` says why).
#[command(defer = true)]
pub enum SyncCommand {
    /// Follow a directory (or Git repository) and keep its stack applied
    Add(AddArgs),
    /// List the sources and their status
    Ls {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Show a source's status and the revisions it applied
    Status { name: String },
    /// Load and apply the source's current revision now (even one that failed before)
    Now { name: String },
    /// Stop applying the source's new revisions
    Suspend { name: String },
    /// Apply the source's new revisions again (and its current one now)
    Resume { name: String },
    /// Apply an earlier revision from the history (default: the one before) and suspend
    Rollback {
        name: String,
        revision: Option<String>,
    },
    /// Stop following a source; its project goes down unless --keep-stack
    Rm {
        name: String,
        #[arg(long)]
        keep_stack: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    pub name: String,
    /// A Git repository URL
    #[arg(long, conflicts_with = "dir", required_unless_present = "dir")]
    pub git: Option<String>,
    /// Branch, tag or commit of --git
    #[arg(long = "ref", requires = "git")]
    pub reference: Option<String>,
    /// A local directory holding the stack files
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Stack file relative to the source's root (repeatable; default: compose.yaml etc.)
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// Poll interval (git) or safety-net rescan (dir), e.g. 30s, 5m
    #[arg(long)]
    pub interval: Option<String>,
    /// Project name (default: the source's name)
    #[arg(long)]
    pub project: Option<String>,
    /// Remove services that left the stack file
    #[arg(long)]
    pub prune: bool,
    /// Converge manual changes (a container removed, stopped, killed, reconfigured) back
    #[arg(long)]
    pub self_heal: bool,
    /// File holding the secret that signs the source's webhooks (GitHub/Gitea HMAC-SHA256)
    #[arg(long, requires = "git")]
    pub webhook_secret_file: Option<PathBuf>,
}

pub fn run(client: &Client, cmd: &SyncCommand) -> Result<i32> {
    let path = |name: &str, verb: &str| {
        let n = crate::api::client::query_escape(name);
        match verb {
            "" => format!("/v1/sources/{n}"),
            v => format!("/v1/sources/{n}/{v}"),
        }
    };
    match cmd {
        SyncCommand::Add(a) => {
            let spec = spec_of(a)?;
            super::connect::ensure_daemon(client)?;
            let v: SourceView = client.call("POST", "/v1/sources", Some(&spec))?;
            println!("source {} added ({})", v.spec.name, kind_text(&v.spec.kind));
        }
        SyncCommand::Ls { format } => {
            let all: Vec<SourceView> = client.call::<(), _>("GET", "/v1/sources", None)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&all)?),
                Format::Table => {
                    let mut rows = vec![row_head()];
                    rows.extend(all.iter().map(row));
                    print!("{}", columns(&rows));
                }
            }
        }
        SyncCommand::Status { name } => {
            let v: SourceView = client.call::<(), _>("GET", &path(name, ""), None)?;
            print_status(&v);
        }
        SyncCommand::Now { name } => {
            client.call::<(), SourceView>("POST", &path(name, "now"), None)?;
            println!("source {name}: sync asked");
        }
        SyncCommand::Suspend { name } => {
            client.call::<(), SourceView>("POST", &path(name, "suspend"), None)?;
            println!("source {name}: suspended");
        }
        SyncCommand::Resume { name } => {
            client.call::<(), SourceView>("POST", &path(name, "resume"), None)?;
            println!("source {name}: resumed");
        }
        SyncCommand::Rollback { name, revision } => {
            let body = serde_json::json!({ "to": revision });
            let v: SourceView = client.call("POST", &path(name, "rollback"), Some(&body))?;
            print_status(&v);
        }
        SyncCommand::Rm { name, keep_stack } => {
            let q = format!("{}?keep_stack={keep_stack}", path(name, ""));
            client.call::<(), serde_json::Value>("DELETE", &q, None)?;
            println!("source {name} removed");
        }
    }
    Ok(0)
}

pub(super) fn spec_of(a: &AddArgs) -> Result<SourceSpec> {
    let kind = match (&a.git, &a.dir) {
        (Some(url), _) => SourceKind::Git {
            url: url.clone(),
            reference: a.reference.clone(),
        },
        (None, Some(d)) => {
            let abs = std::path::absolute(d).with_context(|| format!("--dir {}", d.display()))?;
            SourceKind::Dir { path: abs }
        }
        (None, None) => bail!("give --git URL or --dir PATH"),
    };
    let interval = match &a.interval {
        Some(s) => crate::model::units::parse_duration(s)
            .map_err(|e| anyhow::anyhow!("--interval {s}: {e}"))?,
        None if a.git.is_some() => GIT_INTERVAL,
        None => DIR_INTERVAL,
    };
    let webhook_secret = match &a.webhook_secret_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("--webhook-secret-file {}", f.display()))?;
            let secret = text.trim_end_matches(['\n', '\r']).to_string();
            if secret.is_empty() {
                bail!("--webhook-secret-file {}: the file is empty", f.display());
            }
            Some(secret)
        }
        None => None,
    };
    if interval.is_zero() {
        bail!("--interval must be above 0");
    }
    Ok(SourceSpec {
        name: a.name.clone(),
        kind,
        paths: a.paths.clone(),
        interval,
        project: a.project.clone(),
        prune: a.prune,
        self_heal: a.self_heal,
        webhook_secret,
    })
}

fn kind_text(k: &SourceKind) -> String {
    match k {
        SourceKind::Dir { path } => format!("dir {}", path.display()),
        SourceKind::Git { url, reference } => match reference {
            Some(r) => format!("git {url}@{r}"),
            None => format!("git {url}"),
        },
    }
}

fn row_head() -> Vec<String> {
    ["NAME", "SOURCE", "SYNC", "HEALTH", "REVISION", "SUSPENDED"]
        .map(String::from)
        .to_vec()
}

fn row(v: &SourceView) -> Vec<String> {
    vec![
        v.spec.name.clone(),
        kind_text(&v.spec.kind),
        format!("{:?}", v.status.sync),
        format!("{:?}", v.status.health),
        v.status.revision.clone().unwrap_or_else(|| "-".into()),
        v.status.suspended.to_string(),
    ]
}

fn print_status(v: &SourceView) {
    let s = &v.status;
    println!("Name:      {}", v.spec.name);
    println!("Source:    {}", kind_text(&v.spec.kind));
    println!("Project:   {}", v.spec.project_name());
    println!("Sync:      {:?}", s.sync);
    println!("Health:    {:?}", s.health);
    let state = if s.suspended { "Suspended" } else { "Active" };
    println!("State:     {state}");
    if v.webhook {
        println!("Webhook:   yes");
    }
    println!("Revision:  {}", s.revision.as_deref().unwrap_or("-"));
    if let Some(at) = &s.applied_at {
        println!("Applied:   {at}");
    }
    if let Some(e) = &s.error {
        println!("Error at:  {}", s.error_at.as_deref().unwrap_or("-"));
        println!("Error:     {e}");
    }
    println!("Self-heal: {}", if v.spec.self_heal { "on" } else { "off" });
    if let Some(d) = &s.drift {
        println!("Drift at:  {}", s.drift_at.as_deref().unwrap_or("-"));
        println!("Drift:     {d}");
    }
    if !v.history.is_empty() {
        println!("History:");
        for h in &v.history {
            println!("  {:>3}  {}  {}", h.seq, h.revision, h.applied_at);
        }
    }
}

/// Rows as left-aligned columns, three spaces apart.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:w$}", w = widths[i]))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}
