//! `rstack stats [--no-stream] [--format json] [SERVICE...]`: the running containers' resource
//! use in docker's `stats` columns; streamed (redrawn every second) unless `--no-stream`.

use super::args::Format;
use super::project;
use super::stack_images::human_size;
use crate::api::Client;
use crate::api::stats::{StatsRequest, StatsView};
use anyhow::Result;
use clap::Args;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Format the output. Values: [table | json]
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    pub services: Vec<String>,
}

/// One row in `docker stats --format json`'s keys, values formatted as docker prints them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsRow {
    #[serde(rename = "BlockIO")]
    pub block_io: String,
    #[serde(rename = "CPUPerc")]
    pub cpu: String,
    #[serde(rename = "Container")]
    pub container: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MemPerc")]
    pub mem_perc: String,
    #[serde(rename = "MemUsage")]
    pub mem_usage: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "NetIO")]
    pub net_io: String,
    #[serde(rename = "PIDs")]
    pub pids: String,
}

/// Docker's `units.BytesSize`: powers of 1024, `%.4g`.
pub fn bytes_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    let digits = match v {
        x if x >= 1000.0 => 0,
        x if x >= 100.0 => 1,
        x if x >= 10.0 => 2,
        _ => 3,
    };
    let s = format!("{v:.digits$}");
    let s = match s.contains('.') {
        true => s.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => s,
    };
    format!("{s}{}", UNITS[u])
}

pub fn row(v: &StatsView, no_trunc: bool) -> StatsRow {
    StatsRow {
        block_io: format!("{} / {}", human_size(v.blk_read), human_size(v.blk_write)),
        cpu: format!("{:.2}%", v.cpu_percent),
        container: v.name.clone(),
        id: match no_trunc {
            true => v.id.clone(),
            false => v.id.chars().take(12).collect(),
        },
        mem_perc: format!("{:.2}%", v.mem_percent),
        mem_usage: format!("{} / {}", bytes_size(v.mem_usage), bytes_size(v.mem_limit)),
        name: v.name.clone(),
        net_io: format!("{} / {}", human_size(v.net_rx), human_size(v.net_tx)),
        pids: v.pids.to_string(),
    }
}

pub fn table(rows: &[StatsRow]) -> String {
    let titles: Vec<String> = [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ]
    .map(String::from)
    .to_vec();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.name.clone(),
                r.cpu.clone(),
                r.mem_usage.clone(),
                r.mem_perc.clone(),
                r.net_io.clone(),
                r.block_io.clone(),
                r.pids.clone(),
            ]
        })
        .collect();
    super::top::render(&titles, &cells)
}

pub fn run(cli: &super::args::Cli, client: &Client, a: &StatsArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    let redraw = !a.no_stream && super::display::ansi(1);
    loop {
        let req = StatsRequest {
            services: a.services.clone(),
            // Streaming: one reading a second apart is the refresh itself.
            interval_ms: (!a.no_stream).then_some(1000),
            all: a.all,
        };
        let views: Vec<StatsView> =
            client.call("POST", &format!("/v1/projects/{p}/stats"), Some(&req))?;
        let rows: Vec<StatsRow> = views.iter().map(|v| row(v, a.no_trunc)).collect();
        if redraw {
            print!("\x1b[2J\x1b[H");
        }
        match a.format {
            Format::Json => {
                for r in &rows {
                    println!("{}", serde_json::to_string(r)?);
                }
            }
            Format::Table => print!("{}", table(&rows)),
        }
        if a.no_stream {
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_docker_stats() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(1_269_760), "1.211MiB");
        assert_eq!(bytes_size(8_194_691_072), "7.632GiB");
        assert_eq!(bytes_size(524_288), "512KiB");
        let v = StatsView {
            id: "0123456789abcdef".into(),
            name: "p-web-1".into(),
            service: "web".into(),
            cpu_percent: 12.345,
            mem_usage: 1_269_760,
            mem_limit: 8_194_691_072,
            mem_percent: 0.0155,
            net_rx: 1_050,
            net_tx: 0,
            blk_read: 4_096,
            blk_write: 0,
            pids: 1,
        };
        let r = row(&v, false);
        assert_eq!(r.id, "0123456789ab");
        assert_eq!(r.cpu, "12.35%");
        assert_eq!(r.mem_usage, "1.211MiB / 7.632GiB");
        assert_eq!(r.mem_perc, "0.02%");
        assert_eq!(r.net_io, "1.05kB / 0B");
        assert_eq!(r.block_io, "4.1kB / 0B");
        let t = table(&[r]);
        assert!(t.starts_with("CONTAINER ID   NAME      CPU %"), "{t}");
    }
}
