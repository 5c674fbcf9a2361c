//! Drift: rows the target already holds under a snapshot row's key, with other content.
//!
//! A committed snapshot outlives the demo data it was taken from: the demo changes, a teammate
//! re-exports, and the test database still holds the rows the previous snapshot brought. What
//! an import does with such rows is `--on-drift`:
//! - `update` (the default): the target's row is brought back to the snapshot's values, and the
//!   row is listed in the report (table, key, columns changed), so re-seeding converges;
//! - `keep`: the target's row stays as it is (`INSERT … ON CONFLICT DO NOTHING` semantics);
//! - `fail`: the import is rolled back and fails verification (exit code 5).
//!
//! Rows are matched by the table's identity key (the primary key, or a unique key whose
//! columns are all NOT NULL). A table without one cannot drift: its rows are compared whole,
//! so a changed row is simply a row the target does not have yet. Rows of the target that no
//! snapshot row matches (added by tests or people) are never touched here.

use anyhow::{Context, Result};
use postgres::Transaction;
use serde::Serialize;

use super::statements::{LoadTable, NEW_FLAG};
use crate::catalog::{quote_ident, quote_literal, Identity};

/// What to do with rows of the target that hold other content under a snapshot row's key.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OnDrift {
    /// Bring the target's row back to the snapshot's values, and list it in the report.
    #[default]
    Update,
    /// Keep the target's row as it is (ON CONFLICT DO NOTHING).
    Keep,
    /// Fail verification and roll back.
    Fail,
}

/// One row brought back to the snapshot's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftedRow {
    pub table: String,
    /// The identity key's columns and this row's values for them, as text.
    pub key_columns: Vec<String>,
    pub key: Vec<Option<String>>,
    /// The columns whose values differed.
    pub columns: Vec<String>,
}

impl DriftedRow {
    /// `app.tags (id)=(1): label, color`.
    pub fn describe(&self) -> String {
        let values: Vec<&str> = self
            .key
            .iter()
            .map(|v| v.as_deref().unwrap_or("NULL"))
            .collect();
        format!(
            "{} ({})=({}): {}",
            self.table,
            self.key_columns.join(", "),
            values.join(", "),
            self.columns.join(", ")
        )
    }
}

fn text_of(prefix: &str, column: &str) -> String {
    format!("({prefix}.{})::pg_catalog.text", quote_ident(column))
}

fn row_of(prefix: &str, columns: &[String]) -> String {
    let list: Vec<String> = columns
        .iter()
        .map(|c| format!("{prefix}.{}", quote_ident(c)))
        .collect();
    format!("ROW({})::pg_catalog.text", list.join(", "))
}

fn key_match(key: &[String]) -> String {
    key.iter()
        .map(|c| format!("t.{q} = s.{q}", q = quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The columns an update may set: the snapshot's, minus the key and `GENERATED ALWAYS`
/// identity columns (which only take DEFAULT in an UPDATE).
fn settable(load: &LoadTable<'_>, key: &[String]) -> Vec<String> {
    load.columns
        .iter()
        .filter(|c| !key.contains(c))
        .filter(|c| {
            load.target
                .column(c)
                .is_none_or(|col| col.identity != Some(Identity::Always))
        })
        .cloned()
        .collect()
}

/// Lists the drifted rows of a staged table: key values and the names of the columns that
/// differ. Values are compared as text, like the verification does.
pub fn list_sql(load: &LoadTable<'_>) -> Option<String> {
    let key = load.identity_key.as_ref()?;
    let columns = settable(load, key);
    if columns.is_empty() {
        return None;
    }
    let keys: Vec<String> = key.iter().map(|c| text_of("s", c)).collect();
    let changed: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "CASE WHEN {} IS DISTINCT FROM {} THEN {} END",
                text_of("t", c),
                text_of("s", c),
                quote_literal(c)
            )
        })
        .collect();
    Some(format!(
        "SELECT ARRAY[{keys}], pg_catalog.array_remove(ARRAY[{changed}]::pg_catalog.text[], NULL)
           FROM {stage} AS s JOIN {target} AS t ON {matches}
          WHERE NOT s.{NEW_FLAG} AND {t_row} IS DISTINCT FROM {s_row}
          ORDER BY {order}",
        keys = keys.join(", "),
        changed = changed.join(", "),
        stage = load.stage,
        target = load.target.from_clause(),
        matches = key_match(key),
        t_row = row_of("t", &columns),
        s_row = row_of("s", &columns),
        order = key
            .iter()
            .map(|c| format!("s.{}", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

/// Sets the drifted rows of the target to the staged values.
pub fn update_sql(load: &LoadTable<'_>) -> Option<String> {
    let key = load.identity_key.as_ref()?;
    let columns = settable(load, key);
    if columns.is_empty() {
        return None;
    }
    let sets: Vec<String> = columns
        .iter()
        .map(|c| format!("{q} = s.{q}", q = quote_ident(c)))
        .collect();
    Some(format!(
        "UPDATE {target} AS t SET {sets} FROM {stage} AS s
          WHERE NOT s.{NEW_FLAG} AND {matches} AND {t_row} IS DISTINCT FROM {s_row}",
        target = load.target.name.sql(),
        sets = sets.join(", "),
        stage = load.stage,
        matches = key_match(key),
        t_row = row_of("t", &columns),
        s_row = row_of("s", &columns),
    ))
}

/// Brings every drifted row of the given staged tables back to the snapshot's values, in the
/// order given (dependency order, so a row's new parent is already right), and returns them.
/// The caller verifies the tables again.
pub fn converge<'a>(
    txn: &mut Transaction<'_>,
    tables: impl IntoIterator<Item = &'a LoadTable<'a>>,
    mut violation: impl FnMut(postgres::Error, &str) -> anyhow::Error,
) -> Result<Vec<DriftedRow>> {
    let mut drifted = Vec::new();
    for load in tables {
        let (Some(list), Some(update)) = (list_sql(load), update_sql(load)) else {
            continue;
        };
        let name = load.target.name.to_string();
        let rows = txn
            .query(list.as_str(), &[])
            .with_context(|| format!("listing the drifted rows of {name}"))?;
        if rows.is_empty() {
            continue;
        }
        let key_columns = load.identity_key.clone().expect("listed");
        let here: Vec<DriftedRow> = rows
            .iter()
            .map(|row| DriftedRow {
                table: name.clone(),
                key_columns: key_columns.clone(),
                key: row.get(0),
                columns: row.get(1),
            })
            .collect();
        let updated = txn
            .execute(update.as_str(), &[])
            .map_err(|e| violation(e, &name))
            .with_context(|| format!("bringing drifted rows of {name} back to the snapshot"))?;
        anyhow::ensure!(
            updated == here.len() as u64,
            "updated {updated} drifted rows of {name}, {} were listed",
            here.len()
        );
        drifted.extend(here);
    }
    Ok(drifted)
}

/// The report's lines for drifted rows: at most `limit`, then how many more.
pub fn render(rows: &[DriftedRow], committed: bool, limit: usize) -> String {
    let mut text = String::new();
    if rows.is_empty() {
        return text;
    }
    text.push_str(&format!(
        "{} {} drifted row(s) to the snapshot's values (table (key)=(values): columns changed):\n",
        if committed {
            "brought back"
        } else {
            "would bring back"
        },
        rows.len()
    ));
    for row in rows.iter().take(limit) {
        text.push_str(&format!("  {}\n", row.describe()));
    }
    if rows.len() > limit {
        text.push_str(&format!(
            "  … and {} more (see --json)\n",
            rows.len() - limit
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, QualifiedName, Table, TableKind};

    fn table() -> Table {
        let column = |name: &str, identity: bool| Column {
            name: name.into(),
            type_name: "text".into(),
            base_type: "text".into(),
            not_null: true,
            generated: false,
            identity: identity.then_some(Identity::Always),
            has_default: false,
            collation: None,
        };
        Table {
            oid: 1,
            name: QualifiedName::new("app", "tags"),
            kind: TableKind::Ordinary,
            columns: vec![
                column("id", false),
                column("label", false),
                column("n", true),
            ],
            unique_keys: vec![],
            has_rules: false,
            has_triggers: false,
            estimated_rows: 0,
        }
    }

    fn load(t: &Table, key: Option<Vec<String>>) -> LoadTable<'_> {
        LoadTable {
            target: t,
            stage: "pg_temp.s0".into(),
            columns: vec!["id".into(), "label".into(), "n".into()],
            unique_keys: vec![],
            identity_key: key,
            overriding: true,
        }
    }

    #[test]
    fn updates_set_everything_but_the_key_and_always_identities() {
        let t = table();
        let l = load(&t, Some(vec!["id".into()]));
        let update = update_sql(&l).unwrap();
        assert!(
            update.contains(r#"SET "label" = s."label" FROM"#),
            "{update}"
        );
        assert!(!update.contains(r#""n" = s."n""#), "{update}");
        assert!(update.contains(r#"t."id" = s."id""#), "{update}");
        let list = list_sql(&l).unwrap();
        assert!(list.contains(r#"THEN 'label' END"#), "{list}");
        assert!(list.contains("NOT s._seedsnap_new"), "{list}");
    }

    #[test]
    fn keyless_tables_cannot_drift() {
        let t = table();
        assert!(update_sql(&load(&t, None)).is_none());
        assert!(list_sql(&load(&t, None)).is_none());
    }

    #[test]
    fn rendering_caps_the_list() {
        let row = DriftedRow {
            table: "app.tags".into(),
            key_columns: vec!["id".into()],
            key: vec![Some("1".into())],
            columns: vec!["label".into()],
        };
        let text = render(&vec![row.clone(); 3], true, 2);
        assert!(text.contains("brought back 3 drifted row(s)"), "{text}");
        assert!(text.contains("  app.tags (id)=(1): label\n"), "{text}");
        assert!(text.contains("… and 1 more"), "{text}");
        assert_eq!(render(&[], true, 2), "");
    }
}
