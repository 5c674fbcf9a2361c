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
use crate::catalog::{split_dotted, QualifiedName, RowKey};
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
        let bad = || {
            format!(
                "{text:?} is not schema.table or schema.table.column (double-quote a name \
                 holding a dot: app.\"odd.name\")"
            )
        };
        // Dots inside double quotes belong to the name, as in SQL.
        let parts = split_dotted(text).ok_or_else(bad)?;
        match parts.as_slice() {
            [schema, table, column] if !column.is_empty() => Ok(SkipItem::Column(
                QualifiedName::new(schema.clone(), table.clone()),
                column.clone(),
            )),
            [_, _] | [_] => QualifiedName::parse(text)
                .map(SkipItem::Table)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl SkipItem {
    /// The item as a command-line argument that [`SkipItem::parse`] reads back: a part holding
    /// a dot or a double quote double-quoted (quotes doubled), and the whole single-quoted for
    /// the shell when it holds anything but letters, digits, `_`, `.` and `-`.
    pub fn argument(&self) -> String {
        let part = |p: &str| match p.contains(['.', '"']) {
            true => format!("\"{}\"", p.replace('"', "\"\"")),
            false => p.to_string(),
        };
        let text = match self {
            SkipItem::Table(t) => format!("{}.{}", part(&t.schema), part(&t.name)),
            SkipItem::Column(t, c) => {
                format!("{}.{}.{}", part(&t.schema), part(&t.name), part(c))
            }
        };
        let plain = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        match plain {
            true => text,
            false => format!("'{}'", text.replace('\'', "'\\''")),
        }
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
/// each thing left out (and each foreign key no longer verified). An item the snapshot does
/// not have is an error, unless only the config file names it (`in_config`, with where): a
/// table or column a later export no longer has makes such an entry stale, which is said in
/// a warning naming the line to remove. Returns the copy, the warnings, and the stale items.
pub fn apply(
    dir: &Path,
    items: &[SkipItem],
    in_config: &[(SkipItem, String)],
) -> Result<(Merged, Vec<String>, Vec<SkipItem>)> {
    let snapshot = SnapshotDir::open(dir)?;
    let mut manifest = snapshot.manifest.clone();
    let absent = |item: &&SkipItem| match item {
        SkipItem::Table(t) => manifest.tables.iter().all(|m| m.qualified_name() != *t),
        SkipItem::Column(t, c) => !manifest
            .tables
            .iter()
            .any(|m| m.qualified_name() == *t && m.column_index(c).is_some()),
    };
    let config_place = |item: &SkipItem| {
        in_config
            .iter()
            .find(|(i, _)| i == item)
            .map(|(_, place)| place.clone())
    };
    let mut warnings = Vec::new();
    let mut stale = Vec::new();
    for item in items.iter().filter(absent) {
        if let Some(place) = config_place(item) {
            stale.push(item.clone());
            warnings.push(format!(
                "{place}: skip_missing {item}: the snapshot has no such table or column any \
                 more; nothing to leave out (remove the entry)"
            ));
        }
    }
    let unknown: Vec<Problem> = items
        .iter()
        .filter(absent)
        .filter(|item| config_place(item).is_none())
        .map(|item| {
            Problem::in_file(
                dir.join(MANIFEST_FILE).display().to_string(),
                None,
                None,
                format!(
                    "--skip-missing {}: the snapshot has no such table or column",
                    item.argument()
                ),
            )
        })
        .collect();
    problem::check_counted(
        ExitKind::BadInput,
        "cannot leave out what the snapshot does not have",
        &unknown,
    )?;
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
    Ok((derived, warnings, stale))
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

    #[test]
    fn names_holding_dots_are_double_quoted_and_read_back() {
        let odd = SkipItem::Table(QualifiedName::new("app", "odd.table"));
        assert_eq!(odd.argument(), "'app.\"odd.table\"'");
        assert_eq!(SkipItem::parse("app.\"odd.table\""), Ok(odd));
        let column = SkipItem::Column(QualifiedName::new("app", "users"), "a.b".into());
        assert_eq!(SkipItem::parse("app.users.\"a.b\""), Ok(column.clone()));
        assert_eq!(column.argument(), "'app.users.\"a.b\"'");
        // A space only needs the shell's quotes; a plain name none.
        let spaced = SkipItem::Column(QualifiedName::new("app", "users"), "Display Name".into());
        assert_eq!(spaced.argument(), "'app.users.Display Name'");
        assert_eq!(SkipItem::parse("app.users.Display Name"), Ok(spaced));
        let plain = SkipItem::Table(QualifiedName::new("app", "old_table"));
        assert_eq!(plain.argument(), "app.old_table");
        // A single quote in a name is escaped for the shell.
        let quote = SkipItem::Table(QualifiedName::new("app", "it's"));
        assert_eq!(quote.argument(), "'app.it'\\''s'");
        assert!(SkipItem::parse("a.b.c.d").is_err());
    }
}
