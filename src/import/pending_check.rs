//! The offline check of a snapshot's files running beside the import: started before the
//! import connects, waited for before its first write (see [`PendingCheck`]).

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::error::ExitKind;
use crate::problem;
use crate::snapshot::SnapshotDir;

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

/// The offline check of the snapshot's files, running on a thread of its own while the
/// import connects and reads the target's catalog; the load waits for it before its first
/// write (the lock), and a failed check is the error reported, whatever else failed.
pub(super) struct PendingCheck<'s> {
    handle: std::cell::RefCell<Option<std::thread::ScopedJoinHandle<'s, Result<Duration>>>>,
    pub(super) failed: std::cell::Cell<bool>,
    pub(super) took: std::cell::Cell<Duration>,
}

impl<'s> PendingCheck<'s> {
    pub(super) fn start(scope: &'s std::thread::Scope<'s, '_>, snapshot: &'s SnapshotDir) -> Self {
        let handle = scope.spawn(move || {
            let started = Instant::now();
            check_snapshot(snapshot).map(|()| started.elapsed())
        });
        PendingCheck {
            handle: std::cell::RefCell::new(Some(handle)),
            failed: std::cell::Cell::new(false),
            took: std::cell::Cell::new(Duration::ZERO),
        }
    }

    /// Waits for the check (at once if it is over); its error the first time it fails.
    pub(super) fn wait(&self) -> Result<()> {
        let Some(handle) = self.handle.borrow_mut().take() else {
            return Ok(());
        };
        match handle.join().expect("the snapshot check's thread") {
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

    /// `error`, unless the check failed: then the check's error, which comes first.
    pub(super) fn first_error(&self, error: anyhow::Error) -> anyhow::Error {
        match self.wait() {
            Err(check) => check,
            Ok(()) => error,
        }
    }
}
