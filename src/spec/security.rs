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
use crate::runtime::seccomp::profile::{self, ProfileError};
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
    use crate::spec::{Diagnostics, LoadOptions, Loaded, MemFs, load};

    fn load_with(opts: &str, files: &[(&str, &str)]) -> Result<Loaded, Diagnostics> {
        let yaml = format!("services:\n  s:\n    image: img\n    security_opt: {opts}\n");
        let mut fs = MemFs::new().with("/p/compose.yaml", yaml);
        for (p, t) in files {
            fs.insert(*p, *t);
        }
        let o = LoadOptions {
            working_dir: PathBuf::from("/p"),
            ..LoadOptions::default()
        };
        load(&o, &fs)
    }

    #[test]
    fn options_reach_the_model() {
        let svc = |l: Loaded| l.stack.services["s"].clone();
        let s = svc(load_with("[seccomp=unconfined, no-new-privileges:false]", &[]).unwrap());
        assert_eq!(s.seccomp, Some(SeccompProfile::Unconfined));
        assert_eq!(s.no_new_privileges, Some(false));
        let s = svc(load_with("[no-new-privileges]", &[]).unwrap());
        assert_eq!((s.seccomp, s.no_new_privileges), (None, Some(true)));
        let text = r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;
        let s = svc(load_with("[\"seccomp:prof/p.json\"]", &[("/p/prof/p.json", text)]).unwrap());
        assert_eq!(s.seccomp, Some(SeccompProfile::Json(text.into())));
        // Not set: nothing in the model, so the config hash of such a service is unchanged.
        let s = svc(load_with("[]", &[]).unwrap());
        assert_eq!((s.seccomp.clone(), s.no_new_privileges), (None, None));
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("seccomp") && !json.contains("no_new_privileges"));
    }

    #[test]
    fn unsupported_options_warn_and_bad_ones_fail_at_their_place() {
        let l = load_with("[label=disable, apparmor=x]", &[]).unwrap();
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(l.warnings[0].message.contains("not supported yet"));
        assert_eq!((l.warnings[0].line, l.warnings[0].col), (4, 20));
        let e = load_with("[seccomp=missing.json]", &[]).unwrap_err();
        let e: Vec<_> = e.errors().collect();
        assert!(
            e[0].message
                .contains("cannot read seccomp profile /p/missing.json")
        );
        assert_eq!((e[0].file.as_str(), e[0].line), ("compose.yaml", 4));
        let e = load_with("[no-new-privileges:maybe, bogus]", &[]).unwrap_err();
        assert_eq!(e.errors().count(), 2);
        let bad = "{\n \"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"nope\"], \"action\": \"SCMP_ACT_ALLOW\"}]}";
        let e = load_with("[seccomp=p.json]", &[("/p/p.json", bad)]).unwrap_err();
        let e: Vec<_> = e.errors().collect();
        assert_eq!((e[0].file.as_str(), e[0].line, e[0].col), ("p.json", 3, 26));
        assert!(
            e[0].message.contains("unknown system call \"nope\""),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(position_of("{\n  \"x\"", "\"x\""), Some((2, 3)));
        assert_eq!(position_of("\"x\"", "\"x\""), Some((1, 1)));
        assert_eq!(position_of("", "\"x\""), None);
    }
}
