//! User triggers during an import: held off, so that the target gets exactly the snapshot's
//! rows and nothing else (the contract of `pg_restore --disable-triggers`, without superuser).
//!
//! Every user trigger that would fire on a snapshot table or one of its partitions (enabled for
//! origin sessions, or always) is disabled by name inside the import's transaction
//! (`ALTER TABLE ONLY … DISABLE TRIGGER …`, which needs ownership of the table, not superuser)
//! and put back in exactly its previous state (`ENABLE` or `ENABLE ALWAYS`) before COMMIT. Being
//! transactional, a failed import rolls the change back with everything else. The internal
//! triggers that enforce foreign keys are never touched (`DISABLE TRIGGER ALL` would, and needs
//! superuser). A deferred constraint trigger held off queues nothing, so it cannot delete rows
//! at COMMIT.
//!
//! When the importing role may not disable a trigger (it does not own the table), the import
//! refuses before writing anything and names the tables and triggers; `--fire-triggers` lets
//! them run instead, and rows they make that equal snapshot rows count as already present.

use anyhow::{Context, Result};
use postgres::GenericClient;
use serde::Serialize;

use crate::catalog::{quote_ident, Catalog, QualifiedName};
use crate::error::{failure, ExitKind};

const USER_TRIGGERS_SQL: &str = include_str!("../catalog/user_triggers.sql");

/// A user trigger that fires in an ordinary session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserTrigger {
    /// The relation the trigger is on: a snapshot table or one of its partitions.
    pub table: QualifiedName,
    pub trigger: String,
    /// Fires also in replica sessions (`ENABLE ALWAYS`); restored as such.
    pub always: bool,
    /// The importing role owns the relation (or is a member of its owner).
    #[serde(skip)]
    pub may_disable: bool,
    #[serde(skip)]
    pub owner: String,
}

impl std::fmt::Display for UserTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.trigger, self.table)
    }
}

/// The firing user triggers of every table of `catalog` and of their partitions.
pub fn read(client: &mut impl GenericClient, catalog: &Catalog) -> Result<Vec<UserTrigger>> {
    let oids: Vec<i64> = catalog
        .tables
        .iter()
        .filter(|t| t.has_triggers)
        .map(|t| t.oid as i64)
        .collect();
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query_typed(
            USER_TRIGGERS_SQL,
            &[(&oids, postgres::types::Type::INT8_ARRAY)],
        )
        .context("reading user triggers from pg_catalog")?;
    Ok(rows
        .iter()
        .map(|row| UserTrigger {
            table: QualifiedName::new(
                row.get::<_, String>("schema_name"),
                row.get::<_, String>("table_name"),
            ),
            trigger: row.get("trigger_name"),
            always: row.get::<_, String>("enabled") == "A",
            may_disable: row.get("may_disable"),
            owner: row.get("owner"),
        })
        .collect())
}

/// Refuses, before anything is written, when a trigger would fire and the role may not hold it
/// off; `fire_triggers` accepts that they run.
pub fn check(triggers: &[UserTrigger], fire_triggers: bool, role: &str) -> Result<()> {
    if fire_triggers {
        return Ok(());
    }
    let refused: Vec<String> = triggers
        .iter()
        .filter(|t| !t.may_disable)
        .map(|t| format!("{t} (owned by {})", t.owner))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(failure(
        ExitKind::BadInput,
        format!(
            "user triggers would fire while loading, and {role} may not hold them off (only a \
             table's owner may disable its triggers): {}. Import as the tables' owner, or pass \
             --fire-triggers to let them run (rows they make that equal snapshot rows then \
             count as already present); nothing was written",
            refused.join(", ")
        ),
    ))
}

/// `ALTER TABLE ONLY … DISABLE TRIGGER …` for each trigger: by name, so that other triggers
/// keep their state, and `ONLY`, so that each relation is changed once whatever the server
/// version does about recursing into partitions.
pub fn disable_sql(triggers: &[UserTrigger]) -> String {
    triggers
        .iter()
        .map(|t| {
            format!(
                "ALTER TABLE ONLY {} DISABLE TRIGGER {};\n",
                t.table.sql(),
                quote_ident(&t.trigger)
            )
        })
        .collect()
}

/// Puts every trigger back exactly as it was: `ENABLE` or `ENABLE ALWAYS`.
pub fn restore_sql(triggers: &[UserTrigger]) -> String {
    triggers
        .iter()
        .map(|t| {
            format!(
                "ALTER TABLE ONLY {} ENABLE{} TRIGGER {};\n",
                t.table.sql(),
                if t.always { " ALWAYS" } else { "" },
                quote_ident(&t.trigger)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(name: &str, always: bool, may_disable: bool) -> UserTrigger {
        UserTrigger {
            table: QualifiedName::new("app", "Items"),
            trigger: name.into(),
            always,
            may_disable,
            owner: "app_owner".into(),
        }
    }

    #[test]
    fn each_trigger_is_disabled_and_restored_by_name() {
        let triggers = [
            trigger("meta", false, true),
            trigger("audit \"x\"", true, true),
        ];
        assert_eq!(
            disable_sql(&triggers),
            "ALTER TABLE ONLY \"app\".\"Items\" DISABLE TRIGGER \"meta\";\n\
             ALTER TABLE ONLY \"app\".\"Items\" DISABLE TRIGGER \"audit \"\"x\"\"\";\n"
        );
        assert_eq!(
            restore_sql(&triggers),
            "ALTER TABLE ONLY \"app\".\"Items\" ENABLE TRIGGER \"meta\";\n\
             ALTER TABLE ONLY \"app\".\"Items\" ENABLE ALWAYS TRIGGER \"audit \"\"x\"\"\";\n"
        );
    }

    #[test]
    fn a_trigger_the_role_may_not_disable_refuses_unless_fired() {
        let triggers = [trigger("meta", false, true), trigger("audit", false, false)];
        let error = check(&triggers, false, "loader").unwrap_err().to_string();
        assert!(
            error.contains("loader may not hold them off")
                && error.contains("audit on app.Items (owned by app_owner)")
                && error.contains("--fire-triggers")
                && !error.contains("meta"),
            "{error}"
        );
        assert!(check(&triggers, true, "loader").is_ok());
        assert!(check(&triggers[..1], false, "loader").is_ok());
    }
}
