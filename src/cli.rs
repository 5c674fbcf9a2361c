//! The command line: clap definitions and their translation into each command's options.
//!
//! The doc comments of the flags are their `--help` text, where `[source]` names a section of
//! the config file, not an item of this crate.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::catalog::QualifiedName;
use crate::config::{Config, TableSetting};
use crate::connection::Side;
use crate::error::{failure, ExitKind};
use crate::plan::PlanFormat;
use crate::prepare::ExportOptions;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other error (a database error, an I/O error)
  2  the command line is wrong
  3  refused by the safety guard: the target is not a test database, or is the source
  4  bad input: a malformed snapshot, a schema that does not match, a bad option; nothing written
  5  verification failed: missing or drifted rows, unresolved foreign keys, empty tables
     (with --json, the error object of a 4 or 5 lists every problem, at least one)
  6  a database server could not be reached or went away
130  interrupted (Ctrl-C or SIGTERM): the running statements were cancelled, an import rolled
     back (the target is unchanged), an export kept the previous snapshot";

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
    /// Read settings from this file instead of the nearest seedsnap.toml in the current
    /// directory or its parents (flags still win over it).
    #[arg(
        long,
        global = true,
        env = "SEEDSNAP_CONFIG",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Ignore seedsnap.toml files and SEEDSNAP_CONFIG: use flags and defaults only.
    #[arg(long, global = true)]
    pub no_config: bool,
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
    /// Check a snapshot directory offline: files match the manifest, no duplicate value of the
    /// row key or of another unique key the manifest records, every foreign key resolves (key
    /// values compared as PostgreSQL compares them: `03` is `3`, `1.50` is `1.5`).
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// Accept hand edits of the data files: recompute the manifest's checksums and row counts,
    /// verify the result offline (format, duplicate values of the row key and of the other
    /// unique keys, every foreign key), and refuse with file and line what would not import.
    #[command(after_help = EXIT_CODES)]
    Seal(SealArgs),
    /// Check the config file against the source's catalog and report every problem at once.
    #[command(name = "check-config", after_help = EXIT_CODES)]
    CheckConfig(CheckConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): `seedsnap man > seedsnap.1`, `seedsnap man import`, or
    /// every page into a directory with --out-dir.
    Man {
        /// The subcommand whose page to print (default: the top-level page).
        command: Option<String>,
        /// Write seedsnap.1 and one seedsnap-COMMAND.1 per subcommand into this directory.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        out_dir: Option<PathBuf>,
    },
}

impl Command {
    /// Whether the command prints JSON on stdout (then failures do too).
    pub fn wants_json(&self) -> bool {
        match self {
            Command::Export(a) => a.output.json,
            Command::Plan(a) => a.json || a.format == PlanFormat::Json,
            Command::Import(a) => a.output.json,
            Command::Refresh(a) => a.output.json,
            Command::Verify(a) => a.output.json,
            Command::Seal(a) => a.output.json,
            Command::CheckConfig(a) => a.output.json,
            Command::Completions { .. } | Command::Man { .. } => false,
        }
    }
}

impl Command {
    /// Whether the command prints progress lines (`--quiet` turns them off; the completions and
    /// the man page print none).
    pub fn shows_progress(&self) -> bool {
        let quiet = match self {
            Command::Export(a) => a.output.progress.quiet,
            Command::Plan(a) => a.progress.quiet,
            Command::Import(a) => a.output.progress.quiet,
            Command::Refresh(a) => a.output.progress.quiet,
            Command::Verify(a) => a.output.progress.quiet,
            Command::Seal(a) => a.output.progress.quiet,
            Command::CheckConfig(a) => a.output.progress.quiet,
            Command::Completions { .. } | Command::Man { .. } => true,
        };
        !quiet
    }

    /// Whether the command reads the config file.
    pub fn reads_config(&self) -> bool {
        !matches!(self, Command::Completions { .. } | Command::Man { .. })
    }
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Print the report as JSON on stdout instead of a table; a failure as an error object
    /// (kind, exit code, message, and its problems, at least one for exit codes 4 and 5, each
    /// with kind, table, column, constraint, file, line and hint where known).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ProgressArgs {
    /// No progress lines on stderr (the database line and errors still show).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    /// The demo database to read: a postgres:// URL, a libpq "key=value" string or a database
    /// name, meaning what it means to psql: what it leaves out comes from its service
    /// (service=, PGSERVICE, ~/.pg_service.conf), then PGHOST, PGPORT, PGUSER, PGPASSWORD,
    /// PGDATABASE, PGSSLMODE and the other PG* variables, then ~/.pgpass. TLS follows sslmode
    /// (default prefer); connect_timeout (default 10 s) bounds each host's whole start-up.
    /// Default: the config file's source section.
    #[arg(long, env = "SEEDSNAP_SOURCE", hide_env_values = true)]
    pub source: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SelectionArgs {
    /// Rows to sample per table before backfilling what they reference ("all" for every row).
    /// Default: the config file's limit, else 100.
    #[arg(long, value_parser = parse_limit)]
    pub limit: Option<Limit>,
    /// A per-table limit, as schema.table=N (or =all); repeatable.
    #[arg(long = "table-limit", value_name = "SCHEMA.TABLE=N", value_parser = parse_table_limit)]
    pub table_limits: Vec<(QualifiedName, Limit)>,
    /// Copy a table whole (same as --table-limit schema.table=all); repeatable.
    #[arg(long, value_name = "SCHEMA.TABLE", value_parser = parse_table)]
    pub whole: Vec<QualifiedName>,
    /// Sample only rows of a table meeting a SQL condition, as schema.table=CONDITION
    /// (backfill still brings any row that is referenced); repeatable.
    #[arg(long = "filter", value_name = "SCHEMA.TABLE=CONDITION", value_parser = parse_filter)]
    pub filters: Vec<(QualifiedName, String)>,
    /// A foreign key the database does not declare, as
    /// "child(col, …) -> parent(col, …) [when col = 'value' [and …]]"; a value may name a
    /// lookup row: "when col = lookup_table(col = 'value', …)"; repeatable.
    #[arg(long = "virtual-key", value_name = "KEY")]
    pub virtual_keys: Vec<String>,
    /// Leave a table out (tables that reference it must be left out too); repeatable.
    #[arg(long, value_name = "SCHEMA.TABLE", value_parser = parse_table)]
    pub exclude: Vec<QualifiedName>,
    /// Export only these tables and the tables they need; repeatable.
    #[arg(long, value_name = "SCHEMA.TABLE", value_parser = parse_table)]
    pub only: Vec<QualifiedName>,
    /// Read only these schemas (default: every user schema); repeatable.
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
    /// Mask a column, as schema.table.column=RULE (email, name, first_name, last_name, phone,
    /// text, hash, null, constant:VALUE, keep), or string values inside a json/jsonb column,
    /// as schema.table.column#profile.email=RULE; repeatable, over the config file's
    /// masking.columns. The key comes from the variable the file's masking key_env names
    /// (default SEEDSNAP_MASK_KEY).
    #[arg(long = "mask", value_name = "SCHEMA.TABLE.COLUMN[#PATH]=RULE", value_parser = parse_mask)]
    pub masks: Vec<MaskFlag>,
}

#[derive(Args, Debug, Clone)]
pub struct DirArgs {
    /// The snapshot directory. Default: the config file's dir, else fixtures/snapshot.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// Sessions that read the source at once, all on the export's one snapshot (as pg_dump
    /// -j): each statement and COPY costs a round trip, which a remote source makes slow.
    /// 1 reads everything on one session. Default: one session per 32 tables (a small schema
    /// is read on one), up to 8, or up to two per core of this machine when the source is on
    /// it (a socket or loopback address, under 1 ms away), where the sessions share its cores.
    /// Extra sessions that cannot be opened are named and done without.
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
}

impl ReadArgs {
    /// `--jobs` for [`crate::prepare::ExportOptions::jobs`]: 0 when not given (automatic).
    pub fn jobs(&self) -> usize {
        self.jobs.unwrap_or(0)
    }
}

/// What an export may do to the snapshot it replaces.
#[derive(Args, Debug, Clone)]
pub struct ReplaceArgs {
    /// Replace a snapshot whose manifest lists masked columns even though this export writes
    /// some of them with the source's values (no config file with their rules is in use, or
    /// its rules changed). Without it such an export stops before writing anything
    #[arg(long)]
    pub allow_unmasked: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub replace: ReplaceArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub read: ReadArgs,
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
    /// The same as --format json, as the other commands take it.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// For each row of this table beyond its limit, say which row pulled it in through which
    /// foreign key, down to a sampled row (text or json).
    #[arg(long, value_name = "SCHEMA.TABLE", value_parser = parse_table)]
    pub explain: Option<QualifiedName>,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// The test database to load: a postgres:// URL, a libpq "key=value" string or a database
    /// name (the service file and libpq environment variables fill the gaps, as for
    /// --source). Default: the config file's target section.
    #[arg(long, env = "SEEDSNAP_TARGET", hide_env_values = true)]
    pub target: Option<String>,
    /// A regular expression searched in the target database's name (case-insensitive; it need
    /// not match the whole name: anchor it with ^...$ for that). It replaces the default rule:
    /// test, tests or testing must be a whole word of the name (words split at anything but
    /// letters and digits, where letters meet digits, and at lower-to-upper case changes), and
    /// no word may be prod, production or live. A pattern that matches any name ("", .*, .+)
    /// is refused. Default: the pattern of the config file's target section, else that rule.
    #[arg(long, value_name = "REGEX")]
    pub target_pattern: Option<String>,
    /// Load into a database that the name rule refuses. At a terminal you must also type the
    /// database's name; without one, --yes is required too.
    #[arg(long)]
    pub allow_non_test_target: bool,
    /// Confirm --allow-non-test-target without a terminal.
    #[arg(long)]
    pub yes: bool,
    /// What to do with rows the target holds under a snapshot row's key but with other
    /// content: update them to the snapshot's values and list them (update), leave them as
    /// they are (keep: ON CONFLICT DO NOTHING), or fail and roll back (fail). Rows that no
    /// snapshot row matches are never touched.
    /// Default: the config file's `[target]` on_drift, else update.
    #[arg(long, value_enum, value_name = "update|keep|fail")]
    pub on_drift: Option<crate::import::drift::OnDrift>,
    /// The same as --on-drift=keep (kept for scripts written before --on-drift).
    #[arg(long, hide = true, conflicts_with = "on_drift")]
    pub allow_drift: bool,
    /// Do everything, verify, then roll back: report what would happen. Sequences its
    /// inserts drew from (columns only the target has) are not moved back: they are named,
    /// with how far they moved (sequences_left_advanced in --json).
    #[arg(long)]
    pub dry_run: bool,
    /// Empty the snapshot's tables first, after backing up their contents to a new
    /// timestamped snapshot directory (restorable with `seedsnap import`). A migration tool's
    /// bookkeeping table that records migrations in the target is neither emptied nor loaded:
    /// it describes the target's own schema.
    #[arg(long)]
    pub truncate_first: bool,
    /// Where --truncate-first writes its backups.
    #[arg(long, default_value = ".seedsnap/backups")]
    pub backup_dir: PathBuf,
    /// Let the target's user triggers run while rows load. By default they are held off
    /// (disabled inside the import's transaction, enabled again before it commits), which
    /// needs ownership of the tables; rows a trigger makes that equal snapshot rows count as
    /// already present.
    #[arg(long)]
    pub fire_triggers: bool,
    /// A directory of hand-added rows (one TSV per table, named and formatted like the
    /// snapshot's files) merged into the snapshot and verified with it. Default: the config
    /// file's overlay.
    #[arg(long, value_name = "DIR")]
    pub overlay: Option<PathBuf>,
    /// Leave a table (schema.table) or a column (schema.table.column) of the snapshot out,
    /// e.g. one a migration dropped from the target; repeatable, added to the config file's
    /// skip_missing. The snapshot's foreign keys using it are not verified against the snapshot
    /// (each is named in a warning); a key the target declares is still enforced.
    #[arg(long, value_name = "NAME", value_parser = parse_skip)]
    pub skip_missing: Vec<crate::snapshot::skip::SkipItem>,
    /// How long to wait for a lock on a target table before giving up, in whole seconds (0:
    /// no limit). Giving up names the sessions that hold the table.
    #[arg(long, default_value_t = 30)]
    pub lock_timeout: u64,
    /// How rows reach tables loaded straight from their files: auto (COPY, except that
    /// files small enough to gain go as batched INSERT statements when a round trip to the
    /// target takes 1 ms or more, as to a database in the cloud), copy, or insert (batched
    /// INSERTs for every file under 4 MB). The values stored are the same either way.
    #[arg(
        long,
        value_enum,
        value_name = "auto|copy|insert",
        default_value = "auto"
    )]
    pub load_via: crate::import::batched_rows::LoadVia,
}

impl TargetArgs {
    pub fn to_options(&self, config: Option<&Config>) -> crate::import::ImportOptions {
        let pattern = self
            .target_pattern
            .clone()
            .or_else(|| config?.file.target.as_ref()?.get_ref().pattern.clone());
        crate::import::ImportOptions {
            guard: crate::safety::GuardOptions {
                pattern,
                allow_non_test_target: self.allow_non_test_target,
                yes: self.yes,
            },
            on_drift: if self.allow_drift {
                crate::import::drift::OnDrift::Keep
            } else {
                self.on_drift
                    .or_else(|| config?.file.target.as_ref()?.get_ref().on_drift)
                    .unwrap_or_default()
            },
            dry_run: self.dry_run,
            truncate_first: self.truncate_first,
            fire_triggers: self.fire_triggers,
            lock_timeout_seconds: self.lock_timeout,
            backup_root: self.backup_dir.clone(),
            overlay: self.overlay.clone().or_else(|| config?.overlay()),
            skip_missing: config
                .map(|c| c.skip_missing())
                .unwrap_or_default()
                .into_iter()
                .chain(self.skip_missing.iter().cloned())
                .collect(),
            skip_missing_in_config: config
                .map(|c| c.skip_missing_origins())
                .unwrap_or_default()
                .into_iter()
                .filter(|(item, _)| !self.skip_missing.contains(item))
                .collect(),
            load_via: self.load_via,
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
    pub replace: ReplaceArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Check this overlay of hand-added rows with the snapshot, as an import would. Default:
    /// the config file's overlay.
    #[arg(long, value_name = "DIR")]
    pub overlay: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct SealArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `--jobs`: 1 to 64 sessions.
fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(jobs @ 1..=64) => Ok(jobs),
        _ => Err(format!("{text:?} is not a number of sessions from 1 to 64")),
    }
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

fn parse_skip(text: &str) -> Result<crate::snapshot::skip::SkipItem, String> {
    crate::snapshot::skip::SkipItem::parse(text)
}

fn parse_table(text: &str) -> Result<QualifiedName, String> {
    QualifiedName::parse(text).ok_or_else(|| format!("{text:?} is not a table name (schema.table)"))
}

fn parse_filter(text: &str) -> Result<(QualifiedName, String), String> {
    let (table, condition) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not schema.table=CONDITION"))?;
    if condition.trim().is_empty() {
        return Err(format!("{text:?} has an empty condition"));
    }
    Ok((parse_table(table.trim())?, condition.to_string()))
}

/// `--mask schema.table.column[#json.path]=RULE`.
type MaskFlag = (
    crate::masking::ColumnName,
    Option<crate::masking::JsonPath>,
    crate::masking::Rule,
);

fn parse_mask(text: &str) -> Result<MaskFlag, String> {
    let (target, rule) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not schema.table.column=RULE"))?;
    let (column, path) = crate::masking::parse_target(target)?;
    Ok((column, path, crate::masking::Rule::parse(rule)?))
}

fn parse_table_limit(text: &str) -> Result<(QualifiedName, Limit), String> {
    let (table, limit) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not schema.table=N"))?;
    Ok((parse_table(table)?, parse_limit(limit)?))
}

impl SelectionArgs {
    /// The export options: these flags merged over the config file (see [`crate::config`]).
    /// A virtual key given as a flag that does not parse is a usage error.
    pub fn to_options(&self, config: Option<&Config>) -> anyhow::Result<ExportOptions> {
        let mut options = ExportOptions {
            limit: self
                .limit
                .or_else(|| config.and_then(|c| c.file.limit.map(|l| l.0)))
                .unwrap_or(Some(DEFAULT_LIMIT)),
            only: self.only.clone(),
            ..ExportOptions::default()
        };
        options.schemas = if self.schemas.is_empty() {
            config
                .and_then(|c| c.file.schemas.clone())
                .unwrap_or_default()
        } else {
            self.schemas.clone()
        };
        if let Some(config) = config {
            options.origins = config.table_origins();
            options.table_limits = config.table_limits();
            options.exclude = config.exclude();
            options.filters = config.filters();
            options.virtual_keys = config.virtual_keys.clone();
        }
        options.masking = config.map_or_else(
            || crate::masking::MaskingOptions {
                key_env: crate::masking::DEFAULT_KEY_ENV.to_string(),
                ..Default::default()
            },
            Config::masking,
        );
        options.masking.enabled |= !self.masks.is_empty();
        options
            .masking
            .rules
            .extend(
                self.masks
                    .iter()
                    .map(|(column, path, rule)| crate::masking::RuleSetting {
                        column: column.clone(),
                        json_path: path.clone(),
                        rule: rule.clone(),
                        origin: "--mask".to_string(),
                    }),
            );
        options
            .table_limits
            .extend(self.whole.iter().map(|t| (t.clone(), None)));
        options
            .table_limits
            .extend(self.table_limits.iter().cloned());
        for table in self
            .whole
            .iter()
            .chain(self.table_limits.iter().map(|(t, _)| t))
        {
            options
                .origins
                .remove(&(TableSetting::TableLimit, table.clone()));
        }
        options.exclude.extend(self.exclude.iter().cloned());
        for table in &self.exclude {
            options
                .origins
                .remove(&(TableSetting::Exclude, table.clone()));
        }
        options.filters.extend(self.filters.iter().cloned());
        for (table, _) in &self.filters {
            options
                .origins
                .remove(&(TableSetting::Filter, table.clone()));
        }
        for text in &self.virtual_keys {
            let mut spec = crate::virtual_keys::parse(text)
                .map_err(|e| failure(ExitKind::Usage, format!("--virtual-key {text:?}: {e}")))?;
            spec.origin = "--virtual-key".to_string();
            options.virtual_keys.push(spec);
        }
        Ok(options)
    }
}

/// The default rows sampled per table.
pub const DEFAULT_LIMIT: u64 = 100;

/// The default snapshot directory.
pub const DEFAULT_DIR: &str = "fixtures/snapshot";

impl DirArgs {
    /// `--dir`, else the config file's dir, else the default (beside a config file found in a
    /// parent directory, else in the current one).
    pub fn resolve(&self, config: Option<&Config>) -> PathBuf {
        self.dir
            .clone()
            .or_else(|| config?.dir())
            .or_else(|| Some(config?.default_dir(DEFAULT_DIR)))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
    }
}

/// A database URL: the flag (or its environment variable), else the config file's entry.
pub fn database_url(
    flag: Option<&str>,
    which: Side,
    config: Option<&Config>,
    env: &dyn crate::connection::Environment,
) -> anyhow::Result<String> {
    if let Some(url) = flag {
        return Ok(url.to_string());
    }
    if let Some(url) = config.map(|c| c.url(which, env)).transpose()?.flatten() {
        return Ok(url);
    }
    let variable = which.variable();
    Err(failure(
        ExitKind::Usage,
        format!(
            "no {which} database: give --{which}, set {variable}, or add [{which}] to {}",
            config.map_or_else(
                || crate::config::FILE_NAME.to_string(),
                |c| c.path.display().to_string()
            )
        ),
    ))
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
