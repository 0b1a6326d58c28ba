//! Which stack files to read: `-f`, `COMPOSE_FILE`, or the default names plus an override file.

use super::LoadOptions;
use super::error::{Diagnostic, Severity};
use super::source::SourceFs;
use std::path::{Path, PathBuf};

pub const DEFAULT_NAMES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

pub const OVERRIDE_NAMES: &[&str] = &[
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// A file to load with its text when it was already read while probing default names.
pub struct Resolved {
    pub files: Vec<(PathBuf, Option<String>)>,
    pub warnings: Vec<Diagnostic>,
}

pub fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        normalize(&base.join(p))
    }
}

/// Removes `.` and resolves `..` lexically (no filesystem access).
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn resolve(opts: &LoadOptions, fs: &dyn SourceFs) -> Result<Resolved, Diagnostic> {
    if !opts.files.is_empty() {
        return Ok(Resolved {
            files: opts
                .files
                .iter()
                .map(|f| (absolute(&opts.working_dir, f), None))
                .collect(),
            warnings: Vec::new(),
        });
    }
    // Without -f, the files (and COMPOSE_FILE's relative ones) are the project directory's.
    let project_dir = opts
        .project_directory
        .as_ref()
        .map(|d| absolute(&opts.working_dir, d));
    let wd = project_dir.as_ref().unwrap_or(&opts.working_dir);
    // COMPOSE_FILE comes from the shell, else from the working directory's `.env`.
    let dotenv: Vec<(String, String)> = match opts.env.get("COMPOSE_FILE") {
        Some(_) => Vec::new(),
        None => fs
            .read(&wd.join(".env"))
            .ok()
            .and_then(|t| super::dotenv::parse(&t, &|k| opts.env.get(k).cloned()).ok())
            .unwrap_or_default(),
    };
    let var = |k: &str| {
        opts.env.get(k).cloned().or_else(|| {
            dotenv
                .iter()
                .find(|(dk, _)| dk == k)
                .map(|(_, v)| v.clone())
        })
    };
    if let Some(list) = var("COMPOSE_FILE").filter(|s| !s.is_empty()) {
        let sep = var("COMPOSE_PATH_SEPARATOR")
            .and_then(|s| s.chars().next())
            .unwrap_or(':');
        return Ok(Resolved {
            files: list
                .split(sep)
                .filter(|s| !s.is_empty())
                .map(|f| (absolute(wd, Path::new(f)), None))
                .collect(),
            warnings: Vec::new(),
        });
    }
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    for name in DEFAULT_NAMES {
        let p = wd.join(name);
        if let Ok(text) = fs.read(&p) {
            found.push((p, text));
        }
    }
    let mut warnings = Vec::new();
    let Some((first, text)) = found.first().cloned() else {
        return Err(Diagnostic::plain(
            Severity::Error,
            format!("no stack file found in {}", wd.display()),
        )
        .with_hint(format!(
            "looked for {}; pass -f FILE",
            DEFAULT_NAMES.join(", ")
        )));
    };
    if found.len() > 1 {
        let names: Vec<String> = found
            .iter()
            .map(|(p, _)| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        warnings.push(Diagnostic::plain(
            Severity::Warning,
            format!(
                "found multiple stack files ({}), using {}",
                names.join(", "),
                names[0]
            ),
        ));
    }
    let mut files = vec![(first, Some(text))];
    for name in OVERRIDE_NAMES {
        let p = wd.join(name);
        if let Ok(text) = fs.read(&p) {
            files.push((p, Some(text)));
            break;
        }
    }
    Ok(Resolved { files, warnings })
}

/// Compose's project-name normalization: lowercase, only `[a-z0-9_-]`, starting with a letter
/// or digit.
pub fn normalize_project_name(s: &str) -> String {
    let lower: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lower
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}
