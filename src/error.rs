//! Failure kinds and the process exit codes they map to.
//!
//! Every error seedsnap reports travels as an [`anyhow::Error`]; the ones that must produce a
//! specific exit code carry a [`Failure`] somewhere in their chain. Connection problems raised by
//! the `postgres` crate are recognised without wrapping, so a server that goes away mid-run still
//! exits with [`ExitKind::Connection`].

use std::fmt;

use crate::problem::Problem;

/// What kind of failure ended the run; each kind has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Anything not classified below (a database error, an I/O error, a bug).
    Other,
    /// The command line could not be parsed (clap's own code).
    Usage,
    /// The safety guard refused the target database.
    Refused,
    /// A snapshot, a schema or an option is not acceptable; nothing was written.
    BadInput,
    /// The work ran but its result failed verification (missing rows, drift, empty tables,
    /// unresolved foreign keys).
    VerificationFailed,
    /// A server could not be reached, or went away.
    Connection,
    /// Ctrl-C or SIGTERM stopped the command (see [`crate::interrupt`]).
    Interrupted,
}

impl ExitKind {
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Other => 1,
            ExitKind::Usage => 2,
            ExitKind::Refused => 3,
            ExitKind::BadInput => 4,
            ExitKind::VerificationFailed => 5,
            ExitKind::Connection => 6,
            // 128 + SIGINT, as shells report a process that Ctrl-C ended.
            ExitKind::Interrupted => 130,
        }
    }
}

impl ExitKind {
    /// The kind's name in JSON error objects: `bad_input`, `verification_failed`, ….
    pub fn name(self) -> &'static str {
        match self {
            ExitKind::Other => "other",
            ExitKind::Usage => "usage",
            ExitKind::Refused => "refused",
            ExitKind::BadInput => "bad_input",
            ExitKind::VerificationFailed => "verification_failed",
            ExitKind::Connection => "connection",
            ExitKind::Interrupted => "interrupted",
        }
    }
}

/// The object `--json` prints on stdout for a failure:
/// `{"error": {"kind": "bad_input", "exit_code": 4, "message": "…", "problems": […]}}`, each
/// problem an object (see [`Problem::to_json`]). A bad-input or verification failure (exit
/// code 4 or 5) always lists at least one: one of kind `other` holding the message when the
/// error was not built from problems (a refusal that is one sentence). Other failures list
/// their problems if they have any (usually none: the message says it all).
pub fn json_object(kind: ExitKind, message: &str, problems: &[Problem]) -> serde_json::Value {
    let mut listed: Vec<serde_json::Value> = problems.iter().map(Problem::to_json).collect();
    if listed.is_empty() && matches!(kind, ExitKind::BadInput | ExitKind::VerificationFailed) {
        listed.push(Problem::unplaced(message).to_json());
    }
    serde_json::json!({
        "error": {
            "kind": kind.name(),
            "exit_code": kind.code(),
            "message": message,
            "problems": listed,
        }
    })
}

/// An error with a known exit code. The message is complete and meant for a person; the
/// problems it was built from, if any, are kept for `--json` (see [`crate::problem`]).
#[derive(Debug)]
pub struct Failure {
    pub kind: ExitKind,
    pub message: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Builds an error of the given kind.
pub fn failure(kind: ExitKind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind,
        message: message.into(),
        problems: Vec::new(),
    })
}

/// The exit kind an error maps to.
pub fn exit_kind(error: &anyhow::Error) -> ExitKind {
    // Also a failure added as context (an interruption, see `crate::interrupt::explain`),
    // which the chain's causes cannot be downcast to.
    if let Some(failure) = error.downcast_ref::<Failure>() {
        return failure.kind;
    }
    for cause in error.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.kind;
        }
        if let Some(pg) = cause.downcast_ref::<postgres::Error>() {
            if is_connection_error(pg) {
                return ExitKind::Connection;
            }
        }
    }
    ExitKind::Other
}

/// True when a `postgres` error means the server is unreachable or the session is gone.
pub fn is_connection_error(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        // Class 08 (connection exception) and 57P0x (operator intervention: shutdown, crash).
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
        None => {
            // No SQLSTATE: an I/O or protocol failure underneath.
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                if cause.is::<std::io::Error>() {
                    return true;
                }
                source = cause.source();
            }
            false
        }
    }
}

/// What seedsnap adds to the server's "out of shared memory" about its lock table.
const LOCK_TABLE_FULL: &str = "; seedsnap: one transaction locks every table it reads or \
    loads, with its indexes (and an import into tables that already hold rows stages each \
    file in a temporary table), and the server's lock table holds about \
    max_locks_per_transaction × max_connections locks for all its sessions: with thousands of \
    tables, raise max_locks_per_transaction on that server (1024, say) and restart it";

/// What seedsnap adds to a refusal by row-level security on the target.
pub const ROW_SECURITY: &str = "; seedsnap: its sessions run with row_security = off, so that a \
    policy stops the work instead of hiding rows from its checks and verification: import as \
    the tables' owner (without FORCE ROW LEVEL SECURITY) or as a role with BYPASSRLS";

/// One line for a `postgres` error: the server's message with its detail, hint and position
/// context, which the crate's own `Display` leaves out.
pub fn describe_pg_error(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
                if hint.contains("max_locks_per_transaction") {
                    text.push_str(LOCK_TABLE_FULL);
                }
            }
            if let Some(context) = db.where_() {
                text.push_str(&format!("; context: {}", context.replace('\n', " / ")));
            }
            if db.code().code() == "42501" && db.message().contains("row-level security") {
                text.push_str(ROW_SECURITY);
            }
            text.push_str(&format!(" (SQLSTATE {})", db.code().code()));
            text
        }
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let kinds = [
            ExitKind::Other,
            ExitKind::Usage,
            ExitKind::Refused,
            ExitKind::BadInput,
            ExitKind::VerificationFailed,
            ExitKind::Connection,
        ];
        let mut codes: Vec<i32> = kinds.iter().map(|k| k.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0));
    }

    #[test]
    fn bad_input_and_verification_failures_list_at_least_their_message() {
        for kind in [ExitKind::BadInput, ExitKind::VerificationFailed] {
            let object = json_object(kind, "2 rows are missing", &[]);
            let problems = object["error"]["problems"].as_array().unwrap();
            assert_eq!(problems.len(), 1, "{object}");
            assert_eq!(problems[0]["kind"], "other");
            assert_eq!(problems[0]["message"], "2 rows are missing");
        }
        let listed = vec![Problem::unplaced("one"), Problem::unplaced("two")];
        let object = json_object(ExitKind::VerificationFailed, "two problems", &listed);
        assert_eq!(object["error"]["problems"].as_array().unwrap().len(), 2);
        // A refusal or a connection error says it all in its message.
        let object = json_object(ExitKind::Refused, "not a test database", &[]);
        assert_eq!(object["error"]["problems"], serde_json::json!([]));
    }

    #[test]
    fn failure_kind_survives_context() {
        let error = failure(ExitKind::Refused, "no").context("while importing");
        assert_eq!(exit_kind(&error), ExitKind::Refused);
        assert_eq!(exit_kind(&anyhow::anyhow!("plain")), ExitKind::Other);
    }
}
