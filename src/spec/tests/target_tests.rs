//! `LoadOptions::target_services`: targeted services are loaded whatever the active profiles,
//! their profiles carry over to their dependencies, unknown targets are errors.

use super::opts;
use crate::spec::{Diagnostics, LoadOptions, Loaded, MemFs, load};

const STACK: &str = "services:
  web:
    image: w
  db:
    image: m
    profiles: [dev]
  mock:
    image: b
    profiles: [dev]
    depends_on: [db]
  admin:
    image: p
    profiles: [debug]
    depends_on: [db]
  shell:
    image: s
    profiles: [debug]
    links: [cache]
  cache:
    image: c
    profiles: [debug, ops]
  sibling:
    image: x
    profiles: [dev]
    depends_on: [missing-in-profile]
  missing-in-profile:
    image: y
    profiles: [never]
";

fn with_targets(targets: &[&str], profiles: &[&str]) -> Result<Loaded, Diagnostics> {
    let fs = MemFs::new().with("/p/compose.yaml", STACK);
    let o = LoadOptions {
        target_services: targets.iter().map(|t| t.to_string()).collect(),
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        ..opts()
    };
    load(&o, &fs)
}

fn names(l: &Loaded) -> Vec<&str> {
    l.stack.services.keys().map(String::as_str).collect()
}

#[test]
fn no_targets_keeps_profile_selection() {
    let l = with_targets(&[], &[]).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(names(&l), vec!["web"]);
    assert!(l.profiles.is_empty());
}

#[test]
fn target_enables_itself_and_same_profile_dependencies() {
    let l = with_targets(&["mock"], &[]).unwrap_or_else(|d| panic!("{d}"));
    // The sibling in profile dev is not a dependency, so its broken dependency does not matter.
    assert_eq!(names(&l), vec!["web", "db", "mock"]);
    assert_eq!(l.profiles, vec!["dev"]);
    assert!(l.stack.services["mock"].depends_on.contains_key("db"));
}

#[test]
fn implied_dependencies_follow_the_target_profiles() {
    let l = with_targets(&["shell"], &[]).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(names(&l), vec!["web", "shell", "cache"]);
    assert_eq!(l.profiles, vec!["debug"]);
}

#[test]
fn dependency_in_another_profile_still_needs_that_profile() {
    // As in Compose: targeting admin activates debug, not db's dev.
    let d = with_targets(&["admin"], &[]).expect_err("db is in profile dev");
    let e = d.errors().next().expect("an error");
    assert!(e.message.contains("\"db\" is disabled"), "{}", e.message);
    assert_eq!(e.hint.as_deref(), Some("activate it with --profile dev"));
    // Targeting db too activates dev for db (the sibling in dev is still not loaded).
    let l = with_targets(&["admin", "db"], &[]).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(names(&l), vec!["web", "db", "admin"]);
    assert_eq!(l.profiles, vec!["debug", "dev"]);
    // With --profile dev every dev service is loaded, and the sibling's dependency fails.
    let d = with_targets(&["admin"], &["dev"]).expect_err("sibling needs profile never");
    assert!(
        d.0[0]
            .message
            .contains("\"missing-in-profile\" is disabled")
    );
}

#[test]
fn several_targets_and_already_enabled_targets() {
    let l = with_targets(&["web", "mock", "shell"], &[]).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(names(&l), vec!["web", "db", "mock", "shell", "cache"]);
    assert_eq!(l.profiles, vec!["dev", "debug"]);
    // A target enabled by an active profile adds nothing.
    let l = with_targets(&["cache"], &["ops"]).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(names(&l), vec!["web", "cache"]);
    assert_eq!(l.profiles, vec!["ops"]);
}

#[test]
fn unknown_target_lists_services_with_a_suggestion() {
    let d = with_targets(&["mok"], &[]).expect_err("unknown target");
    let e = d.errors().next().expect("an error");
    assert_eq!(e.message, "no such service: \"mok\"");
    let hint = e.hint.as_deref().unwrap_or_default();
    assert!(hint.starts_with("did you mean \"mock\"?"), "{hint}");
    assert!(
        hint.contains("the stack has: web, db, mock, admin"),
        "{hint}"
    );
    let d = with_targets(&["zzzzzz"], &[]).expect_err("unknown target");
    let hint = d.0[0].hint.clone().unwrap_or_default();
    assert!(hint.starts_with("the stack has: web,"), "{hint}");

    let fs = MemFs::new().with("/p/compose.yaml", "name: x\nservices: {}\n");
    let o = LoadOptions {
        target_services: vec!["a".into()],
        ..opts()
    };
    let d = load(&o, &fs).expect_err("no services at all");
    assert_eq!(d.0[0].hint.as_deref(), Some("the stack has no services"));
}
