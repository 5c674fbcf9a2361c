//! One table's data file and manifest entry, written from a database: the header line plus
//! what a `COPY … TO STDOUT` prints, and the manifest entry built from the catalog. Shared by
//! `export` and the import's `--truncate-first` backup.

use anyhow::{Context, Result};
use std::io::Write;

use crate::catalog::{Catalog, MatchRule};
use crate::connection::ReadSession;
use crate::report::{CountingWriter, Progress};
use crate::snapshot::copy_text;
use crate::snapshot::file_name::file_name;
use crate::snapshot::manifest::{ManifestColumn, ManifestForeignKey, ManifestUniqueKey};
use crate::snapshot::{ManifestTable, SnapshotWriter};

/// Where a data file's rows come from.
pub enum Rows<'a> {
    /// None: the header line only.
    Empty,
    /// What this `COPY … TO STDOUT` prints, streamed.
    Copy(&'a str),
    /// COPY text already in memory (masked rows, see [`crate::masking`]).
    Buffered(&'a [u8]),
}

/// Writes table `t`'s data file into `writer`: the header line, then the rows. `doing` names
/// the work in an error and in the live progress of a COPY ("backing up"), with the number
/// of rows `expected` when known. Returns the file's name, its SHA-256 and its number of
/// rows.
pub fn write_table_file(
    writer: &SnapshotWriter,
    client: &mut dyn ReadSession,
    catalog: &Catalog,
    t: usize,
    rows: Rows<'_>,
    doing: &str,
    (progress, expected): (&Progress, Option<u64>),
) -> Result<(String, String, u64)> {
    let table = &catalog.tables[t];
    let file = file_name(&table.name);
    let mut out = writer.table_file(&file)?;
    let columns: Vec<&str> = table.stored_columns().map(|c| c.name.as_str()).collect();
    out.write_all(copy_text::header_line(columns.iter().copied()).as_bytes())?;
    match rows {
        Rows::Empty => {}
        Rows::Copy(sql) => {
            let mut reader = client
                .copy_out_text(sql)
                .with_context(|| format!("{doing} {}", table.name))?;
            let rows = progress.rows(&format!("{doing} {}", table.name), expected);
            let mut counted = CountingWriter {
                inner: &mut out,
                progress: &rows,
            };
            std::io::copy(&mut reader, &mut counted)
                .with_context(|| format!("{doing} {} into {file}", table.name))?;
        }
        Rows::Buffered(data) => out
            .write_all(data)
            .with_context(|| format!("writing rows of {} into {file}", table.name))?,
    }
    let (sha256, lines) = out.finish()?;
    Ok((file, sha256, lines - 1))
}

/// How many rows a data file holds, and how they were chosen.
pub struct RowCounts {
    pub rows: u64,
    pub sampled: u64,
    pub backfilled: u64,
}

/// The manifest entry for table `t` of a catalog.
pub fn manifest_table(
    catalog: &Catalog,
    t: usize,
    file: String,
    counts: RowCounts,
    sha256: String,
) -> ManifestTable {
    let table = &catalog.tables[t];
    ManifestTable {
        schema: table.name.schema.clone(),
        name: table.name.name.clone(),
        file,
        columns: table
            .stored_columns()
            .map(|c| ManifestColumn {
                name: c.name.clone(),
                type_name: c.type_name.to_string(),
                not_null: c.not_null,
                identity: c.identity,
            })
            .collect(),
        key: table.row_key(),
        unique_keys: table
            .other_unique_keys()
            .map(|key| ManifestUniqueKey {
                name: key.name.clone(),
                columns: key.columns.clone(),
                nulls_not_distinct: key.nulls_not_distinct,
            })
            .collect(),
        foreign_keys: catalog
            .outgoing(t)
            .map(|(_, fk)| ManifestForeignKey {
                name: fk.name.clone(),
                columns: fk.columns.clone(),
                references: catalog.tables[fk.parent].name.clone(),
                referenced_columns: fk.parent_columns.clone(),
                deferrable: fk.deferrable(),
                match_full: fk.match_rule == MatchRule::Full,
                virtual_key: fk.is_virtual(),
                when: fk.condition().to_vec(),
                partitions: fk
                    .partition
                    .as_ref()
                    .map(|scope| scope.leaves.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        rows: counts.rows,
        sampled: counts.sampled,
        backfilled: counts.backfilled,
        sha256,
        partitions: Vec::new(),
    }
}
