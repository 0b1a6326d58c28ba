//! The diff of a scaled service: replica numbers, scaling up and down.

use super::*;

fn want(replicas: u32, hash: &str) -> Vec<Desired> {
    vec![Desired {
        service: "web".into(),
        hash: hash.into(),
        replicas,
    }]
}

fn have(number: u32, hash: &str, running: bool) -> Observed {
    Observed {
        id: format!("id{number}"),
        service: "web".into(),
        hash: hash.into(),
        running,
        number,
    }
}

fn keep(n: u32) -> Action {
    Action::Keep {
        service: "web".into(),
        id: format!("id{n}"),
    }
}

fn create(number: u32) -> Action {
    Action::Create {
        service: "web".into(),
        number,
    }
}

fn down(n: u32) -> Action {
    Action::ScaleDown {
        service: "web".into(),
        id: format!("id{n}"),
    }
}

#[test]
fn scaling_up_creates_the_lowest_free_numbers_and_keeps_the_rest() {
    assert_eq!(
        diff(&want(3, "h"), &[], false, false),
        [create(1), create(2), create(3)]
    );
    let acts = diff(&want(3, "h"), &[have(2, "h", true)], false, false);
    assert_eq!(acts, [keep(2), create(1), create(3)]);
}

#[test]
fn scaling_down_removes_the_highest_numbers_first() {
    let seen = [have(1, "h", true), have(3, "h", true), have(2, "h", true)];
    assert_eq!(
        diff(&want(1, "h"), &seen, false, false),
        [down(3), down(2), keep(1)]
    );
    assert_eq!(
        diff(&want(0, "h"), &seen, false, false),
        [down(3), down(2), down(1)]
    );
}

#[test]
fn scaling_down_removes_outdated_containers_before_current_ones() {
    let seen = [have(1, "old", true), have(2, "h", true), have(3, "h", true)];
    assert_eq!(
        diff(&want(2, "h"), &seen, false, false),
        [down(1), keep(2), keep(3)]
    );
}

#[test]
fn a_changed_config_recreates_every_replica_under_its_number() {
    let seen = [have(1, "old", true), have(2, "old", false)];
    let acts = diff(&want(2, "h"), &seen, false, false);
    assert_eq!(
        acts,
        [
            Action::Recreate {
                service: "web".into(),
                old: "id1".into(),
                number: 1
            },
            Action::Recreate {
                service: "web".into(),
                old: "id2".into(),
                number: 2
            },
        ]
    );
}

#[test]
fn replica_numbers_come_from_container_names() {
    assert_eq!(replica_number("p-web-3", "p", "web"), 3);
    assert_eq!(replica_number("my-p-my-web-12", "my-p", "my-web"), 12);
    assert_eq!(replica_number("odd", "p", "web"), 1);
}
