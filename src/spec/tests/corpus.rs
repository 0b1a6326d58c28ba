//! Loads every file of the shared Compose corpus: none may panic, and each either loads or
//! fails with diagnostics that carry a real position.

use super::super::{LoadOptions, RealFs, load};
use std::path::PathBuf;

/// `config` output (YAML) parses back to the same JSON, and loading it gives the same stack.
fn config_round_trips(f: &std::path::Path, l: &super::super::Loaded) {
    let json = crate::spec::to_compose_json(l);
    let yaml = crate::spec::to_yaml(&json);
    let node = crate::spec::yaml::parse(&yaml, 0)
        .unwrap_or_else(|e| panic!("{}: emitted YAML does not parse: {e:?}", f.display()));
    assert_eq!(crate::spec::node_json(&node), json, "{}", f.display());
    // Like Compose's, the output keeps dependencies on profile-disabled services, which it
    // does not print; such a file does not load back, by design.
    let all = l
        .tree
        .get("services")
        .and_then(crate::spec::yaml::Node::as_map)
        .map_or(0, <[_]>::len);
    if all != l.stack.services.len() {
        return;
    }
    let fs = super::super::MemFs::new().with("/rt/compose.yaml", yaml);
    let opts = LoadOptions {
        working_dir: "/rt".into(),
        project_name: Some(l.stack.name.clone()),
        build_image_names: true,
        ..LoadOptions::default()
    };
    let again = load(&opts, &fs)
        .unwrap_or_else(|d| panic!("{}: config output does not load:\n{d}", f.display()));
    let mut want = l.stack.clone();
    want.working_dir = "/rt".into();
    assert_eq!(again.stack, want, "{}", f.display());
}

#[test]
fn corpus_files_load_or_fail_with_positions() {
    let Some((dir, files)) = super::corpus_files("the corpus test") else {
        return;
    };
    assert!(!files.is_empty());
    let (mut loaded, mut failed) = (0, 0);
    for f in &files {
        let opts = LoadOptions {
            files: vec![f.clone()],
            working_dir: dir.clone(),
            build_image_names: true,
            ..LoadOptions::default()
        };
        match load(&opts, &RealFs) {
            Ok(l) => {
                loaded += 1;
                config_round_trips(f, &l);
            }
            Err(d) => {
                failed += 1;
                if std::env::var_os("RSTACK_CORPUS_VERBOSE").is_some() {
                    println!("== {}\n{d}\n", f.display());
                }
                for e in d.errors() {
                    let positioned = e.line > 0 && e.col > 0 && !e.file.is_empty();
                    // Unreadable referenced files (env files, includes) have no position in
                    // the referencing file only when they come from the command line.
                    assert!(positioned, "{}: error without position: {e}", f.display());
                }
            }
        }
    }
    println!("corpus: {loaded} loaded, {failed} failed with positioned errors");
}

/// Dev aid: `RSTACK_CONFIG_FILE=path cargo test --lib print_config -- --ignored --nocapture`
/// prints the `config` JSON of one file (compare with `docker compose config --format json`).
#[test]
#[ignore]
fn print_config() {
    let Some(file) = std::env::var_os("RSTACK_CONFIG_FILE") else {
        return;
    };
    // Several files: comma-separated.
    let files: Vec<PathBuf> = file
        .to_string_lossy()
        .split(',')
        .map(PathBuf::from)
        .collect();
    let dir = files[0].parent().map(PathBuf::from).unwrap_or_default();
    let opts = LoadOptions {
        files,
        working_dir: dir,
        env: std::env::vars().collect(),
        build_image_names: true,
        ..LoadOptions::default()
    };
    match load(&opts, &RealFs) {
        Ok(l) => {
            let v = crate::spec::to_compose_json(&l);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Err(d) => println!("{d}"),
    }
}

/// Dev aid: mean load time of the largest corpus file
/// (`cargo test --lib load_time -- --ignored --nocapture`).
#[test]
#[ignore]
fn load_time_of_largest_corpus_file() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/compat/compose"
    ));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let Some(largest) = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
    else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(&largest) else {
        return;
    };
    let fs = super::super::MemFs::new().with("/p/compose.yaml", text);
    let opts = LoadOptions {
        working_dir: "/p".into(),
        build_image_names: true,
        ..LoadOptions::default()
    };
    let n = 200;
    let start = std::time::Instant::now();
    for _ in 0..n {
        let _ = load(&opts, &fs);
    }
    println!("{}: {:?} per load", largest.display(), start.elapsed() / n);
}

/// The keys implemented for issue 13 ("Every key the corpus uses") are never warned about
/// as not supported in any corpus file.
#[test]
fn implemented_corpus_keys_are_not_warned_about() {
    let Some((dir, files)) = super::corpus_files("the corpus key test") else {
        return;
    };
    const DONE: &[&str] = &[
        "cap_add",
        "cap_drop",
        "privileged",
        "sysctls",
        "ulimits",
        "shm_size",
        "oom_score_adj",
        "group_add",
        "pid",
        "runtime",
        "userns_mode",
        "container_name",
        "labels",
        "secrets",
        "configs",
        "post_start",
        "pre_stop",
        "mem_reservation",
    ];
    let mut left = std::collections::BTreeMap::<String, u32>::new();
    for f in &files {
        let opts = LoadOptions {
            files: vec![f.clone()],
            working_dir: dir.clone(),
            build_image_names: true,
            ..LoadOptions::default()
        };
        let Ok(l) = load(&opts, &RealFs) else {
            continue;
        };
        for w in &l.warnings {
            if let Some(rest) = w.message.strip_prefix("not supported yet: services.") {
                let key = rest.split(['.', ' ']).nth(1).unwrap_or_default();
                assert!(!DONE.contains(&key), "{}: {}", f.display(), w.message);
                *left.entry(key.to_string()).or_default() += 1;
            }
            // deploy.resources.reservations is read; only GPU devices and generic_resources
            // (which this runtime cannot honour) may still warn.
            if w.message.contains(".reservations") {
                assert!(
                    w.message.contains(".reservations.devices")
                        || w.message.contains(".reservations.generic_resources"),
                    "{}: {}",
                    f.display(),
                    w.message
                );
            }
        }
    }
    println!("corpus: \"not supported yet\" warnings on service keys left: {left:?}");
}
