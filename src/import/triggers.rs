//! User triggers during an import: held off, so that the target gets exactly the snapshot's
//! rows and nothing else (the contract of `pg_restore --disable-triggers`, without superuser).
//!
//! Every user trigger that would fire on a snapshot table or one of its partitions (enabled for
//! origin sessions, always, or for replica sessions only: the fast path loads in replica mode,
//! see `fast_path.rs`) is disabled by name inside the import's transaction
//! (`ALTER TABLE ONLY … DISABLE TRIGGER …`, which needs ownership of the table, not superuser)
//! and put back in exactly its previous state (`ENABLE`, `ENABLE ALWAYS` or `ENABLE REPLICA`)
//! before COMMIT. Being
//! transactional, a failed import rolls the change back with everything else. The internal
//! triggers that enforce foreign keys are never touched (`DISABLE TRIGGER ALL` would, and needs
//! superuser). A deferred constraint trigger held off queues nothing, so it cannot delete rows
//! at COMMIT.
//!
//! When the importing role may not disable a trigger (it does not own the table), the import
//! refuses before writing anything and names the tables and triggers; `--fire-triggers` lets
//! them run instead, and rows they make that equal snapshot rows count as already present. A
//! replica-only trigger it may not disable is no reason to refuse (the import's own session is
//! an origin one): it stays enabled, and its table is never loaded in replica mode.
//!
//! Event triggers cannot be held off that way (`ALTER EVENT TRIGGER` needs their owner, in
//! practice a superuser, and is not per session). The import's DDL they can see is the
//! `ALTER TABLE … DISABLE/ENABLE TRIGGER` above and the `CREATE TEMPORARY TABLE` of its staging
//! tables (the fast path stages in replica mode, where triggers enabled for origin sessions do
//! not fire; dropping and re-adding keys is not chosen while any event trigger is enabled):
//! those that will fire on it are read first ([`firing_on`]), named on stderr and in the
//! report, since what they write is committed with the import. That DDL runs under the role's
//! `search_path`, which the triggers' functions may rely on.

use anyhow::{Context, Result};
use postgres::GenericClient;
use serde::Serialize;

use crate::catalog::{quote_ident, Catalog, QualifiedName};
use crate::error::ExitKind;
use postgres::types::Oid;

const USER_TRIGGERS_SQL: &str = include_str!("../catalog/user_triggers.sql");
const DDL_EVENT_TRIGGERS_SQL: &str = include_str!("../catalog/ddl_event_triggers.sql");

/// An event trigger that fires on the import's own DDL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventTrigger {
    pub name: String,
    /// `ddl_command_start` or `ddl_command_end`.
    pub event: String,
    pub function: String,
}

impl std::fmt::Display for EventTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.event, self.function)
    }
}

/// The event triggers that will fire, in the session's current mode, on DDL with one of these
/// command `tags` (see `ddl_event_triggers.sql`).
pub fn firing_on(client: &mut impl GenericClient, tags: &[&str]) -> Result<Vec<EventTrigger>> {
    let rows = client
        .query_typed(
            DDL_EVENT_TRIGGERS_SQL,
            &[(&tags, postgres::types::Type::TEXT_ARRAY)],
        )
        .with_context(|| {
            format!(
                "reading the event triggers that fire on {}",
                tags.join(", ")
            )
        })?;
    Ok(rows
        .iter()
        .map(|row| EventTrigger {
            name: row.get("name"),
            event: row.get("event"),
            function: row.get("function"),
        })
        .collect())
}

/// A user trigger that fires in an ordinary session, in a replica session, or in both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserTrigger {
    /// The relation the trigger is on: a snapshot table or one of its partitions.
    pub table: QualifiedName,
    pub trigger: String,
    /// Fires also in replica sessions (`ENABLE ALWAYS`); restored as such.
    pub always: bool,
    /// Fires only in replica sessions (`ENABLE REPLICA`), such as the fast path's load;
    /// restored as such.
    pub replica: bool,
    /// The importing role owns the relation (or is a member of its owner).
    #[serde(skip)]
    pub may_disable: bool,
    #[serde(skip)]
    pub owner: String,
    /// The catalog table (its oid) the relation is, or is a partition of.
    #[serde(skip)]
    pub root: Oid,
}

impl std::fmt::Display for UserTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.trigger, self.table)
    }
}

/// The enabled user triggers of every table of `catalog` and of their partitions.
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
            replica: row.get::<_, String>("enabled") == "R",
            may_disable: row.get("may_disable"),
            owner: row.get("owner"),
            root: row.get::<_, i64>("root_oid") as Oid,
        })
        .collect())
}

/// Refuses, before anything is written, when a trigger would fire in the import's ordinary
/// session and the role may not hold it off; `fire_triggers` accepts that they run. (A
/// replica-only trigger the role may not hold off is left to [`hold_off`].)
pub fn check(triggers: &[UserTrigger], fire_triggers: bool, role: &str) -> Result<()> {
    if fire_triggers {
        return Ok(());
    }
    let refused: Vec<String> = triggers
        .iter()
        .filter(|t| !t.may_disable && !t.replica)
        .map(|t| format!("{t} (owned by {})", t.owner))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(crate::problem::refuse(
        ExitKind::BadInput,
        crate::problem::Problem::unplaced(format!(
            "user triggers would fire while loading, and {role} may not hold them off (only a \
             table's owner may disable its triggers): {}. Import as the tables' owner, or pass \
             --fire-triggers to let them run (rows they make that equal snapshot rows then \
             count as already present); nothing was written",
            refused.join(", ")
        ))
        .kind(crate::problem::ProblemKind::Target),
    ))
}

/// Which user triggers the load holds off and which run: `(held off, firing)`; the catalog's
/// tables then say whether their inserts store exactly what they are given
/// ([`crate::catalog::Table::inserts_verbatim`]).
/// - With `fire_triggers`, none is held off, and those that fire in the import's ordinary
///   session are listed as firing (not the replica-only ones: with `--fire-triggers` the import
///   never switches to replica mode).
/// - Otherwise every trigger the role may disable is held off (after [`check`], that is every
///   one that fires in an ordinary session). A replica-only trigger it may not disable stays
///   enabled and its table keeps its user triggers: such a table is never loaded in replica
///   mode, where that trigger would fire (see `fast_path.rs`); in the ordinary session it
///   loads in, the trigger does not fire.
pub fn hold_off(
    catalog: &mut Catalog,
    triggers: Vec<UserTrigger>,
    fire_triggers: bool,
) -> (Vec<UserTrigger>, Vec<UserTrigger>) {
    if fire_triggers {
        let firing = triggers.into_iter().filter(|t| !t.replica).collect();
        return (Vec::new(), firing);
    }
    if triggers.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let (held, kept): (Vec<UserTrigger>, Vec<UserTrigger>) =
        triggers.into_iter().partition(|t| t.may_disable);
    for table in &mut catalog.tables {
        if kept.iter().all(|t| t.root != table.oid) {
            table.has_triggers = false;
        }
    }
    (held, Vec::new())
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

/// Puts every trigger back exactly as it was: `ENABLE`, `ENABLE ALWAYS` or `ENABLE REPLICA`.
pub fn restore_sql(triggers: &[UserTrigger]) -> String {
    triggers
        .iter()
        .map(|t| {
            format!(
                "ALTER TABLE ONLY {} ENABLE{} TRIGGER {};\n",
                t.table.sql(),
                match (t.always, t.replica) {
                    (true, _) => " ALWAYS",
                    (false, true) => " REPLICA",
                    (false, false) => "",
                },
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
            replica: false,
            may_disable,
            owner: "app_owner".into(),
            root: 1,
        }
    }

    fn replica(name: &str, may_disable: bool, root: Oid) -> UserTrigger {
        UserTrigger {
            replica: true,
            root,
            ..trigger(name, false, may_disable)
        }
    }

    fn two_tables() -> Catalog {
        let table = |oid, name| crate::catalog::Table {
            oid,
            has_triggers: true,
            ..crate::catalog::Table::bare("app", name)
        };
        Catalog {
            tables: vec![table(1, "Items"), table(2, "Other")],
            ..Catalog::default()
        }
    }

    #[test]
    fn replica_triggers_are_held_off_and_restored_as_replica_ones() {
        let triggers = [replica("sync", true, 1)];
        assert_eq!(
            restore_sql(&triggers),
            "ALTER TABLE ONLY \"app\".\"Items\" ENABLE REPLICA TRIGGER \"sync\";\n"
        );
        let mut catalog = two_tables();
        let (held, firing) = hold_off(&mut catalog, triggers.to_vec(), false);
        assert_eq!((held, firing), (triggers.to_vec(), vec![]));
        assert!(catalog.tables.iter().all(|t| t.inserts_verbatim()));
    }

    #[test]
    fn a_replica_trigger_the_role_may_not_disable_keeps_its_table_off_the_fast_path() {
        let triggers = vec![trigger("meta", false, true), replica("sync", false, 2)];
        // Not a reason to refuse: it does not fire in the import's own session.
        assert!(check(&triggers, false, "loader").is_ok());
        let mut catalog = two_tables();
        let (held, firing) = hold_off(&mut catalog, triggers.clone(), false);
        assert_eq!((held, firing), (triggers[..1].to_vec(), vec![]));
        assert!(catalog.tables[0].inserts_verbatim());
        assert!(
            !catalog.tables[1].inserts_verbatim(),
            "the table whose replica trigger stays enabled must not load in replica mode"
        );
        // --fire-triggers: the import's session is an origin one, where it never fires.
        let mut catalog = two_tables();
        let (held, firing) = hold_off(&mut catalog, triggers.clone(), true);
        assert_eq!((held, firing), (vec![], triggers[..1].to_vec()));
        assert!(catalog.tables.iter().all(|t| !t.inserts_verbatim()));
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
