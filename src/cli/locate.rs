//! Where a key of the loaded stack was written: checks the CLI makes after loading (against
//! the daemon's state, or on a failure the daemon reports) point at the stack file as the
//! loader's own diagnostics do, from the spans the merged tree keeps.

use crate::spec::yaml::Node;
use crate::spec::{Diagnostic, Loaded, Severity};

/// The node at `path` (mapping keys, or sequence indexes as numbers) of the merged tree.
pub fn node<'a>(loaded: &'a Loaded, path: &[&str]) -> Option<&'a Node> {
    let mut n = &loaded.tree;
    for key in path {
        n = match n.as_seq() {
            Some(items) => items.get(key.parse::<usize>().ok()?)?,
            None => n.get(key)?,
        };
    }
    Some(n)
}

/// An error at the node of `path`, rendered like the loader's (file:line:col, the quoted line,
/// carets); without a position when the node cannot be found.
pub fn error(loaded: &Loaded, path: &[&str], message: String, hint: &str) -> Diagnostic {
    let mut d = Diagnostic::plain(Severity::Error, message).with_hint(hint);
    let Some(n) = node(loaded, path) else {
        return d;
    };
    let Some(file) = loaded.sources.get(n.span.file as usize) else {
        return d;
    };
    let base = std::path::Path::new(&loaded.stack.working_dir);
    d.file = match file.strip_prefix(base) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => file.display().to_string(),
    };
    d.line = n.span.line;
    d.col = n.span.col;
    d.source_line = std::fs::read_to_string(file).ok().and_then(|t| {
        t.lines()
            .nth(n.span.line.saturating_sub(1) as usize)
            .map(str::to_string)
    });
    let rest = d.source_line.as_deref().map_or(1, |l| {
        l.chars()
            .count()
            .saturating_sub(n.span.col.saturating_sub(1) as usize)
    });
    d.width = (n.span.len as usize).min(rest).max(1) as u32;
    d
}

/// " (FILE:LINE:COL)" of the node at `path`, for one-line messages; empty when unknown.
pub fn at(loaded: &Loaded, path: &[&str]) -> String {
    let d = error(loaded, path, String::new(), "");
    if d.line == 0 {
        return String::new();
    }
    format!(" ({}:{}:{})", d.file, d.line, d.col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LoadOptions, MemFs, load};

    #[test]
    fn finds_keys_and_list_items() {
        let fs = MemFs::new().with(
            "/p/compose.yaml",
            "services:\n  a:\n    image: x\n    container_name: fixed\n    post_start:\n      - command: [sh]\n",
        );
        let opts = LoadOptions {
            working_dir: "/p".into(),
            ..LoadOptions::default()
        };
        let l = load(&opts, &fs).expect("loads");
        let d = error(&l, &["services", "a", "container_name"], "m".into(), "h");
        assert_eq!((d.file.as_str(), d.line, d.col), ("compose.yaml", 4, 21));
        let d = error(&l, &["services", "a", "post_start", "0"], "m".into(), "h");
        assert_eq!((d.line, d.col), (6, 9));
        assert_eq!(at(&l, &["services", "b"]), "");
    }
}
