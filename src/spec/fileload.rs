//! Reading one stack file into a tree: read through `SourceFs`, parse, interpolate, normalize
//! list forms. Shared by the top-level files, `include` and `extends: {file: ...}`.

use super::error::{Diagnostic, Report, Severity};
use super::interp::{InterpError, interpolate_tree};
use super::source::{SourceFs, SourceMap, display_path};
use super::value::Cx;
use super::yaml::{self, Kind, Node, Span};
use super::{extends, include, merge};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

pub struct FileLoader<'a> {
    pub fs: &'a dyn SourceFs,
    pub sources: SourceMap,
    pub report: Report,
    /// Variables interpolated into the file being read (an `include` swaps in its own).
    vars: BTreeMap<String, String>,
    /// Identifies `vars`: a file read under different variables is a different tree.
    env_id: usize,
    envs: usize,
    pub working_dir: PathBuf,
    /// Trees of files read for `extends`, by path and `env_id` (`None`: failed, already
    /// reported).
    cache: HashMap<(PathBuf, usize), Option<Node>>,
    /// Unset variables already warned about.
    warned: HashSet<String>,
}

impl<'a> FileLoader<'a> {
    pub fn new(
        fs: &'a dyn SourceFs,
        sources: SourceMap,
        report: Report,
        vars: &BTreeMap<String, String>,
        working_dir: PathBuf,
    ) -> Self {
        FileLoader {
            fs,
            sources,
            report,
            vars: vars.clone(),
            env_id: 0,
            envs: 1,
            working_dir,
            cache: HashMap::new(),
            warned: HashSet::new(),
        }
    }

    /// The variables files are currently interpolated with.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Runs `f` with `vars` as the interpolation variables, then restores the current ones.
    pub fn with_vars<T>(
        &mut self,
        vars: BTreeMap<String, String>,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let id = self.envs;
        self.envs += 1;
        let saved_vars = std::mem::replace(&mut self.vars, vars);
        let saved_id = std::mem::replace(&mut self.env_id, id);
        let out = f(self);
        self.vars = saved_vars;
        self.env_id = saved_id;
        out
    }

    /// The directory relative paths written in source `id` (read from `file`) resolve from.
    pub fn dir_of(&self, id: u32, file: &Path) -> PathBuf {
        match self.sources.get(id).and_then(|f| f.base.clone()) {
            Some(b) => b,
            None => file.parent().unwrap_or(Path::new("/")).to_path_buf(),
        }
    }

    pub fn cx(&mut self) -> Cx<'_> {
        Cx {
            sources: &mut self.sources,
            report: &mut self.report,
            host_cpus: None,
            known_sysctl: None,
        }
    }

    /// Reads one file (or uses `text` when already read). `from` is the `include`/`extends`
    /// node that referenced it, where a read failure is reported.
    pub fn read(&mut self, path: &Path, text: Option<String>, from: Option<Span>) -> Option<Node> {
        let display = display_path(path, &self.working_dir);
        let text = match text {
            Some(t) => t,
            None => match self.fs.read(path) {
                Ok(t) => t,
                Err(e) => {
                    let msg = format!("cannot read stack file {display}: {e}");
                    match from {
                        Some(s) => self.report.error(&self.sources, s, msg),
                        None => self.report.push(Diagnostic::plain(Severity::Error, msg)),
                    }
                    return None;
                }
            },
        };
        let id = self.sources.add(path.to_path_buf(), display.clone(), text);
        let text = self.sources.get(id).map(|f| f.text.as_str()).unwrap_or("");
        let mut tree = match yaml::parse(text, id) {
            Ok(t) => t,
            Err(e) => {
                self.report.error(&self.sources, e.span, e.message);
                return None;
            }
        };
        match &tree.kind {
            Kind::Map(_) => {}
            Kind::Null => {
                let msg = format!("{display}: the stack file is empty");
                self.report.error(&self.sources, tree.span, msg);
                return None;
            }
            _ => {
                let msg = format!(
                    "{display}: the top level must be a mapping, found {}",
                    tree.type_name()
                );
                self.report.error(&self.sources, tree.span, msg);
                return None;
            }
        }
        self.interpolate(&mut tree);
        merge::normalize(&mut tree);
        Some(tree)
    }

    /// A file referenced by `extends`, read once.
    pub fn read_cached(&mut self, path: &Path, from: Span) -> Option<Node> {
        let key = (path.to_path_buf(), self.env_id);
        if let Some(t) = self.cache.get(&key) {
            return t.clone();
        }
        let t = self.read(path, None, Some(from));
        self.cache.insert(key, t.clone());
        t
    }

    /// Reads a file and resolves its `include` and `extends`. `chain` holds the files being
    /// included around it (include cycles are errors). `base`: the directory relative paths
    /// in the file resolve from, for included files.
    pub fn read_full(
        &mut self,
        path: &Path,
        text: Option<String>,
        from: Option<Span>,
        chain: &mut Vec<PathBuf>,
        base: Option<&Path>,
    ) -> Option<Node> {
        let mut tree = self.read(path, text, from)?;
        if let Some(b) = base {
            self.sources.set_base(tree.span.file, b.to_path_buf());
        }
        chain.push(path.to_path_buf());
        include::apply(self, &mut tree, path, chain);
        chain.pop();
        extends::apply(self, &mut tree, path);
        Some(tree)
    }

    fn interpolate(&mut self, tree: &mut Node) {
        let vars = &self.vars;
        let lookup = |name: &str| vars.get(name).cloned();
        let mut problems = Vec::new();
        interpolate_tree(tree, &lookup, &mut problems);
        for p in problems {
            match (p.error, p.unset) {
                (Some(InterpError::Required { name, message }), _) => {
                    let msg = if message.is_empty() {
                        format!("required variable {name} is not set")
                    } else {
                        format!("required variable {name} is not set: {message}")
                    };
                    let hint = format!("set {name} in the environment or in .env");
                    self.report.error_hint(&self.sources, p.span, msg, hint);
                }
                (Some(InterpError::Syntax(m)), _) => self.report.error(&self.sources, p.span, m),
                (None, Some(name)) => {
                    if self.warned.insert(name.clone()) {
                        let msg = format!("variable {name} is not set, using an empty string");
                        self.report.warn(&self.sources, p.span, msg);
                    }
                }
                (None, None) => {}
            }
        }
    }
}
