//! A directory source: its revision is a hash of exactly the files the loader read (stack
//! files, includes, `.env`, env files, secrets), so an edit elsewhere in the tree is no new
//! revision, and a broken file keeps one id until it changes again.

use super::{LoadedRevision, SourceSpec};
use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The real filesystem, remembering every file read and its content.
#[derive(Debug, Default)]
pub struct RecordingFs {
    read: Mutex<Vec<(PathBuf, Vec<u8>)>>,
}

impl RecordingFs {
    fn note(&self, path: &Path, bytes: &[u8]) {
        let mut r = self.read.lock().unwrap_or_else(|p| p.into_inner());
        r.push((path.to_path_buf(), bytes.to_vec()));
    }

    /// The files read, in order.
    pub fn take(&self) -> Vec<(PathBuf, Vec<u8>)> {
        std::mem::take(&mut *self.read.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl crate::spec::SourceFs for RecordingFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        let text = std::fs::read_to_string(path)?;
        self.note(path, text.as_bytes());
        Ok(text)
    }

    fn read_bytes(&self, path: &Path) -> io::Result<Vec<u8>> {
        let bytes = std::fs::read(path)?;
        self.note(path, &bytes);
        Ok(bytes)
    }
}

/// The revision id of the files read: sha256 over (path, length, content) of each in path
/// order (a file read twice counts once), shortened to 12 hex digits as Git shows commits.
pub fn revision_id(read: &[(PathBuf, Vec<u8>)]) -> String {
    let mut files: Vec<&(PathBuf, Vec<u8>)> = read.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    let mut h = Sha256::new();
    for (p, bytes) in files {
        h.update(p.as_os_str().as_encoded_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())[..12].to_string()
}

/// Loads the directory `root`; also returns the files read (the watcher watches their
/// directories). Nothing read at all (no stack file) still makes a revision: the error.
pub fn load(spec: &SourceSpec, root: &Path) -> (LoadedRevision, Vec<PathBuf>) {
    let (read, stack) = super::load(spec, root);
    let mut revision = revision_id(&read);
    if read.is_empty() {
        // No file to hash: the error text tells this state apart from others.
        let mut h = Sha256::new();
        h.update(stack.as_ref().err().map(String::as_bytes).unwrap_or(b""));
        revision = hex::encode(h.finalize())[..12].to_string();
    }
    let files = read.into_iter().map(|(p, _)| p).collect();
    (LoadedRevision { revision, stack }, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p: &str, c: &str) -> (PathBuf, Vec<u8>) {
        (PathBuf::from(p), c.as_bytes().to_vec())
    }

    #[test]
    fn revision_depends_on_content_and_path_not_order() {
        let a = revision_id(&[f("/s/compose.yaml", "x"), f("/s/.env", "A=1")]);
        let b = revision_id(&[f("/s/.env", "A=1"), f("/s/compose.yaml", "x")]);
        assert_eq!(a, b);
        assert_ne!(
            a,
            revision_id(&[f("/s/compose.yaml", "y"), f("/s/.env", "A=1")])
        );
        assert_ne!(
            a,
            revision_id(&[f("/t/compose.yaml", "x"), f("/s/.env", "A=1")])
        );
        assert_eq!(a.len(), 12);
    }

    #[test]
    fn loads_a_directory_and_names_the_error_place() {
        let dir = std::env::temp_dir().join(format!("rstack-src-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = SourceSpec {
            name: "s".into(),
            kind: super::super::SourceKind::Dir { path: dir.clone() },
            paths: Vec::new(),
            interval: super::super::DIR_INTERVAL,
            project: None,
            prune: false,
            self_heal: false,
            webhook_secret: None,
        };
        std::fs::write(
            dir.join("compose.yaml"),
            "services:\n  a:\n    image: busybox\n",
        )
        .unwrap();
        let (good, files) = load(&spec, &dir);
        assert!(good.stack.is_ok(), "{:?}", good.stack.err());
        assert!(files.contains(&dir.join("compose.yaml")));
        std::fs::write(dir.join("compose.yaml"), "services:\n  a:\n    image: [\n").unwrap();
        let (bad, _) = load(&spec, &dir);
        let err = bad.stack.unwrap_err();
        assert!(err.contains("compose.yaml:"), "{err}");
        assert_ne!(good.revision, bad.revision);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
