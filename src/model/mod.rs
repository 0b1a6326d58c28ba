//! Validated stack model: units resolved, defaults applied, references checked.

mod types;
pub use types::*;
