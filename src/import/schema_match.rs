//! Does the target have what the snapshot needs? Every table and column, with a compatible
//! type, nothing generated where the snapshot has values, and no NOT NULL column without a
//! default that the snapshot cannot fill. Every problem is reported at once.

use super::hints;
use crate::catalog::{Catalog, Table};
use crate::snapshot::manifest::ManifestTable;
use crate::snapshot::{Manifest, Problem};

/// A snapshot table and its counterpart in the (restricted) target catalog.
#[derive(Debug, Clone)]
pub struct MatchedTable {
    /// Index into the manifest's tables.
    pub manifest: usize,
    /// Index into the restricted target catalog.
    pub target: usize,
}

/// Type families whose values convert without loss in the direction that matters here.
const FAMILIES: &[&[&str]] = &[
    &["smallint", "integer", "bigint", "numeric"],
    &["real", "double precision", "numeric"],
    &["text", "character varying", "character", "name", "citext"],
    &["json", "jsonb"],
];

fn base(type_name: &str) -> &str {
    // "character varying(20)" -> "character varying"; "numeric(10,2)[]" keeps the brackets.
    match (type_name.find('('), type_name.find(')')) {
        (Some(open), Some(close)) if close > open => {
            let rest = &type_name[close + 1..];
            if rest.is_empty() {
                type_name[..open].trim_end()
            } else {
                // Array of a modified type: compare without the modifier but keep "[]".
                type_name
            }
        }
        _ => type_name,
    }
}

/// Whether values of the snapshot's type load into the target's type.
pub fn compatible(snapshot_type: &str, target_type: &str) -> bool {
    let (a, b) = (base(snapshot_type), base(target_type));
    a == b
        || snapshot_type == target_type
        || FAMILIES
            .iter()
            .any(|family| family.contains(&a) && family.contains(&b))
}

/// Matches the snapshot against the target catalog; returns the catalog restricted to the
/// snapshot's tables and the matches, or every problem.
pub fn match_snapshot(
    manifest: &Manifest,
    target: Catalog,
    file_of: impl Fn(&ManifestTable) -> String,
) -> Result<(Catalog, Vec<MatchedTable>), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut keep = vec![false; target.tables.len()];
    // With none of the snapshot's tables, the target lacks the schema altogether.
    let no_schema = manifest
        .tables
        .iter()
        .all(|t| target.find(&t.qualified_name()).is_none());
    let mut full_index = Vec::new();
    for table in &manifest.tables {
        let file = file_of(table);
        let problem = |column: Option<&str>, message: String| {
            Problem::in_file(file.clone(), None, column, message)
        };
        let name = table.qualified_name();
        let Some(t) = target.find(&name) else {
            let message = if no_schema {
                format!(
                    "table {name} does not exist in the target, nor does any other table of the \
                     snapshot: create the schema first (run your migrations)"
                )
            } else {
                let same_schema = target
                    .tables
                    .iter()
                    .filter(|t| t.name.schema == name.schema)
                    .map(|t| t.name.name.as_str());
                let close: Vec<String> = hints::close_names(&name.name, same_schema)
                    .into_iter()
                    .map(|n| format!("{}.{n}", name.schema))
                    .collect();
                format!(
                    "table {name} does not exist in the target: dropped by a migration{}? Leave \
                     it out with --skip-missing {name} (or skip_missing in seedsnap.toml)",
                    hints::renamed_hint(&close)
                )
            };
            problems.push(problem(None, message));
            continue;
        };
        keep[t] = true;
        full_index.push(t);
        problems.extend(
            column_problems(table, &target.tables[t])
                .into_iter()
                .map(|(column, message)| problem(column.as_deref(), message)),
        );
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let new_index = crate::catalog::renumbering(&keep);
    let matched = full_index
        .iter()
        .enumerate()
        .map(|(manifest, &t)| MatchedTable {
            manifest,
            target: new_index[t],
        })
        .collect();
    let restricted = target.into_restricted(&keep);
    Ok((restricted, matched))
}

fn column_problems(table: &ManifestTable, target: &Table) -> Vec<(Option<String>, String)> {
    let mut problems = Vec::new();
    let name = table.qualified_name();
    for column in &table.columns {
        match target.column(&column.name) {
            None => {
                let new_columns = target
                    .columns
                    .iter()
                    .filter(|c| table.column_index(&c.name).is_none())
                    .map(|c| c.name.as_str());
                let close = hints::close_names(&column.name, new_columns);
                problems.push((
                    Some(column.name.clone()),
                    format!(
                        "column {name}.{} does not exist in the target: dropped by a migration{}? \
                         Leave it out with --skip-missing {name}.{} (or skip_missing in \
                         seedsnap.toml)",
                        column.name,
                        hints::renamed_hint(&close),
                        column.name
                    ),
                ))
            }
            Some(found) if found.generated => problems.push((
                Some(column.name.clone()),
                format!(
                    "column {name}.{} is a generated column in the target; the snapshot has values for it",
                    column.name
                ),
            )),
            Some(found) if !compatible(&column.type_name, &found.type_name) => problems.push((
                Some(column.name.clone()),
                format!(
                    "column {name}.{} is {} in the snapshot but {} in the target",
                    column.name, column.type_name, found.type_name
                ),
            )),
            Some(_) => {}
        }
    }
    for column in &target.columns {
        let missing = table.column_index(&column.name).is_none();
        if missing
            && column.not_null
            && !column.has_default
            && column.identity.is_none()
            && !column.generated
        {
            problems.push((
                Some(column.name.clone()),
                format!(
                    "column {name}.{} is NOT NULL without a default in the target, and the \
                     snapshot has no values for it",
                    column.name
                ),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_compatibility() {
        assert!(compatible("character varying(20)", "character varying(50)"));
        assert!(compatible("integer", "bigint"));
        assert!(compatible("text", "character varying"));
        assert!(compatible("numeric(10,2)", "numeric"));
        assert!(compatible("app.status", "app.status"));
        assert!(!compatible("integer", "text"));
        assert!(!compatible(
            "timestamp without time zone",
            "timestamp with time zone"
        ));
        assert!(!compatible("integer[]", "integer"));
    }
}
