//! `.dockerignore`: which files of a build context are left out, with Docker's rules.
//!
//! One pattern a line; `#` lines are comments; blank lines are skipped; each pattern is
//! trimmed, cleaned as a path (`./a/../b` is `b`, a leading `/` dropped) and matched against
//! the context-relative path with `*`, `?`, `[...]`, `\` escapes and `**` (any number of
//! directories). `!pattern` re-includes. The last pattern that matches a path decides, and a
//! pattern matching a parent directory matches everything inside it.

use super::glob::Glob;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern, as compiled.
    text: String,
    exception: bool,
    glob: Option<Glob>,
}

/// Parsed `.dockerignore` patterns.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

impl Ignore {
    /// Parses the file's text. A pattern that cannot compile (an unterminated `[`) matches
    /// nothing, as its regular expression would fail in Docker too (which then errors at
    /// the build: see `invalid`).
    pub fn parse(text: &str) -> Ignore {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exception = p.starts_with('!');
            if exception {
                p = p[1..].trim();
            }
            if p.is_empty() {
                continue;
            }
            let mut cleaned = clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let glob = Glob::new(&cleaned, Some('/')).ok();
            patterns.push(Pattern {
                text: cleaned,
                exception,
                glob,
            });
        }
        Ignore { patterns }
    }

    /// Patterns that do not compile, for a clear error before a build.
    pub fn invalid(&self) -> Vec<&str> {
        self.patterns
            .iter()
            .filter(|p| p.glob.is_none())
            .map(|p| p.text.as_str())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `rel_path` (relative to the context, `/`-separated) is left out.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let path = clean(rel_path);
        let path = path.trim_start_matches('/');
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // An exception only matters for an excluded path and the reverse.
            if p.exception != excluded {
                continue;
            }
            let Some(g) = &p.glob else { continue };
            if g.matches(path) || parents.iter().any(|d| g.matches(d)) {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether a walker must still enter the excluded directory `rel_dir`: some exception
    /// pattern could match a path inside it.
    pub fn may_reinclude_inside(&self, rel_dir: &str) -> bool {
        let dir = clean(rel_dir);
        let dir_parts: Vec<&str> = dir
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        self.patterns
            .iter()
            .filter(|p| p.exception)
            .any(|p| could_match_under(&p.text, &dir_parts))
    }
}

/// Whether pattern `pat` could match `dir` itself or a path below it, component by
/// component (`**` matches any number of components).
fn could_match_under(pat: &str, dir: &[&str]) -> bool {
    let parts: Vec<&str> = pat.split('/').collect();
    for (i, d) in dir.iter().enumerate() {
        let Some(p) = parts.get(i) else {
            // The pattern names a parent of something in dir... it matched a prefix: the
            // pattern re-includes an ancestor, so everything under it.
            return true;
        };
        if p.contains("**") {
            return true;
        }
        match Glob::new(p, Some('/')) {
            Ok(g) if g.matches(d) => {}
            _ => return false,
        }
    }
    true
}

/// Go's `filepath.Clean` on a `/` path: `.` and empty parts dropped, `..` resolved (not
/// above the root of an absolute path), `.` for nothing.
pub fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !abs {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let body = out.join("/");
    match (abs, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// The ignore file for a build: `<Dockerfile>.dockerignore` next to the Dockerfile wins
/// over `.dockerignore` in the context root. Returns the candidates in that order; the
/// caller reads the first that exists.
pub fn candidates(context: &Path, dockerfile: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(name) = dockerfile.file_name() {
        let mut n = name.to_os_string();
        n.push(".dockerignore");
        out.push(dockerfile.with_file_name(n));
    }
    out.push(context.join(".dockerignore"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        let ig = Ignore::parse(
            "# comment\n*.md\n!README.md\n\n  node_modules  \n/tmp\n./build/../dist\n",
        );
        assert!(ig.is_excluded("a.md"));
        assert!(!ig.is_excluded("README.md"));
        assert!(!ig.is_excluded("docs/a.md"), "* does not cross /");
        assert!(ig.is_excluded("node_modules"));
        assert!(
            ig.is_excluded("node_modules/x/y.js"),
            "a matching parent excludes"
        );
        assert!(ig.is_excluded("tmp/x"));
        assert!(ig.is_excluded("dist/app"));
        assert!(!ig.is_excluded("build/app"));
        assert!(!ig.is_excluded("src/main.rs"));
        assert!(ig.is_excluded("./a.md"));
    }

    #[test]
    fn last_match_wins() {
        let ig = Ignore::parse("*.txt\n!keep*.txt\nkeep-not.txt\n");
        assert!(ig.is_excluded("a.txt"));
        assert!(!ig.is_excluded("keep1.txt"));
        assert!(ig.is_excluded("keep-not.txt"));
    }

    #[test]
    fn double_star() {
        let ig = Ignore::parse("**/*.pyc\n**/__pycache__\n");
        assert!(ig.is_excluded("a.pyc"));
        assert!(ig.is_excluded("x/y/a.pyc"));
        assert!(ig.is_excluded("x/__pycache__/m.py"));
        assert!(!ig.is_excluded("x/a.py"));
        let ig = Ignore::parse("**\n!src\n");
        assert!(ig.is_excluded("x"));
        assert!(!ig.is_excluded("src/a"));
    }

    #[test]
    fn whole_context_with_exception() {
        let ig = Ignore::parse("*\n!app/keep\n");
        assert!(ig.is_excluded("app"));
        assert!(ig.is_excluded("app/other"));
        assert!(!ig.is_excluded("app/keep"));
        assert!(ig.may_reinclude_inside("app"));
        assert!(!ig.may_reinclude_inside("lib"));
        let ig = Ignore::parse("*\n!**/keep\n");
        assert!(ig.may_reinclude_inside("lib/x"));
        let ig = Ignore::parse("vendor\n");
        assert!(!ig.may_reinclude_inside("vendor"));
        let ig = Ignore::parse("a\n!a\n");
        assert!(ig.may_reinclude_inside("a/b"));
    }

    #[test]
    fn escapes_and_bad_patterns() {
        let ig = Ignore::parse("\\*star\n[ab\n");
        assert!(ig.is_excluded("*star"));
        assert!(!ig.is_excluded("xstar"));
        assert_eq!(ig.invalid(), vec!["[ab"]);
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("./a//b/./c/"), "a/b/c");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean(""), ".");
    }

    #[test]
    fn lookup_order() {
        let c = candidates(Path::new("/ctx"), Path::new("/ctx/sub/Dockerfile.dev"));
        assert_eq!(
            c,
            vec![
                PathBuf::from("/ctx/sub/Dockerfile.dev.dockerignore"),
                PathBuf::from("/ctx/.dockerignore")
            ]
        );
    }

    /// moby/patternmatcher's cases (pattern, path, excluded), as facts.
    #[test]
    fn patternmatcher_cases() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "dir/file/", true),
            ("**/", "file", true),
            ("**/**", "dir/file", true),
            ("dir/**", "dir/dir2/file", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/dir/file", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("a*", "ab/c", true),
            ("a*/b", "a/c/b", false),
            ("a\\*b", "a*b", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(
                Ignore::parse(pattern).is_excluded(path),
                *want,
                "{pattern} {path}"
            );
        }
        let multi: &[(&str, &str, bool)] = &[
            ("**\n!util/docker/web", "util/docker/web/foo", false),
            (
                "**\n!util/docker/web\nutil/docker/web/foo",
                "util/docker/web/foo",
                true,
            ),
            ("**\n!dist/*.whl", "dist/x-1.0+g0-py3.whl", false),
            ("docs\n!docs/README.md", "docs/README.md", false),
            ("docs/\n!docs/README.md", "docs/README.md", false),
            ("!fileutils.go\n*.go", "fileutils.go", true),
        ];
        for (text, path, want) in multi {
            assert_eq!(
                Ignore::parse(text).is_excluded(path),
                *want,
                "{text:?} {path}"
            );
        }
    }
}
