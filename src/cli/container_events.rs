//! The per-container progress lines of the commands that change containers, as docker
//! compose v2 prints them with stderr not a terminal (its "plain" progress mode): the
//! working event, then the done one, `Container NAME  Stopping` / `Container NAME  Stopped`.
//! The daemon answers once the whole operation is done, so both lines of a container are
//! printed together after it; compose's texts and their order per container are kept.

use crate::api::types::ContainerView;

/// compose's event texts of a lifecycle verb: (working, done). `restart` ends with
/// `Started`, as compose's own `restart` does.
pub fn texts(verb: &str) -> Option<(&'static str, &'static str)> {
    Some(match verb {
        "start" => ("Starting", "Started"),
        "stop" => ("Stopping", "Stopped"),
        "restart" => ("Restarting", "Started"),
        _ => return None,
    })
}

/// The containers a verb acts on, in name order: compose's `start` skips running ones,
/// `stop` the ones not running, `restart` takes them all; one-off (`run`) containers never.
pub fn targets(rows: &[ContainerView], services: &[String], verb: &str) -> Vec<String> {
    let states: &[&str] = match verb {
        "start" => &["created", "exited", "dead"],
        "stop" => &["running", "restarting", "paused", "starting"],
        _ => &[],
    };
    let mut out: Vec<String> = rows
        .iter()
        .filter(|c| {
            !c.one_off
                && (services.is_empty() || services.contains(&c.service))
                && (states.is_empty() || states.contains(&c.state.as_str()))
        })
        .map(|c| c.name.clone())
        .collect();
    out.sort();
    out
}

/// The lines of one container: its working event, then its done event.
pub fn pair(name: &str, working: &str, done: &str) -> [String; 2] {
    [
        format!("Container {name}  {working}"),
        format!("Container {name}  {done}"),
    ]
}

/// What `up` prints for a container the daemon reports with `action`: compose's
/// `Creating`/`Created` then `Starting`/`Started` for a new one, `Recreate`/`Recreated`
/// then the start for a replaced one, `Running` alone for one left as it was.
pub fn up_lines(name: &str, action: &str, no_start: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let start = |out: &mut Vec<String>| {
        if !no_start {
            out.extend(pair(name, "Starting", "Started"));
        }
    };
    match action {
        "created" => {
            out.extend(pair(name, "Creating", "Created"));
            start(&mut out);
        }
        "recreated" => {
            out.extend(pair(name, "Recreate", "Recreated"));
            start(&mut out);
        }
        "started" => out.extend(pair(name, "Starting", "Started")),
        "restarted" => out.extend(pair(name, "Restart", "Restarted")),
        "removed" => out.extend(pair(name, "Removing", "Removed")),
        _ => out.push(format!("Container {name}  Running")),
    }
    out
}

/// `up --wait`'s lines for a container once the wait is over: `Waiting`, then `Healthy`
/// (running, and healthy if it has a healthcheck) or `Exited` (a one-shot that completed).
pub fn wait_lines(c: &ContainerView) -> [String; 2] {
    let done = if c.state == "exited" {
        "Exited"
    } else {
        "Healthy"
    };
    pair(&c.name, "Waiting", done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_prints_compose_events_per_action() {
        assert_eq!(
            up_lines("p-web-1", "created", false),
            [
                "Container p-web-1  Creating",
                "Container p-web-1  Created",
                "Container p-web-1  Starting",
                "Container p-web-1  Started"
            ]
        );
        assert_eq!(
            up_lines("p-web-1", "created", true),
            ["Container p-web-1  Creating", "Container p-web-1  Created"]
        );
        assert_eq!(
            up_lines("p-web-1", "recreated", false)[1],
            "Container p-web-1  Recreated"
        );
        assert_eq!(
            up_lines("p-web-1", "running", false),
            ["Container p-web-1  Running"]
        );
        assert_eq!(texts("restart"), Some(("Restarting", "Started")));
        assert_eq!(texts("kill"), None);
    }
}
