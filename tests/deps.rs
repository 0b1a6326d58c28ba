//! The module dependency rules of ARCHITECTURE.md ("Dependency rules"), checked on the
//! sources. Every `crate::` path under src/, in a `use` (groups included) or written inline
//! in code, is an edge from the module of its file to the module it names; an edge the rules
//! do not allow fails this test with its file, line and path. Pure: it reads files, nothing
//! else, and needs no root.
//!
//! A rule allows a module, or only some paths inside it (`runtime::config` lets `plan` name
//! the runtime's vocabulary and nothing else of it). Comments and string literals are skipped,
//! so a doc comment that mentions `crate::runtime` is no edge.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// What each top-level module may name outside itself. Keep in step with ARCHITECTURE.md.
const RULES: &[(&str, &[&str])] = &[
    ("model", &[]),
    (
        "spec",
        &[
            "model",
            "graph",
            "runtime::seccomp::profile",
            "runtime::caps::cap_number",
        ],
    ),
    ("graph", &["model"]),
    // Kubernetes export: from the resolved model and graph, spans for file:line:col.
    ("export", &["model", "graph", "spec"]),
    ("plan", &["model", "graph", "runtime::config"]),
    (
        "reconcile",
        &[
            "model",
            "graph",
            "plan",
            "runtime::config",
            "store::ContainerRecord",
            "store::State",
            "store::StoreError",
            "store::health_log",
        ],
    ),
    ("runtime", &[]),
    ("image", &["runtime"]),
    // Builds run against the image store; RUN's container is described in the runtime's
    // vocabulary and started by the daemon (`build::StepRunner`); history times are the
    // log's RFC 3339.
    ("build", &["image", "runtime::config", "runtime::log"]),
    ("store", &["model", "runtime::config"]),
    // Where desired state comes from: loads revisions with the spec loader, never touches
    // containers (the daemon's sync controller applies them).
    ("source", &["spec", "model"]),
    // Volumes are prepared in the runtime's vocabulary; names follow the model's rule.
    ("volume", &["runtime::config", "model::check_volume_name"]),
    // Sources fetch and materialize revisions of a stack; they never touch containers.
    ("source", &["spec", "model"]),
    // Networks resolve a container's request in the runtime's vocabulary, make bridges and
    // addresses with the runtime's netlink client; names follow the model's rule.
    (
        "network",
        &[
            "runtime::config",
            "runtime::netlink",
            "runtime::spare_dir",
            "runtime::rewrite",
            "model::check_volume_name",
        ],
    ),
    (
        "api",
        &[
            "model",
            "reconcile",
            "store",
            "runtime::config",
            "runtime::log",
            "runtime::log_rotate",
            "runtime::tty::resize_record",
            "runtime::LOG_FILE",
            "runtime::STDIN_FIFO",
            "runtime::RESIZE_FIFO",
            "runtime::procs",
            "runtime::fsaccess",
            "runtime::stopped_root",
            "runtime::stats",
            "runtime::cgroup::Layout",
            "runtime::cgroup::freezer",
            "image::budget",
        ],
    ),
    (
        "daemon",
        &[
            "spec",
            "model",
            "graph",
            "plan",
            "reconcile",
            "runtime",
            "image",
            "store",
            "api",
            "build",
            "volume",
            "network",
            "source",
        ],
    ),
    // `image::registry::auth` is pure: the keys and encoding of Docker's client config,
    // which the CLI reads and writes with the user's rights.
    // `build::dockerfile` and `build::ignore` are pure: the CLI checks a Dockerfile before
    // it sends anything, and leaves what .dockerignore excludes out of the context.
    // `runtime::sysctl::known` only reads the host's /proc/sys: the CLI refuses a sysctl this
    // kernel lacks at its file:line:col before anything starts. `runtime::log::rfc3339_nanos`
    // is pure: the one time format of logs and events, which `ps --format json` prints too.
    (
        "cli",
        &[
            "api",
            "spec",
            "model",
            "export",
            "image::registry::auth",
            "build::dockerfile",
            "build::ignore",
            "source",
            "runtime::sysctl::known",
            "runtime::log::rfc3339_nanos",
        ],
    ),
    // Unit-test helpers (compiled only for tests), which every module's tests may use.
    ("testutil", &[]),
];

/// Modules any module may use: test-only helpers, not part of the program.
const EVERYONE_MAY_USE: &[&str] = &["testutil"];

/// Files allowed more than their module: the entry points of `rstack daemon` and of the
/// hidden shim and nsexec roles.
const FILE_EXCEPTIONS: &[(&str, &[&str])] = &[
    (
        "src/cli/roles.rs",
        &["daemon", "runtime::shim_main", "runtime::nsexec_main"],
    ),
    // A unit test of the upgrade path end to end: a stored release's records, loaded by
    // today's loader, planned by today's diff.
    ("src/store/upgrade_tests.rs", &["plan", "spec"]),
];

#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    path: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let to = self.path.split("::").next().unwrap_or("");
        write!(
            f,
            "{}:{}: {} -> {} (crate::{}): {} may use only {}",
            self.file,
            self.line,
            self.from,
            to,
            self.path,
            self.from,
            allowed_text(&self.from, &self.file)
        )
    }
}

fn allowed(module: &str, file: &str) -> Option<Vec<&'static str>> {
    let (_, base) = RULES.iter().find(|(m, _)| *m == module)?;
    let mut out = base.to_vec();
    for (f, extra) in FILE_EXCEPTIONS {
        if *f == file {
            out.extend_from_slice(extra);
        }
    }
    Some(out)
}

fn allowed_text(module: &str, file: &str) -> String {
    match allowed(module, file) {
        Some(v) if v.is_empty() => "itself".to_string(),
        Some(v) => v.join(", "),
        None => "(no rules: add the module to ARCHITECTURE.md and tests/deps.rs)".to_string(),
    }
}

/// `src/reconcile/engine.rs` -> `reconcile`; `None` for the crate root files.
fn module_of(file: &str) -> Option<String> {
    let rest = file.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    if first == rest {
        // A file directly in src/: lib.rs and main.rs are the root; `foo.rs` is module foo.
        let stem = first.strip_suffix(".rs")?;
        return (!matches!(stem, "lib" | "main")).then(|| stem.to_string());
    }
    Some(first.to_string())
}

/// True when `path` is `prefix` or inside it, segment by segment.
fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// The source with comments and the contents of string and char literals blanked out
/// (newlines kept, so positions keep their line).
fn code_only(src: &str) -> Vec<char> {
    let c: Vec<char> = src.chars().collect();
    let mut out = c.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in out.iter_mut().take(to.min(c.len())).skip(from) {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            let end = c[i..]
                .iter()
                .position(|&x| x == '\n')
                .map_or(c.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == 'r' && !prev_ident && matches!(c.get(i + 1), Some('"') | Some('#')) && {
            let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
            c.get(i + 1 + hashes) == Some(&'"')
        } {
            let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
            let start = i + 2 + hashes;
            let mut j = start;
            let end = loop {
                if j >= c.len() {
                    break c.len();
                }
                if c[j] == '"'
                    && c[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&x| x == '#')
                        .count()
                        == hashes
                {
                    break j + 1 + hashes;
                }
                j += 1;
            };
            blank(&mut out, start, end.saturating_sub(1 + hashes));
            i = end;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '"'), or a lifetime ('a), which is left alone.
            if c.get(i + 1) == Some(&'\\') {
                let end = c
                    .get(i + 3..)
                    .unwrap_or(&[])
                    .iter()
                    .position(|&x| x == '\'')
                    .map_or(c.len(), |p| i + 3 + p);
                blank(&mut out, i + 1, end);
                i = end + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                blank(&mut out, i + 1, i + 2);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every `crate::` path in `src`, a `use` group expanded into its leaves, with its line.
fn crate_paths(src: &str) -> Vec<(usize, String)> {
    let c = code_only(src);
    let line_of = |pos: usize| 1 + c[..pos.min(c.len())].iter().filter(|&&x| x == '\n').count();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    let needle: Vec<char> = "crate::".chars().collect();
    let mut i = 0;
    while i + needle.len() <= c.len() {
        if c[i..i + needle.len()] == needle[..] && (i == 0 || !(ident(c[i - 1]) || c[i - 1] == '$'))
        {
            let mut leaves = Vec::new();
            i = tree(&c, i + needle.len(), Vec::new(), &mut leaves);
            out.extend(
                leaves
                    .into_iter()
                    .map(|(pos, p)| (line_of(pos), p.join("::"))),
            );
        } else {
            i += 1;
        }
    }
    out
}

/// Reads one use tree at `i` below `prefix`; pushes (position, path) for each leaf.
fn tree(
    c: &[char],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(usize, Vec<String>)>,
) -> usize {
    let skip_ws = |mut i: usize| {
        while i < c.len() && c[i].is_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        match c.get(i) {
            Some('{') => {
                i += 1;
                loop {
                    i = skip_ws(i);
                    match c.get(i) {
                        None => return i,
                        Some('}') => return i + 1,
                        Some(',') => i += 1,
                        _ => {
                            let before = i;
                            i = tree(c, i, prefix.clone(), out);
                            if i == before {
                                i += 1;
                            }
                        }
                    }
                }
            }
            Some('*') => {
                out.push((i, prefix));
                return i + 1;
            }
            _ => {}
        }
        let start = i;
        while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
            i += 1;
        }
        let seg: String = c[start..i].iter().collect();
        if seg.is_empty() || seg == "self" {
            if !prefix.is_empty() {
                out.push((start, prefix));
            }
            return i;
        }
        prefix.push(seg);
        let j = skip_ws(i);
        if c.get(j) == Some(&':') && c.get(j + 1) == Some(&':') {
            i = j + 2;
            continue;
        }
        out.push((start, prefix));
        return i;
    }
}

/// The forbidden edges of one file (`file` as `src/...`).
fn check(file: &str, src: &str) -> Vec<Violation> {
    let Some(from) = module_of(file) else {
        return Vec::new();
    };
    let rules = allowed(&from, file);
    let mut out = Vec::new();
    for (line, path) in crate_paths(src) {
        let to = path.split("::").next().unwrap_or("");
        if to == from || EVERYONE_MAY_USE.contains(&to) {
            continue;
        }
        let ok = rules
            .as_ref()
            .is_some_and(|r| r.iter().any(|p| under(&path, p)));
        if !ok {
            out.push(Violation {
                file: file.to_string(),
                line,
                from: from.clone(),
                path,
            });
        }
    }
    out
}

/// A cycle among the modules the rules connect, if there is one (as `a -> b -> a`).
fn cycle_in(rules: &[(&str, Vec<String>)]) -> Option<String> {
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (m, uses) in rules {
        let e = edges.entry(m).or_default();
        for u in uses {
            let to = u.split("::").next().unwrap_or("").to_string();
            if to != *m {
                e.insert(to);
            }
        }
    }
    fn visit<'a>(
        m: &'a str,
        edges: &'a BTreeMap<&'a str, BTreeSet<String>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(at) = stack.iter().position(|s| *s == m) {
            let mut c: Vec<&str> = stack[at..].to_vec();
            c.push(m);
            return Some(c.join(" -> "));
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m);
        for to in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(to, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m);
        None
    }
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        if let Some(c) = visit(m, &edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

/// The rules as module -> allowed paths, file exceptions added to their module.
fn rules_with_exceptions() -> Vec<(&'static str, Vec<String>)> {
    RULES
        .iter()
        .map(|(m, uses)| {
            let mut v: Vec<String> = uses.iter().map(|s| s.to_string()).collect();
            for (f, extra) in FILE_EXCEPTIONS {
                if module_of(f).as_deref() == Some(*m) {
                    v.extend(extra.iter().map(|s| s.to_string()));
                }
            }
            (*m, v)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_sources_follow_the_dependency_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let mut bad = Vec::new();
    let mut modules = BTreeSet::new();
    let mut edges = 0;
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .expect("under the crate")
            .to_string_lossy()
            .into_owned();
        let src = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("reading {rel}: {e}"));
        if let Some(m) = module_of(&rel) {
            modules.insert(m);
        }
        edges += crate_paths(&src).len();
        bad.extend(check(&rel, &src));
    }
    for m in &modules {
        assert!(
            RULES.iter().any(|(r, _)| r == m),
            "module `{m}` has no dependency rule: add it to ARCHITECTURE.md and tests/deps.rs"
        );
    }
    assert!(
        edges > 100,
        "found only {edges} crate:: paths: is the scanner broken?"
    );
    let text: Vec<String> = bad.iter().map(|v| v.to_string()).collect();
    assert!(
        bad.is_empty(),
        "{} edge(s) the dependency rules forbid (see ARCHITECTURE.md):\n{}",
        bad.len(),
        text.join("\n")
    );
}

#[test]
fn the_rules_point_one_way() {
    assert_eq!(cycle_in(&rules_with_exceptions()), None);
}

#[test]
fn a_rule_that_closes_a_cycle_is_found() {
    let mut rules = rules_with_exceptions();
    for (m, uses) in &mut rules {
        if *m == "reconcile" {
            uses.push("api::types".into());
        }
    }
    assert_eq!(cycle_in(&rules).as_deref(), Some("api -> reconcile -> api"));
}

#[test]
fn a_reintroduced_api_reconcile_cycle_fails_with_file_line_and_edge() {
    let src = "//! Engine.\n\nuse super::EngineError;\nuse crate::api::types::{ActionReport, UpRequest};\nuse crate::plan::{self, Action};\n";
    let v = check("src/reconcile/engine.rs", src);
    let text: Vec<String> = v.iter().map(|v| v.to_string()).collect();
    assert_eq!(v.len(), 2, "{text:#?}");
    assert_eq!(v[0].line, 4);
    assert_eq!(v[0].path, "api::types::ActionReport");
    assert_eq!(v[1].path, "api::types::UpRequest");
    assert!(
        text[0].starts_with(
            "src/reconcile/engine.rs:4: reconcile -> api (crate::api::types::ActionReport)"
        ),
        "{}",
        text[0]
    );
}

#[test]
fn inline_paths_and_multi_line_groups_are_edges() {
    let src = r#"
use crate::runtime::config::{
    ContainerConfig,
    DevKind,
};
fn f() {
    let l = crate::runtime::cgroup::Layout::detect();
    let c = crate::runtime::docker_default_capabilities();
}
"#;
    let paths = crate_paths(src);
    assert_eq!(
        paths,
        vec![
            (3, "runtime::config::ContainerConfig".to_string()),
            (4, "runtime::config::DevKind".to_string()),
            (7, "runtime::cgroup::Layout::detect".to_string()),
            (8, "runtime::docker_default_capabilities".to_string()),
        ]
    );
    let v = check("src/plan/container.rs", src);
    let lines: Vec<usize> = v.iter().map(|v| v.line).collect();
    assert_eq!(
        lines,
        vec![7, 8],
        "plan may name runtime::config, nothing else of runtime"
    );
}

#[test]
fn a_whole_module_import_is_not_a_restricted_path() {
    let v = check(
        "src/plan/x.rs",
        "use crate::runtime::{self, config::Rlimit};\n",
    );
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].path, "runtime");
    // A path that only starts like an allowed one is not inside it.
    let v = check("src/reconcile/x.rs", "use crate::store::StateStoreLike;\n");
    assert_eq!(v.len(), 1);
    assert!(check("src/reconcile/x.rs", "use crate::store::State;\n").is_empty());
}

#[test]
fn comments_strings_and_macros_are_no_edges() {
    let src = r##"
//! Talks to `crate::api` through the engine.
/* crate::daemon::run */
fn f() -> &'static str {
    let q = '"';
    let s = "crate::api::Client";
    let r = r#"crate::daemon "quoted""#;
    let m = $crate::api::x;
    s
}
"##;
    assert!(crate_paths(src).is_empty(), "{:?}", crate_paths(src));
}

#[test]
fn only_the_role_entry_points_of_cli_reach_daemon_and_runtime() {
    let src =
        "use crate::daemon::config::DaemonConfig;\nfn f() { crate::runtime::shim_main(p); }\n";
    assert!(check("src/cli/roles.rs", src).is_empty());
    let v = check("src/cli/commands.rs", src);
    assert_eq!(v.len(), 2);
    assert!(v[0].to_string().contains("cli -> daemon"), "{}", v[0]);
    let v = check(
        "src/cli/output.rs",
        "fn now() -> u64 { crate::reconcile::supervisor::now_ms() }\n",
    );
    assert_eq!(v.len(), 1);
    assert!(v[0].to_string().contains("cli -> reconcile"), "{}", v[0]);
    // Even roles.rs reaches only the entry points of the runtime.
    assert_eq!(
        check("src/cli/roles.rs", "use crate::runtime::log::x;\n").len(),
        1
    );
}

#[test]
fn an_unknown_module_is_reported() {
    let v = check("src/gitops/source.rs", "use crate::model::Stack;\n");
    assert_eq!(v.len(), 1);
    assert!(v[0].to_string().contains("no rules"), "{}", v[0]);
    assert_eq!(module_of("src/lib.rs"), None);
    assert_eq!(module_of("src/plan/container.rs").as_deref(), Some("plan"));
}
