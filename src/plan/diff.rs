//! Desired x observed -> actions, per service (compose's convergence rules).

/// A service as the stack file wants it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub service: String,
    pub hash: String,
}

/// A (non one-off) container that exists.
#[derive(Debug, Clone)]
pub struct Observed {
    pub id: String,
    pub service: String,
    pub hash: String,
    pub running: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// No container yet.
    Create { service: String },
    /// Config changed (or forced): create the new one, then remove `old`.
    Recreate { service: String, old: String },
    /// Same config, not running: start it again.
    Start { service: String, id: String },
    /// Same config, running: leave it (and its PID) alone.
    Keep { service: String, id: String },
    /// Its service is gone from the file and `--remove-orphans` was given.
    RemoveOrphan { id: String },
}

pub fn diff(
    desired: &[Desired],
    observed: &[Observed],
    force_recreate: bool,
    remove_orphans: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for d in desired {
        let action = match observed.iter().find(|o| o.service == d.service) {
            None => Action::Create {
                service: d.service.clone(),
            },
            Some(o) if force_recreate || o.hash != d.hash => Action::Recreate {
                service: d.service.clone(),
                old: o.id.clone(),
            },
            Some(o) if o.running => Action::Keep {
                service: d.service.clone(),
                id: o.id.clone(),
            },
            Some(o) => Action::Start {
                service: d.service.clone(),
                id: o.id.clone(),
            },
        };
        actions.push(action);
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
