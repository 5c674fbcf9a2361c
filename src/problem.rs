//! One thing wrong with the input, and the one way a list of them becomes an error.
//!
//! Every producer that reports all its problems at once — the config file, the virtual keys,
//! the option and scope checks, the masking rules, the snapshot reader and the import's schema
//! match — returns a `Vec<Problem>`. Each problem carries where it is: a setting (a config
//! file's `path:line`, or the flag that carried it), or a file with its line and column. A
//! command turns the list into an error with [`into_error`] (or [`check`]): a heading, then
//! one problem a line, the first [`SHOWN`] of them.

use std::fmt;

use crate::error::{failure, ExitKind};

/// How many problems an error lists; the rest are counted.
pub const SHOWN: usize = 50;

/// Where a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Nowhere more precise than the message says.
    Unplaced,
    /// A setting: where it was written (`seedsnap.toml:3`, `seedsnap.toml:3 (exclude)`) or the
    /// flag that carried it (`--filter`).
    Setting(String),
    /// A file (a snapshot's), with the line and column when known.
    File {
        file: String,
        line: Option<u64>,
        column: Option<String>,
    },
}

/// One thing wrong, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Location,
    pub message: String,
}

impl Problem {
    /// A problem with no more precise place than its message.
    pub fn unplaced(message: impl Into<String>) -> Problem {
        Problem {
            at: Location::Unplaced,
            message: message.into(),
        }
    }

    /// A problem with a setting, written at `origin` (unplaced when `origin` is empty).
    pub fn setting(origin: &str, message: impl Into<String>) -> Problem {
        Problem {
            at: if origin.is_empty() {
                Location::Unplaced
            } else {
                Location::Setting(origin.to_string())
            },
            message: message.into(),
        }
    }

    /// A problem in a file, at a line and column when known.
    pub fn in_file(
        file: impl Into<String>,
        line: Option<u64>,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            at: Location::File {
                file: file.into(),
                line,
                column: column.map(str::to_string),
            },
            message: message.into(),
        }
    }

    /// The file a problem is in, if it is in one.
    pub fn file(&self) -> Option<&str> {
        match &self.at {
            Location::File { file, .. } => Some(file),
            _ => None,
        }
    }

    /// The line a problem is on, if it is in a file and the line is known.
    pub fn line(&self) -> Option<u64> {
        match &self.at {
            Location::File { line, .. } => *line,
            _ => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Location::Unplaced => {}
            Location::Setting(origin) => write!(f, "{origin}: ")?,
            Location::File { file, line, column } => {
                write!(f, "{file}")?;
                if let Some(line) = line {
                    write!(f, " line {line}")?;
                }
                if let Some(column) = column {
                    write!(f, ", column {column:?}")?;
                }
                f.write_str(": ")?;
            }
        }
        f.write_str(&self.message)
    }
}

/// In `--json` output a problem is its one line of text, as printed.
impl serde::Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a setting is, for its problems: `seedsnap.toml:4: virtual foreign key "…": <message>`.
#[derive(Debug, Clone)]
pub struct Subject {
    origin: String,
    what: Option<String>,
}

impl Subject {
    /// `what` (say `virtual foreign key "a.b(c) -> d.e(f)"`) written at `origin` (may be empty).
    pub fn new(origin: &str, what: impl Into<String>) -> Subject {
        Subject {
            origin: origin.to_string(),
            what: Some(what.into()),
        }
    }

    /// A setting that its origin names well enough: `--filter`, `seedsnap.toml:3 (exclude)`.
    pub fn at(origin: &str) -> Subject {
        Subject {
            origin: origin.to_string(),
            what: None,
        }
    }

    /// A problem with this subject.
    pub fn problem(&self, message: impl fmt::Display) -> Problem {
        match &self.what {
            Some(what) => Problem::setting(&self.origin, format!("{what}: {message}")),
            None => Problem::setting(&self.origin, message.to_string()),
        }
    }
}

/// One error of the given kind: the heading, then the problems one a line (the first
/// [`SHOWN`]; the rest counted).
pub fn into_error(
    kind: ExitKind,
    heading: impl fmt::Display,
    problems: &[Problem],
) -> anyhow::Error {
    let mut text = format!("{heading}");
    for problem in problems.iter().take(SHOWN) {
        text.push_str(&format!("\n  - {problem}"));
    }
    if problems.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more", problems.len() - SHOWN));
    }
    failure(kind, text)
}

/// `Ok` when there are no problems, else [`into_error`].
pub fn check(
    kind: ExitKind,
    heading: impl fmt::Display,
    problems: &[Problem],
) -> anyhow::Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(into_error(kind, heading, problems))
    }
}

/// [`check`] under the heading `heading (N problem(s)):`, as the snapshot's readers say it.
pub fn check_counted(kind: ExitKind, heading: &str, problems: &[Problem]) -> anyhow::Result<()> {
    check(kind, counted(heading, problems), problems)
}

/// `heading (N problem(s)):` — the heading the snapshot reader and the import use.
pub fn counted(heading: &str, problems: &[Problem]) -> String {
    format!("{heading} ({} problem(s)):", problems.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_location_prints_as_before() {
        assert_eq!(Problem::unplaced("x").to_string(), "x");
        assert_eq!(Problem::setting("", "x").to_string(), "x");
        assert_eq!(Problem::setting("--filter", "x").to_string(), "--filter: x");
        assert_eq!(
            Problem::in_file("a.tsv", Some(3), Some("id"), "bad").to_string(),
            "a.tsv line 3, column \"id\": bad"
        );
        assert_eq!(
            Problem::in_file("a.tsv", None, None, "bad").to_string(),
            "a.tsv: bad"
        );
        let subject = Subject::new("s.toml:4", "virtual foreign key \"k\"");
        assert_eq!(
            subject.problem("no table x").to_string(),
            "s.toml:4: virtual foreign key \"k\": no table x"
        );
    }

    #[test]
    fn an_error_lists_the_first_problems_and_counts_the_rest() {
        let problems: Vec<Problem> = (0..SHOWN + 2)
            .map(|i| Problem::unplaced(format!("p{i}")))
            .collect();
        let text = into_error(ExitKind::BadInput, "h:", &problems).to_string();
        assert!(text.starts_with("h:\n  - p0\n  - p1\n"), "{text}");
        assert!(text.ends_with("\n  … and 2 more"), "{text}");
        assert_eq!(
            crate::error::exit_kind(&into_error(ExitKind::BadInput, "h", &problems)),
            ExitKind::BadInput
        );
        assert!(check(ExitKind::BadInput, "h", &[]).is_ok());
    }
}
