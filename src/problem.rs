//! One thing wrong with the input, and the one way a list of them becomes an error.
//!
//! Every producer that reports all its problems at once — the config file, the virtual keys,
//! the option and scope checks, the masking rules, the snapshot reader and the import's schema
//! match — returns a `Vec<Problem>`. Each problem carries where it is: a setting (a config
//! file's `path:line`, or the flag that carried it), or a file with its line and column; what
//! kind of problem it is ([`ProblemKind`]), and, where known, its table, its constraint, a
//! second place it involves (a duplicate key's first row) and what to do (its hint). A command
//! turns the list into an error with [`into_error`] (or [`check`]): a heading, then one problem
//! a line, the first [`SHOWN`] of them. A refusal that is one problem is [`refuse`]d.
//!
//! The error keeps the problems: with `--json` a failure's error object lists them, each one
//! an object with its fields ([`Problem::to_json`]), beside the message.

use std::fmt;

use serde::Serialize;

use crate::error::{ExitKind, Failure};

/// How many problems an error lists; the rest are counted.
pub const SHOWN: usize = 50;

/// What kind of problem it is: the `kind` of a problem object in `--json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A setting: the config file, a flag, a virtual key, a filter, a masking rule, an option.
    Setting,
    /// The snapshot's `manifest.json`.
    Manifest,
    /// A data file of the snapshot or the overlay: unreadable, not listed, its header, a
    /// line's format, its row count, its checksum.
    File,
    /// A value its column's type refuses.
    InvalidValue,
    /// NULL in a row key's column.
    NullKey,
    /// Two rows with one key (compared as PostgreSQL compares them).
    DuplicateKey,
    /// A foreign-key value with no parent row in the snapshot (seal; an import's overlay).
    UnresolvedForeignKey,
    /// The target's schema does not match the snapshot's.
    SchemaMismatch,
    /// A snapshot value the target's column does not take.
    RefusedValue,
    /// A constraint of the target refuses snapshot rows (foreign key, unique, check, NOT NULL).
    ConstraintViolation,
    /// A drifted row of the target that cannot be brought back to the snapshot's values.
    DriftRepair,
    /// A row of the target holding other content than the snapshot's under its key, which
    /// `--on-drift=fail` refuses.
    Drift,
    /// A sequence of the target has no room for the snapshot's values.
    Sequence,
    /// The target's triggers or session settings, which the import may not change.
    Target,
    /// The source refuses the export (privileges, row-level security, keys that cannot be
    /// resolved, masked values its types refuse).
    Source,
    /// A connection setting.
    Connection,
    /// The snapshot or overlay directory itself (not a directory, not a snapshot, changed).
    Directory,
    /// Nothing more precise than the message.
    Other,
}

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
    /// What is wrong, without the place (printed before it) and the hint (printed after it).
    pub message: String,
    pub kind: ProblemKind,
    /// What else is known about it (boxed: a problem travels in `Result`s of every row).
    pub about: Box<About>,
}

/// What is known about a problem besides its place and message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct About {
    /// The table (`schema.name`) it is about, when one.
    pub table: Option<String>,
    /// The column it is about when the place is not a file's (a file's is in [`Location::File`]).
    pub column: Option<String>,
    /// The constraint or key it is about: a target's constraint name, or a snapshot's row key
    /// (`primary key (id)`).
    pub constraint: Option<String>,
    /// A second place the problem involves: the file and line of a duplicate key's first row.
    pub related: Option<(String, Option<u64>)>,
    /// What to do about it, when the message does not say it already.
    pub hint: Option<String>,
}

impl Problem {
    fn new(at: Location, message: String) -> Problem {
        let kind = match at {
            Location::Setting(_) => ProblemKind::Setting,
            Location::File { .. } => ProblemKind::File,
            Location::Unplaced => ProblemKind::Other,
        };
        Problem {
            at,
            message,
            kind,
            about: Box::default(),
        }
    }

    /// A problem with no more precise place than its message.
    pub fn unplaced(message: impl Into<String>) -> Problem {
        Problem::new(Location::Unplaced, message.into())
    }

    /// A problem with a setting, written at `origin` (unplaced when `origin` is empty).
    pub fn setting(origin: &str, message: impl Into<String>) -> Problem {
        let at = if origin.is_empty() {
            Location::Unplaced
        } else {
            Location::Setting(origin.to_string())
        };
        Problem {
            kind: ProblemKind::Setting,
            ..Problem::new(at, message.into())
        }
    }

    /// A problem in a file, at a line and column when known.
    pub fn in_file(
        file: impl Into<String>,
        line: Option<u64>,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Problem {
        Problem::new(
            Location::File {
                file: file.into(),
                line,
                column: column.map(str::to_string),
            },
            message.into(),
        )
    }

    /// The same problem, of kind `kind`.
    pub fn kind(mut self, kind: ProblemKind) -> Problem {
        self.kind = kind;
        self
    }

    /// The same problem, about table `table`.
    pub fn table(mut self, table: impl fmt::Display) -> Problem {
        self.about.table = Some(table.to_string());
        self
    }

    /// The same problem, about column `column` (of a place that is not a file's).
    pub fn column(mut self, column: impl Into<String>) -> Problem {
        self.about.column = Some(column.into());
        self
    }

    /// The same problem, about constraint or key `constraint`.
    pub fn constraint(mut self, constraint: impl Into<String>) -> Problem {
        self.about.constraint = Some(constraint.into());
        self
    }

    /// The same problem, involving line `line` of `file` too.
    pub fn related(mut self, file: impl Into<String>, line: Option<u64>) -> Problem {
        self.about.related = Some((file.into(), line));
        self
    }

    /// The same problem, with what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.about.hint = Some(hint.into());
        self
    }

    /// The same problem, with what the server's error says about it: the table, column and
    /// constraint it names, its hint; of kind [`ProblemKind::ConstraintViolation`] for an
    /// integrity violation (SQLSTATE class 23), else [`ProblemKind::RefusedValue`] for a value
    /// the column's type refuses (class 22).
    pub fn from_server(mut self, db: &postgres::error::DbError) -> Problem {
        match &db.code().code()[..2] {
            "23" => self.kind = ProblemKind::ConstraintViolation,
            "22" => self.kind = ProblemKind::RefusedValue,
            _ => {}
        }
        if let Some(table) = db.table() {
            self.about.table = Some(match db.schema() {
                Some(schema) => format!("{schema}.{table}"),
                None => table.to_string(),
            });
        }
        let in_file = matches!(
            &self.at,
            Location::File {
                column: Some(_),
                ..
            }
        );
        if let (Some(column), false) = (db.column(), in_file) {
            self.about.column = Some(column.to_string());
        }
        if let Some(constraint) = db.constraint() {
            self.about.constraint = Some(constraint.to_string());
        }
        if let (Some(hint), None) = (db.hint(), &self.about.hint) {
            self.about.hint = Some(hint.to_string());
        }
        self
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

    /// The problem as an object for `--json`: `kind`, `message`, `table`, `column`,
    /// `constraint`, `file`, `line`, `setting`, `related` (`{file, line}`), `hint` (each
    /// `null` when unknown) and `text`, the problem's line as printed. A setting written in a
    /// file (`seedsnap.toml:4 (limits)`) gives its file and line too.
    pub fn to_json(&self) -> serde_json::Value {
        let (file, line, column, setting) = match &self.at {
            Location::Unplaced => (None, None, self.about.column.clone(), None),
            Location::Setting(origin) => {
                let (file, line) = setting_place(origin);
                (file, line, self.about.column.clone(), Some(origin.clone()))
            }
            Location::File { file, line, column } => (
                Some(file.clone()),
                *line,
                column.clone().or_else(|| self.about.column.clone()),
                None,
            ),
        };
        serde_json::json!({
            "kind": self.kind,
            "message": self.message,
            "table": self.about.table,
            "column": column,
            "constraint": self.about.constraint,
            "file": file,
            "line": line,
            "setting": setting,
            "related": self.about.related.as_ref().map(|(file, line)| {
                serde_json::json!({ "file": file, "line": line })
            }),
            "hint": self.about.hint,
            "text": self.to_string(),
        })
    }
}

/// The file and line of a setting's origin written in a file: `seedsnap.toml:4 (limits)` is
/// line 4 of `seedsnap.toml`; a flag (`--filter`) is neither.
fn setting_place(origin: &str) -> (Option<String>, Option<u64>) {
    let place = match origin.rsplit_once(" (") {
        Some((place, section)) if section.ends_with(')') => place,
        _ => origin,
    };
    match place.rsplit_once(':') {
        Some((file, line)) if !file.is_empty() && !file.starts_with("--") => {
            match line.parse::<u64>() {
                Ok(line) => (Some(file.to_string()), Some(line)),
                Err(_) => (None, None),
            }
        }
        _ => (None, None),
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
        f.write_str(&self.message)?;
        if let Some(hint) = &self.about.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// In a report's `--json` output (`check-config`'s `problems`) a problem is its one line of
/// text, as printed; an error object lists them as objects (see [`Problem::to_json`]).
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
/// [`SHOWN`]; the rest counted). The error keeps every problem, for `--json`.
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
    with_problems(kind, text, problems.to_vec())
}

/// An error of the given kind with its own message, carrying `problems` (which the message
/// need not list).
pub fn with_problems(kind: ExitKind, message: String, problems: Vec<Problem>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind,
        message,
        problems,
    })
}

/// An error of the given kind that is one problem, its message the problem's line.
pub fn refuse(kind: ExitKind, problem: Problem) -> anyhow::Error {
    with_problems(kind, problem.to_string(), vec![problem])
}

/// The problems an error carries (see [`into_error`], [`refuse`]); none for an error that
/// was not built from problems.
pub fn problems_of(error: &anyhow::Error) -> &[Problem] {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map_or(&[], |failure| &failure.problems)
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
        assert_eq!(
            Problem::unplaced("bad").hint("do this").to_string(),
            "bad; do this"
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
        let error = into_error(ExitKind::BadInput, "h", &problems).context("outer");
        assert_eq!(crate::error::exit_kind(&error), ExitKind::BadInput);
        // Every problem is kept, the ones not printed too.
        assert_eq!(problems_of(&error).len(), SHOWN + 2);
        assert!(check(ExitKind::BadInput, "h", &[]).is_ok());
        assert!(problems_of(&crate::error::failure(ExitKind::BadInput, "x")).is_empty());
    }

    #[test]
    fn a_problem_object_has_every_field() {
        let problem = Problem::in_file("a.tsv", Some(4), None, "duplicate key")
            .kind(ProblemKind::DuplicateKey)
            .table("public.a")
            .constraint("primary key (id)")
            .related("b.tsv", Some(2))
            .hint("keep one");
        let json = problem.to_json();
        assert_eq!(json["kind"], "duplicate_key");
        assert_eq!(json["file"], "a.tsv");
        assert_eq!(json["line"], 4);
        assert_eq!(json["column"], serde_json::Value::Null);
        assert_eq!(json["table"], "public.a");
        assert_eq!(json["constraint"], "primary key (id)");
        assert_eq!(json["related"]["file"], "b.tsv");
        assert_eq!(json["related"]["line"], 2);
        assert_eq!(json["message"], "duplicate key");
        assert_eq!(json["hint"], "keep one");
        assert_eq!(json["text"], "a.tsv line 4: duplicate key; keep one");
        // A setting written in a file gives its file and line.
        let json = Problem::setting("dir/seedsnap.toml:13 (limits)", "no table").to_json();
        assert_eq!(json["kind"], "setting");
        assert_eq!(json["file"], "dir/seedsnap.toml");
        assert_eq!(json["line"], 13);
        assert_eq!(json["setting"], "dir/seedsnap.toml:13 (limits)");
        let json = Problem::setting("--filter", "bad").to_json();
        assert_eq!(json["file"], serde_json::Value::Null);
        assert_eq!(json["setting"], "--filter");
    }
}
