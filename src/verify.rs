//! `seedsnap verify`: an offline check of a snapshot directory. The files must match the
//! manifest (see [`crate::snapshot::directory`]), and every foreign-key value of every row must
//! have its parent row in the snapshot. The manifest's keys are resolved once (column indexes,
//! conditions, partition coverage, the MATCH rule of [`crate::catalog::MatchRule`]); each
//! parent file is read once for all the tuples it must hold, and each child file once for all
//! its keys. The first few offenders of each foreign key are reported with file and line. Given the config's `[masking]`, it also tells a snapshot masked
//! with another key or other rules.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::catalog::MatchRule;
use crate::connection::ProcessEnvironment;
use crate::error::{failure, ExitKind};
use crate::masking::MaskingOptions;
use crate::problem;
use crate::snapshot::manifest::{Manifest, ManifestForeignKey, ManifestTable};
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
/// The tuples present in parent files, by (parent table, column set).
type Present = HashMap<(usize, Vec<usize>), HashSet<Tuple>>;

/// A foreign key of the (validated) manifest with everything a row check needs resolved once:
/// column indexes in the child's and the parent's files, the condition in the file's own
/// (COPY text) encoding, the rows a key declared on partitions covers, and its MATCH rule.
struct Key<'m> {
    fk: &'m ManifestForeignKey,
    parent: usize,
    columns: Vec<usize>,
    parent_columns: Vec<usize>,
    /// A polymorphic key applies to a row only when its discriminator matches.
    condition: Vec<(usize, Vec<u8>)>,
    /// A key declared on partitions applies only to the rows of its leaves.
    covered: Option<Vec<Range<u64>>>,
    rule: MatchRule,
}

impl Key<'_> {
    /// Whether the row on file line `line` (line 1 is the header) must have a parent row.
    fn needs_parent(&self, line: u64, fields: &[&[u8]]) -> bool {
        let row = line.saturating_sub(2);
        let in_scope = self
            .covered
            .as_ref()
            .map_or(true, |ranges| ranges.iter().any(|r| r.contains(&row)));
        let applies = in_scope
            && self
                .condition
                .iter()
                .all(|(c, value)| fields[*c] == value.as_slice());
        let nulls = self
            .columns
            .iter()
            .filter(|&&c| fields[c] == b"\\N")
            .count();
        applies && self.rule.needs_parent(nulls, self.columns.len())
    }
}

/// Every foreign key of the manifest, resolved, by child table (the manifest's order).
fn resolve_keys(manifest: &Manifest) -> Vec<Vec<Key<'_>>> {
    let index_of: HashMap<_, usize> = manifest
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.qualified_name(), i))
        .collect();
    let column = |table: &ManifestTable, name: &str| {
        table.column_index(name).expect("checked by the manifest")
    };
    manifest
        .tables
        .iter()
        .map(|table| {
            table
                .foreign_keys
                .iter()
                .map(|fk| {
                    let parent = index_of[&fk.references];
                    let parent_table = &manifest.tables[parent];
                    Key {
                        fk,
                        parent,
                        columns: fk.columns.iter().map(|c| column(table, c)).collect(),
                        parent_columns: fk
                            .referenced_columns
                            .iter()
                            .map(|c| column(parent_table, c))
                            .collect(),
                        condition: fk
                            .when
                            .iter()
                            .map(|c| {
                                let value = copy_text::encode_field(&c.value).into_bytes();
                                (column(table, &c.column), value)
                            })
                            .collect(),
                        covered: crate::partition_keys::covered_rows(table, fk),
                        rule: MatchRule::of(fk.match_full),
                    }
                })
                .collect()
        })
        .collect()
}

/// The referenced tuples present in each parent file, by (parent, column set): one pass per
/// parent file for all its referenced column sets. A tuple with a NULL is never a parent.
fn present_tuples(snapshot: &SnapshotDir, keys: &[Vec<Key<'_>>]) -> Result<Present> {
    let mut wanted: BTreeMap<usize, Vec<&Vec<usize>>> = BTreeMap::new();
    for key in keys.iter().flatten() {
        let sets = wanted.entry(key.parent).or_default();
        if !sets.contains(&&key.parent_columns) {
            sets.push(&key.parent_columns);
        }
    }
    let mut present = HashMap::new();
    let mut scratch = Vec::new();
    for (parent, sets) in wanted {
        let mut found: Vec<HashSet<Tuple>> = vec![HashSet::new(); sets.len()];
        snapshot.scan(
            &snapshot.manifest.tables[parent],
            &mut scratch,
            |_, fields| {
                for (set, columns) in found.iter_mut().zip(&sets) {
                    if columns.iter().all(|&c| fields[c] != b"\\N") {
                        set.insert(columns.iter().map(|&c| fields[c].to_vec()).collect());
                    }
                }
                Ok(())
            },
        )?;
        for (set, columns) in found.into_iter().zip(sets) {
            present.insert((parent, columns.clone()), set);
        }
    }
    Ok(present)
}

/// The keys of one table whose values have no parent row: one pass over its file for all of
/// them.
fn check_table(
    snapshot: &SnapshotDir,
    table: &ManifestTable,
    keys: &[Key<'_>],
    present: &Present,
) -> Result<Vec<UnresolvedKey>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let parents: Vec<&HashSet<Tuple>> = keys
        .iter()
        .map(|k| &present[&(k.parent, k.parent_columns.clone())])
        .collect();
    let mut found: Vec<UnresolvedKey> = keys
        .iter()
        .map(|k| UnresolvedKey {
            table: table.qualified_name().to_string(),
            foreign_key: k.fk.name.clone(),
            references: k.fk.references.to_string(),
            rows: 0,
            examples: Vec::new(),
        })
        .collect();
    let file = snapshot.file_path(table).display().to_string();
    let mut scratch = Vec::new();
    snapshot.scan(table, &mut scratch, |line, fields| {
        for ((key, parent), unresolved) in keys.iter().zip(&parents).zip(&mut found) {
            if !key.needs_parent(line, fields) {
                continue;
            }
            let tuple: Tuple = key.columns.iter().map(|&c| fields[c].to_vec()).collect();
            if parent.contains(&tuple) {
                continue;
            }
            unresolved.rows += 1;
            if unresolved.examples.len() < EXAMPLES_PER_KEY {
                let values: Vec<String> = tuple
                    .iter()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect();
                unresolved.examples.push(format!(
                    "{file} line {line}: ({}) = ({}) has no row in {}",
                    key.fk.columns.join(", "),
                    values.join(", "),
                    key.fk.references
                ));
            }
        }
        Ok(())
    })?;
    Ok(found.into_iter().filter(|k| k.rows > 0).collect())
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
    let manifest = &snapshot.manifest;
    let keys = resolve_keys(manifest);
    let present = present_tuples(snapshot, &keys)?;
    let mut unresolved = Vec::new();
    for (table, keys) in manifest.tables.iter().zip(&keys) {
        unresolved.extend(check_table(snapshot, table, keys, &present)?);
    }
    Ok(VerifyReport {
        snapshot: snapshot.dir.display().to_string(),
        tables: manifest.tables.len(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
        foreign_keys_checked: keys.iter().map(Vec::len).sum(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Condition, QualifiedName, RowKey};
    use crate::snapshot::manifest::{ManifestColumn, MANIFEST_FILE};
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
            text.ends_with(": 2 tables, 2 rows, 1 foreign keys checked, every foreign key resolves inside the snapshot\n"),
            "{text}"
        );
    }
}
