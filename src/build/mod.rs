//! Image builds from a Dockerfile.
//!
//! The pure front half: the Dockerfile parser (`dockerfile`), Docker's variable
//! substitution (`dockerfile::subst`) and `.dockerignore` matching (`ignore`). The executor
//! (`exec`) runs the stages against the image store: RUN in a container through
//! `exec::StepRunner` (the daemon's runtime), COPY and ADD by writing the layer directly
//! (`copy`, reading the image through `view`), every step cached (`cache`).

mod cache;
mod copy;
pub mod dockerfile;
mod error;
pub mod exec;
mod glob;
pub mod ignore;
mod run;
mod state;
mod view;

pub use error::BuildError;
pub use exec::{BuildRequest, Event, StepRunner, build};
