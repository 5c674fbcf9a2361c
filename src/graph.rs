//! The dependency graph between tables and the order they load in.
//!
//! Nodes are table indexes, edges run from a referenced (parent) table to the referencing
//! (child) table. Strongly connected components (petgraph's Tarjan) are the foreign-key cycles;
//! the condensed graph is sorted topologically with a stable tie-break (the lowest table index,
//! and tables are indexed in name order), in the spirit of PostgreSQL's `pg_dump_sort.c`: the
//! same schema always gives the same order, whatever order the catalog returned rows in.
//!
//! Inside a cycle the plan says how it will load, without superuser and without disabling
//! triggers:
//! - a self-reference needs nothing: one `INSERT … SELECT` checks its foreign keys at the end of
//!   the statement;
//! - an edge whose constraint is DEFERRABLE is deferred to the end of the transaction;
//! - otherwise an edge with a nullable column is inserted as NULL and set by an UPDATE after
//!   the component's rows are in;
//! - a cycle made only of NOT NULL, non-deferrable edges goes in as one statement (a
//!   data-modifying CTE), since foreign-key checks run at the end of a statement.
//!
//! [`nulled_columns`] decides which columns NULL-then-UPDATE sets afterwards. `plan.rs` describes
//! each strategy in words; `import/cycles.rs` carries each one out in SQL.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

/// What it takes to satisfy an edge before its parent rows are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// NOT NULL (or MATCH FULL with a NOT NULL column) and not deferrable.
    Hard,
    /// Not deferrable, but can be inserted as NULL and set afterwards.
    Nullable,
    /// DEFERRABLE: can be checked at the end of the transaction.
    Deferrable,
    /// A virtual key from the config file: no constraint checks it, so it orders tables but
    /// never blocks a load.
    Virtual,
}

/// A foreign key seen as a dependency: `child` needs rows of `parent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub child: usize,
    pub parent: usize,
    pub kind: EdgeKind,
    /// The caller's identifier for the foreign key (an index into its list).
    pub id: usize,
}

/// How a broken edge is satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakMethod {
    Defer,
    NullThenUpdate,
    /// A virtual key: nothing to do, the target has no such constraint.
    NotEnforced,
}

/// How one component loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LoadStrategy {
    /// One table, no cycle.
    Plain,
    /// One table that references itself: one statement suffices.
    SelfReferencing,
    /// A cycle loaded table by table in `tables` order; the listed edges (by id) are broken.
    Ordered { broken: Vec<(usize, BreakMethod)> },
    /// A cycle of NOT NULL, non-deferrable edges: all tables in one statement.
    SingleStatement,
}

/// A strongly connected component, tables in load order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    pub tables: Vec<usize>,
    pub strategy: LoadStrategy,
}

impl Component {
    pub fn is_cycle(&self) -> bool {
        !matches!(self.strategy, LoadStrategy::Plain)
    }
}

/// The load plan: components in dependency order (parents first), each with its strategy.
/// `node_count` tables are numbered `0..node_count`; a lower number wins ties.
pub fn load_plan(node_count: usize, edges: &[Edge]) -> Vec<Component> {
    let mut graph = DiGraph::<usize, usize>::with_capacity(node_count, edges.len());
    let nodes: Vec<NodeIndex> = (0..node_count).map(|i| graph.add_node(i)).collect();
    for (i, edge) in edges.iter().enumerate() {
        graph.add_edge(nodes[edge.parent], nodes[edge.child], i);
    }
    let mut components: Vec<Vec<usize>> = tarjan_scc(&graph)
        .into_iter()
        .map(|scc| {
            let mut tables: Vec<usize> = scc.into_iter().map(|n| graph[n]).collect();
            tables.sort_unstable();
            tables
        })
        .collect();
    // Number components by their lowest table so the sort below is independent of Tarjan's.
    components.sort_unstable_by_key(|c| c[0]);
    let mut component_of = vec![0usize; node_count];
    for (c, tables) in components.iter().enumerate() {
        for &t in tables {
            component_of[t] = c;
        }
    }

    // Kahn's algorithm over the condensed graph. Among the components whose parents are all
    // placed, always take the one holding the lowest-numbered table: the result depends only
    // on the graph and the numbering.
    let mut parents_left = vec![0usize; components.len()];
    let mut children: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); components.len()];
    for edge in edges {
        let (p, c) = (component_of[edge.parent], component_of[edge.child]);
        if p != c && children[p].insert(c) {
            parents_left[c] += 1;
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..components.len())
        .filter(|&c| parents_left[c] == 0)
        .map(Reverse)
        .collect();
    let mut plan = Vec::with_capacity(components.len());
    while let Some(Reverse(c)) = ready.pop() {
        for &child in &children[c] {
            parents_left[child] -= 1;
            if parents_left[child] == 0 {
                ready.push(Reverse(child));
            }
        }
        plan.push(plan_component(&components[c], edges));
    }
    debug_assert_eq!(plan.len(), components.len(), "the condensation is acyclic");
    plan
}

/// Orders the tables of one component and picks how its cycle is broken.
fn plan_component(tables: &[usize], edges: &[Edge]) -> Component {
    let inside: Vec<&Edge> = edges
        .iter()
        .filter(|e| tables.contains(&e.child) && tables.contains(&e.parent))
        .collect();
    if tables.len() == 1 {
        let strategy = if inside.is_empty() {
            LoadStrategy::Plain
        } else {
            LoadStrategy::SelfReferencing
        };
        return Component {
            tables: tables.to_vec(),
            strategy,
        };
    }
    // Self-references never need breaking; only edges between different tables matter.
    let between: Vec<&Edge> = inside.into_iter().filter(|e| e.child != e.parent).collect();
    let hard: Vec<&Edge> = between
        .iter()
        .copied()
        .filter(|e| e.kind == EdgeKind::Hard)
        .collect();
    if has_cycle(tables, &hard) {
        return Component {
            tables: tables.to_vec(),
            strategy: LoadStrategy::SingleStatement,
        };
    }

    // Place tables one at a time. First choice: a table none of whose parents is still
    // unplaced. When every unplaced table waits on another (the cycle), take a table whose
    // waiting edges are all breakable (one exists, because the hard edges alone are acyclic),
    // the one with the fewest such edges, ties to the lowest number, and break those edges.
    let mut unplaced: BTreeSet<usize> = tables.iter().copied().collect();
    let mut order = Vec::with_capacity(tables.len());
    let mut broken = Vec::new();
    while !unplaced.is_empty() {
        let waiting_on = |t: usize| -> Vec<&Edge> {
            between
                .iter()
                .copied()
                .filter(|e| e.child == t && unplaced.contains(&e.parent))
                .collect()
        };
        let free = unplaced.iter().copied().find(|&t| waiting_on(t).is_empty());
        let next = match free {
            Some(t) => t,
            None => {
                let (t, waits) = unplaced
                    .iter()
                    .map(|&t| (t, waiting_on(t)))
                    .filter(|(_, waits)| waits.iter().all(|e| e.kind != EdgeKind::Hard))
                    .min_by_key(|(t, waits)| (waits.len(), *t))
                    .expect("hard edges are acyclic, so some table waits only on soft edges");
                for edge in waits {
                    let method = match edge.kind {
                        EdgeKind::Deferrable => BreakMethod::Defer,
                        EdgeKind::Nullable => BreakMethod::NullThenUpdate,
                        EdgeKind::Virtual => BreakMethod::NotEnforced,
                        EdgeKind::Hard => unreachable!(),
                    };
                    broken.push((edge.id, method));
                }
                t
            }
        };
        unplaced.remove(&next);
        order.push(next);
    }
    broken.sort_unstable();
    Component {
        tables: order,
        strategy: LoadStrategy::Ordered { broken },
    }
}

/// Whether the edges contain a cycle among `tables` (self-loops excluded by the caller).
fn has_cycle(tables: &[usize], edges: &[&Edge]) -> bool {
    let mut remaining: BTreeSet<usize> = tables.iter().copied().collect();
    loop {
        let removable: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&t| {
                !edges
                    .iter()
                    .any(|e| e.child == t && remaining.contains(&e.parent))
            })
            .collect();
        if removable.is_empty() {
            return !remaining.is_empty();
        }
        for t in removable {
            remaining.remove(&t);
        }
    }
}

/// The dependency edges of a catalog's foreign keys (edge ids are foreign-key indexes).
pub fn edges_from_catalog(catalog: &crate::catalog::Catalog) -> Vec<Edge> {
    catalog
        .foreign_keys
        .iter()
        .enumerate()
        .map(|(id, fk)| {
            let child = &catalog.tables[fk.child];
            let nullable = |name: &&String| child.column(name).is_some_and(|c| !c.not_null);
            // Setting a column back after the insert needs a key to find the row by.
            let has_key = child.row_key() != crate::catalog::RowKey::AllColumns;
            // With every nullable column NULL, the row needs no parent for now.
            let nulls = fk.columns.iter().filter(nullable).count();
            let breakable_by_null =
                has_key && !fk.match_rule().needs_parent(nulls, fk.columns.len());
            let kind = if fk.is_virtual() {
                EdgeKind::Virtual
            } else if fk.deferrable() {
                EdgeKind::Deferrable
            } else if breakable_by_null {
                EdgeKind::Nullable
            } else {
                EdgeKind::Hard
            };
            Edge {
                child: fk.child,
                parent: fk.parent,
                kind,
                id,
            }
        })
        .collect()
}

/// The columns inserted as NULL and set afterwards, by child table: the nullable columns of
/// every key broken by NULL-then-UPDATE, each once.
pub fn nulled_columns(
    catalog: &crate::catalog::Catalog,
    broken: &[(usize, BreakMethod)],
) -> HashMap<usize, Vec<String>> {
    let mut nulled: HashMap<usize, Vec<String>> = HashMap::new();
    for &(fk, method) in broken {
        if method == BreakMethod::NullThenUpdate {
            let key = &catalog.foreign_keys[fk];
            let child = &catalog.tables[key.child];
            let columns = nulled.entry(key.child).or_default();
            for c in &key.columns {
                let nullable = child.column(c).is_some_and(|c| !c.not_null);
                if nullable && !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
    }
    nulled
}

/// Every table that `roots` need, transitively through `edges` (the roots included).
pub fn ancestors_closure(node_count: usize, edges: &[Edge], roots: &[usize]) -> Vec<bool> {
    let mut keep = vec![false; node_count];
    let mut stack: Vec<usize> = roots.to_vec();
    while let Some(t) = stack.pop() {
        if std::mem::replace(&mut keep[t], true) {
            continue;
        }
        stack.extend(edges.iter().filter(|e| e.child == t).map(|e| e.parent));
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(child: usize, parent: usize, kind: EdgeKind, id: usize) -> Edge {
        Edge {
            child,
            parent,
            kind,
            id,
        }
    }

    fn order(plan: &[Component]) -> Vec<usize> {
        plan.iter().flat_map(|c| c.tables.clone()).collect()
    }

    #[test]
    fn parents_come_first_and_ties_go_to_the_lowest_number() {
        // 0 needs 2, 1 needs nothing, 2 needs nothing, 3 needs 0.
        let edges = [edge(0, 2, EdgeKind::Hard, 0), edge(3, 0, EdgeKind::Hard, 1)];
        let plan = load_plan(4, &edges);
        assert_eq!(order(&plan), vec![1, 2, 0, 3]);
        assert!(plan.iter().all(|c| c.strategy == LoadStrategy::Plain));
    }

    #[test]
    fn order_does_not_depend_on_edge_order() {
        let mut edges = vec![
            edge(4, 1, EdgeKind::Hard, 0),
            edge(4, 0, EdgeKind::Hard, 1),
            edge(3, 2, EdgeKind::Hard, 2),
            edge(1, 2, EdgeKind::Hard, 3),
        ];
        let first = order(&load_plan(5, &edges));
        edges.reverse();
        assert_eq!(order(&load_plan(5, &edges)), first);
        assert_eq!(first, vec![0, 2, 1, 3, 4]);
    }

    #[test]
    fn self_reference_is_one_component() {
        let plan = load_plan(1, &[edge(0, 0, EdgeKind::Nullable, 0)]);
        assert_eq!(plan[0].strategy, LoadStrategy::SelfReferencing);
    }

    #[test]
    fn nullable_cycle_breaks_the_nullable_edge() {
        // 0 -> 1 NOT NULL, 1 -> 0 nullable: load 1 first with its reference to 0 as NULL.
        let edges = [
            edge(0, 1, EdgeKind::Hard, 7),
            edge(1, 0, EdgeKind::Nullable, 8),
        ];
        let plan = load_plan(2, &edges);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].tables, vec![1, 0]);
        assert_eq!(
            plan[0].strategy,
            LoadStrategy::Ordered {
                broken: vec![(8, BreakMethod::NullThenUpdate)]
            }
        );
    }

    #[test]
    fn deferrable_edge_is_deferred() {
        let edges = [
            edge(0, 1, EdgeKind::Deferrable, 0),
            edge(1, 0, EdgeKind::Hard, 1),
        ];
        let plan = load_plan(2, &edges);
        assert_eq!(plan[0].tables, vec![0, 1]);
        assert_eq!(
            plan[0].strategy,
            LoadStrategy::Ordered {
                broken: vec![(0, BreakMethod::Defer)]
            }
        );
    }

    #[test]
    fn hard_cycle_is_one_statement() {
        let edges = [
            edge(0, 1, EdgeKind::Hard, 0),
            edge(1, 2, EdgeKind::Hard, 1),
            edge(2, 0, EdgeKind::Hard, 2),
        ];
        let plan = load_plan(3, &edges);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].strategy, LoadStrategy::SingleStatement);
    }

    #[test]
    fn cycle_sits_between_its_parents_and_children() {
        // 0 is a parent of the cycle {1, 2}; 3 is a child of it.
        let edges = [
            edge(1, 0, EdgeKind::Hard, 0),
            edge(1, 2, EdgeKind::Nullable, 1),
            edge(2, 1, EdgeKind::Hard, 2),
            edge(3, 2, EdgeKind::Hard, 3),
        ];
        let plan = load_plan(4, &edges);
        assert_eq!(plan.len(), 3);
        assert_eq!(plan[0].tables, vec![0]);
        assert_eq!(plan[1].tables, vec![1, 2]);
        assert_eq!(plan[2].tables, vec![3]);
    }

    #[test]
    fn closure_follows_parents_only() {
        let edges = [edge(1, 0, EdgeKind::Hard, 0), edge(2, 1, EdgeKind::Hard, 1)];
        assert_eq!(
            ancestors_closure(4, &edges, &[1]),
            vec![true, true, false, false]
        );
    }
}
