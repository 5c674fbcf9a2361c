//! The import's key path for a role that owns the tables but may not switch the key triggers
//! off (no superuser, no `SET` on `session_replication_role`): the foreign keys of the loaded
//! tables are dropped inside the import's transaction, the rows load straight from their
//! files, and the keys are added back with their own names, definitions (`pg_get_constraintdef`,
//! as `pg_dump` writes them) and comments. Adding a key back makes PostgreSQL validate it over
//! the whole table with one anti-join, instead of one `SELECT … FOR KEY SHARE` per row and key.
//!
//! What it costs, measured on the local cluster: re-adding a key (grouped per table, one
//! `ALTER TABLE` a child) takes 0.9–1.2 ms with its validation; the per-row trigger costs about
//! 6 µs a checked value. So it is taken only when the loaded rows give the keys at least
//! [`VALUES_PER_KEY`] values each on average ([`worth_it`]); a small import keeps the triggers.
//!
//! What it keeps: every key exists, enabled and valid, after the commit, with the same name,
//! definition (deferrability, actions, `MATCH` rule), comment and referenced index, and its
//! clones on partitions likewise; their OIDs and those of their internal triggers are new (so
//! are the trigger names, which order the firing of several keys' actions on one parent). The
//! children and parents stay locked `ACCESS EXCLUSIVE` from the drop to the commit: readers
//! of those tables wait for the import. A key that fails to come back because rows break it fails
//! the import as the trigger would have (bad input, naming the key, the file and the line,
//! found by the fast path's counting queries) and the transaction rolls back, so the target
//! keeps its keys and its rows.
//!
//! When it is not taken (the import keeps the per-row triggers): the role does not own a child
//! table or lacks `REFERENCES` on a parent; something depends on a key or a security label is
//! attached to it; an event trigger is enabled (the DDL would fire it); another session holds a
//! lock on a child or parent table (the drop needs `ACCESS EXCLUSIVE` and asks with `NOWAIT`);
//! the locks the drop holds until the commit would not fit in half the server's lock table
//! ([`fits_lock_table`]); a key would not come back as it is (its parent has more than one
//! unique index it could use, one of its internal triggers is disabled, a clone of it on a
//! partition has a comment or a name of its own: see `re_added_keys.sql`);
//! and whatever keeps the superuser's fast path off that is about the tables (see
//! `fast_path::catalog_refusal`).

use anyhow::{Context, Result};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use postgres::Transaction;

const RE_ADDED_KEYS_SQL: &str = include_str!("../catalog/re_added_keys.sql");

/// Checked values per key at which re-adding the keys costs about what the per-row triggers
/// cost (≈ 0.9–1.2 ms a key against ≈ 6 µs a value, measured on the bench schemas).
pub const VALUES_PER_KEY: u64 = 150;

/// One foreign key dropped for the load, with the SQL that brings it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedKey {
    /// The child table, qualified (regclass text).
    pub child: String,
    /// The referenced table, qualified.
    pub parent: String,
    /// `DROP CONSTRAINT name`.
    pub drop_clause: String,
    /// `ADD CONSTRAINT name definition`.
    pub add_clause: String,
    /// `COMMENT ON CONSTRAINT …`, when the key has a comment.
    pub comment_sql: Option<String>,
}

/// The keys dropped for the load, to add back after it.
#[derive(Debug, Default)]
pub struct DroppedKeys {
    pub keys: Vec<DroppedKey>,
}

/// Locks the load itself holds per table: the table, its indexes, its TOAST table (4,903 for
/// 1,000 tables on the bench's 1,000-table schema, with the keys' parents).
const LOCKS_PER_TABLE: u64 = 5;

/// Whether dropping keys that hold `key_locks` locks until the commit (estimated per key by
/// `re_added_keys.sql`: five for a plain key — its constraint and triggers, counted on the
/// bench's 1,000-table schema: 10,265 object locks for 2,053 keys — and more for keys of
/// partitioned tables), besides `tables` loaded tables, fits in a shared lock table of
/// `lock_slots` locks (see `load_checks.sql`) leaving half of it to the other sessions. A
/// default server (64 × 100 slots) takes a few hundred plain keys; beyond that the import keeps
/// the per-row triggers rather than fill the lock table.
pub fn fits_lock_table(key_locks: u64, tables: usize, lock_slots: u64) -> bool {
    key_locks + tables as u64 * LOCKS_PER_TABLE <= lock_slots / 2
}

/// Whether re-adding `keys` keys is cheaper than checking `checked_values` values row by row
/// (the sum, over the keys, of the rows loaded into each key's table).
pub fn worth_it(keys: usize, checked_values: u64) -> bool {
    keys > 0 && checked_values >= keys as u64 * VALUES_PER_KEY
}

/// `ALTER TABLE child DROP CONSTRAINT a, DROP CONSTRAINT b; …`, or the same with the add
/// clauses, one statement per child table in the order the keys come (sorted by child), then
/// the comments.
fn alter_statements(keys: &[DroppedKey], clause: impl Fn(&DroppedKey) -> &str) -> String {
    let mut sql = String::new();
    let mut current: Option<&str> = None;
    for key in keys {
        if current == Some(key.child.as_str()) {
            sql.push_str(", ");
        } else {
            if current.is_some() {
                sql.push_str(";\n");
            }
            sql.push_str(&format!("ALTER TABLE {} ", key.child));
            current = Some(&key.child);
        }
        sql.push_str(clause(key));
    }
    if current.is_some() {
        sql.push_str(";\n");
    }
    sql
}

/// The statements that drop the keys.
pub fn drop_sql(keys: &[DroppedKey]) -> String {
    alter_statements(keys, |k| &k.drop_clause)
}

/// The statements that add the keys back (each validated by the server), then their comments.
pub fn add_sql(keys: &[DroppedKey]) -> String {
    let mut sql = alter_statements(keys, |k| &k.add_clause);
    for comment in keys.iter().filter_map(|k| k.comment_sql.as_deref()) {
        sql.push_str(comment);
        sql.push_str(";\n");
    }
    sql
}

/// Every table the drop locks: the children and their parents, each once, sorted.
fn locked_tables(keys: &[DroppedKey]) -> Vec<&str> {
    let mut tables: Vec<&str> = keys
        .iter()
        .flat_map(|k| [k.child.as_str(), k.parent.as_str()])
        .collect();
    tables.sort_unstable();
    tables.dedup();
    tables
}

/// Reads the declared foreign keys of the loaded tables (`oids`) and, when the role may and it
/// is worth it (`checked_values`, see [`worth_it`]), drops them inside the transaction.
/// `None`: nothing was changed and the import keeps the per-row triggers.
pub fn try_drop(
    txn: &mut Transaction<'_>,
    oids: &[postgres::types::Oid],
    checked_values: u64,
    lock_slots: u64,
) -> Result<Option<DroppedKeys>> {
    // Names come out qualified only under an empty search_path.
    txn.batch_execute("SELECT pg_catalog.set_config('search_path', '', true)")?;
    // Streamed: the driver's rows would hold every clause a second time beside the keys.
    let mut keys: Vec<DroppedKey> = Vec::new();
    let mut key_locks: i64 = 0;
    let mut refused = false;
    {
        let mut rows = txn
            .query_typed_raw(RE_ADDED_KEYS_SQL, [(&oids, Type::OID_ARRAY)])
            .context("reading the foreign keys of the loaded tables")?;
        while let Some(r) = rows
            .next()
            .context("reading the foreign keys of the loaded tables")?
        {
            // Read to the end even when refused, so the session is ready for the next statement.
            refused |= !r.get::<_, bool>("may_re_add") || r.get::<_, bool>("held");
            if refused {
                continue;
            }
            key_locks += r.get::<_, i64>("locks");
            keys.push(DroppedKey {
                child: r.get("child"),
                parent: r.get("parent"),
                drop_clause: r.get("drop_clause"),
                add_clause: r.get("add_clause"),
                comment_sql: r.get("comment_sql"),
            });
        }
    }
    txn.batch_execute("SET LOCAL search_path TO DEFAULT")?;
    if refused {
        return Ok(None);
    }
    if !worth_it(keys.len(), checked_values)
        || !fits_lock_table(key_locks.max(0) as u64, oids.len(), lock_slots)
    {
        return Ok(None);
    }
    // Dropping a key locks its child and parent ACCESS EXCLUSIVE (until the commit: readers of
    // those tables wait for the import); taken first, in one statement and without waiting,
    // so that a session holding one of them makes the import keep the triggers at once
    // rather than wait or fail.
    let sql = format!(
        "SAVEPOINT seedsnap_keys; LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT;\n{}RELEASE SAVEPOINT seedsnap_keys",
        locked_tables(&keys).join(", "),
        drop_sql(&keys)
    );
    match txn.batch_execute(&sql) {
        Ok(()) => Ok(Some(DroppedKeys { keys })),
        // A lock not granted at once, a right the catalog query misjudged, or a lock table
        // fuller than [`fits_lock_table`] assumed (rolling back to the savepoint frees what
        // the drop took).
        Err(error)
            if matches!(
                error.code().map(|c| c.code()),
                Some("55P03" | "42501" | "53200")
            ) =>
        {
            txn.batch_execute(
                "ROLLBACK TO SAVEPOINT seedsnap_keys; RELEASE SAVEPOINT seedsnap_keys",
            )
            .context("keeping the foreign keys for the load")?;
            Ok(None)
        }
        Err(error) => Err(error).context("dropping the foreign keys for the load"),
    }
}

/// Adds the keys back, each validated by the server. `Ok(Some(error))`: rows break a key (the
/// server's refusal is returned) — the keys are still dropped and the caller must fail the
/// import (it finds and names the rows); any other error is returned as it is.
pub fn add_back(
    txn: &mut Transaction<'_>,
    dropped: &DroppedKeys,
) -> Result<Option<postgres::Error>> {
    let sql = format!(
        "SAVEPOINT seedsnap_keys;\n{}RELEASE SAVEPOINT seedsnap_keys",
        add_sql(&dropped.keys)
    );
    match txn.batch_execute(&sql) {
        Ok(()) => Ok(None),
        Err(error) if error.code().map(|c| c.code()) == Some("23503") => {
            txn.batch_execute(
                "ROLLBACK TO SAVEPOINT seedsnap_keys; RELEASE SAVEPOINT seedsnap_keys",
            )?;
            Ok(Some(error))
        }
        Err(error) => Err(error).context("adding the foreign keys back after the load"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(child: &str, parent: &str, name: &str, comment: Option<&str>) -> DroppedKey {
        DroppedKey {
            child: child.into(),
            parent: parent.into(),
            drop_clause: format!("DROP CONSTRAINT {name}"),
            add_clause: format!("ADD CONSTRAINT {name} FOREIGN KEY (x) REFERENCES {parent}(id)"),
            comment_sql: comment
                .map(|c| format!("COMMENT ON CONSTRAINT {name} ON {child} IS '{c}'")),
        }
    }

    #[test]
    fn keys_of_one_table_are_altered_by_one_statement() {
        let keys = [
            key("app.a", "app.p", "a1", None),
            key("app.a", "app.q", "a2", Some("why")),
            key("app.b", "app.a", "b1", None),
        ];
        assert_eq!(
            drop_sql(&keys),
            "ALTER TABLE app.a DROP CONSTRAINT a1, DROP CONSTRAINT a2;\n\
             ALTER TABLE app.b DROP CONSTRAINT b1;\n"
        );
        assert_eq!(
            add_sql(&keys),
            "ALTER TABLE app.a ADD CONSTRAINT a1 FOREIGN KEY (x) REFERENCES app.p(id), \
             ADD CONSTRAINT a2 FOREIGN KEY (x) REFERENCES app.q(id);\n\
             ALTER TABLE app.b ADD CONSTRAINT b1 FOREIGN KEY (x) REFERENCES app.a(id);\n\
             COMMENT ON CONSTRAINT a2 ON app.a IS 'why';\n"
        );
        assert_eq!(drop_sql(&[]), "");
    }

    #[test]
    fn children_and_parents_are_locked_once_each() {
        let keys = [
            key("app.b", "app.a", "b1", None),
            key("app.a", "app.a", "a1", None),
            key("app.a", "app.p", "a2", None),
        ];
        assert_eq!(locked_tables(&keys), ["app.a", "app.b", "app.p"]);
    }

    #[test]
    fn dropping_keys_must_fit_in_half_the_lock_table() {
        // A default server: 64 locks a transaction × 100 connections. The demo: 31 keys, two of
        // them on a partitioned table (29 locks each).
        assert!(fits_lock_table(29 * 5 + 2 * 29, 23, 6_400));
        assert!(!fits_lock_table(2053 * 5, 1000, 6_400));
        // One key to a parent of 1,000 partitions.
        assert!(!fits_lock_table(5 * 1001 + 3 * 1000, 2, 6_400));
        // The local cluster (max_locks_per_transaction = 1024).
        assert!(fits_lock_table(2053 * 5, 1000, 102_400));
        assert!(!fits_lock_table(10_000 * 5, 3000, 102_400));
    }

    #[test]
    fn re_adding_is_worth_it_from_the_measured_values_per_key() {
        assert!(!worth_it(0, 1_000_000));
        assert!(!worth_it(31, 31 * VALUES_PER_KEY - 1));
        assert!(worth_it(31, 31 * VALUES_PER_KEY));
        // The bench's 1,000-table schema: 2,053 keys, 694,313 values.
        assert!(worth_it(2053, 694_313));
        // A two-row table with one key.
        assert!(!worth_it(1, 2));
    }
}
