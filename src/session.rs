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
pub const NO_JIT: &str = "SELECT pg_catalog.set_config(name, 'off', false)
                            FROM pg_catalog.pg_settings WHERE name = 'jit';";

pub fn begin_snapshot(client: &mut postgres::Client) -> Result<Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .context("starting the read-only snapshot transaction")
}

pub fn source_info(client: &mut impl GenericClient) -> Result<SourceInfo> {
    let row = client
        .query_one(
            "SELECT (SELECT system_identifier::pg_catalog.text FROM pg_catalog.pg_control_system()),
                    pg_catalog.current_database()::pg_catalog.text,
                    pg_catalog.current_setting('server_version')",
            &[],
        )
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
pub fn configure_target(client: &mut postgres::Client, lock_timeout_seconds: u64) -> Result<()> {
    let replication_role: String = client
        .batch_execute(&format!(
            "SET lock_timeout = '{}s'; SET statement_timeout = 0; \
             SET idle_in_transaction_session_timeout = 0; SET row_security = off; {NO_JIT}",
            lock_timeout_seconds
        ))
        .and_then(|()| {
            client.query_one(
                "SELECT pg_catalog.current_setting('session_replication_role')",
                &[],
            )
        })
        .context("configuring the target session")?
        .get(0);
    if replication_role != "origin" {
        return Err(crate::error::failure(
            crate::error::ExitKind::BadInput,
            format!(
                "the target session starts with session_replication_role = {replication_role} \
                 (a role or database default, or options in the connection string), which \
                 turns foreign-key and other triggers off for every row loaded; nothing was \
                 written. Reset it (ALTER ROLE … RESET session_replication_role, ALTER \
                 DATABASE … RESET session_replication_role) or remove it from the connection \
                 string: seedsnap switches the triggers off itself only where it checks every \
                 key afterwards."
            ),
        ));
    }
    Ok(())
}
