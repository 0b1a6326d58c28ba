//! Placeholder with the graph contract (replaced by the real module at merge).

use crate::model::Stack;
use std::collections::BTreeSet;

#[derive(Debug, thiserror::Error)]
#[error("dependency cycle: {0}")]
pub struct GraphError(String);

pub struct Graph {
    deps: Vec<(String, Vec<String>)>,
}

pub fn build(stack: &Stack) -> Result<Graph, GraphError> {
    Ok(Graph {
        deps: stack
            .services
            .iter()
            .map(|(n, s)| (n.clone(), s.depends_on.keys().cloned().collect()))
            .collect(),
    })
}

impl Graph {
    pub fn levels(&self) -> Vec<Vec<String>> {
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        while done.len() < self.deps.len() {
            let level: Vec<String> = self
                .deps
                .iter()
                .filter(|(n, d)| !done.contains(n) && d.iter().all(|x| done.contains(x)))
                .map(|(n, _)| n.clone())
                .collect();
            if level.is_empty() {
                break;
            }
            done.extend(level.iter().cloned());
            out.push(level);
        }
        out
    }
    pub fn reverse_levels(&self) -> Vec<Vec<String>> {
        let mut l = self.levels();
        l.reverse();
        l
    }
    pub fn closure(&self, names: &[String]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<String> = names.to_vec();
        while let Some(n) = stack.pop() {
            if out.insert(n.clone()) {
                if let Some((_, d)) = self.deps.iter().find(|(x, _)| *x == n) {
                    stack.extend(d.iter().cloned());
                }
            }
        }
        out
    }
}
