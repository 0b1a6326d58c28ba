//! A service's `security_opt`: `seccomp=unconfined|builtin|FILE.json` and
//! `no-new-privileges[=|:true|false]` reach the model; `label`, `apparmor` and `systempaths`
//! are warned about as not supported yet. A profile file is read here, through `SourceFs`, and
//! checked (JSON, actions, system call names), so the model carries its text and the daemon
//! never opens a path the client names.

use super::files::absolute;
use super::source::{SourceFs, display_path};
use super::value::Cx;
use super::yaml::{Node, Span};
use crate::model::{SeccompProfile, Service};
use crate::runtime::seccomp::{ProfileError, profile};
use std::path::{Path, PathBuf};

/// Reads `security_opt` of service `name` (its tree `svc`) into `out`.
pub fn read(
    cx: &mut Cx<'_>,
    name: &str,
    svc: &Node,
    fs: &dyn SourceFs,
    (project_dir, top_files): (&Path, &[PathBuf]),
    out: &mut Service,
) {
    let Some(node) = svc.get("security_opt") else {
        return;
    };
    if node.is_null() {
        return;
    }
    let path = format!("services.{name}.security_opt");
    let Some(items) = node.as_seq() else {
        cx.string_list(&path, node);
        return;
    };
    for (i, it) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let Some(opt) = cx.string(&ipath, it) else {
            continue;
        };
        if opt == "no-new-privileges" {
            out.no_new_privileges = Some(true);
            continue;
        }
        // Docker's parser: KEY=VALUE, or the older KEY:VALUE.
        let Some((key, value)) = opt.split_once('=').or_else(|| opt.split_once(':')) else {
            bad(cx, it.span, &ipath, &opt);
            continue;
        };
        match key {
            "no-new-privileges" => match value {
                "true" | "1" => out.no_new_privileges = Some(true),
                "false" | "0" => out.no_new_privileges = Some(false),
                _ => cx.error_hint(
                    it.span,
                    format!("{ipath}: invalid no-new-privileges value \"{value}\""),
                    "write no-new-privileges:true or no-new-privileges:false",
                ),
            },
            "seccomp" => match value {
                "unconfined" => out.seccomp = Some(SeccompProfile::Unconfined),
                "builtin" => out.seccomp = None,
                "" => cx.error_hint(
                    it.span,
                    format!("{ipath}: seccomp needs a value"),
                    "write seccomp=unconfined or seccomp=PROFILE.json",
                ),
                file => {
                    let base = cx.sources.base_dir(it.span.file, project_dir, top_files);
                    let abs = absolute(&base, Path::new(file));
                    if let Some(text) = read_profile(cx, it.span, &ipath, fs, &abs, project_dir) {
                        out.seccomp = Some(SeccompProfile::Json(text));
                    }
                }
            },
            "label" | "apparmor" | "systempaths" => {
                cx.unsupported(it.span, &format!("{ipath} ({key})"))
            }
            _ => bad(cx, it.span, &ipath, &opt),
        }
    }
}

fn bad(cx: &mut Cx<'_>, span: Span, path: &str, opt: &str) {
    cx.error_hint(
        span,
        format!("{path}: invalid security option \"{opt}\""),
        "expected seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges[:true|false]",
    );
}

/// The profile's text when it reads and checks; errors point into the profile when they can.
fn read_profile(
    cx: &mut Cx<'_>,
    span: Span,
    path: &str,
    fs: &dyn SourceFs,
    abs: &Path,
    project_dir: &Path,
) -> Option<String> {
    let text = match fs.read(abs) {
        Ok(t) => t,
        Err(e) => {
            cx.error_hint(
                span,
                format!("{path}: cannot read seccomp profile {}: {e}", abs.display()),
                "paths are relative to the stack file's directory",
            );
            return None;
        }
    };
    let err = match profile::check(&text) {
        Ok(()) => return Some(text),
        Err(e) => e,
    };
    let at = match &err {
        ProfileError::Json { line, column, .. } => Some((*line, *column)),
        ProfileError::UnknownSyscall(name) => position_of(&text, &format!("\"{name}\"")),
        ProfileError::Invalid(_) => None,
    };
    let message = match &err {
        ProfileError::Json { message, .. } => message.clone(),
        e => e.to_string(),
    };
    match at {
        Some((line, col)) => {
            let display = display_path(abs, project_dir);
            let id = cx.sources.add(abs.to_path_buf(), display, text);
            let inner = Span {
                file: id,
                line: u32::try_from(line).unwrap_or(u32::MAX),
                col: u32::try_from(col).unwrap_or(u32::MAX).max(1),
                len: 1,
            };
            cx.error(inner, format!("{path}: seccomp profile: {message}"));
        }
        None => cx.error(
            span,
            format!(
                "{path}: seccomp profile {}: {message}",
                display_path(abs, project_dir)
            ),
        ),
    }
    None
}

/// 1-based (line, column) of the first occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str) -> Option<(usize, usize)> {
    let at = text.find(needle)?;
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(position_of("{\n  \"x\"", "\"x\""), Some((2, 3)));
        assert_eq!(position_of("\"x\"", "\"x\""), Some((1, 1)));
        assert_eq!(position_of("", "\"x\""), None);
    }
}
