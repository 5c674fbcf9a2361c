//! The overlay: rows people add by hand, kept where an export never writes.
//!
//! An export replaces the snapshot directory whole, so rows written into its files by hand
//! last only until the next export. Rows that must survive go into an overlay directory beside
//! it (`overlay = "…"` in seedsnap.toml, or `--overlay DIR`): one file per table, named like
//! the snapshot's (`app.users.tsv`), in the same COPY text format, starting with the same
//! header line. No manifest: nothing to seal.
//!
//! At import the overlay's rows are appended to the snapshot's, in a merged copy of the
//! snapshot in a temporary directory, and the merged copy goes through every offline check
//! (format, key values, duplicate keys, every foreign key resolving inside snapshot plus
//! overlay) before the import proper, which verifies it in the target like any snapshot; a
//! failed check refuses the import (exit 4). `verify --overlay` makes the same checks, and
//! reports keys that do not resolve as it does for a snapshot alone (exit 5). Problems name
//! the overlay file and its own line numbers; one that involves a second row (a duplicate
//! key's first row) names that row's file and line too, the snapshot's or the overlay's.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::manifest::MANIFEST_FILE;
use super::{companions, copy_text, Problem, SnapshotDir};
use crate::error::ExitKind;
use crate::problem::{self, Location, ProblemKind};

/// A snapshot merged with its overlay (or otherwise derived from a snapshot, see
/// [`super::skip`]), in a temporary directory removed on drop.
pub struct Merged {
    pub dir: PathBuf,
    snapshot_dir: PathBuf,
    overlay_dir: PathBuf,
    /// Per data file with overlay rows: the number of the merged file's last snapshot line.
    split: HashMap<String, u64>,
    /// Overlay rows per table, for the report.
    pub added: Vec<(String, u64)>,
}

impl Drop for Merged {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Checks `overlay` against the snapshot in `snapshot_dir` and merges them, foreign keys
/// included: an import refuses a merge whose keys do not resolve (exit 4: nothing written).
pub fn merge(snapshot_dir: &Path, overlay: &Path) -> Result<Merged> {
    let (merged, checked) = merge_files(snapshot_dir, overlay, Caller::Import)?;
    let unresolved = super::keys::unresolved(&checked)?.keys;
    if !unresolved.is_empty() {
        let error = super::keys::describe(&unresolved);
        return Err(problem::with_problems(
            ExitKind::BadInput,
            merged.relocate(&format!(
                "{}: {error}",
                refused(snapshot_dir, overlay, Caller::Import)
            )),
            super::keys::problems(&unresolved)
                .into_iter()
                .map(|p| merged.relocate_problem(p))
                .collect(),
        ));
    }
    Ok(merged)
}

/// Who checks the overlay: an import, which then writes nothing, or `verify`, which never
/// writes (its messages do not say "nothing was written").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Import,
    Verify,
}

impl Caller {
    fn tail(self) -> &'static str {
        match self {
            Caller::Import => "; nothing was written",
            Caller::Verify => "",
        }
    }
}

fn refused(snapshot_dir: &Path, overlay: &Path, caller: Caller) -> String {
    format!(
        "the snapshot {} with the overlay {} is not valid{}",
        snapshot_dir.display(),
        overlay.display(),
        caller.tail()
    )
}

/// Checks `overlay` against the snapshot in `snapshot_dir` and merges them, checking the
/// merged files (format, key values, duplicate keys) but not yet its foreign keys, which
/// `verify` reports as it does for a snapshot alone (see [`merge`] for the import's check).
/// Returns the merge and the merged snapshot, opened.
pub fn merge_files(
    snapshot_dir: &Path,
    overlay: &Path,
    caller: Caller,
) -> Result<(Merged, SnapshotDir)> {
    let snapshot = SnapshotDir::open(snapshot_dir)?;
    problem::check_counted(
        ExitKind::BadInput,
        &format!(
            "the snapshot in {} is not valid{}",
            snapshot_dir.display(),
            caller.tail()
        ),
        &snapshot.check_files()?,
    )?;
    let absolute = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if absolute(overlay).starts_with(absolute(snapshot_dir)) {
        return Err(problem::refuse(
            ExitKind::BadInput,
            Problem::unplaced(format!(
                "the overlay directory {} is inside the snapshot directory {}, which an export \
                 replaces whole",
                overlay.display(),
                snapshot_dir.display(),
            ))
            .kind(ProblemKind::Directory)
            .hint(format!(
                "put it beside it (e.g. {}-overlay)",
                snapshot_dir.display()
            )),
        ));
    }
    let entries = fs::read_dir(overlay).map_err(|e| {
        problem::refuse(
            ExitKind::BadInput,
            Problem::unplaced(format!(
                "cannot read the overlay directory {}: {e}",
                overlay.display()
            ))
            .kind(ProblemKind::Directory),
        )
    })?;
    let by_file: HashMap<&str, usize> = snapshot
        .manifest
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.file.as_str(), i))
        .collect();
    let mut problems = Vec::new();
    let mut files: Vec<(usize, PathBuf)> = Vec::new();
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = overlay.join(&name);
        if companions::is_companion(&name) || path.is_dir() {
            continue;
        }
        let Some(&t) = by_file.get(name.as_str()) else {
            problems.push(Problem::in_file(
                path.display().to_string(),
                None,
                None,
                "is not the file of a table of the snapshot (an overlay file is named like the \
                 snapshot's, e.g. app.users.tsv)",
            ));
            continue;
        };
        let table = &snapshot.manifest.tables[t];
        let expected = copy_text::header_line(table.columns.iter().map(|c| c.name.as_str()));
        let mut header = Vec::new();
        if let Err(e) = super::open_regular(&path)
            .and_then(|file| BufReader::new(file).read_until(b'\n', &mut header))
        {
            problems.push(Problem::in_file(
                path.display().to_string(),
                None,
                None,
                format!("cannot be read: {e}"),
            ));
            continue;
        }
        if header != expected.as_bytes() {
            problems.push(Problem::in_file(
                path.display().to_string(),
                Some(1),
                None,
                match header.ends_with(b"\r\n") {
                    // Hand-written files are where CRLF comes from: say so, not "x" vs "x".
                    true => "ends with a carriage return (was the file saved with CRLF line \
                             endings? an overlay file uses LF, as the snapshot's)"
                        .to_string(),
                    false => format!(
                        "header is {:?}; an overlay file starts with the snapshot file's \
                         header {:?}",
                        String::from_utf8_lossy(&header).trim_end_matches('\n'),
                        expected.trim_end()
                    ),
                },
            ));
            continue;
        }
        files.push((t, path));
    }
    problem::check_counted(
        ExitKind::BadInput,
        &format!(
            "the overlay {} does not fit the snapshot",
            overlay.display()
        ),
        &problems,
    )?;

    let mut merged = Merged::derived_from(snapshot_dir)?;
    merged.overlay_dir = overlay.to_path_buf();
    let mut manifest = snapshot.manifest.clone();
    for (t, table) in manifest.tables.iter_mut().enumerate() {
        let from = snapshot_dir.join(&table.file);
        let to = merged.dir.join(&table.file);
        let Some((_, extra)) = files.iter().find(|(i, _)| *i == t) else {
            merged.link(&table.file)?;
            continue;
        };
        let mut out = fs::File::create(&to)?;
        let mut hasher = Sha256::new();
        let base = read_regular(&from)?;
        let overlay_bytes = read_regular(extra)?;
        let rows_part = &overlay_bytes[overlay_bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(overlay_bytes.len(), |p| p + 1)..];
        for part in [&base[..], rows_part] {
            out.write_all(part)?;
            hasher.update(part);
        }
        let rows = rows_part.iter().filter(|&&b| b == b'\n').count() as u64
            + u64::from(!rows_part.is_empty() && !rows_part.ends_with(b"\n"));
        merged.split.insert(table.file.clone(), table.rows + 1);
        merged
            .added
            .push((table.qualified_name().to_string(), rows));
        table.rows += rows;
        table.sampled += rows;
        table.sha256 = super::hex(&hasher.finalize());
    }
    fs::write(merged.dir.join(MANIFEST_FILE), manifest.to_json())?;
    let checked = SnapshotDir::open(&merged.dir)?;
    let problems: Vec<Problem> = checked
        .check_files()?
        .into_iter()
        .map(|p| merged.relocate_problem(p))
        .collect();
    problem::check_counted(
        ExitKind::BadInput,
        &refused(snapshot_dir, overlay, caller),
        &problems,
    )?;
    Ok((merged, checked))
}

/// A whole file of the snapshot or the overlay, refused unless it is a regular file (see
/// [`super::open_regular`]).
fn read_regular(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    super::open_regular(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

impl Merged {
    /// An empty temporary directory for a copy of the snapshot in `snapshot_dir` whose data
    /// files keep their line numbers (messages about it are relocated to `snapshot_dir`).
    pub fn derived_from(snapshot_dir: &Path) -> Result<Merged> {
        // A copy a killed import left (SIGKILL runs no clean-up) holds links to every file.
        // Shared between containers, the temporary directory may hold a live import's copy
        // whose process this one cannot see: only a day-old one is taken for abandoned.
        super::directory::remove_abandoned(
            &std::env::temp_dir(),
            "a derived snapshot",
            std::time::Duration::from_secs(24 * 3600),
            |name| {
                name.strip_prefix("seedsnap-derived-")?
                    .split_once('-')?
                    .0
                    .parse()
                    .ok()
            },
        );
        let dir = std::env::temp_dir().join(format!(
            "seedsnap-derived-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Merged {
            dir,
            snapshot_dir: snapshot_dir.to_path_buf(),
            overlay_dir: snapshot_dir.to_path_buf(),
            split: HashMap::new(),
            added: Vec::new(),
        })
    }

    /// Links (or copies) a data file of the snapshot unchanged into the derived directory.
    pub fn link(&self, file: &str) -> Result<()> {
        let (from, to) = (self.snapshot_dir.join(file), self.dir.join(file));
        if fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
        }
        Ok(())
    }

    /// Where line `line` of merged data file `file` came from: the snapshot's file, or the
    /// overlay's (with its own line number).
    fn origin(&self, file: &str, line: Option<u64>) -> (PathBuf, Option<u64>) {
        match (self.split.get(file), line) {
            (Some(&last), Some(line)) if line > last => {
                (self.overlay_dir.join(file), Some(line - last + 1))
            }
            _ => (self.snapshot_dir.join(file), line),
        }
    }

    /// A problem about the derived copy, placed in the files and lines it came from: its own
    /// place, the place it involves too (a duplicate key's first row) and every mention of
    /// either in its message.
    pub fn relocate_problem(&self, mut problem: Problem) -> Problem {
        if let Location::File { file, line, .. } = &mut problem.at {
            (*file, *line) = self.relocate_place(file, *line);
        }
        if let Some((file, line)) = &mut problem.about.related {
            (*file, *line) = self.relocate_place(file, *line);
        }
        problem.message = self.relocate(&problem.message);
        problem.about.hint = problem
            .about
            .hint
            .as_deref()
            .map(|hint| self.relocate(hint));
        problem
    }

    /// Where line `line` of `file` (a path in the derived copy, or any other) came from.
    fn relocate_place(&self, file: &str, line: Option<u64>) -> (String, Option<u64>) {
        match Path::new(file).strip_prefix(&self.dir) {
            Ok(merged) => {
                let (path, line) = self.origin(&merged.display().to_string(), line);
                (path.display().to_string(), line)
            }
            Err(_) => (file.to_string(), line),
        }
    }

    /// Rewrites every `<merged file> line N` in a message to the file and line it came from,
    /// and any other mention of the merged directory to the snapshot directory.
    pub fn relocate(&self, text: &str) -> String {
        let prefix = format!("{}/", self.dir.display());
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(&prefix) {
            out.push_str(&rest[..at]);
            let after = &rest[at + prefix.len()..];
            let end = after
                .find(|c: char| c.is_whitespace() || c == ':' || c == ',')
                .unwrap_or(after.len());
            let file = &after[..end];
            let tail = &after[end..];
            let digits = tail
                .strip_prefix(" line ")
                .map(|t| {
                    t.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .filter(|d| !d.is_empty());
            let (path, line) = self.origin(file, digits.as_ref().and_then(|d| d.parse().ok()));
            out.push_str(&path.display().to_string());
            rest = match (digits, line) {
                (Some(d), Some(line)) => {
                    out.push_str(&format!(" line {line}"));
                    &tail[" line ".len() + d.len()..]
                }
                _ => tail,
            };
        }
        out.push_str(rest);
        out.replace(
            &self.dir.display().to_string(),
            &self.snapshot_dir.display().to_string(),
        )
    }
}
