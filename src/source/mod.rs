//! Where desired state comes from (issue 14): sources that yield revisions of a stack.
//! `git` follows a repository and materializes one revision's files; `hook` checks the
//! signature of a push webhook; `jitter` spreads poll intervals. Pure-ish: this module fetches
//! and writes revision directories, it never touches containers.

pub mod git;
pub mod hook;
pub mod jitter;

/// A directory holding the files of one revision.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub revision: String,
    pub root: std::path::PathBuf,
}
