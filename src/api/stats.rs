//! `POST /v1/projects/{project}/stats`: each running container's resource use, docker's
//! `stats` columns. The CPU share is computed here from two readings of the runtime's (taken
//! in parallel over the containers): the previous call's when recent, as docker uses its
//! previous read, else two readings `interval_ms` apart.

use super::server::{ApiFailure, ServerState};
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use crate::runtime::cgroup::Layout;
use crate::runtime::stats::{self, Sample};
use crate::store::{ContainerRecord, State};
use axum::Json;
use axum::extract::{Path, State as AxState};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsRequest {
    pub services: Vec<String>,
    /// Time between the two readings (at most 5 s). `None`: since the previous call's
    /// reading when it is recent, else 50 ms.
    pub interval_ms: Option<u64>,
    /// `stats -a`: stopped containers too, with zero figures (as docker shows them).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

/// One container's figures, raw (the CLI formats them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsView {
    pub id: String,
    pub name: String,
    pub service: String,
    /// Percent of one CPU (100 = one core busy), as docker shows it.
    pub cpu_percent: f64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub mem_percent: f64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

/// The figures from two readings `elapsed` apart; `host_mem` is the limit of a container
/// without one.
pub fn compute(prev: &Sample, cur: &Sample, elapsed: Duration, host_mem: u64) -> StatsFigures {
    let wall = elapsed.as_nanos() as f64;
    let cpu = cur.cpu_ns.saturating_sub(prev.cpu_ns) as f64;
    let cpu_percent = if wall > 0.0 { cpu / wall * 100.0 } else { 0.0 };
    let limit = match cur.mem_limit {
        Some(l) if host_mem == 0 || l < host_mem => l,
        _ => host_mem,
    };
    let mem_percent = if limit > 0 {
        cur.mem_usage as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    StatsFigures {
        cpu_percent,
        mem_limit: limit,
        mem_percent,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatsFigures {
    pub cpu_percent: f64,
    pub mem_limit: u64,
    pub mem_percent: f64,
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

/// The last reading of each container (by id) and when it was taken.
type Readings = HashMap<String, (Instant, Sample)>;

fn last() -> std::sync::MutexGuard<'static, Readings> {
    static LAST: OnceLock<Mutex<Readings>> = OnceLock::new();
    LAST.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A previous reading of every container, each between 20 ms and 30 s old (`use_cache`
/// off: none, the caller asked for its own interval).
fn previous(recs: &[(ContainerRecord, i32)], use_cache: bool) -> Option<Vec<(Instant, Sample)>> {
    if !use_cache {
        return None;
    }
    let now = Instant::now();
    let m = last();
    recs.iter()
        .map(|(r, _)| {
            let (t, s) = m.get(&r.id)?;
            let age = now.duration_since(*t);
            (age >= Duration::from_millis(20) && age <= Duration::from_secs(30))
                .then(|| (*t, s.clone()))
        })
        .collect()
}

/// Keeps this reading for the next call; readings of containers not seen for a minute go.
fn remember(recs: &[(ContainerRecord, i32)], at: Instant, samples: &[Sample]) {
    let mut m = last();
    m.retain(|_, (t, _)| at.duration_since(*t) < Duration::from_secs(60));
    for ((r, _), s) in recs.iter().zip(samples) {
        m.insert(r.id.clone(), (at, s.clone()));
    }
}

/// One reading of every container, spread over a few threads (the reads are syscalls, each
/// cheap; a hundred containers are a few hundred files).
fn read_all(layout: &Layout, recs: &[(ContainerRecord, i32)]) -> Vec<Sample> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let chunk = recs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = recs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(r, pid)| {
                            stats::sample(layout, &r.config.cgroup_path, &r.config.resources, *pid)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

pub async fn stats<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<StatsRequest>,
) -> Result<Json<Vec<StatsView>>, ApiFailure> {
    let recs = super::top::records_of(&st, &project, &req.services)?;
    let stopped: Vec<StatsView> = recs
        .iter()
        .filter(|r| req.all && !(r.state == State::Running && r.pid.is_some()))
        .filter(|r| req.services.is_empty() || req.services.contains(&r.service))
        .map(|r| StatsView {
            id: r.id.clone(),
            name: r.name.clone(),
            service: r.service.clone(),
            cpu_percent: 0.0,
            mem_usage: 0,
            mem_limit: 0,
            mem_percent: 0.0,
            net_rx: 0,
            net_tx: 0,
            blk_read: 0,
            blk_write: 0,
            pids: 0,
        })
        .collect();
    let mut running: Vec<(ContainerRecord, i32)> = recs
        .into_iter()
        .filter(|r| r.state == State::Running)
        .filter(|r| req.services.is_empty() || req.services.contains(&r.service))
        .filter_map(|r| r.pid.map(|p| (r, p)))
        .collect();
    running.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let interval = Duration::from_millis(req.interval_ms.unwrap_or(50).min(5000));
    let views = tokio::task::spawn_blocking(move || -> Result<Vec<StatsView>, ApiFailure> {
        let layout = Layout::detect().map_err(|e| ApiFailure::Internal(e.to_string()))?;
        let host = stats::host_memory();
        // As docker: the CPU share since the previous reading, when one is recent enough
        // (a stream's last refresh, or the previous call); else two readings `interval` apart.
        let earlier = previous(&running, req.interval_ms.is_none());
        let first: Vec<(Instant, Sample)> = match earlier {
            Some(e) => e,
            None => {
                let t0 = Instant::now();
                let s = read_all(&layout, &running);
                std::thread::sleep(interval);
                s.into_iter().map(|x| (t0, x)).collect()
            }
        };
        let now = Instant::now();
        let second = read_all(&layout, &running);
        remember(&running, now, &second);
        Ok(running
            .iter()
            .zip(first.iter().zip(&second))
            .map(|((r, _), ((t0, a), b))| {
                let f = compute(a, b, now.duration_since(*t0), host);
                StatsView {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    service: r.service.clone(),
                    cpu_percent: f.cpu_percent,
                    mem_usage: b.mem_usage,
                    mem_limit: f.mem_limit,
                    mem_percent: f.mem_percent,
                    net_rx: b.net_rx,
                    net_tx: b.net_tx,
                    blk_read: b.blk_read,
                    blk_write: b.blk_write,
                    pids: b.pids,
                }
            })
            .collect())
    })
    .await
    .map_err(|e| ApiFailure::Internal(e.to_string()))??;
    let mut views = views;
    if !stopped.is_empty() {
        views.extend(stopped);
        views.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(Json(views))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_share_is_cpu_time_over_wall_time() {
        let a = Sample {
            cpu_ns: 1_000_000,
            ..Default::default()
        };
        let b = Sample {
            cpu_ns: 51_000_000,
            mem_usage: 256,
            mem_limit: Some(1024),
            ..Default::default()
        };
        let f = compute(&a, &b, Duration::from_millis(100), 4096);
        assert!((f.cpu_percent - 50.0).abs() < 1e-9);
        assert_eq!(f.mem_limit, 1024);
        assert!((f.mem_percent - 25.0).abs() < 1e-9);
        // No limit (or one above the host's memory): the host's.
        let unlimited = Sample {
            mem_usage: 1024,
            ..Default::default()
        };
        let f = compute(&unlimited, &unlimited, Duration::from_millis(100), 4096);
        assert_eq!(
            (f.cpu_percent, f.mem_limit, f.mem_percent),
            (0.0, 4096, 25.0)
        );
        // A counter going back (a process gone) is no negative share.
        assert_eq!(
            compute(&b, &a, Duration::from_millis(1), 0).cpu_percent,
            0.0
        );
    }
}
