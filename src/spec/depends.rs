//! The one reader of `depends_on` (short list or long form). The converter reads it with
//! diagnostics into `model::Service::depends_on`; profile targeting and the checks of
//! dependencies on unknown or disabled services read it quietly before (their services may
//! never be converted), so all three agree on what `required` and `condition` mean.

use super::error::Report;
use super::keys;
use super::source::SourceMap;
use super::value::Cx;
use super::yaml::{Kind, Node, Span};
use crate::model::{DependCondition, Dependency};

/// One dependency as written: the service it names, where (the list item or the key of its
/// long form), and what it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub span: Span,
    pub dep: Dependency,
}

/// A later entry for the same service replaces the earlier one, in the earlier one's place
/// (as a YAML mapping with a repeated key reads).
fn push(out: &mut Vec<Entry>, name: String, span: Span, dep: Dependency) {
    match out.iter_mut().find(|e| e.name == name) {
        Some(e) => e.dep = dep,
        None => out.push(Entry { name, span, dep }),
    }
}

/// The `depends_on` of the service tree `svc`, read with the converter's rules; problems
/// are not reported here (the converter reports them for every service it converts).
pub fn entries(svc: &Node) -> Vec<Entry> {
    let Some(v) = svc.get("depends_on") else {
        return Vec::new();
    };
    let mut sources = SourceMap::default();
    let mut report = Report::default();
    let mut cx = Cx {
        sources: &mut sources,
        report: &mut report,
        host_cpus: None,
        known_sysctl: None,
    };
    read(&mut cx, "depends_on", v)
}

/// Reads `depends_on` at `path`, reporting every problem at its place.
pub fn read(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let started = Dependency {
        condition: DependCondition::ServiceStarted,
        required: true,
        restart: false,
    };
    match &v.kind {
        Kind::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                if let Some(name) = cx.string(&format!("{path}[{i}]"), it) {
                    push(&mut out, name, it.span, started.clone());
                }
            }
        }
        Kind::Map(m) => {
            for (k, d) in m {
                let dep = k.scalar_text().unwrap_or_default();
                let dpath = format!("{path}.{dep}");
                let mut entry = started.clone();
                let Some(fields) = cx.map(&dpath, d) else {
                    continue;
                };
                if d.get("condition").is_none() {
                    // Required by the compose schema; docker compose rejects the file too.
                    cx.error_hint(
                        k.span,
                        format!("{dpath}: condition is required in the long form"),
                        "add condition: service_started (or service_healthy, service_completed_successfully)",
                    );
                }
                for (fk, fknode, fv) in fields {
                    let fpath = format!("{dpath}.{fk}");
                    match fk.as_str() {
                        "condition" => {
                            if let Some(c) = cx.string(&fpath, fv) {
                                match c.as_str() {
                                    "service_started" => {
                                        entry.condition = DependCondition::ServiceStarted
                                    }
                                    "service_healthy" => {
                                        entry.condition = DependCondition::ServiceHealthy
                                    }
                                    "service_completed_successfully" => {
                                        entry.condition =
                                            DependCondition::ServiceCompletedSuccessfully
                                    }
                                    other => {
                                        let conds = [
                                            "service_started",
                                            "service_healthy",
                                            "service_completed_successfully",
                                        ];
                                        let msg = format!("{fpath}: unknown condition \"{other}\"");
                                        match keys::suggest(other, &conds) {
                                            Some(s) => cx.error_hint(
                                                fv.span,
                                                msg,
                                                format!("did you mean {s}?"),
                                            ),
                                            None => cx.error_hint(
                                                fv.span,
                                                msg,
                                                "expected service_started, service_healthy or service_completed_successfully",
                                            ),
                                        }
                                    }
                                }
                            }
                        }
                        "required" => entry.required = cx.boolean(&fpath, fv).unwrap_or(true),
                        "restart" => entry.restart = cx.boolean(&fpath, fv).unwrap_or(false),
                        k if k.starts_with("x-") => {}
                        k => cx.unknown_key(fknode.span, &dpath, k, keys::DEPENDS_ON),
                    }
                }
                push(&mut out, dep, k.span, entry);
            }
        }
        _ => cx.error(
            v.span,
            format!(
                "{path}: expected a list of service names or a mapping, found {}",
                v.type_name()
            ),
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(yaml: &str) -> Vec<(String, bool, DependCondition)> {
        let root = crate::spec::yaml::parse(yaml, 0).expect("yaml");
        entries(&root)
            .into_iter()
            .map(|e| (e.name, e.dep.required, e.dep.condition))
            .collect()
    }

    #[test]
    fn required_means_the_same_in_every_form() {
        use DependCondition::*;
        assert_eq!(
            deps("depends_on: [a, b]"),
            [
                ("a".into(), true, ServiceStarted),
                ("b".into(), true, ServiceStarted)
            ]
        );
        let long = "depends_on:\n  a: {condition: service_healthy, required: false}\n  b: {condition: service_started, required: \"false\"}\n  c: {condition: service_completed_successfully, required: \"no\"}\n  d: {condition: service_started}\n";
        assert_eq!(
            deps(long),
            [
                ("a".into(), false, ServiceHealthy),
                ("b".into(), false, ServiceStarted),
                ("c".into(), false, ServiceCompletedSuccessfully),
                ("d".into(), true, ServiceStarted),
            ]
        );
    }
}
