//! Service dependency graph: topological levels for parallel start (and reverse for stop),
//! dependency closures for `up SERVICE`, and cycles reported with every service in them.

mod error;

pub use error::GraphError;

use crate::model::Stack;
use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// Services as nodes; an edge `a -> b` means "a depends on b". Node indices follow file order.
#[derive(Debug, Clone)]
pub struct Graph {
    g: DiGraph<String, ()>,
    index: HashMap<String, NodeIndex>,
    levels: Vec<Vec<String>>,
}

/// Builds the graph; fails on an unknown dependency or a cycle (the first one in file order).
pub fn build(stack: &Stack) -> Result<Graph, GraphError> {
    let g = raw_graph(stack)?;
    if let Some(c) = cycles_of(&g).into_iter().next() {
        return Err(GraphError::Cycle(c));
    }
    let index = g
        .node_indices()
        .map(|i| (g[i].clone(), i))
        .collect::<HashMap<_, _>>();
    let levels = compute_levels(&g);
    Ok(Graph { g, index, levels })
}

/// Every dependency cycle of the stack, each in walk order starting at its earliest service
/// (file order). Unknown dependencies are ignored here.
pub fn cycles(stack: &Stack) -> Vec<Vec<String>> {
    cycles_of(&graph_of(stack).0)
}

fn raw_graph(stack: &Stack) -> Result<DiGraph<String, ()>, GraphError> {
    match graph_of(stack) {
        (g, None) => Ok(g),
        (_, Some((service, dependency))) => Err(GraphError::UnknownDependency {
            service,
            dependency,
        }),
    }
}

/// The dependency graph (edges service -> dependency), and the first dependency that names
/// no service, if any (left out of the graph).
fn graph_of(stack: &Stack) -> (DiGraph<String, ()>, Option<(String, String)>) {
    let mut g = DiGraph::new();
    let mut idx = HashMap::new();
    for name in stack.services.keys() {
        idx.insert(name.clone(), g.add_node(name.clone()));
    }
    let mut unknown = None;
    for (name, svc) in &stack.services {
        for dep in svc.depends_on.keys() {
            match (idx.get(name), idx.get(dep)) {
                (Some(a), Some(b)) => {
                    g.add_edge(*a, *b, ());
                }
                _ => {
                    unknown.get_or_insert_with(|| (name.clone(), dep.clone()));
                }
            }
        }
    }
    (g, unknown)
}

fn cycles_of(g: &DiGraph<String, ()>) -> Vec<Vec<String>> {
    let mut out: Vec<(usize, Vec<String>)> = Vec::new();
    for scc in tarjan_scc(g) {
        let cyclic = scc.len() > 1 || scc.first().is_some_and(|n| g.contains_edge(*n, *n));
        if !cyclic {
            continue;
        }
        let members: HashSet<NodeIndex> = scc.iter().copied().collect();
        let Some(start) = scc.iter().copied().min() else {
            continue;
        };
        out.push((start.index(), walk_cycle(g, start, &members)));
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, c)| c).collect()
}

/// Shortest cycle through `start` inside its strongly connected component, following edges in
/// insertion (depends_on) order so the result is deterministic.
fn walk_cycle(
    g: &DiGraph<String, ()>,
    start: NodeIndex,
    members: &HashSet<NodeIndex>,
) -> Vec<String> {
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    while let Some(n) = queue.pop_front() {
        for m in ordered_neighbors(g, n, Direction::Outgoing) {
            if m == start {
                let mut path = vec![n];
                let mut cur = n;
                while cur != start {
                    let Some(p) = parent.get(&cur) else { break };
                    cur = *p;
                    path.push(cur);
                }
                path.reverse();
                return path.into_iter().map(|i| g[i].clone()).collect();
            }
            if members.contains(&m) && seen.insert(m) {
                parent.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    vec![g[start].clone()]
}

/// Neighbors in edge insertion order (petgraph iterates newest first).
fn ordered_neighbors(g: &DiGraph<String, ()>, n: NodeIndex, dir: Direction) -> Vec<NodeIndex> {
    let mut v: Vec<(usize, NodeIndex)> = g
        .edges_directed(n, dir)
        .map(|e| {
            use petgraph::visit::EdgeRef;
            let other = if dir == Direction::Outgoing {
                e.target()
            } else {
                e.source()
            };
            (e.id().index(), other)
        })
        .collect();
    v.sort_by_key(|(i, _)| *i);
    v.dedup_by_key(|(_, n)| *n);
    v.into_iter().map(|(_, n)| n).collect()
}

/// Level 0: no dependencies; level k: all dependencies in levels < k. File order within a level.
fn compute_levels(g: &DiGraph<String, ()>) -> Vec<Vec<String>> {
    let mut level: HashMap<NodeIndex, usize> = HashMap::new();
    let mut remaining: Vec<NodeIndex> = g.node_indices().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|n| {
            let deps: Vec<NodeIndex> = g.neighbors_directed(*n, Direction::Outgoing).collect();
            if deps.iter().all(|d| level.contains_key(d)) {
                let l = deps.iter().map(|d| level[d] + 1).max().unwrap_or(0);
                level.insert(*n, l);
                false
            } else {
                true
            }
        });
        if remaining.len() == before {
            // Only reachable with a cycle, which `build` rejected before.
            break;
        }
    }
    let depth = level.values().copied().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); depth];
    for n in g.node_indices() {
        if let Some(l) = level.get(&n) {
            out[*l].push(g[n].clone());
        }
    }
    out
}

impl Graph {
    /// Start order: each inner list can start in parallel once the previous lists are up.
    pub fn levels(&self) -> Vec<Vec<String>> {
        self.levels.clone()
    }

    /// Stop order: dependents before their dependencies.
    pub fn reverse_levels(&self) -> Vec<Vec<String>> {
        self.levels.iter().rev().cloned().collect()
    }

    /// Direct dependencies of `svc` in depends_on order (empty for unknown services).
    pub fn dependencies(&self, svc: &str) -> Vec<String> {
        self.neighbors(svc, Direction::Outgoing)
    }

    /// Services that directly depend on `svc`, in file order.
    pub fn dependents(&self, svc: &str) -> Vec<String> {
        let mut v: Vec<NodeIndex> = match self.index.get(svc) {
            Some(i) => self.g.neighbors_directed(*i, Direction::Incoming).collect(),
            None => return Vec::new(),
        };
        v.sort();
        v.dedup();
        v.into_iter().map(|i| self.g[i].clone()).collect()
    }

    fn neighbors(&self, svc: &str, dir: Direction) -> Vec<String> {
        match self.index.get(svc) {
            Some(i) => ordered_neighbors(&self.g, *i, dir)
                .into_iter()
                .map(|n| self.g[n].clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// `names` plus everything they depend on, transitively (what `up SERVICE` starts).
    pub fn closure(&self, names: &[&str]) -> Result<BTreeSet<String>, GraphError> {
        self.walk(names, Direction::Outgoing)
    }

    /// `names` plus everything that depends on them, transitively (what stopping them affects).
    pub fn dependents_closure(&self, names: &[&str]) -> Result<BTreeSet<String>, GraphError> {
        self.walk(names, Direction::Incoming)
    }

    fn walk(&self, names: &[&str], dir: Direction) -> Result<BTreeSet<String>, GraphError> {
        let mut out = BTreeSet::new();
        let mut stack = Vec::new();
        for n in names {
            let i = self
                .index
                .get(*n)
                .ok_or_else(|| GraphError::UnknownService(n.to_string()))?;
            stack.push(*i);
        }
        while let Some(i) = stack.pop() {
            if out.insert(self.g[i].clone()) {
                stack.extend(self.g.neighbors_directed(i, dir));
            }
        }
        Ok(out)
    }

    /// Services in a valid start order (levels flattened).
    pub fn start_order(&self) -> Vec<String> {
        self.levels.iter().flatten().cloned().collect()
    }
}

#[cfg(test)]
mod tests;
