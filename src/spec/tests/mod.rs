//! Unit tests of the loader, grouped by pipeline stage; shared helpers here.

mod build_tests;
mod compose_features;
mod config_tests;
mod corpus;
mod develop_tests;
mod hooks_tests;
mod include_tests;
mod interp_tests;
mod load_errors;
mod load_keys;
mod logging_tests;
mod merge_tests;
mod mutate;
mod network_tests;
mod options_tests;
mod parity;
mod scale_tests;
mod secrets_tests;
mod target_tests;
mod yaml_tests;

use super::{Diagnostics, LoadOptions, Loaded, MemFs, load};
use std::path::PathBuf;

/// The shared Compose corpus (`../shared/compat/compose`, beside the repository in CI), as
/// (directory, sorted yaml files); `None`, with a note naming `test`, when it is absent.
pub fn corpus_files(test: &str) -> Option<(PathBuf, Vec<PathBuf>)> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/compat/compose"
    ));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        crate::testutil::skip(test, &format!("{} missing", dir.display()));
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Some((dir, files))
}

pub fn opts() -> LoadOptions {
    LoadOptions {
        working_dir: PathBuf::from("/p"),
        ..LoadOptions::default()
    }
}

/// Loads `yaml` as /p/compose.yaml.
pub fn load_str(yaml: &str) -> Result<Loaded, Diagnostics> {
    let fs = MemFs::new().with("/p/compose.yaml", yaml);
    load(&opts(), &fs)
}

/// Errors of a load that must fail, as (message, line, col).
pub fn errors(yaml: &str) -> Vec<(String, u32, u32)> {
    match load_str(yaml) {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(d) => d
            .errors()
            .map(|e| (e.message.clone(), e.line, e.col))
            .collect(),
    }
}

/// Loads and returns the stack, failing the test with the rendered diagnostics otherwise.
pub fn ok(yaml: &str) -> Loaded {
    match load_str(yaml) {
        Ok(l) => l,
        Err(d) => panic!("unexpected errors:\n{d}"),
    }
}
