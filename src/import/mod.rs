//! `seedsnap import`: load a snapshot directory into a test database in one transaction.
//!
//! Order of work, so that nothing is written unless everything can be:
//! 1. the snapshot is checked offline (manifest, checksums, every line; on threads of its own,
//!    see `pending_check.rs`, while the next two steps run) — bad input stops before any write;
//! 2. the target is named, then guarded (test-database name, not the snapshot's source);
//! 3. in one transaction: the target's catalog is matched against the snapshot, the tables are
//!    locked (`SHARE ROW EXCLUSIVE`: readers go on, a second import waits), user triggers are
//!    held off ([`triggers`]; the import refuses before any write when the role may not), the
//!    role's own `search_path` is restored for server-side code, every file is staged
//!    with COPY into a temporary table (a value that does not parse is reported with its file,
//!    line and column) — or, into an empty table, loaded straight by COPY, or by batched
//!    `INSERT … VALUES` when round trips to the target are slow ([`batched_rows`]) — then the
//!    staged rows are compared with the target's (new, or held under the same key; with
//!    `--on-drift=update`, which tables with other unique keys hold drifted rows, see
//!    [`drift`]), then rows are inserted in dependency order, those tables' drifted rows
//!    brought back to the snapshot's values just before their new rows go in, with the cycle
//!    strategies of
//!    [`crate::graph`] (carried out in `cycles.rs`; as a role that may set
//!    `session_replication_role` with the foreign-key triggers off and every key checked
//!    afterwards, see `fast_path.rs`, the keys the snapshot's files prove by the files
//!    (`proved_keys.rs`), the others by counting queries; as a table owner that may not, with the keys dropped
//!    for the load and added back, validated, after it — which locks the tables and their
//!    parents `ACCESS EXCLUSIVE` until the commit — see `re_added_keys.rs`; those two only
//!    when every loaded table was empty, so no row can have drifted), then verified (present,
//!    drifted, missing, foreign keys), then the other drifted rows are brought back and
//!    verified again, then sequences are advanced, the held-off triggers are
//!    enabled as they were, then it commits — or rolls back on any failure or with
//!    `--dry-run`, and names the sequences its inserts drew from, which a rollback leaves
//!    advanced and seedsnap never moves back (see `sequences.rs`). When a value does not
//!    load, the transaction is rolled back and every file is staged again in a second one,
//!    also rolled back, to report every refused value.
//!
//! `Loader::load` reads as the list of these phases; each phase is one function.
//!
//! Before that, an overlay of hand-added rows and `--skip-missing` each derive a copy of the
//! snapshot (see [`crate::snapshot::overlay`], [`crate::snapshot::skip`]); at the start of the
//! import's transaction, the snapshot's migration state is compared with the target's
//! ([`crate::migrations`], each tool's table read in a savepoint rolled back and released).

pub mod batched_rows;
mod cycles;
pub mod drift;
mod fast_path;
mod fk_violation;
mod hints;
mod pending_check;
mod proved_keys;
mod re_added_keys;
mod schema_match;
mod sequences;
mod statements;
pub mod triggers;

pub use sequences::{LeftAdvanced, SequencesLeftAdvanced};

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use postgres::Transaction;
use serde::Serialize;

use crate::catalog::{quote_ident, Catalog, ForeignKey, Identity, QualifiedName, RowKey};
use crate::connection::{Endpoint, Side};
use crate::error::{failure, ExitKind};
use crate::graph::{self, LoadStrategy};
use crate::problem::{self, ProblemKind};
use crate::report::{self, Progress};
use crate::safety::{self, GuardOptions};
use crate::session;
use crate::snapshot::manifest::{
    self, ManifestForeignKey, SnapshotKind, SourceInfo, FORMAT, FORMAT_VERSION,
};
use crate::snapshot::table_file::{manifest_table, write_table_file, RowCounts, Rows};
use crate::snapshot::{Manifest, Problem, SnapshotDir, SnapshotWriter};
use batched_rows::InsertBatch;
use pending_check::PendingCheck;
use schema_match::MatchedTable;
use statements::LoadTable;
use triggers::UserTrigger;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub guard: GuardOptions,
    /// What to do with target rows that hold other content under a snapshot row's key.
    pub on_drift: drift::OnDrift,
    pub dry_run: bool,
    pub truncate_first: bool,
    /// Let user triggers run during the load instead of holding them off.
    pub fire_triggers: bool,
    pub lock_timeout_seconds: u64,
    /// Where `--truncate-first` writes its backups.
    pub backup_root: PathBuf,
    /// A directory of hand-added rows merged into the snapshot (see
    /// [`crate::snapshot::overlay`]).
    pub overlay: Option<PathBuf>,
    /// Tables and columns of the snapshot to leave out (`--skip-missing`).
    pub skip_missing: Vec<crate::snapshot::skip::SkipItem>,
    /// The entries of `skip_missing` that only the config file names, with where: one the
    /// snapshot no longer has is a stale entry, warned about, not an error.
    pub skip_missing_in_config: Vec<(crate::snapshot::skip::SkipItem, String)>,
    /// How rows travel to the target (`--load-via`).
    pub load_via: batched_rows::LoadVia,
}

/// How rows travelled (`--load-via`): the files loaded straight into empty tables, by INSERT
/// batches or by COPY (staged files always go by COPY).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RowsSent {
    pub load_via: batched_rows::LoadVia,
    /// The fastest of three empty round trips to the target (0 with `--load-via copy`).
    pub round_trip_ms: f64,
    pub files_by_insert: usize,
    pub files_by_copy: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableOutcome {
    pub table: String,
    pub in_snapshot: u64,
    pub inserted: u64,
    pub already_present: u64,
    /// Drifted rows brought back to the snapshot's values (`--on-drift=update`).
    pub updated: u64,
    /// Drifted rows left as they are (`--on-drift=keep`), or found (`fail`), or still
    /// differing after the update (a trigger changed them).
    pub drifted: u64,
    pub missing: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SequenceChange {
    pub sequence: String,
    pub from: i64,
    pub to: i64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportTimings {
    pub check_ms: f64,
    pub connect_ms: f64,
    pub catalog_ms: f64,
    pub lock_ms: f64,
    pub backup_ms: f64,
    pub staging_ms: f64,
    pub classify_ms: f64,
    pub insert_ms: f64,
    /// Choosing how keys are checked; for keys dropped for the load, dropping them and adding
    /// them back.
    pub foreign_keys_ms: f64,
    pub verify_ms: f64,
    pub sequences_ms: f64,
    pub commit_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub target: String,
    pub snapshot: String,
    pub dry_run: bool,
    pub committed: bool,
    pub tables: Vec<TableOutcome>,
    pub sequences: Vec<SequenceChange>,
    /// Of an import that did not commit (`--dry-run`; a failure carries them in its error):
    /// the sequences its inserts drew from, for columns only the target has, which a rollback
    /// does not give back and seedsnap never moves back, each with `from` and `to` (`null`
    /// where the role may not read it).
    pub sequences_left_advanced: Vec<sequences::LeftAdvanced>,
    pub backup: Option<String>,
    /// `--truncate-first`: the rows the snapshot's tables held before they were emptied (in
    /// the backup; with `--dry-run`, counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_emptied: Option<u64>,
    /// The overlay directory merged into the snapshot, if any.
    pub overlay: Option<String>,
    /// What `--skip-missing` left out, one warning each.
    pub skipped: Vec<String>,
    pub on_drift: drift::OnDrift,
    /// Every row brought back to the snapshot's values, with the columns that differed.
    pub drifted_rows: Vec<drift::DriftedRow>,
    /// Under `--on-drift=fail`: the drifted rows found (the first of each table, see
    /// [`drift::NAMED_PER_TABLE`]), which the failure names; nothing was changed.
    #[serde(skip)]
    pub drift_named: Vec<drift::DriftedRow>,
    pub foreign_key_violations: Vec<String>,
    /// User triggers disabled for the load and enabled again before COMMIT.
    pub triggers_held_off: Vec<UserTrigger>,
    /// User triggers that ran during the load (`--fire-triggers`).
    pub triggers_fired: Vec<UserTrigger>,
    /// Event triggers that fired on the import's own DDL: the staging tables' `CREATE
    /// TEMPORARY TABLE`, the `ALTER TABLE` that holds off user triggers (they cannot be held
    /// off; what they wrote is committed with the import).
    pub event_triggers: Vec<triggers::EventTrigger>,
    /// How the snapshot's migration state differs from the target's, one line per difference.
    pub migrations: Vec<String>,
    /// The snapshot's migration bookkeeping tables left as the target has them (it records
    /// migrations of its own, see [`crate::migrations::kept`]), one sentence each: their rows
    /// were neither loaded nor verified.
    pub bookkeeping_kept: Vec<String>,
    /// The fast path (`fast_path.rs`; a superuser or a role granted SET on
    /// `session_replication_role`): rows loaded with foreign-key triggers off, then
    /// every foreign key and deferrable unique key checked by batched counting queries.
    pub batched_key_checks: bool,
    /// How the foreign keys of the loaded tables were checked: `per_row` (their triggers),
    /// `batched` (the fast path above) or `re_added` (dropped for the load and added back,
    /// each validated by the server: `re_added_keys.rs`).
    pub key_checks: fast_path::KeyCheckMode,
    /// How many foreign keys were dropped for the load and added back (`re_added`).
    pub foreign_keys_re_added: usize,
    /// Of the fast path (`batched`): how many foreign keys the snapshot's files proved, which
    /// were not counted in the target (see `proved_keys.rs`).
    pub foreign_keys_proved_by_files: usize,
    /// How the rows of the tables loaded straight from their files reached the target.
    pub rows_sent: RowsSent,
    pub timings: ImportTimings,
}

/// Connects to the target, pins its session, and applies both guards: the name guard before
/// connecting (on the name asked for) and after (on the name the server reports).
pub fn open_target(
    endpoint: &Endpoint,
    options: &ImportOptions,
    snapshot_source: Option<(&SourceInfo, SnapshotKind)>,
) -> Result<(postgres::Client, session::TargetSession)> {
    safety::check_name_before_connecting(endpoint.dbname(), &options.guard)?;
    // Nothing is written before the session is set up: a failure here (a server out of lock
    // slots refuses even the connection) says so, as every later one does.
    const UNCHANGED: &str = "the import wrote nothing, the target is unchanged";
    let mut client = endpoint.connect(Side::Target).context(UNCHANGED)?;
    let session =
        session::configure_target(&mut client, options.lock_timeout_seconds).context(UNCHANGED)?;
    // The name the server reports, not the one in the URL, is what the guard judges.
    safety::check_name(
        &session.identity.database,
        &endpoint.display_name(),
        &options.guard,
    )?;
    if let Some((source, kind)) = snapshot_source {
        safety::check_not_source(&session.identity, source, kind)?;
    }
    Ok((client, session))
}

pub fn run(
    endpoint: &Endpoint,
    dir: &Path,
    options: &ImportOptions,
    progress: &Progress,
) -> Result<ImportReport> {
    // The overlay and --skip-missing each derive a copy of the snapshot; messages about a copy
    // are relocated to the files and lines they came from.
    let mut derived: Vec<crate::snapshot::overlay::Merged> = Vec::new();
    let relocate = |error: anyhow::Error, derived: &[crate::snapshot::overlay::Merged]| {
        let text = format!("{error:#}");
        let relocated = derived
            .iter()
            .rev()
            .fold(text.clone(), |t, d| d.relocate(&t));
        let problems = problem::problems_of(&error);
        let relocated_problems: Vec<problem::Problem> = problems
            .iter()
            .map(|p| {
                derived
                    .iter()
                    .rev()
                    .fold(p.clone(), |p, d| d.relocate_problem(p))
            })
            .collect();
        if relocated == text && relocated_problems == problems {
            error
        } else {
            problem::with_problems(
                crate::error::exit_kind(&error),
                relocated,
                relocated_problems,
            )
        }
    };
    let mut load_dir = dir.to_path_buf();
    if let Some(overlay) = &options.overlay {
        let merged = crate::snapshot::overlay::merge(&load_dir, overlay)?;
        progress.line(&format!(
            "overlay {}: {} hand-added rows in {} tables, checked with the snapshot",
            overlay.display(),
            merged.added.iter().map(|(_, rows)| rows).sum::<u64>(),
            merged.added.len()
        ));
        load_dir = merged.dir.clone();
        derived.push(merged);
    }
    let mut skipped = Vec::new();
    // What is really left out: a stale entry of the config file leaves nothing out, and must
    // not count as the target lacking part of the snapshot (see refuse_migrations_recorded).
    let mut effective = options.clone();
    if !options.skip_missing.is_empty() {
        let (copy, warnings, stale) = crate::snapshot::skip::apply(
            &load_dir,
            &options.skip_missing,
            &options.skip_missing_in_config,
        )
        .map_err(|e| relocate(e, &derived))?;
        for warning in &warnings {
            progress.always(&format!("warning: {warning}"));
        }
        skipped = warnings;
        effective.skip_missing.retain(|item| !stale.contains(item));
        load_dir = copy.dir.clone();
        derived.push(copy);
    }
    let options = &effective;
    let mut left = Vec::new();
    match run_import(endpoint, &load_dir, options, progress, &mut left) {
        Ok(mut report) => {
            report.snapshot = dir.display().to_string();
            report.overlay = options.overlay.as_ref().map(|o| o.display().to_string());
            report.skipped = skipped;
            Ok(report)
        }
        Err(error) => {
            let error = relocate(
                crate::connection::name_lost_connection(error, Side::Target, endpoint),
                &derived,
            );
            // Outermost, so that the message says it last and `--json` lists it.
            Err(match left.is_empty() {
                true => error,
                false => error.context(SequencesLeftAdvanced(left)),
            })
        }
    }
}

/// The import of a snapshot directory; when it fails, `left` receives the sequences its
/// inserts left advanced (see [`connect_and_load`]).
fn run_import(
    endpoint: &Endpoint,
    dir: &Path,
    options: &ImportOptions,
    progress: &Progress,
    left: &mut Vec<LeftAdvanced>,
) -> Result<ImportReport> {
    // A target the guard refuses by name is refused before the snapshot is even read.
    safety::check_name_before_connecting(endpoint.dbname(), &options.guard)?;
    progress.always(&format!(
        "loading into {}{}",
        endpoint.display_name(),
        if options.dry_run {
            " (dry run: nothing will be kept)"
        } else {
            ""
        }
    ));
    let snapshot = SnapshotDir::open(dir)?;
    std::thread::scope(|scope| {
        let check = PendingCheck::start(scope, &snapshot);
        connect_and_load(endpoint, &snapshot, &check, options, progress, left)
            .map_err(|error| check.first_error(error))
    })
}

/// The import once the snapshot's manifest is read and its files are being checked: connect,
/// load in one transaction, then commit or roll back. Whatever way it ends without committing
/// (refused, failed, dry, unverified), the sequences its inserts drew from are named with how
/// far they moved ([`sequences::left_advanced`]): on stderr and in the report of a dry run;
/// put in `left_out` otherwise, for [`run`] to add to the error.
fn connect_and_load(
    endpoint: &Endpoint,
    snapshot: &SnapshotDir,
    check: &PendingCheck<'_>,
    options: &ImportOptions,
    progress: &Progress,
    left_out: &mut Vec<LeftAdvanced>,
) -> Result<ImportReport> {
    let mut timings = ImportTimings::default();
    let (mut client, session) = timed(&mut timings.connect_ms, || {
        open_target(
            endpoint,
            options,
            Some((&snapshot.manifest.source, snapshot.manifest.kind)),
        )
    })?;
    if session.superuser && !options.fire_triggers && !check.beside_the_load() {
        // The fast path is likely: a small snapshot's keys are resolved in its files now,
        // while the import reads the target's catalog, not beside the load.
        check.prove_keys();
    }
    let identity = session.identity;
    let drawn = std::cell::RefCell::new(None);
    let loader = Loader {
        snapshot,
        check,
        options,
        progress,
        identity,
        round_trip: std::time::Duration::ZERO,
        drawn: &drawn,
    };
    let result = loader.load_and_end(&mut client, endpoint, timings);
    let committed = matches!(&result, Ok(report) if report.committed);
    let left = match drawn.take() {
        Some(drawn) if !committed => sequences::left_advanced(&mut client, &drawn),
        _ => Vec::new(),
    };
    match result {
        Ok(mut report) => {
            if !left.is_empty() {
                progress.always(&sequences::describe(&left));
            }
            report.sequences_left_advanced = left;
            Ok(report)
        }
        Err(error) => {
            *left_out = left;
            Err(error)
        }
    }
}

/// Compares the snapshot's migration state with the target's; each difference is a warning.
/// Read in the import's own transaction (each tool's table in a savepoint rolled back, see
/// [`crate::migrations::read`]), not in one of its own: two round trips fewer. Returns the
/// warnings and the target's state before the load (empty when the snapshot records none).
fn migration_notes(
    txn: &mut Transaction<'_>,
    manifest: &Manifest,
    progress: &Progress,
) -> Result<(Vec<String>, Vec<crate::migrations::MigrationState>)> {
    let has_bookkeeping = manifest
        .tables
        .iter()
        .any(|t| crate::migrations::is_bookkeeping_name(&t.name));
    if manifest.migrations.is_empty() && !has_bookkeeping {
        return Ok((Vec::new(), Vec::new()));
    }
    let target = crate::migrations::read(txn)?;
    let notes = crate::migrations::compare(&manifest.migrations, &target);
    for note in &notes {
        progress.always(&format!("warning: {note}"));
    }
    Ok((notes, target))
}

/// Fails when the target's schema lacks parts of the snapshot (`--skip-missing` left them
/// out) and the load filled a migration tool's table that was empty (see
/// [`crate::migrations::recorded_by_load`]; one that recorded migrations is kept, never
/// loaded): read again after the load, in the same transaction, which the caller then rolls
/// back. With the whole snapshot loaded, the target's schema has every table and column the
/// snapshot's does, and the snapshot's rows describe it.
fn refuse_migrations_recorded(
    txn: &mut Transaction<'_>,
    before: &[crate::migrations::MigrationState],
    schema_behind: bool,
) -> Result<()> {
    if before.is_empty() || !schema_behind {
        return Ok(());
    }
    let after = crate::migrations::read(txn)?;
    let problems: Vec<Problem> = crate::migrations::recorded_by_load(before, &after)
        .into_iter()
        .map(|(table, why)| {
            Problem::unplaced(why)
                .kind(ProblemKind::SchemaMismatch)
                .table(&table)
                .hint(format!(
                    "bring the target to the snapshot's migration first, then import; or leave \
                     the bookkeeping table out with --skip-missing {table}"
                ))
        })
        .collect();
    problem::check(
        ExitKind::BadInput,
        "loading the snapshot's migration bookkeeping would record migrations the target's \
         schema has not run (it lacks what --skip-missing left out):",
        &problems,
    )
}

fn print_tables(progress: &Progress, report: &ImportReport) {
    for table in &report.tables {
        progress.line(&format!(
            "{}: {} in snapshot, {} inserted, {} already present, {} updated, {} drifted{}",
            table.table,
            table.in_snapshot,
            table.inserted,
            table.already_present,
            table.updated,
            table.drifted,
            if table.missing > 0 {
                format!(", {} MISSING", table.missing)
            } else {
                String::new()
            }
        ));
    }
}

/// The reason verification fails, if it does, and the problems it names (the drifted rows
/// `--on-drift=fail` refuses).
fn verification_failure(
    report: &ImportReport,
    on_drift: drift::OnDrift,
) -> Option<(String, Vec<Problem>)> {
    let missing: u64 = report.tables.iter().map(|t| t.missing).sum();
    let drifted: Vec<String> = report
        .tables
        .iter()
        .filter(|t| t.drifted > 0)
        .map(|t| format!("{} ({} rows)", t.table, t.drifted))
        .collect();
    if missing > 0 {
        let which: Vec<String> = report
            .tables
            .iter()
            .filter(|t| t.missing > 0)
            .map(|t| format!("{} ({} rows)", t.table, t.missing))
            .collect();
        return Some((
            format!(
                "verification failed: snapshot rows are not in the target after loading: {} \
                 (a trigger changed them, or they conflict with existing rows on another \
                 unique key)",
                which.join(", ")
            ),
            Vec::new(),
        ));
    }
    if !report.foreign_key_violations.is_empty() {
        return Some((
            format!(
                "verification failed: foreign keys do not hold: {}",
                report.foreign_key_violations.join("; ")
            ),
            Vec::new(),
        ));
    }
    match on_drift {
        _ if drifted.is_empty() => {}
        drift::OnDrift::Keep => {}
        drift::OnDrift::Fail => {
            let problems = report
                .drift_named
                .iter()
                .map(|row| {
                    Problem::unplaced(row.describe())
                        .kind(ProblemKind::Drift)
                        .table(&row.table)
                })
                .collect();
            return Some((
                format!(
                    "verification failed: the target already has rows with the snapshot's keys \
                     but other content (drift) in {} (--on-drift=fail). --on-drift=update brings \
                     them back to the snapshot's values, --on-drift=keep keeps the target's \
                     rows, --truncate-first replaces every row of the snapshot's tables",
                    drifted.join(", "),
                ),
                problems,
            ));
        }
        drift::OnDrift::Update => {
            return Some((
                format!(
                    "verification failed: rows of {} still differ from the snapshot after they \
                     were updated, or conflict with a target row on another unique key (a \
                     trigger changing them, or a row added with the same unique value?); \
                     --on-drift=keep keeps the target's rows, --truncate-first replaces every \
                     row of the snapshot's tables",
                    drifted.join(", ")
                ),
                Vec::new(),
            ));
        }
    }
    None
}

fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

/// Runs one phase and adds its wall time, in milliseconds, to `slot`.
fn timed<T>(slot: &mut f64, phase: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let value = phase();
    *slot += ms_since(t0);
    value
}

struct Loader<'a, 's> {
    snapshot: &'a SnapshotDir,
    /// The offline check of the snapshot's files, waited for before the first write.
    check: &'a PendingCheck<'s>,
    options: &'a ImportOptions,
    progress: &'a Progress,
    identity: SourceInfo,
    /// The target's round trip, which `--load-via auto` weighs (zero when not measured).
    round_trip: std::time::Duration,
    /// Set before the first write when inserts may draw from sequences: where they stood, to
    /// name those left advanced if the import does not commit (see [`connect_and_load`]).
    drawn: &'a std::cell::RefCell<Option<sequences::Drawn>>,
}

/// How a phase that streams snapshot files ended: done, or stopped at the first value the
/// target refused. The transaction is then aborted, and [`refused_values_error`] lists every
/// such value in a second one.
enum Step<T> {
    Done(T),
    Refused(Problem),
}

/// What the insert phase reads and collects besides the rows: which tables load straight
/// from their files, whether each component is compared with the target just before it
/// loads, which tables hold drifted rows, and the rows brought back to the snapshot's values.
struct Insert<'a> {
    direct: &'a [bool],
    classify_each: bool,
    drifting: &'a mut [bool],
    drifted: &'a mut Vec<drift::DriftedRow>,
    /// A repair ran before the insert, with every deferrable key deferred: a drifted row of a
    /// child repaired only after the insert may still hold the value it changed, so the
    /// deferred checks wait for [`Loader::converge`].
    repaired_deferred: bool,
}

/// The target's side of the snapshot, decided once: its catalog, the load order, and for each
/// target table the snapshot table it receives and the statements that load it.
struct Layout<'a> {
    catalog: &'a Catalog,
    manifest: &'a Manifest,
    matched: Vec<MatchedTable>,
    plan: Vec<graph::Component>,
    by_target: HashMap<usize, usize>,
    loads: HashMap<usize, LoadTable<'a>>,
}

impl<'a> Layout<'a> {
    fn new(catalog: &'a Catalog, matched: Vec<MatchedTable>, manifest: &'a Manifest) -> Self {
        let edges = graph::edges_from_catalog(catalog);
        let plan = graph::load_plan(catalog.tables.len(), &edges);
        let by_target = matched.iter().map(|m| (m.target, m.manifest)).collect();
        let stage_names: Vec<String> = (0..manifest.tables.len())
            .map(|i| format!("pg_temp.{}", quote_ident(&format!("seedsnap_stage_{i}"))))
            .collect();
        let loads = matched
            .iter()
            .map(|m| (m.target, load_table(catalog, m, manifest, &stage_names)))
            .collect();
        Layout {
            catalog,
            manifest,
            matched,
            plan,
            by_target,
            loads,
        }
    }

    /// True when the snapshot fills `column` of the target's table `t` (a loaded table).
    fn fills(&self, t: usize, column: &str) -> bool {
        self.loads
            .get(&t)
            .is_some_and(|load| load.columns.iter().any(|c| c == column))
    }

    /// The snapshot table that target table `t` receives.
    fn manifest_table(&self, t: usize) -> &'a manifest::ManifestTable {
        &self.manifest.tables[self.by_target[&t]]
    }

    /// The target's tables in load order.
    fn order(&self) -> impl Iterator<Item = usize> + '_ {
        self.plan.iter().flat_map(|c| c.tables.iter().copied())
    }
}

/// The staged rows of table `t` whose repair needs a new row of `component` first: those whose
/// snapshot values reference, through a key of the component, a staged row new to the target
/// ([`drift::needs_new_row`]). Keys whose columns the snapshot lacks on either side are left
/// out: the repair sets no column the snapshot lacks.
fn needs_new_row(layout: &Layout, component: &graph::Component, t: usize) -> Option<String> {
    let child = &layout.loads[&t];
    let keys: Vec<drift::KeyToStaged> = layout
        .catalog
        .foreign_keys
        .iter()
        .filter(|fk| fk.child == t && component.tables.contains(&fk.parent))
        .filter_map(|fk| {
            let parent = layout.loads.get(&fk.parent)?;
            let covered = |load: &LoadTable, columns: &[String]| {
                columns.iter().all(|c| load.columns.contains(c))
            };
            (covered(child, &fk.columns) && covered(parent, &fk.parent_columns)).then(|| {
                drift::KeyToStaged {
                    columns: &fk.columns,
                    parent,
                    parent_columns: &fk.parent_columns,
                    equality: (0..fk.columns.len()).map(|i| fk.equality(i)).collect(),
                    casts: fk
                        .columns
                        .iter()
                        .zip(&fk.parent_columns)
                        .map(
                            |(c, p)| match (child.target.column(c), parent.target.column(p)) {
                                (Some(c), Some(p)) => crate::key_text::child_cast(c, p),
                                _ => None,
                            },
                        )
                        .collect(),
                }
            })
        })
        .collect();
    drift::needs_new_row(&keys)
}

/// Where the rows of the table with `oid` belong, for a repair that would carry over to them
/// ([`drift::repair`]).
fn referencing<'l>(layout: &'l Layout, direct: &[bool], oid: u32) -> drift::Referencing<'l> {
    let found = layout.loads.iter().find(|(_, l)| l.target.oid == oid);
    match found {
        Some((&t, _)) if direct[t] => drift::Referencing::Loaded,
        Some((_, l)) => drift::Referencing::Staged(l),
        None => drift::Referencing::Outside,
    }
}

/// Streams a reader into `COPY … FROM STDIN`.
fn stream_copy(
    txn: &mut Transaction<'_>,
    copy_sql: &str,
    reader: &mut impl std::io::Read,
) -> Result<u64, CopyFailure> {
    let mut writer = txn.copy_in(copy_sql).map_err(CopyFailure::Server)?;
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        // Ctrl-C: the writer dropped unfinished aborts the COPY.
        if crate::interrupt::requested() {
            return Err(CopyFailure::Interrupted);
        }
        // A file that cannot be read to its end aborts the COPY (the writer is dropped
        // unfinished), so no table is ever loaded with part of its file.
        let n = reader.read(&mut buffer).map_err(CopyFailure::Read)?;
        if n == 0 {
            break;
        }
        if writer.write_all(&buffer[..n]).is_err() {
            // The server refused the data; finish() reports why.
            break;
        }
    }
    writer.finish().map_err(CopyFailure::Server)
}

/// Why a COPY of a snapshot file failed: the file could not be read, the server refused, or
/// Ctrl-C stopped it.
enum CopyFailure {
    Read(std::io::Error),
    Server(postgres::Error),
    Interrupted,
}

/// Reads the target's catalog for the snapshot's schemas and matches the snapshot against it.
fn match_target(
    txn: &mut Transaction<'_>,
    snapshot: &SnapshotDir,
    left_as_they_are: &[QualifiedName],
) -> Result<(Catalog, Vec<MatchedTable>)> {
    let manifest = &snapshot.manifest;
    let mut schemas: Vec<String> = manifest.tables.iter().map(|t| t.schema.clone()).collect();
    schemas.sort();
    schemas.dedup();
    let full = Catalog::read(txn, &schemas)?;
    schema_match::match_snapshot(manifest, full, left_as_they_are, |t| {
        snapshot.file_path(t).display().to_string()
    })
    .map_err(|problems| {
        problem::into_error(
            ExitKind::BadInput,
            problem::counted(
                "the target's schema does not match the snapshot; nothing was written",
                &problems,
            ),
            &problems,
        )
    })
}

impl Loader<'_, '_> {
    /// The import inside the caller's transaction, as a script of timed phases; the caller
    /// commits or rolls back.
    /// The event triggers that will fire on the import's DDL with command `tag`, which `what`
    /// describes, each named on stderr before it fires: they cannot be held off, and what they
    /// write is committed with the import.
    fn event_triggers_on(
        &self,
        txn: &mut Transaction<'_>,
        tag: &str,
        what: &str,
    ) -> Result<Vec<triggers::EventTrigger>> {
        let fired = triggers::firing_on(txn, &[tag])?;
        if !fired.is_empty() {
            self.progress.always(&format!(
                "warning: event trigger(s) {} fire on {what}: they cannot be held off, and what \
                 they write is committed with the import (disable the event trigger around the \
                 import if it must not see this DDL)",
                list_triggers(&fired)
            ));
        }
        Ok(fired)
    }

    /// With the tables locked, before the first write: where the sequences the inserts may
    /// draw from stand (those feeding a column the snapshot leaves to the target), as far as
    /// the role may read them.
    fn remember_sequences(
        &self,
        txn: &mut Transaction<'_>,
        layout: &Layout,
        feeds: &[(usize, String, String)],
    ) -> Result<()> {
        let drawn = sequences::drawn_by_inserts(feeds, |t, column| layout.fills(t, column));
        if drawn.is_empty() {
            return Ok(());
        }
        *self.drawn.borrow_mut() = Some(sequences::before_writes(txn, &drawn)?);
        Ok(())
    }

    /// The import's transaction, from its first statement to its COMMIT or rollback.
    fn load_and_end(
        mut self,
        client: &mut postgres::Client,
        endpoint: &Endpoint,
        timings: ImportTimings,
    ) -> Result<ImportReport> {
        let (snapshot, check, options, progress) =
            (self.snapshot, self.check, self.options, self.progress);
        let mut txn = client.transaction()?;
        // What the transaction reads before loading fails as the load does: rolled back, and
        // said so (a full lock table, say, can refuse any statement).
        let begun = migration_notes(&mut txn, &snapshot.manifest, progress).and_then(|notes| {
            self.round_trip = match options.load_via {
                batched_rows::LoadVia::Copy => std::time::Duration::ZERO,
                _ => batched_rows::measure_round_trip(&mut txn)?,
            };
            Ok(notes)
        });
        let mut kept = Vec::new();
        let (migrations, loaded) = match begun {
            Ok((migrations, before)) => {
                kept = crate::migrations::kept(
                    &snapshot.manifest.migrations,
                    &before,
                    snapshot
                        .manifest
                        .tables
                        .iter()
                        .map(|t| (t.schema.as_str(), t.name.as_str())),
                );
                for table in &kept {
                    match table.differs {
                        true => progress.always(&table.note),
                        false => progress.line(&table.note),
                    }
                }
                let left: Vec<QualifiedName> = kept
                    .iter()
                    .map(|k| QualifiedName::new(k.schema.clone(), k.name.clone()))
                    .collect();
                let loaded = self.load(&mut txn, timings, &left).and_then(|step| {
                    // After a refused value the transaction is aborted: that error comes first.
                    if let Step::Done(_) = step {
                        let schema_behind = !options.skip_missing.is_empty();
                        refuse_migrations_recorded(&mut txn, &before, schema_behind)?;
                    }
                    Ok(step)
                });
                (migrations, loaded)
            }
            Err(error) => (Vec::new(), Err(error)),
        };
        // Ctrl-C after the last step: nothing is committed.
        let loaded = match loaded {
            Ok(_) if crate::interrupt::requested() => Err(crate::interrupt::error()),
            loaded => loaded,
        };
        let mut report = match loaded {
            Ok(Step::Done(report)) => report,
            Ok(Step::Refused(first)) => {
                let _ = txn.rollback();
                let left: Vec<QualifiedName> = kept
                    .iter()
                    .map(|k| QualifiedName::new(k.schema.clone(), k.name.clone()))
                    .collect();
                return Err(refused_values_error(client, snapshot, &left, first));
            }
            Err(error) if check.failed.get() => return Err(error),
            Err(error) => {
                // Dropping the transaction rolls back; say so explicitly for the reader.
                let _ = txn.rollback();
                let error = privilege_hint(fk_violation::locate_in_error(error, snapshot));
                let error = match migrations.is_empty() {
                    // A schema that does not match is most likely explained by the migrations.
                    false if crate::error::exit_kind(&error) == ExitKind::BadInput => {
                        error.context(format!("migrations: {}", migrations.join("; ")))
                    }
                    _ => error,
                };
                return Err(error.context("the import was rolled back; the target is unchanged"));
            }
        };
        report.target = endpoint.display_name();
        report.migrations = migrations;
        report.bookkeeping_kept = kept.into_iter().map(|k| k.note).collect();
        let failed = verification_failure(&report, options.on_drift);
        report.committed = timed(&mut report.timings.commit_ms, || -> Result<bool> {
            if options.dry_run || failed.is_some() {
                txn.rollback()?;
                return Ok(false);
            }
            // On failure, dropping the transaction rolls back.
            sequences::apply(&mut txn, &report.sequences)?;
            txn.commit().context("committing the import")?;
            Ok(true)
        })?;
        report.timings.total_ms = progress.elapsed_ms();
        if let Some((message, problems)) = failed {
            if let Some(backup) = &report.backup {
                progress.always(&format!(
                    "the backup taken before truncating stays in {backup}"
                ));
            }
            print_tables(progress, &report);
            let listed: String = problems.iter().map(|p| format!("\n  - {p}")).collect();
            let listed = match listed.is_empty() {
                true => listed,
                false => format!(
                    "\ndrifted rows (key: columns that differ; the first {} of each table):{listed}",
                    drift::NAMED_PER_TABLE
                ),
            };
            return Err(problem::with_problems(
                ExitKind::VerificationFailed,
                format!(
                    "{message}; the import was rolled back and the target is unchanged{listed}"
                ),
                problems,
            ));
        }
        Ok(report)
    }

    /// The load itself; the tables of `left_as_they_are` are neither loaded nor verified.
    fn load(
        &self,
        txn: &mut Transaction<'_>,
        mut timings: ImportTimings,
        left_as_they_are: &[QualifiedName],
    ) -> Result<Step<ImportReport>> {
        let manifest = &self.snapshot.manifest;
        let (mut catalog, matched) = timed(&mut timings.catalog_ms, || {
            match_target(txn, self.snapshot, left_as_they_are)
        })?;
        let user_triggers = triggers::read(txn, &catalog)?;
        check_triggers(txn, &user_triggers, self.options.fire_triggers)?;
        let (held_off, fired) =
            triggers::hold_off(&mut catalog, user_triggers, self.options.fire_triggers);
        let layout = Layout::new(&catalog, matched, manifest);
        // While the path is still empty, as sequence names are read as regclass text.
        let feeds = timed(&mut timings.sequences_ms, || sequence_feeds(txn, &layout))?;
        self.check.wait()?;
        timings.check_ms = self.check.took.get().as_secs_f64() * 1e3;
        // Not the directory's path: with an overlay or --skip-missing it is a temporary copy.
        self.progress.line(&format!(
            "checked the snapshot's files ({} tables, {} rows)",
            manifest.tables.len(),
            manifest.tables.iter().map(|t| t.rows).sum::<u64>()
        ));
        timed(&mut timings.lock_ms, || lock(txn, &layout, self.options))?;
        self.remember_sequences(txn, &layout, &feeds)?;
        let mut event_triggers = match held_off.is_empty() {
            true => Vec::new(),
            false => self.event_triggers_on(
                txn,
                "ALTER TABLE",
                &format!(
                    "the ALTER TABLE … DISABLE/ENABLE TRIGGER that holds off {} user trigger(s)",
                    held_off.len()
                ),
            )?,
        };
        // The role's path restored first, in the same round trip (see
        // `use_role_search_path`): event triggers' functions may rely on it.
        txn.batch_execute(&format!(
            "{ROLE_SEARCH_PATH};\n{}",
            triggers::disable_sql(&held_off)
        ))
        .context("restoring the role's search_path and disabling user triggers for the load")?;
        let (mut backup, mut rows_emptied) = (None, None);
        if self.options.truncate_first {
            let (dir, rows) = timed(&mut timings.backup_ms, || {
                self.backup_and_truncate(txn, &catalog, &layout.plan)
            })?;
            (backup, rows_emptied) = (dir, Some(rows));
        }
        // Triggers that run may make snapshot rows while tables load: then no table is loaded
        // with COPY straight into it, and each is compared with the target just before it
        // loads, not all at once.
        let fire = !fired.is_empty();
        let (mut direct, empty) = timed(&mut timings.staging_ms, || {
            choose_direct(txn, &layout, fire)
        })?;
        // Replica mode would also stop the triggers --fire-triggers asks to run.
        let loaded: Vec<usize> = layout.matched.iter().map(|m| m.target).collect();
        let key_checks = match self.options.fire_triggers {
            true => fast_path::KeyChecks::PerRow,
            false => timed(&mut timings.foreign_keys_ms, || {
                fast_path::begin(txn, &catalog, &loaded, &empty, checked_values(&layout))
            })?,
        };
        if matches!(key_checks, fast_path::KeyChecks::Batched) && self.check.beside_the_load() {
            // Resolved in the files while the rows load (a superuser's small snapshot's
            // already are): the keys they prove are not counted.
            self.check.prove_keys();
        }
        if key_checks.keys_off_during_load() {
            // Every loaded table is empty and stores its rows verbatim (the fast path's
            // conditions), and with no key checked while they load the tables of a cycle
            // load straight from their files too, in any order: the keys are proved after.
            for &t in &loaded {
                direct[t] = true;
            }
        }
        if let fast_path::KeyChecks::ReAdded(dropped) = &key_checks {
            self.done(
                &format!(
                    "dropped {} for the load, to add back and validate after it (the role may \
                     not switch their triggers off)",
                    foreign_keys(dropped.keys.len())
                ),
                timings.foreign_keys_ms,
            );
        }
        let staged = layout.matched.iter().filter(|m| !direct[m.target]).count();
        if staged > 0 {
            let on_staging = self.event_triggers_on(
                txn,
                "CREATE TABLE",
                &format!(
                    "the import's {staged} temporary staging table(s) (CREATE TEMPORARY TABLE)"
                ),
            )?;
            for trigger in on_staging {
                if !event_triggers.contains(&trigger) {
                    event_triggers.push(trigger);
                }
            }
        }
        let mut batch = InsertBatch::default();
        let staged = timed(&mut timings.staging_ms, || {
            self.stage(txn, &layout, &direct, &mut batch)
        })?;
        if let Step::Refused(problem) = staged {
            return Ok(Step::Refused(problem));
        }
        self.done(
            "staged the snapshot's files in temporary tables",
            timings.staging_ms,
        );
        // Tables holding drifted rows (`--on-drift=update`), repaired as they load.
        let mut drifting = vec![false; catalog.tables.len()];
        if !fire {
            let staged: Vec<usize> = layout.order().filter(|&t| !direct[t]).collect();
            timed(&mut timings.classify_ms, || {
                self.classify(txn, &layout, &staged, &mut drifting)
            })?;
            self.done(
                "compared the staged rows with the target's",
                timings.classify_ms,
            );
        }
        let mut drifted_rows = Vec::new();
        let inserted = match timed(&mut timings.insert_ms, || {
            let mut load = Insert {
                direct: &direct,
                classify_each: fire,
                drifting: &mut drifting,
                drifted: &mut drifted_rows,
                repaired_deferred: false,
            };
            let inserted = self.insert(txn, &layout, &mut load, &mut batch);
            inserted.map(|step| (step, load.repaired_deferred))
        })? {
            (Step::Done(inserted), deferred) => (inserted, deferred),
            (Step::Refused(problem), _) => return Ok(Step::Refused(problem)),
        };
        let (inserted, deferred) = inserted;
        self.done(
            &format!("inserted {} new rows", inserted.values().sum::<u64>()),
            timings.insert_ms,
        );
        let mut proved_by_files = 0;
        match &key_checks {
            fast_path::KeyChecks::PerRow => {}
            fast_path::KeyChecks::Batched => {
                let (proved, counted) = timed(&mut timings.verify_ms, || {
                    let proved = self
                        .check
                        .resolved_keys()
                        .map(|resolved| proved_keys::proved_keys(&layout, &resolved))
                        .unwrap_or_default();
                    fast_path::check(txn, &layout, &loaded, self.snapshot, &proved)
                        .map(|counted| (proved.len(), counted))
                })?;
                proved_by_files = proved;
                if proved > 0 {
                    self.progress.line(&format!(
                        "{} proved by the snapshot's files (empty tables loaded from files \
                         whose keys resolve), {counted} counted in the target",
                        foreign_keys(proved)
                    ));
                }
            }
            fast_path::KeyChecks::ReAdded(dropped) => {
                let mut took = 0.0;
                timed(&mut took, || {
                    self.add_keys_back(txn, &layout, &loaded, dropped)
                })?;
                timings.foreign_keys_ms += took;
                self.done(
                    &format!(
                        "added back and validated {}",
                        foreign_keys(dropped.keys.len())
                    ),
                    took,
                );
            }
        }
        let (mut tables, mut violations) = timed(&mut timings.verify_ms, || {
            verify(txn, &layout, &direct, &inserted, self.snapshot)
        })?;
        timed(&mut timings.verify_ms, || {
            self.converge(
                txn,
                &layout,
                &direct,
                &inserted,
                (&mut tables, &mut violations),
                &mut drifted_rows,
                deferred,
            )
        })?;
        let drift_named = match self.options.on_drift {
            drift::OnDrift::Fail => timed(&mut timings.verify_ms, || {
                let drifted = layout
                    .order()
                    .zip(tables.iter())
                    .filter(|(_, outcome)| outcome.drifted > 0)
                    .map(|(t, _)| &layout.loads[&t]);
                drift::named(txn, drifted)
            })?,
            _ => Vec::new(),
        };
        for outcome in tables.iter_mut() {
            let updated = drifted_rows
                .iter()
                .filter(|r| r.table == outcome.table)
                .count() as u64;
            // Repaired rows hold the snapshot's content now: counted as present, not updated.
            outcome.updated = updated;
            outcome.already_present = outcome.already_present.saturating_sub(updated);
        }
        self.done(
            "verified every snapshot row and foreign key in the target",
            timings.verify_ms,
        );
        // Only the columns the snapshot fills: a column left to the target gets its values
        // from the sequence itself, and reading it would need SELECT on that sequence.
        let filled: Vec<(usize, String, String)> = feeds
            .iter()
            .filter(|(t, column, _)| layout.fills(*t, column))
            .cloned()
            .collect();
        let sequences = timed(&mut timings.sequences_ms, || {
            sequences::plan(txn, &catalog, &filled)
        })?;
        // Every trigger as it was, before COMMIT.
        if !held_off.is_empty() {
            txn.batch_execute(&triggers::restore_sql(&held_off))
                .context("enabling the user triggers held off during the load")?;
        }

        let report = ImportReport {
            target: String::new(),
            snapshot: self.snapshot.dir.display().to_string(),
            dry_run: self.options.dry_run,
            committed: false,
            tables,
            sequences,
            sequences_left_advanced: Vec::new(),
            backup,
            rows_emptied,
            overlay: None,
            skipped: Vec::new(),
            on_drift: self.options.on_drift,
            drifted_rows,
            drift_named,
            foreign_key_violations: violations,
            triggers_held_off: held_off,
            triggers_fired: fired,
            event_triggers,
            migrations: Vec::new(),
            bookkeeping_kept: Vec::new(),
            batched_key_checks: key_checks.mode() == fast_path::KeyCheckMode::Batched,
            key_checks: key_checks.mode(),
            foreign_keys_re_added: match &key_checks {
                fast_path::KeyChecks::ReAdded(dropped) => dropped.keys.len(),
                _ => 0,
            },
            foreign_keys_proved_by_files: proved_by_files,
            rows_sent: RowsSent {
                load_via: self.options.load_via,
                round_trip_ms: self.round_trip.as_secs_f64() * 1e3,
                files_by_insert: batch.files_by_insert,
                files_by_copy: batch.files_by_copy,
            },
            timings,
        };
        print_tables(self.progress, &report);
        Ok(Step::Done(report))
    }

    /// Adds back the keys dropped for the load. Rows that break one fail the import as the
    /// trigger would have: the fast path's counting queries find and name them (key, file,
    /// line), and the caller rolls back, keys included.
    fn add_keys_back(
        &self,
        txn: &mut Transaction<'_>,
        layout: &Layout,
        loaded: &[usize],
        dropped: &re_added_keys::DroppedKeys,
    ) -> Result<()> {
        // No deferred check is pending here (one would make ALTER TABLE refuse): the insert
        // ran them all (`cycles::check_deferred`).
        let Some(refused) = re_added_keys::add_back(txn, dropped)? else {
            return Ok(());
        };
        fast_path::check_keys(txn, layout, loaded, self.snapshot)?;
        // A key seedsnap's catalog does not know (none of its counts found the orphans).
        Err(constraint_violation(refused, "the loaded tables"))
    }

    /// A progress line for a finished phase.
    fn done(&self, what: &str, ms: f64) {
        self.progress.line(&format!("{what} ({})", report::ms(ms)));
    }

    /// Marks the staged rows of `tables` that are new to the target and, with
    /// `--on-drift=update`, which of the tables hold drifted rows ([`drift::find`]), in one
    /// round trip and before anything is written to them.
    fn classify(
        &self,
        txn: &mut Transaction<'_>,
        layout: &Layout,
        tables: &[usize],
        drifting: &mut [bool],
    ) -> Result<()> {
        if tables.is_empty() {
            return Ok(());
        }
        let classify: Vec<String> = tables.iter().map(|t| layout.loads[t].classify()).collect();
        let classify = classify.join(";\n");
        if self.options.on_drift != drift::OnDrift::Update {
            return txn
                .batch_execute(&classify)
                .context("comparing the staged rows with the target");
        }
        let loads: Vec<(usize, &LoadTable)> =
            tables.iter().map(|&t| (t, &layout.loads[&t])).collect();
        for t in drift::find(txn, &classify, &loads)? {
            drifting[t] = true;
        }
        Ok(())
    }

    /// With `--on-drift=update`, after the insert: brings back the drifted rows of the tables
    /// not repaired before their new rows (those with no unique key but the one rows are
    /// matched by: their repair changes no value a new row could need or collide with),
    /// parents first, then verifies again (counts and foreign keys: a row's new values may be
    /// what its children point at). Tables without drift cost nothing more. With `deferred`
    /// (a repair before the insert ran with the deferrable keys deferred), the deferred checks
    /// run here, after the last repair: a child's drifted row repaired now may have held the
    /// value its parent's repair changed.
    #[allow(clippy::too_many_arguments)]
    fn converge(
        &self,
        txn: &mut Transaction<'_>,
        layout: &Layout,
        direct: &[bool],
        inserted: &HashMap<usize, u64>,
        (tables, violations): (&mut Vec<TableOutcome>, &mut Vec<String>),
        drifted: &mut Vec<drift::DriftedRow>,
        deferred: bool,
    ) -> Result<()> {
        if self.options.on_drift != drift::OnDrift::Update || tables.iter().all(|t| t.drifted == 0)
        {
            if deferred {
                cycles::check_deferred(txn)?;
            }
            return Ok(());
        }
        // Deferrable keys wait for the last update (rows of a cycle may move together).
        txn.batch_execute("SET CONSTRAINTS ALL DEFERRED")?;
        let candidates: Vec<usize> = layout
            .order()
            .zip(tables.iter())
            .filter(|(_, outcome)| outcome.drifted > 0)
            .map(|(t, _)| t)
            .collect();
        for t in candidates {
            let rows = drift::repair(
                txn,
                &layout.loads[&t],
                None,
                &|oid| referencing(layout, direct, oid),
                constraint_violation,
            )?;
            drifted.extend(rows);
        }
        txn.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
            .map_err(|e| constraint_violation(e, "the updated rows"))
            .context("checking deferred foreign keys after the update")?;
        (*tables, *violations) = verify(txn, layout, direct, inserted, self.snapshot)?;
        Ok(())
    }

    /// Inserts a component some of whose tables hold drifted rows that are repaired first
    /// ([`drift::repaired_first`]), bringing those back to the snapshot's values before, parents
    /// before children (the plan's order): a new row may
    /// need a repaired value (a foreign key to a unique column), and a drifted row may hold a
    /// unique value a new row brings, so the repaired tables are compared with the target
    /// again before their new rows go in. In a cycle, or a table that references itself
    /// (deferrable keys deferred), a repaired row may need a new row of the component instead:
    /// when the repair before the insert breaks a key, it is rolled back to a savepoint, and
    /// only the rows whose snapshot values reference no new row of the component are repaired
    /// before the insert ([`drift::needs_new_row`]), the others after it; when even that
    /// breaks a key, every repair of the component waits for its rows.
    fn repair_and_insert(
        &self,
        txn: &mut Transaction<'_>,
        layout: &Layout,
        component: &graph::Component,
        load: &mut Insert<'_>,
        inserted: &mut HashMap<usize, u64>,
    ) -> Result<()> {
        let repaired: Vec<usize> = component
            .tables
            .iter()
            .copied()
            .filter(|&t| load.drifting[t])
            .collect();
        let direct = load.direct;
        let referencing = |oid: u32| referencing(layout, direct, oid);
        // Each table's rows left for after the insert, in the partial repair.
        let postponed: HashMap<usize, String> = repaired
            .iter()
            .filter_map(|&t| needs_new_row(layout, component, t).map(|c| (t, c)))
            .collect();
        let repair_all =
            |txn: &mut Transaction<'_>, postpone: bool| -> Result<Vec<drift::DriftedRow>> {
                let mut rows = Vec::new();
                for &t in &repaired {
                    rows.extend(drift::repair(
                        txn,
                        &layout.loads[&t],
                        postponed.get(&t).filter(|_| postpone).map(String::as_str),
                        &referencing,
                        constraint_violation,
                    )?);
                }
                Ok(rows)
            };
        // A drifted child repaired after the insert may still hold the value a repair changes
        // (a deferrable key waits for it: checked after the last repair, see `converge`).
        txn.batch_execute("SET CONSTRAINTS ALL DEFERRED")?;
        load.repaired_deferred = true;
        // A table referencing itself too: a repaired row may point at one of its new rows.
        let cycle = !matches!(component.strategy, LoadStrategy::Plain);
        let attempts: &[bool] = match (cycle, postponed.is_empty()) {
            (false, _) => &[],
            (true, true) => &[false],
            (true, false) => &[false, true],
        };
        // The rows repaired before the insert, and whether some were left for after it.
        let mut before = None;
        let mut left = true;
        for &postpone in attempts {
            let mut savepoint = txn.transaction()?;
            match repair_all(&mut savepoint, postpone) {
                Ok(rows) => {
                    savepoint.commit()?;
                    before = Some(rows);
                    left = postpone;
                    break;
                }
                // A key the repair breaks until the cycle's new rows are in.
                Err(e) if crate::error::exit_kind(&e) == ExitKind::BadInput => {}
                Err(e) => return Err(e),
            }
        }
        if !cycle {
            before = Some(repair_all(txn, false)?);
            left = false;
        }
        if let Some(rows) = &before {
            // Rows a repaired row's unique value kept out are new now.
            let classify: Vec<String> = repaired
                .iter()
                .filter(|t| {
                    rows.iter()
                        .any(|r| r.table == layout.loads[t].target.name.to_string())
                })
                .map(|t| layout.loads[t].classify())
                .collect();
            if !classify.is_empty() {
                txn.batch_execute(&classify.join(";\n"))
                    .context("comparing the repaired tables' staged rows with the target")?;
            }
        }
        cycles::insert_component(txn, layout.catalog, component, &layout.loads, inserted)?;
        load.drifted.extend(before.unwrap_or_default());
        if left {
            let rows = repair_all(txn, false)?;
            load.drifted.extend(rows);
        }
        Ok(())
    }

    /// Stages every file that is not loaded directly, before touching a real table.
    fn stage(
        &self,
        txn: &mut Transaction<'_>,
        layout: &Layout,
        direct: &[bool],
        batch: &mut InsertBatch,
    ) -> Result<Step<()>> {
        for m in &layout.matched {
            if direct[m.target] {
                continue;
            }
            let load = &layout.loads[&m.target];
            let table = &layout.manifest.tables[m.manifest];
            let problem = match self.file_as_insert(table, &load.stage, &load.columns, false)? {
                Some(insert) => {
                    let sql = format!("{};\n{insert}", load.create_stage(&stage_types(layout, m)));
                    batch.add(txn, sql, table, self.snapshot, self.progress)?
                }
                None => match batch.send(txn, self.snapshot, self.progress)? {
                    Some(problem) => Some(problem),
                    None => {
                        batch.files_by_copy += 1;
                        stage_file(txn, self.snapshot, layout, m, false, self.progress)?
                    }
                },
            };
            if let Some(problem) = problem {
                return Ok(Step::Refused(problem));
            }
        }
        match batch.send(txn, self.snapshot, self.progress)? {
            Some(problem) => Ok(Step::Refused(problem)),
            None => Ok(Step::Done(())),
        }
    }

    /// Inserts in dependency order: a component of direct loads with COPY straight from its
    /// files, any other with the statements of [`cycles`] (with `classify_each`, after comparing
    /// its staged rows with the target), its drifted rows brought back first
    /// ([`Self::repair_and_insert`]). Returns the rows inserted per table.
    fn insert(
        &self,
        txn: &mut Transaction<'_>,
        layout: &Layout,
        load: &mut Insert<'_>,
        batch: &mut InsertBatch,
    ) -> Result<Step<HashMap<usize, u64>>> {
        let direct = load.direct;
        let mut inserted: HashMap<usize, u64> = HashMap::new();
        // Plain components' inserts waiting to go together, in plan order.
        let mut plain: Vec<usize> = Vec::new();
        for component in &layout.plan {
            if component.tables.iter().all(|&t| direct[t]) {
                cycles::insert_plain(
                    txn,
                    &std::mem::take(&mut plain),
                    &layout.loads,
                    &mut inserted,
                )?;
                for &t in &component.tables {
                    if let Some(problem) = self.load_direct(txn, layout, t, batch)? {
                        return Ok(Step::Refused(problem));
                    }
                    inserted.insert(t, layout.manifest_table(t).rows);
                }
                continue;
            }
            if let Some(problem) = batch.send(txn, self.snapshot, self.progress)? {
                return Ok(Step::Refused(problem));
            }
            let drifts = |load: &Insert| component.tables.iter().any(|&t| load.drifting[t]);
            if !load.classify_each && cycles::is_plain(component) && !drifts(load) {
                plain.push(component.tables[0]);
                continue;
            }
            cycles::insert_plain(
                txn,
                &std::mem::take(&mut plain),
                &layout.loads,
                &mut inserted,
            )?;
            let _spinner = self.progress.step(&format!(
                "inserting into {}",
                component
                    .tables
                    .iter()
                    .map(|&t| layout.catalog.tables[t].name.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            if load.classify_each {
                self.classify(txn, layout, &component.tables, load.drifting)?;
            }
            if drifts(load) {
                self.repair_and_insert(txn, layout, component, load, &mut inserted)?;
                continue;
            }
            cycles::insert_component(txn, layout.catalog, component, &layout.loads, &mut inserted)?;
        }
        cycles::insert_plain(txn, &plain, &layout.loads, &mut inserted)?;
        if let Some(problem) = batch.send(txn, self.snapshot, self.progress)? {
            return Ok(Step::Refused(problem));
        }
        if !load.repaired_deferred {
            cycles::check_deferred(txn)?;
        }
        Ok(Step::Done(inserted))
    }

    /// Loads table `t`'s file straight into the (empty) target table: into `batch` when its
    /// rows go as an INSERT ([`batched_rows`]), else by COPY, after sending what the batch
    /// holds so that the plan's order is kept.
    fn load_direct(
        &self,
        txn: &mut Transaction<'_>,
        layout: &Layout,
        t: usize,
        batch: &mut InsertBatch,
    ) -> Result<Option<Problem>> {
        let table = layout.manifest_table(t);
        let load = &layout.loads[&t];
        let into = load.target.name.sql();
        if let Some(sql) = self.file_as_insert(table, &into, &load.columns, load.overriding)? {
            return batch.add(txn, sql, table, self.snapshot, self.progress);
        }
        if let Some(problem) = batch.send(txn, self.snapshot, self.progress)? {
            return Ok(Some(problem));
        }
        batch.files_by_copy += 1;
        copy_file(
            txn,
            self.snapshot,
            &load.copy_direct(),
            table,
            false,
            self.progress,
        )
    }

    /// The INSERT statement of a whole file into `into`, when `--load-via` sends this file
    /// so (and its rows can be written as literals).
    fn file_as_insert(
        &self,
        table: &manifest::ManifestTable,
        into: &str,
        columns: &[String],
        overriding: bool,
    ) -> Result<Option<String>> {
        let path = self.snapshot.file_path(table);
        let bytes = std::fs::metadata(&path).map_or(u64::MAX, |m| m.len());
        let transport = batched_rows::Transport::for_file(
            self.options.load_via,
            self.round_trip,
            table.rows,
            bytes,
        );
        if transport == batched_rows::Transport::Copy || table.rows == 0 {
            return Ok(None);
        }
        let mut data = Vec::new();
        crate::snapshot::open_regular(&path)
            .and_then(|mut file| std::io::Read::read_to_end(&mut file, &mut data))
            .with_context(|| format!("reading {}", path.display()))?;
        // The rows sent must be those the check read.
        if let Some(found) = crate::snapshot::digest_differs(&data, &table.sha256) {
            return Err(failure(
                ExitKind::BadInput,
                crate::snapshot::changed_while_loading(&path, &found, &table.sha256),
            ));
        }
        let rows = data
            .iter()
            .position(|&b| b == b'\n')
            .map_or(&data[data.len()..], |end| &data[end + 1..]);
        let prefix = batched_rows::insert_prefix(into, columns, overriding);
        Ok(batched_rows::file_statement(&prefix, rows).ok())
    }

    /// `--truncate-first`: back up the current contents of exactly the snapshot's tables to a
    /// new timestamped snapshot directory, then empty them. Never CASCADE: a table outside the
    /// snapshot that references one of them makes TRUNCATE fail, and the import with it.
    fn backup_and_truncate(
        &self,
        txn: &mut Transaction<'_>,
        catalog: &Catalog,
        plan: &[graph::Component],
    ) -> Result<(Option<String>, u64)> {
        let order: Vec<usize> = plan.iter().flat_map(|c| c.tables.iter().copied()).collect();
        let mut backup = None;
        let rows_held;
        if self.options.dry_run {
            // No backup on a dry run: the rows are counted, to say what would be emptied.
            let counts: Vec<String> = order
                .iter()
                .map(|&t| {
                    format!(
                        "(SELECT pg_catalog.count(*) FROM {})",
                        catalog.tables[t].from_clause()
                    )
                })
                .collect();
            rows_held = match counts.is_empty() {
                true => 0,
                false => {
                    let sql = format!("SELECT ({})::pg_catalog.int8", counts.join(" + "));
                    txn.query_one(sql.as_str(), &[])?.get::<_, i64>(0) as u64
                }
            };
        } else {
            ignore_in_git(&self.options.backup_root);
            // A backup a killed import was writing is not a backup: only finished ones stay.
            crate::snapshot::directory::remove_abandoned(
                &self.options.backup_root,
                "an unfinished backup",
                std::time::Duration::ZERO,
                |name| {
                    let (_, pid) = name.strip_prefix('.')?.rsplit_once(".seedsnap-tmp-")?;
                    pid.parse().ok()
                },
            );
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
            let base = format!("{}-{stamp}", self.identity.database);
            let mut dir = self.options.backup_root.join(&base);
            let mut n = 1;
            while dir.exists() {
                n += 1;
                dir = self.options.backup_root.join(format!("{base}-{n}"));
            }
            let writer = SnapshotWriter::create_new(&dir)?;
            let mut tables = Vec::new();
            for &t in &order {
                let table = &catalog.tables[t];
                let sql = format!(
                    "COPY (SELECT {} FROM {} AS t ORDER BY {}) TO STDOUT",
                    table
                        .stored_columns()
                        .map(|c| quote_ident(&c.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    table.from_clause(),
                    table.order_by("t.")
                );
                let (file, sha256, rows) = write_table_file(
                    &writer,
                    txn,
                    catalog,
                    t,
                    Rows::Copy(&sql),
                    "backing up",
                    (self.progress, None),
                )?;
                let counts = RowCounts {
                    rows,
                    sampled: rows,
                    backfilled: 0,
                };
                tables.push(manifest_table(catalog, t, file, counts, sha256));
            }
            let manifest = Manifest {
                format: FORMAT.into(),
                format_version: FORMAT_VERSION,
                kind: SnapshotKind::Backup,
                source: self.identity.clone(),
                schema_fingerprint: manifest::schema_fingerprint(&tables),
                limit: None,
                masking: None,
                migrations: Vec::new(),
                tables,
            };
            rows_held = manifest.tables.iter().map(|t| t.rows).sum();
            writer.commit(&manifest)?;
            let shown = dir.display().to_string();
            self.progress.always(&format!(
                "backed up the current contents of {} tables, {rows_held} rows, to {shown} (to \
                 put them back: seedsnap import --no-config --truncate-first --dir {shown} \
                 --target TARGET, this target's URL, with --target-pattern if the config's \
                 pattern is what lets its name pass)",
                order.len()
            ));
            backup = Some(shown);
        }
        self.progress.always(&format!(
            "{} {} tables holding {rows_held} rows (--truncate-first)",
            match self.options.dry_run {
                true => "would empty",
                false => "emptying",
            },
            order.len()
        ));
        let names: Vec<String> = order
            .iter()
            .map(|&t| catalog.tables[t].from_clause())
            .collect();
        txn.batch_execute(&format!("TRUNCATE {}", names.join(", ")))
            .context(
                "emptying the snapshot's tables (--truncate-first); TRUNCATE never cascades",
            )?;
        Ok((backup, rows_held))
    }
}

/// Keeps the backups out of git: a `.gitignore` of `*` in the backup directory (which ignores
/// itself too) when this import makes that directory. Best effort: a directory that cannot be
/// written fails the backup itself, with its own error.
fn ignore_in_git(root: &Path) {
    // Only a directory seedsnap makes: an existing one (`--backup-dir .`) is the user's.
    if root.exists() || std::fs::create_dir_all(root).is_err() {
        return;
    }
    let _ = std::fs::write(
        root.join(".gitignore"),
        "# seedsnap's backups of target rows (--truncate-first): never committed\n*\n",
    );
}

/// Locks every table in load order with one `LOCK TABLE` (one round trip, not one per table),
/// under a savepoint: when it times out, each table is tried again with `NOWAIT` to name the
/// one another session holds.
fn lock(txn: &mut Transaction<'_>, layout: &Layout, options: &ImportOptions) -> Result<()> {
    let names: Vec<String> = layout
        .order()
        .map(|t| layout.catalog.tables[t].name.sql())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let all = txn.batch_execute(&format!(
        "SAVEPOINT seedsnap_lock; LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE; \
         RELEASE SAVEPOINT seedsnap_lock",
        names.join(", ")
    ));
    let Err(error) = all else {
        return Ok(());
    };
    if error.code().map(|c| c.code()) != Some("55P03") {
        return Err(match error.code().map(|c| c.code()) {
            Some("42501") => anyhow::Error::new(error).context(
                "locking the tables: LOCK TABLE … IN SHARE ROW EXCLUSIVE MODE, which keeps other \
                 sessions from writing them during the import, needs UPDATE, DELETE or TRUNCATE \
                 on each (grant UPDATE on them to the role, or import as their owner)",
            ),
            _ => anyhow::Error::new(error).context("locking the tables"),
        });
    }
    txn.batch_execute("ROLLBACK TO SAVEPOINT seedsnap_lock")?;
    for t in layout.order() {
        let table = &layout.catalog.tables[t];
        let locked = txn.batch_execute(&format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE NOWAIT",
            table.name.sql()
        ));
        if let Err(error) = locked {
            let holders = match error.code().map(|c| c.code()) {
                Some("55P03") => lock_holders(txn, &table.name.sql()),
                _ => Vec::new(),
            };
            return Err(lock_error(
                error,
                &table.name.to_string(),
                &holders,
                options,
            ));
        }
    }
    txn.batch_execute("RELEASE SAVEPOINT seedsnap_lock")?;
    Ok(())
}

/// "1 foreign key", "2 foreign keys".
fn foreign_keys(n: usize) -> String {
    match n {
        1 => "1 foreign key".to_string(),
        n => format!("{n} foreign keys"),
    }
}

/// The values the loaded rows give the declared foreign keys of their tables: each key counts
/// the rows loaded into its child (what the per-row triggers would check, nulls included).
fn checked_values(layout: &Layout) -> u64 {
    layout
        .catalog
        .declared_keys()
        .filter_map(|(fk, _)| layout.by_target.get(&fk.child))
        .map(|&m| layout.manifest.tables[m].rows)
        .sum()
}

/// Which tables load with COPY straight into them. A table that is empty in the target, has no
/// rules or user triggers and is not part of a cycle that needs breaking: nothing can
/// conflict, and what COPY stores is what the file holds. None while triggers `fire`. Also
/// returns which tables are empty.
fn choose_direct(
    txn: &mut Transaction<'_>,
    layout: &Layout,
    fire: bool,
) -> Result<(Vec<bool>, Vec<bool>)> {
    let catalog = layout.catalog;
    let empty = empty_tables(txn, catalog)?;
    let mut direct: Vec<bool> = vec![false; catalog.tables.len()];
    for component in &layout.plan {
        if matches!(
            component.strategy,
            LoadStrategy::Plain | LoadStrategy::SelfReferencing
        ) {
            for &t in &component.tables {
                direct[t] = !fire && empty[t] && catalog.tables[t].inserts_verbatim();
            }
        }
    }
    refuse_doomed_copies(txn, layout, &direct)?;
    Ok((direct, empty))
}

/// Fails, naming the tables and what to do, when the server would refuse the COPY into a table
/// loaded straight ([`choose_direct`]) at its start: a read-only transaction, no INSERT
/// privilege (on the table, or on a column the COPY names), row-level security. Asked first
/// because the driver cannot report such a refusal: its COPY leaves the session unusable, and
/// the error read "lost the connection".
fn refuse_doomed_copies(txn: &mut Transaction<'_>, layout: &Layout, direct: &[bool]) -> Result<()> {
    let catalog = layout.catalog;
    let tables: Vec<usize> = (0..direct.len()).filter(|&t| direct[t]).collect();
    if tables.is_empty() {
        return Ok(());
    }
    let oids: Vec<postgres::types::Oid> = tables.iter().map(|&t| catalog.tables[t].oid).collect();
    let rows = txn
        .query_typed(
            COPY_REFUSALS_SQL,
            &[(&oids, postgres::types::Type::OID_ARRAY)],
        )
        .context("checking that the target's empty tables take COPY")?;
    anyhow::ensure!(rows.len() == tables.len(), "one answer per table");
    let mut reasons = Vec::new();
    for (&t, row) in tables.iter().zip(&rows) {
        let table = &catalog.tables[t].name;
        let refusal: Option<String> = row.get("refusal");
        let denied: Vec<String> = row.get("denied");
        match refusal.as_deref() {
            Some("read_only") => anyhow::bail!(
                "the target's transactions are read-only (default_transaction_read_only is on \
                 for its database or role, or the server is a hot standby): seedsnap does not \
                 override that; if this database is meant to be loaded, reset it (ALTER \
                 DATABASE … RESET default_transaction_read_only)"
            ),
            Some("privilege") => reasons.push(format!(
                "{table}: permission denied: the role may not INSERT into it (grant INSERT on \
                 it to the role, or import as its owner)"
            )),
            Some(_) => reasons.push(format!(
                "{table}: row-level security applies to the role{}",
                crate::error::ROW_SECURITY
            )),
            None => {
                let copied = &layout.loads[&t].columns;
                let refused = columns_refused(copied, &denied);
                if !refused.is_empty() {
                    reasons.push(format!(
                        "{table}: permission denied for column(s) {}: the role holds INSERT on \
                         some of its columns only, and the snapshot fills these (GRANT INSERT \
                         ({}) ON {table} to the role, or import as its owner)",
                        refused.join(", "),
                        refused.join(", ")
                    ))
                }
            }
        }
    }
    match reasons.is_empty() {
        true => Ok(()),
        false => anyhow::bail!(
            "the target would refuse the rows of {} table(s): {}",
            reasons.len(),
            reasons.join("; ")
        ),
    }
}

/// The columns a COPY names (`copied`) that the role may not INSERT into (`denied`), quoted as
/// SQL identifiers, in the COPY's order.
fn columns_refused(copied: &[String], denied: &[String]) -> Vec<String> {
    copied
        .iter()
        .filter(|c| denied.contains(c))
        .map(|c| quote_ident(c))
        .collect()
}

/// The target's types of the snapshot's columns of a matched table, for its staging table.
fn stage_types(layout: &Layout, m: &MatchedTable) -> Vec<String> {
    layout.loads[&m.target]
        .columns
        .iter()
        .map(|c| {
            layout.catalog.tables[m.target]
                .column(c)
                .expect("matched")
                .type_name
                .to_string()
        })
        .collect()
}

/// Creates the staging table of one matched table and streams its file into it.
fn stage_file(
    txn: &mut Transaction<'_>,
    snapshot: &SnapshotDir,
    layout: &Layout,
    m: &MatchedTable,
    savepoint: bool,
    progress: &Progress,
) -> Result<Option<Problem>> {
    let load = &layout.loads[&m.target];
    let table = &layout.manifest.tables[m.manifest];
    txn.batch_execute(&load.create_stage(&stage_types(layout, m)))?;
    copy_file(txn, snapshot, &load.copy_in(), table, savepoint, progress)
}

/// What each table holds after inserting (present, drifted, missing), and the foreign keys the
/// target does not enforce itself that the loaded rows break.
/// The verification counts of every staged table ([`LoadTable::verify_counts`]: already
/// present, drifted, missing, classified new), all in one round trip.
fn staged_counts(
    txn: &mut Transaction<'_>,
    layout: &Layout,
    direct: &[bool],
) -> Result<HashMap<usize, [u64; 4]>> {
    let staged: Vec<usize> = layout.order().filter(|&t| !direct[t]).collect();
    if staged.is_empty() {
        return Ok(HashMap::new());
    }
    let sql: Vec<String> = staged
        .iter()
        .map(|t| layout.loads[t].verify_counts())
        .collect();
    let rows: Vec<postgres::SimpleQueryRow> = txn
        .simple_query(&sql.join(";\n"))
        .context("verifying the staged tables")?
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect();
    anyhow::ensure!(
        rows.len() == staged.len(),
        "verifying the staged tables: {} rows of counts for {} tables",
        rows.len(),
        staged.len()
    );
    staged
        .into_iter()
        .zip(rows)
        .map(|(t, row)| {
            let mut counts = [0u64; 4];
            for (i, count) in counts.iter_mut().enumerate() {
                *count = row.get(i).unwrap_or("0").parse().with_context(|| {
                    format!("verifying {}: a count", layout.loads[&t].target.name)
                })?;
            }
            Ok((t, counts))
        })
        .collect()
}

fn verify(
    txn: &mut Transaction<'_>,
    layout: &Layout,
    direct: &[bool],
    inserted: &HashMap<usize, u64>,
    snapshot: &SnapshotDir,
) -> Result<(Vec<TableOutcome>, Vec<String>)> {
    let catalog = layout.catalog;
    let mut tables = Vec::new();
    let mut violations = Vec::new();
    let mut staged_counts = staged_counts(txn, layout, direct)?;
    let equalities = checked_key_equalities(txn, layout)?;
    for t in layout.order() {
        let load = &layout.loads[&t];
        let manifest_table = layout.manifest_table(t);
        let inserted_here = inserted.get(&t).copied().unwrap_or(0);
        let outcome = if direct[t] {
            // COPY into an empty table stored exactly the file's rows.
            TableOutcome {
                table: load.target.name.to_string(),
                in_snapshot: manifest_table.rows,
                inserted: inserted_here,
                already_present: 0,
                updated: 0,
                drifted: 0,
                missing: manifest_table.rows.saturating_sub(inserted_here),
            }
        } else {
            let row = staged_counts
                .remove(&t)
                .with_context(|| format!("verifying {}: no counts", load.target.name))?;
            let count = |i: usize| row[i];
            // Rows classified new but not inserted (rules redirecting inserts, which the
            // full comparison then also catches) are missing too.
            let not_inserted = count(3).saturating_sub(inserted_here);
            TableOutcome {
                table: load.target.name.to_string(),
                in_snapshot: manifest_table.rows,
                inserted: inserted_here,
                already_present: count(0),
                updated: 0,
                drifted: count(1),
                // Verbatim tables compare the rows not inserted only: those held out by
                // another unique key (count 2), and apart from them the new rows the INSERT
                // did not write.
                missing: count(2)
                    + if load.target.inserts_verbatim() {
                        not_inserted
                    } else {
                        0
                    },
            }
        };
        tables.push(outcome);
        let rows_relation = if direct[t] {
            load.target.from_clause()
        } else {
            load.stage.clone()
        };
        for fk in &manifest_table.foreign_keys {
            let Some(parent) = catalog.find(&fk.references) else {
                continue;
            };
            if enforced_by_target(catalog, t, parent, &fk.columns, &fk.referenced_columns) {
                continue;
            }
            // A key declared on partitions: only the rows the target stores in them.
            let scope = match fk.partitions.is_empty() {
                true => None,
                false => Some(crate::partition_keys::target_rows_condition(
                    txn,
                    &fk.partitions,
                )?),
            };
            let equality = key_equality(catalog, &equalities, t, parent, fk);
            let sql = load.orphan_count(
                &rows_relation,
                fk,
                scope.as_deref(),
                &catalog.tables[parent],
                &equality,
            );
            let orphans: i64 = txn.query_one(sql.as_str(), &[])?.get(0);
            if orphans > 0 {
                // The first few, with the file's line and the key values.
                let mut examples = Vec::new();
                if let Some(sql) = fk_violation::orphan_examples_sql(&sql, &fk.columns) {
                    for row in txn.query(sql.as_str(), &[])? {
                        examples.push(row.get::<_, Vec<Option<String>>>(0));
                    }
                }
                let located: Vec<String> = fk_violation::describe_examples(
                    snapshot,
                    manifest_table,
                    &fk.columns,
                    &examples,
                )
                .into_iter()
                .map(|(_, text)| text)
                .collect();
                violations.push(format!(
                    "{} rows of {} have no parent in {} through {} ({}){}",
                    orphans,
                    load.target.name,
                    fk.references,
                    fk.name,
                    fk.columns.join(", "),
                    if located.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", located.join("; "))
                    }
                ));
            }
        }
    }
    Ok((tables, violations))
}

/// Streams one data file (without its header) with the given `COPY … FROM STDIN`. A value the
/// target cannot parse comes back as a problem with the file's line number and the column; the
/// transaction is then aborted, unless the file had its own `savepoint`. Only
/// [`list_refused_values`] takes one per file, so that the next file can still be tried: more
/// than 64 subtransactions make every visibility check of the transaction slow (the "subxid
/// overflow"), which cost a 3,000-table import a third of its time.
fn copy_file(
    txn: &mut Transaction<'_>,
    snapshot: &SnapshotDir,
    copy_sql: &str,
    table: &manifest::ManifestTable,
    savepoint: bool,
    progress: &Progress,
) -> Result<Option<Problem>> {
    let path = snapshot.file_path(table);
    let mut file = BufReader::with_capacity(
        256 * 1024,
        crate::snapshot::open_regular(&path)
            .with_context(|| format!("reading {}", path.display()))?,
    );
    let mut header = Vec::new();
    file.read_until(b'\n', &mut header)?;
    let rows = progress.rows(
        &format!("loading {}", table.qualified_name()),
        Some(table.rows),
    );
    // Hashed as it is sent: the rows loaded must be those the check read.
    let mut reader = report::CountingReader {
        inner: crate::snapshot::LoadedBytes::new(file, &header),
        progress: &rows,
    };
    let result = if savepoint {
        let mut savepoint = txn.transaction()?;
        let result = stream_copy(&mut savepoint, copy_sql, &mut reader);
        if result.is_ok() {
            savepoint.commit()?;
        }
        // Dropped without commit, the savepoint rolls back.
        result
    } else {
        stream_copy(txn, copy_sql, &mut reader)
    };
    match result {
        Ok(copied) if copied == table.rows => match reader.inner.differs_from(&table.sha256) {
            None => Ok(None),
            Some(found) => Err(failure(
                ExitKind::BadInput,
                crate::snapshot::changed_while_loading(&path, &found, &table.sha256),
            )),
        },
        Ok(copied) => Err(anyhow::anyhow!(
            "{}: COPY stored {copied} rows, the manifest lists {}",
            path.display(),
            table.rows
        )),
        Err(CopyFailure::Read(error)) => {
            Err(anyhow::Error::new(error).context(format!("reading {}", path.display())))
        }
        Err(CopyFailure::Interrupted) => Err(crate::interrupt::error()),
        // A cancelled COPY is no value the target refuses.
        Err(CopyFailure::Server(error)) if crate::interrupt::requested() => Err(error.into()),
        Err(CopyFailure::Server(error)) => {
            let db = error.as_db_error().cloned();
            let Some(db) = db else {
                return Err(error.into());
            };
            let context = db.where_().unwrap_or_default().to_string();
            let (line, column) = copy_position(&context);
            // A foreign key is checked after the rows: find the row by its key values.
            if let Some(problem) = fk_violation::problem(&db, snapshot) {
                return Ok(Some(problem));
            }
            Ok(Some(
                Problem::in_file(
                    path.display().to_string(),
                    // The file's first line is the header.
                    line.map(|l| l + 1),
                    column.as_deref(),
                    db.message(),
                )
                .kind(problem::ProblemKind::RefusedValue)
                .table(table.qualified_name())
                .from_server(&db),
            ))
        }
    }
}

const VALUES_REFUSED: &str =
    "snapshot values do not load into the target's columns; nothing was written";

/// Every value the target refuses, file by file: every file is staged again, each in its own
/// savepoint so that the next can still be tried, inside the caller's transaction, which the
/// caller rolls back.
fn list_refused_values(
    txn: &mut Transaction<'_>,
    snapshot: &SnapshotDir,
    left_as_they_are: &[QualifiedName],
) -> Result<Vec<Problem>> {
    let (catalog, matched) = match_target(txn, snapshot, left_as_they_are)?;
    let layout = Layout::new(&catalog, matched, &snapshot.manifest);
    // Domain CHECK functions run while staging, with the role's path as in the load.
    use_role_search_path(txn)?;
    let quiet = Progress::new(false);
    let mut problems = Vec::new();
    for m in &layout.matched {
        problems.extend(stage_file(txn, snapshot, &layout, m, true, &quiet)?);
    }
    Ok(problems)
}

/// The error for a load that stopped at the `first` value the target refused (its transaction
/// is rolled back): every refused value, found in a second transaction that is rolled back too.
fn refused_values_error(
    client: &mut postgres::Client,
    snapshot: &SnapshotDir,
    left_as_they_are: &[QualifiedName],
    first: Problem,
) -> anyhow::Error {
    let listed = client
        .transaction()
        .map_err(anyhow::Error::new)
        .and_then(|mut txn| {
            let problems = list_refused_values(&mut txn, snapshot, left_as_they_are);
            let _ = txn.rollback();
            problems
        });
    match listed {
        Err(error) => error,
        Ok(problems) if problems.is_empty() => problem::with_problems(
            ExitKind::BadInput,
            format!("{first}; the import was rolled back, the target is unchanged"),
            vec![first],
        ),
        Ok(problems) => problem::into_error(
            ExitKind::BadInput,
            problem::counted(VALUES_REFUSED, &problems),
            &problems,
        ),
    }
}

/// A constraint of the target refusing snapshot rows (class 23: NOT NULL, CHECK, UNIQUE,
/// foreign key) is bad input, not an internal error.
fn constraint_violation(error: postgres::Error, what: &str) -> anyhow::Error {
    if error.code().is_some_and(|c| c.code().starts_with("23")) {
        // Raised inside server-side code (a trigger let run with --fire-triggers), not by the
        // snapshot's own rows.
        let in_function = error
            .as_db_error()
            .and_then(|db| db.where_())
            .is_some_and(|w| w.contains("function"));
        let whose = match in_function {
            true => format!(
                "a trigger that ran while loading {what} violates a constraint of the target \
                 (without --fire-triggers, triggers are held off)"
            ),
            false => format!("the snapshot's rows for {what} violate a constraint of the target"),
        };
        let mut problem = Problem::unplaced(format!(
            "{whose}: {}",
            crate::error::describe_pg_error(&error)
        ))
        .kind(problem::ProblemKind::ConstraintViolation);
        if let Some(db) = error.as_db_error() {
            problem = problem.from_server(db);
        }
        return problem::refuse(ExitKind::BadInput, problem);
    }
    anyhow::Error::new(error)
}

/// From here on in the transaction, server-side code (triggers, defaults, CHECK and domain
/// functions) runs with the role's and database's own `search_path`; seedsnap's statements name
/// every object with its schema and need none. The catalog was read with an empty path.
fn use_role_search_path(txn: &mut Transaction<'_>) -> Result<()> {
    txn.batch_execute(ROLE_SEARCH_PATH)
        .context("restoring the role's search_path for the load")
}

/// The statement of [`use_role_search_path`].
const ROLE_SEARCH_PATH: &str = "SET LOCAL search_path TO DEFAULT";

/// Refuses before anything is written when user triggers would fire that the importing role
/// may not hold off (see [`triggers`]).
fn check_triggers(
    txn: &mut Transaction<'_>,
    user_triggers: &[UserTrigger],
    fire_triggers: bool,
) -> Result<()> {
    if fire_triggers || user_triggers.iter().all(|t| t.may_disable) {
        return Ok(());
    }
    let role: String = txn
        .query_one("SELECT pg_catalog.quote_ident(current_user)", &[])?
        .get(0);
    triggers::check(user_triggers, fire_triggers, &role)
}

/// Which tables of the catalog hold no rows. A heap table with no block on disk holds none:
/// one query (`pg_relation_size`, no table read) tells those (`empty_tables.sql`; a clone of an empty template, the usual
/// target, needs nothing more). Every other table is read: one small statement per table, all
/// sent in one round trip. (A single `UNION ALL` of thousands of `EXISTS` took the planner
/// 55 s on 3,000 tables.)
fn empty_tables(txn: &mut Transaction<'_>, catalog: &Catalog) -> Result<Vec<bool>> {
    let oids: Vec<postgres::types::Oid> = catalog.tables.iter().map(|t| t.oid).collect();
    let mut empty: Vec<bool> = txn
        .query_typed(
            EMPTY_TABLES_SQL,
            &[(&oids, postgres::types::Type::OID_ARRAY)],
        )
        .context("reading which target tables have no blocks")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    anyhow::ensure!(empty.len() == catalog.tables.len(), "one answer per table");
    let read: Vec<usize> = (0..empty.len()).filter(|&t| !empty[t]).collect();
    let statements: Vec<String> = read
        .iter()
        .map(|&t| {
            format!(
                "SELECT NOT EXISTS (SELECT 1 FROM {})",
                catalog.tables[t].from_clause()
            )
        })
        .collect();
    let answers = batch_rows(txn, &statements).context("checking which target tables are empty")?;
    anyhow::ensure!(answers.len() == read.len(), "one answer per table read");
    for (t, row) in read.into_iter().zip(&answers) {
        empty[t] = row.get(0) == Some("t");
    }
    Ok(empty)
}

const EMPTY_TABLES_SQL: &str = include_str!("../catalog/empty_tables.sql");
const COPY_REFUSALS_SQL: &str = include_str!("../catalog/copy_refusals.sql");

/// Sends small statements as multi-statement strings of up to 1,000 statements and
/// [`BATCH_BYTES`] (one round trip each, not one per statement; not one huge `UNION ALL`, which
/// PostgreSQL's planner can take minutes over) and returns the rows they return, in order.
fn batch_rows(
    txn: &mut Transaction<'_>,
    statements: &[String],
) -> Result<Vec<postgres::SimpleQueryRow>, postgres::Error> {
    batch_map(txn, statements, |row| row)
}

/// [`batch_rows`], each row turned by `map` into what the caller keeps as soon as its round
/// trip's reply is in: thousands of driver rows cost megabytes (a 24-byte range per field).
fn batch_map<T>(
    txn: &mut Transaction<'_>,
    statements: &[String],
    map: impl FnMut(postgres::SimpleQueryRow) -> T,
) -> Result<Vec<T>, postgres::Error> {
    batch_map_written(txn, statements, map)
}

/// [`batch_map`] over statements written as they are sent: only one round trip's worth of SQL
/// text is held at a time.
fn batch_map_written<T>(
    txn: &mut Transaction<'_>,
    statements: impl IntoIterator<Item = impl AsRef<str>>,
    mut map: impl FnMut(postgres::SimpleQueryRow) -> T,
) -> Result<Vec<T>, postgres::Error> {
    let mut rows = Vec::new();
    let mut send = |text: &str| -> Result<(), postgres::Error> {
        for message in txn.simple_query(text)? {
            if let postgres::SimpleQueryMessage::Row(row) = message {
                rows.push(map(row));
            }
        }
        Ok(())
    };
    let (mut text, mut count) = (String::new(), 0);
    for statement in statements {
        let statement = statement.as_ref();
        if ends_batch(
            count,
            text.len(),
            statement.len(),
            STATEMENTS_PER_BATCH,
            BATCH_BYTES,
        ) {
            send(&text)?;
            (text, count) = (String::new(), 0);
        }
        if count > 0 {
            text.push_str(";\n");
        }
        text.push_str(statement);
        count += 1;
    }
    if count > 0 {
        send(&text)?;
    }
    Ok(rows)
}

/// The most statements [`batch_map`] sends in one round trip.
const STATEMENTS_PER_BATCH: usize = 1000;

/// The most SQL text [`batch_map`] sends in one round trip: the string and the driver's
/// replies to it (kept until the round trip ends) are held at once. 1,000 counting statements
/// of the 1,000-table bench schema made one 2.4 MB peak of the import's heap.
const BATCH_BYTES: usize = 256 * 1024;

/// Whether a statement of `len` bytes goes to the next round trip, after `count` statements of
/// `bytes` bytes: at most `max_count` statements and (unless one statement is longer alone)
/// `max_bytes` bytes go together.
fn ends_batch(count: usize, bytes: usize, len: usize, max_count: usize, max_bytes: usize) -> bool {
    count > 0 && (count == max_count || bytes + len > max_bytes)
}

/// `statements` cut, in order, into runs of at most `count` statements and (unless one
/// statement is longer alone) `bytes` bytes of text.
#[cfg(test)]
fn statement_batches(statements: &[String], count: usize, bytes: usize) -> Vec<&[String]> {
    let mut batches = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, statement) in statements.iter().enumerate() {
        if ends_batch(i - start, size, statement.len(), count, bytes) {
            batches.push(&statements[start..i]);
            (start, size) = (i, 0);
        }
        size += statement.len();
    }
    if start < statements.len() {
        batches.push(&statements[start..]);
    }
    batches
}

/// Whether the target has a validated foreign key with exactly these columns: then PostgreSQL
/// itself has checked every inserted row, and checking again would only cost time.
/// The target's declared key of these columns, whether or not it is validated.
fn declared_in_target<'c>(
    catalog: &'c Catalog,
    child: usize,
    parent: usize,
    fk: &ManifestForeignKey,
) -> Option<&'c ForeignKey> {
    catalog.foreign_keys.iter().find(|k| {
        k.child == child
            && k.parent == parent
            && k.columns == fk.columns
            && k.parent_columns == fk.referenced_columns
    })
}

/// The default equality ([`crate::catalog::default_equality`]) of the referenced columns of
/// the snapshot's keys that the import checks itself and the target declares nothing for
/// (virtual keys, and keys the target lacks): one query, none when there are none.
fn checked_key_equalities(
    txn: &mut Transaction<'_>,
    layout: &Layout,
) -> Result<HashMap<(usize, String), String>> {
    let catalog = layout.catalog;
    let mut columns = Vec::new();
    for t in layout.order() {
        for fk in &layout.manifest_table(t).foreign_keys {
            let Some(parent) = catalog.find(&fk.references) else {
                continue;
            };
            if declared_in_target(catalog, t, parent, fk).is_none() {
                columns.extend(fk.referenced_columns.iter().map(|c| (parent, c.clone())));
            }
        }
    }
    columns.sort();
    columns.dedup();
    crate::catalog::default_equality(txn, &catalog.tables, &columns)
}

/// The equality by column of a snapshot key the import checks itself: the target's
/// constraint's (a `NOT VALID` one), else the referenced types' default (`equalities`, from
/// [`checked_key_equalities`]), as the server would compare such a key.
fn key_equality(
    catalog: &Catalog,
    equalities: &HashMap<(usize, String), String>,
    child: usize,
    parent: usize,
    fk: &ManifestForeignKey,
) -> Vec<String> {
    if let Some(declared) = declared_in_target(catalog, child, parent, fk) {
        return declared.equalities().to_vec();
    }
    fk.referenced_columns
        .iter()
        .map(|c| {
            equalities
                .get(&(parent, c.clone()))
                .cloned()
                .unwrap_or_else(|| "=".to_string())
        })
        .collect()
}

fn enforced_by_target(
    catalog: &Catalog,
    child: usize,
    parent: usize,
    columns: &[String],
    parent_columns: &[String],
) -> bool {
    catalog.foreign_keys.iter().any(|fk| {
        fk.child == child
            && fk.parent == parent
            && fk.validated()
            && fk.columns == columns
            && fk.parent_columns == parent_columns
    })
}

/// The staging side of one matched table.
fn load_table<'c>(
    catalog: &'c Catalog,
    m: &MatchedTable,
    manifest: &Manifest,
    stage_names: &[String],
) -> LoadTable<'c> {
    let target = &catalog.tables[m.target];
    let snapshot = &manifest.tables[m.manifest];
    let columns: Vec<String> = snapshot.columns.iter().map(|c| c.name.clone()).collect();
    let covered =
        |key: &&crate::catalog::UniqueKey| key.columns.iter().all(|c| columns.contains(c));
    let unique_keys: Vec<Vec<String>> = target
        .unique_keys
        .iter()
        .filter(covered)
        .map(|k| k.columns.clone())
        .collect();
    let identity_key = target
        .unique_keys
        .iter()
        .filter(covered)
        .find(|k| {
            k.columns
                .iter()
                .all(|c| target.column(c).is_some_and(|c| c.not_null))
        })
        .map(|k| k.columns.clone());
    let overriding = target
        .columns
        .iter()
        .any(|c| c.identity == Some(Identity::Always) && columns.contains(&c.name));
    debug_assert!(matches!(
        target.row_key(),
        RowKey::Primary(_) | RowKey::Unique(_) | RowKey::AllColumns
    ));
    LoadTable {
        target,
        stage: stage_names[m.manifest].clone(),
        columns,
        unique_keys,
        identity_key,
        overriding,
    }
}

/// `(line, column)` from a COPY error context: `COPY seedsnap_stage_3, line 5, column id: "x"`.
fn copy_position(context: &str) -> (Option<u64>, Option<String>) {
    let line_re = regex::Regex::new(r"line (\d+)(?:, column ([^:]+))?").expect("valid regex");
    match line_re.captures(context) {
        Some(c) => (
            c.get(1).and_then(|m| m.as_str().parse().ok()),
            c.get(2).map(|m| m.as_str().to_string()),
        ),
        None => (None, None),
    }
}

/// A "permission denied" (SQLSTATE 42501) from the server, with what the import needs: the
/// server names the table but not what the import was doing with it.
fn privilege_hint(error: anyhow::Error) -> anyhow::Error {
    let denied = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<postgres::Error>())
        .any(|e| e.code().map(|c| c.code()) == Some("42501"));
    match denied {
        false => error,
        true => error.context(
            "the importing role lacks a privilege: it needs SELECT and INSERT on the snapshot's \
             tables (on every column the snapshot fills), UPDATE where rows drifted \
             (--on-drift=keep needs none), SELECT and UPDATE on the sequences of the columns \
             it fills, and USAGE on the sequences of columns only the target fills; grant \
             them, or import as the tables' owner",
        ),
    }
}

/// The sessions holding a lock on `table` (SQL text), each described for a person (see
/// `src/catalog/lock_holders.sql`); read after the failed lock, in the import's transaction
/// rolled back to before it. Empty when they cannot be read.
fn lock_holders(txn: &mut Transaction<'_>, table: &str) -> Vec<String> {
    const SQL: &str = include_str!("../catalog/lock_holders.sql");
    if txn
        .batch_execute("ROLLBACK TO SAVEPOINT seedsnap_lock")
        .is_err()
    {
        return Vec::new();
    }
    let rows = txn.query(SQL, &[&table]).unwrap_or_default();
    rows.iter()
        .map(|row| {
            let (pid, role, application): (i32, String, String) =
                (row.get(0), row.get(1), row.get(2));
            // Another role's state and transaction start are hidden without
            // pg_read_all_stats: said so, not guessed.
            let (state, seconds): (Option<String>, Option<i64>) = (row.get(3), row.get(4));
            let state = state.unwrap_or_else(|| "state hidden".into());
            let age = match seconds {
                Some(seconds) => format!("transaction open {seconds} s"),
                None => "transaction age hidden".into(),
            };
            format!("pid {pid} (role {role}, application {application}, {state}, {age})")
        })
        .collect()
}

fn lock_error(
    error: postgres::Error,
    table: &str,
    holders: &[String],
    options: &ImportOptions,
) -> anyhow::Error {
    if error.code().map(|c| c.code()) == Some("55P03") {
        let who = match holders.is_empty() {
            true => "another session holds a conflicting lock (a running application or test?)"
                .to_string(),
            false => format!(
                "held by {}; wait for it to end, or have it ended (SELECT \
                 pg_terminate_backend(pid), as a superuser or its own role) if it is a stale \
                 session, such as an interrupted seedsnap import still rolling back",
                holders.join(", ")
            ),
        };
        return failure(
            ExitKind::Other,
            format!(
                "could not lock {table} within {} s (--lock-timeout): {who}; nothing was written",
                options.lock_timeout_seconds
            ),
        );
    }
    anyhow::Error::new(error).context(format!("locking {table}"))
}

/// The sequences feeding the loaded tables' columns ([`Catalog::read_sequences`]), read while
/// the session's `search_path` is empty: their names are regclass text, qualified only so,
/// and they are used under the role's path afterwards.
fn sequence_feeds(
    txn: &mut Transaction<'_>,
    layout: &Layout,
) -> Result<Vec<(usize, String, String)>> {
    let tables: Vec<usize> = layout.matched.iter().map(|m| m.target).collect();
    layout.catalog.read_sequences(txn, &tables)
}

fn list_triggers(triggers: &[impl std::fmt::Display]) -> String {
    triggers
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The human summary printed after an import.
pub fn render_summary(report: &ImportReport) -> String {
    let rows: Vec<Vec<String>> = report
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                t.in_snapshot.to_string(),
                t.inserted.to_string(),
                t.already_present.to_string(),
                t.updated.to_string(),
                t.drifted.to_string(),
            ]
        })
        .collect();
    let mut text = report::render_table(
        &[
            "table",
            "in snapshot",
            "inserted",
            "already present",
            "updated",
            "drifted",
        ],
        &rows,
    );
    text.push_str(&drift::render(&report.drifted_rows, report.committed, 20));
    let kept: u64 = report.tables.iter().map(|t| t.drifted).sum();
    if kept > 0 && report.on_drift == drift::OnDrift::Keep {
        text.push_str(&format!(
            "kept {kept} drifted row(s) as the target has them (--on-drift=keep)\n"
        ));
    }
    for change in &report.sequences {
        text.push_str(&format!(
            "sequence {} {} {} -> {}\n",
            change.sequence,
            if report.committed {
                "advanced"
            } else {
                "would advance"
            },
            change.from,
            change.to
        ));
    }
    if let Some(backup) = &report.backup {
        text.push_str(&format!("backup of the truncated tables: {backup}\n"));
    }
    for kept in &report.bookkeeping_kept {
        text.push_str(&format!("{kept}\n"));
    }
    if !report.triggers_held_off.is_empty() {
        text.push_str(&format!(
            "user triggers held off during the load and enabled again: {}\n",
            list_triggers(&report.triggers_held_off)
        ));
    }
    if !report.triggers_fired.is_empty() {
        text.push_str(&format!(
            "user triggers that ran during the load (--fire-triggers): {}\n",
            list_triggers(&report.triggers_fired)
        ));
    }
    if !report.event_triggers.is_empty() {
        text.push_str(&format!(
            "event triggers that fired on the import's DDL: {}\n",
            list_triggers(&report.event_triggers)
        ));
    }
    let sent = &report.rows_sent;
    if sent.files_by_insert > 0 {
        text.push_str(&format!(
            "rows of {} files sent as batched INSERT statements, {} files by COPY (--load-via \
             {}, round trip {:.1} ms)\n",
            sent.files_by_insert,
            sent.files_by_copy,
            serde_json::to_value(sent.load_via)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            sent.round_trip_ms
        ));
    }
    match report.key_checks {
        fast_path::KeyCheckMode::PerRow => {}
        fast_path::KeyCheckMode::Batched => text.push_str(&format!(
            "foreign keys: loaded with their triggers off (session_replication_role = \
             replica), then every foreign key and deferrable unique key checked: {} by the \
             snapshot's files, the others by batched counting queries\n",
            report.foreign_keys_proved_by_files
        )),
        fast_path::KeyCheckMode::ReAdded => text.push_str(&format!(
            "foreign keys: {} dropped for the load and added back after it, each validated by \
             the server (the role may not switch their triggers off)\n",
            report.foreign_keys_re_added
        )),
    }
    let inserted: u64 = report.tables.iter().map(|t| t.inserted).sum();
    let verified = match report.bookkeeping_kept.len() {
        0 => "every snapshot row verified present".to_string(),
        kept => format!(
            "every snapshot row verified present, but for the {kept} migration bookkeeping \
             table(s) kept as the target has them"
        ),
    };
    text.push_str(&format!(
        "{} {} rows into {} tables of {} in {}; {verified}\n",
        if report.committed {
            "imported"
        } else {
            "dry run: would import"
        },
        inserted,
        report.tables.len(),
        report.target,
        report::ms(report.timings.total_ms)
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::drift::OnDrift;
    use super::*;

    #[test]
    fn only_the_columns_a_copy_names_can_refuse_it() {
        let names = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
        let copied = names(&["id", "Note", "email"]);
        assert_eq!(
            columns_refused(&copied, &names(&["secret", "email", "Note"])),
            ["\"Note\"", "\"email\""]
        );
        assert!(columns_refused(&copied, &names(&["secret"])).is_empty());
        assert!(columns_refused(&copied, &[]).is_empty());
    }

    #[test]
    fn statements_are_batched_by_count_and_by_bytes_in_order() {
        let statements: Vec<String> = ["aaaa", "bb", "cccc", "d", "eeeeeeeeee", "f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let lengths =
            |batches: Vec<&[String]>| -> Vec<usize> { batches.iter().map(|b| b.len()).collect() };
        // At most six bytes a batch; a statement longer than that goes alone.
        assert_eq!(
            lengths(statement_batches(&statements, 100, 6)),
            [2, 2, 1, 1]
        );
        assert_eq!(lengths(statement_batches(&statements, 4, 1000)), [4, 2]);
        assert_eq!(
            statement_batches(&statements, 1000, 1 << 20).concat(),
            statements
        );
        assert!(statement_batches(&[], 10, 10).is_empty());
    }

    #[test]
    fn copy_error_positions() {
        assert_eq!(
            copy_position("COPY seedsnap_stage_3, line 5, column email: \"x\""),
            (Some(5), Some("email".into()))
        );
        assert_eq!(copy_position("COPY s, line 2"), (Some(2), None));
        assert_eq!(copy_position("nothing"), (None, None));
    }

    fn outcome(table: &str, drifted: u64, missing: u64) -> TableOutcome {
        TableOutcome {
            table: table.into(),
            in_snapshot: 10,
            inserted: 10 - drifted - missing,
            already_present: drifted,
            updated: 0,
            drifted,
            missing,
        }
    }

    fn report(tables: Vec<TableOutcome>, violations: Vec<String>) -> ImportReport {
        ImportReport {
            target: "t".into(),
            snapshot: "s".into(),
            dry_run: false,
            committed: false,
            tables,
            sequences: Vec::new(),
            sequences_left_advanced: Vec::new(),
            backup: None,
            rows_emptied: None,
            overlay: None,
            skipped: Vec::new(),
            on_drift: drift::OnDrift::Fail,
            drifted_rows: Vec::new(),
            drift_named: Vec::new(),
            foreign_key_violations: violations,
            triggers_held_off: Vec::new(),
            triggers_fired: Vec::new(),
            event_triggers: Vec::new(),
            migrations: Vec::new(),
            bookkeeping_kept: Vec::new(),
            batched_key_checks: false,
            key_checks: fast_path::KeyCheckMode::PerRow,
            foreign_keys_re_added: 0,
            foreign_keys_proved_by_files: 0,
            rows_sent: RowsSent::default(),
            timings: ImportTimings::default(),
        }
    }

    #[test]
    fn missing_rows_fail_first_then_foreign_keys_then_drift() {
        let clean = report(vec![outcome("app.a", 0, 0)], Vec::new());
        assert_eq!(verification_failure(&clean, OnDrift::Fail), None);

        let drift = report(vec![outcome("app.a", 2, 0)], Vec::new());
        let (message, _) = verification_failure(&drift, OnDrift::Fail).unwrap();
        assert!(message.contains("(drift) in app.a (2 rows)"), "{message}");
        assert_eq!(verification_failure(&drift, OnDrift::Keep), None);
        // Drift left after the update (a trigger, a conflict on another key) fails too.
        let (message, _) = verification_failure(&drift, OnDrift::Update).unwrap();
        assert!(message.contains("still differ"), "{message}");

        let orphans = report(vec![outcome("app.a", 2, 0)], vec!["3 rows of app.a".into()]);
        let (message, _) = verification_failure(&orphans, OnDrift::Keep).unwrap();
        assert_eq!(
            message,
            "verification failed: foreign keys do not hold: 3 rows of app.a"
        );

        let missing = report(
            vec![outcome("app.a", 2, 0), outcome("app.b", 0, 4)],
            vec!["3 rows of app.a".into()],
        );
        let (message, _) = verification_failure(&missing, OnDrift::Keep).unwrap();
        assert!(
            message.starts_with(
                "verification failed: snapshot rows are not in the target after loading: \
                 app.b (4 rows)"
            ),
            "{message}"
        );
    }
}
