//! The export's parallel readers: extra read-only sessions on the source that see exactly the
//! rows the export's own transaction sees, as `pg_dump -j` does. The export's transaction
//! exports its snapshot (`pg_export_snapshot()`); each reader opens a session to the same
//! host, starts a `REPEATABLE READ READ ONLY` transaction and imports that snapshot
//! (`SET TRANSACTION SNAPSHOT`). [`run`] then hands the work out to the export's transaction
//! and the readers: the statements and the file of one table to one session, a session that
//! has none of its own left taking over another's.
//!
//! Why readers and not pipelining: a remote source costs a round trip per statement, and a
//! COPY through the blocking `postgres` driver is two of them (prepare, run) that it cannot
//! overlap. With `--jobs N` the COPYs of N tables are in flight at once, which divides that
//! cost by N; on a local server the second core does part of the work.
//!
//! A reader is an optimisation, never a requirement: when a reader cannot be opened or cannot
//! import the snapshot (no connection slot left, a pooler that hands each statement another
//! server session), the export says so on stderr and goes on with the sessions it has, down
//! to its own transaction alone. On a standby it does not share the snapshot at all (see
//! [`share_snapshot`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use postgres::{Client, GenericClient, Transaction};

use crate::connection::{Reached, ReadSession};
use crate::report::Progress;
use crate::session;

/// The readers of one export, each inside a transaction on the export's snapshot.
pub struct Readers {
    sessions: Vec<Reader>,
    /// The snapshot the readers import, again after each [`Reader::release_locks`].
    snapshot: String,
    /// Relations a reader may have read before it releases its locks.
    lock_budget: usize,
    /// The host and `--jobs`, until [`Readers::start`] opens the sessions.
    planned: Option<(Reached, usize)>,
    /// How long opening the readers took.
    pub opened_ms: f64,
    /// The source's round trip, once measured ([`Readers::round_trip`]).
    measured_round_trip: Option<Duration>,
}

/// The most sessions an export opens when `--jobs` is not given.
pub const AUTOMATIC_JOBS: usize = 8;

/// The round trip from which a source counts as remote.
pub const REMOTE: Duration = Duration::from_millis(1);

/// The most sessions an export opens when `--jobs` is not given, for a source `nearby` (on
/// this machine, a round trip under [`REMOTE`] away) or not, with this machine's `cores`.
///
/// A remote source is waited for: [`AUTOMATIC_JOBS`] sessions share its round trips. A
/// source on this machine is not waited for but shares its cores: a session keeps about one
/// core busy between its thread here and its server process, and more sessions than two per
/// core only switch between each other (measured on 2 cores, wide_1000 export: 4 sessions
/// 1.255 s, 5 1.290 s, 8 1.325 s, medians of 10 alternated runs; wide_3000: 3.92 / 3.99 /
/// 4.07 s).
pub fn automatic_sessions(nearby: bool, cores: usize) -> usize {
    match nearby {
        true => (2 * cores).clamp(2, AUTOMATIC_JOBS),
        false => AUTOMATIC_JOBS,
    }
}

/// How many readers to open besides the export's own transaction: `jobs - 1` (never more
/// than the tables left for them); with `jobs` 0 (automatic) one per 32 tables, up to
/// `automatic` sessions in all (see [`automatic_sessions`]), so that a small schema, read in
/// a few dozen milliseconds, does not pay for connections it cannot use (the demo's 23
/// tables: none).
pub fn readers_wanted(jobs: usize, tables: usize, automatic: usize) -> usize {
    match jobs {
        0 => automatic.saturating_sub(1).min(tables / 32),
        jobs => (jobs - 1).min(tables.saturating_sub(1)),
    }
}

/// One reader session and the relations it has read since its transaction began.
struct Reader {
    client: Client,
    touched: usize,
}

/// How many relations a reader reads before it ends its transaction and imports the snapshot
/// again, which releases its locks. A transaction keeps a lock on every table it read and on
/// every index of it, until it ends; the server's lock table holds about
/// `max_locks_per_transaction × max_connections` of them (6,400 by default) for every
/// session of the cluster. Unchecked, eight sessions reading most of a 1,000-table schema
/// held 7,500 locks and made other sessions of the server fail with "out of shared memory";
/// with this budget the export holds about what a one-session export holds (1,550-1,800 on
/// 1,000 tables), and a release costs one round trip. The export's own transaction keeps its
/// locks, as a one-session export does, so no table can be altered or dropped while it runs.
/// `SEEDSNAP_READER_LOCK_BUDGET` overrides it (tests).
const LOCK_BUDGET: usize = 64;

impl Reader {
    /// Ends the reader's transaction (releasing its locks) and starts another on the same
    /// snapshot, which stays importable while the export's transaction is open.
    fn release_locks(&mut self, snapshot: &str) -> Result<()> {
        self.client
            .batch_execute(&format!("COMMIT; {}", import_sql(snapshot)))
            .context("releasing a reader's locks (a new transaction on the export's snapshot)")?;
        self.touched = 0;
        Ok(())
    }
}

/// Starts a reader's transaction on `snapshot`.
fn import_sql(snapshot: &str) -> String {
    format!(
        "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
         SET TRANSACTION SNAPSHOT {}",
        crate::catalog::quote_literal(snapshot)
    )
}

impl Readers {
    /// Readers to open on `snapshot` once the number of tables is known ([`Readers::start`]);
    /// none without a snapshot.
    pub fn planned(reached: &Reached, snapshot: Option<&str>, jobs: usize) -> Readers {
        let Some(snapshot) = snapshot else {
            return Readers::none();
        };
        Readers {
            sessions: Vec::new(),
            snapshot: snapshot.to_string(),
            lock_budget: std::env::var("SEEDSNAP_READER_LOCK_BUDGET")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(LOCK_BUDGET),
            planned: Some((reached.clone(), jobs)),
            opened_ms: 0.0,
            measured_round_trip: None,
        }
    }

    /// The source's round trip through `client` (the export's own session): the fastest of
    /// three empty queries, measured once. It sizes the selection's windows and, with
    /// `--jobs` automatic, the number of readers.
    pub fn round_trip(&mut self, client: &mut impl GenericClient) -> Result<Duration> {
        if let Some(measured) = self.measured_round_trip {
            return Ok(measured);
        }
        let mut fastest = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            client
                .simple_query("")
                .context("measuring the round trip to the source")?;
            fastest = fastest.min(started.elapsed());
        }
        Ok(*self.measured_round_trip.insert(fastest))
    }

    /// Opens the readers planned for an export of `tables` tables, all at once (see
    /// [`readers_wanted`]; `client` is the export's own session, through which the round trip
    /// is measured). What could not be opened is said on stderr; the export goes on with the
    /// others.
    pub fn start(
        &mut self,
        client: &mut impl GenericClient,
        tables: usize,
        progress: &Progress,
    ) -> Result<()> {
        let Some((reached, jobs)) = self.planned.take() else {
            return Ok(());
        };
        let automatic = match jobs {
            0 => {
                let nearby = reached.on_this_machine() && self.round_trip(client)? < REMOTE;
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                automatic_sessions(nearby, cores)
            }
            _ => AUTOMATIC_JOBS,
        };
        let started = Instant::now();
        let wanted = readers_wanted(jobs, tables, automatic);
        let snapshot = self.snapshot.as_str();
        let opened: Vec<Result<Client>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..wanted)
                .map(|_| scope.spawn(|| open_reader(&reached, snapshot)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a reader's connection thread"))
                .collect()
        });
        let mut refusals = Vec::new();
        for result in opened {
            match result {
                Ok(client) => self.sessions.push(Reader { client, touched: 0 }),
                Err(error) => refusals.push(format!("{error:#}")),
            }
        }
        if let Some(first) = refusals.first() {
            progress.always(&format!(
                "reading with {} of the {} sessions planned (--jobs): {first}",
                self.sessions.len() + 1,
                wanted + 1
            ));
        }
        self.opened_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(())
    }

    /// No readers: everything is read through the caller's own session.
    pub fn none() -> Readers {
        Readers {
            sessions: Vec::new(),
            snapshot: String::new(),
            lock_budget: LOCK_BUDGET,
            planned: None,
            opened_ms: 0.0,
            measured_round_trip: None,
        }
    }

    /// The sessions reading: the export's transaction and the readers.
    pub fn sessions(&self) -> usize {
        self.sessions.len() + 1
    }

    /// Ends every reader's transaction.
    pub fn close(self) -> Result<()> {
        for mut reader in self.sessions {
            reader
                .client
                .batch_execute("COMMIT")
                .context("ending a reader's read-only transaction")?;
        }
        Ok(())
    }
}

/// Exports the snapshot of `txn`, which must not have read anything yet, for the readers to
/// share: its name, or `None` when `jobs` ≤ 1 or the source is a standby. On a standby
/// seedsnap reads with one session: importing a snapshot taken during recovery is where
/// PostgreSQL has had bugs that set wrong hint bits on the standby, and a demo database is
/// not worth that risk.
pub fn share_snapshot(
    txn: &mut Transaction<'_>,
    jobs: usize,
    progress: &Progress,
) -> Result<Option<String>> {
    if jobs == 1 {
        return Ok(None);
    }
    let snapshot: Option<String> = txn
        .query_one(
            "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
                         ELSE pg_catalog.pg_export_snapshot() END",
            &[],
        )
        .context("exporting the snapshot for parallel readers (--jobs 1 reads with one session)")?
        .get(0);
    if snapshot.is_none() {
        progress.always("reading with one session: the source is a standby (in recovery)");
    }
    Ok(snapshot)
}

/// One reader: a session configured as the export's, inside a transaction on `snapshot`.
fn open_reader(reached: &Reached, snapshot: &str) -> Result<Client> {
    let mut client = reached.connect_again()?;
    session::configure_source(&mut client)?;
    client
        .batch_execute(&import_sql(snapshot))
        .context("importing the export's snapshot")?;
    Ok(client)
}

/// Runs `work` over `items` on `main` and every reader at once; the results come back in the
/// items' order. `relations` says how many relations an item reads, which a reader counts
/// against its lock budget. The first error stops the other sessions after their current item
/// and is returned.
///
/// `home` names the session an item belongs to (0 is `main`, then the readers; taken modulo
/// [`Readers::sessions`]): each session works through its own items in order, and only when
/// it has none left takes the earliest item another session has not started (see
/// `next_item`). Callers send the statements of one table to one session, because the first
/// statement on a table in a server session loads that table's catalog entries and statistics
/// into the session's caches (measured: about 0.1 ms of server time per table and session;
/// 8 sessions taking tables at random paid it up to 8 times, 0.4 of the 1.9 s of server time
/// of a 1,000-table export).
pub fn run<T, R, W>(
    main: &mut (dyn ReadSession + Send),
    readers: &mut Readers,
    items: Vec<T>,
    relations: impl Fn(&T) -> usize + Sync,
    home: impl Fn(&T) -> usize,
    work: W,
) -> Result<Vec<R>>
where
    T: Send,
    R: Send,
    W: Fn(&mut dyn ReadSession, T) -> Result<R> + Sync,
{
    let count = items.len();
    let sessions = readers.sessions();
    let mut queues: Vec<VecDeque<(usize, T)>> = (0..sessions).map(|_| VecDeque::new()).collect();
    for (index, item) in items.into_iter().enumerate() {
        queues[home(&item) % sessions].push_back((index, item));
    }
    let queues = Mutex::new(queues);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..count).map(|_| None).collect());
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let (snapshot, budget) = (readers.snapshot.as_str(), readers.lock_budget);
    let drain = |own: usize,
                 main: Option<&mut (dyn ReadSession + Send)>,
                 mut reader: Option<&mut Reader>| {
        let mut main = main;
        loop {
            if failed.load(Ordering::SeqCst) {
                return;
            }
            // Ctrl-C: no new statement starts (the running ones were cancelled).
            if let Err(error) = crate::interrupt::check() {
                failed.store(true, Ordering::SeqCst);
                first_error.lock().expect("error lock").get_or_insert(error);
                return;
            }
            let Some((index, item)) = next_item(&mut queues.lock().expect("queue lock"), own)
            else {
                return;
            };
            let read = relations(&item);
            let session: &mut dyn ReadSession = match (&mut main, &mut reader) {
                (Some(main), _) => *main,
                (None, Some(reader)) => &mut reader.client,
                (None, None) => unreachable!("a session"),
            };
            let mut outcome = work(session, item);
            if let (Ok(_), Some(reader)) = (&outcome, reader.as_deref_mut()) {
                reader.touched += read;
                if reader.touched >= budget {
                    if let Err(error) = reader.release_locks(snapshot) {
                        outcome = Err(error);
                    }
                }
            }
            match outcome {
                Ok(result) => results.lock().expect("results lock")[index] = Some(result),
                Err(error) => {
                    failed.store(true, Ordering::SeqCst);
                    first_error.lock().expect("error lock").get_or_insert(error);
                    return;
                }
            }
        }
    };
    std::thread::scope(|scope| {
        for (i, reader) in readers.sessions.iter_mut().enumerate() {
            let drain = &drain;
            scope.spawn(move || drain(i + 1, None, Some(reader)));
        }
        drain(0, Some(main), None);
    });
    if let Some(error) = first_error.into_inner().expect("error lock") {
        return Err(error);
    }
    Ok(results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every item was worked on"))
        .collect())
}

/// The next item session `own` works on: the first of its own queue, or when that is empty
/// the earliest (by index) first item of the others, so that what is left is still done in
/// about the callers' order (largest table first, earliest statement first).
fn next_item<T>(queues: &mut [VecDeque<(usize, T)>], own: usize) -> Option<(usize, T)> {
    if let Some(item) = queues[own].pop_front() {
        return Some(item);
    }
    let earliest = queues
        .iter()
        .enumerate()
        .filter_map(|(q, queue)| queue.front().map(|(index, _)| (*index, q)))
        .min()?
        .1;
    queues[earliest].pop_front()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_takes_its_own_items_then_the_earliest_of_the_others() {
        let mut queues: Vec<VecDeque<(usize, char)>> = vec![
            VecDeque::from([(0, 'a'), (3, 'd')]),
            VecDeque::from([(1, 'b'), (2, 'c'), (4, 'e')]),
            VecDeque::new(),
        ];
        assert_eq!(next_item(&mut queues, 0), Some((0, 'a')));
        assert_eq!(next_item(&mut queues, 0), Some((3, 'd')));
        // Its own queue empty: the earliest item left anywhere.
        assert_eq!(next_item(&mut queues, 0), Some((1, 'b')));
        assert_eq!(next_item(&mut queues, 2), Some((2, 'c')));
        assert_eq!(next_item(&mut queues, 1), Some((4, 'e')));
        assert_eq!(next_item(&mut queues, 1), None);
        assert_eq!(next_item(&mut queues, 2), None);
    }

    #[test]
    fn readers_follow_jobs_and_the_number_of_tables() {
        // Automatic, up to 8 sessions.
        assert_eq!(readers_wanted(0, 23, 8), 0);
        assert_eq!(readers_wanted(0, 64, 8), 2);
        assert_eq!(readers_wanted(0, 1000, 8), 7);
        // Automatic, up to 4.
        assert_eq!(readers_wanted(0, 1000, 4), 3);
        assert_eq!(readers_wanted(0, 64, 4), 2);
        // As asked, but never more than the tables left for them.
        assert_eq!(readers_wanted(1, 1000, 4), 0);
        assert_eq!(readers_wanted(8, 1000, 4), 7);
        assert_eq!(readers_wanted(4, 23, 8), 3);
        assert_eq!(readers_wanted(4, 2, 8), 1);
        assert_eq!(readers_wanted(4, 0, 8), 0);
    }

    #[test]
    fn automatic_sessions_are_two_per_core_for_a_nearby_source_and_eight_for_a_remote_one() {
        assert_eq!(automatic_sessions(true, 1), 2);
        assert_eq!(automatic_sessions(true, 2), 4);
        assert_eq!(automatic_sessions(true, 3), 6);
        assert_eq!(automatic_sessions(true, 16), AUTOMATIC_JOBS);
        assert_eq!(automatic_sessions(false, 1), AUTOMATIC_JOBS);
        assert_eq!(automatic_sessions(false, 64), AUTOMATIC_JOBS);
    }
}
