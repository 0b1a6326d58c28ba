//! Which file changes a watch rule acts on: below its path, not matched by its `ignore`
//! patterns (nor by the build context's .dockerignore when the path is inside the context,
//! nor by editors' and Git's scratch files), and matching one of its `include` patterns
//! when it has some. Patterns are gitignore-like, relative to the rule's path, with
//! .dockerignore's rules (`build::ignore`). Pure.

use crate::build::ignore::Ignore;
use crate::model::WatchRule;
use std::path::{Path, PathBuf};

/// Scratch files editors and Git write beside the ones saved (compose ignores them too).
const ALWAYS_IGNORED: &str = ".git\n**/.git\n**/*~\n**/*.swp\n**/*.swx\n**/.#*\n**/4913\n";

/// A rule's path filter.
#[derive(Debug, Clone)]
pub struct Matcher {
    root: PathBuf,
    ignore: Ignore,
    include: Option<Ignore>,
    /// The build context's .dockerignore, with the rule path's place in the context.
    dockerignore: Option<(PathBuf, Ignore)>,
}

impl Matcher {
    /// `dockerignore`: the build context and its parsed .dockerignore, if the service builds.
    pub fn new(rule: &WatchRule, dockerignore: Option<(PathBuf, Ignore)>) -> Matcher {
        let root = PathBuf::from(&rule.path);
        let mut ignore = String::from(ALWAYS_IGNORED);
        for p in &rule.ignore {
            ignore.push_str(p);
            ignore.push('\n');
        }
        let include = (!rule.include.is_empty()).then(|| Ignore::parse(&rule.include.join("\n")));
        let dockerignore = dockerignore.filter(|(ctx, _)| root.starts_with(ctx));
        Matcher {
            root,
            ignore: Ignore::parse(&ignore),
            include,
            dockerignore,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `changed` relative to the rule's path (`""` for the path itself) when the
    /// rule acts on it.
    pub fn relevant(&self, changed: &Path) -> Option<String> {
        let rel = changed.strip_prefix(&self.root).ok()?;
        let rel = rel.to_str()?.to_string();
        if !rel.is_empty() && self.ignore.is_excluded(&rel) {
            return None;
        }
        if let Some(inc) = &self.include
            && !rel.is_empty()
            && !inc.is_excluded(&rel)
        {
            return None;
        }
        if let Some((ctx, di)) = &self.dockerignore
            && let Ok(in_ctx) = changed.strip_prefix(ctx)
            && let Some(in_ctx) = in_ctx.to_str()
            && !in_ctx.is_empty()
            && di.is_excluded(in_ctx)
        {
            return None;
        }
        Some(rel)
    }
}

/// Where `rel` (relative to the rule's path) goes in the container: below `target`.
pub fn container_path(target: &str, rel: &str) -> String {
    if rel.is_empty() {
        return target.to_string();
    }
    format!("{}/{rel}", target.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WatchAction;

    fn rule(ignore: &[&str], include: &[&str]) -> WatchRule {
        WatchRule {
            path: "/src/app".into(),
            action: WatchAction::Sync,
            target: Some("/app".into()),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            include: include.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn paths_below_the_rule_count_relative_to_it() {
        let m = Matcher::new(&rule(&[], &[]), None);
        assert_eq!(
            m.relevant(Path::new("/src/app/a.txt")).as_deref(),
            Some("a.txt")
        );
        assert_eq!(
            m.relevant(Path::new("/src/app/d/b")).as_deref(),
            Some("d/b")
        );
        assert_eq!(m.relevant(Path::new("/src/app")).as_deref(), Some(""));
        assert_eq!(m.relevant(Path::new("/src/other/a")), None);
        assert_eq!(m.relevant(Path::new("/src/application")), None);
    }

    #[test]
    fn ignore_patterns_and_scratch_files_are_left_out() {
        let m = Matcher::new(&rule(&["*.log", "node_modules/"], &[]), None);
        assert_eq!(m.relevant(Path::new("/src/app/x.log")), None);
        assert_eq!(m.relevant(Path::new("/src/app/node_modules/p/i.js")), None);
        assert_eq!(m.relevant(Path::new("/src/app/.git/HEAD")), None);
        assert_eq!(m.relevant(Path::new("/src/app/d/.f.swp")), None);
        assert_eq!(m.relevant(Path::new("/src/app/f~")), None);
        assert!(m.relevant(Path::new("/src/app/d/x.txt")).is_some());
    }

    #[test]
    fn include_keeps_only_matching_paths() {
        let m = Matcher::new(&rule(&[], &["*.py", "conf/**"]), None);
        assert!(m.relevant(Path::new("/src/app/main.py")).is_some());
        assert!(m.relevant(Path::new("/src/app/conf/a/b")).is_some());
        assert_eq!(m.relevant(Path::new("/src/app/readme.md")), None);
    }

    #[test]
    fn the_build_contexts_dockerignore_applies_inside_it() {
        let di = Ignore::parse("app/secret\n");
        let m = Matcher::new(&rule(&[], &[]), Some((PathBuf::from("/src"), di.clone())));
        assert_eq!(m.relevant(Path::new("/src/app/secret")), None);
        assert!(m.relevant(Path::new("/src/app/public")).is_some());
        // A rule outside the context: its .dockerignore does not apply.
        let m = Matcher::new(&rule(&[], &[]), Some((PathBuf::from("/elsewhere"), di)));
        assert!(m.relevant(Path::new("/src/app/secret")).is_some());
    }

    #[test]
    fn container_paths_join_target_and_relative_path() {
        assert_eq!(container_path("/app", "a/b"), "/app/a/b");
        assert_eq!(container_path("/app/", "a"), "/app/a");
        assert_eq!(container_path("/app/f.txt", ""), "/app/f.txt");
    }
}
