//! Errors of building the service dependency graph.

/// Why a stack's services cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Services in cycle order; the first is repeated at the end when rendered.
    #[error("dependency cycle: {}", render_cycle(.0))]
    Cycle(Vec<String>),
    #[error("service \"{service}\" depends on unknown service \"{dependency}\"")]
    UnknownDependency { service: String, dependency: String },
    #[error("no such service: \"{0}\"")]
    UnknownService(String),
}

fn render_cycle(c: &[String]) -> String {
    let mut parts: Vec<&str> = c.iter().map(String::as_str).collect();
    if let Some(first) = c.first() {
        parts.push(first);
    }
    parts.join(" -> ")
}
