//! `rstack ls`: the projects the daemon knows, one line each, with their containers' states
//! counted as `docker compose ls` does (`exited(1), running(2)`).

use super::args::Format;
use crate::api::Client;
use crate::api::projects::ProjectView;
use crate::api::types::ContainerView;
use crate::source::status::SourceView;
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show stopped projects too (by default only those with a running container)
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only print project names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter output based on conditions provided: name=TEXT (projects whose name contains
    /// TEXT, as compose's literal patterns match; repeatable: any may match)
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// The `name=` values of `ls --filter` (the one filter compose's `ls` has).
pub fn name_filters(raw: &[String]) -> Result<Vec<String>> {
    raw.iter()
        .map(|f| match f.split_once('=') {
            Some(("name", v)) => Ok(v.to_string()),
            _ => anyhow::bail!("invalid filter \"{f}\": rstack ls filters by name=TEXT"),
        })
        .collect()
}

/// One project as `docker compose ls --format json` prints it.
#[derive(Debug, Serialize, PartialEq)]
pub struct ProjectRow {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Status")]
    pub status: String,
    /// The project's stack files, absolute, comma-separated (as compose prints them).
    #[serde(rename = "ConfigFiles")]
    pub config_files: String,
    /// The sync source that applies the project, with its status (`sync ls`).
    #[serde(rename = "Source", skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Groups containers by project; the status counts each state, states in name order as
/// compose sorts them. Without `all`, projects with no running container are left out.
pub fn projects(rows: &[ContainerView], all: bool) -> Vec<ProjectRow> {
    let mut by: BTreeMap<&str, BTreeMap<&str, u32>> = BTreeMap::new();
    for c in rows {
        *by.entry(&c.project)
            .or_default()
            .entry(c.state.as_str())
            .or_default() += 1;
    }
    by.into_iter()
        .filter(|(_, states)| all || states.contains_key("running"))
        .map(|(name, states)| ProjectRow {
            name: name.to_string(),
            status: states
                .iter()
                .map(|(s, n)| format!("{s}({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            config_files: String::new(),
            source: None,
        })
        .collect()
}

/// Each row's CONFIG FILES from the daemon's list: the paths joined with `,` as compose does.
pub fn fill_config_files(list: &mut [ProjectRow], files: &[ProjectView]) {
    for p in list.iter_mut() {
        if let Some(f) = files.iter().find(|f| f.name == p.name) {
            p.config_files = f.config_files.join(",");
        }
    }
}

pub fn run(client: &Client, a: &LsArgs) -> Result<i32> {
    let rows: Vec<ContainerView> = client.call::<(), _>("GET", "/v1/containers", None)?;
    let names = name_filters(&a.filter)?;
    let mut list = projects(&rows, a.all);
    // As docker's filters: several values of one key match when any does.
    list.retain(|p| names.is_empty() || names.iter().any(|n| p.name.contains(n.as_str())));
    // Best effort: a daemon without sources answers 404, and the list is the same without.
    let sources: Vec<SourceView> = client
        .call::<(), _>("GET", "/v1/sources", None)
        .unwrap_or_default();
    // Best effort too: an older daemon has no such list, and the column stays empty.
    let files: Vec<ProjectView> = client
        .call::<(), _>("GET", "/v1/projects", None)
        .unwrap_or_default();
    fill_config_files(&mut list, &files);
    for p in &mut list {
        p.source = sources
            .iter()
            .find(|s| s.spec.project_name() == p.name)
            .map(|s| {
                let st = &s.status;
                let rev = st.revision.as_deref().unwrap_or("-");
                let state = if st.suspended { " Suspended" } else { "" };
                format!(
                    "{} ({:?}/{:?} {rev}{state})",
                    s.spec.name, st.sync, st.health
                )
            });
    }
    if a.quiet {
        for p in &list {
            println!("{}", p.name);
        }
    } else if a.format == Format::Json {
        println!("{}", serde_json::to_string(&list)?);
    } else {
        let w = list.iter().map(|p| p.name.len()).max().unwrap_or(0).max(4);
        let sw = list
            .iter()
            .map(|p| p.status.len())
            .max()
            .unwrap_or(0)
            .max(6);
        // The SOURCE column only when a project has one: compose's layout otherwise.
        match list.iter().any(|p| p.source.is_some()) {
            false => {
                println!("{:<w$}   {:<sw$}   CONFIG FILES", "NAME", "STATUS");
                for p in &list {
                    println!("{:<w$}   {:<sw$}   {}", p.name, p.status, p.config_files);
                }
            }
            true => {
                println!("{:<w$}   {:<sw$}   SOURCE", "NAME", "STATUS");
                for p in &list {
                    let src = p.source.as_deref().unwrap_or("");
                    println!("{:<w$}   {:<sw$}   {src}", p.name, p.status);
                }
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(project: &str, state: &str) -> ContainerView {
        serde_json::from_value(serde_json::json!({
            "id": "x", "name": "n", "project": project, "service": "s", "state": state,
            "restarts": 0, "image": "i", "oom_killed": false, "one_off": false
        }))
        .expect("view")
    }

    #[test]
    fn counts_states_per_project_in_name_order() {
        let rows = [
            c("b", "running"),
            c("a", "running"),
            c("a", "exited"),
            c("a", "running"),
            c("z", "exited"),
        ];
        let got = projects(&rows, false);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "a");
        assert_eq!(got[0].status, "exited(1), running(2)");
        assert_eq!(got[1].status, "running(1)");
        let all = projects(&rows, true);
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].status, "exited(1)");
    }

    #[test]
    fn config_files_are_joined_with_commas_as_compose_does() {
        let mut list = projects(&[c("a", "running"), c("b", "running")], true);
        let files = [ProjectView {
            name: "a".into(),
            config_files: vec!["/w/compose.yaml".into(), "/w/extra.yaml".into()],
        }];
        fill_config_files(&mut list, &files);
        assert_eq!(list[0].config_files, "/w/compose.yaml,/w/extra.yaml");
        assert_eq!(list[1].config_files, "");
    }

    #[test]
    fn json_shape_is_composes() {
        let got = serde_json::to_value(projects(&[c("a", "running")], true)).expect("json");
        assert_eq!(
            got,
            serde_json::json!([{"Name": "a", "Status": "running(1)", "ConfigFiles": ""}])
        );
    }
}
