//! The masked snapshot an export would replace: an export never writes, with the source's
//! values, a column that the snapshot already in its directory lists as masked, unless told to
//! (`--allow-unmasked`).
//!
//! A snapshot directory is committed. Masking rules live in the config file, so an export run
//! without that file (from another directory, with `--no-config`, or with a config that lost
//! its `[masking]` section or a rule) would otherwise write the source's personal data over the
//! masked values, and the next commit would carry it into git. The previous manifest says
//! which columns were masked (`masking.columns`); each of those that this export writes and
//! does not mask (with a rule of its own for the column, or for the whole column when the
//! previous rule was for a JSON path inside it) is a problem, and the export stops before
//! writing anything (exit code 4). A rule turned into `keep` unmasks its column too, and is
//! refused the same way: `--allow-unmasked` says it is meant.
//!
//! The previous manifest is read leniently: only `masking.columns[].column` and `rule`. A
//! manifest that is missing or cannot be read as JSON says nothing, and the export goes on.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;

use super::{ColumnName, Plan};
use crate::catalog::Catalog;
use crate::error::ExitKind;
use crate::problem::{self, Problem, ProblemKind};
use crate::snapshot::manifest::MANIFEST_FILE;

/// A column the previous snapshot masked: `schema.table.column`, or with `#path` for a rule
/// inside a JSON value, and the rule it was masked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviouslyMasked {
    pub column: String,
    pub rule: String,
}

/// What the manifest in `dir` lists as masked; nothing when there is no manifest or it cannot
/// be read.
pub fn previously_masked(dir: &Path) -> Vec<PreviouslyMasked> {
    let Ok(text) = std::fs::read(dir.join(MANIFEST_FILE)) else {
        return Vec::new();
    };
    let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let columns = manifest["masking"]["columns"].as_array();
    columns
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(PreviouslyMasked {
                column: c["column"].as_str()?.to_string(),
                rule: c["rule"].as_str().unwrap_or("?").to_string(),
            })
        })
        .collect()
}

/// The columns this export writes, as masking names them (`schema.table.column`).
pub fn written_columns(catalog: &Catalog) -> BTreeSet<String> {
    catalog
        .tables
        .iter()
        .flat_map(|table| {
            // Generated columns are not written: nothing of theirs can leak.
            table.stored_columns().map(|column| {
                ColumnName {
                    table: table.name.clone(),
                    column: column.name.clone(),
                }
                .to_string()
            })
        })
        .collect()
}

/// Of the previously masked columns, those this export would write with the source's values:
/// written (`written` holds the column, the part before `#` for a JSON path) and without a rule
/// in `masked` for the same column and path, or for the whole column.
pub fn unmasked_again<'p>(
    previous: &'p [PreviouslyMasked],
    masked: &BTreeSet<&str>,
    written: &BTreeSet<String>,
) -> Vec<&'p PreviouslyMasked> {
    previous
        .iter()
        .filter(|p| {
            // A column whose own name holds `#` is written under its whole name; otherwise
            // the part before `#` is the column and the rest a JSON path inside it.
            let whole = match written.contains(&p.column) {
                true => p.column.as_str(),
                false => p.column.split('#').next().unwrap_or(&p.column),
            };
            written.contains(whole)
                && !masked.contains(p.column.as_str())
                && !masked.contains(whole)
        })
        .collect()
}

/// Fails (exit code 4, nothing written) when this export would write a column that the
/// snapshot in `dir` has masked with the source's values, unless `allowed`.
pub fn refuse_unmasking(
    dir: &Path,
    catalog: &Catalog,
    plan: &Plan,
    rules_in_use: bool,
    allowed: bool,
) -> Result<()> {
    if allowed {
        return Ok(());
    }
    let previous = previously_masked(dir);
    if previous.is_empty() {
        return Ok(());
    }
    let masked: BTreeSet<&str> = plan.columns.iter().map(|c| c.column.as_str()).collect();
    let leaks = unmasked_again(&previous, &masked, &written_columns(catalog));
    if leaks.is_empty() {
        return Ok(());
    }
    let manifest = dir.join(MANIFEST_FILE).display().to_string();
    let problems: Vec<Problem> = leaks
        .iter()
        .map(|leak| {
            let (table, column) = split_column(&leak.column);
            let message = match leak.column.contains('#') && !masked.contains(leak.column.as_str())
            {
                // A misspelt path is listed as masked though it reached nothing: renaming it is
                // what --allow-unmasked is for, once, after checking the new path's warning.
                true => format!(
                    "{} was masked ({}); if that path was misspelt and reached nothing (the \
                     export that wrote it warned so), the corrected rule replaces it with \
                     --allow-unmasked, once",
                    leak.column, leak.rule
                ),
                false => format!("{} was masked ({})", leak.column, leak.rule),
            };
            Problem::in_file(&manifest, None, None, message)
                .kind(ProblemKind::Directory)
                .table(table)
                .column(column)
        })
        .collect();
    let way_out = match rules_in_use {
        false => {
            "No masking rules are in use (no config file with [masking], no --mask): export \
             with the config file that masks them (--config FILE)"
        }
        true => "Add rules for them to [masking.columns] of the config file, or --mask them",
    };
    problem::check(
        ExitKind::BadInput,
        format!(
            "the snapshot in {} has masked columns that this export would write with the \
             source's values, where a commit would carry them; nothing was written. {way_out}, \
             or pass --allow-unmasked to replace them on purpose ({} problem(s)):",
            dir.display(),
            problems.len()
        ),
        &problems,
    )
}

/// `schema.table` and `column[#path]` of a masked column's name.
fn split_column(name: &str) -> (String, String) {
    let whole = name.split('#').next().unwrap_or(name);
    match ColumnName::parse(whole) {
        Some(parsed) => (
            parsed.table.to_string(),
            name[whole.len() - parsed.column.len()..].to_string(),
        ),
        None => (String::new(), name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn previous(columns: &[&str]) -> Vec<PreviouslyMasked> {
        columns
            .iter()
            .map(|c| PreviouslyMasked {
                column: c.to_string(),
                rule: "email".into(),
            })
            .collect()
    }

    fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    fn written(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_masked_column_written_without_its_rule_is_unmasked_again() {
        let previous = previous(&["app.users.email", "app.users.name", "app.gone.email"]);
        let written = written(&["app.users.email", "app.users.name", "app.users.id"]);
        // No rules: both written columns, not the table that is gone.
        let leaks = unmasked_again(&previous, &set(&[]), &written);
        let names: Vec<&str> = leaks.iter().map(|l| l.column.as_str()).collect();
        assert_eq!(names, ["app.users.email", "app.users.name"]);
        // A rule for one of them.
        let leaks = unmasked_again(&previous, &set(&["app.users.name"]), &written);
        assert_eq!(leaks.len(), 1);
        assert_eq!(leaks[0].column, "app.users.email");
        assert!(unmasked_again(
            &previous,
            &set(&["app.users.name", "app.users.email"]),
            &written
        )
        .is_empty());
    }

    #[test]
    fn a_json_path_is_covered_by_its_own_rule_or_a_rule_for_the_whole_column() {
        let previous = previous(&["app.users.settings#profile.email"]);
        let written = written(&["app.users.settings"]);
        assert_eq!(unmasked_again(&previous, &set(&[]), &written).len(), 1);
        assert_eq!(
            unmasked_again(&previous, &set(&["app.users.settings#other"]), &written).len(),
            1
        );
        assert!(unmasked_again(
            &previous,
            &set(&["app.users.settings#profile.email"]),
            &written
        )
        .is_empty());
        assert!(unmasked_again(&previous, &set(&["app.users.settings"]), &written).is_empty());
        // A whole column masked before is not covered by a path rule inside it now.
        let previous = super::tests::previous(&["app.users.settings"]);
        assert_eq!(
            unmasked_again(
                &previous,
                &set(&["app.users.settings#profile.email"]),
                &written
            )
            .len(),
            1
        );
    }

    #[test]
    fn a_column_whose_name_holds_a_hash_is_not_taken_for_a_json_path() {
        let previous = previous(&["app.users.we#ird"]);
        let written = written(&["app.users.we#ird"]);
        assert_eq!(unmasked_again(&previous, &set(&[]), &written).len(), 1);
        assert!(unmasked_again(&previous, &set(&["app.users.we#ird"]), &written).is_empty());
    }

    #[test]
    fn a_manifest_that_is_missing_or_unreadable_lists_nothing() {
        let dir = std::env::temp_dir().join(format!("seedsnap-replaced-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(previously_masked(&dir).is_empty());
        std::fs::write(dir.join(MANIFEST_FILE), "{ not json").unwrap();
        assert!(previously_masked(&dir).is_empty());
        std::fs::write(
            dir.join(MANIFEST_FILE),
            r#"{"masking": {"columns": [{"column": "app.users.email", "rule": "email"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            previously_masked(&dir),
            [PreviouslyMasked {
                column: "app.users.email".into(),
                rule: "email".into()
            }]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_column_name_splits_into_table_and_column_with_its_path() {
        assert_eq!(
            split_column("app.users.email"),
            ("app.users".to_string(), "email".to_string())
        );
        assert_eq!(
            split_column("app.users.settings#profile.email"),
            (
                "app.users".to_string(),
                "settings#profile.email".to_string()
            )
        );
    }
}
