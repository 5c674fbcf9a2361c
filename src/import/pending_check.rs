//! The offline check of a snapshot's files running beside the import: started before the
//! import connects, waited for before its first write, and, for the fast path, resolving the
//! snapshot's foreign keys in its files, a superuser's small snapshot while the import reads
//! the target's catalog, a large one while the rows load (see [`PendingCheck`]).

use std::cell::{Cell, RefCell};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::error::ExitKind;
use crate::problem;
use crate::snapshot::{keys, SnapshotDir};

use super::proved_keys::BESIDE_THE_LOAD_FROM;

/// Checks an opened snapshot directory's files offline; every problem at once.
fn check_snapshot(snapshot: &SnapshotDir) -> Result<()> {
    let problems = snapshot.check_files()?;
    problem::check(
        ExitKind::BadInput,
        problem::counted(
            &format!(
                "the snapshot in {} is not valid; nothing was written",
                snapshot.dir.display()
            ),
            &problems,
        ),
        &problems,
    )
}

/// By manifest table, then key: whether the key resolves inside the snapshot's files.
type Resolved = Vec<Vec<bool>>;

/// The values the snapshot's own foreign keys give to check (each key counts the rows of its
/// table), as its manifest records them: what decides, before the target's catalog is read,
/// when the keys are resolved (see [`PendingCheck::beside_the_load`]).
fn manifest_values(snapshot: &SnapshotDir) -> u64 {
    snapshot
        .manifest
        .tables
        .iter()
        .map(|t| t.rows * t.foreign_keys.len() as u64)
        .sum()
}

/// The offline check of the snapshot's files, running on a thread of its own while the
/// import connects and reads the target's catalog; the load waits for it before its first
/// write (the lock), and a failed check is the error reported, whatever else failed.
///
/// Once the files have passed, the same thread can go on, when the import asks for it
/// ([`PendingCheck::prove_keys`]), to resolve every foreign key of the snapshot inside its
/// files ([`keys::unresolved`]): the fast path counts again only the keys the files do not
/// prove ([`super::proved_keys`]). A small snapshot's keys (fewer than [`BESIDE_THE_LOAD_FROM`]
/// values) are asked for as soon as the session turns out to be a superuser's, and resolved
/// while the import reads the target's catalog; a larger one's once the load has taken the
/// fast path, while the rows load ([`PendingCheck::beside_the_load`]). Asked for nothing, the
/// thread ends when the check is dropped.
pub(super) struct PendingCheck<'s> {
    /// The files' check: how long it took, or why they fail.
    files: RefCell<Option<Receiver<Result<Duration>>>>,
    /// Sent once to start resolving the keys; dropped unsent, the thread ends.
    go: RefCell<Option<Sender<()>>>,
    /// The thread: whether each manifest key resolves (`None`: not asked, or the files failed).
    handle: RefCell<Option<ScopedJoinHandle<'s, Result<Option<Resolved>>>>>,
    pub(super) failed: Cell<bool>,
    pub(super) took: Cell<Duration>,
    /// The values the snapshot's keys have to check ([`manifest_values`]).
    values: u64,
}

impl<'s> PendingCheck<'s> {
    pub(super) fn start(scope: &'s std::thread::Scope<'s, '_>, snapshot: &'s SnapshotDir) -> Self {
        let (files_tx, files_rx) = channel();
        let (go_tx, go_rx) = channel::<()>();
        let handle = scope.spawn(move || {
            let started = Instant::now();
            let checked = check_snapshot(snapshot).map(|()| started.elapsed());
            let passed = checked.is_ok();
            // The receiver may be gone: the import failed before it waited.
            let _ = files_tx.send(checked);
            if !passed || go_rx.recv().is_err() {
                return Ok(None);
            }
            Ok(Some(keys::unresolved(snapshot)?.resolved))
        });
        PendingCheck {
            files: RefCell::new(Some(files_rx)),
            go: RefCell::new(Some(go_tx)),
            handle: RefCell::new(Some(handle)),
            failed: Cell::new(false),
            took: Cell::new(Duration::ZERO),
            values: manifest_values(snapshot),
        }
    }

    /// Waits for the check of the files (at once if it is over); its error the first time it
    /// fails.
    pub(super) fn wait(&self) -> Result<()> {
        let Some(files) = self.files.borrow_mut().take() else {
            return Ok(());
        };
        let checked = files
            .recv()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the snapshot check's thread ended early")));
        match checked {
            Ok(took) => {
                self.took.set(took);
                Ok(())
            }
            Err(error) => {
                self.failed.set(true);
                Err(error)
            }
        }
    }

    /// Whether the snapshot's keys are resolved beside the load (they have
    /// [`BESIDE_THE_LOAD_FROM`] values or more to check) rather than before it.
    pub(super) fn beside_the_load(&self) -> bool {
        self.values >= BESIDE_THE_LOAD_FROM
    }

    /// Starts resolving the snapshot's foreign keys in its files, once they have passed
    /// (see [`PendingCheck::resolved_keys`]).
    /// One thread reads the files, leaving the others to the server the import waits on
    /// (a local test server is the usual target: on the 2-core bench machine, reading on two
    /// threads before the load made the demo's import ~10 ms slower than on one).
    pub(super) fn prove_keys(&self) {
        if let Some(go) = self.go.borrow_mut().take() {
            let _ = go.send(());
        }
    }

    /// Whether each foreign key of the manifest (by table, then key) resolves inside the
    /// snapshot's files, waiting for [`PendingCheck::prove_keys`]'s work to end; `None` when it
    /// was not asked for or could not be done (then no key is taken as proved).
    pub(super) fn resolved_keys(&self) -> Option<Resolved> {
        // Not asked for: the thread ends.
        self.go.borrow_mut().take();
        let handle = self.handle.borrow_mut().take()?;
        handle
            .join()
            .expect("the snapshot check's thread")
            .ok()
            .flatten()
    }

    /// `error`, unless the check failed: then the check's error, which comes first.
    pub(super) fn first_error(&self, error: anyhow::Error) -> anyhow::Error {
        match self.wait() {
            Err(check) => check,
            Ok(()) => error,
        }
    }
}
