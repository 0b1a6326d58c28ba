//! Graph tests: levels, closures, cycles named in full.

use super::{GraphError, build, cycles};
use crate::model::{DependCondition, Dependency, Service, Stack};
use indexmap::IndexMap;

fn stack(spec: &[(&str, &[&str])]) -> Stack {
    let mut services = IndexMap::new();
    for (name, deps) in spec {
        let depends_on = deps
            .iter()
            .map(|d| {
                (
                    d.to_string(),
                    Dependency {
                        condition: DependCondition::ServiceStarted,
                        required: true,
                        restart: false,
                    },
                )
            })
            .collect();
        let mut svc = Service::new(*name, "b");
        svc.depends_on = depends_on;
        services.insert(name.to_string(), svc);
    }
    Stack {
        name: "t".into(),
        working_dir: "/".into(),
        services,
        ..Default::default()
    }
}

/// (service, its dependencies) in file order.
type Spec<'a> = &'a [(&'a str, &'a [&'a str])];

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn levels_follow_dependencies_and_file_order() {
    let s = stack(&[
        ("web", &["api", "cache"]),
        ("api", &["db"]),
        ("db", &[]),
        ("cache", &[]),
        ("worker", &["db"]),
        ("lone", &[]),
    ]);
    let g = build(&s).expect("acyclic");
    assert_eq!(
        g.levels(),
        vec![
            names(&["db", "cache", "lone"]),
            names(&["api", "worker"]),
            names(&["web"])
        ]
    );
    assert_eq!(
        g.reverse_levels(),
        vec![
            names(&["web"]),
            names(&["api", "worker"]),
            names(&["db", "cache", "lone"])
        ]
    );
    assert_eq!(g.dependencies("web"), names(&["api", "cache"]));
    assert_eq!(g.dependents("db"), names(&["api", "worker"]));
    assert!(g.dependencies("nope").is_empty());
    assert_eq!(g.start_order().len(), 6);
}

#[test]
fn closures() {
    let s = stack(&[
        ("web", &["api"]),
        ("api", &["db"]),
        ("db", &[]),
        ("other", &[]),
    ]);
    let g = build(&s).expect("acyclic");
    let c = g.closure(&["web"]).expect("known");
    assert_eq!(
        c.into_iter().collect::<Vec<_>>(),
        names(&["api", "db", "web"])
    );
    let c = g.closure(&["db", "other"]).expect("known");
    assert_eq!(c.into_iter().collect::<Vec<_>>(), names(&["db", "other"]));
    let c = g.dependents_closure(&["db"]).expect("known");
    assert_eq!(
        c.into_iter().collect::<Vec<_>>(),
        names(&["api", "db", "web"])
    );
    assert_eq!(
        g.closure(&["zzz"]),
        Err(GraphError::UnknownService("zzz".into()))
    );
}

#[test]
fn cycles_are_named_in_order() {
    let cases: &[(Spec, &str)] = &[
        (
            &[("a", &["b"]), ("b", &["c"]), ("c", &["a"])],
            "dependency cycle: a -> b -> c -> a",
        ),
        (&[("a", &["a"])], "dependency cycle: a -> a"),
        (
            &[("x", &[]), ("b", &["c"]), ("c", &["d", "x"]), ("d", &["b"])],
            "dependency cycle: b -> c -> d -> b",
        ),
        (
            &[("a", &["b"]), ("b", &["a"]), ("c", &["d"]), ("d", &["c"])],
            "dependency cycle: a -> b -> a",
        ),
    ];
    for (spec, want) in cases {
        let err = build(&stack(spec)).expect_err("cycle");
        assert_eq!(err.to_string(), *want);
    }
    let all = cycles(&stack(&[
        ("a", &["b"]),
        ("b", &["a"]),
        ("c", &["d"]),
        ("d", &["c"]),
    ]));
    assert_eq!(all, vec![names(&["a", "b"]), names(&["c", "d"])]);
    assert!(cycles(&stack(&[("a", &["b"]), ("b", &[])])).is_empty());
}

#[test]
fn unknown_dependency() {
    let err = build(&stack(&[("a", &["ghost"])])).expect_err("unknown");
    assert_eq!(
        err,
        GraphError::UnknownDependency {
            service: "a".into(),
            dependency: "ghost".into()
        }
    );
}

#[test]
fn empty_stack() {
    let g = build(&stack(&[])).expect("empty");
    assert!(g.levels().is_empty());
}
