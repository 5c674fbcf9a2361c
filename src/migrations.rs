//! Which migration a database's schema is at, read from the bookkeeping tables of the usual
//! migration tools, and how a snapshot's compares with a target's.
//!
//! Known tables (found by name in every user schema): Rails `schema_migrations(version)`,
//! golang-migrate `schema_migrations(version, dirty)`, Alembic `alembic_version`, Django
//! `django_migrations`, Flyway `flyway_schema_history`, Liquibase `databasechangelog`, sqlx
//! `_sqlx_migrations`, refinery `refinery_schema_history`. The queries are in
//! `src/catalog/migrations.sql`.
//!
//! An export records the source's state in the manifest; an import reads the target's and says,
//! on any difference, which side is ahead. Versions are ordered by their numbers (timestamps,
//! integers, Flyway's `1.2.3`); Django and Liquibase by how many migrations were applied;
//! Alembic revisions have no order, so a difference is only reported as one. A bookkeeping
//! table that records migrations in the target is left as the target has it: the snapshot's
//! rows of it are not loaded ([`kept`]).

use std::cmp::Ordering;

use anyhow::Result;
use postgres::Transaction;
use serde::{Deserialize, Serialize};

use crate::catalog::quote_ident;

const SQL: &str = include_str!("catalog/migrations.sql");

/// One tool's state in one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationState {
    /// `rails`, `golang-migrate`, `alembic`, `django`, `flyway`, `liquibase`, `sqlx`, `refinery`.
    pub tool: String,
    /// The bookkeeping table, `schema.table`.
    pub table: String,
    /// The latest applied migration (`None`: none applied).
    pub version: Option<String>,
    /// How many migrations were applied.
    pub applied: u64,
}

impl MigrationState {
    /// Whether the table records at least one migration (an empty one describes nothing).
    pub fn records_any(&self) -> bool {
        self.applied > 0 || self.version.is_some()
    }

    fn describe(&self) -> String {
        format!(
            "{} {} ({} applied)",
            self.tool,
            self.version.as_deref().unwrap_or("none"),
            self.applied
        )
    }
}

/// The statement finding the tables, and each tool's version query.
fn statements() -> (&'static str, Vec<(&'static str, &'static str)>) {
    let mut sections = SQL.split("-- tool: ");
    let find = sections.next().unwrap_or_default();
    let tools = sections
        .filter_map(|section| section.split_once('\n'))
        .map(|(tool, sql)| (tool.trim(), sql))
        .collect();
    (find, tools)
}

/// Which tool a table name belongs to.
fn tool_of(table: &str, has_dirty: bool) -> Option<&'static str> {
    Some(match table {
        "schema_migrations" if has_dirty => "golang-migrate",
        "schema_migrations" => "rails",
        "alembic_version" => "alembic",
        "django_migrations" => "django",
        "flyway_schema_history" => "flyway",
        "databasechangelog" => "liquibase",
        "_sqlx_migrations" => "sqlx",
        "refinery_schema_history" => "refinery",
        _ => return None,
    })
}

/// Whether a table of this name may be a migration tool's bookkeeping.
pub fn is_bookkeeping_name(table: &str) -> bool {
    tool_of(table, false).is_some()
}

/// Reads every known tool's state, each query in a savepoint: a table the role may not read,
/// or one of another shape, is left out rather than failing the command.
pub fn read(txn: &mut Transaction<'_>) -> Result<Vec<MigrationState>> {
    let (find, tools) = statements();
    let mut states = Vec::new();
    for row in txn.query_typed(find, &[])? {
        let (schema, name, dirty): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        let Some(tool) = tool_of(&name, dirty) else {
            continue;
        };
        let Some((_, sql)) = tools.iter().find(|(t, _)| *t == tool) else {
            continue;
        };
        let table = format!("{}.{}", quote_ident(&schema), quote_ident(&name));
        // A named savepoint, rolled back and released: the caller's transaction may be the
        // import's own, whose writes must not run nested in a subtransaction per table read.
        txn.batch_execute("SAVEPOINT seedsnap_migrations")?;
        let result = txn.query_typed_opt(sql.replace("{table}", &table).as_str(), &[]);
        txn.batch_execute(
            "ROLLBACK TO SAVEPOINT seedsnap_migrations; RELEASE SAVEPOINT seedsnap_migrations",
        )?;
        let Ok(row) = result else {
            continue;
        };
        // A NULL version or count (a hand-made table) is a table of another shape: left out.
        let state = match &row {
            None => Some((None, 0)),
            Some(r) => match (
                r.try_get::<_, Option<String>>(0),
                r.try_get::<_, Option<i64>>(1),
            ) {
                (Ok(Some(version)), Ok(Some(applied))) => Some((Some(version), applied as u64)),
                _ => None,
            },
        };
        if let Some((version, applied)) = state {
            states.push(MigrationState {
                tool: tool.to_string(),
                table: format!("{schema}.{name}"),
                version,
                applied,
            });
        }
    }
    Ok(states)
}

/// The numbers in a version (`20240102_add_x` → `[20240102]`, `1.2.10` → `[1, 2, 10]`).
fn numbers(version: &str) -> Vec<u128> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(|part| part.parse().unwrap_or(u128::MAX))
        .collect()
}

/// How the snapshot's state compares with the target's: `Greater` means the snapshot is ahead;
/// `None` when they differ but cannot be ordered.
pub fn order(snapshot: &MigrationState, target: &MigrationState) -> Option<Ordering> {
    if snapshot.version == target.version && snapshot.applied == target.applied {
        return Some(Ordering::Equal);
    }
    match snapshot.tool.as_str() {
        "alembic" => None,
        "django" | "liquibase" => Some(snapshot.applied.cmp(&target.applied)),
        _ => {
            let (a, b) = (
                numbers(snapshot.version.as_deref().unwrap_or("")),
                numbers(target.version.as_deref().unwrap_or("")),
            );
            match a.cmp(&b) {
                Ordering::Equal => Some(snapshot.applied.cmp(&target.applied)),
                other => Some(other),
            }
        }
    }
}

/// One line per difference between the snapshot's and the target's migration states.
pub fn compare(snapshot: &[MigrationState], target: &[MigrationState]) -> Vec<String> {
    let mut notes = Vec::new();
    for ours in snapshot {
        let Some(theirs) = target
            .iter()
            .find(|t| t.tool == ours.tool && t.table == ours.table)
        else {
            notes.push(format!(
                "the snapshot was taken at migration {}, but the target has no {} table (its \
                 migrations were not run, or it is another application's database)",
                ours.describe(),
                ours.table
            ));
            continue;
        };
        let both = format!(
            "the snapshot was taken at migration {}, the target is at {}",
            ours.describe(),
            theirs.describe()
        );
        if !theirs.records_any() {
            notes.push(format!(
                "the snapshot was taken at migration {}; the target's {} is empty (a schema \
                 loaded from a dump?): the snapshot's rows are loaded and then describe it",
                ours.describe(),
                ours.table
            ));
            continue;
        }
        match order(ours, theirs) {
            Some(Ordering::Equal) => {}
            Some(Ordering::Greater) => notes.push(format!(
                "{both}: the snapshot is ahead (run the target's migrations: columns or tables \
                 the snapshot has may not exist there yet)"
            )),
            Some(Ordering::Less) => notes.push(format!(
                "{both}: the target is ahead (a migration may have dropped or renamed columns \
                 or tables the snapshot has: leave them out with --skip-missing, or re-export \
                 once the demo database is migrated)"
            )),
            None => notes.push(format!("{both}: they differ")),
        }
    }
    notes
}

/// A bookkeeping table of the snapshot that the import leaves as the target has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// `schema.table`, as in [`MigrationState::table`].
    pub table: String,
    pub schema: String,
    pub name: String,
    /// The sentence that says so, with both states.
    pub note: String,
    /// Whether the snapshot's rows record another state than the target's.
    pub differs: bool,
}

/// The snapshot's bookkeeping tables that the target already fills: the import leaves each as
/// the target has it and loads none of the snapshot's rows into it. A migration tool's table
/// describes the schema of the database it is in, which the import does not change: the
/// snapshot's rows describe the demo's. Loaded into a target at another migration, they would
/// record as applied migrations the target never ran (the tool would then never run them; an
/// index or a function they add is invisible to a comparison of tables and columns), and give a
/// single-row table (golang-migrate, Alembic) a second row. An empty table (a schema loaded
/// from a dump, without its bookkeeping) is not kept: the snapshot's rows then describe it.
/// `snapshot_tables` gives each snapshot table's schema and name.
pub fn kept<'a>(
    snapshot: &[MigrationState],
    target: &[MigrationState],
    snapshot_tables: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<Kept> {
    let tables: Vec<(&str, &str)> = snapshot_tables.collect();
    target
        .iter()
        .filter(|theirs| theirs.records_any())
        .filter_map(|theirs| {
            let &(schema, name) = tables
                .iter()
                .find(|(schema, name)| format!("{schema}.{name}") == theirs.table)?;
            let ours = snapshot
                .iter()
                .find(|s| s.tool == theirs.tool && s.table == theirs.table);
            let (snapshot_side, differs) = match ours {
                Some(ours) if order(ours, theirs) == Some(Ordering::Equal) => (
                    "the snapshot's rows record the same latest migration and count".to_string(),
                    false,
                ),
                Some(ours) => (
                    format!("the snapshot's rows ({}) were not loaded", ours.describe()),
                    true,
                ),
                None => ("the snapshot's rows were not loaded".to_string(), true),
            };
            Some(Kept {
                table: theirs.table.clone(),
                schema: schema.to_string(),
                name: name.to_string(),
                note: format!(
                    "{} kept as the target has it, at migration {}: migration bookkeeping \
                     describes the target's own schema; {snapshot_side}",
                    theirs.table,
                    theirs.describe()
                ),
                differs,
            })
        })
        .collect()
}

/// What a load recorded that the target never ran, when the target's schema is known to be
/// behind the snapshot's (`--skip-missing` left parts of it out): each tool whose table was
/// empty `before` the load (the only ones loaded, see [`kept`]) and records migrations `after`
/// it, with the sentence that says so. Those rows describe the snapshot's schema, which the
/// target's lacks in part: the tool would never run the migrations they record.
pub fn recorded_by_load(
    before: &[MigrationState],
    after: &[MigrationState],
) -> Vec<(String, String)> {
    before
        .iter()
        .filter(|was| !was.records_any())
        .filter_map(|was| {
            let now = after
                .iter()
                .find(|t| t.tool == was.tool && t.table == was.table)
                .filter(|now| now.records_any())?;
            Some((
                was.table.clone(),
                format!(
                    "the snapshot's rows of {} would record migration {} while --skip-missing \
                     leaves parts of the snapshot out: as applied, migrations whose tables or \
                     columns the target may lack",
                    was.table,
                    now.describe(),
                ),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(tool: &str, version: &str, applied: u64) -> MigrationState {
        MigrationState {
            tool: tool.into(),
            table: "public.t".into(),
            version: Some(version.into()),
            applied,
        }
    }

    #[test]
    fn every_tool_has_a_query() {
        let (find, tools) = statements();
        assert!(find.contains("pg_catalog.pg_class"));
        for tool in [
            "rails",
            "golang-migrate",
            "alembic",
            "django",
            "flyway",
            "liquibase",
            "sqlx",
            "refinery",
        ] {
            let sql = tools.iter().find(|(t, _)| *t == tool).expect(tool).1;
            assert!(sql.contains("{table}"), "{tool}");
        }
        assert_eq!(tool_of("schema_migrations", true), Some("golang-migrate"));
        assert_eq!(tool_of("schema_migrations", false), Some("rails"));
    }

    #[test]
    fn versions_order_by_their_numbers() {
        let a = state("rails", "20240102120000", 10);
        let b = state("rails", "20231231000000", 12);
        assert_eq!(order(&a, &b), Some(Ordering::Greater));
        assert_eq!(
            order(&state("flyway", "1.10", 3), &state("flyway", "1.9", 3)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            order(
                &state("django", "app.0002", 5),
                &state("django", "app.0007", 9)
            ),
            Some(Ordering::Less)
        );
        assert_eq!(
            order(
                &state("alembic", "ae1027a6acf", 1),
                &state("alembic", "1975ea83b712", 1)
            ),
            None
        );
        assert_eq!(order(&a, &a), Some(Ordering::Equal));
    }

    #[test]
    fn comparison_says_which_side_is_ahead() {
        let snapshot = vec![state("rails", "20240101", 3), state("sqlx", "4", 4)];
        let target = vec![state("rails", "20240301", 5)];
        let notes = compare(&snapshot, &target);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("the target is ahead"), "{}", notes[0]);
        assert!(
            notes[0].contains("rails 20240101 (3 applied)"),
            "{}",
            notes[0]
        );
        assert!(
            notes[1].contains("the target has no public.t table"),
            "{}",
            notes[1]
        );
        assert!(compare(&target, &target).is_empty());
    }

    fn empty(tool: &str) -> MigrationState {
        MigrationState {
            tool: tool.into(),
            table: "public.t".into(),
            version: None,
            applied: 0,
        }
    }

    #[test]
    fn a_target_that_records_migrations_keeps_its_bookkeeping() {
        let tables = [("public", "t"), ("public", "other")];
        let ours = vec![state("golang-migrate", "7", 1)];
        // Behind, ahead or the same: the target's rows stay, and the note says which.
        let kept_at = |theirs: MigrationState| kept(&ours, &[theirs], tables.iter().copied());
        let behind = kept_at(state("golang-migrate", "6", 1));
        assert_eq!(behind.len(), 1);
        assert_eq!(
            (behind[0].schema.as_str(), behind[0].name.as_str()),
            ("public", "t")
        );
        assert!(
            behind[0].note.contains(
                "public.t kept as the target has it, at migration golang-migrate 6 (1 applied)"
            ) && behind[0]
                .note
                .contains("the snapshot's rows (golang-migrate 7 (1 applied)) were not loaded"),
            "{}",
            behind[0].note
        );
        assert!(behind[0].differs);
        let same = kept_at(state("golang-migrate", "7", 1));
        assert!(same[0].note.contains("record the same"), "{}", same[0].note);
        assert!(!same[0].differs);
        // An empty table is loaded: the snapshot's rows describe a schema loaded from a dump.
        assert!(kept_at(empty("golang-migrate")).is_empty());
        // A table the snapshot does not have is none of the import's business.
        assert!(kept(
            &ours,
            &[state("golang-migrate", "6", 1)],
            [("public", "u")].into_iter()
        )
        .is_empty());
    }

    #[test]
    fn a_load_into_an_empty_bookkeeping_table_records_migrations() {
        let ahead = vec![state("rails", "20240301", 41)];
        let refused = recorded_by_load(&[empty("rails")], &ahead);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, "public.t");
        assert!(
            refused[0]
                .1
                .contains("would record migration rails 20240301 (41 applied)"),
            "{}",
            refused[0].1
        );
        // Still empty, or a table that recorded migrations before (kept, never loaded): nothing.
        assert!(recorded_by_load(&[empty("rails")], &[empty("rails")]).is_empty());
        assert!(recorded_by_load(&ahead, &ahead).is_empty());
    }
}
