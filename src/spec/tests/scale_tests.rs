//! `scale` and `deploy.replicas`: the number of containers of a service.

use super::{errors, ok};
use crate::model::Service;

fn svc(body: &str) -> Service {
    let yaml = format!("services:\n  s:\n    image: busybox\n{body}");
    ok(&yaml).stack.services["s"].clone()
}

#[test]
fn scale_and_replicas_reach_the_model_without_a_warning() {
    assert_eq!(svc("").scale, None);
    assert_eq!(svc("").replicas(), 1);
    assert_eq!(svc("    scale: 3\n").scale, Some(3));
    assert_eq!(svc("    scale: \"2\"\n").scale, Some(2));
    assert_eq!(svc("    deploy:\n      replicas: 0\n").scale, Some(0));
    // Both, with the same value, are fine.
    assert_eq!(
        svc("    scale: 2\n    deploy:\n      replicas: 2\n").scale,
        Some(2)
    );
    let l = ok("services:\n  s:\n    image: b\n    scale: 2\n    deploy:\n      replicas: 2\n");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn distinct_scale_and_replicas_are_an_error_at_scale() {
    let e = errors("services:\n  s:\n    image: b\n    scale: 2\n    deploy:\n      replicas: 3\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].0.contains(
            "services.s: can't set distinct values on 'scale' (2) and 'deploy.replicas' (3)"
        ),
        "{e:?}"
    );
    assert_eq!((e[0].1, e[0].2), (4, 12));
}

#[test]
fn a_negative_or_non_numeric_count_is_an_error_at_the_value() {
    let e = errors("services:\n  s:\n    image: b\n    scale: -1\n");
    assert!(
        e[0].0
            .contains("services.s.scale: must be a number of containers"),
        "{e:?}"
    );
    assert_eq!((e[0].1, e[0].2), (4, 12));
    let e = errors("services:\n  s:\n    image: b\n    deploy:\n      replicas: many\n");
    assert!(
        e[0].0
            .contains("services.s.deploy.replicas: expected an integer"),
        "{e:?}"
    );
    assert_eq!((e[0].1, e[0].2), (5, 17));
}
