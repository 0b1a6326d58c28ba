//! What can go wrong in a build, each naming the Dockerfile line it comes from.

use super::dockerfile::{Diagnostics, StageError, SubstError};
use crate::image::ImageError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse: every problem, rendered with file:line:col.
    #[error("{0}")]
    Dockerfile(Diagnostics),
    #[error("{0}")]
    Stage(#[from] StageError),
    #[error("{file}:{line}: {source}")]
    Subst {
        file: String,
        line: usize,
        source: SubstError,
    },
    /// A RUN exited non-zero.
    #[error(
        "{file}:{line}: {instruction}\n  the command exited with code {code}; its output is above"
    )]
    RunFailed {
        file: String,
        line: usize,
        instruction: String,
        code: i32,
    },
    /// A step that cannot be carried out (missing COPY source, bad --chown...).
    #[error("{file}:{line}: {instruction}\n  {message}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        message: String,
    },
    /// The base image of a stage is not in the store and could not be pulled.
    #[error("{file}:{line}: FROM {image}: {message}")]
    Base {
        file: String,
        line: usize,
        image: String,
        message: String,
    },
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The runtime could not run a step's container.
    #[error("{file}:{line}: running {instruction}: {message}")]
    Runner {
        file: String,
        line: usize,
        instruction: String,
        message: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
        let what = what.into();
        move |source| BuildError::Io { what, source }
    }

    /// Whether the fault is in the client's input (the Dockerfile, its context, a step's
    /// command) rather than in the daemon or the host.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, BuildError::Io { .. } | BuildError::Runner { .. })
            && !matches!(self, BuildError::Image(ImageError::Io { .. }))
    }
}
