//! `up --dry-run`: the actions `plan` chose, reported as `up` would report them once done,
//! each recreation with its reasons, and nothing applied.

use super::request::ActionReport;
use crate::model::Stack;
use crate::plan::{self, Action, ResolvedImage};
use crate::store::ContainerRecord;
use std::collections::HashMap;

/// What `up` flags forced a recreation that no key explains.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Forced {
    pub force_recreate: bool,
    pub always_recreate_deps: bool,
}

/// One report per planned action. A service whose image is not present (it would be pulled
/// or built first) plans against an empty image id: its containers are recreated for "image".
pub(super) fn reports(
    stack: &Stack,
    actions: &[Action],
    records: &[ContainerRecord],
    images: &HashMap<String, ResolvedImage>,
    forced: Forced,
) -> Vec<ActionReport> {
    let record = |id: &str| records.iter().find(|r| r.id == id);
    let name_of = |id: &str| {
        record(id)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| id.into())
    };
    let image_id = |svc: &str| images.get(svc).map(|i| i.id.as_str()).unwrap_or_default();
    let report =
        |container: String, service: &str, action: &str, reasons: Vec<String>| ActionReport {
            container,
            service: service.to_string(),
            action: action.to_string(),
            reasons,
        };
    let mut out = Vec::new();
    // As `up` applies them: orphans and replicas above the scale go first.
    for a in actions {
        match a {
            Action::RemoveOrphan { id } => {
                let service = record(id).map(|r| r.service.as_str()).unwrap_or_default();
                out.push(report(
                    name_of(id),
                    service,
                    "removed",
                    vec!["orphan".into()],
                ));
            }
            Action::ScaleDown { service, id } => {
                out.push(report(
                    name_of(id),
                    service,
                    "removed",
                    vec!["scale".into()],
                ));
            }
            _ => {}
        }
    }
    for a in actions {
        match a {
            Action::Create { service, number } => {
                out.push(report(
                    new_name(stack, service, *number),
                    service,
                    "created",
                    vec![],
                ));
            }
            Action::Recreate { service, old, .. } => {
                let mut reasons = match (record(old), stack.services.get(service)) {
                    (Some(r), Some(new)) => {
                        plan::changed_keys(&r.service_def, &r.image_id, new, image_id(service))
                    }
                    _ => Vec::new(),
                };
                if reasons.is_empty() {
                    reasons.push(if forced.force_recreate {
                        "forced by --force-recreate".into()
                    } else if forced.always_recreate_deps {
                        "forced by --always-recreate-deps".into()
                    } else {
                        "configuration changed".into()
                    });
                }
                out.push(report(name_of(old), service, "recreated", reasons));
            }
            Action::Start { service, id } => {
                out.push(report(name_of(id), service, "started", vec![]));
            }
            Action::Keep { service, id } => {
                out.push(report(name_of(id), service, "running", vec![]));
            }
            Action::ScaleDown { .. } | Action::RemoveOrphan { .. } => {}
        }
    }
    out
}

/// The name `up` would give replica `number` of `service` (see `Engine::new_record`).
fn new_name(stack: &Stack, service: &str, number: u32) -> String {
    match stack
        .services
        .get(service)
        .and_then(|s| s.options.container_name.clone())
    {
        Some(n) => n,
        None => format!("{}-{service}-{number}", stack.name),
    }
}
