//! The loading pipeline: files -> env -> parse + interpolate -> merge -> services -> checks.

use super::error::{Diagnostic, Diagnostics, Report, Severity};
use super::fileload::FileLoader;
use super::files::{self, absolute, normalize_project_name};
use super::source::{SourceMap, display_path};
use super::targets::{self, Candidate};
use super::value::Cx;
use super::yaml::{Kind, Node};
use super::{LoadOptions, Loaded, SourceFs, dotenv, keys, merge, service};
use crate::model::Stack;
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Loads, merges and validates the stack described by `opts`.
pub fn load(opts: &LoadOptions, fs: &dyn SourceFs) -> Result<Loaded, Diagnostics> {
    let mut sources = SourceMap::default();
    let mut report = Report::default();
    // Errors first (in the order found), then the warnings gathered on the way.
    // A value whose interpolation failed stays as written and may fail conversion too: only
    // the first error at a position is kept.
    let fail = |report: Report| {
        let mut items = report.items;
        items.sort_by_key(|d| d.severity);
        let mut seen = std::collections::HashSet::new();
        items.retain(|d| {
            !d.is_error() || d.line == 0 || seen.insert((d.file.clone(), d.line, d.col))
        });
        Err(Diagnostics(items))
    };

    let resolved = match files::resolve(opts, fs) {
        Ok(r) => r,
        Err(d) => {
            report.push(d);
            return fail(report);
        }
    };
    report.items.extend(resolved.warnings);
    let paths: Vec<PathBuf> = resolved.files.iter().map(|(p, _)| p.clone()).collect();
    let project_dir = match &opts.project_directory {
        Some(d) => absolute(&opts.working_dir, d),
        None => paths
            .first()
            .and_then(|p| p.parent())
            .map_or_else(|| opts.working_dir.clone(), Path::to_path_buf),
    };

    let vars = environment(opts, fs, &project_dir, &mut sources, &mut report);
    let lookup = |name: &str| vars.get(name).cloned();

    let mut loader = FileLoader::new(fs, sources, report, &vars, opts.working_dir.clone());
    let mut trees = Vec::new();
    let wanted = resolved.files.len();
    for (path, text) in resolved.files {
        let mut chain = Vec::new();
        if let Some(t) = loader.read_full(&path, text, None, &mut chain, None) {
            trees.push(t);
        }
    }
    let FileLoader {
        mut sources,
        mut report,
        ..
    } = loader;
    // Unreadable or unparsable stack files stop here; other errors (interpolation, includes)
    // are collected together with what conversion finds.
    if trees.len() < wanted || trees.is_empty() {
        return fail(report);
    }
    let mut iter = trees.into_iter();
    let Some(mut root) = iter.next() else {
        return fail(report);
    };
    for t in iter {
        root = merge::merge_files(root, t);
    }
    merge::strip_resets(&mut root);

    let mut active_profiles = profiles(opts, &vars);
    let mut cx = Cx {
        sources: &mut sources,
        report: &mut report,
        host_cpus: opts.host_cpus,
        known_sysctl: opts.known_sysctl,
    };
    let name_node = top_level(&mut cx, &root);
    let name = project_name(&mut cx, opts, name_node, &vars, &project_dir);
    // A service with `build:` and no `image:` builds `<project>-<service>`, as Compose names it.
    let build_images = Some(name.as_deref().unwrap_or_default());
    let (services, added, disabled_dependencies) = services(
        &mut cx,
        &root,
        fs,
        (&project_dir, &paths),
        &lookup,
        &Selection {
            active: &active_profiles,
            targets: &opts.target_services,
            build_images,
        },
    );
    for p in added {
        if !active_profiles.contains(&p) {
            active_profiles.push(p);
        }
    }

    let mut services = services;
    super::volumes::resolve(
        &mut cx,
        &root,
        name.as_deref().unwrap_or_default(),
        &mut services,
    );
    super::volumes::volumes_from(&mut cx, &root, &mut services);
    super::network::resolve(
        &mut cx,
        &root,
        name.as_deref().unwrap_or_default(),
        &mut services,
    );
    let inputs = super::secrets::Inputs {
        fs,
        project_dir: &project_dir,
        top_files: &paths,
        lookup: &lookup,
        read: opts.read_secrets,
    };
    super::secrets::resolve(&mut cx, &root, &inputs, &mut services);
    let stack = Stack {
        name: name.unwrap_or_default(),
        working_dir: project_dir.display().to_string(),
        services,
        ..Default::default()
    };
    check_cycles(&mut cx, &root, &stack);

    if report.has_errors() {
        return fail(report);
    }
    Ok(Loaded {
        stack,
        warnings: report.items,
        tree: root,
        profiles: active_profiles,
        home: opts.env.get("HOME").cloned(),
        sources: sources.paths(),
        bases: sources.base_dirs(&project_dir, &paths),
        files: paths,
        disabled_dependencies,
    })
}

/// Shell environment over the project's `.env` (or `--env-file`s).
fn environment(
    opts: &LoadOptions,
    fs: &dyn SourceFs,
    project_dir: &Path,
    sources: &mut SourceMap,
    report: &mut Report,
) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let (list, required): (Vec<PathBuf>, bool) = if opts.env_files.is_empty() {
        (vec![project_dir.join(".env")], false)
    } else {
        (
            opts.env_files
                .iter()
                .map(|p| absolute(&opts.working_dir, p))
                .collect(),
            true,
        )
    };
    for path in list {
        let display = display_path(&path, &opts.working_dir);
        match fs.read(&path) {
            Ok(text) => {
                let parsed = {
                    let lookup = |n: &str| opts.env.get(n).or_else(|| vars.get(n)).cloned();
                    dotenv::parse(&text, &lookup)
                };
                let id = sources.add(path.clone(), display, text);
                match parsed {
                    Ok(list) => vars.extend(list),
                    Err(e) => report.error(sources, e.span(id), e.message),
                }
            }
            Err(e) if required => report.push(Diagnostic::plain(
                Severity::Error,
                format!("cannot read env file {display}: {e}"),
            )),
            Err(_) => {}
        }
    }
    for (k, v) in &opts.env {
        vars.insert(k.clone(), v.clone());
    }
    vars
}

fn profiles(opts: &LoadOptions, vars: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = opts.profiles.clone();
    if let Some(list) = vars.get("COMPOSE_PROFILES") {
        for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// Checks top-level keys; returns the `name:` node if any.
fn top_level<'n>(cx: &mut Cx<'_>, root: &'n Node) -> Option<&'n Node> {
    let mut name = None;
    for (k, v) in root.as_map().unwrap_or(&[]) {
        let key = k.scalar_text().unwrap_or_default();
        match key.as_str() {
            "version" => cx.warn(
                k.span,
                "the top-level `version` key is obsolete and ignored",
            ),
            "name" => name = Some(v),
            "services" => {}
            // Read with the services (`spec::network`, `spec::volumes`, `spec::secrets`).
            "networks" | "volumes" | "secrets" | "configs" => {}
            "models" | "include" => {
                if !v.is_null() && v.as_map().is_none_or(|m| !m.is_empty()) {
                    cx.unsupported(k.span, &key);
                }
            }
            k2 if k2.starts_with("x-") => {}
            other => cx.unknown_key(k.span, "top level", other, keys::TOP_LEVEL),
        }
    }
    name
}

fn project_name(
    cx: &mut Cx<'_>,
    opts: &LoadOptions,
    node: Option<&Node>,
    vars: &BTreeMap<String, String>,
    project_dir: &Path,
) -> Option<String> {
    let (raw, span) = if let Some(p) = &opts.project_name {
        (p.clone(), None)
    } else if let Some(n) = node {
        (cx.string("name", n)?, Some(n.span))
    } else if let Some(v) = vars.get("COMPOSE_PROJECT_NAME").filter(|v| !v.is_empty()) {
        (v.clone(), None)
    } else {
        let dir = project_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (dir, None)
    };
    let name = normalize_project_name(&raw);
    if let Err(e) = crate::model::names::check_project(&name) {
        let msg = match e {
            crate::model::names::NameError::TooLong { .. } => e.to_string(),
            _ => format!("invalid project name \"{raw}\""),
        };
        let hint = "a project name needs lowercase letters, digits, `_` or `-` (at most 100); set one with -p NAME or name:";
        match span {
            Some(s) => cx.error_hint(s, msg, hint),
            None => cx
                .report
                .push(Diagnostic::plain(Severity::Error, msg).with_hint(hint)),
        }
        return None;
    }
    Some(name)
}

/// What selects the services to load and how build-only services are named.
struct Selection<'a> {
    /// Active profiles (`--profile`, `COMPOSE_PROFILES`).
    active: &'a [String],
    /// Services named on the command line.
    targets: &'a [String],
    /// The project name, when build-only services get Compose's image names.
    build_images: Option<&'a str>,
}

/// Per service, the dependencies on disabled services that were left out of the model.
type DroppedDependencies = BTreeMap<String, IndexMap<String, crate::model::Dependency>>;

/// Converts the enabled services; also returns the profiles the targets activated and the
/// dependencies left out because their services are disabled.
fn services(
    cx: &mut Cx<'_>,
    root: &Node,
    fs: &dyn SourceFs,
    dirs: (&Path, &[PathBuf]),
    lookup: &dyn Fn(&str) -> Option<String>,
    sel: &Selection<'_>,
) -> (
    IndexMap<String, crate::model::Service>,
    Vec<String>,
    DroppedDependencies,
) {
    let mut out = IndexMap::new();
    let entries = match root.get("services") {
        Some(node) if !node.is_null() => cx.map("services", node).unwrap_or_default(),
        _ => Vec::new(),
    };
    let all: Vec<String> = entries.iter().map(|(n, _, _)| n.clone()).collect();
    let mut candidates = Vec::new();
    let mut keys = Vec::new();
    for (name, knode, svc) in entries {
        if let Err(e) = crate::model::names::check_service(&name) {
            let msg = match e {
                crate::model::names::NameError::Invalid { .. } => {
                    format!("invalid service name \"{name}\"")
                }
                e => e.to_string(),
            };
            cx.error_hint(knode.span, msg, crate::model::names::SERVICE_RULE);
            continue;
        }
        let profs = match svc.get("profiles") {
            Some(p) => cx
                .string_list(&format!("services.{name}.profiles"), p)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let on = profs.is_empty() || sel.active.iter().any(|a| a == "*" || profs.contains(a));
        candidates.push(Candidate {
            name,
            node: svc,
            profiles: profs,
            on,
        });
        keys.push(knode);
    }
    let added = targets::enable(cx, &mut candidates, sel.targets);
    let mut disabled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut enabled: Vec<(String, &Node, &Node)> = Vec::new();
    for (c, knode) in candidates.into_iter().zip(keys) {
        if c.on {
            enabled.push((c.name, knode, c.node));
        } else {
            disabled.insert(c.name, c.profiles);
        }
    }
    for (name, knode, svc) in &enabled {
        let env_file = super::envfile::read(cx, name, svc, fs, dirs, lookup);
        let input = service::ServiceInput {
            name,
            key: knode,
            node: svc,
            lookup,
            env_file,
            build_image: sel.build_images.map(|project| format!("{project}-{name}")),
        };
        if let Some(mut s) = service::convert(cx, input) {
            super::security::read(cx, name, svc, fs, dirs, &mut s);
            s.build = super::build::read(cx, name, svc, lookup, dirs);
            s.develop = super::develop::read(cx, name, svc, dirs);
            if let Some(v) = svc.get("volumes") {
                let base = cx.sources.base_dir(v.span.file, dirs.0, dirs.1);
                let home = lookup("HOME");
                s.volumes = super::volumes::read(
                    cx,
                    &format!("services.{name}.volumes"),
                    v,
                    &base,
                    home.as_deref(),
                );
            }
            out.insert(name.clone(), s);
        }
        check_dependencies(cx, name, svc, &all, &disabled);
    }
    super::options::unique_container_names(cx, &enabled, &out);
    // A disabled dependency that is not required is dropped (Compose warns and continues);
    // `config` still prints it.
    let mut dropped = BTreeMap::new();
    for (name, s) in out.iter_mut() {
        let (keep, gone): (IndexMap<_, _>, IndexMap<_, _>) = std::mem::take(&mut s.depends_on)
            .into_iter()
            .partition(|(d, _)| !disabled.contains_key(d));
        s.depends_on = keep;
        if !gone.is_empty() {
            dropped.insert(name.clone(), gone);
        }
    }
    (out, added, dropped)
}

/// Reports depends_on entries naming unknown or profile-disabled services, at the entry.
fn check_dependencies(
    cx: &mut Cx<'_>,
    name: &str,
    svc: &Node,
    all: &[String],
    disabled: &BTreeMap<String, Vec<String>>,
) {
    let entries = targets::dependencies(svc);
    let names: Vec<&str> = all.iter().map(String::as_str).collect();
    for (dep, span, required, key) in entries {
        if let Some(profs) = disabled.get(&dep) {
            let msg = format!(
                "services.{name}.{key}: service \"{dep}\" is disabled (profiles: {})",
                profs.join(", ")
            );
            if required {
                cx.error_hint(
                    span,
                    msg,
                    format!(
                        "activate it with --profile {}",
                        profs.first().map_or("", String::as_str)
                    ),
                );
            } else {
                cx.warn(span, msg);
            }
            continue;
        }
        if !all.contains(&dep) {
            let msg = format!("services.{name}.{key}: unknown service \"{dep}\"");
            match keys::suggest(&dep, &names) {
                Some(s) => cx.error_hint(span, msg, format!("did you mean {s}?")),
                None => cx.error(span, msg),
            }
        } else if dep == name {
            cx.error(span, format!("dependency cycle: {name} -> {name}"));
        }
    }
}

/// Reports each dependency cycle at the depends_on entry that closes it from its first service.
fn check_cycles(cx: &mut Cx<'_>, root: &Node, stack: &Stack) {
    for cycle in crate::graph::cycles(stack) {
        if cycle.len() < 2 {
            // Self-dependencies were reported by check_dependencies.
            continue;
        }
        let err = crate::graph::GraphError::Cycle(cycle.clone());
        let span = root
            .get("services")
            .and_then(|s| s.get(&cycle[0]))
            .and_then(|s| s.get("depends_on"))
            .and_then(|d| match &d.kind {
                Kind::Map(m) => m
                    .iter()
                    .find(|(k, _)| k.as_str() == Some(cycle[1].as_str()))
                    .map(|(k, _)| k.span),
                Kind::Seq(items) => items
                    .iter()
                    .find(|i| i.as_str() == Some(cycle[1].as_str()))
                    .map(|i| i.span),
                _ => None,
            });
        match span {
            Some(s) => cx.error(s, err.to_string()),
            None => cx
                .report
                .push(Diagnostic::plain(Severity::Error, err.to_string())),
        }
    }
}
