//! The sessions seedsnap holds on a server: the source's read-only snapshot session, the
//! target's session settings, and a server's identity (system identifier, database, version),
//! which the guard compares and the manifest records.

use anyhow::{Context, Result};
use postgres::{GenericClient, IsolationLevel, Transaction};

use crate::connection::{Endpoint, Reached, Side};
use crate::snapshot::manifest::SourceInfo;

/// Opens the source and its read-only snapshot transaction. The session is read-only twice
/// over (`default_transaction_read_only` and `READ ONLY`), and row security is off so that a
/// policy makes the export fail instead of silently return fewer rows. Sequential scans are
/// discouraged: every lookup has a unique index to use, and the cost must follow the rows
/// exported, not the size of the table (the planner would otherwise scan a large table to
/// find a few hundred keys). JIT compilation is off, as on the target (see [`NO_JIT`]).
pub fn open_source(endpoint: &Endpoint) -> Result<postgres::Client> {
    Ok(open_source_reached(endpoint)?.0)
}

/// [`open_source`], and the host it reached, through which the export's parallel readers
/// ([`crate::readers`]) open their sessions.
pub fn open_source_reached(endpoint: &Endpoint) -> Result<(postgres::Client, Reached)> {
    let (mut client, reached) = endpoint.connect_reached(Side::Source)?;
    configure_source(&mut client)?;
    Ok((client, reached))
}

/// The source session's settings (see [`open_source`]).
pub fn configure_source(client: &mut postgres::Client) -> Result<()> {
    client
        .batch_execute(&format!(
            "SET default_transaction_read_only = on;
             SET row_security = off;
             SET enable_seqscan = off;
             SET statement_timeout = 0;
             SET idle_in_transaction_session_timeout = 0;
             {NO_JIT}"
        ))
        .context("configuring the source session")
}

/// Turns JIT compilation off for the session, where the server has it (PostgreSQL 11+; the
/// statement sets nothing on an older one). seedsnap sends thousands of short statements;
/// a plan whose estimated cost passes `jit_above_cost` is compiled first, which costs 25–30
/// ms per statement (measured: the catalog's table list on 1,000 tables, 30 ms of which 26 ms
/// compiling), and `enable_seqscan = off` multiplies the estimate of any plan that must scan a
/// catalog or a keyless table, so that compiling would follow the schema's size, not the work.
/// Asked with `current_setting(…, true)`, not through `pg_settings`, whose view builds a row
/// for every setting of the server (0.3 ms a session, measured; an empty round trip is 0.02 ms).
pub const NO_JIT: &str = "SELECT pg_catalog.set_config('jit', 'off', false)
                           WHERE pg_catalog.current_setting('jit', true) IS NOT NULL;";

pub fn begin_snapshot(client: &mut postgres::Client) -> Result<Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .context("starting the read-only snapshot transaction")
}

/// The server's identity: system identifier, database, version (the columns of
/// [`SourceInfo`], as text).
const IDENTITY_SQL: &str =
    "SELECT (SELECT system_identifier::pg_catalog.text FROM pg_catalog.pg_control_system()),
            pg_catalog.current_database()::pg_catalog.text,
            pg_catalog.current_setting('server_version')";

/// The server's identity, in one round trip.
pub fn source_info(client: &mut impl GenericClient) -> Result<SourceInfo> {
    let row = client
        .query_typed_one(IDENTITY_SQL, &[])
        .context("reading the server's identity")?;
    Ok(SourceInfo {
        system_identifier: row.get(0),
        database: row.get(1),
        server_version: row.get(2),
    })
}

/// Pins the target session: a lock wait ends after `lock_timeout_seconds`, and no statement or
/// idle-in-transaction timeout of the server's cuts a long import short; JIT compilation is
/// off ([`NO_JIT`]); row security is off, so that a policy makes the import fail instead of
/// silently hiding rows from its emptiness tests, comparisons, key checks and verification
/// (as on the source). And the session must start with `session_replication_role = origin`:
/// a role or database default, or `options` in the URL, of `replica` would load every row
/// with the foreign-key triggers off behind seedsnap's back, so it is refused.
///
/// Returns the server's identity ([`source_info`]) and whether the session's role is a
/// superuser, read in the same round trip as the settings and the session's replication role.
pub fn configure_target(
    client: &mut postgres::Client,
    lock_timeout_seconds: u64,
) -> Result<TargetSession> {
    let messages = client
        .simple_query(&target_settings_sql(lock_timeout_seconds))
        .context("configuring the target session")?;
    // The last row is the one of the last statement: the role, then the identity.
    let row = messages
        .iter()
        .rev()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .context("configuring the target session: no answer")?;
    let text = |i: usize| -> Result<String> {
        row.try_get(i)?
            .map(str::to_string)
            .with_context(|| format!("configuring the target session: column {i} is NULL"))
    };
    let replication_role = text(0)?;
    if replication_role != "origin" {
        return Err(crate::problem::refuse(
            crate::error::ExitKind::BadInput,
            crate::problem::Problem::unplaced(format!(
                "the target session starts with session_replication_role = {replication_role} \
                 (a role or database default, or options in the connection string), which \
                 changes which triggers fire (replica turns the foreign-key triggers off for \
                 every row loaded); nothing was written. Reset it (ALTER ROLE … RESET session_replication_role, ALTER \
                 DATABASE … RESET session_replication_role) or remove it from the connection \
                 string: seedsnap switches the triggers off itself only where it checks every \
                 key afterwards."
            ))
            .kind(crate::problem::ProblemKind::Target),
        ));
    }
    Ok(TargetSession {
        identity: SourceInfo {
            system_identifier: text(1)?,
            database: text(2)?,
            server_version: text(3)?,
        },
        superuser: text(4)? == "on",
    })
}

/// What [`configure_target`] learns about the target session.
pub struct TargetSession {
    pub identity: SourceInfo,
    /// The session's role is a superuser (the server's `is_superuser` setting): it may load
    /// with the foreign-key triggers off (see `import/fast_path.rs`), which the import then
    /// confirms against the tables.
    pub superuser: bool,
}

/// The statements of [`configure_target`], sent as one string: the settings, then one row of
/// the session's `session_replication_role`, the server's identity and `is_superuser`.
fn target_settings_sql(lock_timeout_seconds: u64) -> String {
    let identity = IDENTITY_SQL.trim_start_matches("SELECT");
    format!(
        "SET lock_timeout = '{lock_timeout_seconds}s'; SET statement_timeout = 0; \
         SET idle_in_transaction_session_timeout = 0; SET row_security = off; {NO_JIT}
         SELECT pg_catalog.current_setting('session_replication_role'),{identity},
                pg_catalog.current_setting('is_superuser')"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_configured_and_identified_by_one_string() {
        let sql = target_settings_sql(7);
        assert!(sql.starts_with("SET lock_timeout = '7s'; SET statement_timeout = 0;"));
        assert!(sql.contains("SET row_security = off;"));
        assert!(sql.contains(NO_JIT));
        // The settings return no row but NO_JIT's; the last statement is one row: the role
        // first, then the identity's three columns, then whether the role is a superuser.
        let last = sql.rsplit_once(';').map(|(_, last)| last.trim()).unwrap();
        assert!(last.starts_with("SELECT pg_catalog.current_setting('session_replication_role'), (SELECT system_identifier"));
        assert!(last.contains("pg_catalog.current_setting('server_version'),"));
        assert!(last.ends_with("pg_catalog.current_setting('is_superuser')"));
    }
}
