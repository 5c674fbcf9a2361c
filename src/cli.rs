//! The command line: clap definitions and their translation into each command's options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::catalog::QualifiedName;
use crate::export::ExportOptions;
use crate::plan::PlanFormat;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other error (a database error, an I/O error)
  2  the command line is wrong
  3  refused by the safety guard: the target is not a test database, or is the source
  4  bad input: a malformed snapshot, a schema that does not match, a bad option; nothing written
  5  verification failed: missing or drifted rows, unresolved foreign keys, empty tables
  6  a database server could not be reached or went away";

#[derive(Parser, Debug)]
#[command(
    name = "seedsnap",
    version,
    about = "Seed a PostgreSQL test database from a demo database: FK-complete, deterministic \
             snapshots and safe, verified, idempotent loads.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Export up to N rows per table, plus every row they reference, into a snapshot directory.
    #[command(after_help = EXIT_CODES)]
    Export(ExportArgs),
    /// Show the load order, foreign keys, cycles and the rows an export would take.
    #[command(after_help = EXIT_CODES)]
    Plan(PlanArgs),
    /// Load a snapshot directory into a test database, idempotently, and verify it.
    #[command(after_help = EXIT_CODES)]
    Import(ImportArgs),
    /// Export from the source, then import into the target.
    #[command(after_help = EXIT_CODES)]
    Refresh(RefreshArgs),
    /// Check a snapshot directory offline: files match the manifest, every foreign key resolves.
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `seedsnap man > seedsnap.1`.
    Man,
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr (the database line and errors still show).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    /// The demo database to read: a postgres:// URL or a libpq "key=value" string. What it
    /// leaves out comes from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and ~/.pgpass.
    #[arg(long, env = "SEEDSNAP_SOURCE", hide_env_values = true)]
    pub source: String,
}

#[derive(Args, Debug, Clone)]
pub struct SelectionArgs {
    /// Rows to sample per table before backfilling what they reference ("all" for every row).
    #[arg(long, default_value = "100", value_parser = parse_limit)]
    pub limit: Limit,
    /// A per-table limit, as schema.table=N (or =all); repeatable.
    #[arg(long = "table-limit", value_name = "SCHEMA.TABLE=N", value_parser = parse_table_limit)]
    pub table_limits: Vec<(QualifiedName, Limit)>,
    /// Leave a table out (tables that reference it must be left out too); repeatable.
    #[arg(long, value_name = "SCHEMA.TABLE", value_parser = parse_table)]
    pub exclude: Vec<QualifiedName>,
    /// Export only these tables and the tables they need; repeatable.
    #[arg(long, value_name = "SCHEMA.TABLE", value_parser = parse_table)]
    pub only: Vec<QualifiedName>,
    /// Read only these schemas (default: every user schema); repeatable.
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct DirArgs {
    /// The snapshot directory.
    #[arg(long, default_value = "fixtures/snapshot")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// The test database to load: a postgres:// URL or a libpq "key=value" string (libpq
    /// environment variables fill the gaps, as for --source).
    #[arg(long, env = "SEEDSNAP_TARGET", hide_env_values = true)]
    pub target: String,
    /// A regular expression the target database's name must match (case-insensitive).
    #[arg(long, default_value = "test")]
    pub target_pattern: String,
    /// Load into a database whose name does not match --target-pattern. At a terminal you
    /// must also type the database's name; without one, --yes is required too.
    #[arg(long)]
    pub allow_non_test_target: bool,
    /// Confirm --allow-non-test-target without a terminal.
    #[arg(long)]
    pub yes: bool,
    /// Import even when rows already in the target differ from the snapshot's.
    #[arg(long)]
    pub allow_drift: bool,
    /// Do everything, verify, then roll back: report what would happen.
    #[arg(long)]
    pub dry_run: bool,
    /// Empty the snapshot's tables first, after backing up their contents to a new
    /// timestamped snapshot directory (restorable with `seedsnap import`).
    #[arg(long)]
    pub truncate_first: bool,
    /// Where --truncate-first writes its backups.
    #[arg(long, default_value = ".seedsnap/backups")]
    pub backup_dir: PathBuf,
    /// How long to wait for a lock on a target table before giving up, in seconds.
    #[arg(long, default_value_t = 30)]
    pub lock_timeout: u64,
}

impl TargetArgs {
    pub fn to_options(&self) -> crate::import::ImportOptions {
        crate::import::ImportOptions {
            guard: crate::safety::GuardOptions {
                pattern: self.target_pattern.clone(),
                allow_non_test_target: self.allow_non_test_target,
                yes: self.yes,
            },
            allow_drift: self.allow_drift,
            dry_run: self.dry_run,
            truncate_first: self.truncate_first,
            lock_timeout_seconds: self.lock_timeout,
            backup_root: self.backup_dir.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A row limit: a number, or every row.
pub type Limit = Option<u64>;

fn parse_limit(text: &str) -> Result<Limit, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    match text.parse::<u64>() {
        Ok(0) => Err("a limit must be at least 1 (use --exclude to leave a table out)".into()),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(format!("{text:?} is not a number or \"all\"")),
    }
}

fn parse_table(text: &str) -> Result<QualifiedName, String> {
    QualifiedName::parse(text).ok_or_else(|| format!("{text:?} is not a table name (schema.table)"))
}

fn parse_table_limit(text: &str) -> Result<(QualifiedName, Limit), String> {
    let (table, limit) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not schema.table=N"))?;
    Ok((parse_table(table)?, parse_limit(limit)?))
}

impl SelectionArgs {
    pub fn to_options(&self) -> ExportOptions {
        ExportOptions {
            schemas: self.schemas.clone(),
            limit: self.limit,
            table_limits: self.table_limits.clone(),
            exclude: self.exclude.clone(),
            only: self.only.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn limits_parse() {
        assert_eq!(parse_limit("all"), Ok(None));
        assert_eq!(parse_limit("5"), Ok(Some(5)));
        assert!(parse_limit("0").is_err());
        assert_eq!(
            parse_table_limit("app.users=7"),
            Ok((QualifiedName::new("app", "users"), Some(7)))
        );
    }
}
