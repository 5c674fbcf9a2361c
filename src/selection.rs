//! Which rows go into a snapshot.
//!
//! Two phases, both inside the export's read-only snapshot transaction:
//!
//! 1. **Sample**, table by table in load order (parents first): read the first rows by key
//!    (twice the limit when the table has parents to agree with) and keep up to the limit,
//!    preferring rows whose foreign keys point at parent rows already chosen (or are NULL), then
//!    filling up with the next rows by key.
//! 2. **Backfill**, in rounds until nothing is missing: every foreign-key value of a chosen row
//!    whose parent row is not chosen yet is looked up, one query per foreign key per round with
//!    all the missing keys as one typed array (so the parent's unique index serves it), and the
//!    rows found are chosen too — which may need parents of their own. A self-referencing chain
//!    500 deep takes 500 rounds of one small indexed query each.
//!
//! Rows are remembered by `(tableoid, ctid)`, which is stable inside one snapshot and lets the
//! final COPY fetch exactly them with a TID scan; the key values a foreign key needs are kept as
//! text. Nothing is written to the source: no temporary tables, so a hot standby works too.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use postgres::GenericClient;
use serde::Serialize;

use crate::catalog::{quote_ident, Catalog, ForeignKey, RowKey, Table};
use crate::error::{failure, ExitKind};
use crate::graph::Component;

/// A row's physical address inside the snapshot: its (leaf) table and tuple id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowId {
    pub relation: u32,
    pub block: u32,
    pub offset: u16,
}

impl RowId {
    fn parse(relation: i64, ctid: &str) -> Option<RowId> {
        let (block, offset) = ctid.strip_prefix('(')?.strip_suffix(')')?.split_once(',')?;
        Some(RowId {
            relation: relation as u32,
            block: block.parse().ok()?,
            offset: offset.parse().ok()?,
        })
    }

    pub fn ctid_literal(&self) -> String {
        format!("({},{})", self.block, self.offset)
    }
}

/// Per-table limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `None`: every row.
    pub default: Option<u64>,
    pub per_table: HashMap<usize, Option<u64>>,
}

impl Limits {
    pub fn of(&self, table: usize) -> Option<u64> {
        self.per_table.get(&table).copied().unwrap_or(self.default)
    }
}

/// What was chosen for one table.
#[derive(Debug, Default, Clone)]
pub struct TableSelection {
    pub rows: Vec<RowId>,
    pub sampled: u64,
    pub backfilled: u64,
    pub sample_time: Duration,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct SelectionStats {
    pub backfill_rounds: u64,
    pub backfill_queries: u64,
    pub sample_ms: f64,
    pub backfill_ms: f64,
    /// Foreign-key values whose parent row does not exist in the source (NOT VALID keys).
    pub unresolved: Vec<String>,
}

pub struct Selection {
    pub tables: Vec<TableSelection>,
    pub stats: SelectionStats,
}

/// Choose `limit` rows out of a window ordered by key: preferred ones first, in key order, then
/// the others in key order. Returns the window positions taken, in key order.
pub fn pick_sample(preferred: &[bool], limit: usize) -> Vec<usize> {
    let mut taken: Vec<usize> = (0..preferred.len())
        .filter(|&i| preferred[i])
        .take(limit)
        .collect();
    if taken.len() < limit {
        let room = limit - taken.len();
        taken.extend((0..preferred.len()).filter(|&i| !preferred[i]).take(room));
        taken.sort_unstable();
    }
    taken
}

type Tuple = Vec<String>;

struct TableState {
    /// Column names whose values foreign keys need (outgoing keys and referenced keys).
    tracked: Vec<String>,
    rows: HashSet<RowId>,
    selection: TableSelection,
}

struct KeyState {
    /// Positions of the child's columns in the child's tracked list.
    child_positions: Vec<usize>,
    /// Positions of the referenced columns in the parent's tracked list.
    parent_positions: Vec<usize>,
    /// Referenced-column tuples of the chosen parent rows.
    present: HashSet<Tuple>,
    /// Tuples already asked for.
    requested: HashSet<Tuple>,
    pending: Vec<Tuple>,
}

struct Selector<'a> {
    catalog: &'a Catalog,
    tables: Vec<TableState>,
    keys: Vec<KeyState>,
}

/// Runs both phases. `plan` gives the load order; `progress` is told about each sampled table.
pub fn select(
    client: &mut impl GenericClient,
    catalog: &Catalog,
    plan: &[Component],
    limits: &Limits,
    mut progress: impl FnMut(&str),
) -> Result<Selection> {
    let mut selector = Selector::new(catalog);
    let mut stats = SelectionStats::default();

    let started = Instant::now();
    let mut sampled_before = vec![false; catalog.tables.len()];
    for component in plan {
        for &table in &component.tables {
            let t0 = Instant::now();
            selector
                .sample(client, table, limits.of(table), &sampled_before)
                .with_context(|| format!("sampling {}", catalog.tables[table].name))?;
            selector.tables[table].selection.sample_time = t0.elapsed();
            progress(&format!(
                "sampled {} ({} rows)",
                catalog.tables[table].name, selector.tables[table].selection.sampled
            ));
        }
        for &table in &component.tables {
            sampled_before[table] = true;
        }
    }
    stats.sample_ms = started.elapsed().as_secs_f64() * 1e3;

    let started = Instant::now();
    loop {
        let work = selector.take_pending();
        if work.is_empty() {
            break;
        }
        stats.backfill_rounds += 1;
        for (fk, tuples) in work {
            for chunk in tuples.chunks(50_000) {
                stats.backfill_queries += 1;
                selector.backfill(client, fk, chunk).with_context(|| {
                    let key = &catalog.foreign_keys[fk];
                    format!(
                        "looking up rows of {} referenced by {} ({})",
                        catalog.tables[key.parent].name, catalog.tables[key.child].name, key.name
                    )
                })?;
            }
        }
        if stats.backfill_rounds % 100 == 0 {
            progress(&format!("backfill round {}", stats.backfill_rounds));
        }
    }
    stats.backfill_ms = started.elapsed().as_secs_f64() * 1e3;

    for (i, key) in selector.keys.iter().enumerate() {
        let missing = key.requested.difference(&key.present).count();
        if missing > 0 {
            let fk = &catalog.foreign_keys[i];
            let text = format!(
                "{} rows' values of {}({}) have no row in {} ({}{})",
                missing,
                catalog.tables[fk.child].name,
                fk.columns.join(", "),
                catalog.tables[fk.parent].name,
                fk.name,
                if fk.validated {
                    ""
                } else {
                    ", a NOT VALID constraint"
                }
            );
            if fk.validated {
                return Err(failure(
                    ExitKind::VerificationFailed,
                    format!("foreign key values could not be resolved: {text}"),
                ));
            }
            stats.unresolved.push(text);
        }
    }

    let tables = selector
        .tables
        .into_iter()
        .map(|mut state| {
            state.selection.rows = state.rows.into_iter().collect();
            state.selection.rows.sort_unstable();
            state.selection
        })
        .collect();
    Ok(Selection { tables, stats })
}

impl<'a> Selector<'a> {
    fn new(catalog: &'a Catalog) -> Self {
        let mut tracked: Vec<Vec<String>> = vec![Vec::new(); catalog.tables.len()];
        for fk in &catalog.foreign_keys {
            tracked[fk.child].extend(fk.columns.iter().cloned());
            tracked[fk.parent].extend(fk.parent_columns.iter().cloned());
        }
        for (table, names) in tracked.iter_mut().enumerate() {
            let order: Vec<&str> = catalog.tables[table]
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            names.sort_by_key(|n| order.iter().position(|o| o == n));
            names.dedup();
        }
        let position = |names: &[String], wanted: &[String]| -> Vec<usize> {
            wanted
                .iter()
                .map(|w| names.iter().position(|n| n == w).expect("tracked"))
                .collect()
        };
        let keys = catalog
            .foreign_keys
            .iter()
            .map(|fk| KeyState {
                child_positions: position(&tracked[fk.child], &fk.columns),
                parent_positions: position(&tracked[fk.parent], &fk.parent_columns),
                present: HashSet::new(),
                requested: HashSet::new(),
                pending: Vec::new(),
            })
            .collect();
        let tables = tracked
            .into_iter()
            .map(|tracked| TableState {
                tracked,
                rows: HashSet::new(),
                selection: TableSelection::default(),
            })
            .collect();
        Selector {
            catalog,
            tables,
            keys,
        }
    }

    /// `SELECT tableoid, ctid, <tracked columns as text> FROM <table>`.
    fn select_list(&self, table: usize) -> String {
        let mut list = String::from("SELECT t.tableoid::pg_catalog.int8, t.ctid::pg_catalog.text");
        for name in &self.tables[table].tracked {
            list.push_str(&format!(", t.{}::pg_catalog.text", quote_ident(name)));
        }
        list.push_str(&format!(
            " FROM {} AS t",
            self.catalog.tables[table].from_clause()
        ));
        list
    }

    fn sample(
        &mut self,
        client: &mut impl GenericClient,
        table: usize,
        limit: Option<u64>,
        sampled_before: &[bool],
    ) -> Result<()> {
        let catalog: &'a Catalog = self.catalog;
        let info = &catalog.tables[table];
        // Keys to earlier-sampled parents are the ones a preference can be checked against.
        let preferring: Vec<usize> = catalog
            .outgoing(table)
            .filter(|(_, fk)| sampled_before[fk.parent])
            .map(|(i, _)| i)
            .collect();
        let window = match limit {
            Some(limit) if preferring.is_empty() => Some(limit),
            Some(limit) => Some(limit.saturating_mul(2)),
            None => None,
        };
        let parsed = match (info.row_key(), window) {
            // No key: ordering by every column would sort the whole table. Take the first rows
            // in physical order instead, reading only the first pages (TID range scans).
            (RowKey::AllColumns, Some(window)) => self.first_rows_by_page(client, table, window)?,
            _ => {
                let mut sql = self.select_list(table);
                sql.push_str(&format!(" ORDER BY {}", order_by(info, "t.")));
                if let Some(window) = window {
                    sql.push_str(&format!(" LIMIT {window}"));
                }
                let rows = client
                    .query(sql.as_str(), &[])
                    .map_err(|e| explain_read_error(e, info))?;
                rows.iter()
                    .map(|row| parse_row(row, self.tables[table].tracked.len()))
                    .collect::<Result<_>>()?
            }
        };
        let preferred: Vec<bool> = parsed
            .iter()
            .map(|(_, values)| {
                preferring.iter().all(|&fk| {
                    let key = &self.keys[fk];
                    let tuple: Vec<Option<String>> = key
                        .child_positions
                        .iter()
                        .map(|&p| values[p].clone())
                        .collect();
                    if !self.catalog.foreign_keys[fk].needs_parent(&tuple) {
                        return true;
                    }
                    let tuple: Option<Tuple> = tuple.into_iter().collect();
                    tuple.is_some_and(|t| key.present.contains(&t))
                })
            })
            .collect();
        let take = limit.map_or(parsed.len(), |l| l as usize);
        let picked = pick_sample(&preferred, take);
        let mut parsed: Vec<Option<(RowId, Vec<Option<String>>)>> =
            parsed.into_iter().map(Some).collect();
        for i in picked {
            let (id, values) = parsed[i].take().expect("picked once");
            if self.add_row(table, id, values) {
                self.tables[table].selection.sampled += 1;
            }
        }
        Ok(())
    }

    /// At least `window` rows (all of them in a smaller table) in physical order: pages 0..1,
    /// then 1..2, 2..4, 4..8 … until enough rows are read, each range a TID range scan; the
    /// first `window` by `(relation, ctid)` are kept. Deterministic for an unchanged source.
    fn first_rows_by_page(
        &self,
        client: &mut impl GenericClient,
        table: usize,
        window: u64,
    ) -> Result<Vec<(RowId, Vec<Option<String>>)>> {
        let info = &self.catalog.tables[table];
        let pages: i64 = client
            .query_one(
                "SELECT coalesce(max(pg_catalog.pg_relation_size(r.relid)), 0)::int8
                        / pg_catalog.current_setting('block_size')::int8
                   FROM (SELECT $1::pg_catalog.int8::pg_catalog.oid AS relid
                          UNION ALL
                         SELECT relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.int8::pg_catalog.oid)
                          WHERE isleaf) AS r",
                &[&(info.oid as i64)],
            )
            .map_err(|e| explain_read_error(e, info))?
            .get(0);
        let mut rows = Vec::new();
        let (mut start, mut end) = (0i64, 1i64);
        while (rows.len() as u64) < window && start <= pages {
            let mut sql = self.select_list(table);
            sql.push_str(&format!(
                " WHERE t.ctid >= '({start},0)'::pg_catalog.tid AND t.ctid < '({end},0)'::pg_catalog.tid"
            ));
            let found = client
                .query(sql.as_str(), &[])
                .map_err(|e| explain_read_error(e, info))?;
            for row in &found {
                rows.push(parse_row(row, self.tables[table].tracked.len())?);
            }
            start = end;
            end *= 2;
        }
        rows.sort_by_key(|(id, _)| *id);
        rows.truncate(window as usize);
        Ok(rows)
    }

    /// Records a chosen row; false when it was chosen already.
    fn add_row(&mut self, table: usize, id: RowId, values: Vec<Option<String>>) -> bool {
        if !self.tables[table].rows.insert(id) {
            return false;
        }
        let catalog: &'a Catalog = self.catalog;
        for (i, fk) in catalog.foreign_keys.iter().enumerate() {
            if fk.parent == table {
                let key = &mut self.keys[i];
                let tuple: Option<Tuple> = key
                    .parent_positions
                    .iter()
                    .map(|&p| values[p].clone())
                    .collect();
                if let Some(tuple) = tuple {
                    key.present.insert(tuple);
                }
            }
        }
        for (i, fk) in catalog.foreign_keys.iter().enumerate() {
            if fk.child == table {
                let key = &mut self.keys[i];
                let tuple: Vec<Option<String>> = key
                    .child_positions
                    .iter()
                    .map(|&p| values[p].clone())
                    .collect();
                if !fk.needs_parent(&tuple) {
                    continue;
                }
                // MATCH FULL with a partly NULL tuple cannot exist in a valid database.
                let Some(tuple) = tuple.into_iter().collect::<Option<Tuple>>() else {
                    continue;
                };
                if !key.present.contains(&tuple) && key.requested.insert(tuple.clone()) {
                    key.pending.push(tuple);
                }
            }
        }
        true
    }

    /// Drains what is still missing, per foreign key, in foreign-key order.
    fn take_pending(&mut self) -> Vec<(usize, Vec<Tuple>)> {
        let mut work = Vec::new();
        for (i, key) in self.keys.iter_mut().enumerate() {
            let mut pending = std::mem::take(&mut key.pending);
            pending.retain(|t| !key.present.contains(t));
            if !pending.is_empty() {
                work.push((i, pending));
            }
        }
        work
    }

    fn backfill(
        &mut self,
        client: &mut impl GenericClient,
        fk: usize,
        tuples: &[Tuple],
    ) -> Result<()> {
        let catalog: &'a Catalog = self.catalog;
        let key: &ForeignKey = &catalog.foreign_keys[fk];
        let parent = key.parent;
        let info = &catalog.tables[parent];
        let types: Vec<&str> = key
            .parent_columns
            .iter()
            .map(|c| {
                info.column(c)
                    .map(|c| c.base_type.as_str())
                    .unwrap_or("pg_catalog.text")
            })
            .collect();
        let condition = if key.parent_columns.len() == 1 {
            format!(
                "WHERE t.{} = ANY ($1::pg_catalog.text[]::{}[])",
                quote_ident(&key.parent_columns[0]),
                types[0]
            )
        } else {
            let columns: Vec<String> = key
                .parent_columns
                .iter()
                .map(|c| format!("t.{}", quote_ident(c)))
                .collect();
            let casts: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, ty)| format!("k.c{i}::{ty}"))
                .collect();
            let params: Vec<String> = (1..=types.len())
                .map(|i| format!("${i}::pg_catalog.text[]"))
                .collect();
            let aliases: Vec<String> = (0..types.len()).map(|i| format!("c{i}")).collect();
            format!(
                "WHERE ({}) IN (SELECT {} FROM unnest({}) AS k({}))",
                columns.join(", "),
                casts.join(", "),
                params.join(", "),
                aliases.join(", ")
            )
        };
        let mut sql = format!("{} {condition}", self.select_list(parent));
        if key.child == key.parent {
            // A self-reference: fetch the whole chain of ancestors in one recursive query
            // instead of one round per generation.
            let tracked = &self.tables[parent].tracked;
            let mut outputs = vec![
                "t.tableoid::pg_catalog.int8 AS r".to_string(),
                "t.ctid::pg_catalog.text AS c".to_string(),
            ];
            outputs.extend(
                tracked
                    .iter()
                    .enumerate()
                    .map(|(i, name)| format!("t.{}::pg_catalog.text AS v{i}", quote_ident(name))),
            );
            let step: Vec<String> = key
                .parent_columns
                .iter()
                .zip(&self.keys[fk].child_positions)
                .zip(&types)
                .map(|((parent_column, &child_position), ty)| {
                    format!(
                        "t.{} = chain.v{child_position}::{ty}",
                        quote_ident(parent_column)
                    )
                })
                .collect();
            sql = format!(
                "WITH RECURSIVE chain AS (SELECT {outputs} FROM {from} AS t {condition} \
                 UNION SELECT {outputs} FROM {from} AS t JOIN chain ON {step}) \
                 SELECT * FROM chain",
                outputs = outputs.join(", "),
                from = info.from_clause(),
                step = step.join(" AND "),
            );
        }
        let columns: Vec<Vec<&str>> = (0..key.parent_columns.len())
            .map(|i| tuples.iter().map(|t| t[i].as_str()).collect())
            .collect();
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = columns
            .iter()
            .map(|c| c as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let rows = client
            .query(sql.as_str(), &params)
            .map_err(|e| explain_read_error(e, info))?;
        for row in &rows {
            let (id, values) = parse_row(row, self.tables[parent].tracked.len())?;
            if self.add_row(parent, id, values) {
                self.tables[parent].selection.backfilled += 1;
            }
        }
        Ok(())
    }
}

fn parse_row(row: &postgres::Row, tracked: usize) -> Result<(RowId, Vec<Option<String>>)> {
    let relation: i64 = row.get(0);
    let ctid: String = row.get(1);
    let id = RowId::parse(relation, &ctid).with_context(|| format!("unexpected ctid {ctid}"))?;
    let values = (0..tracked)
        .map(|i| row.get::<_, Option<String>>(i + 2))
        .collect();
    Ok((id, values))
}

/// `ORDER BY` for a table's rows: its key, or for a table without one all its columns as text
/// in byte order (which works for every type, even those with no ordering).
pub fn order_by(table: &Table, prefix: &str) -> String {
    match table.row_key() {
        RowKey::Primary(columns) | RowKey::Unique(columns) => columns
            .iter()
            .map(|c| format!("{prefix}{}", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(", "),
        RowKey::AllColumns => {
            let columns: Vec<String> = table
                .stored_columns()
                .map(|c| format!("{prefix}{}", quote_ident(&c.name)))
                .collect();
            format!("ROW({})::pg_catalog.text COLLATE \"C\"", columns.join(", "))
        }
    }
}

/// Turns a row-level-security refusal into advice; other errors pass through.
pub fn explain_read_error(error: postgres::Error, table: &Table) -> anyhow::Error {
    if let Some(db) = error.as_db_error() {
        if db.code().code() == "42501" && db.message().contains("row-level security") {
            return failure(
                ExitKind::BadInput,
                format!(
                    "row-level security would hide rows of {} from this role, so the export stops \
                     rather than silently export fewer rows. Export as the table's owner or a \
                     role with BYPASSRLS, or leave the table out with --exclude {}.",
                    table.name, table.name
                ),
            );
        }
        if db.code().code() == "42501" {
            return failure(
                ExitKind::BadInput,
                format!(
                    "permission denied reading {}: the role needs USAGE on schema {} and SELECT \
                     on the table ({})",
                    table.name,
                    table.name.schema,
                    db.message()
                ),
            );
        }
    }
    anyhow::Error::new(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_rows_first_then_fill_in_key_order() {
        let preferred = [false, true, false, true, true];
        assert_eq!(pick_sample(&preferred, 2), vec![1, 3]);
        assert_eq!(pick_sample(&preferred, 4), vec![0, 1, 3, 4]);
        assert_eq!(pick_sample(&preferred, 9), vec![0, 1, 2, 3, 4]);
        assert_eq!(pick_sample(&[false, false], 1), vec![0]);
        assert_eq!(pick_sample(&[], 3), Vec::<usize>::new());
    }

    #[test]
    fn row_ids_parse_and_print() {
        let id = RowId::parse(16384, "(12,7)").unwrap();
        assert_eq!((id.relation, id.block, id.offset), (16384, 12, 7));
        assert_eq!(id.ctid_literal(), "(12,7)");
        assert!(RowId::parse(1, "12,7").is_none());
    }
}
