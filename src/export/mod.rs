//! Export of a stack to other engines' formats (issue 15: Kubernetes manifests).
//!
//! `check` validates exported objects offline against the embedded Kubernetes OpenAPI schemas.

pub mod check;
