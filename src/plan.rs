//! `seedsnap plan`: the load order, every foreign-key edge, every cycle and how it will load,
//! and the rows an export would take — as text, JSON, Graphviz dot or Mermaid.

use anyhow::Result;
use serde::Serialize;

use std::collections::HashMap;

use crate::catalog::{quote_ident, Catalog};
use crate::connection::Endpoint;
use crate::graph::{self, BreakMethod, Component, EdgeKind, LoadStrategy};
use crate::prepare::{self, ExportOptions, Prepared, Timings};
use crate::readers::Readers;
use crate::report::{self, Progress};
use crate::selection::RowId;
use crate::session;

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
    /// The masked columns: by their own rule, or following the column they reference.
    pub masked: Vec<crate::masking::MaskedColumn>,
    pub rows: u64,
    pub timings: Timings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
    /// The source's user triggers on the exported tables: an import into a database with the
    /// same schema holds them off while it loads (see `import::triggers`).
    pub triggers_held_off: Vec<crate::import::triggers::UserTrigger>,
}

/// `plan --explain`: why each row of a table beyond its limit is in the snapshot.
#[derive(Serialize)]
pub struct Explanation {
    pub table: String,
    pub sampled: u64,
    pub backfilled: u64,
    pub rows: Vec<ExplainedRow>,
}

#[derive(Serialize)]
pub struct ExplainedRow {
    /// The row, by its key: `(id)=(42)`.
    pub row: String,
    /// From the row up: each step is a row that references the one before it. The last
    /// step's row was sampled.
    pub pulled_in_by: Vec<ExplainStep>,
}

#[derive(Serialize)]
pub struct ExplainStep {
    pub table: String,
    pub row: String,
    pub foreign_key: String,
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
    /// A polymorphic virtual key's conditions on the referencing row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<crate::catalog::Condition>,
    /// A key declared on partitions of `from`, not on `from` itself: it covers their rows
    /// only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
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
    let mut client = session::open_source(endpoint)?;
    let mut txn = session::begin_snapshot(&mut client)?;
    let prepared = prepare::prepare(
        &mut txn,
        &mut Readers::none(),
        options,
        progress,
        Timings::default(),
    )?;
    // Row ids are only meaningful inside the snapshot, so the explanation is read before it ends.
    let explanation = match &options.explain {
        Some(table) => Some(explain(&mut txn, &prepared, table)?),
        None => None,
    };
    let triggers = crate::import::triggers::read(&mut txn, &prepared.catalog)?;
    txn.commit()?;
    let mut report = build(endpoint.display_name(), &prepared);
    report.explanation = explanation;
    report.triggers_held_off = triggers;
    Ok(report)
}

/// Follows each backfilled row of `table` down the rows that pulled it in, to a sampled row,
/// and reads every row on the way by its key.
fn explain(
    client: &mut impl postgres::GenericClient,
    prepared: &Prepared,
    table: &crate::catalog::QualifiedName,
) -> Result<Explanation> {
    let catalog = &prepared.catalog;
    let Some(t) = catalog.find(table) else {
        return Err(crate::problem::refuse(
            crate::error::ExitKind::BadInput,
            crate::problem::Problem::unplaced(format!(
                "--explain {table}: the table is not part of this export (see --only and \
                 --exclude)"
            ))
            .kind(crate::problem::ProblemKind::Setting)
            .table(table),
        ));
    };
    let provenance = &prepared.selection.provenance;
    let mut explained: Vec<RowId> = prepared.selection.tables[t]
        .rows
        .iter()
        .filter(|r| provenance.contains_key(r))
        .collect();
    explained.sort_unstable();
    // Every row on every chain, by table, to be described in one query per table.
    let mut chains = Vec::new();
    let mut wanted: HashMap<usize, Vec<RowId>> = HashMap::new();
    for &row in &explained {
        wanted.entry(t).or_default().push(row);
        let mut chain = Vec::new();
        let mut current = row;
        // Each reason's row was chosen before the row it explains, so this ends.
        while let Some(reason) = provenance.get(&current) {
            chain.push(*reason);
            wanted
                .entry(reason.child_table)
                .or_default()
                .push(reason.child_row);
            current = reason.child_row;
        }
        chains.push(chain);
    }
    let mut described: HashMap<RowId, String> = HashMap::new();
    for (table, rows) in wanted {
        let masked: Vec<&str> = prepared
            .masking
            .tables
            .get(&table)
            .map(|masks| masks.iter().map(|m| m.name.column.as_str()).collect())
            .unwrap_or_default();
        described.extend(describe_rows(client, catalog, table, rows, &masked)?);
    }
    let text = |row: &RowId| described.get(row).cloned().unwrap_or_default();
    let rows = explained
        .iter()
        .zip(chains)
        .map(|(row, chain)| ExplainedRow {
            row: text(row),
            pulled_in_by: chain
                .iter()
                .map(|reason| ExplainStep {
                    table: catalog.tables[reason.child_table].name.to_string(),
                    row: text(&reason.child_row),
                    foreign_key: catalog.foreign_keys[reason.foreign_key].name.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(Explanation {
        table: table.to_string(),
        sampled: prepared.selection.tables[t].sampled,
        backfilled: prepared.selection.tables[t].backfilled,
        rows,
    })
}

/// `(key columns)=(values)` for the given rows of a table (all columns for a keyless one). A
/// `masked` column's value is never read: it shows as `<masked>`, so that the explanation
/// carries no personal data into a terminal or a CI log.
fn describe_rows(
    client: &mut impl postgres::GenericClient,
    catalog: &Catalog,
    table: usize,
    mut rows: Vec<RowId>,
    masked: &[&str],
) -> Result<HashMap<RowId, String>> {
    rows.sort_unstable();
    rows.dedup();
    let info = &catalog.tables[table];
    let value = |c: &str| match masked.contains(&c) {
        true => "'<masked>'::pg_catalog.text".to_string(),
        false => format!("t.{}", quote_ident(c)),
    };
    let (columns, values) = match info.row_key().columns() {
        Some(key) => (
            key.join(", "),
            key.iter().map(|c| value(c)).collect::<Vec<_>>().join(", "),
        ),
        None if masked.is_empty() => ("*".to_string(), "t.*".to_string()),
        None => (
            "*".to_string(),
            info.stored_columns()
                .map(|c| value(&c.name))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    };
    let sql = format!(
        "SELECT t.tableoid::pg_catalog.int8, t.ctid::pg_catalog.text, ROW({values})::pg_catalog.text \
           FROM {} AS t WHERE t.ctid = ANY ({})",
        info.from_clause(),
        crate::selection::tid_array(rows.iter().copied())
    );
    let mut described = HashMap::new();
    for row in client.query(sql.as_str(), &[])? {
        let relation: i64 = row.get(0);
        let ctid: String = row.get(1);
        let Some(id) = RowId::parse(&relation.to_string(), &ctid) else {
            continue;
        };
        if rows.binary_search(&id).is_ok() {
            let tuple: String = row.get(2);
            let inner = tuple
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(&tuple);
            described.insert(id, format!("({columns})=({inner})"));
        }
    }
    Ok(described)
}

/// The text of `plan --explain`.
pub fn render_explanation(explanation: &Explanation) -> String {
    let mut out = format!(
        "{}: {} rows sampled, {} backfilled; why each backfilled row is in the snapshot:\n",
        explanation.table, explanation.sampled, explanation.backfilled
    );
    for row in &explanation.rows {
        out.push_str(&format!("\n{} {}\n", explanation.table, row.row));
        for (i, step) in row.pulled_in_by.iter().enumerate() {
            let last = i + 1 == row.pulled_in_by.len();
            out.push_str(&format!(
                "  {}<- {} {}  via {}{}\n",
                "  ".repeat(i),
                step.table,
                step.row,
                step.foreign_key,
                if last { "  (sampled)" } else { "" }
            ));
        }
    }
    if explanation.rows.is_empty() {
        out.push_str("  none: every row of the table was sampled\n");
    }
    out
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
                    BreakMethod::NullThenUpdate => {
                        // The same columns the import nulls: the key's nullable ones.
                        let nulled = graph::nulled_columns(catalog, &[(*fk, *method)]);
                        let columns = nulled.get(&key.child).map(|c| c.join(", "));
                        format!(
                            "; {what} is inserted with {} NULL and set afterwards ({})",
                            columns.unwrap_or_default(),
                            key.name
                        )
                    }
                    BreakMethod::NotEnforced => {
                        format!("; {what} is a virtual key, which no constraint checks")
                    }
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
            when: fk.condition().to_vec(),
            partitions: fk
                .partition
                .iter()
                .flat_map(|scope| scope.declared_on.iter().map(|p| p.to_string()))
                .collect(),
            in_cycle: cycle_of[fk.child].is_some() && cycle_of[fk.child] == cycle_of[fk.parent],
        })
        .collect();
    PlanReport {
        source,
        rows: tables.iter().map(|t| t.rows).sum(),
        tables,
        foreign_keys,
        cycles,
        masked: prepared.masking.columns.clone(),
        timings: prepared.timings.clone(),
        explanation: None,
        triggers_held_off: Vec::new(),
    }
}

fn kind_text(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Hard => "NOT NULL",
        EdgeKind::Nullable => "nullable",
        EdgeKind::Deferrable => "deferrable",
        EdgeKind::Virtual => "virtual",
    }
}

/// The report in the chosen format, as printed; with `--explain`, text is the explanation.
pub fn render(report: &PlanReport, format: PlanFormat) -> Result<String> {
    if let (Some(explanation), PlanFormat::Text) = (&report.explanation, format) {
        return Ok(render_explanation(explanation));
    }
    Ok(match format {
        PlanFormat::Text => render_text(report),
        PlanFormat::Json => format!("{}\n", serde_json::to_string_pretty(report)?),
        PlanFormat::Dot => render_dot(report),
        PlanFormat::Mermaid => render_mermaid(report),
    })
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
        let when: Vec<String> = fk.when.iter().map(|c| c.to_string()).collect();
        let from = match fk.partitions.is_empty() {
            true => fk.from.clone(),
            false => format!("{} (partition of {})", fk.partitions.join(", "), fk.from),
        };
        out.push_str(&format!(
            "  {}({}) -> {}({}){}  {}{}  [{}]\n",
            from,
            fk.columns.join(", "),
            fk.to,
            fk.referenced_columns.join(", "),
            if when.is_empty() {
                String::new()
            } else {
                format!(" when {}", when.join(" and "))
            },
            kind_text(fk.kind),
            if fk.in_cycle { ", in a cycle" } else { "" },
            if fk.kind == EdgeKind::Virtual {
                "not declared in the database"
            } else {
                &fk.name
            }
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
    if !plan.masked.is_empty() {
        out.push_str(&format!("\nMasked columns ({}):\n", plan.masked.len()));
        let width = plan
            .masked
            .iter()
            .map(|m| m.column.chars().count())
            .max()
            .unwrap_or(0);
        for masked in &plan.masked {
            out.push_str(&format!(
                "  {:<width$}  {}{}\n",
                masked.column,
                masked.rule,
                masked
                    .via
                    .as_ref()
                    .map(|v| format!(" (follows {v})"))
                    .unwrap_or_default()
            ));
        }
    }
    if !plan.triggers_held_off.is_empty() {
        out.push_str(&format!(
            "\nUser triggers an import holds off while it loads ({}):\n",
            plan.triggers_held_off.len()
        ));
        for trigger in &plan.triggers_held_off {
            out.push_str(&format!(
                "  {}{}\n",
                trigger,
                match (trigger.always, trigger.replica) {
                    (true, _) => " (enabled always)",
                    (false, true) => " (enabled replica)",
                    (false, false) => "",
                }
            ));
        }
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
        match fk.kind {
            EdgeKind::Hard => {}
            EdgeKind::Virtual => {
                attrs.push("style=dotted".into());
                attrs.push("color=blue".into());
            }
            _ => attrs.push("style=dashed".into()),
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
        let arrow = if fk.in_cycle || fk.kind == EdgeKind::Virtual {
            "-.->"
        } else {
            "-->"
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tables in a cycle broken by NULL-then-UPDATE, and one table outside it.
    fn report() -> PlanReport {
        let table = |position: usize, name: &str, cycle: Option<usize>| PlanTable {
            position,
            table: name.into(),
            cycle,
            source_rows_estimate: 100,
            sampled: 5,
            backfilled: 1,
            rows: 6,
        };
        let edge = |from: &str, to: &str, kind: EdgeKind, in_cycle: bool| PlanEdge {
            name: format!("{from}_fk"),
            from: from.into(),
            columns: vec!["parent_id".into()],
            to: to.into(),
            referenced_columns: vec!["id".into()],
            kind,
            in_cycle,
            when: Vec::new(),
            partitions: Vec::new(),
        };
        PlanReport {
            source: "host:5432/demo as me".into(),
            tables: vec![
                table(1, "app.users", Some(0)),
                table(2, "app.items", Some(0)),
                table(3, "app.tags", None),
            ],
            foreign_keys: vec![
                edge("app.items", "app.users", EdgeKind::Hard, true),
                edge("app.users", "app.items", EdgeKind::Nullable, true),
                edge("app.tags", "app.items", EdgeKind::Hard, false),
            ],
            cycles: vec![PlanCycle {
                tables: vec!["app.users".into(), "app.items".into()],
                strategy: LoadStrategy::Ordered {
                    broken: vec![(1, BreakMethod::NullThenUpdate)],
                },
                how: "loads in the order app.users, app.items".into(),
            }],
            masked: Vec::new(),
            rows: 18,
            timings: Timings::default(),
            explanation: None,
            triggers_held_off: Vec::new(),
        }
    }

    #[test]
    fn text_lists_order_keys_and_cycles() {
        let text = render(&report(), PlanFormat::Text).unwrap();
        assert!(text.starts_with("Load order (3 tables):\n"), "{text}");
        assert!(text.contains(
            "   1. app.users  cycle 1         ~100        5           1             6\n"
        ));
        assert!(text.contains(
            "   3. app.tags                   ~100        5           1             6\n"
        ));
        assert!(text.contains(
            "  app.users(parent_id) -> app.items(id)  nullable, in a cycle  [app.users_fk]\n"
        ));
        assert!(text.contains("  app.tags(parent_id) -> app.items(id)  NOT NULL  [app.tags_fk]\n"));
        assert!(text.contains(
            "  cycle 1: app.users, app.items\n    loads in the order app.users, app.items\n"
        ));
        assert!(text.ends_with("An export would take 18 rows from host:5432/demo as me.\n"));
        assert!(!text.contains("Masked columns"));
    }

    #[test]
    fn text_lists_masked_columns_and_what_they_follow() {
        let mut report = report();
        let masked = |column: &str, via: Option<&str>| crate::masking::MaskedColumn {
            column: column.into(),
            rule: "email".into(),
            via: via.map(String::from),
        };
        report.masked = vec![
            masked("app.items.owner_email", Some("app.users.email")),
            masked("app.users.email", None),
        ];
        let text = render(&report, PlanFormat::Text).unwrap();
        assert!(
            text.contains(
                "\nMasked columns (2):\n  app.items.owner_email  email (follows app.users.email)\n  \
                 app.users.email        email\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn text_with_an_explanation_is_the_explanation() {
        let mut report = report();
        report.explanation = Some(Explanation {
            table: "app.tags".into(),
            sampled: 5,
            backfilled: 0,
            rows: Vec::new(),
        });
        let text = render(&report, PlanFormat::Text).unwrap();
        assert_eq!(
            text,
            render_explanation(report.explanation.as_ref().unwrap())
        );
        // The other formats still print the plan.
        assert!(render(&report, PlanFormat::Dot)
            .unwrap()
            .starts_with("digraph"));
    }

    #[test]
    fn json_is_one_document_with_a_newline() {
        let text = render(&report(), PlanFormat::Json).unwrap();
        assert!(text.ends_with("}\n"));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["rows"], 18);
        assert_eq!(value["cycles"][0]["strategy"]["kind"], "ordered");
        assert_eq!(
            value["cycles"][0]["strategy"]["broken"][0],
            serde_json::json!([1, "null_then_update"])
        );
        assert!(value.get("explanation").is_none());
    }

    #[test]
    fn dot_marks_cycles_and_nullable_edges() {
        let dot = render(&report(), PlanFormat::Dot).unwrap();
        assert!(dot.contains(
            "  \"app.users\" [label=\"app.users\\n6 rows\", style=filled, fillcolor=\"#ffd6d6\"];\n"
        ));
        assert!(dot.contains("  \"app.tags\" [label=\"app.tags\\n6 rows\"];\n"));
        assert!(dot.contains(
            "  \"app.users\" -> \"app.items\" [label=\"parent_id\", color=red, fontcolor=red, style=dashed];\n"
        ));
        assert!(dot.contains("  \"app.tags\" -> \"app.items\" [label=\"parent_id\"];\n"));
        assert!(dot.ends_with("}\n"));
    }

    #[test]
    fn mermaid_names_tables_by_position_and_classes_cycles() {
        let mermaid = render(&report(), PlanFormat::Mermaid).unwrap();
        assert!(mermaid.starts_with("flowchart LR\n  t0[\"app.users<br/>6 rows\"]\n"));
        assert!(mermaid.contains("  t2 -->|\"parent_id\"| t1\n"));
        assert!(mermaid.contains("  t1 -.->|\"parent_id\"| t0\n"));
        assert!(mermaid.ends_with("  class t0,t1 cycle\n"));
    }
}
