//! `rstack inspect CONTAINER|SERVICE...`: containers as `docker inspect` prints them
//! (a JSON array), health log included.

use super::args::Cli;
use super::project;
use crate::api::client::{Client, query_escape};
use anyhow::{Result, bail};
use clap::Args;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Output format (only `json`: templates are not supported)
    #[arg(short, long, default_value = "json")]
    pub format: String,
    /// Container names or service names (a service: each of its containers)
    #[arg(required = true)]
    pub targets: Vec<String>,
}

pub fn run(cli: &Cli, client: &Client, a: &InspectArgs) -> Result<i32> {
    if a.format != "json" {
        bail!(
            "--format {:?}: only `json` is supported (pipe the JSON to jq for one field)",
            a.format
        );
    }
    let p = project::project_name(cli)?;
    let mut all: Vec<serde_json::Value> = Vec::new();
    for t in &a.targets {
        let path = format!(
            "/v1/containers/inspect?project={}&target={}",
            query_escape(&p),
            query_escape(t)
        );
        all.extend(client.call::<(), Vec<serde_json::Value>>("GET", &path, None)?);
    }
    println!("{}", serde_json::to_string_pretty(&all)?);
    Ok(0)
}
