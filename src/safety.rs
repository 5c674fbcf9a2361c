//! Deciding whether a database may be written.
//!
//! seedsnap changes a target only when it is unmistakably a test database:
//! - by default, `test`, `tests` or `testing` must be a whole word of its name (words are split
//!   at anything but letters and digits, where letters meet digits, and where a lower-case
//!   letter meets an upper-case one: `prod2_test` holds the word `prod`),
//!   and no word may be a production word (`prod`, `production`, `live`). A team with another
//!   convention gives `--target-pattern`, a regular expression searched in the name
//!   (case-insensitive; anchor it with `^…$` to match the whole name), which then decides alone.
//!   Overriding the rule takes `--allow-non-test-target` and, at a terminal, typing the
//!   database's name; without a terminal the flag alone is refused unless `--yes` is given too;
//! - it must not be the database the snapshot was exported from (same cluster system identifier
//!   and database name). That check has no override. The identifier is known where the
//!   snapshot was exported (a git-ignored file beside it) and in `refresh`, which compares the
//!   live source with the target; for a snapshot pulled from git without that file, the name
//!   rule is the guard.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Result;
use regex::RegexBuilder;

use crate::error::{failure, ExitKind};
use crate::snapshot::manifest::{SnapshotKind, SourceInfo};

#[derive(Debug, Clone)]
pub struct GuardOptions {
    /// `--target-pattern` (or the config file's); `None` applies the default word rule.
    pub pattern: Option<String>,
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

/// Words that make a name a test database's under the default rule.
pub const TEST_WORDS: &[&str] = &["test", "tests", "testing"];
/// Words that keep a name from qualifying under the default rule, whatever else it holds.
pub const PRODUCTION_WORDS: &[&str] = &["prod", "production", "live"];

/// The words of a database name: split at every character that is not a letter or a digit,
/// where letters meet digits (`prod2` is `prod`, `2`: a number never hides a production word),
/// and where a lower-case letter is followed by an upper-case one (`AppTest` is `App`, `Test`).
pub fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        let boundary = previous.is_some_and(|p| {
            p.is_numeric() != c.is_numeric() || (p.is_lowercase() && c.is_uppercase())
        });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Why the name rule took or refused a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameVerdict {
    /// The default rule: this word is a test word.
    TestWord(String),
    /// The default rule: this word is a production word, which no test word outweighs.
    ProductionWord(String),
    /// The default rule: no word is a test word; the words it has.
    NoTestWord(Vec<String>),
    /// `--target-pattern` matched.
    PatternMatched,
    /// `--target-pattern` did not match.
    PatternMissed,
}

impl NameVerdict {
    pub fn qualifies(&self) -> bool {
        matches!(self, NameVerdict::TestWord(_) | NameVerdict::PatternMatched)
    }
}

/// The default rule's verdict on a name: a production word refuses, then a test word allows.
pub fn default_verdict(dbname: &str) -> NameVerdict {
    let words: Vec<String> = words(dbname).iter().map(|w| w.to_lowercase()).collect();
    let find = |list: &[&str]| words.iter().find(|w| list.contains(&w.as_str())).cloned();
    if let Some(word) = find(PRODUCTION_WORDS) {
        NameVerdict::ProductionWord(word)
    } else if let Some(word) = find(TEST_WORDS) {
        NameVerdict::TestWord(word)
    } else {
        NameVerdict::NoTestWord(words)
    }
}

/// Names no test-database pattern may match all of: a pattern that does (`""` from an unset
/// variable, `.*`, `.+`, `|`, `\w`) matches any name, production's included.
const NOT_TEST_NAMES: [&str; 5] = ["demo", "prod", "production", "app", "x"];

/// Whether `regex` matches every one of the names no test-database pattern may match all of.
pub fn matches_every_sample(regex: &regex::Regex) -> bool {
    NOT_TEST_NAMES.iter().all(|name| regex.is_match(name))
}

/// Why such a pattern is refused: the guard would let any database through.
pub fn matches_every_name(pattern: &str) -> String {
    format!(
        "the target pattern \"{pattern}\" matches any database name ({}), so it would let any \
         database through the guard (an unset variable in --target-pattern \"$VAR\"?): name \
         what your test databases are called, e.g. ^qa_, or leave the pattern out for the \
         default rule",
        NOT_TEST_NAMES.join(", ")
    )
}

/// The verdict of the rule in force: `pattern` (searched, case-insensitive) or the default.
/// A pattern that matches every name is refused (see [`matches_every_name`]).
pub fn name_verdict(dbname: &str, pattern: Option<&str>) -> Result<NameVerdict> {
    let Some(pattern) = pattern else {
        return Ok(default_verdict(dbname));
    };
    let regex = RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .map_err(|e| {
            crate::problem::refuse(
                ExitKind::BadInput,
                crate::problem::Problem::setting(
                    "--target-pattern",
                    format!("{pattern:?} is not a valid regular expression: {e}"),
                ),
            )
        })?;
    if matches_every_sample(&regex) {
        return Err(crate::problem::refuse(
            ExitKind::BadInput,
            crate::problem::Problem::setting("--target-pattern", matches_every_name(pattern)),
        ));
    }
    Ok(if regex.is_match(dbname) {
        NameVerdict::PatternMatched
    } else {
        NameVerdict::PatternMissed
    })
}

/// Why a name does not qualify, naming the word or the pattern that decided it.
fn refusal_reason(dbname: &str, verdict: &NameVerdict, pattern: Option<&str>) -> String {
    let detail = match verdict {
        NameVerdict::ProductionWord(word) => format!(
            "its name holds the production word \"{word}\", and a production word is never \
             taken for a test database by default"
        ),
        NameVerdict::NoTestWord(words) => format!(
            "none of its words ({}) is test, tests or testing",
            words.join(", ")
        ),
        NameVerdict::PatternMissed => format!(
            "its name does not match --target-pattern {:?}",
            pattern.unwrap_or_default()
        ),
        NameVerdict::TestWord(_) | NameVerdict::PatternMatched => String::new(),
    };
    format!("the target database {dbname:?} does not look like a test database: {detail}")
}

/// The name guard as a pure function of its inputs.
pub fn decide_name(dbname: &str, options: &GuardOptions, terminal: bool) -> Result<NameDecision> {
    let verdict = name_verdict(dbname, options.pattern.as_deref())?;
    if verdict.qualifies() {
        return Ok(NameDecision::Allowed);
    }
    let why = refusal_reason(dbname, &verdict, options.pattern.as_deref());
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
            "{why}; and there is no terminal to confirm --allow-non-test-target on: add --yes \
             as well. Nothing was written."
        ))
    })
}

/// The name guard on the name a connection string asks for, before any connection or read: a
/// name the guard refuses outright never gets a session. A name that needs
/// `--allow-non-test-target` and a confirmation is judged after connecting, on the name the
/// server reports, where [`check_name`] asks for it.
pub fn check_name_before_connecting(dbname: &str, options: &GuardOptions) -> Result<()> {
    if options.allow_non_test_target {
        return Ok(());
    }
    match decide_name(dbname, options, false)? {
        NameDecision::Refused(reason) => Err(failure(ExitKind::Refused, reason)),
        NameDecision::Allowed | NameDecision::NeedsTypedName => Ok(()),
    }
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
    if kind == SnapshotKind::Backup || snapshot_source.system_identifier.is_empty() {
        // A backup goes back where it came from; an unknown cluster cannot be compared.
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
            pattern: None,
            allow_non_test_target: allow,
            yes,
        }
    }

    #[test]
    fn the_default_rule_takes_whole_test_words_only() {
        use NameVerdict::*;
        let w = |s: &str| TestWord(s.to_string());
        let p = |s: &str| ProductionWord(s.to_string());
        let none = |list: &[&str]| NoTestWord(list.iter().map(|s| s.to_string()).collect());
        let table = [
            ("app_test", w("test")),
            ("test_app", w("test")),
            ("myapp-test", w("test")),
            ("AppTest", w("test")),
            ("TEST_db", w("test")),
            ("testing", w("testing")),
            ("app.tests.2", w("tests")),
            ("seedsnap_test_123_4", w("test")),
            ("latest", none(&["latest"])),
            ("contest", none(&["contest"])),
            ("attestation", none(&["attestation"])),
            ("test1", w("test")),
            ("app_test2", w("test")),
            ("rv_prod2_test", p("prod")),
            ("live1_test", p("live")),
            ("test_v2live", p("live")),
            ("latest2", none(&["latest", "2"])),
            ("demo", none(&["demo"])),
            ("", none(&[])),
            ("prod_latest", p("prod")),
            ("prod_test", p("prod")),
            ("test_production", p("production")),
            ("LiveTest", p("live")),
            ("app_live_testing", p("live")),
            ("productive_test", w("test")),
        ];
        for (name, expected) in table {
            assert_eq!(default_verdict(name), expected, "{name}");
            assert_eq!(
                decide_name(name, &options(false, false), false).unwrap() == NameDecision::Allowed,
                expected.qualifies(),
                "{name}"
            );
        }
    }

    #[test]
    fn the_refusal_names_the_deciding_word() {
        let NameDecision::Refused(why) =
            decide_name("prod_test", &options(false, false), false).unwrap()
        else {
            panic!("prod_test must be refused");
        };
        assert!(why.contains("production word \"prod\""), "{why}");
        let NameDecision::Refused(why) =
            decide_name("latest", &options(false, false), false).unwrap()
        else {
            panic!("latest must be refused");
        };
        assert!(
            why.contains("(latest)") && why.contains("does not look like a test"),
            "{why}"
        );
    }

    #[test]
    fn a_pattern_replaces_the_default_rule_and_is_searched() {
        let mut o = options(false, false);
        o.pattern = Some("^qa_".into());
        assert_eq!(
            decide_name("QA_copy", &o, false).unwrap(),
            NameDecision::Allowed
        );
        assert!(matches!(
            decide_name("app_test", &o, false).unwrap(),
            NameDecision::Refused(why) if why.contains("--target-pattern \"^qa_\"")
        ));
        // A team's pattern decides alone, production words included.
        o.pattern = Some("live".into());
        assert_eq!(
            decide_name("live_copy", &o, false).unwrap(),
            NameDecision::Allowed
        );
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
        o.pattern = Some("(".into());
        assert!(decide_name("x", &o, false).is_err());
    }

    #[test]
    fn a_pattern_that_matches_every_name_is_refused() {
        let mut o = options(false, false);
        for every in ["", ".*", "|", "^", "x?", "(?:qa)*", ".+", "\\w", "."] {
            o.pattern = Some(every.into());
            let error = decide_name("demo", &o, false).unwrap_err();
            assert_eq!(crate::error::exit_kind(&error), ExitKind::BadInput);
            assert!(format!("{error:#}").contains("matches any database name"));
        }
        // A pattern that matches no name refuses every target: safe, and not this error.
        o.pattern = Some("^$".into());
        assert!(matches!(
            decide_name("demo", &o, false).unwrap(),
            NameDecision::Refused(_)
        ));
        o.pattern = Some("^qa_".into());
        assert!(decide_name("qa_app", &o, false).is_ok());
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
