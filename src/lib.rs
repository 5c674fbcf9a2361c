//! seedsnap: seed a PostgreSQL test database from a demo database.
//!
//! The modules, one concern each:
//! - [`connection`]: resolving connection strings like libpq, pinned session settings;
//! - [`catalog`]: tables, columns, keys and foreign keys from `pg_catalog`;
//! - [`graph`]: the dependency graph, cycles, and the stable load order;
//! - [`selection`]: sampling and foreign-key backfill;
//! - [`snapshot`]: the directory format (TSV files in COPY text, manifest);
//! - [`export`], [`plan`], [`import`], [`verify`]: the commands;
//! - [`safety`]: deciding whether a target may be written;
//! - [`report`]: progress lines, summaries, JSON;
//! - [`error`]: failure kinds and exit codes; [`cli`]: the command line.

pub mod catalog;
pub mod check_config;
pub mod cli;
pub mod config;
pub mod connection;
pub mod error;
pub mod export;
pub mod graph;
pub mod import;
pub mod plan;
pub mod prepare;
pub mod refresh;
pub mod report;
pub mod safety;
pub mod selection;
pub mod session;
pub mod snapshot;
pub mod verify;
pub mod virtual_keys;
