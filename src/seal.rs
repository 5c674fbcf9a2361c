//! `seedsnap seal`: accept hand edits of a snapshot's data files.
//!
//! A person may edit a value or add a row in a committed TSV file (in a pull request, say);
//! the manifest's checksum and row count then no longer match, and every import refuses the
//! snapshot. `seal` recomputes both from the files, then runs the whole offline verification on
//! the result — header, every line's format, key values their column's type accepts, duplicate
//! values of the row key and of the other unique keys the manifest records, every foreign key resolving inside the snapshot, key values compared as PostgreSQL
//! compares them (see [`crate::snapshot::key_values`]: a hand-written `03` is the key `3`) —
//! and writes the new `manifest.json` only when all of it passes. Otherwise it lists, with
//! file, line and column, what would not import, and changes nothing (exit 4, foreign keys
//! that do not resolve included: nothing was written).
//!
//! Rows added by hand count as sampled rows. Columns and tables cannot be added this way: the
//! header must still list the manifest's columns.

use std::fs;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ExitKind;
use crate::problem;
use crate::snapshot::manifest::MANIFEST_FILE;
use crate::snapshot::{keys, SnapshotDir};

/// A table whose manifest entry `seal` changed.
#[derive(Debug, Clone, Serialize)]
pub struct SealedTable {
    pub table: String,
    pub file: String,
    pub rows_before: u64,
    pub rows: u64,
    pub sha256_before: String,
    pub sha256: String,
    /// The columns of the table the manifest lists as masked: seal cannot tell a value
    /// written by hand from a masked one, so edits there are the editor's to vouch for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masked_columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SealReport {
    pub snapshot: String,
    pub tables: usize,
    pub rows: u64,
    /// The tables whose entries changed; empty: the manifest already matched.
    pub changed: Vec<SealedTable>,
}

/// SHA-256 and number of lines of a file, a last line without its newline counted too (as
/// the file check counts rows: that line is reported as truncated, not as a wrong count that
/// `seal` itself would fix).
fn digest(path: &Path) -> Result<(String, u64)> {
    let mut reader = BufReader::with_capacity(
        256 * 1024,
        crate::snapshot::open_regular(path)
            .with_context(|| format!("reading {}", path.display()))?,
    );
    let mut hasher = Sha256::new();
    let mut lines = 0u64;
    let mut last = b'\n';
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        lines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buffer[n - 1];
    }
    lines += u64::from(last != b'\n');
    Ok((crate::snapshot::hex(&hasher.finalize()), lines))
}

pub fn run(dir: &Path) -> Result<SealReport> {
    remove_leftover_manifests(dir)?;
    let mut snapshot = SnapshotDir::open(dir)?;
    let mut changed = Vec::new();
    for table in &mut snapshot.manifest.tables {
        let path = dir.join(&table.file);
        let (sha256, lines) = digest(&path)?;
        let rows = lines.saturating_sub(1);
        if sha256 == table.sha256 && rows == table.rows {
            continue;
        }
        let prefix = format!("{}.", table.qualified_name());
        let masked_columns = snapshot
            .manifest
            .masking
            .iter()
            .flat_map(|m| &m.columns)
            .filter_map(|c| c.column.strip_prefix(&prefix).map(str::to_string))
            .collect();
        changed.push(SealedTable {
            masked_columns,
            table: table.qualified_name().to_string(),
            file: path.display().to_string(),
            rows_before: table.rows,
            rows,
            sha256_before: table.sha256.clone(),
            sha256: sha256.clone(),
        });
        table.sha256 = sha256;
        table.rows = rows;
        table.backfilled = table.backfilled.min(rows);
        table.sampled = rows - table.backfilled;
    }
    let refused = format!(
        "{} cannot be sealed: fix these and run seal again; nothing was changed",
        dir.display()
    );
    let mut problems = snapshot.check_files()?;
    // Duplicate keys leave every row readable, so the foreign keys are checked beside them and
    // one run lists everything to fix. Any other problem (a line that does not parse, a value
    // a key cannot compare) leaves rows out of the check, whose parents would then be reported
    // missing too: those problems come alone, first.
    if !problems.is_empty()
        && problems
            .iter()
            .all(|p| p.kind == problem::ProblemKind::DuplicateKey)
    {
        problems.extend(keys::problems(&keys::unresolved(&snapshot)?.keys));
    }
    problem::check_counted(ExitKind::BadInput, &refused, &problems)?;
    let unresolved = keys::unresolved(&snapshot)?.keys;
    if !unresolved.is_empty() {
        let error = keys::describe(&unresolved);
        return Err(problem::with_problems(
            ExitKind::BadInput,
            format!("{refused}: {error}"),
            keys::problems(&unresolved),
        ));
    }
    if !changed.is_empty() {
        write_manifest(&snapshot)?;
    }
    Ok(SealReport {
        snapshot: dir.display().to_string(),
        tables: snapshot.manifest.tables.len(),
        rows: snapshot.manifest.tables.iter().map(|t| t.rows).sum(),
        changed,
    })
}

/// Replaces `manifest.json` atomically (a new file renamed over the old one).
fn write_manifest(snapshot: &SnapshotDir) -> Result<()> {
    let mut manifest = snapshot.manifest.clone();
    // Filled in from the local identity file on reading; it never goes into the manifest.
    manifest.source.system_identifier.clear();
    let path = snapshot.dir.join(MANIFEST_FILE);
    let temp = snapshot
        .dir
        .join(format!("{SEAL_TEMP_PREFIX}{}", std::process::id()));
    let written = fs::write(&temp, manifest.to_json())
        .and_then(|()| fs::File::open(&temp)?.sync_all())
        .with_context(|| format!("writing {}", temp.display()))
        .and_then(|()| {
            fs::rename(&temp, &path).with_context(|| format!("replacing {}", path.display()))
        });
    if written.is_err() {
        // The manifest is still the old one; no half-written copy is left beside it.
        let _ = fs::remove_file(&temp);
    }
    written.map_err(|e| e.context("the manifest was not changed"))
}

/// The name of `seal`'s new manifest until it replaces the old one, before the process id.
pub const SEAL_TEMP_PREFIX: &str = ".manifest.json.seal-";

/// Removes new manifests that a `seal` killed before its rename left behind (its process is
/// gone): the manifest beside them is still the one they would have replaced.
fn remove_leftover_manifests(dir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(()); // Opening the snapshot says what is wrong with the directory.
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(SEAL_TEMP_PREFIX) else {
            continue;
        };
        // Another seal of the same directory still running keeps its file.
        let running = pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && crate::snapshot::directory::process_alive(pid)
        });
        if !running {
            fs::remove_file(entry.path()).with_context(|| {
                format!(
                    "removing {}, left by an interrupted seal",
                    entry.path().display()
                )
            })?;
        }
    }
    Ok(())
}

pub fn render(report: &SealReport) -> String {
    let mut text = String::new();
    for table in &report.changed {
        text.push_str(&format!(
            "{}: {} rows (was {}), checksum {}\n",
            table.file,
            table.rows,
            table.rows_before,
            if table.sha256 == table.sha256_before {
                "unchanged"
            } else {
                "updated"
            }
        ));
        if !table.masked_columns.is_empty() {
            text.push_str(&format!(
                "  warning: {} holds masked columns ({}): seal cannot tell a value written by \
                 hand from a masked one; make sure the edited rows carry no personal data \
                 before committing\n",
                table.table,
                table.masked_columns.join(", ")
            ));
        }
    }
    text.push_str(&if report.changed.is_empty() {
        format!(
            "{}: the manifest already matches the files ({} tables, {} rows); nothing to seal\n",
            report.snapshot, report.tables, report.rows
        )
    } else {
        format!(
            "sealed {}: {} table(s) changed; {} tables, {} rows, every foreign key resolves \
             inside the snapshot\n",
            report.snapshot,
            report.changed.len(),
            report.tables,
            report.rows
        )
    });
    text
}
