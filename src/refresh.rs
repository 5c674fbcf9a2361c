//! `seedsnap refresh`: export from the source, then import into the target, after a preflight
//! that refuses a bad target before the snapshot directory is replaced. The rows the previous
//! snapshot had and the new one lacks are listed (see [`crate::snapshot::retired`]).

use anyhow::Result;
use serde::Serialize;

use crate::connection::Endpoint;
use crate::export::{self, ExportReport};
use crate::import::{self, ImportOptions, ImportReport};
use crate::prepare::ExportOptions;
use crate::report::Progress;
use crate::safety;
use crate::session;
use crate::snapshot::manifest::SnapshotKind;
use crate::snapshot::retired::{self, RetiredRows};

/// Both halves of a refresh, as `--json` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    pub export: ExportReport,
    pub import: ImportReport,
    /// Rows the previous snapshot brought that this one no longer has: left in the target.
    pub left_from_previous_snapshot: Vec<RetiredRows>,
}

/// Preflight, export into `dir`, then import from it. `exported` sees the export's report
/// before the import starts (the human summary prints it there).
pub fn run(
    source: &Endpoint,
    target: &Endpoint,
    dir: &std::path::Path,
    selection: &ExportOptions,
    options: &ImportOptions,
    progress: &Progress,
    exported: impl FnOnce(&ExportReport),
) -> Result<RefreshReport> {
    preflight(source, target, options, progress)?;
    let previous = retired::read_keys(dir)?;
    let export = export::run(source, dir, selection, progress)?;
    exported(&export);
    let left_from_previous_snapshot = match (&previous, retired::read_keys(dir)?) {
        (Some(before), Some(after)) => retired::retired(before, &after),
        _ => Vec::new(),
    };
    // The snapshot is already replaced: a failed import must not read as "nothing written".
    let import = import::run(target, dir, options, progress).map_err(|error| {
        error.context(format!(
            "the export did replace the snapshot in {} (`git diff` shows what changed), then the \
             import into {} failed",
            dir.display(),
            target.display_name()
        ))
    })?;
    Ok(RefreshReport {
        export,
        import,
        left_from_previous_snapshot,
    })
}

/// Before a refresh exports anything: the target must pass the guard and must not be the
/// source, so a refused refresh does not even replace the snapshot directory.
fn preflight(
    source: &Endpoint,
    target: &Endpoint,
    options: &ImportOptions,
    progress: &Progress,
) -> Result<()> {
    progress.always(&format!(
        "refresh: from {} into {}",
        source.display_name(),
        target.display_name()
    ));
    let (_target_client, target_session) = import::open_target(target, options, None)?;
    let target_identity = target_session.identity;
    let mut source_client = session::open_source(source)?;
    let source_identity = session::source_info(&mut source_client)?;
    safety::check_not_source(&target_identity, &source_identity, SnapshotKind::Export)
}
