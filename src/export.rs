//! `seedsnap export` (and the reading half of `plan`): one read-only snapshot transaction on the
//! source, catalog → scope → load plan → selection → one COPY per table into a new snapshot
//! directory that replaces the old one only when everything succeeded.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use postgres::{GenericClient, IsolationLevel, Transaction};
use serde::Serialize;

use crate::catalog::{quote_literal, Catalog, QualifiedName};
use crate::connection::Endpoint;
use crate::error::{failure, ExitKind};
use crate::graph::{self, Component};
use crate::report::{self, Progress};
use crate::selection::{self, Limits, RowId, Selection};
use crate::snapshot::copy_text;
use crate::snapshot::file_name::file_name;
use crate::snapshot::manifest::{
    self, ManifestColumn, ManifestForeignKey, SnapshotKind, SourceInfo, FORMAT, FORMAT_VERSION,
};
use crate::snapshot::{Manifest, ManifestTable, SnapshotWriter};
use crate::virtual_keys::{self, VirtualKeySpec};

/// What to read: the command line merged over the config file.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
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
    pub origins: HashMap<(&'static str, QualifiedName), String>,
}

impl ExportOptions {
    /// How a message names where a table setting came from: its file line, or its flag.
    pub fn origin(&self, flag: &'static str, table: &QualifiedName) -> String {
        self.origins
            .get(&(flag, table.clone()))
            .cloned()
            .unwrap_or_else(|| format!("--{flag}"))
    }
}

/// Everything decided before any file is written; `plan` prints it, `export` writes it.
pub struct Prepared {
    pub source: SourceInfo,
    pub catalog: Catalog,
    pub plan: Vec<Component>,
    pub selection: Selection,
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
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    pub file: String,
    pub source_rows_estimate: i64,
    pub sampled: u64,
    pub backfilled: u64,
    pub exported: u64,
    pub ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub source: String,
    pub snapshot: String,
    pub tables: Vec<TableReport>,
    pub rows: u64,
    pub warnings: Vec<String>,
    pub timings: Timings,
}

/// Opens the source and its read-only snapshot transaction. The session is read-only twice
/// over (`default_transaction_read_only` and `READ ONLY`), and row security is off so that a
/// policy makes the export fail instead of silently return fewer rows. Sequential scans are
/// discouraged: every lookup has a unique index to use, and the cost must follow the rows
/// exported, not the size of the table (the planner would otherwise scan a large table to
/// find a few hundred keys).
pub fn open_source(endpoint: &Endpoint) -> Result<postgres::Client> {
    let mut client = endpoint.connect("source")?;
    client
        .batch_execute(
            "SET default_transaction_read_only = on;
             SET row_security = off;
             SET enable_seqscan = off;
             SET statement_timeout = 0;
             SET idle_in_transaction_session_timeout = 0;",
        )
        .context("configuring the source session")?;
    Ok(client)
}

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

/// Catalog, scope, plan and selection, inside the caller's transaction.
pub fn prepare(
    txn: &mut Transaction<'_>,
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
    let keep = checked_scope(txn, &mut full, options)?
        .map_err(|problems| options_failure(&problems, options))?;
    if !options.virtual_keys.is_empty() {
        progress.line(&format!(
            "added {} virtual foreign keys",
            options.virtual_keys.len()
        ));
    }

    let t0 = Instant::now();
    let catalog = full.restrict(&keep);
    let limits = resolve_limits(&catalog, options);
    let edges = graph::edges_from_catalog(&catalog);
    let plan = graph::load_plan(catalog.tables.len(), &edges);
    timings.planning_ms = t0.elapsed().as_secs_f64() * 1e3;

    let explain = options.explain.is_some();
    let selection = selection::select(txn, &catalog, &plan, &limits, explain, |_| {})?;
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
        timings,
    })
}

/// Which tables to read: all, or `--only` and what they need, minus `--exclude`. A kept table
/// that references a dropped one is a problem: the snapshot would not be FK-complete. Unknown
/// names are left to [`check_options`].
fn scope(catalog: &Catalog, options: &ExportOptions) -> Result<Vec<bool>, Vec<String>> {
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
    let mut problems: Vec<String> = catalog
        .foreign_keys
        .iter()
        .filter(|fk| keep[fk.child] && !keep[fk.parent])
        .map(|fk| {
            format!(
                "{} references {} ({}), which is excluded: exclude {} too, or keep {}",
                catalog.tables[fk.child].name,
                catalog.tables[fk.parent].name,
                fk.name,
                catalog.tables[fk.child].name,
                catalog.tables[fk.parent].name
            )
        })
        .collect();
    problems.extend(
        catalog
            .external_foreign_keys
            .iter()
            .filter(|(child, _)| keep[*child])
            .map(|(_, text)| {
                format!("{text}: add its schema with --schema, or --exclude the table")
            }),
    );
    if problems.is_empty() {
        Ok(keep)
    } else {
        Err(problems)
    }
}

/// The tables to read, after every setting was checked against the source: all the problems
/// of `check_options` (which also adds the virtual keys to the catalog), else those of
/// `scope`. `export`, `plan` and `check-config` decide with this one function.
pub fn checked_scope(
    txn: &mut Transaction<'_>,
    catalog: &mut Catalog,
    options: &ExportOptions,
) -> Result<Result<Vec<bool>, Vec<String>>> {
    let problems = check_options(txn, catalog, options)?;
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    Ok(scope(catalog, options))
}

/// The error for options that do not fit the source: every problem, one per line.
fn options_failure(problems: &[String], options: &ExportOptions) -> anyhow::Error {
    failure(
        ExitKind::BadInput,
        format!(
            "the settings do not fit the source (schemas read: {}); nothing was exported:\n  - {}",
            if options.schemas.is_empty() {
                "all user schemas".to_string()
            } else {
                options.schemas.join(", ")
            },
            problems.join("\n  - ")
        ),
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
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let named = [("only", &options.only), ("exclude", &options.exclude)];
    for (flag, names) in named {
        for name in names {
            if let Err(p) = virtual_keys::find_table(catalog, name, &options.origin(flag, name)) {
                problems.push(p);
            }
        }
    }
    for (name, _) in &options.table_limits {
        if let Err(p) =
            virtual_keys::find_table(catalog, name, &options.origin("table-limit", name))
        {
            problems.push(p);
        }
    }
    let mut filters = Vec::new();
    for (name, filter) in &options.filters {
        match virtual_keys::find_table(catalog, name, &options.origin("filter", name)) {
            Ok(t) => filters.push((t, name, filter)),
            Err(p) => problems.push(p),
        }
    }
    let (keys, key_problems) = virtual_keys::resolve(catalog, &options.virtual_keys);
    problems.extend(key_problems);
    for key in &keys {
        let spec = options
            .virtual_keys
            .iter()
            .find(|s| s.text == key.name)
            .expect("every key comes from a spec");
        let child = &catalog.tables[key.child];
        for condition in &key.condition {
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
                        problems.push(format!(
                            "{}: virtual foreign key {:?}: {} reads back as {}; write {} = {}",
                            spec.origin,
                            spec.text,
                            quote_literal(&condition.value),
                            quote_literal(&canonical),
                            condition.column,
                            quote_literal(&canonical)
                        ));
                    }
                }
                Err(e) => problems.push(format!(
                    "{}: virtual foreign key {:?}: {} is not a valid value of {}.{} ({}): {}",
                    spec.origin,
                    spec.text,
                    quote_literal(&condition.value),
                    child.name,
                    condition.column,
                    column.type_name,
                    e.as_db_error().map(|d| d.message()).unwrap_or("rejected")
                )),
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
            problems.push(format!(
                "{}: the filter for {name} ({filter:?}) does not work: {message}{}",
                options.origin("filter", name),
                position
                    .filter(|&p| p >= 1 && p <= filter.chars().count())
                    .map(|p| format!(", at character {p} of the filter"))
                    .unwrap_or_default()
            ));
        }
        savepoint.rollback()?;
    }
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
        .map(|&i| catalog.tables[i].name.to_string())
        .collect();
    Err(failure(
        ExitKind::VerificationFailed,
        format!(
            "these tables have rows in the source but none in the snapshot: {}. Raise their \
             limit with --table-limit (or the config file's [limits]), loosen their [filters], or check the role's privileges and row-level security.",
            names.join(", ")
        ),
    ))
}

/// `seedsnap export`.
pub fn run(
    endpoint: &Endpoint,
    dir: &Path,
    options: &ExportOptions,
    progress: &Progress,
) -> Result<ExportReport> {
    run_export(endpoint, dir, options, progress)
        .map_err(|e| crate::error::name_lost_connection(e, "source", endpoint))
}

fn run_export(
    endpoint: &Endpoint,
    dir: &Path,
    options: &ExportOptions,
    progress: &Progress,
) -> Result<ExportReport> {
    progress.always(&format!(
        "reading from {} (read-only)",
        endpoint.display_name()
    ));
    // Fail on a bad --dir before touching the database.
    let writer = SnapshotWriter::create(dir)?;
    let t0 = Instant::now();
    let mut client = open_source(endpoint)?;
    let timings = Timings {
        connect_ms: t0.elapsed().as_secs_f64() * 1e3,
        ..Timings::default()
    };
    let mut txn = begin_snapshot(&mut client)?;
    let mut prepared = prepare(&mut txn, options, progress, timings)?;

    let t0 = Instant::now();
    let leaf_names = leaf_relation_names(&mut txn, &prepared)?;
    let mut tables = Vec::new();
    let mut reports = Vec::new();
    let name_width = prepared
        .catalog
        .tables
        .iter()
        .map(|t| t.name.to_string().chars().count())
        .max()
        .unwrap_or(0);
    for component in &prepared.plan {
        for &t in &component.tables {
            let started = Instant::now();
            let table = &prepared.catalog.tables[t];
            let chosen = &prepared.selection.tables[t];
            let file = file_name(&table.name);
            let mut out = writer.table_file(&file)?;
            let columns: Vec<&str> = table.stored_columns().map(|c| c.name.as_str()).collect();
            out.write_all(copy_text::header_line(columns.iter().copied()).as_bytes())?;
            if !chosen.rows.is_empty() {
                let sql = copy_query(&prepared.catalog, t, &chosen.rows, &leaf_names);
                let mut reader = txn
                    .copy_out(sql.as_str())
                    .with_context(|| format!("copying rows of {}", table.name))?;
                std::io::copy(&mut reader, &mut out)
                    .with_context(|| format!("copying rows of {} into {file}", table.name))?;
            }
            let (sha256, lines) = out.finish()?;
            let exported = lines - 1;
            if exported != chosen.rows.len() as u64 {
                anyhow::bail!(
                    "COPY of {} returned {exported} rows, {} were selected",
                    table.name,
                    chosen.rows.len()
                );
            }
            let ms = (started.elapsed() + chosen.sample_time).as_secs_f64() * 1e3;
            progress.line(&format!(
                "{:<name_width$}  ~{} rows in source, {} sampled, {} backfilled ({})",
                table.name.to_string(),
                table.estimated_rows,
                chosen.sampled,
                chosen.backfilled,
                report::ms(ms)
            ));
            reports.push(TableReport {
                table: table.name.to_string(),
                file: file.clone(),
                source_rows_estimate: table.estimated_rows,
                sampled: chosen.sampled,
                backfilled: chosen.backfilled,
                exported,
                ms,
            });
            let counts = RowCounts {
                rows: exported,
                sampled: chosen.sampled,
                backfilled: chosen.backfilled,
            };
            tables.push(manifest_table(&prepared.catalog, t, file, counts, sha256));
        }
    }
    txn.commit().context("ending the read-only transaction")?;
    prepared.timings.copy_ms = t0.elapsed().as_secs_f64() * 1e3;

    let manifest = Manifest {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        kind: SnapshotKind::Export,
        source: prepared.source.clone(),
        schema_fingerprint: manifest::schema_fingerprint(&tables),
        limit: options.limit,
        tables,
    };
    let final_dir = writer.final_dir().display().to_string();
    writer.commit(&manifest)?;
    prepared.timings.total_ms = progress.elapsed_ms();
    Ok(ExportReport {
        source: endpoint.display_name(),
        snapshot: final_dir,
        rows: reports.iter().map(|r| r.exported).sum(),
        tables: reports,
        warnings: prepared.selection.stats.unresolved.clone(),
        timings: prepared.timings,
    })
}

/// Schema-qualified, quoted names of the partitions holding selected rows of partitioned tables.
fn leaf_relation_names(
    client: &mut impl GenericClient,
    prepared: &Prepared,
) -> Result<HashMap<u32, String>> {
    let mut names = HashMap::new();
    let mut wanted: Vec<i64> = Vec::new();
    for (i, table) in prepared.catalog.tables.iter().enumerate() {
        if table.kind == crate::catalog::TableKind::Ordinary {
            names.insert(table.oid, table.name.sql());
        } else {
            let mut rels: Vec<i64> = prepared.selection.tables[i]
                .rows
                .iter()
                .map(|r| r.relation as i64)
                .collect();
            rels.dedup();
            wanted.extend(rels);
        }
    }
    if !wanted.is_empty() {
        for row in client.query(
            "SELECT oid::pg_catalog.int8, oid::pg_catalog.regclass::pg_catalog.text
               FROM pg_catalog.pg_class WHERE oid = ANY ($1::pg_catalog.int8[]::pg_catalog.oid[])",
            &[&wanted],
        )? {
            names.insert(row.get::<_, i64>(0) as u32, row.get(1));
        }
    }
    Ok(names)
}

/// `COPY (… WHERE ctid = ANY (…) … ORDER BY <key>) TO STDOUT`: a TID scan per relation holding
/// selected rows, then a sort, so the cost follows the rows exported.
fn copy_query(
    catalog: &Catalog,
    table: usize,
    rows: &[RowId],
    leaf_names: &HashMap<u32, String>,
) -> String {
    let info = &catalog.tables[table];
    let columns: Vec<String> = info
        .stored_columns()
        .map(|c| crate::catalog::quote_ident(&c.name))
        .collect();
    let columns = columns.join(", ");
    let mut parts = Vec::new();
    // Rows are sorted by relation, so each relation's rows are contiguous.
    for group in rows.chunk_by(|a, b| a.relation == b.relation) {
        let tids: Vec<String> = group
            .iter()
            .map(|r| format!("\"{}\"", r.ctid_literal()))
            .collect();
        parts.push(format!(
            "SELECT {columns} FROM ONLY {} WHERE ctid = ANY ({}::pg_catalog.tid[])",
            leaf_names[&group[0].relation],
            quote_literal(&format!("{{{}}}", tids.join(",")))
        ));
    }
    format!(
        // MATERIALIZED keeps the planner from walking the whole key index to save the sort.
        "COPY (WITH chosen AS MATERIALIZED ({}) SELECT {columns} FROM chosen AS t ORDER BY {}) TO STDOUT",
        parts.join(" UNION ALL "),
        selection::order_by(info, "t.")
    )
}

/// How many rows a data file holds, and how they were chosen.
pub struct RowCounts {
    pub rows: u64,
    pub sampled: u64,
    pub backfilled: u64,
}

/// The manifest entry for table `t` of a catalog.
pub fn manifest_table(
    catalog: &Catalog,
    t: usize,
    file: String,
    counts: RowCounts,
    sha256: String,
) -> ManifestTable {
    let table = &catalog.tables[t];
    ManifestTable {
        schema: table.name.schema.clone(),
        name: table.name.name.clone(),
        file,
        columns: table
            .stored_columns()
            .map(|c| ManifestColumn {
                name: c.name.clone(),
                type_name: c.type_name.clone(),
                not_null: c.not_null,
                identity: c.identity.clone(),
            })
            .collect(),
        key: table.row_key(),
        foreign_keys: catalog
            .outgoing(t)
            .map(|(_, fk)| ManifestForeignKey {
                name: fk.name.clone(),
                columns: fk.columns.clone(),
                references: catalog.tables[fk.parent].name.clone(),
                referenced_columns: fk.parent_columns.clone(),
                deferrable: fk.deferrable,
                match_full: fk.match_full,
                virtual_key: fk.virtual_key,
                when: fk.condition.clone(),
            })
            .collect(),
        rows: counts.rows,
        sampled: counts.sampled,
        backfilled: counts.backfilled,
        sha256,
    }
}

/// The human summary printed after an export.
pub fn render_summary(report: &ExportReport) -> String {
    let mut rows: Vec<&TableReport> = report.tables.iter().collect();
    let hidden = rows.len().saturating_sub(60);
    if hidden > 0 {
        rows.sort_by(|a, b| b.exported.cmp(&a.exported).then(a.table.cmp(&b.table)));
        rows.truncate(60);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.table.clone(),
                format!("~{}", r.source_rows_estimate),
                r.sampled.to_string(),
                r.backfilled.to_string(),
                r.exported.to_string(),
            ]
        })
        .collect();
    let mut text = report::render_table(
        &["table", "source rows", "sampled", "backfilled", "exported"],
        &cells,
    );
    if hidden > 0 {
        text.push_str(&format!("… and {hidden} smaller tables (see --json)\n"));
    }
    for warning in &report.warnings {
        text.push_str(&format!("warning: {warning}\n"));
    }
    text.push_str(&format!(
        "exported {} rows of {} tables from {} to {} in {}\n",
        report.rows,
        report.tables.len(),
        report.source,
        report.snapshot,
        report::ms(report.timings.total_ms)
    ));
    text
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
