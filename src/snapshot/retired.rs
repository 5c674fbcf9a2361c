//! Rows an earlier snapshot brought that the new one no longer has ("retired" rows).
//!
//! A refresh replaces the snapshot directory, so it reads the previous snapshot's row keys
//! first and compares them with the new one's. Rows whose key is gone (deleted in the demo, or
//! no longer sampled) are left in the test database: by the time of a refresh they may be
//! referenced by rows tests or people added, and seedsnap deletes rows only with
//! `--truncate-first`. They are listed in the refresh report, so nothing stays silently.
//! Only tables with a key (primary, or unique and NOT NULL) have row identities to compare.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::SnapshotDir;

/// The key columns of each keyed table of a snapshot, and every row's key values (COPY text).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SnapshotKeys {
    pub tables: BTreeMap<String, (Vec<String>, BTreeSet<Vec<String>>)>,
}

/// Retired rows of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetiredRows {
    pub table: String,
    pub key_columns: Vec<String>,
    /// Each row's key values, as the snapshot file holds them.
    pub keys: Vec<Vec<String>>,
}

/// The row keys of the snapshot in `dir`, or `None` when there is no readable snapshot there
/// (a first export, or a damaged directory: then there is nothing to compare with).
pub fn read_keys(dir: &Path) -> Result<Option<SnapshotKeys>> {
    let Ok(snapshot) = SnapshotDir::open(dir) else {
        return Ok(None);
    };
    let mut keys = SnapshotKeys::default();
    let mut problems = Vec::new();
    for table in &snapshot.manifest.tables {
        let Some(columns) = table.key.columns() else {
            continue;
        };
        let indexes: Vec<usize> = columns
            .iter()
            .filter_map(|c| table.column_index(c))
            .collect();
        let mut rows = BTreeSet::new();
        snapshot.scan(table, &mut problems, |_, fields| {
            rows.insert(
                indexes
                    .iter()
                    .map(|&i| String::from_utf8_lossy(fields[i]).into_owned())
                    .collect(),
            );
            Ok(())
        })?;
        keys.tables
            .insert(table.qualified_name().to_string(), (columns.to_vec(), rows));
    }
    Ok(Some(keys))
}

/// The rows of `before` whose key `after` no longer has, table by table.
pub fn retired(before: &SnapshotKeys, after: &SnapshotKeys) -> Vec<RetiredRows> {
    let mut out = Vec::new();
    for (table, (columns, rows)) in &before.tables {
        let kept = after
            .tables
            .get(table)
            .filter(|(c, _)| c == columns)
            .map(|(_, rows)| rows);
        let gone: Vec<Vec<String>> = rows
            .iter()
            .filter(|key| !kept.is_some_and(|rows| rows.contains(*key)))
            .cloned()
            .collect();
        if !gone.is_empty() {
            out.push(RetiredRows {
                table: table.clone(),
                key_columns: columns.clone(),
                keys: gone,
            });
        }
    }
    out
}

/// The refresh report's lines for retired rows: at most `limit` keys, then how many more.
pub fn render(retired: &[RetiredRows], limit: usize) -> String {
    let total: usize = retired.iter().map(|r| r.keys.len()).sum();
    if total == 0 {
        return String::new();
    }
    let mut text = format!(
        "left in the target: {total} row(s) the previous snapshot brought that this one no \
         longer has (seedsnap deletes rows only with --truncate-first):\n"
    );
    let mut shown = 0;
    for table in retired {
        for key in &table.keys {
            if shown == limit {
                text.push_str(&format!("  … and {} more (see --json)\n", total - shown));
                return text;
            }
            text.push_str(&format!(
                "  {} ({})=({})\n",
                table.table,
                table.key_columns.join(", "),
                key.join(", ")
            ));
            shown += 1;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(tables: &[(&str, &[&str])]) -> SnapshotKeys {
        SnapshotKeys {
            tables: tables
                .iter()
                .map(|(name, rows)| {
                    (
                        name.to_string(),
                        (
                            vec!["id".to_string()],
                            rows.iter().map(|r| vec![r.to_string()]).collect(),
                        ),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn gone_keys_and_gone_tables_are_retired() {
        let before = keys(&[("app.a", &["1", "2", "3"]), ("app.b", &["9"])]);
        let after = keys(&[("app.a", &["1", "3", "4"])]);
        let gone = retired(&before, &after);
        assert_eq!(gone.len(), 2);
        assert_eq!(gone[0].keys, vec![vec!["2".to_string()]]);
        assert_eq!(gone[1].table, "app.b");
        let text = render(&gone, 1);
        assert!(text.contains("2 row(s)"), "{text}");
        assert!(text.contains("  app.a (id)=(2)\n"), "{text}");
        assert!(text.contains("… and 1 more"), "{text}");
        assert!(retired(&after, &after).is_empty());
    }
}
