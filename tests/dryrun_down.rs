//! `--dry-run down` says what the real `down` does: orphans (services gone from the file)
//! are kept without `--remove-orphans`, a network they are on stays "still in use", and
//! `-v` lists only the volumes no kept container uses. The real binary, real containers
//! (root only); each Env takes its project down when dropped, failed or not.

mod common;

use common::*;
use std::collections::BTreeSet;

const PREFIX: &str = "DRY-RUN MODE -  ";

/// `box` on `default` and `back` with the named volume `data`; with `extra`, a second
/// service on `default` only, with the named volume `cache`.
fn stack(p: &str, extra: bool) -> String {
    let mut s = format!(
        r#"name: {p}
services:
  box:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    volumes: ["data:/data"]
    networks: [default, back]
"#
    );
    if extra {
        s.push_str(
            r#"  extra:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    volumes: ["cache:/cache"]
"#,
        );
    }
    s.push_str("networks:\n  back: {}\nvolumes:\n  data: {}\n  cache: {}\n");
    s
}

/// Runs `args`, asserts success; the lines of stderr that say what was (or would be)
/// removed or left in use, without the dry-run prefix.
fn removals(env: &Env, args: &[&str]) -> BTreeSet<String> {
    let out = env.run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rstack {args:?}: {err}");
    err.lines()
        .map(|l| l.trim_start().strip_prefix(PREFIX).unwrap_or(l).to_string())
        .filter(|l| l.ends_with("  Removed") || l.ends_with("still in use"))
        .collect()
}

fn set(lines: &[String]) -> BTreeSet<String> {
    lines.iter().cloned().collect()
}

#[test]
fn dry_run_down_keeps_orphans_their_networks_and_volumes_as_down_does() {
    let Some((env, p)) = setup("drydownorph") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, true));
    env.ok(&["up", "-d"]);
    env.write("compose.yaml", &stack(&p, false));
    let (bx, extra) = (format!("{p}-box-1"), format!("{p}-extra-1"));
    let c = |n: &str| format!("Container {n}  Removed");
    let gone = |n: &str| format!("Network {p}_{n}  Removed");
    let held = format!("Network {p}_default  Resource is still in use");
    let vol = |n: &str| format!("Volume {p}_{n}  Removed");

    let plain = removals(&env, &["--dry-run", "down"]);
    assert_eq!(plain, set(&[c(&bx), gone("back"), held.clone()]));
    assert_eq!(
        removals(&env, &["--dry-run", "down", "--remove-orphans"]),
        set(&[c(&bx), c(&extra), gone("back"), gone("default")])
    );
    let with_volumes = removals(&env, &["--dry-run", "down", "-v"]);
    assert_eq!(
        with_volumes,
        set(&[c(&bx), gone("back"), held.clone(), vol("data")]),
        "the orphan's volume is in use"
    );
    assert_eq!(
        removals(&env, &["--dry-run", "down", "-v", "--remove-orphans"]),
        set(&[
            c(&bx),
            c(&extra),
            gone("back"),
            gone("default"),
            vol("data"),
            vol("cache")
        ])
    );
    // Nothing was done.
    let rows = env.ps_json(&p);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["state"] == "running"), "{rows:?}");
    // And the real down does what the dry run said.
    assert_eq!(removals(&env, &["down", "-t", "1", "-v"]), with_volumes);
    env.ok(&["down", "-t", "1", "-v", "--remove-orphans"]);
}
