//! `up --no-recreate` and `up --always-recreate-deps`: compose's recreate policies, applied
//! to the actions `diff` planned.

use super::diff::{Action, Observed};

/// Which containers `up` may recreate.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecreatePolicy<'a> {
    /// Never recreate: a container whose configuration changed is kept (or started) as is.
    pub no_recreate: bool,
    /// Recreate the dependencies pulled in by `targets`, changed or not.
    pub always_recreate_deps: bool,
    /// The services named on the command line (empty = all: then none is a dependency).
    pub targets: &'a [String],
}

/// `actions` rewritten by `policy`. `--no-recreate` wins over `--always-recreate-deps`
/// (compose refuses the two together; the CLI does too).
pub fn apply_recreate_policy(
    actions: Vec<Action>,
    observed: &[Observed],
    policy: RecreatePolicy<'_>,
) -> Vec<Action> {
    let find = |id: &str| observed.iter().find(|o| o.id == id);
    let is_dep = |s: &str| !policy.targets.is_empty() && !policy.targets.iter().any(|t| t == s);
    actions
        .into_iter()
        .map(|a| match a {
            Action::Recreate { service, old, .. } if policy.no_recreate => {
                if find(&old).is_some_and(|o| o.running) {
                    Action::Keep { service, id: old }
                } else {
                    Action::Start { service, id: old }
                }
            }
            Action::Keep { service, id } | Action::Start { service, id }
                if policy.always_recreate_deps && !policy.no_recreate && is_dep(&service) =>
            {
                let number = find(&id).map(|o| o.number).unwrap_or(1);
                Action::Recreate {
                    service,
                    old: id,
                    number,
                }
            }
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(id: &str, service: &str, running: bool) -> Observed {
        Observed {
            id: id.into(),
            service: service.into(),
            hash: "h".into(),
            running,
            number: 1,
        }
    }

    #[test]
    fn no_recreate_keeps_changed_containers() {
        let observed = [obs("a", "web", true), obs("b", "db", false)];
        let actions = vec![
            Action::Recreate {
                service: "web".into(),
                old: "a".into(),
                number: 1,
            },
            Action::Recreate {
                service: "db".into(),
                old: "b".into(),
                number: 1,
            },
        ];
        let policy = RecreatePolicy {
            no_recreate: true,
            ..Default::default()
        };
        let out = apply_recreate_policy(actions, &observed, policy);
        assert!(matches!(&out[0], Action::Keep { id, .. } if id == "a"));
        assert!(matches!(&out[1], Action::Start { id, .. } if id == "b"));
    }

    #[test]
    fn always_recreate_deps_recreates_only_dependencies() {
        let observed = [obs("a", "web", true), obs("b", "db", true)];
        let actions = vec![
            Action::Keep {
                service: "web".into(),
                id: "a".into(),
            },
            Action::Keep {
                service: "db".into(),
                id: "b".into(),
            },
        ];
        let targets = ["web".to_string()];
        let policy = RecreatePolicy {
            always_recreate_deps: true,
            targets: &targets,
            ..Default::default()
        };
        let out = apply_recreate_policy(actions.clone(), &observed, policy);
        assert!(matches!(&out[0], Action::Keep { id, .. } if id == "a"));
        assert!(matches!(&out[1], Action::Recreate { old, .. } if old == "b"));
        // No service named: every service is a target, none a dependency.
        let policy = RecreatePolicy {
            always_recreate_deps: true,
            ..Default::default()
        };
        let out = apply_recreate_policy(actions, &observed, policy);
        assert!(out.iter().all(|a| matches!(a, Action::Keep { .. })));
    }
}
