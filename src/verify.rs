//! `seedsnap verify`: an offline check of a snapshot directory, alone or with an overlay's
//! rows. The files must match the manifest (see [`crate::snapshot::directory`]), and the
//! values of each table's row key and of the other unique keys the manifest records must be
//! distinct (see [`crate::snapshot::unique`]; exit 4 otherwise); every foreign-key value of
//! every row must have its parent row in the snapshot (see [`crate::snapshot::keys`], which
//! `seal` and an overlay's merge use too; exit 5 otherwise, with or without an overlay). Key
//! values are compared as PostgreSQL compares them (see [`crate::snapshot::key_values`]). The first few offenders of each foreign key are
//! reported with file and line. Given the config's `[masking]`, it also tells a snapshot masked
//! with another key or other rules.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::connection::ProcessEnvironment;
use crate::error::{failure, ExitKind};
use crate::masking::MaskingOptions;
use crate::problem;
pub use crate::snapshot::keys::UnresolvedKey;
use crate::snapshot::{keys, overlay, SnapshotDir};

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub snapshot: String,
    pub tables: usize,
    pub rows: u64,
    /// The unique keys besides the row keys whose values were found distinct (see
    /// [`crate::snapshot::unique`]); 0 for a manifest written before they were recorded.
    pub unique_keys_checked: usize,
    pub foreign_keys_checked: usize,
    pub unresolved: Vec<UnresolvedKey>,
    /// Why the snapshot's masking does not match the config's `[masking]`, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masking: Option<String>,
    /// Why the snapshot's masking was not compared with the config's `[masking]`, when it
    /// was not: the key's variable is not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masking_not_compared: Option<String>,
}

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
    report.masking = compare_masking(&snapshot, masking);
    report.masking_not_compared = masking_not_compared(&snapshot, masking);
    Ok(report)
}

/// [`run`] on the snapshot in `dir` with the rows of the overlay in `overlay` added (see
/// [`overlay::merge_files`]): the same checks, the same exit codes (4 for files that are not
/// valid, 5 for foreign keys that do not resolve), problems named in the overlay's files.
pub fn run_with_overlay(
    dir: &Path,
    overlay: &Path,
    masking: Option<&MaskingOptions>,
) -> Result<VerifyReport> {
    let (merged, snapshot) = overlay::merge_files(dir, overlay, overlay::Caller::Verify)?;
    let mut report = foreign_keys(&snapshot)?;
    for example in report
        .unresolved
        .iter_mut()
        .flat_map(|key| key.examples.iter_mut())
    {
        *example = merged.relocate(example);
    }
    report.snapshot = format!("{} with the overlay {}", dir.display(), overlay.display());
    report.masking = compare_masking(&snapshot, masking);
    report.masking_not_compared = masking_not_compared(&snapshot, masking);
    Ok(report)
}

/// Why the snapshot's masking does not match the config's `[masking]`, when it does not.
fn compare_masking(snapshot: &SnapshotDir, masking: Option<&MaskingOptions>) -> Option<String> {
    masking.and_then(|options| {
        crate::masking::compare(
            snapshot.manifest.masking.as_ref(),
            options,
            &ProcessEnvironment,
        )
    })
}

/// Why the masking cannot be compared: the config has `[masking]`, the snapshot was masked,
/// and the key's variable is not set (the fingerprint is an HMAC under the key).
fn masking_not_compared(
    snapshot: &SnapshotDir,
    masking: Option<&MaskingOptions>,
) -> Option<String> {
    let options = masking.filter(|o| o.enabled)?;
    snapshot.manifest.masking.as_ref()?;
    match options.load_key(&ProcessEnvironment) {
        Ok(Some(_)) => None,
        _ => Some(format!(
            "{} (the masking key) is not set: the snapshot's masking was not compared with the \
             config file's [masking]",
            options.key_env
        )),
    }
}

/// Checks that every foreign-key value of a snapshot whose files passed
/// [`SnapshotDir::check_files`] has its parent row in the snapshot (see [`keys`]).
pub fn foreign_keys(snapshot: &SnapshotDir) -> Result<VerifyReport> {
    let manifest = &snapshot.manifest;
    let found = keys::unresolved(snapshot)?;
    Ok(VerifyReport {
        snapshot: snapshot.dir.display().to_string(),
        tables: manifest.tables.len(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
        unique_keys_checked: manifest.tables.iter().map(|t| t.unique_keys.len()).sum(),
        foreign_keys_checked: found.checked,
        unresolved: found.keys,
        masking: None,
        masking_not_compared: None,
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
    Some(problem::with_problems(
        ExitKind::VerificationFailed,
        keys::describe(&report.unresolved),
        keys::problems(&report.unresolved),
    ))
}

pub fn render_summary(report: &VerifyReport) -> String {
    format!(
        "{}: {} tables, {} rows, {} other unique keys and {} foreign keys checked, {}{}\n",
        report.snapshot,
        report.tables,
        report.rows,
        report.unique_keys_checked,
        report.foreign_keys_checked,
        if report.unresolved.is_empty() {
            "every foreign key resolves inside the snapshot".to_string()
        } else {
            format!("{} foreign keys do not resolve", report.unresolved.len())
        },
        match (&report.masking, &report.masking_not_compared) {
            (Some(_), _) => "; its masking does not match the config file's [masking]".into(),
            (None, Some(why)) => format!("; {why}"),
            (None, None) => String::new(),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Condition, QualifiedName, RowKey};
    use crate::snapshot::manifest::{
        Manifest, ManifestColumn, ManifestForeignKey, ManifestTable, MANIFEST_FILE,
    };
    use sha2::{Digest, Sha256};

    /// A table `public.<name>` of text columns, its file written into `dir`.
    fn table(
        dir: &Path,
        name: &str,
        columns: &[&str],
        rows: &[&str],
        foreign_keys: Vec<ManifestForeignKey>,
    ) -> ManifestTable {
        let mut data = format!("{}\n", columns.join("\t"));
        for row in rows {
            data.push_str(row);
            data.push('\n');
        }
        let file = format!("public.{name}.tsv");
        std::fs::write(dir.join(&file), &data).unwrap();
        ManifestTable {
            schema: "public".into(),
            name: name.into(),
            file,
            columns: columns
                .iter()
                .map(|c| ManifestColumn {
                    name: c.to_string(),
                    type_name: "text".into(),
                    not_null: false,
                    identity: None,
                })
                .collect(),
            key: RowKey::AllColumns,
            unique_keys: Vec::new(),
            foreign_keys,
            rows: rows.len() as u64,
            sampled: rows.len() as u64,
            backfilled: 0,
            sha256: crate::snapshot::hex(&Sha256::digest(data.as_bytes())),
            partitions: Vec::new(),
        }
    }

    fn key(columns: &[&str], parent: &str, parent_columns: &[&str]) -> ManifestForeignKey {
        ManifestForeignKey {
            name: format!("{parent}_fk"),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            references: QualifiedName::new("public", parent),
            referenced_columns: parent_columns.iter().map(|c| c.to_string()).collect(),
            deferrable: false,
            match_full: false,
            virtual_key: false,
            when: Vec::new(),
            partitions: Vec::new(),
        }
    }

    /// Writes the manifest over `tables` and verifies the directory.
    fn verify(dir: &Path, tables: Vec<ManifestTable>) -> VerifyReport {
        let manifest = Manifest::for_tests(tables, None);
        std::fs::write(dir.join(MANIFEST_FILE), manifest.to_json()).unwrap();
        run(dir, None).unwrap()
    }

    #[test]
    fn a_missing_parent_is_reported_with_its_line_and_nulls_need_none() {
        let dir = tempfile::tempdir().unwrap();
        let parent = table(dir.path(), "p", &["id"], &["1", "3"], vec![]);
        let child = table(
            dir.path(),
            "c",
            &["id", "p_id"],
            &["a\t1", "b\t2", "c\t\\N", "d\t3", "e\t4"],
            vec![key(&["p_id"], "p", &["id"])],
        );
        let report = verify(dir.path(), vec![parent, child]);
        assert_eq!(
            (report.tables, report.rows, report.foreign_keys_checked),
            (2, 7, 1)
        );
        assert_eq!(report.unresolved.len(), 1, "{report:?}");
        let key = &report.unresolved[0];
        assert_eq!((key.table.as_str(), key.rows), ("public.c", 2));
        assert!(
            key.examples[0].ends_with("public.c.tsv line 3: (p_id) = (2) has no row in public.p")
        );
        assert!(
            key.examples[1].contains("line 6: (p_id) = (4)"),
            "{:?}",
            key.examples
        );
        assert!(failure_of(&report).is_some());
    }

    #[test]
    fn match_full_needs_a_parent_for_a_partly_null_tuple_and_simple_does_not() {
        for (match_full, expected) in [(false, 0), (true, 1)] {
            let dir = tempfile::tempdir().unwrap();
            let parent = table(dir.path(), "p", &["a", "b"], &["1\t1"], vec![]);
            let mut fk = key(&["a", "b"], "p", &["a", "b"]);
            fk.match_full = match_full;
            let child = table(
                dir.path(),
                "c",
                &["a", "b"],
                &["1\t1", "2\t\\N", "\\N\t\\N"],
                vec![fk],
            );
            let report = verify(dir.path(), vec![parent, child]);
            let rows: u64 = report.unresolved.iter().map(|k| k.rows).sum();
            assert_eq!(rows, expected, "match_full {match_full}: {report:?}");
        }
    }

    #[test]
    fn keys_of_one_file_are_checked_together_and_a_condition_limits_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let users = table(dir.path(), "users", &["id"], &["1"], vec![]);
        let posts = table(dir.path(), "posts", &["id"], &["7"], vec![]);
        let mut to_users = key(&["target"], "users", &["id"]);
        to_users.when = vec![Condition {
            column: "kind".into(),
            value: "user".into(),
        }];
        let mut to_posts = key(&["target"], "posts", &["id"]);
        to_posts.when = vec![Condition {
            column: "kind".into(),
            value: "post".into(),
        }];
        let comments = table(
            dir.path(),
            "comments",
            &["kind", "target"],
            &["user\t1", "post\t7", "user\t7", "post\t9", "other\t5"],
            vec![to_users, to_posts],
        );
        let report = verify(dir.path(), vec![users, posts, comments]);
        assert_eq!(report.foreign_keys_checked, 2);
        let found: Vec<(&str, u64)> = report
            .unresolved
            .iter()
            .map(|k| (k.references.as_str(), k.rows))
            .collect();
        assert_eq!(found, [("public.users", 1), ("public.posts", 1)]);
        assert!(report.unresolved[0].examples[0].contains("line 4"));
        assert!(report.unresolved[1].examples[0].contains("line 5"));
    }

    #[test]
    fn a_complete_snapshot_passes_and_renders_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let parent = table(dir.path(), "p", &["id"], &["1"], vec![]);
        let child = table(
            dir.path(),
            "c",
            &["p_id"],
            &["1"],
            vec![key(&["p_id"], "p", &["id"])],
        );
        let report = verify(dir.path(), vec![parent, child]);
        assert!(report.unresolved.is_empty() && failure_of(&report).is_none());
        let text = render_summary(&report);
        assert!(
            text.ends_with(": 2 tables, 2 rows, 0 other unique keys and 1 foreign keys checked, every foreign key resolves inside the snapshot\n"),
            "{text}"
        );
    }
}
