//! Top-level `include`: other stack files whose services (and other resources) are added to
//! this one. A name defined both here and in an included file is an error, as in Compose.
//! Each entry is loaded as its own project: relative paths in it resolve from its
//! `project_directory` (default: the directory of its first file) and it is interpolated with
//! the including file's variables over its `env_file`s (default: that directory's `.env`).

use super::dotenv;
use super::fileload::FileLoader;
use super::files::absolute;
use super::merge;
use super::source::display_path;
use super::value::Cx;
use super::yaml::{Kind, Node, Span};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

const RESOURCES: &[&str] = &["services", "networks", "volumes", "secrets", "configs"];

/// Loads the files `tree` includes and adds their resources to it; removes the `include` key.
pub fn apply(loader: &mut FileLoader<'_>, tree: &mut Node, file: &Path, chain: &mut Vec<PathBuf>) {
    let Kind::Map(top) = &mut tree.kind else {
        return;
    };
    let Some(pos) = top.iter().position(|(k, _)| k.as_str() == Some("include")) else {
        return;
    };
    let (_, inc) = top.remove(pos);
    let items: Vec<Node> = match inc.kind {
        Kind::Seq(items) => items,
        Kind::Null => return,
        _ => {
            loader.cx().error(
                inc.span,
                format!("include: expected a list, found {}", inc.type_name()),
            );
            return;
        }
    };
    let dir = loader.dir_of(tree.span.file, file);
    let mut inserted: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("include[{i}]");
        let Some(entry) = parse_entry(loader, &ipath, item) else {
            continue;
        };
        let Some((first, _)) = entry.paths.first() else {
            continue;
        };
        // Compose: the included project's directory defaults to the directory of its first file.
        let base = match &entry.project_directory {
            Some(pd) => absolute(&dir, Path::new(pd)),
            None => absolute(&dir, Path::new(first))
                .parent()
                .unwrap_or(Path::new("/"))
                .to_path_buf(),
        };
        let vars = entry_vars(loader, &ipath, &entry, &dir, &base);
        let merged = loader.with_vars(vars, |loader| {
            let mut merged: Option<Node> = None;
            for (p, span) in &entry.paths {
                let abs = absolute(&dir, Path::new(p));
                if chain.contains(&abs) {
                    loader
                        .cx()
                        .error(*span, format!("{ipath}: include cycle through {p}"));
                    continue;
                }
                let Some(t) = loader.read_full(&abs, None, Some(*span), chain, Some(&base)) else {
                    continue;
                };
                merged = Some(match merged {
                    None => t,
                    Some(m) => merge::merge_files(m, t),
                });
            }
            merged
        });
        if let Some(inc_tree) = merged {
            add_resources(loader, tree, inc_tree, item.span, &mut inserted);
        }
    }
}

/// One include entry: a string, or `{path: str|[str], project_directory, env_file: str|[str]}`.
struct Entry {
    paths: Vec<(String, Span)>,
    project_directory: Option<String>,
    env_files: Vec<(String, Span)>,
}

/// Variables to interpolate the included files with: the including file's, over the values
/// of the entry's `env_file`s (default: `.env` in the included project's directory, if any).
/// As in Compose, the env files only give defaults; relative paths are from `dir`.
fn entry_vars(
    loader: &mut FileLoader<'_>,
    ipath: &str,
    entry: &Entry,
    dir: &Path,
    base: &Path,
) -> BTreeMap<String, String> {
    let list: Vec<(PathBuf, Option<Span>)> = if entry.env_files.is_empty() {
        vec![(base.join(".env"), None)]
    } else {
        entry
            .env_files
            .iter()
            .filter(|(f, _)| f != "/dev/null")
            .map(|(f, span)| (absolute(dir, Path::new(f)), Some(*span)))
            .collect()
    };
    let mut from_files: BTreeMap<String, String> = BTreeMap::new();
    for (path, span) in list {
        let text = match loader.fs.read(&path) {
            Ok(t) => t,
            Err(e) => {
                if let Some(span) = span {
                    let msg = format!(
                        "{ipath}.env_file: cannot read env file {}: {e}",
                        display_path(&path, &loader.working_dir)
                    );
                    loader.cx().error(span, msg);
                }
                continue;
            }
        };
        let parsed = {
            let vars = loader.vars();
            let lookup = |n: &str| vars.get(n).or_else(|| from_files.get(n)).cloned();
            dotenv::parse(&text, &lookup)
        };
        let display = display_path(&path, &loader.working_dir);
        let id = loader.sources.add(path, display, text);
        match parsed {
            Ok(list) => from_files.extend(list),
            Err(e) => loader.cx().error(e.span(id), e.message),
        }
    }
    let mut vars = loader.vars().clone();
    for (k, v) in from_files {
        vars.entry(k).or_insert(v);
    }
    vars
}

fn parse_entry(loader: &mut FileLoader<'_>, ipath: &str, item: &Node) -> Option<Entry> {
    let mut cx = loader.cx();
    let mut entry = Entry {
        paths: Vec::new(),
        project_directory: None,
        env_files: Vec::new(),
    };
    match &item.kind {
        Kind::Str(s) => {
            entry.paths.push((s.clone(), item.span));
            Some(entry)
        }
        Kind::Map(_) => {
            let entries = cx.map(ipath, item)?;
            for (k, knode, v) in entries {
                let p = format!("{ipath}.{k}");
                match k.as_str() {
                    "path" => entry.paths.extend(string_or_list(&mut cx, &p, v)),
                    "env_file" => entry.env_files.extend(string_or_list(&mut cx, &p, v)),
                    "project_directory" => entry.project_directory = cx.string(&p, v),
                    k if k.starts_with("x-") => {}
                    k => cx.unknown_key(
                        knode.span,
                        ipath,
                        k,
                        &["path", "project_directory", "env_file"],
                    ),
                }
            }
            if entry.paths.is_empty() {
                cx.error(item.span, format!("{ipath}: path is required"));
                return None;
            }
            Some(entry)
        }
        _ => {
            cx.error(
                item.span,
                format!(
                    "{ipath}: expected a path or a mapping, found {}",
                    item.type_name()
                ),
            );
            None
        }
    }
}

fn string_or_list(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<(String, Span)> {
    match &v.kind {
        Kind::Seq(list) => list
            .iter()
            .enumerate()
            .filter_map(|(j, n)| cx.string(&format!("{path}[{j}]"), n).map(|s| (s, n.span)))
            .collect(),
        _ => cx
            .string(path, v)
            .map(|s| (s, v.span))
            .into_iter()
            .collect(),
    }
}

/// `inserted` counts, per resource kind, the entries earlier includes put in front, so included
/// entries keep include order and come before the local ones.
fn add_resources(
    loader: &mut FileLoader<'_>,
    tree: &mut Node,
    inc: Node,
    inc_span: Span,
    inserted: &mut HashMap<String, usize>,
) {
    let Kind::Map(inc_top) = inc.kind else { return };
    let Kind::Map(top) = &mut tree.kind else {
        return;
    };
    for (ik, iv) in inc_top {
        let Some(kind) = ik.as_str().map(str::to_string) else {
            continue;
        };
        if !RESOURCES.contains(&kind.as_str()) {
            continue;
        }
        let Kind::Map(entries) = iv.kind else {
            continue;
        };
        let slot = match top
            .iter()
            .position(|(k, _)| k.as_str() == Some(kind.as_str()))
        {
            Some(i) => i,
            None => {
                top.push((ik.clone(), Node::new(Kind::Map(Vec::new()), ik.span)));
                top.len() - 1
            }
        };
        let target = &mut top[slot].1;
        if target.is_null() {
            target.kind = Kind::Map(Vec::new());
        }
        let Kind::Map(local) = &mut target.kind else {
            continue;
        };
        let mut added = Vec::new();
        for (name, def) in entries {
            let n = name.scalar_text().unwrap_or_default();
            if let Some((lk, _)) = local
                .iter()
                .find(|(k, _)| k.scalar_text().as_deref() == Some(n.as_str()))
            {
                let span = lk.span;
                loader.cx().error_hint(
                    span,
                    format!("{kind}.{n} conflicts with a definition from an included file"),
                    format!(
                        "the include at line {} also defines it; rename one of them",
                        inc_span.line
                    ),
                );
                continue;
            }
            added.push((name, def));
        }
        let at = inserted.entry(kind.clone()).or_insert(0);
        let n = added.len();
        let at_now = (*at).min(local.len());
        local.splice(at_now..at_now, added);
        *at += n;
    }
}
