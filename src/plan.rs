//! `seedsnap plan`: the load order, every foreign-key edge, every cycle and how it will load,
//! and the rows an export would take — as text, JSON, Graphviz dot or Mermaid.

use anyhow::Result;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::connection::Endpoint;
use crate::export::{self, ExportOptions, Prepared, Timings};
use crate::graph::{self, BreakMethod, Component, EdgeKind, LoadStrategy};
use crate::report::{self, Progress};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
    Mermaid,
}

#[derive(Serialize)]
pub struct PlanReport {
    pub source: String,
    pub tables: Vec<PlanTable>,
    pub foreign_keys: Vec<PlanEdge>,
    pub cycles: Vec<PlanCycle>,
    pub rows: u64,
    pub timings: Timings,
}

#[derive(Serialize)]
pub struct PlanTable {
    pub position: usize,
    pub table: String,
    /// Index into `cycles` when the table is part of one.
    pub cycle: Option<usize>,
    pub source_rows_estimate: i64,
    pub sampled: u64,
    pub backfilled: u64,
    pub rows: u64,
}

#[derive(Serialize)]
pub struct PlanEdge {
    pub name: String,
    pub from: String,
    pub columns: Vec<String>,
    pub to: String,
    pub referenced_columns: Vec<String>,
    pub kind: EdgeKind,
    pub in_cycle: bool,
}

#[derive(Serialize)]
pub struct PlanCycle {
    pub tables: Vec<String>,
    pub strategy: LoadStrategy,
    pub how: String,
}

pub fn run(
    endpoint: &Endpoint,
    options: &ExportOptions,
    progress: &Progress,
) -> Result<PlanReport> {
    progress.always(&format!(
        "reading from {} (read-only)",
        endpoint.display_name()
    ));
    let mut client = export::open_source(endpoint)?;
    let mut txn = export::begin_snapshot(&mut client)?;
    let prepared = export::prepare(&mut txn, options, progress, Timings::default())?;
    txn.commit()?;
    Ok(build(endpoint.display_name(), &prepared))
}

/// Describes how a cycle loads, in words.
pub fn describe(catalog: &Catalog, component: &Component) -> String {
    let names = |ts: &[usize]| -> String {
        ts.iter()
            .map(|&t| catalog.tables[t].name.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &component.strategy {
        LoadStrategy::Plain => "no cycle".into(),
        LoadStrategy::SelfReferencing => "references itself: its rows load in one statement, \
                                          and foreign keys are checked at the statement's end"
            .into(),
        LoadStrategy::SingleStatement => format!(
            "every edge is NOT NULL and not deferrable: {} load together in one statement",
            names(&component.tables)
        ),
        LoadStrategy::Ordered { broken } => {
            let mut text = format!("loads in the order {}", names(&component.tables));
            for (fk, method) in broken {
                let key = &catalog.foreign_keys[*fk];
                let what = format!(
                    "{}({}) -> {}",
                    catalog.tables[key.child].name,
                    key.columns.join(", "),
                    catalog.tables[key.parent].name
                );
                text.push_str(&match method {
                    BreakMethod::Defer => format!("; {what} is deferred to commit ({})", key.name),
                    BreakMethod::NullThenUpdate => format!(
                        "; {what} is inserted as NULL and set afterwards ({})",
                        key.name
                    ),
                });
            }
            text
        }
    }
}

pub fn build(source: String, prepared: &Prepared) -> PlanReport {
    let catalog = &prepared.catalog;
    let mut cycle_of = vec![None; catalog.tables.len()];
    let mut cycles = Vec::new();
    for component in prepared.plan.iter().filter(|c| c.is_cycle()) {
        for &t in &component.tables {
            cycle_of[t] = Some(cycles.len());
        }
        cycles.push(PlanCycle {
            tables: component
                .tables
                .iter()
                .map(|&t| catalog.tables[t].name.to_string())
                .collect(),
            strategy: component.strategy.clone(),
            how: describe(catalog, component),
        });
    }
    let mut tables = Vec::new();
    for &t in prepared.plan.iter().flat_map(|c| c.tables.iter()) {
        let chosen = &prepared.selection.tables[t];
        tables.push(PlanTable {
            position: tables.len() + 1,
            table: catalog.tables[t].name.to_string(),
            cycle: cycle_of[t],
            source_rows_estimate: catalog.tables[t].estimated_rows,
            sampled: chosen.sampled,
            backfilled: chosen.backfilled,
            rows: chosen.rows.len() as u64,
        });
    }
    let edges = graph::edges_from_catalog(catalog);
    let foreign_keys = catalog
        .foreign_keys
        .iter()
        .zip(&edges)
        .map(|(fk, edge)| PlanEdge {
            name: fk.name.clone(),
            from: catalog.tables[fk.child].name.to_string(),
            columns: fk.columns.clone(),
            to: catalog.tables[fk.parent].name.to_string(),
            referenced_columns: fk.parent_columns.clone(),
            kind: edge.kind,
            in_cycle: cycle_of[fk.child].is_some() && cycle_of[fk.child] == cycle_of[fk.parent],
        })
        .collect();
    PlanReport {
        source,
        rows: tables.iter().map(|t| t.rows).sum(),
        tables,
        foreign_keys,
        cycles,
        timings: prepared.timings.clone(),
    }
}

fn kind_text(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Hard => "NOT NULL",
        EdgeKind::Nullable => "nullable",
        EdgeKind::Deferrable => "deferrable",
    }
}

pub fn render_text(plan: &PlanReport) -> String {
    let mut out = format!("Load order ({} tables):\n", plan.tables.len());
    let rows: Vec<Vec<String>> = plan
        .tables
        .iter()
        .map(|t| {
            vec![
                format!("{:>4}. {}", t.position, t.table),
                t.cycle
                    .map(|c| format!("cycle {}", c + 1))
                    .unwrap_or_default(),
                format!("~{}", t.source_rows_estimate),
                t.sampled.to_string(),
                t.backfilled.to_string(),
                t.rows.to_string(),
            ]
        })
        .collect();
    out.push_str(&report::render_table(
        &[
            "table",
            "cycle",
            "source rows",
            "sampled",
            "backfilled",
            "would export",
        ],
        &rows,
    ));
    out.push_str(&format!("\nForeign keys ({}):\n", plan.foreign_keys.len()));
    for fk in &plan.foreign_keys {
        out.push_str(&format!(
            "  {}({}) -> {}({})  {}{}  [{}]\n",
            fk.from,
            fk.columns.join(", "),
            fk.to,
            fk.referenced_columns.join(", "),
            kind_text(fk.kind),
            if fk.in_cycle { ", in a cycle" } else { "" },
            fk.name
        ));
    }
    out.push_str(&format!("\nCycles ({}):\n", plan.cycles.len()));
    if plan.cycles.is_empty() {
        out.push_str("  none\n");
    }
    for (i, cycle) in plan.cycles.iter().enumerate() {
        out.push_str(&format!(
            "  cycle {}: {}\n    {}\n",
            i + 1,
            cycle.tables.join(", "),
            cycle.how
        ));
    }
    out.push_str(&format!(
        "\nAn export would take {} rows from {}.\n",
        plan.rows, plan.source
    ));
    out
}

fn dot_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz: an arrow from each referencing table to the table it references; tables in a
/// cycle are filled, and edges inside a cycle are red (dashed when the edge is broken by
/// deferring or by NULL-then-UPDATE).
pub fn render_dot(plan: &PlanReport) -> String {
    let mut out = String::from(
        "digraph seedsnap {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  \
         edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for t in &plan.tables {
        let style = match t.cycle {
            Some(_) => ", style=filled, fillcolor=\"#ffd6d6\"",
            None => "",
        };
        out.push_str(&format!(
            "  {} [label={}{}];\n",
            dot_quote(&t.table),
            dot_quote(&format!("{}\\n{} rows", t.table, t.rows)).replace("\\\\n", "\\n"),
            style
        ));
    }
    for fk in &plan.foreign_keys {
        let mut attrs = vec![format!("label={}", dot_quote(&fk.columns.join(", ")))];
        if fk.in_cycle {
            attrs.push("color=red".into());
            attrs.push("fontcolor=red".into());
        }
        if fk.kind != EdgeKind::Hard {
            attrs.push("style=dashed".into());
        }
        out.push_str(&format!(
            "  {} -> {} [{}];\n",
            dot_quote(&fk.from),
            dot_quote(&fk.to),
            attrs.join(", ")
        ));
    }
    out.push_str("}\n");
    out
}

/// Mermaid (`flowchart`), for Markdown renderers: the same graph as [`render_dot`], tables in
/// cycles styled, edges inside cycles dashed.
pub fn render_mermaid(plan: &PlanReport) -> String {
    let id = |table: &str| -> String {
        let position = plan
            .tables
            .iter()
            .position(|t| t.table == table)
            .unwrap_or(0);
        format!("t{position}")
    };
    let label = |text: &str| text.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for t in &plan.tables {
        out.push_str(&format!(
            "  {}[\"{}<br/>{} rows\"]\n",
            id(&t.table),
            label(&t.table),
            t.rows
        ));
    }
    for fk in &plan.foreign_keys {
        let arrow = if fk.in_cycle { "-.->" } else { "-->" };
        out.push_str(&format!(
            "  {} {arrow}|\"{}\"| {}\n",
            id(&fk.from),
            label(&fk.columns.join(", ")),
            id(&fk.to)
        ));
    }
    let cyclic: Vec<String> = plan
        .tables
        .iter()
        .filter(|t| t.cycle.is_some())
        .map(|t| id(&t.table))
        .collect();
    if !cyclic.is_empty() {
        out.push_str("  classDef cycle fill:#ffd6d6,stroke:#c00\n");
        out.push_str(&format!("  class {} cycle\n", cyclic.join(",")));
    }
    out
}
