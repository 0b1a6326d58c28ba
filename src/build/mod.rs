//! Image builds, the pure front half: the Dockerfile parser (`dockerfile`), Docker's
//! variable substitution (`dockerfile::subst`) and `.dockerignore` matching (`ignore`).
//!
//! Nothing here does I/O or runs anything: the executor (RUN in the runtime, layers, the
//! cache) takes the parsed `dockerfile::Dockerfile` and expands words itself at each step,
//! because values depend on build args and on the ENV of earlier steps.

pub mod dockerfile;
mod glob;
pub mod ignore;
