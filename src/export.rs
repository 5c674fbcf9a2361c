//! `seedsnap export`: one read-only snapshot transaction on the source, the preparation of
//! [`crate::prepare`] (catalog → scope → load plan → selection), then one COPY per table into a
//! new snapshot directory that replaces the old one only when everything succeeded. Tables
//! with masked columns are read into memory and masked there ([`crate::masking`]) before any
//! file is written.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use postgres::GenericClient;
use serde::Serialize;

use crate::catalog::{Catalog, QualifiedName};
use crate::connection::{Endpoint, Side};
use crate::masking;
use crate::partition_keys;
use crate::prepare::{prepare, ExportOptions, Prepared, Timings};
use crate::report::{self, Progress};
use crate::selection::{self, RowId};
use crate::session::{begin_snapshot, open_source};
use crate::snapshot::manifest::{self, ManifestMasking, SnapshotKind, FORMAT, FORMAT_VERSION};
use crate::snapshot::table_file::{manifest_table, write_table_file, RowCounts, Rows};
use crate::snapshot::{Manifest, SnapshotWriter};

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

/// `seedsnap export`.
pub fn run(
    endpoint: &Endpoint,
    dir: &Path,
    options: &ExportOptions,
    progress: &Progress,
) -> Result<ExportReport> {
    run_export(endpoint, dir, options, progress)
        .map_err(|e| crate::connection::name_lost_connection(e, Side::Source, endpoint))
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
    // A missing masking key, then a bad --dir, fail before anything is written or read.
    let key = options
        .masking
        .load_key(&crate::connection::ProcessEnvironment)?;
    let writer = SnapshotWriter::create(dir)?;
    let t0 = Instant::now();
    let mut client = open_source(endpoint)?;
    let timings = Timings {
        connect_ms: t0.elapsed().as_secs_f64() * 1e3,
        ..Timings::default()
    };
    let mut txn = begin_snapshot(&mut client)?;
    let mut prepared = prepare(&mut txn, options, progress, timings)?;
    let migrations = crate::migrations::read(&mut txn)?;

    let t0 = Instant::now();
    let leaf_names = leaf_relation_names(&mut txn, &prepared)?;
    // Tables with keys declared on partitions are written grouped by leaf partition.
    let grouped = partition_keys::grouped_tables(&prepared.catalog);
    let mut groups: HashMap<usize, Vec<(u32, QualifiedName, u64)>> = HashMap::new();
    for (t, _) in grouped.iter().enumerate().filter(|(_, g)| **g) {
        let rows = &prepared.selection.tables[t].rows;
        groups.insert(t, partition_keys::leaf_groups(&mut txn, rows)?);
    }
    let group_of = |t: usize| -> HashMap<u32, usize> {
        groups
            .get(&t)
            .map(|g| g.iter().enumerate().map(|(i, g)| (g.0, i)).collect())
            .unwrap_or_default()
    };
    // Tables with masked columns are read into memory and masked there, before any file is
    // written: no original value of a masked column reaches the disk.
    let mut masked_copies = BTreeMap::new();
    if let Some(key) = &key {
        for &t in prepared.masking.tables.keys() {
            let rows = &prepared.selection.tables[t].rows;
            let mut data = Vec::new();
            if !rows.is_empty() {
                let sql = copy_query(&prepared.catalog, t, rows, &leaf_names, &group_of(t));
                let name = &prepared.catalog.tables[t].name;
                txn.copy_out(sql.as_str())
                    .with_context(|| format!("copying rows of {name}"))?
                    .read_to_end(&mut data)
                    .with_context(|| format!("copying rows of {name}"))?;
            }
            masked_copies.insert(t, data);
        }
        let started = Instant::now();
        let checks = masking::mask_tables(&prepared.masking, key, &mut masked_copies)?;
        masking::check_domains(&mut txn, &checks)?;
        prepared.timings.mask_ms = started.elapsed().as_secs_f64() * 1e3;
        progress.line(&format!(
            "masked {} columns of {} tables ({})",
            prepared.masking.columns.len(),
            masked_copies.len(),
            report::ms(prepared.timings.mask_ms)
        ));
    }
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
            let sql = (!chosen.rows.is_empty()).then(|| {
                copy_query(
                    &prepared.catalog,
                    t,
                    &chosen.rows,
                    &leaf_names,
                    &group_of(t),
                )
            });
            let masked = masked_copies.remove(&t);
            let rows = match (&masked, &sql) {
                (Some(data), _) => Rows::Buffered(data),
                (None, Some(sql)) => Rows::Copy(sql),
                (None, None) => Rows::Empty,
            };
            let (file, sha256, exported) = write_table_file(
                &writer,
                &mut txn,
                &prepared.catalog,
                t,
                rows,
                "copying rows of",
                (progress, Some(chosen.rows.len() as u64)),
            )?;
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
            let mut entry = manifest_table(&prepared.catalog, t, file, counts, sha256);
            entry.partitions = partition_keys::manifest_groups(groups.get(&t).map_or(&[], |g| g));
            tables.push(entry);
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
        masking: key.as_ref().map(|key| ManifestMasking {
            fingerprint: masking::fingerprint(key, &options.masking),
            key_env: options.masking.key_env.clone(),
            columns: prepared.masking.columns.clone(),
        }),
        migrations,
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
/// selected rows, then a sort, so the cost follows the rows exported. With `group_of` (leaf
/// relation → position), rows are grouped by leaf partition first.
fn copy_query(
    catalog: &Catalog,
    table: usize,
    rows: &[RowId],
    leaf_names: &HashMap<u32, String>,
    group_of: &HashMap<u32, usize>,
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
        let group_column = match group_of.get(&group[0].relation) {
            Some(position) if columns.is_empty() => format!("{position} AS seedsnap_group"),
            Some(position) => format!("{position} AS seedsnap_group, "),
            None => String::new(),
        };
        parts.push(format!(
            "SELECT {group_column}{columns} FROM ONLY {} WHERE ctid = ANY ({})",
            leaf_names[&group[0].relation],
            selection::tid_array(group)
        ));
    }
    format!(
        // MATERIALIZED keeps the planner from walking the whole key index to save the sort.
        "COPY (WITH chosen AS MATERIALIZED ({}) SELECT {columns} FROM chosen AS t ORDER BY {}) TO STDOUT",
        parts.join(" UNION ALL "),
        match group_of.is_empty() {
            true => info.order_by("t."),
            false => format!("t.seedsnap_group, {}", info.order_by("t.")),
        }
    )
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
