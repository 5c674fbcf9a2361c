//! Foreign keys declared on single partitions (`conrelid` is a partition, `conparentid = 0`).
//!
//! Such a key constrains the rows of its partition, not the partitioned table's: `notes`
//! list-partitioned by what a note is about, `notes_on_orders` referencing `orders` and
//! `notes_on_invoices` referencing `invoices`. The catalog reads it as a key of the root with a
//! [`PartitionScope`](crate::catalog::PartitionScope) (its leaf partitions); the selection follows it only for rows stored in
//! those leaves (every chosen row is known by its leaf, see [`crate::selection::RowId`]).
//!
//! A snapshot says which rows such a key covers without naming rows: the file of a table with
//! partition keys is grouped by leaf partition (by name, then by key), and the manifest lists
//! the groups in file order with their row counts (`partitions`); each key lists the leaves it
//! covers. [`crate::snapshot::keys`] turns that into line ranges for `verify`; the import,
//! when the target does not enforce the key itself, restricts its check to the rows the
//! target's partition constraints put in those leaves.

use std::collections::HashMap;

use anyhow::{Context, Result};
use postgres::GenericClient;

use crate::catalog::{Catalog, QualifiedName};
use crate::selection::RowSet;
use crate::snapshot::manifest::PartitionRows;

/// For each table: whether it has an outgoing key declared on partitions; its file is then
/// grouped by leaf partition. One pass over the keys, not one per table.
pub fn grouped_tables(catalog: &Catalog) -> Vec<bool> {
    let mut grouped = vec![false; catalog.tables.len()];
    for fk in catalog
        .foreign_keys
        .iter()
        .filter(|fk| fk.partition.is_some())
    {
        grouped[fk.child] = true;
    }
    grouped
}

/// The leaf partitions storing `rows`, ordered by name: `(oid, name, rows)`.
pub fn leaf_groups(
    client: &mut impl GenericClient,
    rows: &RowSet,
) -> Result<Vec<(u32, QualifiedName, u64)>> {
    let counts: HashMap<u32, u64> = rows
        .by_relation()
        .map(|(relation, rows)| (relation, rows.count() as u64))
        .collect();
    let oids: Vec<i64> = counts.keys().map(|&o| o as i64).collect();
    let mut groups: Vec<(u32, QualifiedName, u64)> = client
        .query(
            "SELECT c.oid::pg_catalog.int8, n.nspname::pg_catalog.text, c.relname::pg_catalog.text
               FROM pg_catalog.pg_class AS c
               JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]::pg_catalog.oid[])",
            &[&oids],
        )
        .context("reading the names of leaf partitions")?
        .iter()
        .map(|row| {
            let oid = row.get::<_, i64>(0) as u32;
            (
                oid,
                QualifiedName::new(row.get::<_, String>(1), row.get::<_, String>(2)),
                counts[&oid],
            )
        })
        .collect();
    groups.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(groups)
}

/// The manifest's `partitions` for the groups of [`leaf_groups`].
pub fn manifest_groups(groups: &[(u32, QualifiedName, u64)]) -> Vec<PartitionRows> {
    groups
        .iter()
        .map(|(_, name, rows)| PartitionRows {
            partition: name.clone(),
            rows: *rows,
        })
        .collect()
}

pub use crate::snapshot::keys::covered_rows;

/// An SQL condition over a row's own (unqualified) columns that holds exactly for the rows
/// the target stores in these leaf partitions: their partition constraints, ORed. A leaf the
/// target does not have contributes nothing.
pub fn target_rows_condition(
    client: &mut impl GenericClient,
    leaves: &[QualifiedName],
) -> Result<String> {
    let names: Vec<String> = leaves.iter().map(|l| l.sql()).collect();
    let rows = client
        .query(
            "SELECT pg_catalog.pg_get_partition_constraintdef(r.oid)
               FROM (SELECT pg_catalog.to_regclass(name) AS oid
                       FROM pg_catalog.unnest($1::pg_catalog.text[]) AS name) AS r
              WHERE r.oid IS NOT NULL",
            &[&names],
        )
        .context("reading the target's partition constraints")?;
    let parts: Vec<String> = rows
        .iter()
        .filter_map(|row| row.get::<_, Option<String>>(0))
        .map(|c| format!("({c})"))
        .collect();
    Ok(match parts.is_empty() {
        true => "false".to_string(),
        false => format!("({})", parts.join(" OR ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::RowKey;
    use crate::snapshot::manifest::{ManifestForeignKey, ManifestTable};
    #[test]
    fn a_key_covers_the_line_ranges_of_its_leaves() {
        let name = |n: &str| QualifiedName::new("app", n);
        let table = ManifestTable {
            schema: "app".into(),
            name: "notes".into(),
            file: "x.tsv".into(),
            columns: vec![],
            key: RowKey::AllColumns,
            unique_keys: Vec::new(),
            foreign_keys: vec![],
            rows: 6,
            sampled: 6,
            backfilled: 0,
            sha256: String::new(),
            partitions: vec![
                PartitionRows {
                    partition: name("a"),
                    rows: 2,
                },
                PartitionRows {
                    partition: name("b"),
                    rows: 3,
                },
                PartitionRows {
                    partition: name("c"),
                    rows: 1,
                },
            ],
        };
        let mut fk = ManifestForeignKey {
            name: "k".into(),
            columns: vec![],
            references: name("orders"),
            referenced_columns: vec![],
            deferrable: false,
            match_full: false,
            virtual_key: false,
            when: vec![],
            partitions: vec![],
        };
        assert_eq!(covered_rows(&table, &fk), None);
        fk.partitions = vec![name("c"), name("a"), name("z")];
        assert_eq!(covered_rows(&table, &fk), Some(vec![0..2, 5..6]));
    }
}
