//! Services named on the command line (`up SVC`, `run SVC`): as in Compose, a targeted service
//! is loaded whatever the active profiles, and its profiles become active for it and for the
//! services it depends on.
//!
//! Compose adds the target's profiles to the active set and then keeps only the targets and
//! their dependencies; here only the services reachable from the targets through dependencies
//! are enabled by the added profiles, so a sibling in the same profile (which Compose would not
//! start either) cannot make the load fail.

use super::error::{Diagnostic, Severity};
use super::keys;
use super::service;
use super::value::Cx;
use super::yaml::{Node, Span};
use std::collections::BTreeSet;

/// One service of the merged tree as the profile pass sees it.
pub struct Candidate<'n> {
    pub name: String,
    pub node: &'n Node,
    pub profiles: Vec<String>,
    /// Enabled by the active profiles alone.
    pub on: bool,
}

/// Marks the targets and their dependency closure as enabled where the targets' profiles allow
/// it; returns the profiles the targets added (to report as active). Unknown targets are
/// errors listing the services.
pub fn enable(
    cx: &mut Cx<'_>,
    candidates: &mut [Candidate<'_>],
    targets: &[String],
) -> Vec<String> {
    let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
    let mut added: Vec<String> = Vec::new();
    let mut roots = Vec::new();
    for t in targets {
        let Some(c) = candidates.iter().find(|c| &c.name == t) else {
            cx.report.push(unknown_target(t, &names));
            continue;
        };
        roots.push(t.clone());
        if !c.on {
            for p in &c.profiles {
                if !added.contains(p) {
                    added.push(p.clone());
                }
            }
        }
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue = roots.clone();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(c) = candidates.iter_mut().find(|c| c.name == name) else {
            // Unknown dependencies are reported by the dependency check.
            continue;
        };
        if !c.on && (roots.contains(&name) || c.profiles.iter().any(|p| added.contains(p))) {
            c.on = true;
        }
        if c.on {
            queue.extend(dependencies(c.node).into_iter().map(|(d, _, _, _)| d));
        }
    }
    added
}

fn unknown_target(target: &str, names: &[&str]) -> Diagnostic {
    let list = if names.is_empty() {
        "the stack has no services".to_string()
    } else {
        format!("the stack has: {}", names.join(", "))
    };
    let hint = match keys::suggest(target, names) {
        Some(s) => format!("did you mean \"{s}\"? {list}"),
        None => list,
    };
    Diagnostic::plain(Severity::Error, format!("no such service: \"{target}\"")).with_hint(hint)
}

/// Every service `svc` depends on: `depends_on` entries (with whether they are required), then
/// the implied ones (links, volumes_from, network_mode: service:), each with the key that
/// names it.
pub fn dependencies(svc: &Node) -> Vec<(String, Span, bool, &'static str)> {
    let mut entries: Vec<(String, Span, bool, &'static str)> = super::depends::entries(svc)
        .into_iter()
        .map(|e| (e.name, e.span, e.dep.required, "depends_on"))
        .collect();
    entries.extend(
        service::implied_dependencies(svc)
            .into_iter()
            .map(|(d, span, key)| (d, span, true, key)),
    );
    entries
}
