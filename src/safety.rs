//! Deciding whether a database may be written.
//!
//! seedsnap changes a target only when it is unmistakably a test database:
//! - its name must match `--target-pattern` (default `test`, case-insensitive). Overriding that
//!   takes `--allow-non-test-target` and, at a terminal, typing the database's name; without a
//!   terminal the flag alone is refused unless `--yes` is given too;
//! - it must not be the database the snapshot was exported from (same cluster system identifier
//!   and database name). That check has no override.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Result;
use regex::RegexBuilder;

use crate::error::{failure, ExitKind};
use crate::snapshot::manifest::{SnapshotKind, SourceInfo};

#[derive(Debug, Clone)]
pub struct GuardOptions {
    pub pattern: String,
    pub allow_non_test_target: bool,
    pub yes: bool,
}

/// What the name guard decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameDecision {
    Allowed,
    /// Allowed once the user types the database's name.
    NeedsTypedName,
    Refused(String),
}

/// The name guard as a pure function of its inputs.
pub fn decide_name(dbname: &str, options: &GuardOptions, terminal: bool) -> Result<NameDecision> {
    let pattern = RegexBuilder::new(&options.pattern)
        .case_insensitive(true)
        .build()
        .map_err(|e| {
            failure(
                ExitKind::BadInput,
                format!(
                    "--target-pattern {:?} is not a valid regular expression: {e}",
                    options.pattern
                ),
            )
        })?;
    if pattern.is_match(dbname) {
        return Ok(NameDecision::Allowed);
    }
    let why = format!(
        "the target database {dbname:?} does not look like a test database (its name does not \
         match --target-pattern {:?})",
        options.pattern
    );
    Ok(if !options.allow_non_test_target {
        NameDecision::Refused(format!(
            "{why}. Nothing was written. Point --target at a test database, or if you are sure, \
             pass --allow-non-test-target and confirm."
        ))
    } else if terminal {
        NameDecision::NeedsTypedName
    } else if options.yes {
        NameDecision::Allowed
    } else {
        NameDecision::Refused(format!(
            "{why}, and there is no terminal to confirm --allow-non-test-target on: add --yes \
             as well. Nothing was written."
        ))
    })
}

/// Applies the name guard, asking at the terminal when needed.
pub fn check_name(dbname: &str, display: &str, options: &GuardOptions) -> Result<()> {
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    match decide_name(dbname, options, terminal)? {
        NameDecision::Allowed => Ok(()),
        NameDecision::Refused(reason) => Err(failure(ExitKind::Refused, reason)),
        NameDecision::NeedsTypedName => {
            eprint!(
                "seedsnap: {display} does not look like a test database.\n\
                 seedsnap: type its name ({dbname}) to let seedsnap change it: "
            );
            std::io::stderr().flush()?;
            let mut typed = String::new();
            std::io::stdin().lock().read_line(&mut typed)?;
            if typed.trim_end_matches(['\n', '\r']) == dbname {
                Ok(())
            } else {
                Err(failure(
                    ExitKind::Refused,
                    format!("the name typed does not match {dbname:?}; nothing was written"),
                ))
            }
        }
    }
}

/// Refuses a target that is the very database a snapshot was exported from.
pub fn check_not_source(
    target: &SourceInfo,
    snapshot_source: &SourceInfo,
    kind: SnapshotKind,
) -> Result<()> {
    if kind == SnapshotKind::Backup {
        // A backup goes back where it came from.
        return Ok(());
    }
    if target.system_identifier == snapshot_source.system_identifier
        && target.database == snapshot_source.database
    {
        return Err(failure(
            ExitKind::Refused,
            format!(
                "the target is the database the snapshot was exported from ({} on the cluster \
                 with system identifier {}); seedsnap never writes to its source. Check the \
                 target URL (a cached setting pointing \"test\" at \"demo\"?). Nothing was written.",
                target.database, target.system_identifier
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(allow: bool, yes: bool) -> GuardOptions {
        GuardOptions {
            pattern: "test".into(),
            allow_non_test_target: allow,
            yes,
        }
    }

    #[test]
    fn test_names_pass() {
        for name in ["app_test", "TEST_db", "testing", "seedsnap_test"] {
            assert_eq!(
                decide_name(name, &options(false, false), false).unwrap(),
                NameDecision::Allowed
            );
        }
    }

    #[test]
    fn other_names_need_the_flag_and_a_confirmation() {
        assert!(matches!(
            decide_name("demo", &options(false, true), true).unwrap(),
            NameDecision::Refused(_)
        ));
        assert_eq!(
            decide_name("demo", &options(true, false), true).unwrap(),
            NameDecision::NeedsTypedName
        );
        // --yes does not replace typing at a terminal.
        assert_eq!(
            decide_name("demo", &options(true, true), true).unwrap(),
            NameDecision::NeedsTypedName
        );
        assert!(matches!(
            decide_name("demo", &options(true, false), false).unwrap(),
            NameDecision::Refused(_)
        ));
        assert_eq!(
            decide_name("demo", &options(true, true), false).unwrap(),
            NameDecision::Allowed
        );
    }

    #[test]
    fn bad_pattern_is_bad_input() {
        let mut o = options(false, false);
        o.pattern = "(".into();
        assert!(decide_name("x", &o, false).is_err());
    }

    #[test]
    fn same_database_is_refused_unless_backup() {
        let a = SourceInfo {
            system_identifier: "1".into(),
            database: "demo".into(),
            server_version: "15".into(),
        };
        let mut b = a.clone();
        assert!(check_not_source(&a, &b, SnapshotKind::Export).is_err());
        assert!(check_not_source(&a, &b, SnapshotKind::Backup).is_ok());
        b.database = "demo_test".into();
        assert!(check_not_source(&a, &b, SnapshotKind::Export).is_ok());
        b.database = "demo".into();
        b.system_identifier = "2".into();
        assert!(check_not_source(&a, &b, SnapshotKind::Export).is_ok());
    }
}
