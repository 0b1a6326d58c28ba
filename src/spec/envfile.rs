//! A service's `env_file` (string, list, or long form `{path, required, format}`), read through
//! `SourceFs` and parsed as dotenv. Relative paths resolve from the project directory when
//! written in one of the top-level stack files, else from the directory of the (included or
//! extended) file that wrote them.

use super::dotenv;
use super::files::absolute;
use super::source::{SourceFs, display_path};
use super::value::Cx;
use super::yaml::{Kind, Node, Span};
use std::path::{Path, PathBuf};

/// Variables from all env files of the service, later files winning.
pub fn read(
    cx: &mut Cx<'_>,
    service: &str,
    svc: &Node,
    fs: &dyn SourceFs,
    (project_dir, top_files): (&Path, &[PathBuf]),
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let Some(node) = svc.get("env_file") else {
        return Vec::new();
    };
    let path = format!("services.{service}.env_file");
    let mut specs: Vec<(String, bool, Span)> = Vec::new();
    match &node.kind {
        Kind::Null => {}
        Kind::Str(s) => specs.push((s.clone(), true, node.span)),
        Kind::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let ipath = format!("{path}[{i}]");
                match &it.kind {
                    Kind::Map(_) => {
                        let Some(entries) = cx.map(&ipath, it) else {
                            continue;
                        };
                        let mut file = None;
                        let mut required = true;
                        for (k, knode, v) in entries {
                            match k.as_str() {
                                "path" => file = cx.string(&format!("{ipath}.path"), v),
                                "required" => {
                                    required =
                                        cx.boolean(&format!("{ipath}.required"), v).unwrap_or(true)
                                }
                                "format" => {
                                    if cx.string(&format!("{ipath}.format"), v).as_deref()
                                        != Some("raw")
                                    {
                                        cx.unsupported(knode.span, &format!("{ipath}.format"));
                                    }
                                }
                                k if k.starts_with("x-") => {}
                                k => cx.unknown_key(
                                    knode.span,
                                    &ipath,
                                    k,
                                    &["path", "required", "format"],
                                ),
                            }
                        }
                        match file {
                            Some(f) => specs.push((f, required, it.span)),
                            None => cx.error(it.span, format!("{ipath}: path is required")),
                        }
                    }
                    _ => {
                        if let Some(s) = cx.string(&ipath, it) {
                            specs.push((s, true, it.span));
                        }
                    }
                }
            }
        }
        _ => cx.error(
            node.span,
            format!(
                "{path}: expected a path or a list of paths, found {}",
                node.type_name()
            ),
        ),
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (file, required, span) in specs {
        let base = cx.sources.base_dir(span.file, project_dir, top_files);
        let abs = absolute(&base, Path::new(&file));
        let text = match fs.read(&abs) {
            Ok(t) => t,
            Err(e) => {
                if required {
                    cx.error_hint(
                        span,
                        format!("{path}: cannot read env file {}: {e}", abs.display()),
                        "create the file, or use the long form with `required: false`",
                    );
                }
                continue;
            }
        };
        let display = display_path(&abs, project_dir);
        match dotenv::parse(&text, lookup) {
            Ok(vars) => {
                for (k, v) in vars {
                    match out.iter_mut().find(|(ek, _)| *ek == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
            }
            Err(e) => {
                let id = cx.sources.add(abs.clone(), display, text);
                cx.error(e.span(id), e.message);
            }
        }
    }
    out
}
