//! Rows sent as batched `INSERT … VALUES` statements instead of one COPY per file, for a
//! target whose round trips are slow (a database in the cloud).
//!
//! A COPY through the blocking `postgres` driver costs three round trips (prepare, start,
//! finish) whatever its size, and it cannot be overlapped with the next one: 1,000 small
//! files through a 5 ms link spend 15 s waiting. An `INSERT … VALUES` of a whole file is one
//! statement, and many of them go to the server as one simple-protocol message (up to 8 MB of
//! SQL text), so those files cost a few round trips in all. The server parses literals more
//! slowly than COPY lines (about 2.5 µs more per row, measured on the 1,000-table bench
//! schema: 1.0 s by COPY, 1.9 s by INSERT), so [`Transport::for_file`] keeps COPY for local
//! servers and for files large enough to pay for their round trips.
//!
//! The values are exactly what COPY would store: each field is decoded from COPY text and
//! written as a standard-conforming string literal (`'…'`, quotes doubled), which PostgreSQL
//! types through the column's input function with its type modifier, as COPY does. Each file
//! is one statement, as its COPY would be, so a row may reference a row later in the same file
//! (a self-reference) just as it may under COPY. A batch the server refuses is reported as
//! refused; the import then lists every refused value file by file, with COPY (see
//! `list_refused_values`), so the messages name file, line and column as before.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::ValueEnum;
use postgres::Transaction;
use serde::Serialize;

use crate::report::Progress;
use crate::snapshot::copy_text;
use crate::snapshot::{manifest, Problem, SnapshotDir};

use super::fk_violation;

/// `--load-via`: how rows travel to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadVia {
    /// COPY, except small files when a round trip to the target takes 1 ms or more.
    #[default]
    Auto,
    /// One COPY per file.
    Copy,
    /// Batched INSERT statements for every file up to the batch size (larger ones by COPY).
    Insert,
}

/// How one file's rows travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Copy,
    Insert,
}

/// A round trip at or above which `auto` considers INSERT batches.
const SLOW_ROUND_TRIP: Duration = Duration::from_millis(1);
/// What the server spends parsing one row's literals beyond what COPY spends on its line.
const EXTRA_COST_PER_ROW: Duration = Duration::from_nanos(2_500);
/// The most SQL text sent as one message.
pub const MAX_BATCH_BYTES: usize = 8 << 20;
/// Round trips a COPY costs through the blocking driver.
const COPY_ROUND_TRIPS: u32 = 3;

impl Transport {
    /// COPY or INSERT for a file of `rows` rows and `bytes` bytes, given the setting and the
    /// target's round trip: INSERT only for files that fit in a batch and whose COPY round
    /// trips cost more than the extra parsing.
    pub fn for_file(setting: LoadVia, round_trip: Duration, rows: u64, bytes: u64) -> Transport {
        // Literals take up to about twice the file's size.
        let fits = bytes.saturating_mul(2) < MAX_BATCH_BYTES as u64;
        match setting {
            LoadVia::Copy => Transport::Copy,
            LoadVia::Insert if fits => Transport::Insert,
            LoadVia::Insert => Transport::Copy,
            LoadVia::Auto => {
                let copy_cost = round_trip * COPY_ROUND_TRIPS;
                let extra = EXTRA_COST_PER_ROW.saturating_mul(rows.min(u32::MAX as u64) as u32);
                if fits && round_trip >= SLOW_ROUND_TRIP && copy_cost > extra {
                    Transport::Insert
                } else {
                    Transport::Copy
                }
            }
        }
    }
}

/// The target's round trip: the fastest of three empty queries.
pub fn measure_round_trip(txn: &mut Transaction<'_>) -> Result<Duration> {
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        txn.simple_query("")
            .context("measuring the round trip to the target")?;
        fastest = fastest.min(started.elapsed());
    }
    Ok(fastest)
}

/// The statement that inserts a file's rows, up to the VALUES: `INSERT INTO t (a, b)
/// [OVERRIDING SYSTEM VALUE] VALUES `.
pub fn insert_prefix(target_sql: &str, columns: &[String], overriding: bool) -> String {
    let list: Vec<String> = columns
        .iter()
        .map(|c| crate::catalog::quote_ident(c))
        .collect();
    format!(
        "INSERT INTO {target_sql} ({}){} VALUES ",
        list.join(", "),
        if overriding {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        }
    )
}

/// Why a file cannot go as literals (it then goes by COPY, which reports it precisely).
#[derive(Debug, PartialEq, Eq)]
pub struct NotLiteral;

/// Appends one COPY text line as a VALUES tuple: `(NULL, '…')`.
pub fn push_tuple(out: &mut String, line: &[u8]) -> Result<(), NotLiteral> {
    out.push('(');
    for (i, field) in copy_text::split_fields(line).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match copy_text::decode_field(field).map_err(|_| NotLiteral)? {
            None => out.push_str("NULL"),
            Some(bytes) => {
                let text = std::str::from_utf8(&bytes).map_err(|_| NotLiteral)?;
                out.push('\'');
                for c in text.chars() {
                    if c == '\'' {
                        out.push('\'');
                    }
                    out.push(c);
                }
                out.push('\'');
            }
        }
    }
    out.push(')');
    Ok(())
}

/// One file's rows (its lines after the header) as a whole statement: `prefix` then the
/// tuples, `;` at the end.
pub fn file_statement(prefix: &str, rows: &[u8]) -> Result<String, NotLiteral> {
    let mut sql = String::with_capacity(prefix.len() + rows.len() * 2);
    sql.push_str(prefix);
    let mut first = true;
    for line in rows.split(|&b| b == b'\n') {
        if line.is_empty() && !first {
            continue;
        }
        if line.is_empty() {
            // A file of no rows never gets here; an empty first line is a row of a table
            // without columns, which goes by COPY.
            return Err(NotLiteral);
        }
        if !first {
            sql.push_str(",\n");
        }
        first = false;
        push_tuple(&mut sql, line)?;
    }
    if first {
        return Err(NotLiteral);
    }
    sql.push_str(";\n");
    Ok(sql)
}

/// INSERT statements of whole files waiting to be sent as one message, and how many files
/// went which way.
#[derive(Default)]
pub(super) struct InsertBatch {
    text: String,
    /// The files in `text`: (schema, table) and the manifest entry's file name.
    files: Vec<(String, String, String)>,
    rows: u64,
    pub(super) files_by_insert: usize,
    pub(super) files_by_copy: usize,
}

impl InsertBatch {
    /// Adds a file's statements, sending what the batch holds first when they would not fit.
    pub(super) fn add(
        &mut self,
        txn: &mut Transaction<'_>,
        sql: String,
        table: &manifest::ManifestTable,
        snapshot: &SnapshotDir,
        progress: &Progress,
    ) -> Result<Option<Problem>> {
        if self.text.len() + sql.len() > MAX_BATCH_BYTES {
            if let Some(problem) = self.send(txn, snapshot, progress)? {
                return Ok(Some(problem));
            }
        }
        self.text.push_str(&sql);
        self.files
            .push((table.schema.clone(), table.name.clone(), table.file.clone()));
        self.rows += table.rows;
        self.files_by_insert += 1;
        Ok(None)
    }

    /// Sends the statements held, if any. A refusal names the file of the table the server
    /// names (a constraint's table), else every file of the batch.
    pub(super) fn send(
        &mut self,
        txn: &mut Transaction<'_>,
        snapshot: &SnapshotDir,
        progress: &Progress,
    ) -> Result<Option<Problem>> {
        if self.files.is_empty() {
            return Ok(None);
        }
        let _step = progress.step(&format!(
            "inserting {} rows of {} tables in one batch",
            self.rows,
            self.files.len()
        ));
        let result = txn.batch_execute(&self.text);
        let files = std::mem::take(&mut self.files);
        self.text.clear();
        self.rows = 0;
        let error = match result {
            Ok(()) => return Ok(None),
            Err(error) => error,
        };
        let Some(db) = error.as_db_error() else {
            return Err(error.into());
        };
        if let Some(problem) = fk_violation::problem(db, snapshot) {
            return Ok(Some(problem));
        }
        let named: Vec<&(String, String, String)> = files
            .iter()
            .filter(|(schema, name, _)| {
                db.table() == Some(name.as_str())
                    && db.schema().is_none_or(|s| s == schema.as_str())
            })
            .collect();
        let place = match named.as_slice() {
            [] => files
                .iter()
                .map(|(_, _, file)| file.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            [one, ..] => one.2.clone(),
        };
        let detail = db.detail().map(|d| format!(" ({d})")).unwrap_or_default();
        Ok(Some(
            Problem::in_file(
                snapshot.dir.join(place).display().to_string(),
                None,
                None,
                format!("{}{detail}", db.message()),
            )
            .kind(crate::problem::ProblemKind::RefusedValue)
            .from_server(db),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn auto_keeps_copy_on_a_local_server() {
        let local = Duration::from_micros(80);
        assert_eq!(
            Transport::for_file(LoadVia::Auto, local, 100, 10_000),
            Transport::Copy
        );
    }

    #[test]
    fn auto_sends_small_files_as_inserts_when_round_trips_are_slow() {
        assert_eq!(
            Transport::for_file(LoadVia::Auto, ms(5), 350, 30_000),
            Transport::Insert
        );
        // 15 ms of round trips against 25 ms of parsing: COPY.
        assert_eq!(
            Transport::for_file(LoadVia::Auto, ms(5), 10_000, 900_000),
            Transport::Copy
        );
    }

    #[test]
    fn files_too_large_for_a_batch_go_by_copy_whatever_the_setting() {
        let big = MAX_BATCH_BYTES as u64;
        assert_eq!(
            Transport::for_file(LoadVia::Insert, ms(50), 10, big),
            Transport::Copy
        );
        assert_eq!(
            Transport::for_file(LoadVia::Insert, ms(0), 10, 100),
            Transport::Insert
        );
        assert_eq!(
            Transport::for_file(LoadVia::Copy, ms(50), 10, 100),
            Transport::Copy
        );
    }

    #[test]
    fn fields_become_literals_with_quotes_doubled_and_escapes_decoded() {
        let sql = file_statement(
            "INSERT INTO t (a, b) VALUES ",
            b"1\tit's\n2\t\\N\n3\ttab\\there\\\\ and\\nline\n",
        )
        .unwrap();
        assert_eq!(
            sql,
            "INSERT INTO t (a, b) VALUES ('1', 'it''s'),\n('2', NULL),\n('3', 'tab\there\\ and\nline');\n"
        );
    }

    #[test]
    fn rows_that_literals_cannot_carry_are_left_to_copy() {
        // A table without columns: its rows are empty lines.
        assert_eq!(
            file_statement("INSERT INTO t () VALUES ", b"\n\n"),
            Err(NotLiteral)
        );
        // A damaged escape.
        assert_eq!(
            file_statement("INSERT INTO t (a) VALUES ", b"\\q\n"),
            Err(NotLiteral)
        );
    }

    #[test]
    fn prefix_quotes_names_and_overrides_identity_when_asked() {
        assert_eq!(
            insert_prefix("\"app\".\"t\"", &["id".into(), "Name".into()], true),
            "INSERT INTO \"app\".\"t\" (\"id\", \"Name\") OVERRIDING SYSTEM VALUE VALUES "
        );
    }
}
