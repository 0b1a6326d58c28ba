//! Desired x observed -> actions, per service and replica (compose's convergence rules).

use std::cmp::Reverse;

/// A service as the stack file wants it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub service: String,
    pub hash: String,
    /// How many containers it runs (`scale`; 0 = none).
    pub replicas: u32,
}

/// A (non one-off) container that exists.
#[derive(Debug, Clone)]
pub struct Observed {
    pub id: String,
    pub service: String,
    pub hash: String,
    pub running: bool,
    /// Its replica number, the `N` of `<project>-<service>-N`.
    pub number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// No container with this replica number yet.
    Create { service: String, number: u32 },
    /// Config changed (or forced): remove `old`, then create replica `number` anew.
    Recreate {
        service: String,
        old: String,
        number: u32,
    },
    /// Same config, not running: start it again.
    Start { service: String, id: String },
    /// Same config, running: leave it (and its PID) alone.
    Keep { service: String, id: String },
    /// More containers than the service's scale: this one goes.
    ScaleDown { service: String, id: String },
    /// Its service is gone from the file and `--remove-orphans` was given.
    RemoveOrphan { id: String },
}

impl Action {
    /// The service the action is about (`None` for an orphan's removal).
    pub fn service(&self) -> Option<&str> {
        match self {
            Action::Create { service, .. }
            | Action::Recreate { service, .. }
            | Action::Start { service, .. }
            | Action::Keep { service, .. }
            | Action::ScaleDown { service, .. } => Some(service),
            Action::RemoveOrphan { .. } => None,
        }
    }
}

pub fn diff(
    desired: &[Desired],
    observed: &[Observed],
    force_recreate: bool,
    remove_orphans: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for d in desired {
        let obsolete = |o: &Observed| force_recreate || o.hash != d.hash;
        let mut mine: Vec<&Observed> = observed.iter().filter(|o| o.service == d.service).collect();
        // As compose scales down: outdated containers go first, then the highest numbers,
        // so the replicas that stay keep the low numbers.
        mine.sort_by_key(|o| (!obsolete(o), Reverse(o.number)));
        let excess = mine.len().saturating_sub(d.replicas as usize);
        for o in mine.drain(..excess) {
            actions.push(Action::ScaleDown {
                service: d.service.clone(),
                id: o.id.clone(),
            });
        }
        mine.sort_by_key(|o| o.number);
        for o in &mine {
            let service = d.service.clone();
            actions.push(if obsolete(o) {
                Action::Recreate {
                    service,
                    old: o.id.clone(),
                    number: o.number,
                }
            } else if o.running {
                Action::Keep {
                    service,
                    id: o.id.clone(),
                }
            } else {
                Action::Start {
                    service,
                    id: o.id.clone(),
                }
            });
        }
        // New replicas take the lowest free numbers.
        let taken: Vec<u32> = mine.iter().map(|o| o.number).collect();
        let free = (1..).filter(|n| !taken.contains(n));
        for number in free.take((d.replicas as usize).saturating_sub(mine.len())) {
            actions.push(Action::Create {
                service: d.service.clone(),
                number,
            });
        }
    }
    if remove_orphans {
        for o in observed {
            if !desired.iter().any(|d| d.service == o.service) {
                actions.push(Action::RemoveOrphan { id: o.id.clone() });
            }
        }
    }
    actions
}

/// Services that exist but are no longer in the file (for the orphan warning).
pub fn orphans<'a>(desired: &[Desired], observed: &'a [Observed]) -> Vec<&'a Observed> {
    observed
        .iter()
        .filter(|o| !desired.iter().any(|d| d.service == o.service))
        .collect()
}

/// The replica number in a service container's name, `<project>-<service>-N`; a name
/// without one (none is made so) counts as replica 1, which every release before scaling made.
pub fn replica_number(name: &str, project: &str, service: &str) -> u32 {
    name.strip_prefix(project)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_prefix(service))
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}
