//! What `export` and `plan` decide before any file is written, and `check-config` checks: the
//! options (the command line merged over the config file), their checks against the source
//! catalog, the scope of tables, and the selection of rows.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Result;
use postgres::{GenericClient, Transaction};
use serde::Serialize;

use crate::catalog::{quote_literal, Catalog, QualifiedName};
use crate::config::TableSetting;
use crate::error::ExitKind;
use crate::graph::{self, Component};
use crate::masking::{self, MaskingOptions};
use crate::problem::{self, Problem, ProblemKind, Subject};
use crate::readers::Readers;
use crate::report::{self, Progress};
use crate::selection::{self, Limits, Selection};
use crate::session::source_info;
use crate::snapshot::manifest::SourceInfo;
use crate::virtual_keys::{self, VirtualKeySpec};

/// What to read: the command line merged over the config file.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Sessions reading at once (`--jobs`): 1, the export's own only; 0, automatic (see
    /// [`crate::readers::readers_wanted`]).
    pub jobs: usize,
    pub schemas: Vec<String>,
    /// `None`: every row.
    pub limit: Option<u64>,
    /// Later entries win (the file's come first, then the flags').
    pub table_limits: Vec<(QualifiedName, Option<u64>)>,
    pub exclude: Vec<QualifiedName>,
    pub only: Vec<QualifiedName>,
    /// A SQL condition the initial sample of a table must meet; later entries win.
    pub filters: Vec<(QualifiedName, String)>,
    pub virtual_keys: Vec<VirtualKeySpec>,
    /// `plan --explain`: record why each backfilled row was chosen.
    pub explain: Option<QualifiedName>,
    /// Where a setting came from when it was the config file (`seedsnap.toml:12 (limits)`),
    /// by flag name and table; settings missing here came from flags.
    pub origins: HashMap<(TableSetting, QualifiedName), String>,
    /// `[masking]` and `--mask`.
    pub masking: MaskingOptions,
    /// `--allow-unmasked`: the export may write, with the source's values, columns that the
    /// snapshot it replaces has masked (see [`crate::masking::replaced`]).
    pub allow_unmasked: bool,
}

impl ExportOptions {
    /// How a message names where a table setting came from: its file line, or its flag.
    pub fn origin(&self, setting: TableSetting, table: &QualifiedName) -> String {
        self.origins
            .get(&(setting, table.clone()))
            .cloned()
            .unwrap_or_else(|| format!("--{}", setting.flag()))
    }

    /// A table setting as the subject of its problems.
    pub fn subject(&self, setting: TableSetting, table: &QualifiedName) -> Subject {
        Subject::at(&self.origin(setting, table))
    }
}

/// Everything decided before any file is written; `plan` prints it, `export` writes it.
pub struct Prepared {
    pub source: SourceInfo,
    pub catalog: Catalog,
    pub plan: Vec<Component>,
    pub selection: Selection,
    /// The masked columns (empty without masking).
    pub masking: masking::Plan,
    pub timings: Timings,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Timings {
    pub connect_ms: f64,
    pub catalog_ms: f64,
    pub planning_ms: f64,
    pub sample_ms: f64,
    pub backfill_ms: f64,
    pub sample_levels: u64,
    pub backfill_rounds: Vec<selection::RoundStat>,
    pub copy_ms: f64,
    /// The sessions that read the table files (the export's own and its readers).
    pub sessions: usize,
    /// Opening the readers.
    pub readers_ms: f64,
    /// Writing the manifest, syncing the files to disk and swapping the directory in.
    pub finish_ms: f64,
    /// Masking, within `copy_ms`: the rules applied and the domain checks.
    pub mask_ms: f64,
    pub total_ms: f64,
}

/// Takes `ACCESS SHARE` locks on every table to read, in one statement, as `pg_dump` does:
/// until the export ends, no table can be dropped, altered or truncated (TRUNCATE and
/// table-rewriting ALTERs are not MVCC-safe: a snapshot taken before them would see the
/// table empty). The parallel readers then hold only what they read, briefly. `ONLY`: a
/// partition is locked when a query reads it through its parent, and locking partitions here
/// would need privileges on each that reading through the parent does not.
fn lock_tables(txn: &mut Transaction<'_>, catalog: &Catalog) -> Result<()> {
    if catalog.tables.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = catalog.tables.iter().map(|t| t.name.sql()).collect();
    txn.batch_execute(&format!(
        "LOCK TABLE ONLY {} IN ACCESS SHARE MODE",
        names.join(", ")
    ))
    .map_err(|error| {
        let denied = error.code().map(|c| c.code()) == Some("42501");
        let error = anyhow::Error::new(error)
            .context("locking the tables to read (ACCESS SHARE, as pg_dump does)");
        match denied {
            true => error.context(
                "the reading role lacks SELECT on a table of the export: grant it (GRANT SELECT \
                 ON ALL TABLES IN SCHEMA … TO the role), or leave the table out with --exclude \
                 schema.table",
            ),
            false => error,
        }
    })
}

/// Catalog, scope, plan and selection, inside the caller's transaction.
pub fn prepare(
    txn: &mut Transaction<'_>,
    readers: &mut Readers,
    options: &ExportOptions,
    progress: &Progress,
    mut timings: Timings,
) -> Result<Prepared> {
    let source = source_info(txn)?;
    let t0 = Instant::now();
    let mut full = Catalog::read(txn, &options.schemas)?;
    timings.catalog_ms = t0.elapsed().as_secs_f64() * 1e3;
    progress.line(&format!(
        "read the catalog: {} tables, {} foreign keys ({})",
        full.tables.len(),
        full.foreign_keys.len(),
        report::ms(timings.catalog_ms)
    ));
    let scope = checked_scope(txn, &mut full, options)?;
    if !scope.problems.is_empty() {
        return Err(options_failure(&scope.problems, options));
    }
    let keep = scope.keep;
    if !options.virtual_keys.is_empty() {
        progress.line(&format!(
            "added {} virtual foreign keys",
            options.virtual_keys.len()
        ));
    }

    let t0 = Instant::now();
    // The whole catalog is not kept: the selection's peak memory is not its place.
    let catalog = full.into_restricted(&keep);
    lock_tables(txn, &catalog)?;
    readers.start(txn, catalog.tables.len(), progress)?;
    let limits = resolve_limits(&catalog, options);
    let edges = graph::edges_from_catalog(&catalog);
    let plan = graph::load_plan(catalog.tables.len(), &edges);
    let masking = masking::Plan::build(txn, &catalog, &options.masking)?;
    timings.planning_ms = t0.elapsed().as_secs_f64() * 1e3;

    let explain = options.explain.is_some();
    let selection = selection::select(txn, readers, &catalog, &plan, &limits, explain)?;
    timings.sample_ms = selection.stats.sample_ms;
    timings.backfill_ms = selection.stats.backfill_ms;
    timings.sample_levels = selection.stats.levels;
    timings.backfill_rounds = selection.stats.backfill_rounds.clone();
    progress.line(&format!(
        "selected {} rows: sampling {}, backfill {} in {} rounds",
        selection.tables.iter().map(|t| t.rows.len()).sum::<usize>(),
        report::ms(timings.sample_ms),
        report::ms(timings.backfill_ms),
        timings.backfill_rounds.len()
    ));
    assert_no_empty_tables(txn, &catalog, &selection)?;
    Ok(Prepared {
        source,
        catalog,
        plan,
        selection,
        masking,
        timings,
    })
}

/// Which tables to read: all, or `--only` and what they need, minus `--exclude`. A kept table
/// that references a dropped one is a problem: the snapshot would not be FK-complete. Unknown
/// names are left to [`check_options`].
fn scope(catalog: &Catalog, options: &ExportOptions) -> Result<Vec<bool>, Vec<Problem>> {
    let only: Vec<usize> = options
        .only
        .iter()
        .filter_map(|n| catalog.find(n))
        .collect();
    let exclude: Vec<usize> = options
        .exclude
        .iter()
        .filter_map(|n| catalog.find(n))
        .collect();
    let edges = graph::edges_from_catalog(catalog);
    let mut keep = if only.is_empty() {
        vec![true; catalog.tables.len()]
    } else {
        graph::ancestors_closure(catalog.tables.len(), &edges, &only)
    };
    for &t in &exclude {
        keep[t] = false;
    }
    let mut problems: Vec<Problem> = catalog
        .foreign_keys
        .iter()
        .filter(|fk| keep[fk.child] && !keep[fk.parent])
        .map(|fk| {
            Problem::unplaced(format!(
                "{} references {} ({}), which is excluded: exclude {} too, or keep {}",
                catalog.tables[fk.child].name,
                catalog.tables[fk.parent].name,
                fk.name,
                catalog.tables[fk.child].name,
                catalog.tables[fk.parent].name
            ))
        })
        .collect();
    problems.extend(
        catalog
            .external_foreign_keys
            .iter()
            .filter(|(child, _)| keep[*child])
            .map(|(_, text)| {
                Problem::unplaced(format!(
                    "{text}: add its schema with --schema, or --exclude the table"
                ))
            }),
    );
    if problems.is_empty() {
        Ok(keep)
    } else {
        Err(problems)
    }
}

/// The settings checked against the source: the tables to read (`keep`), usable only when
/// there are no `problems`.
pub struct CheckedScope {
    pub keep: Vec<bool>,
    pub problems: Vec<Problem>,
}

/// The tables to read, after every setting was checked against the source: all the problems
/// of `check_options` (which also adds the virtual keys to the catalog), else those of
/// `scope`, else those of the masking rules ([`masking::check`]). `export`, `plan` and
/// `check-config` decide with this one function.
pub fn checked_scope(
    txn: &mut Transaction<'_>,
    catalog: &mut Catalog,
    options: &ExportOptions,
) -> Result<CheckedScope> {
    let problems = check_options(txn, catalog, options)?;
    if !problems.is_empty() {
        return Ok(CheckedScope {
            keep: Vec::new(),
            problems,
        });
    }
    Ok(match scope(catalog, options) {
        Ok(keep) => {
            let problems = masking::check(txn, catalog, &options.masking, &keep)?;
            CheckedScope { keep, problems }
        }
        Err(problems) => CheckedScope {
            keep: Vec::new(),
            problems,
        },
    })
}

/// The error for options that do not fit the source: every problem, one per line.
fn options_failure(problems: &[Problem], options: &ExportOptions) -> anyhow::Error {
    problem::into_error(
        ExitKind::BadInput,
        format!(
            "the settings do not fit the source (schemas read: {}); nothing was exported:",
            if options.schemas.is_empty() {
                "all user schemas".to_string()
            } else {
                options.schemas.join(", ")
            },
        ),
        problems,
    )
}

/// Checks every table setting and virtual key against the source and returns every problem:
/// unknown tables and columns, virtual keys whose sides do not fit, `when` values the column's
/// type rejects or prints differently, filters the server cannot plan. The virtual keys that
/// fit are added to the catalog. Each server-side check runs in its own savepoint, so one
/// failure does not end the read-only transaction.
fn check_options(
    txn: &mut Transaction<'_>,
    catalog: &mut Catalog,
    options: &ExportOptions,
) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let named = [
        (TableSetting::Only, &options.only),
        (TableSetting::Exclude, &options.exclude),
    ];
    for (flag, names) in named {
        for name in names {
            if let Err(p) = virtual_keys::find_table(catalog, name, &options.subject(flag, name)) {
                problems.push(p);
            }
        }
    }
    for (name, _) in &options.table_limits {
        if let Err(p) = virtual_keys::find_table(
            catalog,
            name,
            &options.subject(TableSetting::TableLimit, name),
        ) {
            problems.push(p);
        }
    }
    let mut filters = Vec::new();
    for (name, filter) in &options.filters {
        match virtual_keys::find_table(catalog, name, &options.subject(TableSetting::Filter, name))
        {
            Ok(t) => filters.push((t, name, filter)),
            Err(p) => problems.push(p),
        }
    }
    let (mut keys, key_problems) = virtual_keys::resolve(catalog, &options.virtual_keys);
    problems.extend(key_problems);
    for key in &mut keys {
        let spec = options
            .virtual_keys
            .iter()
            .find(|s| s.text == key.name)
            .expect("every key comes from a spec");
        crate::lookup_values::resolve(txn, catalog, spec, key, &mut problems)?;
        let child = &catalog.tables[key.child];
        for (i, condition) in key.condition().iter().enumerate() {
            if spec.lookups.iter().any(|(at, _)| *at == i) {
                continue; // read from the database: canonical already
            }
            let column = child.column(&condition.column).expect("resolved");
            let sql = format!(
                "SELECT ({}::{})::pg_catalog.text",
                quote_literal(&condition.value),
                column.type_name
            );
            let mut savepoint = txn.transaction()?;
            match savepoint.query_one(sql.as_str(), &[]) {
                Ok(row) => {
                    let canonical: String = row.get(0);
                    if canonical != condition.value {
                        problems.push(spec.subject().problem(format!(
                            "{} reads back as {}; write {} = {}",
                            quote_literal(&condition.value),
                            quote_literal(&canonical),
                            condition.column,
                            quote_literal(&canonical)
                        )));
                    }
                }
                Err(e) => problems.push(spec.subject().problem(format!(
                    "{} is not a valid value of {}.{} ({}): {}",
                    quote_literal(&condition.value),
                    child.name,
                    condition.column,
                    column.type_name,
                    e.as_db_error().map(|d| d.message()).unwrap_or("rejected")
                ))),
            }
            savepoint.rollback()?;
        }
    }
    for (t, name, filter) in filters {
        let prefix = format!(
            "SELECT 1 FROM {} AS t WHERE (",
            catalog.tables[t].from_clause()
        );
        let sql = format!("{prefix}{filter})");
        let mut savepoint = txn.transaction()?;
        if let Err(e) = savepoint.prepare(&sql) {
            let (message, position) = match e.as_db_error() {
                Some(db) => (
                    db.message().to_string(),
                    match db.position() {
                        Some(postgres::error::ErrorPosition::Original(p)) => {
                            (*p as usize).checked_sub(prefix.chars().count())
                        }
                        _ => None,
                    },
                ),
                None => (e.to_string(), None),
            };
            problems.push(Problem::setting(
                &options.origin(TableSetting::Filter, name),
                format!(
                    "the filter for {name} ({filter:?}) does not work: {message}{}",
                    position
                        .filter(|&p| p >= 1 && p <= filter.chars().count())
                        .map(|p| format!(", at character {p} of the filter"))
                        .unwrap_or_default()
                ),
            ));
        }
        savepoint.rollback()?;
    }
    // Compared as the server would compare such a key (a citext key ignores case).
    crate::catalog::name_virtual_equality(txn, &catalog.tables, &mut keys)?;
    catalog.foreign_keys.extend(keys);
    Ok(problems)
}

fn resolve_limits(catalog: &Catalog, options: &ExportOptions) -> Limits {
    let per_table: HashMap<usize, Option<u64>> = options
        .table_limits
        .iter()
        .filter_map(|(name, limit)| catalog.find(name).map(|t| (t, *limit)))
        .collect();
    let filters = options
        .filters
        .iter()
        .filter_map(|(name, filter)| catalog.find(name).map(|t| (t, filter.clone())))
        .collect();
    Limits {
        default: options.limit,
        per_table,
        filters,
    }
}

/// The tables that would come out empty although the source has rows: `selected[i]` rows were
/// chosen for table `i`, and `has_rows(i)` asks the source.
pub fn empty_offenders(
    selected: &[usize],
    mut has_rows: impl FnMut(usize) -> Result<bool>,
) -> Result<Vec<usize>> {
    let mut offenders = Vec::new();
    for (i, &count) in selected.iter().enumerate() {
        if count == 0 && has_rows(i)? {
            offenders.push(i);
        }
    }
    Ok(offenders)
}

/// No table that has rows in the source may come out empty.
fn assert_no_empty_tables(
    client: &mut impl GenericClient,
    catalog: &Catalog,
    selection: &Selection,
) -> Result<()> {
    let selected: Vec<usize> = selection.tables.iter().map(|t| t.rows.len()).collect();
    let offenders = empty_offenders(&selected, |i| {
        let table = &catalog.tables[i];
        Ok(client
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", table.from_clause()),
                &[],
            )
            .map_err(selection::explain_read_error)?
            .get(0))
    })?;
    if offenders.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = offenders
        .iter()
        .map(|&i| {
            let name = catalog.tables[i].name.to_string();
            let keys: Vec<&str> = selection
                .stats
                .left_out
                .iter()
                .filter(|left| left.table == name)
                .map(|left| left.foreign_key.as_str())
                .collect();
            match keys.is_empty() {
                true => name,
                false => format!(
                    "{name} (its rows were left out as orphans of {}: repair them in the source, \
                     then ALTER TABLE … VALIDATE CONSTRAINT)",
                    keys.join(", ")
                ),
            }
        })
        .collect();
    // One problem per table for --json, beside the sentence that lists them all.
    let problems: Vec<Problem> = offenders
        .iter()
        .zip(&names)
        .map(|(&i, text)| {
            Problem::unplaced(format!(
                "{text} has rows in the source but none in the snapshot"
            ))
            .kind(ProblemKind::Source)
            .table(&catalog.tables[i].name)
        })
        .collect();
    Err(crate::problem::with_problems(
        ExitKind::VerificationFailed,
        format!(
            "these tables have rows in the source but none in the snapshot: {}. Raise their \
             limit with --table-limit (or the config file's [limits]), loosen their [filters], \
             or check the role's privileges and row-level security.",
            names.join(", ")
        ),
        problems,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tables_with_source_rows_and_no_selection_offend() {
        let source_has_rows = [true, false, true, true];
        let selected = [0, 0, 5, 0];
        let mut asked = Vec::new();
        let offenders = empty_offenders(&selected, |i| {
            asked.push(i);
            Ok(source_has_rows[i])
        })
        .unwrap();
        assert_eq!(offenders, vec![0, 3]);
        // Tables with selected rows are not even asked about.
        assert_eq!(asked, vec![0, 1, 3]);
    }
}
