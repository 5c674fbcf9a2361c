//! Ctrl-C and SIGTERM: what they do to a running command.
//!
//! A command that writes must not stop half way without saying so. The first signal cancels the
//! statement every session to a server is running (PostgreSQL's own cancel request, as psql's
//! Ctrl-C sends it) and sets a flag that the commands check between steps ([`requested`],
//! [`check`]). The command then fails as it fails for any other reason, through the same path:
//! the import rolls back, says the target is unchanged and names the sequences its inserts drew
//! from; the export removes its unfinished directory and keeps the previous snapshot. The exit
//! code is 130 ([`crate::error::ExitKind::Interrupted`]). A second signal ends the process at
//! once: the server then rolls back an unfinished transaction by itself, and nothing is said.
//!
//! Sessions are registered when they are opened ([`cancel_on_interrupt`], from
//! [`crate::connection`]) and never removed: a process opens a handful, and a cancel request
//! for a session that has ended is ignored by the server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::error::{failure, ExitKind};

/// Set by the first signal.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// How to cancel each open session's running statement.
type Cancel = Box<dyn Fn() + Send>;
static CANCELLERS: Mutex<Vec<Cancel>> = Mutex::new(Vec::new());

/// Handles Ctrl-C (SIGINT) and SIGTERM for the rest of the process: for the commands that
/// check ([`check`]) between their steps (export, import, refresh). Any other command keeps
/// the default, ending at once, since a flag it never reads would only keep it running.
pub fn install() {
    // Without a handler (another one installed, a platform that refuses), a signal ends the
    // process as it would have: the server rolls back, and only the message is lost.
    let _ = ctrlc::set_handler(on_signal);
}

fn on_signal() {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        eprintln!("seedsnap: interrupted again: stopping now");
        std::process::exit(ExitKind::Interrupted.code());
    }
    eprintln!(
        "seedsnap: interrupted: cancelling the running statements and stopping (interrupt \
         again to stop at once)"
    );
    let cancellers = CANCELLERS.lock().unwrap_or_else(|p| p.into_inner());
    for cancel in cancellers.iter() {
        cancel();
    }
}

/// Whether a signal asked the command to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The error a command stops with once a signal asked it to.
pub fn error() -> anyhow::Error {
    failure(ExitKind::Interrupted, INTERRUPTED)
}

/// `Err` ([`error`]) once a signal asked the command to stop: a point between two steps
/// where it may.
pub fn check() -> anyhow::Result<()> {
    match requested() {
        true => Err(error()),
        false => Ok(()),
    }
}

/// What an interrupted command's error says first.
const INTERRUPTED: &str = "interrupted (Ctrl-C or SIGTERM)";

/// `error`, marked as interrupted when a signal asked the command to stop (the statement a
/// cancel request stopped fails with the server's "canceling statement due to user request",
/// a step that checked with its own error): exit code 130, and the message says so first.
pub fn explain(error: anyhow::Error) -> anyhow::Error {
    if !requested() || crate::error::exit_kind(&error) == ExitKind::Interrupted {
        return error;
    }
    error.context(crate::error::Failure {
        kind: ExitKind::Interrupted,
        message: INTERRUPTED.to_string(),
        problems: Vec::new(),
    })
}

/// Cancels a session's running statement when a signal arrives (see the module's doc).
pub fn cancel_on_interrupt(cancel: impl Fn() + Send + 'static) {
    CANCELLERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Box::new(cancel));
}
