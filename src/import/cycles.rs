//! Inserting one component of the load plan, and carrying out the cycle strategies that
//! [`crate::graph`] chose for it: one `WITH … INSERT` statement for a cycle of tables
//! ([`LoadStrategy::SingleStatement`]), `SET CONSTRAINTS … DEFERRED` for a deferrable key
//! ([`BreakMethod::Defer`]), or NULL-then-UPDATE for a nullable one
//! ([`BreakMethod::NullThenUpdate`]): insert with the key's columns NULL, then set them from
//! the staged rows once every table of the cycle holds its rows.

use std::collections::HashMap;

use anyhow::{Context, Result};
use postgres::Transaction;

use super::constraint_violation;
use super::statements::LoadTable;
use crate::catalog::{quote_ident, Catalog};
use crate::graph::{self, BreakMethod, LoadStrategy};

/// Inserts the staged new rows of every table of `component`; the row counts go to `inserted`.
pub(super) fn insert_component(
    txn: &mut Transaction<'_>,
    catalog: &Catalog,
    component: &graph::Component,
    loads: &HashMap<usize, LoadTable>,
    inserted: &mut HashMap<usize, u64>,
) -> Result<()> {
    match &component.strategy {
        LoadStrategy::SingleStatement => {
            insert_in_one_statement(txn, catalog, component, loads, inserted)
        }
        strategy => {
            let broken: &[(usize, BreakMethod)] = match strategy {
                LoadStrategy::Ordered { broken } => broken,
                _ => &[],
            };
            defer(txn, catalog, broken)?;
            let nulled = graph::nulled_columns(catalog, broken);
            for &t in &component.tables {
                let load = &loads[&t];
                let empty = Vec::new();
                let columns = nulled.get(&t).unwrap_or(&empty);
                let count = txn
                    .execute(load.insert(columns).as_str(), &[])
                    .map_err(|e| constraint_violation(e, &load.target.name.to_string()))
                    .with_context(|| format!("inserting into {}", load.target.name))?;
                inserted.insert(t, count);
            }
            restore_nulled(txn, loads, &nulled)
        }
    }
}

/// Whether a component's rows go in with one statement and nothing around it (no key to defer
/// or column to null): one table, no cycle through another. Such inserts can share a round
/// trip ([`insert_plain`]).
pub(super) fn is_plain(component: &graph::Component) -> bool {
    matches!(
        component.strategy,
        LoadStrategy::Plain | LoadStrategy::SelfReferencing
    ) && component.tables.len() == 1
}

/// The staged new rows of plain components' tables ([`is_plain`]), in order, as one
/// simple-protocol message: one round trip instead of two per table. A refusal is reported
/// as a constraint violation of the table the server names (else of every table sent).
pub(super) fn insert_plain(
    txn: &mut Transaction<'_>,
    tables: &[usize],
    loads: &HashMap<usize, LoadTable>,
    inserted: &mut HashMap<usize, u64>,
) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let sql: Vec<String> = tables.iter().map(|t| loads[t].insert(&[])).collect();
    let names = || {
        tables
            .iter()
            .map(|t| loads[t].target.name.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let messages = txn.simple_query(&sql.join(";\n")).map_err(|e| {
        // The table the server names, qualified as the snapshot names it.
        let named = e.as_db_error().and_then(|db| {
            tables.iter().find(|t| {
                let name = &loads[t].target.name;
                db.table() == Some(name.name.as_str())
                    && db.schema().is_none_or(|s| s == name.schema)
            })
        });
        let table = named.map_or_else(names, |t| loads[t].target.name.to_string());
        constraint_violation(e, &table)
    })?;
    let counts: Vec<u64> = messages
        .iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    anyhow::ensure!(
        counts.len() == tables.len(),
        "inserting into {}: {} results for {} statements",
        names(),
        counts.len(),
        tables.len()
    );
    for (&t, count) in tables.iter().zip(counts) {
        inserted.insert(t, count);
    }
    Ok(())
}

/// A cycle whose keys cannot be deferred or nulled: every table's insert in one statement, so
/// the keys are checked only at its end.
fn insert_in_one_statement(
    txn: &mut Transaction<'_>,
    catalog: &Catalog,
    component: &graph::Component,
    loads: &HashMap<usize, LoadTable>,
    inserted: &mut HashMap<usize, u64>,
) -> Result<()> {
    let names = || {
        component
            .tables
            .iter()
            .map(|&t| catalog.tables[t].name.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let parts: Vec<String> = component
        .tables
        .iter()
        .enumerate()
        .map(|(i, &t)| format!("i{i} AS ({} RETURNING 1)", loads[&t].insert(&[])))
        .collect();
    let counts: Vec<String> = (0..component.tables.len())
        .map(|i| format!("(SELECT pg_catalog.count(*) FROM i{i})::pg_catalog.int8"))
        .collect();
    let sql = format!("WITH {} SELECT {}", parts.join(", "), counts.join(", "));
    let row = txn
        .query_one(sql.as_str(), &[])
        .map_err(|e| constraint_violation(e, &names()))
        .with_context(|| format!("inserting the cycle {} in one statement", names()))?;
    for (i, &t) in component.tables.iter().enumerate() {
        inserted.insert(t, row.get::<_, i64>(i) as u64);
    }
    Ok(())
}

/// `SET CONSTRAINTS … DEFERRED` for every broken key that is deferred.
fn defer(
    txn: &mut Transaction<'_>,
    catalog: &Catalog,
    broken: &[(usize, BreakMethod)],
) -> Result<()> {
    for &(fk, method) in broken {
        if method == BreakMethod::Defer {
            let key = &catalog.foreign_keys[fk];
            let constraint = key.constraint().expect("only a declared key is deferrable");
            txn.batch_execute(&format!(
                "SET CONSTRAINTS {}.{} DEFERRED",
                quote_ident(&constraint.schema),
                quote_ident(&key.name)
            ))?;
        }
    }
    Ok(())
}

/// Sets the nulled columns from the staged rows, once every table of the cycle holds its rows.
fn restore_nulled(
    txn: &mut Transaction<'_>,
    loads: &HashMap<usize, LoadTable>,
    nulled: &HashMap<usize, Vec<String>>,
) -> Result<()> {
    for (&t, columns) in nulled {
        let load = &loads[&t];
        let sql = load.restore(columns).context("a nulled table has a key")?;
        txn.execute(sql.as_str(), &[])
            .map_err(|e| constraint_violation(e, &load.target.name.to_string()))
            .with_context(|| {
                format!(
                    "setting the cycle columns {} of {}",
                    columns.join(", "),
                    load.target.name
                )
            })?;
    }
    Ok(())
}

/// Checks the deferred foreign keys now, so a violation is reported as the snapshot's.
pub(super) fn check_deferred(txn: &mut Transaction<'_>) -> Result<()> {
    txn.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
        .map_err(|e| constraint_violation(e, "the snapshot's tables"))
        .context("checking deferred constraints (foreign keys, unique keys)")?;
    Ok(())
}
