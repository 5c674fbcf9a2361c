//! A foreign-key violation the target raised, located in the snapshot: the file, the line and
//! the key values of the row whose parent is missing.
//!
//! PostgreSQL checks foreign keys at the end of a statement (or at commit), so its error has no
//! COPY line; its detail names the key values (`Key (author_id)=(99) is not present in table
//! "authors".`), and the row is found again by scanning the table's file for them.

use postgres::error::DbError;

use crate::catalog::quote_ident;
use crate::error::Failure;
use crate::problem::{Location, Problem};
use crate::snapshot::{copy_text, ManifestTable, SnapshotDir};

/// Where a violation is: `(file, line, "(author_id)=(99)")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: String,
    pub line: u64,
    pub key: String,
}

/// `(columns, values)` from a violation's detail.
pub fn parse_detail(detail: &str) -> Option<(Vec<String>, Vec<String>)> {
    let rest = detail.strip_prefix("Key (")?;
    let (columns, rest) = rest.split_once(")=(")?;
    let (values, _) = rest.rsplit_once(") is not present in table")?;
    let columns: Vec<String> = columns
        .split(", ")
        .map(|c| c.trim_matches('"').to_string())
        .collect();
    let values: Vec<String> = values.split(", ").map(String::from).collect();
    (columns.len() == values.len()).then_some((columns, values))
}

/// Finds the first row of the violating table's file holding the key values of a foreign-key
/// violation (SQLSTATE 23503).
pub fn locate(db: &DbError, snapshot: &SnapshotDir) -> Option<Located> {
    if db.code().code() != "23503" {
        return None;
    }
    let (columns, values) = parse_detail(db.detail()?)?;
    let table =
        snapshot.manifest.tables.iter().find(|t| {
            Some(t.schema.as_str()) == db.schema() && Some(t.name.as_str()) == db.table()
        })?;
    let line = find_line(snapshot, table, &columns, &values)?;
    Some(Located {
        file: snapshot.file_path(table).display().to_string(),
        line,
        key: format!("({})=({})", columns.join(", "), values.join(", ")),
    })
}

/// The violation as a problem at its row of the snapshot (see [`locate`]), with the server's
/// table, constraint and hint.
pub fn problem(db: &DbError, snapshot: &SnapshotDir) -> Option<Problem> {
    let at = locate(db, snapshot)?;
    Some(
        Problem::in_file(
            at.file,
            Some(at.line),
            None,
            format!("{}: {}", at.key, db.message()),
        )
        .from_server(db),
    )
}

/// The first line of `table`'s file whose `columns` hold `values` (as text).
fn find_line(
    snapshot: &SnapshotDir,
    table: &ManifestTable,
    columns: &[String],
    values: &[String],
) -> Option<u64> {
    let indexes: Vec<usize> = columns
        .iter()
        .map(|c| table.column_index(c))
        .collect::<Option<_>>()?;
    let mut found = None;
    let mut problems = Vec::new();
    snapshot
        .scan(table, &mut problems, |line, fields| {
            if found.is_none()
                && indexes.iter().zip(values).all(|(&i, value)| {
                    copy_text::decode_field(fields[i])
                        .ok()
                        .flatten()
                        .is_some_and(|decoded| decoded == value.as_bytes())
                })
            {
                found = Some(line);
            }
            Ok(())
        })
        .ok()?;
    found
}

/// Adds the file, line and key values to an error whose message holds a foreign-key
/// violation's detail for `the snapshot's rows for <tables>` (as the import's constraint
/// errors say), when the snapshot has the row; else returns the error as it is.
/// The error's problem, if it has one without a place, is placed at that line too.
pub fn locate_in_error(mut error: anyhow::Error, snapshot: &SnapshotDir) -> anyhow::Error {
    let text = format!("{error:#}");
    let Some(at) = locate_in_message(&text, snapshot) else {
        return error;
    };
    if let Some(failure) = error.downcast_mut::<Failure>() {
        for problem in &mut failure.problems {
            if problem.at == Location::Unplaced {
                problem.at = Location::File {
                    file: at.file.clone(),
                    line: Some(at.line),
                    column: None,
                };
            }
        }
    }
    error.context(format!(
        "{} line {}: {} has no parent row in the target",
        at.file, at.line, at.key
    ))
}

/// [`locate`] from a message: the tables after "the snapshot's rows for " and the detail
/// "Key (…)=(…) is not present in table".
fn locate_in_message(text: &str, snapshot: &SnapshotDir) -> Option<Located> {
    let (_, rest) = text.split_once("the snapshot's rows for ")?;
    let (tables, _) = rest.split_once(" violate a constraint of the target")?;
    let (_, detail) = text.split_once("detail: ")?;
    let (columns, values) = parse_detail(detail)?;
    tables.split(", ").find_map(|name| {
        let table = snapshot
            .manifest
            .tables
            .iter()
            .find(|t| t.qualified_name().to_string() == name)?;
        let line = find_line(snapshot, table, &columns, &values)?;
        Some(Located {
            file: snapshot.file_path(table).display().to_string(),
            line,
            key: format!("({})=({})", columns.join(", "), values.join(", ")),
        })
    })
}

/// The query for a few rows that [`super::statements::LoadTable::orphan_count`]'s query
/// counts: their foreign-key values, as text, each value once (each is then named with the
/// first line of the file that holds it, see [`describe_examples`]: two rows with the same
/// orphan value would name one line twice).
pub fn orphan_examples_sql(count_sql: &str, columns: &[String]) -> Option<String> {
    // Everything after the counting select list: `FROM … WHERE …`.
    let (select, rest) = count_sql.split_once(" FROM ")?;
    if !select.starts_with("SELECT pg_catalog.count(*)") {
        return None;
    }
    let values: Vec<String> = columns
        .iter()
        .map(|c| format!("(s.{})::pg_catalog.text", quote_ident(c)))
        .collect();
    Some(format!(
        "SELECT DISTINCT ARRAY[{}]::pg_catalog.text[] FROM {rest} LIMIT 3",
        values.join(", ")
    ))
}

/// `file line N: (columns)=(values)` for each example row, found in `table`'s file, with the
/// line when found.
pub fn describe_examples(
    snapshot: &SnapshotDir,
    table: &ManifestTable,
    columns: &[String],
    examples: &[Vec<Option<String>>],
) -> Vec<(Option<u64>, String)> {
    let file = snapshot.file_path(table).display().to_string();
    examples
        .iter()
        .map(|values| {
            let values: Vec<String> = values
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect();
            let key = format!("({})=({})", columns.join(", "), values.join(", "));
            let line = find_line(snapshot, table, columns, &values);
            match line {
                Some(line) => (Some(line), format!("{file} line {line}: {key}")),
                None => (None, format!("{file}: {key}")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_parse() {
        assert_eq!(
            parse_detail("Key (author_id)=(99) is not present in table \"authors\"."),
            Some((vec!["author_id".into()], vec!["99".into()]))
        );
        assert_eq!(
            parse_detail("Key (a, b)=(1, x y) is not present in table \"p\"."),
            Some((vec!["a".into(), "b".into()], vec!["1".into(), "x y".into()]))
        );
        assert_eq!(parse_detail("Key (a)=(1) is still referenced"), None);
        assert_eq!(
            orphan_examples_sql(
                "SELECT pg_catalog.count(*)::pg_catalog.int8 FROM t AS s WHERE x",
                &["a".into()]
            )
            .as_deref(),
            Some(
                r#"SELECT DISTINCT ARRAY[(s."a")::pg_catalog.text]::pg_catalog.text[] FROM t AS s WHERE x LIMIT 3"#
            )
        );
    }
}
