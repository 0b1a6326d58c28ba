//! Where `spec` gets file contents from: a tiny trait so the loader stays pure and tests feed it
//! from memory, plus the table of loaded sources that diagnostics quote lines from.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The only way `spec` reads files (stack files, `.env`, `env_file`, `extends`/`include`).
pub trait SourceFs {
    fn read(&self, path: &Path) -> io::Result<String>;

    /// Raw bytes (secret and config files may be binary).
    fn read_bytes(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read(path).map(String::into_bytes)
    }
}

/// Reads from the real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl SourceFs for RealFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn read_bytes(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

/// In-memory files keyed by absolute path, for tests and for callers that already hold the text.
#[derive(Debug, Default, Clone)]
pub struct MemFs {
    files: BTreeMap<PathBuf, String>,
}

impl MemFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file; returns self for chaining.
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }

    pub fn insert(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }
}

impl SourceFs for MemFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
}

/// One loaded text file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// How the path is shown in diagnostics (relative to the working dir when inside it).
    pub display: String,
    pub text: String,
    /// Directory relative paths written in this file resolve from, when set by an `include`
    /// (its `project_directory`, or the directory of its first file).
    pub base: Option<PathBuf>,
}

/// Every text loaded so far; `Span::file` indexes into it.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, display: String, text: String) -> u32 {
        self.files.push(SourceFile {
            path,
            display,
            text,
            base: None,
        });
        // More than u32::MAX files cannot be loaded in practice; saturate rather than panic.
        u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX)
    }

    /// Paths of all files, indexed by file id.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|f| f.path.clone()).collect()
    }

    pub fn set_base(&mut self, id: u32, dir: PathBuf) {
        if let Some(f) = self.files.get_mut(id as usize) {
            f.base = Some(dir);
        }
    }

    /// The directory relative paths in file `id` resolve from: its include base if any, the
    /// project directory for the top-level stack files (`top`), else the file's directory.
    pub fn base_dir(&self, id: u32, project_dir: &Path, top: &[PathBuf]) -> PathBuf {
        match self.get(id) {
            Some(SourceFile { base: Some(b), .. }) => b.clone(),
            Some(f) if !top.contains(&f.path) => f
                .path
                .parent()
                .map_or_else(|| project_dir.to_path_buf(), Path::to_path_buf),
            _ => project_dir.to_path_buf(),
        }
    }

    /// [`Self::base_dir`] of every file, indexed by file id.
    pub fn base_dirs(&self, project_dir: &Path, top: &[PathBuf]) -> Vec<PathBuf> {
        (0..self.files.len())
            .map(|i| self.base_dir(u32::try_from(i).unwrap_or(u32::MAX), project_dir, top))
            .collect()
    }

    pub fn get(&self, id: u32) -> Option<&SourceFile> {
        self.files.get(id as usize)
    }

    /// Line `line` (1-based) of file `id`, without its newline.
    pub fn line(&self, id: u32, line: u32) -> Option<&str> {
        let f = self.get(id)?;
        f.text
            .lines()
            .nth((line as usize).checked_sub(1)?)
            .map(|l| l.trim_end_matches('\r'))
    }
}

/// Shows `path` relative to `base` when it lies below it.
pub fn display_path(path: &Path, base: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}
