//! Drift: rows the target already holds under a snapshot row's key, with other content.
//!
//! A committed snapshot outlives the demo data it was taken from: the demo changes, a teammate
//! re-exports, and the test database still holds the rows the previous snapshot brought. What
//! an import does with such rows is `--on-drift`:
//! - `update` (the default): the target's row is brought back to the snapshot's values, and the
//!   row is listed in the report (table, key, columns changed), so re-seeding converges;
//! - `keep`: the target's row stays as it is (`INSERT … ON CONFLICT DO NOTHING` semantics);
//! - `fail`: the import is rolled back and fails verification (exit code 5).
//!
//! Rows are matched by the table's identity key (the primary key, or a unique key whose
//! columns are all NOT NULL), with the key type's own equality, and compared on their other
//! columns only: the key columns of a matched row are equal by that equality even where they
//! print otherwise (`1.5` and `1.50` of a `numeric`, `citext`, a nondeterministic collation),
//! and a repair does not rewrite them; the verification after the load compares the same
//! columns (`LoadTable::content_columns`). A table without an identity key cannot drift: its
//! rows are compared whole, so a changed row is simply a row the target does not have yet. Rows of the target that no
//! snapshot row matches (added by tests or people) are never touched here.
//!
//! With `update`, a table whose repair could matter to other rows — one with a unique key
//! besides the one its rows are matched by, or a `GENERATED ALWAYS` identity column
//! ([`repaired_first`]), or any other unique index (partial, on an expression, or a
//! partition's own: read in the server's catalog, [`count_sql`]) — is repaired before its new
//! rows go in, with the deferrable keys deferred: [`find`] counts its drifted
//! rows once the staged rows are compared with the target, before anything is written, and
//! the insert phase [`repair`]s them just before the table's new rows, tables in dependency
//! order (parents first), so that a new row finds the value a repair restores (a foreign key
//! to a unique column) and no longer collides with a unique value a drifted row held (the
//! caller compares the table's staged rows with the target again after the repair). In a
//! cycle, or a table that references itself, a repaired row may need a new row of the same
//! component instead: the repair is tried first under a savepoint; when it breaks a key, the
//! rows whose snapshot values reference a new row of the component ([`needs_new_row`]) are
//! left for after the component's rows and the others repaired before them, and when even
//! that breaks a key, every repair of the component waits for its rows. The other tables' drifted rows — their repair
//! changes no value another row can reference or collide with — are repaired after the
//! insert, found by the verification's counts at no extra cost, parents first. Repairs run
//! only with the per-row foreign-key checks: the faster checks of `fast_path.rs` and
//! `re_added_keys.rs` apply only when every loaded table was empty, where nothing can drift.
//! Two drifts cannot be brought back, and fail the import (verification failed), which rolls
//! back:
//! - a `GENERATED ALWAYS` identity column that is not the key: an UPDATE may set it only to
//!   DEFAULT (PostgreSQL has no `OVERRIDING SYSTEM VALUE` for UPDATE), and deleting and
//!   inserting the row again, or altering the column, would reach beyond the snapshot's rows;
//!   [`find`] fails on it before the first write;
//! - a repair that changes a value which rows the snapshot does not hold reference through an
//!   `ON UPDATE CASCADE`, `SET NULL` or `SET DEFAULT` key (read from the server's catalog, every
//!   schema, `referencing_keys.sql`; a key to a partition of the table counts), directly or
//!   through rows of the snapshot that such a key rewrites first: the update would rewrite
//!   those rows too. Chains are followed to their end, each key once: a chain that comes
//!   back to a key it followed and reaches rows there that it did not reach the first time
//!   fails too (where it ends cannot be told that way). Rows of the snapshot the cascade
//!   reaches are brought to the snapshot's values anyway. Key values are compared with the
//!   key's own equality (`statements::equal`), whatever the role's search_path.
//!
//! A repair that a `NO ACTION` or `RESTRICT` key refuses (not deferrable, and rows still
//! reference the old value: rows outside the snapshot, or a drifted child brought back only
//! later by its own UPDATE) fails as the target's constraint (exit code 4), naming the key and
//! the referencing rows, and what to do; each repair runs under a savepoint of its own so that
//! those rows can be read.

use anyhow::{Context, Result};
use postgres::Transaction;
use serde::Serialize;

use super::statements::{equal, LoadTable, NEW_FLAG};
use crate::catalog::{quote_ident, quote_literal, Identity};
use crate::error::{failure, ExitKind};

/// What to do with rows of the target that hold other content under a snapshot row's key.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OnDrift {
    /// Bring the target's row back to the snapshot's values, and list it in the report.
    #[default]
    Update,
    /// Keep the target's row as it is (ON CONFLICT DO NOTHING).
    Keep,
    /// Fail verification and roll back.
    Fail,
}

/// One row brought back to the snapshot's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftedRow {
    pub table: String,
    /// The identity key's columns and this row's values for them, as text.
    pub key_columns: Vec<String>,
    pub key: Vec<Option<String>>,
    /// The columns whose values differed.
    pub columns: Vec<String>,
}

impl DriftedRow {
    /// `app.tags (id)=(1): label, color`.
    pub fn describe(&self) -> String {
        let values: Vec<&str> = self
            .key
            .iter()
            .map(|v| v.as_deref().unwrap_or("NULL"))
            .collect();
        format!(
            "{} ({})=({}): {}",
            self.table,
            self.key_columns.join(", "),
            values.join(", "),
            self.columns.join(", ")
        )
    }
}

fn text_of(prefix: &str, column: &str) -> String {
    format!("({prefix}.{})::pg_catalog.text", quote_ident(column))
}

fn row_of(prefix: &str, columns: &[String]) -> String {
    let list: Vec<String> = columns
        .iter()
        .map(|c| format!("{prefix}.{}", quote_ident(c)))
        .collect();
    format!("ROW({})::pg_catalog.text", list.join(", "))
}

/// The columns compared: the snapshot's, minus the identity key `key`, which the row was
/// matched by (see [`LoadTable::content_columns`]): its columns are equal by the key's own
/// equality however they print, and a repair does not rewrite them.
fn compared(load: &LoadTable<'_>, key: &[String]) -> Vec<String> {
    debug_assert_eq!(load.identity_key.as_deref(), Some(key));
    load.content_columns()
}

/// Whether `column` is a `GENERATED ALWAYS` identity column, which an UPDATE may set only to
/// DEFAULT (PostgreSQL has no `OVERRIDING SYSTEM VALUE` for UPDATE).
fn always_identity(load: &LoadTable<'_>, column: &str) -> bool {
    load.target
        .column(column)
        .is_some_and(|col| col.identity == Some(Identity::Always))
}

/// The columns an update may set: the compared ones but `GENERATED ALWAYS` identity columns.
fn settable(load: &LoadTable<'_>, key: &[String]) -> Vec<String> {
    compared(load, key)
        .into_iter()
        .filter(|c| !always_identity(load, c))
        .collect()
}

/// The staged rows (not new) whose target row under the same key holds other content in
/// `columns`, as `FROM … WHERE …`.
fn drifted_rows(load: &LoadTable<'_>, key: &[String], columns: &[String]) -> String {
    format!(
        "FROM {stage} AS s JOIN {target} AS t ON {matches}
          WHERE NOT s.{NEW_FLAG} AND {t_row} IS DISTINCT FROM {s_row}",
        stage = load.stage,
        target = load.target.from_clause(),
        matches = load.key_match(key, "t", "s"),
        t_row = row_of("t", columns),
        s_row = row_of("s", columns),
    )
}

/// Whether a table's drifted rows are repaired before its new rows are inserted: when it has
/// a unique key besides the one its rows are matched by (a repair may restore a value a new
/// row references, or free a value a new row brings), or a `GENERATED ALWAYS` identity column
/// besides the key (which cannot be repaired: found before anything is written). The others
/// are repaired after the insert, where finding their drift costs nothing more: their repair
/// changes no value another row can need or collide with — unless the table has a unique
/// index the catalog read does not take as a key, which [`find`] asks the server about.
pub fn repaired_first(load: &LoadTable<'_>) -> bool {
    let Some(key) = load.identity_key.as_ref() else {
        return false;
    };
    load.unique_keys.iter().any(|k| k != key)
        || compared(load, key).iter().any(|c| always_identity(load, c))
}

const OTHER_UNIQUE_INDEXES_SQL: &str = include_str!("../catalog/other_unique_indexes.sql");

/// Counts the drifted rows of a staged table (every column but the key compared), for the
/// tables [`repaired_first`] and those with `other_unique_index` (a unique index the catalog
/// read does not use as a key: partial, on an expression, or a partition's own; see
/// `other_unique_indexes`), which a repair may free or restore a value of just as well.
pub fn count_sql(load: &LoadTable<'_>, other_unique_index: bool) -> Option<String> {
    let key = load.identity_key.as_ref()?;
    if !repaired_first(load) && !other_unique_index {
        return None;
    }
    let columns = compared(load, key);
    if columns.is_empty() {
        return None;
    }
    Some(format!(
        "SELECT pg_catalog.count(*)::pg_catalog.int8 {}",
        drifted_rows(load, key, &columns)
    ))
}

/// The oids of the given staged tables, not [`repaired_first`], that have a unique index the
/// catalog read does not use as a key (`other_unique_indexes.sql`): one query, only when
/// there are such tables to ask about.
fn other_unique_indexes(
    txn: &mut Transaction<'_>,
    tables: &[(usize, &LoadTable<'_>)],
) -> Result<Vec<u32>> {
    let (oids, known): (Vec<i64>, Vec<i64>) = tables
        .iter()
        .filter(|(_, load)| load.identity_key.is_some() && !repaired_first(load))
        .map(|(_, load)| (load.target.oid as i64, load.target.unique_keys.len() as i64))
        .unzip();
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(txn
        .query(OTHER_UNIQUE_INDEXES_SQL, &[&oids, &known])
        .context("reading the unique indexes of the snapshot's tables")?
        .iter()
        .map(|row| row.get::<_, i64>(0) as u32)
        .collect())
}

/// ` AND NOT (condition)`: the staged rows `s` a repair leaves for later.
fn but(postponed: Option<&str>) -> String {
    postponed.map_or_else(String::new, |c| format!(" AND NOT ({c})"))
}

/// Lists the drifted rows of a staged table: key values and the names of the columns that
/// differ (every column but the key), but those meeting `postponed` (a condition on the staged
/// row `s`). Values are compared as text, like the verification does.
pub fn list_sql(load: &LoadTable<'_>, postponed: Option<&str>) -> Option<String> {
    let key = load.identity_key.as_ref()?;
    let columns = compared(load, key);
    if columns.is_empty() {
        return None;
    }
    let keys: Vec<String> = key.iter().map(|c| text_of("s", c)).collect();
    let changed: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "CASE WHEN {} IS DISTINCT FROM {} THEN {} END",
                text_of("t", c),
                text_of("s", c),
                quote_literal(c)
            )
        })
        .collect();
    Some(format!(
        "SELECT ARRAY[{keys}], pg_catalog.array_remove(ARRAY[{changed}]::pg_catalog.text[], NULL)
           {rows}{but}
          ORDER BY {order}",
        keys = keys.join(", "),
        changed = changed.join(", "),
        rows = drifted_rows(load, key, &columns),
        but = but(postponed),
        order = key
            .iter()
            .map(|c| format!("s.{}", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

/// Sets the drifted rows of the target to the staged values, but those meeting `postponed`:
/// the rows of the relation [`list_sql`] reads (`ONLY` a plain table, whose inheritance
/// children's rows are theirs, not the snapshot's).
pub fn update_sql(load: &LoadTable<'_>, postponed: Option<&str>) -> Option<String> {
    let key = load.identity_key.as_ref()?;
    let columns = settable(load, key);
    if columns.is_empty() {
        return None;
    }
    let sets: Vec<String> = columns
        .iter()
        .map(|c| format!("{q} = s.{q}", q = quote_ident(c)))
        .collect();
    Some(format!(
        "UPDATE {target} AS t SET {sets} FROM {stage} AS s
          WHERE NOT s.{NEW_FLAG} AND {matches} AND {t_row} IS DISTINCT FROM {s_row}{but}",
        // The rows [`list_sql`] reads: not an inheritance child's rows under the same key.
        target = load.target.from_clause(),
        sets = sets.join(", "),
        but = but(postponed),
        stage = load.stage,
        matches = load.key_match(key, "t", "s"),
        t_row = row_of("t", &columns),
        s_row = row_of("s", &columns),
    ))
}

/// Runs `classify` (the statements that mark the staged rows new to the target) and tells
/// which of the given staged tables (`(index, table)`) hold drifted rows: one count each, in
/// the same round trip, before anything is written. A drifted `GENERATED ALWAYS` identity
/// column fails here (naming the rows), so that the import stops before its first write.
pub fn find<'a>(
    txn: &mut Transaction<'_>,
    classify: &str,
    tables: &[(usize, &'a LoadTable<'a>)],
) -> Result<Vec<usize>> {
    let other = other_unique_indexes(txn, tables)?;
    let counted: Vec<(usize, &LoadTable<'_>, String)> = tables
        .iter()
        .filter_map(|&(t, load)| {
            count_sql(load, other.contains(&load.target.oid)).map(|sql| (t, load, sql))
        })
        .collect();
    let mut sql: Vec<&str> = vec![classify];
    sql.extend(counted.iter().map(|(_, _, sql)| sql.as_str()));
    let counts: Vec<u64> = txn
        .simple_query(&sql.join(";\n"))
        .context("comparing the staged rows with the target")?
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => {
                Some(row.get(0).unwrap_or("0").parse().unwrap_or(0))
            }
            _ => None,
        })
        .collect();
    anyhow::ensure!(
        counts.len() == counted.len(),
        "looking for drifted rows: {} counts for {} tables",
        counts.len(),
        counted.len()
    );
    let mut drifting = Vec::new();
    for ((t, load, _), count) in counted.into_iter().zip(counts) {
        if count == 0 {
            continue;
        }
        if load.columns.iter().any(|c| {
            always_identity(load, c) && !load.identity_key.as_ref().expect("counted").contains(c)
        }) {
            unsettable(&list(txn, load, None, None)?, load)?;
        }
        drifting.push(t);
    }
    Ok(drifting)
}

/// How many drifted rows of a table `--on-drift=fail` names.
pub const NAMED_PER_TABLE: usize = 20;

/// Under `--on-drift=fail`: the first drifted rows (by key) of each of the given staged
/// tables, at most [`NAMED_PER_TABLE`] a table, for the failure to name. Nothing is changed.
pub fn named<'a>(
    txn: &mut Transaction<'_>,
    loads: impl IntoIterator<Item = &'a LoadTable<'a>>,
) -> Result<Vec<DriftedRow>> {
    let mut rows = Vec::new();
    for load in loads {
        rows.extend(list(txn, load, None, Some(NAMED_PER_TABLE))?);
    }
    Ok(rows)
}

/// Lists the drifted rows of one staged table ([`list_sql`]), the first `limit` by key.
fn list(
    txn: &mut Transaction<'_>,
    load: &LoadTable<'_>,
    postponed: Option<&str>,
    limit: Option<usize>,
) -> Result<Vec<DriftedRow>> {
    let Some(mut sql) = list_sql(load, postponed) else {
        return Ok(Vec::new());
    };
    if let Some(limit) = limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let name = load.target.name.to_string();
    let key_columns = load.identity_key.clone().expect("listed");
    Ok(txn
        .query(sql.as_str(), &[])
        .with_context(|| format!("listing the drifted rows of {name}"))?
        .iter()
        .map(|row| DriftedRow {
            table: name.clone(),
            key_columns: key_columns.clone(),
            key: row.get(0),
            columns: row.get(1),
        })
        .collect())
}

/// Fails, naming the rows, when a drifted column is a `GENERATED ALWAYS` identity column: an
/// UPDATE may set it only to DEFAULT, and anything else (deleting and inserting the row again,
/// changing the column) would touch rows or the schema beyond the snapshot's rows.
fn unsettable(rows: &[DriftedRow], load: &LoadTable<'_>) -> Result<()> {
    let stuck: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let columns: Vec<&String> = row
                .columns
                .iter()
                .filter(|c| always_identity(load, c))
                .collect();
            (!columns.is_empty()).then(|| {
                format!(
                    "{} ({})=({}): column {}",
                    row.table,
                    row.key_columns.join(", "),
                    row.key
                        .iter()
                        .map(|v| v.as_deref().unwrap_or("NULL"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    columns
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        })
        .collect();
    if stuck.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = stuck.iter().take(5).map(String::as_str).collect();
    Err(failure(
        ExitKind::VerificationFailed,
        format!(
            "{} drifted row(s) hold another value than the snapshot's in a GENERATED ALWAYS \
             identity column, which an UPDATE may set only to DEFAULT, so seedsnap cannot bring \
             them back: {}{}. --on-drift=keep keeps the target's rows, \
             --truncate-first replaces every row of the snapshot's tables; or delete those rows \
             in the target (or make the column GENERATED BY DEFAULT) and import again",
            stuck.len(),
            shown.join("; "),
            if stuck.len() > shown.len() {
                format!("; … and {} more", stuck.len() - shown.len())
            } else {
                String::new()
            }
        ),
    ))
}

/// Where the rows referencing a repaired table belong: a staged snapshot table (its rows the
/// snapshot matches by key are the snapshot's), a table loaded straight from its file (all its
/// rows are the snapshot's), or no snapshot table.
pub enum Referencing<'a> {
    Staged(&'a LoadTable<'a>),
    Loaded,
    Outside,
}

/// One foreign key that references a repaired table (`referencing_keys.sql`): one whose ON
/// UPDATE action carries an update of its referenced columns over to the referencing rows, or
/// one that refused a repair.
struct CascadingKey {
    name: String,
    action: String,
    child_oid: u32,
    /// The referenced table: a snapshot's table, or a partition of one.
    parent_oid: u32,
    /// The referenced table and every partitioned table it is a partition of: a repair of any
    /// of these may change the rows the key references.
    parent_oids: Vec<u32>,
    /// The referencing table and every partitioned table it is a partition of: the rows this
    /// key rewrites are rows of each, which keys to any of them reference.
    child_oids: Vec<u32>,
    child_sql: String,
    child_name: String,
    child_columns: Vec<String>,
    parent_columns: Vec<String>,
    /// By column, the key's equality of a referenced value with a referencing one (`=`, or
    /// `OPERATOR(extensions.=)`: see `referencing_keys.sql`).
    equality: Vec<String>,
    /// By column, the type a referencing value is cast to before that comparison, as the
    /// server's own check casts it (`pg_catalog.bpchar` for a `text` child of a
    /// `character(3)` parent),
    /// or `""` for none (see `referencing_keys.sql`).
    child_casts: Vec<String>,
    child_key: Vec<String>,
}

const REFERENCING_KEYS_SQL: &str = include_str!("../catalog/referencing_keys.sql");

/// Reads every key with a cascading ON UPDATE action, or (`named`: constraint, schema, table)
/// one key of any action (`referencing_keys.sql`).
fn referencing_keys(
    txn: &mut Transaction<'_>,
    named: Option<(&str, &str, &str)>,
) -> Result<Vec<CascadingKey>> {
    let (name, schema, table) =
        named.map_or((None, None, None), |(n, s, t)| (Some(n), Some(s), Some(t)));
    Ok(txn
        .query(REFERENCING_KEYS_SQL, &[&name, &schema, &table])
        .context("reading the foreign keys that reference the repaired table")?
        .iter()
        .map(|row| CascadingKey {
            name: row.get(0),
            action: row.get(1),
            child_oid: row.get::<_, i64>(2) as u32,
            parent_oid: row.get::<_, i64>(3) as u32,
            parent_oids: row
                .get::<_, Vec<i64>>(4)
                .into_iter()
                .map(|oid| oid as u32)
                .collect(),
            child_oids: row
                .get::<_, Vec<i64>>(5)
                .into_iter()
                .map(|oid| oid as u32)
                .collect(),
            child_sql: row.get(6),
            child_name: row.get(7),
            child_columns: row.get(8),
            parent_columns: row.get(9),
            equality: row.get(10),
            child_casts: row.get(11),
            child_key: row.get(12),
        })
        .collect())
}

/// Whether the rows of a referencing table may belong to the snapshot, as SQL about the row
/// `alias`: all of them for a table loaded from its file, those a staged row matches by key
/// for a staged table, none otherwise.
fn in_snapshot(alias: &str, child: &Referencing<'_>) -> String {
    match child {
        Referencing::Loaded => "true".into(),
        Referencing::Staged(stage) => match &stage.identity_key {
            Some(key) => format!(
                "EXISTS (SELECT 1 FROM {} AS cs WHERE {})",
                stage.stage,
                stage.key_match(key, "cs", alias)
            ),
            None => "false".into(),
        },
        Referencing::Outside => "false".into(),
    }
}

/// `::type`, a cast to `type`; nothing for `""`.
fn cast_to(type_name: &str) -> String {
    match type_name.is_empty() {
        true => String::new(),
        false => format!("::{type_name}"),
    }
}

/// The rows `child` of `fk`'s table that reference the row `parent`, read from the table
/// `parent_oid` (the key's referenced table, or a partitioned table it is a partition of:
/// then `parent` must be a row of that partition).
fn references(child: &str, parent: &str, parent_oid: u32, fk: &CascadingKey) -> String {
    let mut tests: Vec<String> = fk
        .child_columns
        .iter()
        .zip(&fk.parent_columns)
        .zip(&fk.equality)
        .zip(&fk.child_casts)
        .map(|(((c, p), operator), cast)| {
            equal(
                &format!("{parent}.{}", quote_ident(p)),
                operator,
                &format!("{child}.{}{}", quote_ident(c), cast_to(cast)),
            )
        })
        .collect();
    if fk.parent_oid != parent_oid {
        tests.push(format!(
            "{parent}.tableoid OPERATOR(pg_catalog.=) ANY (SELECT p.relid::pg_catalog.oid \
             FROM pg_catalog.pg_partition_tree({}::pg_catalog.oid) AS p)",
            fk.parent_oid
        ));
    }
    tests.join(" AND ")
}

/// A row `row` of the table at the end of `path` (a chain of keys from the repaired table, see
/// [`cascaded_rows_sql`]) that the repair of `load`'s drifted rows reaches: it references a
/// row of the snapshot that the chain's previous key rewrote, and so on back to a drifted row
/// of `load` whose referenced columns change. The rows on the way are `{prefix}0`, ….
fn reaching<'r>(
    load: &LoadTable<'_>,
    key: &[String],
    path: &[&CascadingKey],
    referencing: &dyn Fn(u32) -> Referencing<'r>,
    row: &str,
    prefix: &str,
) -> String {
    let n = path.len() - 1;
    let alias = |i: usize| match i == n {
        true => row.to_string(),
        false => format!("{prefix}{i}"),
    };
    // The rows of the path's first table the repair rewrites, then each next table's rows
    // that reference a rewritten row of the snapshot.
    let mut reached = format!(
        "EXISTS (SELECT 1 {} AND {})",
        drifted_rows(load, key, &path[0].parent_columns),
        references(&alias(0), "t", load.target.oid, path[0])
    );
    for (i, fk) in path.iter().enumerate().skip(1) {
        let parent = path[i - 1];
        reached = format!(
            "EXISTS (SELECT 1 FROM {table} AS {p} WHERE {refs} AND {inside} AND {reached})",
            table = parent.child_sql,
            p = alias(i - 1),
            refs = references(&alias(i), &alias(i - 1), parent.child_oid, fk),
            inside = in_snapshot(&alias(i - 1), &referencing(parent.child_oid)),
        );
    }
    reached
}

/// A row `row` of `fk`'s referencing table, described for a message: `(id)=(7)` by its primary
/// key, the whole row without one.
fn described(row: &str, fk: &CascadingKey) -> String {
    match fk.child_key.is_empty() {
        true => format!("ROW({row}.*)::pg_catalog.text"),
        false => format!(
            "'({})=(' OPERATOR(pg_catalog.||) pg_catalog.concat_ws(', ', {}) \
             OPERATOR(pg_catalog.||) ')'",
            fk.child_key.join(", "),
            fk.child_key
                .iter()
                .map(|k| format!("{row}.{}", quote_ident(k)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Counts (and names the first few of) the rows that a chain which comes back to a key it
/// followed reaches there and did not reach the first time: `path` ends with the key again,
/// first followed as `path[first]`. None of them: the chain ends (from rows it already
/// reached, it goes where it went before). Some: where it ends cannot be told by following
/// each key once.
fn revisited_rows_sql<'r>(
    load: &LoadTable<'_>,
    key: &[String],
    path: &[&CascadingKey],
    first: usize,
    referencing: &dyn Fn(u32) -> Referencing<'r>,
) -> String {
    let last = path[path.len() - 1];
    format!(
        "SELECT pg_catalog.count(*)::pg_catalog.int8,
                (pg_catalog.array_agg({described}))[1:5]
           FROM {child} AS r WHERE {again} AND NOT {before}",
        described = described("r", last),
        child = last.child_sql,
        again = reaching(load, key, path, referencing, "r", "c"),
        before = reaching(load, key, &path[..=first], referencing, "r", "d"),
    )
}

/// Counts (and names the first few of) the rows that the repair of `load`'s drifted rows would
/// rewrite at the end of `path` and that no snapshot row matches. `path` is a chain of keys
/// from the repaired table: the first references it, each next one references the table of
/// the one before, whose rows in the snapshot the cascade rewrote (`referencing` tells which
/// rows those are). None when every row the path ends at belongs to the snapshot.
fn cascaded_rows_sql<'r>(
    load: &LoadTable<'_>,
    key: &[String],
    path: &[&CascadingKey],
    referencing: &dyn Fn(u32) -> Referencing<'r>,
) -> Option<String> {
    let last = path.last()?;
    let end = referencing(last.child_oid);
    if matches!(end, Referencing::Loaded) {
        return None;
    }
    let n = path.len() - 1;
    let reached = reaching(load, key, path, referencing, &format!("c{n}"), "c");
    Some(format!(
        "SELECT pg_catalog.count(*)::pg_catalog.int8,
                (pg_catalog.array_agg({described}))[1:5]
           FROM {child} AS c{n} WHERE {reached} AND NOT {inside}",
        described = described(&format!("c{n}"), last),
        child = last.child_sql,
        inside = in_snapshot(&format!("c{n}"), &end),
    ))
}

/// Runs a [`cascaded_rows_sql`] query: how many rows of `fk`'s table it finds, and the first
/// few named (`(id)=(7), (id)=(9), … and 3 more`).
fn reached_rows(txn: &mut Transaction<'_>, sql: &str, fk: &CascadingKey) -> Result<(i64, String)> {
    let row = txn.query_one(sql, &[]).with_context(|| {
        format!(
            "counting the rows of {} that {} reaches",
            fk.child_name, fk.name
        )
    })?;
    let count: i64 = row.get(0);
    let examples: Vec<String> = row.get::<_, Option<Vec<String>>>(1).unwrap_or_default();
    let more = match count as usize > examples.len() {
        true => format!(", … and {} more", count as usize - examples.len()),
        false => String::new(),
    };
    Ok((count, format!("{}{more}", examples.join(", "))))
}

/// The first few repaired rows that change a column `fk` references, described.
fn changing(rows: &[DriftedRow], fk: &CascadingKey) -> String {
    rows.iter()
        .filter(|r| r.columns.iter().any(|c| fk.parent_columns.contains(c)))
        .take(5)
        .map(DriftedRow::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether `fk` references rows of table `oid` (`ancestors`: the partitioned tables it is a
/// partition of, and maybe itself): it references the table itself, or a partition of it, or
/// one of the partitioned tables the table is a partition of, whose rows include the table's.
fn references_rows_of(fk: &CascadingKey, oid: u32, ancestors: &[u32]) -> bool {
    fk.parent_oids.contains(&oid) || ancestors.contains(&fk.parent_oid)
}

/// The chains of cascading keys a repair of `columns` of table `oid` sets off: every key that
/// references some of those columns (of the table or of one of its partitions), then, through
/// the rows of the snapshot it rewrites, every key that references the columns it rewrote, and
/// so on, each key once per chain. A chain that would follow a key again ends in `revisits`
/// instead, with that key at its end and where the chain first followed it.
fn cascade_paths<'k>(
    keys: &'k [CascadingKey],
    oid: u32,
    ancestors: &[u32],
    columns: &[&str],
    path: &mut Vec<&'k CascadingKey>,
    paths: &mut Vec<Vec<&'k CascadingKey>>,
    revisits: &mut Vec<(Vec<&'k CascadingKey>, usize)>,
) {
    for fk in keys {
        if !references_rows_of(fk, oid, ancestors)
            || !fk
                .parent_columns
                .iter()
                .any(|c| columns.contains(&c.as_str()))
        {
            continue;
        }
        path.push(fk);
        if let Some(first) = path[..path.len() - 1]
            .iter()
            .position(|k| std::ptr::eq(*k, fk))
        {
            revisits.push((path.clone(), first));
        } else {
            paths.push(path.clone());
            let rewritten: Vec<&str> = fk.child_columns.iter().map(String::as_str).collect();
            cascade_paths(
                keys,
                fk.child_oid,
                &fk.child_oids,
                &rewritten,
                path,
                paths,
                revisits,
            );
        }
        path.pop();
    }
}

/// The partitioned tables table `oid` is a partition of (and the table itself): keys to any of
/// them reference its rows.
fn partition_ancestors(txn: &mut Transaction<'_>, oid: u32) -> Result<Vec<u32>> {
    let row = txn
        .query_one(
            "SELECT ARRAY(SELECT a.relid::pg_catalog.int8 FROM \
             pg_catalog.pg_partition_ancestors($1::pg_catalog.int8::pg_catalog.oid) AS a)",
            &[&i64::from(oid)],
        )
        .context("reading the partitioned tables the repaired table is a partition of")?;
    Ok(row
        .get::<_, Vec<i64>>(0)
        .into_iter()
        .map(|oid| oid as u32)
        .collect())
}

/// Fails, before the repair of `load`'s drifted rows, when it would change a value that rows
/// outside the snapshot reference through an `ON UPDATE CASCADE` (or `SET NULL`, `SET
/// DEFAULT`) key, directly or through rows of the snapshot that such a key rewrites first:
/// seedsnap never rewrites rows the snapshot does not hold. Rows of the snapshot that the
/// cascade reaches are brought to the snapshot's values anyway.
fn refuse_cascades<'r>(
    txn: &mut Transaction<'_>,
    load: &LoadTable<'_>,
    rows: &[DriftedRow],
    referencing: &dyn Fn(u32) -> Referencing<'r>,
) -> Result<()> {
    let key = load.identity_key.as_ref().expect("repaired");
    let keys = referencing_keys(txn, None)?;
    // Only a repair that changes the referenced columns carries over.
    let changed: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.columns.iter().map(String::as_str))
        .collect();
    let (mut paths, mut revisits) = (Vec::new(), Vec::new());
    let ancestors = partition_ancestors(txn, load.target.oid)?;
    cascade_paths(
        &keys,
        load.target.oid,
        &ancestors,
        &changed,
        &mut Vec::new(),
        &mut paths,
        &mut revisits,
    );
    for path in &paths {
        let Some(sql) = cascaded_rows_sql(load, key, path, referencing) else {
            continue;
        };
        let (first, last) = (path[0], path[path.len() - 1]);
        let (count, examples) = reached_rows(txn, &sql, last)?;
        if count == 0 {
            continue;
        }
        let through: Vec<String> = path[..path.len() - 1]
            .iter()
            .map(|fk| {
                format!(
                    ", which {} ON UPDATE {} carries to rows of {} in the snapshot",
                    fk.name, fk.action, fk.child_name
                )
            })
            .collect();
        return Err(failure(
            ExitKind::VerificationFailed,
            format!(
                "bringing the drifted row(s) {} back to the snapshot's values would change {} \
                 of {}{}, which {count} row(s) of {} that the snapshot does not hold reference \
                 through {} ON UPDATE {}: {examples}; the update would rewrite them too, and \
                 seedsnap never changes rows outside the snapshot. --on-drift=keep \
                 keeps the target's rows as they are; or change those rows (or the key's ON \
                 UPDATE action) in the target and import again",
                changing(rows, first),
                first.parent_columns.join(", "),
                load.target.name,
                through.concat(),
                last.child_name,
                last.name,
                last.action,
            ),
        ));
    }
    for (path, first) in &revisits {
        let sql = revisited_rows_sql(load, key, path, *first, referencing);
        let last = path[path.len() - 1];
        let (count, examples) = reached_rows(txn, &sql, last)?;
        if count == 0 {
            continue;
        }
        let chain: Vec<&str> = path.iter().map(|fk| fk.name.as_str()).collect();
        return Err(failure(
            ExitKind::VerificationFailed,
            format!(
                "bringing the drifted row(s) {} back to the snapshot's values would change {} \
                 of {}, and the ON UPDATE keys that carry the change over ({}) come back to {} \
                 with {count} row(s) of {} they had not reached the first time: {examples}; \
                 seedsnap follows each key once per chain, so it cannot tell whether the update \
                 would rewrite rows outside the snapshot, and does not make it. --on-drift=keep \
                 keeps the target's rows as they are; or change those rows in the target and \
                 import again",
                changing(rows, path[0]),
                path[0].parent_columns.join(", "),
                load.target.name,
                chain.join(" → "),
                last.name,
                last.child_name,
            ),
        ));
    }
    Ok(())
}

/// Brings the drifted rows of one staged table back to the snapshot's values and returns them
/// (none when it has no drift left), but those meeting `postponed` (a condition on the staged
/// row `s`, see [`needs_new_row`]). Refuses first when the update would carry over to rows
/// outside the snapshot, or a column cannot be set.
pub fn repair<'r>(
    txn: &mut Transaction<'_>,
    load: &LoadTable<'_>,
    postponed: Option<&str>,
    referencing: &dyn Fn(u32) -> Referencing<'r>,
    violation: impl FnOnce(postgres::Error, &str) -> anyhow::Error,
) -> Result<Vec<DriftedRow>> {
    let Some(update) = update_sql(load, postponed) else {
        return Ok(Vec::new());
    };
    let rows = list(txn, load, postponed, None)?;
    if rows.is_empty() {
        return Ok(rows);
    }
    unsettable(&rows, load)?;
    refuse_cascades(txn, load, &rows, referencing)?;
    let name = load.target.name.to_string();
    // Under a savepoint of its own, so that a key refusing the update can name its rows.
    let updated = match txn.simple_query(&format!(
        "SAVEPOINT {SAVEPOINT}; {update}; RELEASE SAVEPOINT {SAVEPOINT}"
    )) {
        Ok(messages) => messages
            .iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
                _ => None,
            })
            .nth(1)
            .unwrap_or(0),
        Err(e) => {
            txn.batch_execute(&format!(
                "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
            ))?;
            if let Some(blocked) = still_referenced(txn, load, &rows, &e)? {
                return Err(blocked);
            }
            return Err(violation(e, &name))
                .with_context(|| format!("bringing drifted rows of {name} back to the snapshot"));
        }
    };
    anyhow::ensure!(
        updated == rows.len() as u64,
        "updated {updated} drifted rows of {name}, {} were listed",
        rows.len()
    );
    Ok(rows)
}

const SAVEPOINT: &str = "seedsnap_repair";

/// When a repair failed because rows still reference a value it changes, through a key whose
/// ON UPDATE action is NO ACTION or RESTRICT (not deferred): the failure naming the key, the
/// rows and what to do. The transaction is back before the repair. The error is told by its
/// SQLSTATE (23503) and its constraint and table fields, not by its (translated) message: the
/// key is read from the server's catalog (a clone on a partition as the key it was cloned
/// from), and it must reference the repaired table (or a partition of it) and rows must
/// still reference the changed values; else (the repaired rows' own key refused their new
/// values) None.
fn still_referenced(
    txn: &mut Transaction<'_>,
    load: &LoadTable<'_>,
    rows: &[DriftedRow],
    error: &postgres::Error,
) -> Result<Option<anyhow::Error>> {
    let Some(db) = error.as_db_error() else {
        return Ok(None);
    };
    let (Some(constraint), Some(schema), Some(table)) = (db.constraint(), db.schema(), db.table())
    else {
        return Ok(None);
    };
    if db.code() != &postgres::error::SqlState::FOREIGN_KEY_VIOLATION {
        return Ok(None);
    }
    let key = load.identity_key.as_ref().expect("repaired");
    let keys = referencing_keys(txn, Some((constraint, schema, table)))?;
    let ancestors = partition_ancestors(txn, load.target.oid)?;
    let Some(fk) = keys
        .first()
        .filter(|fk| references_rows_of(fk, load.target.oid, &ancestors))
    else {
        return Ok(None);
    };
    let sql = cascaded_rows_sql(load, key, &[fk], &|_| Referencing::Outside).expect("outside");
    let (count, examples) = reached_rows(txn, &sql, fk)?;
    if count == 0 {
        return Ok(None);
    }
    Ok(Some(crate::problem::refuse(
        ExitKind::BadInput,
        crate::problem::Problem::unplaced(format!(
            "bringing the drifted row(s) {} back to the snapshot's values would change {} of \
             {}, which {count} row(s) of {} still reference through {} (ON UPDATE {}): \
             {examples}; the key refuses the update while they do ({}). Those rows are outside \
             the snapshot, or drifted rows of the snapshot that are brought back only after \
             their parent, by an UPDATE of their own. --on-drift=keep keeps the target's rows \
             as they are; or change those rows in the target (or make the key DEFERRABLE) and \
             import again",
            changing(rows, fk),
            fk.parent_columns.join(", "),
            load.target.name,
            fk.child_name,
            fk.name,
            fk.action,
            db.detail().unwrap_or_default().trim_end_matches('.'),
        ))
        .kind(crate::problem::ProblemKind::DriftRepair)
        .table(&load.target.name)
        .constraint(&fk.name),
    )))
}

/// One foreign key of a staged table to a staged table of its cycle, for [`needs_new_row`].
pub struct KeyToStaged<'a> {
    pub columns: &'a [String],
    pub parent: &'a LoadTable<'a>,
    pub parent_columns: &'a [String],
    /// By column, the key's equality (`=`, or an extension's operator with its schema).
    pub equality: Vec<&'a str>,
    /// By column, the type the referencing value is cast to before that comparison, as the
    /// server's check casts it ([`crate::key_text::child_cast`]), or None.
    pub casts: Vec<Option<&'a str>>,
}

/// A condition on a staged row `s` of a table: through one of `keys` it references a staged
/// row new to the target, which its repair needs in the target first. None without such keys.
pub fn needs_new_row(keys: &[KeyToStaged<'_>]) -> Option<String> {
    let tests: Vec<String> = keys
        .iter()
        .map(|key| {
            let matches: Vec<String> = key
                .columns
                .iter()
                .zip(key.parent_columns)
                .zip(&key.equality)
                .zip(&key.casts)
                .map(|(((c, p), operator), cast)| {
                    equal(
                        &format!("p.{}", quote_ident(p)),
                        operator,
                        &format!("s.{}{}", quote_ident(c), cast_to(cast.unwrap_or(""))),
                    )
                })
                .collect();
            format!(
                "EXISTS (SELECT 1 FROM {} AS p WHERE p.{NEW_FLAG} AND {})",
                key.parent.stage,
                matches.join(" AND ")
            )
        })
        .collect();
    (!tests.is_empty()).then(|| tests.join(" OR "))
}

/// The report's lines for drifted rows: at most `limit`, then how many more.
pub fn render(rows: &[DriftedRow], committed: bool, limit: usize) -> String {
    let mut text = String::new();
    if rows.is_empty() {
        return text;
    }
    text.push_str(&format!(
        "{} {} drifted row(s) to the snapshot's values (table (key)=(values): columns changed):\n",
        if committed {
            "brought back"
        } else {
            "would bring back"
        },
        rows.len()
    ));
    for row in rows.iter().take(limit) {
        text.push_str(&format!("  {}\n", row.describe()));
    }
    if rows.len() > limit {
        text.push_str(&format!(
            "  … and {} more (see --json)\n",
            rows.len() - limit
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cascade chain, key by key.
    type Chain<'k> = Vec<&'k CascadingKey>;

    /// The cascade chains from a repair of table 1's `label` (a table of no partition), and
    /// the chains that would follow a key again.
    fn paths_and_revisits_from_label_of_table_1(
        keys: &[CascadingKey],
    ) -> (Vec<Chain<'_>>, Vec<(Chain<'_>, usize)>) {
        let (mut paths, mut revisits) = (Vec::new(), Vec::new());
        cascade_paths(
            keys,
            1,
            &[1],
            &["label"],
            &mut Vec::new(),
            &mut paths,
            &mut revisits,
        );
        (paths, revisits)
    }

    /// The cascade chains from a repair of table 1's `label`.
    fn paths_from_label_of_table_1(keys: &[CascadingKey]) -> Vec<Chain<'_>> {
        paths_and_revisits_from_label_of_table_1(keys).0
    }
    use crate::catalog::{Column, QualifiedName, Table, TableKind};

    fn table() -> Table {
        let column = |name: &str, identity: bool| Column {
            name: name.into(),
            type_name: "text".into(),
            base_type: "text".into(),
            domain_base: None,
            not_null: true,
            generated: false,
            identity: identity.then_some(Identity::Always),
            has_default: false,
            collation: None,
            is_enum: false,
        };
        Table {
            oid: 1,
            name: QualifiedName::new("app", "tags"),
            kind: TableKind::Ordinary,
            columns: vec![
                column("id", false),
                column("label", false),
                column("n", true),
            ],
            unique_keys: vec![],
            has_rules: false,
            has_triggers: false,
            estimated_rows: 0,
        }
    }

    fn load(t: &Table, key: Option<Vec<String>>) -> LoadTable<'_> {
        LoadTable {
            target: t,
            stage: "pg_temp.s0".into(),
            columns: vec!["id".into(), "label".into(), "n".into()],
            unique_keys: vec![],
            identity_key: key,
            overriding: true,
        }
    }

    #[test]
    fn updates_set_everything_but_the_key_and_always_identities() {
        let t = table();
        let l = load(&t, Some(vec!["id".into()]));
        let update = update_sql(&l, None).unwrap();
        assert!(
            update.starts_with(r#"UPDATE ONLY "app"."tags" AS t"#),
            "{update}"
        );
        assert!(
            update.contains(r#"SET "label" = s."label" FROM"#),
            "{update}"
        );
        assert!(!update.contains(r#""n" = s."n""#), "{update}");
        assert!(update.contains(r#"t."id" = s."id""#), "{update}");
        let list = list_sql(&l, None).unwrap();
        assert!(list.contains(r#"THEN 'label' END"#), "{list}");
        assert!(list.contains("NOT s._seedsnap_new"), "{list}");
    }

    #[test]
    fn drift_is_counted_over_always_identities_too() {
        let t = table();
        let l = load(&t, Some(vec!["id".into()]));
        let count = count_sql(&l, false).unwrap();
        assert!(count.contains(r#"ROW(t."label", t."n")"#), "{count}");
        assert!(list_sql(&l, None).unwrap().contains("THEN 'n' END"));
        let rows = [DriftedRow {
            table: "app.tags".into(),
            key_columns: vec!["id".into()],
            key: vec![Some("7".into())],
            columns: vec!["label".into(), "n".into()],
        }];
        let error = format!("{:#}", unsettable(&rows, &l).unwrap_err());
        assert!(error.contains("app.tags (id)=(7): column n"), "{error}");
        assert!(unsettable(&rows[..0], &l).is_ok());
    }

    fn cascading(name: &str, parent: u32, child: u32, columns: [&str; 2]) -> CascadingKey {
        CascadingKey {
            name: name.into(),
            action: "CASCADE".into(),
            child_oid: child,
            parent_oid: parent,
            parent_oids: vec![parent],
            child_oids: vec![child],
            child_sql: format!(r#"ONLY "app"."c{child}""#),
            child_name: format!("app.c{child}"),
            child_columns: vec![columns[0].into()],
            parent_columns: vec![columns[1].into()],
            equality: vec!["=".into()],
            child_casts: vec!["".into()],
            child_key: vec!["cid".into()],
        }
    }

    #[test]
    fn cascades_count_only_rows_no_snapshot_row_matches() {
        let t = table();
        let l = load(&t, Some(vec!["id".into()]));
        let fk = cascading("c_fk", 1, 2, ["tag_label", "label"]);
        let key = vec!["id".to_string()];
        let staged = cascaded_rows_sql(&l, &key, &[&fk], &|_| Referencing::Staged(&l)).unwrap();
        assert!(staged.contains(r#"t."label" = c0."tag_label""#), "{staged}");
        assert!(
            staged
                .contains(r#"NOT EXISTS (SELECT 1 FROM pg_temp.s0 AS cs WHERE cs."id" = c0."id")"#),
            "{staged}"
        );
        let outside = cascaded_rows_sql(&l, &key, &[&fk], &|_| Referencing::Outside).unwrap();
        assert!(!outside.contains("AS cs"), "{outside}");
        assert!(outside.contains("'(cid)=('"), "{outside}");
        assert!(cascaded_rows_sql(&l, &key, &[&fk], &|_| Referencing::Loaded).is_none());
    }

    #[test]
    fn cascades_are_followed_through_the_rows_they_rewrite() {
        let keys = [
            cascading("a", 1, 2, ["code", "label"]),
            // References a column the first key does not rewrite: not followed.
            cascading("b", 2, 3, ["x", "other"]),
            cascading("c", 2, 4, ["code", "code"]),
            // Back to table 2 through the same columns: each key once per chain.
            cascading("d", 4, 2, ["code", "code"]),
            cascading("e", 9, 2, ["code", "code"]),
        ];
        let (paths, revisits) = paths_and_revisits_from_label_of_table_1(&keys);
        let names = |paths: &[Vec<&CascadingKey>]| -> Vec<String> {
            paths
                .iter()
                .map(|p| p.iter().map(|k| k.name.as_str()).collect::<String>())
                .collect()
        };
        assert_eq!(names(&paths), ["a", "ac", "acd"]);
        // Back through "c" again: a revisit, first followed second in the chain.
        let again: Vec<Vec<&CascadingKey>> = revisits.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(names(&again), ["acdc"]);
        assert_eq!(revisits[0].1, 1);
        let t = table();
        let l = load(&t, Some(vec!["id".into()]));
        let key = vec!["id".to_string()];
        let (path, first) = &revisits[0];
        let again = revisited_rows_sql(&l, &key, path, *first, &|_| Referencing::Staged(&l));
        // The rows of c4 reached through "c" again, but not those "c" reached the first time.
        assert!(
            again.contains(r#"FROM ONLY "app"."c4" AS r WHERE EXISTS"#),
            "{again}"
        );
        assert!(
            again.contains(
                r#"AND NOT EXISTS (SELECT 1 FROM ONLY "app"."c2" AS d0 WHERE d0."code" = r."code""#
            ),
            "{again}"
        );
        let t = table();
        let l = load(&t, Some(vec!["id".into()]));
        let key = vec!["id".to_string()];
        let sql = cascaded_rows_sql(&l, &key, &paths[1], &|_| Referencing::Staged(&l)).unwrap();
        assert!(sql.contains(r#"FROM ONLY "app"."c4" AS c1 WHERE"#), "{sql}");
        assert!(
            sql.contains(r#"FROM ONLY "app"."c2" AS c0 WHERE c0."code" = c1."code""#),
            "{sql}"
        );
        assert!(sql.contains(r#"t."label" = c0."code""#), "{sql}");
    }

    #[test]
    fn a_key_to_a_partitioned_table_is_followed_from_its_partition() {
        // Key "q", declared on partition 6 of table 3, rewrites its rows; key "r" references
        // table 3 itself, whose rows include partition 6's; "s" references another table.
        let mut q = cascading("q", 1, 6, ["code", "label"]);
        q.child_oids = vec![6, 3];
        let keys = [
            q,
            cascading("r", 3, 7, ["code", "code"]),
            cascading("s", 8, 9, ["code", "code"]),
        ];
        let paths = paths_from_label_of_table_1(&keys);
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.iter().map(|k| k.name.as_str()).collect())
            .collect();
        assert_eq!(names, ["q", "qr"]);
        // The repaired table itself a partition of the key's referenced table.
        assert!(references_rows_of(&keys[1], 6, &[6, 3]));
        assert!(!references_rows_of(&keys[2], 6, &[6, 3]));
    }

    #[test]
    fn a_key_to_a_partition_is_followed_from_its_partitioned_table() {
        // Key "p" references partition 5 of table 1.
        let mut fk = cascading("p", 5, 2, ["code", "label"]);
        fk.parent_oids = vec![5, 1];
        let keys = [fk];
        let paths = paths_from_label_of_table_1(&keys);
        assert_eq!(paths.len(), 1);
        let t = table();
        let l = load(&t, Some(vec!["id".into()]));
        let key = vec!["id".to_string()];
        let sql = cascaded_rows_sql(&l, &key, &paths[0], &|_| Referencing::Outside).unwrap();
        assert!(
            sql.contains(
                "t.tableoid OPERATOR(pg_catalog.=) ANY (SELECT p.relid::pg_catalog.oid \
                 FROM pg_catalog.pg_partition_tree(5::pg_catalog.oid) AS p)"
            ),
            "{sql}"
        );
        // A key to the table itself needs no such test; an extension's equality is written
        // with its schema, the referenced value on its left (conpfeqop's order).
        let mut own = cascading("o", 1, 2, ["code", "label"]);
        own.equality = vec!["OPERATOR(extensions.=)".into()];
        assert_eq!(
            references("c0", "t", 1, &own),
            r#"t."label" OPERATOR(extensions.=) c0."code""#
        );
        // A referencing value of another type is cast to the operator's type first.
        own.equality = vec!["=".into()];
        own.child_casts = vec!["pg_catalog.bpchar".into()];
        assert_eq!(
            references("c0", "t", 1, &own),
            r#"t."label" = c0."code"::pg_catalog.bpchar"#
        );
    }

    #[test]
    fn repairs_can_leave_the_rows_that_need_a_new_row() {
        let t = table();
        let l = load(&t, Some(vec!["id".into()]));
        let columns = vec!["label".to_string()];
        let parent = vec!["id".to_string()];
        let needs = needs_new_row(&[KeyToStaged {
            columns: &columns,
            parent: &l,
            parent_columns: &parent,
            equality: vec!["="],
            casts: vec![None],
        }])
        .unwrap();
        assert_eq!(
            needs,
            r#"EXISTS (SELECT 1 FROM pg_temp.s0 AS p WHERE p._seedsnap_new AND p."id" = s."label")"#
        );
        let update = update_sql(&l, Some(&needs)).unwrap();
        assert!(update.ends_with(&format!(" AND NOT ({needs})")), "{update}");
        assert!(list_sql(&l, Some(&needs))
            .unwrap()
            .contains(&format!("AND NOT ({needs})")));
        assert!(needs_new_row(&[]).is_none());
    }

    #[test]
    fn keyless_tables_cannot_drift() {
        let t = table();
        assert!(update_sql(&load(&t, None), None).is_none());
        assert!(list_sql(&load(&t, None), None).is_none());
    }

    #[test]
    fn rendering_caps_the_list() {
        let row = DriftedRow {
            table: "app.tags".into(),
            key_columns: vec!["id".into()],
            key: vec![Some("1".into())],
            columns: vec!["label".into()],
        };
        let text = render(&vec![row.clone(); 3], true, 2);
        assert!(text.contains("brought back 3 drifted row(s)"), "{text}");
        assert!(text.contains("  app.tags (id)=(1): label\n"), "{text}");
        assert!(text.contains("… and 1 more"), "{text}");
        assert_eq!(render(&[], true, 2), "");
    }
}
