//! `POST /v1/projects/{project}/events`: a stream of the project's container events
//! (newline-delimited `EventView`s) until the client goes away. The daemon looks at its
//! records each time the engine's change signal says one was saved or removed (and on a
//! slow safety tick), and reports each change as docker names it: create, start, die,
//! destroy, health_status. Changes between two looks are still seen by their effect (a
//! restart in between shows as die then start, from the start time).
//!
//! Sync sources of the project add `type: "source"` events (fetch, apply, fail, drift, heal,
//! suspend, resume, rollback), which the sync controller broadcasts as they happen.

use super::server::{ApiFailure, ServerState};
use super::types::ServicesRequest;
use crate::reconcile::engine::ImageSource;
use crate::reconcile::runtime::Runtime;
use crate::store::{ContainerRecord, State};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// One event, in `docker compose events --json`'s keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub time: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: String,
    pub id: String,
    pub service: String,
    pub attributes: BTreeMap<String, String>,
}

/// A source event and the project its source deploys (the stream of that project shows it).
#[derive(Debug, Clone)]
pub struct SourceEvent {
    pub project: String,
    pub event: EventView,
}

/// Where the sync controller sends source events; each event stream subscribes.
pub type SourceEvents = tokio::sync::broadcast::Sender<SourceEvent>;

/// A source event as the stream shows it: `id` the source's name, `service` empty, the
/// source's name again, the revision and the error (if any) in the attributes.
pub fn source_event(
    source: &str,
    action: &str,
    attributes: impl IntoIterator<Item = (&'static str, String)>,
) -> EventView {
    let mut attrs: BTreeMap<String, String> = attributes
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    attrs.insert("source".to_string(), source.to_string());
    EventView {
        time: crate::runtime::log::rfc3339_nanos(std::time::SystemTime::now()),
        kind: "source".to_string(),
        action: action.to_string(),
        id: source.to_string(),
        service: String::new(),
        attributes: attrs,
    }
}

/// The longest the stream goes without looking at the records: a safety net for a change
/// the signal missed (none known), not the way changes are found.
const SAFETY_TICK: Duration = Duration::from_secs(2);

/// What the watch compares of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Snap {
    pub id: String,
    pub name: String,
    pub service: String,
    pub image: String,
    pub running: bool,
    pub started_at: Option<u64>,
    pub exit_code: Option<i32>,
    pub health: Option<String>,
}

impl Snap {
    pub fn of(r: &ContainerRecord) -> Snap {
        Snap {
            id: r.id.clone(),
            name: r.name.clone(),
            service: r.service.clone(),
            image: r.image.clone(),
            running: r.state == State::Running,
            started_at: r.started_at,
            exit_code: r.exit_code,
            health: r.health.clone(),
        }
    }
}

/// The events that turn `prev` into `cur` (actions with their container), in order.
pub fn diff(prev: &HashMap<String, Snap>, cur: &[Snap]) -> Vec<(String, Snap)> {
    let mut out = Vec::new();
    for c in cur {
        let ev = |a: &str| (a.to_string(), c.clone());
        match prev.get(&c.id) {
            None => {
                out.push(ev("create"));
                if c.running {
                    out.push(ev("start"));
                }
            }
            Some(p) => {
                let restarted = c.running && p.running && c.started_at != p.started_at;
                if p.running && (!c.running || restarted) {
                    out.push(ev("die"));
                }
                if c.running && (!p.running || restarted) {
                    out.push(ev("start"));
                }
                if c.health != p.health
                    && let Some(h) = &c.health
                {
                    out.push((format!("health_status: {h}"), c.clone()));
                }
            }
        }
    }
    let mut gone: Vec<&Snap> = prev
        .values()
        .filter(|p| !cur.iter().any(|c| c.id == p.id))
        .collect();
    gone.sort_by(|a, b| a.name.cmp(&b.name));
    for p in gone {
        if p.running {
            out.push(("die".to_string(), p.clone()));
        }
        out.push(("destroy".to_string(), p.clone()));
    }
    out
}

fn view(action: &str, s: &Snap) -> EventView {
    let mut attributes = BTreeMap::new();
    attributes.insert("image".to_string(), s.image.clone());
    attributes.insert("name".to_string(), s.name.clone());
    if action == "die"
        && let Some(code) = s.exit_code
    {
        attributes.insert("exitCode".to_string(), code.to_string());
    }
    EventView {
        time: crate::runtime::log::rfc3339_nanos(std::time::SystemTime::now()),
        kind: "container".to_string(),
        action: action.to_string(),
        id: s.id.clone(),
        service: s.service.clone(),
        attributes,
    }
}

type St<R, I> = AxState<Arc<ServerState<R, I>>>;

pub async fn events<R: Runtime, I: ImageSource>(
    st: St<R, I>,
    Path(project): Path<String>,
    Json(req): Json<ServicesRequest>,
) -> Result<Response, ApiFailure> {
    super::validate::names(&project, &req.services).map_err(ApiFailure::BadRequest)?;
    // Subscribed before the first look, so nothing between the two is missed.
    let mut changes = st.engine.changes();
    let mut sources = st.source_events.subscribe();
    let mine = project.clone();
    let snaps = move |st: &ServerState<R, I>| -> Vec<Snap> {
        st.engine
            .list(Some(&project))
            .unwrap_or_default()
            .iter()
            .filter(|r| req.services.is_empty() || req.services.contains(&r.service))
            .map(Snap::of)
            .collect()
    };
    let mut prev: HashMap<String, Snap> =
        snaps(&st).into_iter().map(|s| (s.id.clone(), s)).collect();
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let st = st.0.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                r = changes.changed() => {
                    if r.is_err() {
                        return;
                    }
                }
                ev = sources.recv() => {
                    match ev {
                        Ok(ev) if ev.project == mine => {
                            if send(&tx, &ev.event).await.is_err() {
                                return;
                            }
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                    continue;
                }
                _ = tokio::time::sleep(SAFETY_TICK) => {}
            }
            changes.borrow_and_update();
            let cur = snaps(&st);
            for (action, s) in diff(&prev, &cur) {
                if send(&tx, &view(&action, &s)).await.is_err() {
                    return;
                }
            }
            prev = cur.into_iter().map(|s| (s.id.clone(), s)).collect();
        }
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .map_err(|e| ApiFailure::Internal(e.to_string()))
}

/// Sends one event as a JSON line; Err when the client went away.
async fn send(tx: &mpsc::Sender<Result<Bytes, std::io::Error>>, ev: &EventView) -> Result<(), ()> {
    let Ok(mut line) = serde_json::to_vec(ev) else {
        return Ok(());
    };
    line.push(b'\n');
    tx.send(Ok(Bytes::from(line))).await.map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, running: bool, started: u64) -> Snap {
        Snap {
            id: id.into(),
            name: format!("p-{id}-1"),
            service: id.into(),
            image: "busybox".into(),
            running,
            started_at: Some(started),
            exit_code: (!running).then_some(137),
            health: None,
        }
    }

    fn actions(ev: &[(String, Snap)]) -> Vec<String> {
        ev.iter().map(|(a, s)| format!("{a} {}", s.id)).collect()
    }

    #[test]
    fn reports_each_change_as_docker_names_it() {
        let none = HashMap::new();
        assert_eq!(
            actions(&diff(&none, &[snap("a", true, 1)])),
            ["create a", "start a"]
        );
        let was: HashMap<String, Snap> = [snap("a", true, 1), snap("b", true, 1)]
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        // a stopped, b restarted between two looks, c gone... c was never there: nothing.
        let got = diff(&was, &[snap("a", false, 1), snap("b", true, 2)]);
        assert_eq!(actions(&got), ["die a", "die b", "start b"]);
        assert_eq!(view("die", &got[0].1).attributes["exitCode"], "137");
        assert_eq!(
            actions(&diff(&was, &[])),
            ["die a", "destroy a", "die b", "destroy b"]
        );
        let mut healthy = snap("a", true, 1);
        healthy.health = Some("healthy".into());
        assert_eq!(
            actions(&diff(&was, &[healthy, snap("b", true, 1)])),
            ["health_status: healthy a"]
        );
    }
}
