//! seedsnap: seed a PostgreSQL test database from a demo database.
//!
//! The modules, one concern each, each layer importing only those below it:
//! - `main` (dispatch) over [`cli`] (the command line, which builds each command's options)
//!   over the commands: [`export`], [`plan`], [`import`], [`refresh`], [`verify`], [`seal`],
//!   [`check_config`] (`refresh` runs `export` and `import`);
//! - [`prepare`]: the options, their checks against the source, scope and selection that
//!   `export` and `plan` share; [`session`]: the source and target sessions;
//!   [`readers`]: the export's parallel sessions on one shared snapshot;
//! - [`safety`]: deciding whether a target may be written;
//! - [`selection`]: sampling and foreign-key backfill; [`compact`]: the compact sets it and
//!   the snapshot's key check keep per row; [`key_text`]: which foreign keys' equal values
//!   print alike;
//! - [`config`]: the config file; [`virtual_keys`]: keys the database does not declare;
//!   [`masking`]: masking personal data between the source's COPY and the file;
//!   [`lookup_values`]: `when` values that name a row of a lookup table;
//! - [`snapshot`]: the directory format (TSV files in COPY text, manifest);
//! - [`graph`]: the dependency graph, cycles, and the stable load order;
//! - [`connection`]: resolving connection strings like libpq, pinned session settings;
//! - [`catalog`]: tables, columns, keys and foreign keys from `pg_catalog`;
//! - [`partition_keys`]: foreign keys declared on single partitions, and the rows they cover;
//! - [`report`]: progress lines and bars, summaries; [`problem`]: located problems, reported
//!   all at once; [`error`]: failure kinds and exit codes;
//! - [`migrations`]: which migration a database is at, per migration tool.

pub mod catalog;
pub mod check_config;
pub mod cli;
pub mod compact;
pub mod config;
pub mod connection;
pub mod error;
pub mod export;
pub mod graph;
pub mod import;
pub mod interrupt;
pub mod key_text;
pub mod lookup_values;
pub mod masking;
pub mod migrations;
pub mod partition_keys;
pub mod plan;
pub mod prepare;
pub mod problem;
pub mod readers;
pub mod refresh;
pub mod report;
pub mod safety;
pub mod seal;
pub mod selection;
pub mod session;
pub mod snapshot;
pub mod verify;
pub mod virtual_keys;
