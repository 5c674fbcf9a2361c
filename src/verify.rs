//! `seedsnap verify`: an offline check of a snapshot directory. The files must match the
//! manifest (see [`crate::snapshot::directory`]), and every foreign-key value of every row must
//! have its parent row in the snapshot. The first few offenders of each foreign key are
//! reported with file and line. Given the config's `[masking]`, it also tells a snapshot masked
//! with another key or other rules.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::connection::ProcessEnvironment;
use crate::error::{failure, ExitKind};
use crate::masking::MaskingOptions;
use crate::problem;
use crate::snapshot::{copy_text, SnapshotDir};

const EXAMPLES_PER_KEY: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct UnresolvedKey {
    pub table: String,
    pub foreign_key: String,
    pub references: String,
    pub rows: u64,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub snapshot: String,
    pub tables: usize,
    pub rows: u64,
    pub foreign_keys_checked: usize,
    pub unresolved: Vec<UnresolvedKey>,
    /// Why the snapshot's masking does not match the config's `[masking]`, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masking: Option<String>,
}

type Tuple = Vec<Vec<u8>>;

/// Verifies the snapshot in `dir`; with `masking` (the config's `[masking]`), also that it was
/// masked with that key and those rules (see [`crate::masking::compare`]).
pub fn run(dir: &Path, masking: Option<&MaskingOptions>) -> Result<VerifyReport> {
    let snapshot = SnapshotDir::open(dir)?;
    let problems = snapshot.check_files()?;
    problem::check(
        ExitKind::BadInput,
        problem::counted(
            &format!("the snapshot in {} is not valid", dir.display()),
            &problems,
        ),
        &problems,
    )?;
    let mut report = foreign_keys(&snapshot)?;
    report.masking = masking.and_then(|options| {
        crate::masking::compare(
            snapshot.manifest.masking.as_ref(),
            options,
            &ProcessEnvironment,
        )
    });
    Ok(report)
}

/// Checks that every foreign-key value of a snapshot whose files passed
/// [`SnapshotDir::check_files`] has its parent row in the snapshot.
pub fn foreign_keys(snapshot: &SnapshotDir) -> Result<VerifyReport> {
    let dir = &snapshot.dir;
    let manifest = &snapshot.manifest;
    let index_of: HashMap<_, usize> = manifest
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.qualified_name(), i))
        .collect();

    // Which column sets of which tables are referenced.
    let mut wanted: HashMap<usize, Vec<Vec<usize>>> = HashMap::new();
    let mut checks = 0;
    for table in &manifest.tables {
        for fk in &table.foreign_keys {
            let parent = index_of[&fk.references];
            let columns: Vec<usize> = fk
                .referenced_columns
                .iter()
                .map(|c| {
                    manifest.tables[parent]
                        .column_index(c)
                        .expect("checked by the manifest")
                })
                .collect();
            let sets = wanted.entry(parent).or_default();
            if !sets.contains(&columns) {
                sets.push(columns);
            }
            checks += 1;
        }
    }

    // Collect the referenced tuples present in each parent file.
    let mut present: HashMap<(usize, Vec<usize>), HashSet<Tuple>> = HashMap::new();
    let mut scratch = Vec::new();
    for (&parent, sets) in &wanted {
        let mut found: Vec<HashSet<Tuple>> = vec![HashSet::new(); sets.len()];
        snapshot.scan(&manifest.tables[parent], &mut scratch, |_, fields| {
            for (set, columns) in found.iter_mut().zip(sets) {
                if columns.iter().all(|&c| fields[c] != b"\\N") {
                    set.insert(columns.iter().map(|&c| fields[c].to_vec()).collect());
                }
            }
            Ok(())
        })?;
        for (set, columns) in found.into_iter().zip(sets) {
            present.insert((parent, columns.clone()), set);
        }
    }

    let mut unresolved = Vec::new();
    for table in &manifest.tables {
        for fk in &table.foreign_keys {
            let parent = index_of[&fk.references];
            let parent_columns: Vec<usize> = fk
                .referenced_columns
                .iter()
                .map(|c| manifest.tables[parent].column_index(c).expect("checked"))
                .collect();
            let columns: Vec<usize> = fk
                .columns
                .iter()
                .map(|c| table.column_index(c).expect("checked"))
                .collect();
            let keys = &present[&(parent, parent_columns)];
            // A polymorphic key applies to a row only when its discriminator matches; the
            // value is compared in the file's own (COPY text) encoding.
            let condition: Vec<(usize, Vec<u8>)> = fk
                .when
                .iter()
                .map(|c| {
                    (
                        table.column_index(&c.column).expect("checked"),
                        copy_text::encode_field(&c.value).into_bytes(),
                    )
                })
                .collect();
            // A key declared on partitions applies only to the rows of its leaves.
            let covered = crate::partition_keys::covered_rows(table, fk);
            let mut rows = 0u64;
            let mut examples = Vec::new();
            let file = snapshot.file_path(table).display().to_string();
            snapshot.scan(table, &mut scratch, |line, fields| {
                let nulls = columns.iter().filter(|&&c| fields[c] == b"\\N").count();
                // Line 1 is the header.
                let row = line.saturating_sub(2);
                let in_scope = covered
                    .as_ref()
                    .map_or(true, |ranges| ranges.iter().any(|r| r.contains(&row)));
                let applies = in_scope
                    && condition
                        .iter()
                        .all(|(c, value)| fields[*c] == value.as_slice());
                let needs_parent = applies
                    && if fk.match_full {
                        nulls < columns.len()
                    } else {
                        nulls == 0
                    };
                if needs_parent {
                    let tuple: Tuple = columns.iter().map(|&c| fields[c].to_vec()).collect();
                    if !keys.contains(&tuple) {
                        rows += 1;
                        if examples.len() < EXAMPLES_PER_KEY {
                            let values: Vec<String> = tuple
                                .iter()
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                                .collect();
                            examples.push(format!(
                                "{file} line {line}: ({}) = ({}) has no row in {}",
                                fk.columns.join(", "),
                                values.join(", "),
                                fk.references
                            ));
                        }
                    }
                }
                Ok(())
            })?;
            if rows > 0 {
                unresolved.push(UnresolvedKey {
                    table: table.qualified_name().to_string(),
                    foreign_key: fk.name.clone(),
                    references: fk.references.to_string(),
                    rows,
                    examples,
                });
            }
        }
    }
    Ok(VerifyReport {
        snapshot: dir.display().to_string(),
        tables: manifest.tables.len(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
        foreign_keys_checked: checks,
        unresolved,
        masking: None,
    })
}

/// The error for a report with unresolved keys.
pub fn failure_of(report: &VerifyReport) -> Option<anyhow::Error> {
    if let Some(problem) = &report.masking {
        return Some(failure(ExitKind::VerificationFailed, problem.clone()));
    }
    if report.unresolved.is_empty() {
        return None;
    }
    let mut text = format!(
        "{} foreign key(s) do not resolve inside the snapshot:",
        report.unresolved.len()
    );
    for key in &report.unresolved {
        text.push_str(&format!(
            "\n  - {} ({}) -> {}: {} rows",
            key.table, key.foreign_key, key.references, key.rows
        ));
        for example in &key.examples {
            text.push_str(&format!("\n      {example}"));
        }
    }
    Some(failure(ExitKind::VerificationFailed, text))
}

pub fn render_summary(report: &VerifyReport) -> String {
    format!(
        "{}: {} tables, {} rows, {} foreign keys checked, {}{}\n",
        report.snapshot,
        report.tables,
        report.rows,
        report.foreign_keys_checked,
        if report.unresolved.is_empty() {
            "every foreign key resolves inside the snapshot".to_string()
        } else {
            format!("{} foreign keys do not resolve", report.unresolved.len())
        },
        if report.masking.is_some() {
            "; its masking does not match the config file's [masking]"
        } else {
            ""
        }
    )
}
