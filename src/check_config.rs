//! `seedsnap check-config`: the config file (with any flags over it) against the source's
//! catalog, inside a read-only snapshot transaction, reporting every problem at once — the
//! same checks an export makes before it reads a row, masking rules included (the key is not
//! needed to check them).

use anyhow::Result;
use serde::Serialize;

use postgres::GenericClient;

use crate::catalog::{condition_sql, Catalog};
use crate::config::{Config, TableSetting};
use crate::connection::Endpoint;
use crate::error::ExitKind;
use crate::prepare::{self, ExportOptions};
use crate::problem::{self, Problem};
use crate::report::Progress;
use crate::session;

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub config: String,
    pub source: String,
    pub tables: usize,
    pub virtual_keys: usize,
    pub filters: usize,
    pub table_settings: usize,
    /// Masking rules checked (`[masking.columns]` and `--mask`).
    pub masking_rules: usize,
    pub problems: Vec<Problem>,
    /// Settings that are valid but look wrong: a `when` value no row holds, a filter no row
    /// meets.
    pub warnings: Vec<String>,
}

pub fn run(
    endpoint: &Endpoint,
    config: &Config,
    options: &ExportOptions,
    progress: &Progress,
) -> Result<CheckReport> {
    progress.always(&format!(
        "checking {} against {} (read-only)",
        config.path.display(),
        endpoint.display_name()
    ));
    let mut client = session::open_source(endpoint)?;
    let mut txn = session::begin_snapshot(&mut client)?;
    let mut catalog = Catalog::read(&mut txn, &options.schemas)?;
    let problems = prepare::checked_scope(&mut txn, &mut catalog, options)?.problems;
    let warnings = if problems.is_empty() {
        suspicious_settings(&mut txn, &catalog, options)?
    } else {
        Vec::new()
    };
    txn.commit()?;
    Ok(CheckReport {
        config: config.path.display().to_string(),
        source: endpoint.display_name(),
        tables: catalog.tables.len(),
        virtual_keys: options.virtual_keys.len(),
        filters: options.filters.len(),
        table_settings: options.table_limits.len() + options.exclude.len(),
        masking_rules: options.masking.effective_rules().len(),
        problems,
        warnings,
    })
}

/// Valid settings that select nothing in the source, likely typos: a virtual key's `when`
/// that no row meets, a filter that no row meets.
fn suspicious_settings(
    client: &mut impl GenericClient,
    catalog: &Catalog,
    options: &ExportOptions,
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for fk in catalog
        .foreign_keys
        .iter()
        .filter(|k| !k.condition().is_empty())
    {
        let child = &catalog.tables[fk.child];
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {} AS t WHERE {})",
            child.from_clause(),
            condition_sql(fk.condition(), "t")
        );
        if !client.query_one(sql.as_str(), &[])?.get::<_, bool>(0) {
            warnings.push(format!(
                "virtual foreign key {:?}: no row of {} meets its condition, so it selects nothing",
                fk.name, child.name
            ));
        }
    }
    for (name, filter) in &options.filters {
        let Some(t) = catalog.find(name) else {
            continue;
        };
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {} AS t WHERE ({filter}))",
            catalog.tables[t].from_clause()
        );
        if !client.query_one(sql.as_str(), &[])?.get::<_, bool>(0) {
            warnings.push(format!(
                "{}: no row of {name} meets the filter {filter:?}; an export would fail if \
                 nothing else brings rows of it in",
                options.origin(TableSetting::Filter, name)
            ));
        }
    }
    Ok(warnings)
}

/// `1 filter`, `2 filters`.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn render(report: &CheckReport) -> String {
    let warnings: String = report
        .warnings
        .iter()
        .map(|w| format!("warning: {w}\n"))
        .collect();
    if report.problems.is_empty() {
        return warnings
            + &format!(
                "{}: no problems ({}, {}, {}, {} checked against the {} tables of {})\n",
                report.config,
                counted(
                    report.virtual_keys,
                    "virtual foreign key",
                    "virtual foreign keys"
                ),
                counted(report.filters, "filter", "filters"),
                counted(
                    report.table_settings,
                    "table limit or exclusion",
                    "table limits and exclusions"
                ),
                counted(report.masking_rules, "masking rule", "masking rules"),
                report.tables,
                report.source
            );
    }
    let mut text = format!(
        "{}: {} problem(s) against {}:\n",
        report.config,
        report.problems.len(),
        report.source
    );
    for problem in &report.problems {
        text.push_str(&format!("  - {problem}\n"));
    }
    text
}

/// Exit code 4 when anything is wrong.
pub fn failure_of(report: &CheckReport) -> Option<anyhow::Error> {
    (!report.problems.is_empty()).then(|| {
        problem::with_problems(
            ExitKind::BadInput,
            format!(
                "{} has {} problem(s); fix them and run check-config again",
                report.config,
                report.problems.len()
            ),
            report.problems.clone(),
        )
    })
}
