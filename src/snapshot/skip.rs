//! Leaving tables and columns of a snapshot out of an import, explicitly.
//!
//! When a migration dropped a column or a table that a committed snapshot still has, the
//! import refuses the snapshot. `--skip-missing app.videos.resolution` (or `skip_missing` in
//! seedsnap.toml) loads it without them: an entry with two dots names a column
//! (`schema.table.column`), one with at most one dot a table. The import then works on a copy
//! of the snapshot without those columns and tables; foreign keys that use them are no longer
//! verified. Each thing left out is named in a warning.

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::manifest::{schema_fingerprint, MANIFEST_FILE};
use super::overlay::Merged;
use super::{copy_text, Problem, SnapshotDir};
use crate::catalog::{QualifiedName, RowKey};
use crate::error::ExitKind;
use crate::problem;

/// A table or a column to leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipItem {
    Table(QualifiedName),
    Column(QualifiedName, String),
}

impl SkipItem {
    /// `schema.table.column` is a column; `schema.table` or `table` a table.
    pub fn parse(text: &str) -> Result<SkipItem, String> {
        let bad = || format!("{text:?} is not schema.table or schema.table.column");
        if text.matches('.').count() == 2 {
            let (table, column) = text.rsplit_once('.').ok_or_else(bad)?;
            let table = QualifiedName::parse(table).ok_or_else(bad)?;
            if column.is_empty() {
                return Err(bad());
            }
            return Ok(SkipItem::Column(table, column.to_string()));
        }
        QualifiedName::parse(text)
            .map(SkipItem::Table)
            .ok_or_else(bad)
    }
}

impl std::fmt::Display for SkipItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipItem::Table(t) => write!(f, "{t}"),
            SkipItem::Column(t, c) => write!(f, "{t}.{c}"),
        }
    }
}

/// A copy of the snapshot in `dir` without the given tables and columns, and a warning for
/// each thing left out (and each foreign key no longer verified).
pub fn apply(dir: &Path, items: &[SkipItem]) -> Result<(Merged, Vec<String>)> {
    let snapshot = SnapshotDir::open(dir)?;
    let mut manifest = snapshot.manifest.clone();
    let unknown: Vec<Problem> = items
        .iter()
        .filter(|item| match item {
            SkipItem::Table(t) => manifest.tables.iter().all(|m| m.qualified_name() != *t),
            SkipItem::Column(t, c) => !manifest
                .tables
                .iter()
                .any(|m| m.qualified_name() == *t && m.column_index(c).is_some()),
        })
        .map(|item| {
            Problem::in_file(
                dir.join(MANIFEST_FILE).display().to_string(),
                None,
                None,
                format!("--skip-missing {item}: the snapshot has no such table or column"),
            )
        })
        .collect();
    problem::check_counted(
        ExitKind::BadInput,
        "cannot leave out what the snapshot does not have",
        &unknown,
    )?;
    let mut warnings = Vec::new();
    let skipped_table = |name: &QualifiedName| items.contains(&SkipItem::Table(name.clone()));
    let skipped_column =
        |name: &QualifiedName, c: &str| items.contains(&SkipItem::Column(name.clone(), c.into()));
    manifest.tables.retain(|t| {
        let skip = skipped_table(&t.qualified_name());
        if skip {
            warnings.push(format!(
                "left out table {} and its {} rows (--skip-missing)",
                t.qualified_name(),
                t.rows
            ));
        }
        !skip
    });
    let derived = Merged::derived_from(dir)?;
    for table in &mut manifest.tables {
        let name = table.qualified_name();
        let drop: Vec<usize> = (0..table.columns.len())
            .filter(|&i| skipped_column(&name, &table.columns[i].name))
            .collect();
        table.foreign_keys.retain(|fk| {
            let gone = skipped_table(&fk.references)
                || fk
                    .columns
                    .iter()
                    .chain(fk.when.iter().map(|c| &c.column))
                    .any(|c| skipped_column(&name, c))
                || fk
                    .referenced_columns
                    .iter()
                    .any(|c| skipped_column(&fk.references, c));
            if gone {
                warnings.push(format!(
                    "foreign key {} of {name} -> {} is not verified against the snapshot: it uses what \
                     was left out (a key the target declares is still enforced on its rows)",
                    fk.name, fk.references
                ));
            }
            !gone
        });
        if drop.is_empty() {
            derived.link(&table.file)?;
            continue;
        }
        for &i in &drop {
            warnings.push(format!(
                "left out column {name}.{} ({} values; --skip-missing)",
                table.columns[i].name, table.rows
            ));
        }
        let from = dir.join(&table.file);
        let mut reader = BufReader::with_capacity(256 * 1024, fs::File::open(&from)?);
        let mut out = HashingFile {
            inner: BufWriter::with_capacity(
                256 * 1024,
                fs::File::create(derived.dir.join(&table.file))?,
            ),
            hasher: Sha256::new(),
        };
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line)? > 0 {
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            let kept: Vec<&[u8]> = copy_text::split_fields(body)
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, f)| f)
                .collect();
            out.write_all(&kept.join(&b'\t'))?;
            out.write_all(b"\n")?;
            line.clear();
        }
        table.sha256 = out.finish()?;
        // A unique key over a column left out is not checked either (the target's still is).
        let dropped: Vec<&str> = drop
            .iter()
            .map(|&i| table.columns[i].name.as_str())
            .collect();
        table
            .unique_keys
            .retain(|key| !key.columns.iter().any(|c| dropped.contains(&c.as_str())));
        let mut i = 0;
        table.columns.retain(|_| {
            i += 1;
            !drop.contains(&(i - 1))
        });
        if table
            .key
            .columns()
            .is_some_and(|key| key.iter().any(|c| table.column_index(c).is_none()))
        {
            table.key = RowKey::AllColumns;
        }
    }
    if manifest.tables.iter().any(|t| t.columns.is_empty()) {
        return Err(problem::refuse(
            ExitKind::BadInput,
            Problem::setting(
                "--skip-missing",
                "leaves a table without columns: leave the table out instead",
            ),
        ));
    }
    manifest.schema_fingerprint = schema_fingerprint(&manifest.tables);
    fs::write(derived.dir.join(MANIFEST_FILE), manifest.to_json())?;
    Ok((derived, warnings))
}

struct HashingFile {
    inner: BufWriter<fs::File>,
    hasher: Sha256,
}

impl HashingFile {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.inner.write_all(bytes)
    }

    fn finish(mut self) -> Result<String> {
        self.inner.flush()?;
        Ok(super::hex(&self.hasher.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_parse_as_tables_or_columns() {
        assert_eq!(
            SkipItem::parse("app.videos.resolution"),
            Ok(SkipItem::Column(
                QualifiedName::new("app", "videos"),
                "resolution".into()
            ))
        );
        assert_eq!(
            SkipItem::parse("app.old"),
            Ok(SkipItem::Table(QualifiedName::new("app", "old")))
        );
        assert!(SkipItem::parse("a.b.").is_err());
        assert_eq!(
            SkipItem::parse("app.videos.resolution")
                .unwrap()
                .to_string(),
            "app.videos.resolution"
        );
    }
}
