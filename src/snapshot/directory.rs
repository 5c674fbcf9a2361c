//! Writing a snapshot directory atomically, and reading one back.
//!
//! An export writes into a hidden sibling (`.<dir>.seedsnap-tmp-<pid>`) and swaps it into
//! place at the very end (`renameat2(RENAME_EXCHANGE)` on Linux, two renames elsewhere), so an
//! export that fails or is killed leaves the previous snapshot untouched; the next export
//! removes what a killed one left behind. An existing directory is only ever replaced when it
//! is a seedsnap snapshot holding nothing but its own files; its data files that come out
//! byte for byte the same are hard-linked into the new directory rather than written again.
//!
//! Reading checks everything before anyone writes to a database: the manifest, every file's
//! checksum, header, row count and every line's format, that the values of key columns are
//! ones PostgreSQL reads, and duplicate values of the row key and of the other unique keys the
//! manifest records (compared as PostgreSQL compares them, see [`super::key_values`] and
//! [`super::unique`]); all problems are reported at once, each with its file, line and column.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::companions;
use super::copy_text::{self, LineReader};
use super::file_name;
use super::key_values::{self, KeyType};
use super::manifest::{Manifest, ManifestTable, ManifestUniqueKey, MANIFEST_FILE};
use super::unique::{self, Distinct, Seen};
use crate::error::ExitKind;
use crate::problem::{self, Problem, ProblemKind};

// ---------------------------------------------------------------------------------------------
// Writing

/// A snapshot being written; dropped without [`SnapshotWriter::commit`], it leaves no trace.
pub struct SnapshotWriter {
    final_dir: PathBuf,
    temp_dir: PathBuf,
    /// The snapshot being replaced, whose unchanged data files are linked, not written again.
    previous: Option<PathBuf>,
    /// The data files linked from `previous`, as they were right after the link: checked again
    /// before the swap, so that an edit of the old snapshot while the export runs (the inode
    /// is shared until then) fails the export instead of slipping into the new snapshot.
    linked: Mutex<Vec<LinkedFile>>,
    /// The parent directories this writer created, deepest first: removed again (when still
    /// empty) if it never commits, so that a refused export leaves no trace.
    created_parents: Vec<PathBuf>,
    committed: bool,
}

fn sibling(dir: &Path, tag: &str, pid: u32) -> PathBuf {
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    dir.with_file_name(format!(".{base}.seedsnap-{tag}-{pid}"))
}

impl SnapshotWriter {
    /// A writer for a directory that must not exist yet (a backup never replaces anything).
    pub fn create_new(final_dir: &Path) -> Result<SnapshotWriter> {
        if final_dir.exists() {
            anyhow::bail!("{} exists already", final_dir.display());
        }
        Self::create(final_dir)
    }

    pub fn create(final_dir: &Path) -> Result<SnapshotWriter> {
        let final_dir = if final_dir.is_absolute() {
            final_dir.to_path_buf()
        } else {
            std::env::current_dir()?.join(final_dir)
        };
        let parent = final_dir
            .parent()
            .context("the snapshot directory has no parent directory")?;
        if let Some(file) = parent
            .ancestors()
            .find(|p| fs::metadata(p).is_ok_and(|m| !m.is_dir()))
        {
            return Err(problem::refuse(
                ExitKind::BadInput,
                Problem::unplaced(format!(
                    "cannot write {}: {} is a file, not a directory; choose another directory \
                     (--dir, or --backup-dir for --truncate-first's backups)",
                    final_dir.display(),
                    file.display()
                ))
                .kind(ProblemKind::Directory),
            ));
        }
        let created_parents: Vec<PathBuf> = parent
            .ancestors()
            .take_while(|p| !p.exists())
            .map(Path::to_path_buf)
            .collect();
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        let checked = recover_leftovers(&final_dir).and_then(|()| check_replaceable(&final_dir));
        if let Err(error) = checked {
            for dir in &created_parents {
                let _ = fs::remove_dir(dir);
            }
            return Err(error);
        }
        let temp_dir = sibling(&final_dir, "tmp", std::process::id());
        if temp_dir.exists() {
            fs::remove_dir_all(&temp_dir)?;
        }
        fs::create_dir(&temp_dir).with_context(|| format!("creating {}", temp_dir.display()))?;
        // Only a real directory: through a symlink, the swap replaces the link and the old
        // directory stays, and its files would share their inodes with the new snapshot's.
        let is_real_dir = fs::symlink_metadata(&final_dir).is_ok_and(|m| m.is_dir());
        if let Ok(target) = fs::read_link(&final_dir) {
            eprintln!(
                "seedsnap: warning: {} is a symbolic link to {}: the new snapshot replaces the \
                 link with a directory of its own, and {} keeps the previous snapshot",
                final_dir.display(),
                target.display(),
                target.display()
            );
        }
        let previous =
            (is_real_dir && final_dir.join(MANIFEST_FILE).is_file()).then(|| final_dir.clone());
        Ok(SnapshotWriter {
            final_dir,
            temp_dir,
            previous,
            linked: Mutex::new(Vec::new()),
            created_parents,
            committed: false,
        })
    }

    pub fn final_dir(&self) -> &Path {
        &self.final_dir
    }

    /// A new data file in the snapshot being written.
    /// A data file of the new snapshot. Its bytes are held until [`HashingWriter::finish`]
    /// while they fit [`HELD_BYTES`]: when the snapshot being replaced has a file of that name
    /// with exactly those bytes, it is linked into the new directory instead of being written
    /// again (see [`HashingWriter`]).
    pub fn table_file(&self, file: &str) -> Result<HashingWriter<'_>> {
        Ok(HashingWriter {
            writer: self,
            name: file.to_string(),
            held: Vec::new(),
            file: None,
            hasher: Sha256::new(),
            lines: 0,
        })
    }

    /// How many data files were linked unchanged from the snapshot being replaced.
    pub fn unchanged_files(&self) -> usize {
        self.linked.lock().expect("linked files").len()
    }

    /// Fails when a file linked from the snapshot being replaced changed since it was compared
    /// (someone wrote to the old snapshot's copy while the export ran).
    fn check_linked_files(&self) -> Result<()> {
        for linked in self.linked.lock().expect("linked files").iter() {
            let path = self.temp_dir.join(&linked.name);
            let now = fs::symlink_metadata(&path).ok().map(|m| FileState::of(&m));
            if now.as_ref() != Some(&linked.state) {
                return Err(problem::refuse(
                    ExitKind::BadInput,
                    Problem::unplaced(format!(
                        "{} changed while the export ran (it was unchanged and shared with the \
                         new snapshot); the previous snapshot is left as it is. Run the export \
                         again once nothing writes to {}.",
                        self.final_dir.join(&linked.name).display(),
                        self.final_dir.display()
                    ))
                    .kind(ProblemKind::Directory),
                ));
            }
        }
        Ok(())
    }

    /// Writes the manifest and swaps the new directory into place.
    pub fn commit(mut self, manifest: &Manifest) -> Result<()> {
        // The cluster's identifier goes to the git-ignored identity file, not the manifest.
        let identifier = &manifest.source.system_identifier;
        let identity = (!identifier.is_empty()).then(|| companions::SourceIdentity {
            system_identifier: identifier.clone(),
            database: manifest.source.database.clone(),
        });
        companions::write(&self.temp_dir, &self.final_dir, identity.as_ref())?;
        let path = self.temp_dir.join(MANIFEST_FILE);
        let mut file = BufWriter::new(File::create(&path)?);
        manifest.write_stored(&mut file)?;
        file.into_inner().map_err(|e| e.into_error())?;
        // Every file must be on disk before the swap makes the directory visible: the data
        // files were synced as they were finished, the manifest and companions are now.
        sync_directory_contents(&self.temp_dir)?;
        self.check_linked_files()?;
        if self.final_dir.exists() {
            if exchange(&self.temp_dir, &self.final_dir).is_ok() {
                // The old snapshot now sits at the temporary path. The new one is in place
                // whatever happens to it: failing to remove it is a warning, not a failure.
                if let Err(error) = fs::remove_dir_all(&self.temp_dir) {
                    eprintln!(
                        "seedsnap: warning: the new snapshot is in place in {}, but the previous \
                         one could not be removed from {} ({error}): remove it by hand, or the \
                         next export stops on it",
                        self.final_dir.display(),
                        self.temp_dir.display()
                    );
                }
            } else {
                let old = sibling(&self.final_dir, "old", std::process::id());
                fs::rename(&self.final_dir, &old)?;
                fs::rename(&self.temp_dir, &self.final_dir)?;
                fs::remove_dir_all(&old)?;
            }
        } else {
            fs::rename(&self.temp_dir, &self.final_dir)?;
        }
        if let Some(parent) = self.final_dir.parent() {
            let _ = File::open(parent).and_then(|d| d.sync_all());
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.temp_dir);
            for dir in &self.created_parents {
                // Only when empty: nothing but this writer's own directories goes.
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

/// Syncs the files of a snapshot directory that [`HashingWriter::finish`] did not (the
/// manifest and its companions), then the directory itself. Not `syncfs`: that waits for
/// every dirty page of the whole file system, a busy database's included (2-3 s measured
/// while a server on the same disk was loading).
fn sync_directory_contents(dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == MANIFEST_FILE || companions::is_companion(&name) {
            File::open(entry.path())?.sync_all()?;
        }
    }
    File::open(dir)?.sync_all()
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings for the duration of the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

pub fn process_alive(pid: u32) -> bool {
    // Not a process id (0 and negative ones name process groups).
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes the directories in `parent` that a killed seedsnap left: those `owner` gives the
/// process id of (from the name), when that process is gone and the directory was last changed
/// at least `min_age` ago (a directory shared between containers, such as `/tmp`, may hold a
/// live seedsnap's whose process id this one cannot see). `what` names them in the line that
/// says so. Best effort: one that cannot be removed stays.
pub fn remove_abandoned(
    parent: &Path,
    what: &str,
    min_age: std::time::Duration,
    owner: impl Fn(&str) -> Option<u32>,
) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner(&name) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let old_enough = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|changed| changed.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if !old_enough {
            continue;
        }
        if fs::remove_dir_all(entry.path()).is_ok() {
            eprintln!(
                "seedsnap: removed {}, {what} left by a seedsnap that was killed",
                entry.path().display()
            );
        }
    }
}

/// Removes what an export killed earlier left beside `dir`, restoring the previous snapshot if
/// it was killed between the two renames of the non-atomic fallback.
fn recover_leftovers(dir: &Path) -> Result<()> {
    let (Some(parent), Some(base)) = (dir.parent(), dir.file_name()) else {
        return Ok(());
    };
    let prefix = format!(".{}.seedsnap-", base.to_string_lossy());
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some((tag, pid)) = rest.split_once('-') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if process_alive(pid) && pid != std::process::id() {
            continue;
        }
        let cannot = |what: &str| {
            format!(
                "cannot {what} {}, left beside {} by an earlier export that was interrupted or \
                 could not finish removing it; nothing was exported: remove it by hand (it is \
                 not a current snapshot), or fix its permissions",
                entry.path().display(),
                dir.display()
            )
        };
        if tag == "old" && !dir.exists() {
            fs::rename(entry.path(), dir).with_context(|| cannot("restore"))?;
            eprintln!(
                "seedsnap: restored the previous snapshot {} left by an interrupted export",
                dir.display()
            );
        } else if tag == "tmp" || tag == "old" {
            fs::remove_dir_all(entry.path()).with_context(|| cannot("remove"))?;
            eprintln!(
                "seedsnap: removed {} left by an interrupted export",
                entry.path().display()
            );
        }
    }
    Ok(())
}

/// An existing directory may be replaced only if it is empty or a seedsnap snapshot holding
/// nothing but the files its manifest lists: replacing it must never lose anybody's files.
/// The data files a seedsnap manifest lists; `None` when the text is not one. Read straight
/// from the text when it has the usual shape (a JSON tree would take several times its size),
/// else from the tree, which takes any shape.
fn listed_files(text: &[u8]) -> Option<HashSet<String>> {
    #[derive(serde::Deserialize)]
    struct Entry {
        file: Option<serde_json::Value>,
    }
    #[derive(serde::Deserialize)]
    struct Listing {
        format: Option<serde_json::Value>,
        tables: Option<Vec<Entry>>,
    }
    let is_snapshot = |format: Option<&serde_json::Value>| {
        format.and_then(|f| f.as_str()) == Some(super::manifest::FORMAT)
    };
    if let Ok(listing) = serde_json::from_slice::<Listing>(text) {
        if !is_snapshot(listing.format.as_ref()) {
            return None;
        }
        let tables = listing.tables.unwrap_or_default();
        return Some(
            tables
                .iter()
                .filter_map(|t| t.file.as_ref()?.as_str().map(String::from))
                .collect(),
        );
    }
    let value = serde_json::from_slice::<serde_json::Value>(text).ok()?;
    if !is_snapshot(value.get("format")) {
        return None;
    }
    Some(
        value["tables"]
            .as_array()
            .map(|tables| {
                tables
                    .iter()
                    .filter_map(|t| t["file"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn check_replaceable(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(problem::refuse(
            ExitKind::BadInput,
            Problem::unplaced(format!(
                "{} exists and is not a directory; refusing to replace it",
                dir.display()
            ))
            .kind(ProblemKind::Directory),
        ));
    }
    let mut entries: Vec<String> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    if entries.is_empty() {
        return Ok(());
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let listed: HashSet<String> = match fs::read(&manifest_path)
        .ok()
        .and_then(|bytes| listed_files(&bytes))
    {
        Some(listed) => listed,
        None => {
            return Err(problem::refuse(
                ExitKind::BadInput,
                Problem::unplaced(format!(
                    "{} is not empty and is not a seedsnap snapshot (no readable {MANIFEST_FILE}); \
                     refusing to replace it. Choose another --dir or move its contents away.",
                    dir.display()
                ))
                .kind(ProblemKind::Directory),
            ))
        }
    };
    // A new manifest an interrupted `seal` left behind goes with the old snapshot.
    entries.retain(|name| {
        name != MANIFEST_FILE
            && !listed.contains(name)
            && !companions::is_companion(name)
            && !name.starts_with(crate::seal::SEAL_TEMP_PREFIX)
    });
    entries.sort();
    if !entries.is_empty() {
        return Err(problem::refuse(
            ExitKind::BadInput,
            Problem::unplaced(format!(
                "{} holds files that are not part of its snapshot ({}); refusing to replace it and \
                 lose them. Move them away or choose another --dir.",
                dir.display(),
                entries.join(", ")
            ))
            .kind(ProblemKind::Directory),
        ));
    }
    Ok(())
}

/// How many bytes of a data file are held in memory before it is written to disk: files no
/// larger may be found unchanged and linked from the snapshot being replaced.
pub const HELD_BYTES: usize = 256 * 1024;

/// Writes a data file while hashing it and counting its lines.
///
/// A file is created only once its bytes pass [`HELD_BYTES`] or at [`HashingWriter::finish`]:
/// a re-export of an unchanged table into the same directory then costs no new file. Creating
/// files is what an export into an existing snapshot spent most of its disk time on: on ext4
/// without a journal, each new inode is searched past every inode freed in the last 30 s
/// (the previous snapshot's, removed at the last swap), measured ~1 ms a file at 1,000 tables.
/// A linked file shares its inode with the previous snapshot's, which is removed at the swap.
pub struct HashingWriter<'w> {
    writer: &'w SnapshotWriter,
    name: String,
    /// Bytes not yet written to `file` (all of them while `file` is `None`).
    held: Vec<u8>,
    file: Option<File>,
    hasher: Sha256,
    lines: u64,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.held.len() + buf.len() > HELD_BYTES {
            self.write_held()?;
        }
        self.hasher.update(buf);
        self.lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        if buf.len() > HELD_BYTES {
            self.open()?.write_all(buf)?;
        } else {
            self.held.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl HashingWriter<'_> {
    fn path(&self) -> PathBuf {
        self.writer.temp_dir.join(&self.name)
    }

    fn open(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            let path = self.path();
            // Never an existing file: the name may still be a link to the previous snapshot's.
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| {
                    std::io::Error::new(e.kind(), format!("creating {}: {e}", path.display()))
                })?;
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened"))
    }

    fn write_held(&mut self) -> std::io::Result<()> {
        let held = std::mem::take(&mut self.held);
        self.open()?.write_all(&held)?;
        self.held = held;
        self.held.clear();
        Ok(())
    }

    /// Writes what is left, syncs the file's data to disk (on the thread that wrote it, so
    /// that with parallel readers the syncs overlap the other tables' COPYs) — or links the
    /// previous snapshot's identical file — and returns its SHA-256 and number of lines.
    /// (Measured: deferring every sync to one parallel pass at commit, with
    /// `sync_file_range` starting the writes early, saved nothing on ext4 — creating the
    /// files is what waits — and added 70 ms at commit.)
    pub fn finish(mut self) -> Result<(String, u64)> {
        let path = self.path();
        let linked = match self.file {
            None => self.link_unchanged(&path),
            Some(_) => None,
        };
        if let Some(state) = linked {
            self.writer
                .linked
                .lock()
                .expect("linked files")
                .push(LinkedFile {
                    name: self.name.clone(),
                    state,
                });
        } else {
            self.write_held()
                .with_context(|| format!("writing {}", path.display()))?;
            let file = self.file.take().expect("written");
            file.sync_data()
                .with_context(|| format!("syncing {}", path.display()))?;
        }
        Ok((super::hex(&self.hasher.finalize()), self.lines))
    }

    /// Links the snapshot being replaced's file of this name into the new directory when it
    /// holds exactly the held bytes (read and compared, not trusted from its manifest), is a
    /// regular file owned by this user with no other link, and is on disk (synced); returns
    /// its state right after the link. The link must name the inode that was compared, with
    /// the size and modification time it had when it was opened: a write in between, or the
    /// name given to another file, undoes the link. Any doubt or error: `None`, and the file
    /// is written as new.
    fn link_unchanged(&self, path: &Path) -> Option<FileState> {
        let previous = self.writer.previous.as_ref()?;
        let old = previous.join(&self.name);
        let link = || -> std::io::Result<Option<FileState>> {
            let meta = fs::symlink_metadata(&old)?;
            if !meta.is_file()
                || meta.len() != self.held.len() as u64
                || meta.nlink() != 1
                || meta.uid() != fs::metadata(&self.writer.temp_dir)?.uid()
            {
                return Ok(None);
            }
            let mut file = File::open(&old)?;
            let opened = file.metadata()?;
            if opened.ino() != meta.ino() || !same_bytes(&mut file, &self.held)? {
                return Ok(None);
            }
            file.sync_data()?;
            fs::hard_link(&old, path)?;
            let linked = fs::symlink_metadata(path).map(|m| FileState::of(&m));
            let compared = FileState::of(&opened);
            match linked {
                Ok(linked)
                    if linked.ino == compared.ino
                        && linked.len == compared.len
                        && linked.modified == compared.modified =>
                {
                    Ok(Some(linked))
                }
                _ => {
                    // Unlinked again; if that fails, the new file's creation fails too
                    // (`create_new`) rather than write through the link.
                    fs::remove_file(path)?;
                    Ok(None)
                }
            }
        };
        link().ok().flatten()
    }
}

/// A data file linked from the snapshot being replaced, and its state after the link.
struct LinkedFile {
    name: String,
    state: FileState,
}

/// What changes when a file's content or links change: its inode, size, and modification
/// and change times (nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileState {
    ino: u64,
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileState {
    fn of(meta: &fs::Metadata) -> FileState {
        FileState {
            ino: meta.ino(),
            len: meta.len(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Whether `reader` yields exactly `expected`, read in small pieces.
fn same_bytes(reader: &mut impl Read, expected: &[u8]) -> std::io::Result<bool> {
    let mut buf = [0u8; 16 * 1024];
    let mut at = 0;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(at == expected.len());
        }
        if at + n > expected.len() || buf[..n] != expected[at..at + n] {
            return Ok(false);
        }
        at += n;
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A snapshot directory whose manifest parsed and passed its structural checks.
pub struct SnapshotDir {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl SnapshotDir {
    /// Reads and checks the manifest. Data files are checked by [`SnapshotDir::check_files`].
    pub fn open(dir: &Path) -> Result<SnapshotDir> {
        let path = dir.join(MANIFEST_FILE);
        let parsed = match Manifest::read_usual(&path) {
            Some(parsed) => parsed,
            None => {
                let mut bytes = Vec::new();
                super::open_regular(&path)
                    .and_then(|mut file| file.read_to_end(&mut bytes))
                    .map_err(|e| {
                        problem::refuse(
                            ExitKind::BadInput,
                            Problem::unplaced(format!(
                                "cannot read {}: {e}. Is {} a seedsnap snapshot directory?",
                                path.display(),
                                dir.display()
                            ))
                            .kind(ProblemKind::Manifest),
                        )
                    })?;
                Manifest::parse(&bytes)
            }
        };
        let manifest = parsed.map_err(|problems| {
            let located: Vec<Problem> = problems
                .into_iter()
                .map(|message| {
                    Problem::in_file(path.display().to_string(), None, None, message)
                        .kind(ProblemKind::Manifest)
                })
                .collect();
            problem::into_error(
                ExitKind::BadInput,
                problem::counted("the snapshot manifest is not valid", &located),
                &located,
            )
        })?;
        let mut manifest = manifest;
        if manifest.source.system_identifier.is_empty() {
            // Exported on this machine: its identity file says which cluster.
            if let Some(identity) =
                companions::read_identity(dir).filter(|i| i.database == manifest.source.database)
            {
                manifest.source.system_identifier = identity.system_identifier;
            }
        }
        Ok(SnapshotDir {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    pub fn file_path(&self, table: &ManifestTable) -> PathBuf {
        self.dir.join(&table.file)
    }

    fn display_path(&self, table: &ManifestTable) -> String {
        self.file_path(table).display().to_string()
    }

    /// Checks every data file against the manifest: present, no extra files, checksum, header,
    /// row count, every line's format, key values PostgreSQL reads, no duplicate value of the
    /// row key or of another unique key. Returns
    /// all problems found, in manifest order. Files are checked on several threads at once (one
    /// file each).
    pub fn check_files(&self) -> Result<Vec<Problem>> {
        let mut problems = self.unlisted_files()?;
        let tables = &self.manifest.tables;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8)
            .min(tables.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let compared = key_values::compared_columns(&self.manifest);
        let results: Vec<Vec<(usize, Result<Vec<Problem>>)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let Some(table) = tables.get(i) else {
                                return done;
                            };
                            done.push((i, self.check_file(table, &compared[i])));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a file-checking thread"))
                .collect()
        });
        let mut by_table: Vec<(usize, Result<Vec<Problem>>)> =
            results.into_iter().flatten().collect();
        by_table.sort_by_key(|(i, _)| *i);
        for (_, found) in by_table {
            problems.extend(found?);
        }
        Ok(problems)
    }

    /// Files in the directory that the manifest does not list (its companions aside).
    fn unlisted_files(&self) -> Result<Vec<Problem>> {
        let listed: HashSet<&str> = self
            .manifest
            .tables
            .iter()
            .map(|t| t.file.as_str())
            .collect();
        let mut extra: Vec<String> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name != MANIFEST_FILE
                    && !listed.contains(name.as_str())
                    && !companions::is_companion(name)
            })
            .collect();
        extra.sort();
        Ok(extra
            .into_iter()
            .map(|name| {
                let why = match name.starts_with(crate::seal::SEAL_TEMP_PREFIX) {
                    true => {
                        "is a new manifest an interrupted `seal` left behind (the manifest beside \
                         it was not changed): run seal again, which removes it, or delete it"
                    }
                    false => {
                        "is not listed in the manifest (a file from another snapshot, or a table \
                         renamed by hand?)"
                    }
                };
                Problem::in_file(self.dir.join(&name).display().to_string(), None, None, why)
            })
            .collect())
    }

    /// One table's file against its manifest entry (see [`SnapshotDir::check_files`]); the
    /// values of the `compared` columns must be ones PostgreSQL reads, and those of the row key
    /// and the other unique keys are compared in their canonical form (see [`key_values`] and
    /// [`unique`]).
    fn check_file(&self, table: &ManifestTable, compared: &[usize]) -> Result<Vec<Problem>> {
        let mut problems = Vec::new();
        debug_assert!(file_name::is_safe(&table.file));
        let types: Vec<KeyType> = table
            .columns
            .iter()
            .map(|c| KeyType::of(&c.type_name))
            .collect();
        let indexes = |columns: &[String]| -> Vec<usize> {
            columns
                .iter()
                .filter_map(|c| table.column_index(c))
                .collect()
        };
        let key_columns = table.key.columns();
        let mut row_key = key_columns.map(|columns| Distinct::new(indexes(columns), false));
        let mut unique_keys: Vec<(&ManifestUniqueKey, Distinct)> = table
            .unique_keys
            .iter()
            .map(|key| {
                (
                    key,
                    Distinct::new(indexes(&key.columns), key.nulls_not_distinct),
                )
            })
            .collect();
        // Columns whose values the keys check as they compare them, below.
        let mut in_a_key = vec![false; table.columns.len()];
        for key in row_key.iter().chain(unique_keys.iter().map(|(_, d)| d)) {
            for &c in key.columns() {
                in_a_key[c] = true;
            }
        }
        let file = self.display_path(table);
        let (mut scratch, mut tuple) = (Vec::new(), Vec::new());
        let refused =
            |line: u64, (c, why): unique::Refused| refused_value(&file, line, table, c, why);
        let outcome = self.scan(table, &mut problems, |line, fields| {
            for &c in compared {
                if fields[c] == b"\\N" || in_a_key[c] {
                    continue;
                }
                scratch.clear();
                types[c]
                    .canonical(fields[c], &mut scratch)
                    .map_err(|why| refused_value(&file, line, table, c, why))?;
            }
            if let Some(key) = &mut row_key {
                // The row key's columns are NOT NULL (a primary key, or a unique key chosen
                // because all its columns are): the target would refuse the row.
                if let Some(&c) = key.columns().iter().find(|&&c| fields[c] == b"\\N") {
                    return Err(Problem::in_file(
                        file.clone(),
                        Some(line),
                        Some(&table.columns[c].name),
                        format!(
                            "NULL in the key ({}), whose columns are NOT NULL: the target would \
                             refuse the row",
                            key_columns.unwrap_or_default().join(", ")
                        ),
                    )
                    .kind(ProblemKind::NullKey)
                    .table(table.qualified_name()));
                }
                if let Seen::Duplicate { first } = key
                    .see(line, fields, &types, &mut tuple)
                    .map_err(|r| refused(line, r))?
                {
                    let raw = unique::raw_text(key.columns(), fields);
                    let reads_as = unique::reads_as(&raw, &tuple);
                    return Err(duplicate_key(&file, line, first, table, &raw, &reads_as));
                }
            }
            for (manifest_key, key) in &mut unique_keys {
                if let Seen::Duplicate { first } = key
                    .see(line, fields, &types, &mut tuple)
                    .map_err(|r| refused(line, r))?
                {
                    let raw = unique::raw_text(key.columns(), fields);
                    let reads_as = unique::reads_as(&raw, &tuple);
                    return Err(duplicate_unique_value(
                        &file,
                        line,
                        first,
                        table,
                        manifest_key,
                        &raw,
                        &reads_as,
                    ));
                }
            }
            Ok(())
        })?;
        if let Some(sha256) = outcome {
            if sha256 != table.sha256 {
                // `seal` accepts an edit only once the file has no other problem.
                let then = match problems.is_empty() {
                    true => "",
                    false => "fix the problems above, then ",
                };
                problems.push(
                    Problem::in_file(
                        file.clone(),
                        None,
                        None,
                        format!(
                            "SHA-256 is {sha256} but the manifest says {} (the file was changed \
                             after export; if it was edited on purpose, {then}accept the edit \
                             with `seedsnap seal --dir {}`)",
                            table.sha256,
                            self.dir.display()
                        ),
                    )
                    .table(table.qualified_name()),
                );
            }
        }
        Ok(problems)
    }

    /// Reads one data file, checking header, line format and row count, and hands each valid
    /// row's raw fields to `visit` with its line number. Problems go to `problems` (at most a
    /// few per file, so a damaged file does not flood the report). Returns the file's SHA-256
    /// when it could be read to the end.
    pub fn scan(
        &self,
        table: &ManifestTable,
        problems: &mut Vec<Problem>,
        mut visit: impl FnMut(u64, &[&[u8]]) -> Result<(), Problem>,
    ) -> Result<Option<String>> {
        const MAX_PER_FILE: usize = 10;
        let path = self.file_path(table);
        let display = self.display_path(table);
        let problem = |line: Option<u64>, column: Option<String>, message: String| {
            Problem::in_file(display.clone(), line, column.as_deref(), message)
                .table(table.qualified_name())
        };
        let file = match super::open_regular(&path) {
            Ok(f) => f,
            Err(e) => {
                problems.push(problem(None, None, format!("cannot be read: {e}")));
                return Ok(None);
            }
        };
        let mut hashing = HashingReader {
            inner: file,
            hasher: Sha256::new(),
        };
        let mut reader = LineReader::new(BufReader::with_capacity(256 * 1024, &mut hashing));
        let expected_header = copy_text::header_line(table.columns.iter().map(|c| c.name.as_str()));
        let mut found = 0usize;
        let mut rows = 0u64;
        match reader.next_line()? {
            None => {
                problems.push(problem(
                    None,
                    None,
                    "is empty: it has no header line".into(),
                ));
                return Ok(None);
            }
            Some((_, Err(e))) => {
                problems.push(problem(Some(1), None, format!("header line {e}")));
                found += 1;
            }
            Some((_, Ok(header))) => {
                if [header, b"\n"].concat() != expected_header.as_bytes() {
                    // The usual culprits, named: an editor's byte order mark, CRLF line ends.
                    let why = if header.starts_with("\u{feff}".as_bytes()) {
                        " (it starts with a UTF-8 byte order mark, which an editor added: save \
                         the file without BOM)"
                    } else if header.ends_with(b"\r") {
                        " (it ends with a carriage return: was the file converted to CRLF line \
                         endings? git's core.autocrlf does that; see .gitattributes)"
                    } else {
                        ""
                    };
                    problems.push(problem(
                        Some(1),
                        None,
                        format!(
                            "header is {:?} but the manifest lists the columns {:?}{why}",
                            String::from_utf8_lossy(header),
                            expected_header.trim_end()
                        ),
                    ));
                    found += 1;
                }
            }
        }
        while let Some((number, line)) = reader.next_line()? {
            rows += 1;
            let checked = line.and_then(|line| copy_text::check_line(line, table.columns.len()));
            let result = match checked {
                Ok(fields) => visit(number, &fields),
                Err(e) => Err(problem(
                    Some(number),
                    e.field().map(|i| table.columns[i].name.clone()),
                    format!("line {e}").replacen("line ", "", 1),
                )),
            };
            if let Err(p) = result {
                found += 1;
                if found <= MAX_PER_FILE {
                    problems.push(p);
                }
            }
        }
        if found > MAX_PER_FILE {
            problems.push(problem(
                None,
                None,
                format!(
                    "and {} more lines in error after the first {MAX_PER_FILE} (not listed)",
                    found - MAX_PER_FILE
                ),
            ));
        }
        if rows != table.rows {
            problems.push(problem(
                None,
                None,
                format!(
                    "has {rows} rows but the manifest says {} (truncated or edited? rows added \
                     or removed on purpose are accepted with `seedsnap seal --dir {}`)",
                    table.rows,
                    self.dir.display()
                ),
            ));
        }
        drop(reader);
        Ok(Some(super::hex(&hashing.hasher.finalize())))
    }
}

/// Line `line` of `file` repeats the key of line `first` (`raw` as written on `line`,
/// `canonical` as PostgreSQL reads both). The message names the file of both lines, so that
/// it stays true when the lines are relocated to the snapshot and overlay files they came
/// from (see [`super::overlay`]).
fn duplicate_key(
    file: &str,
    line: u64,
    first: u64,
    table: &ManifestTable,
    raw: &str,
    reads_as: &str,
) -> Problem {
    let columns = table.key.columns().unwrap_or_default().join(", ");
    let key = match &table.key {
        crate::catalog::RowKey::Primary(_) => format!("primary key ({columns})"),
        _ => format!("unique key ({columns})"),
    };
    Problem::in_file(
        file,
        Some(line),
        None,
        format!(
            "duplicate key ({columns}) = ({raw}) of {}, first seen at {file} line {first}{reads_as}",
            table.qualified_name(),
        ),
    )
    .kind(ProblemKind::DuplicateKey)
    .table(table.qualified_name())
    .constraint(key)
    .related(file, Some(first))
    .hint("a table holds one row per key: remove one of the two rows or give it another key")
}

/// Line `line` repeats line `first`'s value of `key`, one of the table's other unique keys
/// (`reads_as`: see [`unique::reads_as`]).
fn duplicate_unique_value(
    file: &str,
    line: u64,
    first: u64,
    table: &ManifestTable,
    key: &ManifestUniqueKey,
    raw: &str,
    reads_as: &str,
) -> Problem {
    Problem::in_file(
        file,
        Some(line),
        None,
        format!(
            "duplicate value ({}) = ({raw}) of the unique key {} of {}, first seen at {file} line \
             {first}{reads_as}: the target would refuse the row",
            key.columns.join(", "),
            key.name,
            table.qualified_name(),
        ),
    )
    .kind(ProblemKind::DuplicateKey)
    .table(table.qualified_name())
    .constraint(key.name.clone())
    .related(file, Some(first))
    .hint("change the value on one of the two lines, or remove one")
}

/// A key value the type of its column (`table`'s column `c`) would refuse, on line `line`.
fn refused_value(file: &str, line: u64, table: &ManifestTable, c: usize, why: String) -> Problem {
    let column = &table.columns[c];
    Problem::in_file(
        file,
        Some(line),
        Some(&column.name),
        format!(
            "{why}: PostgreSQL would refuse this {} value, which the snapshot's keys compare",
            column.type_name
        ),
    )
    .kind(ProblemKind::InvalidValue)
    .table(table.qualified_name())
}

struct HashingReader {
    inner: File,
    hasher: Sha256,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_gone_process_left_is_removed() {
        let parent = tempfile::tempdir().unwrap();
        // No process has this id: the kernel's limit is 2^22.
        let gone = parent.path().join(".b-1.seedsnap-tmp-4194305");
        let mine = parent
            .path()
            .join(format!(".b-2.seedsnap-tmp-{}", std::process::id()));
        let other = parent.path().join("b-3");
        for dir in [&gone, &mine, &other] {
            fs::create_dir(dir).unwrap();
            fs::write(dir.join("f"), "x").unwrap();
        }
        remove_abandoned(
            parent.path(),
            "a test's directory",
            std::time::Duration::ZERO,
            |name| name.rsplit_once(".seedsnap-tmp-")?.1.parse().ok(),
        );
        assert!(!gone.exists() && mine.exists() && other.exists());
    }
    use crate::catalog::RowKey;
    use crate::snapshot::manifest::ManifestColumn;

    /// A deterministic stream of pseudo-random bytes (xorshift), biased towards the bytes that
    /// matter to the format: tabs, newlines, backslashes, `N`, carriage returns, NUL, non-ASCII.
    struct Bytes(u64);

    impl Bytes {
        fn next(&mut self) -> u8 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let interesting = b"\t\n\\N\r\0\xc3\xa9\xffab1";
            if self.0.is_multiple_of(3) {
                interesting[(self.0 >> 8) as usize % interesting.len()]
            } else {
                (self.0 >> 16) as u8
            }
        }
    }

    fn snapshot_with(dir: &Path, data: &[u8], key: RowKey) -> SnapshotDir {
        snapshot_with_unique(dir, data, key, Vec::new())
    }

    /// [`snapshot_with`] whose table has these other unique keys.
    fn snapshot_with_unique(
        dir: &Path,
        data: &[u8],
        key: RowKey,
        unique_keys: Vec<ManifestUniqueKey>,
    ) -> SnapshotDir {
        let columns = vec![
            ManifestColumn {
                name: "id".into(),
                type_name: "integer".into(),
                not_null: true,
                identity: None,
            },
            ManifestColumn {
                name: "v".into(),
                type_name: "text".into(),
                not_null: false,
                identity: None,
            },
        ];
        let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
        let tables = vec![ManifestTable {
            schema: "public".into(),
            name: "t".into(),
            file: "public.t.tsv".into(),
            columns,
            key,
            unique_keys,
            foreign_keys: vec![],
            rows: lines.saturating_sub(1),
            sampled: lines.saturating_sub(1),
            backfilled: 0,
            sha256: super::super::hex(&Sha256::digest(data)),
            partitions: Vec::new(),
        }];
        let manifest = Manifest::for_tests(tables, Some(100));
        std::fs::write(dir.join("public.t.tsv"), data).unwrap();
        std::fs::write(dir.join(MANIFEST_FILE), manifest.to_json()).unwrap();
        SnapshotDir::open(dir).unwrap()
    }

    /// Writes `files` as a snapshot into `dir` through [`SnapshotWriter`], as an export does;
    /// returns how many were linked unchanged from the snapshot it replaced.
    fn export_files(dir: &Path, files: &[(&str, &[u8])]) -> usize {
        let writer = SnapshotWriter::create(dir).unwrap();
        let mut tables = Vec::new();
        for (name, data) in files {
            let mut out = writer.table_file(name).unwrap();
            // In pieces, as a COPY arrives.
            for piece in data.chunks(7000) {
                out.write_all(piece).unwrap();
            }
            let (sha256, lines) = out.finish().unwrap();
            assert_eq!(sha256, super::super::hex(&Sha256::digest(data)));
            assert_eq!(lines, data.iter().filter(|&&b| b == b'\n').count() as u64);
            tables.push(ManifestTable {
                schema: "public".into(),
                name: name.trim_end_matches(".tsv").into(),
                file: name.to_string(),
                columns: vec![],
                key: RowKey::AllColumns,
                unique_keys: Vec::new(),
                foreign_keys: vec![],
                rows: lines,
                sampled: lines,
                backfilled: 0,
                sha256,
                partitions: Vec::new(),
            });
        }
        let unchanged = writer.unchanged_files();
        writer
            .commit(&Manifest::for_tests(tables, Some(100)))
            .unwrap();
        for (name, data) in files {
            assert_eq!(&fs::read(dir.join(name)).unwrap(), data, "{name}");
        }
        unchanged
    }

    fn inode(path: &Path) -> u64 {
        fs::metadata(path).unwrap().ino()
    }

    #[test]
    fn unchanged_files_are_linked_from_the_snapshot_they_replace_and_only_those() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("seed");
        let big: Vec<u8> = (0..HELD_BYTES + 10)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        let files: [(&str, &[u8]); 5] = [
            ("same.tsv", b"id\n1\n2\n"),
            ("changed.tsv", b"id\n1\n"),
            ("edited.tsv", b"id\nabc\n"),
            ("shared.tsv", b"id\n7\n"),
            ("big.tsv", &big),
        ];
        assert_eq!(export_files(&dir, &files), 0, "nothing to link from");
        let before: Vec<u64> = files.iter().map(|(n, _)| inode(&dir.join(n))).collect();

        // Someone edits a file in place (same size) and links another one elsewhere.
        fs::write(dir.join("edited.tsv"), b"id\nabd\n").unwrap();
        fs::hard_link(dir.join("shared.tsv"), root.path().join("elsewhere")).unwrap();
        let again: [(&str, &[u8]); 5] = [
            files[0],
            ("changed.tsv", b"id\n1\n3\n"),
            files[2],
            files[3],
            files[4],
        ];
        assert_eq!(export_files(&dir, &again), 1);
        let after: Vec<u64> = files.iter().map(|(n, _)| inode(&dir.join(n))).collect();
        assert_eq!(
            after[0], before[0],
            "an unchanged file is the previous one, linked"
        );
        assert_eq!(fs::metadata(dir.join("same.tsv")).unwrap().nlink(), 1);
        assert_ne!(after[1], before[1], "a changed file is written anew");
        assert_ne!(after[2], before[2], "a file edited by hand is not trusted");
        assert_ne!(
            after[3], before[3],
            "a file linked elsewhere is not shared further"
        );
        assert_eq!(fs::read(root.path().join("elsewhere")).unwrap(), b"id\n7\n");
        assert_ne!(
            after[4], before[4],
            "a file larger than the held bytes is written anew"
        );

        // A fresh directory links nothing.
        assert_eq!(export_files(&root.path().join("other"), &files), 0);
    }

    #[test]
    fn a_linked_file_written_to_during_the_export_fails_it_and_keeps_the_edit() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("seed");
        let data: &[u8] = b"id\n1\n";
        export_files(&dir, &[("t.tsv", data)]);

        let writer = SnapshotWriter::create(&dir).unwrap();
        let mut out = writer.table_file("t.tsv").unwrap();
        out.write_all(data).unwrap();
        out.finish().unwrap();
        assert_eq!(writer.unchanged_files(), 1);
        // Someone appends to the current snapshot's file, which the new one shares until the
        // swap.
        let mut old = fs::OpenOptions::new()
            .append(true)
            .open(dir.join("t.tsv"))
            .unwrap();
        old.write_all(b"2\n").unwrap();
        drop(old);
        let error = writer
            .commit(&Manifest::for_tests(vec![], Some(100)))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("t.tsv changed while the export ran"),
            "{error}"
        );
        assert_eq!(fs::read(dir.join("t.tsv")).unwrap(), b"id\n1\n2\n");
        let left: Vec<_> = fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary directory left behind");
    }

    #[test]
    fn a_snapshot_reached_through_a_symlink_is_never_linked_from() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("real");
        let data: &[u8] = b"id\n1\n";
        export_files(&real, &[("t.tsv", data)]);
        let via = root.path().join("via");
        std::os::unix::fs::symlink(&real, &via).unwrap();
        // The swap replaces the symlink and leaves `real` in place: sharing its inodes with
        // the new snapshot would let an edit of one change the other.
        assert_eq!(export_files(&via, &[("t.tsv", data)]), 0);
        assert_eq!(fs::metadata(real.join("t.tsv")).unwrap().nlink(), 1);
        assert_ne!(inode(&real.join("t.tsv")), inode(&via.join("t.tsv")));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_problems_carry_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Bytes(0x9E37_79B9_7F4A_7C15);
        for case in 0..400 {
            let len = (bytes.next() as usize * 4) % 900;
            let mut data = b"id\tv\n".to_vec();
            data.extend((0..len).map(|_| bytes.next()));
            let key = if case % 2 == 0 {
                RowKey::Primary(vec!["id".into()])
            } else {
                RowKey::AllColumns
            };
            let snapshot = snapshot_with(dir.path(), &data, key);
            let problems = snapshot.check_files().unwrap();
            let lines = data.split(|&b| b == b'\n').count() as u64;
            for problem in &problems {
                assert!(
                    problem.file().unwrap().ends_with("public.t.tsv"),
                    "{problem}"
                );
                if let Some(line) = problem.line() {
                    assert!(
                        line >= 1 && line <= lines,
                        "{problem} (file has {lines} lines)"
                    );
                }
            }
            // A file that is all valid lines with the right count has no problems; anything
            // else has at least one.
            let valid = data.ends_with(b"\n")
                && data[..data.len() - 1]
                    .split(|&b| b == b'\n')
                    .skip(1)
                    .all(|line| crate::snapshot::copy_text::check_line(line, 2).is_ok());
            if !valid {
                assert!(!problems.is_empty(), "case {case}: damage went unnoticed");
            }
        }
    }

    #[test]
    fn a_duplicate_of_another_unique_key_names_both_lines_the_key_and_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let unique = |nulls_not_distinct| {
            vec![ManifestUniqueKey {
                name: "t_v_key".into(),
                columns: vec!["v".into()],
                nulls_not_distinct,
            }]
        };
        let data = b"id\tv\n1\ta\n2\t\\N\n3\t\\N\n4\tb\n5\ta\n";
        let key = || RowKey::Primary(vec!["id".into()]);
        let snapshot = snapshot_with_unique(dir.path(), data, key(), unique(false));
        let problems = snapshot.check_files().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let problem = &problems[0];
        assert!(problem.file().unwrap().ends_with("public.t.tsv"));
        assert_eq!(problem.line(), Some(6));
        let text = problem.to_string();
        assert!(
            text.contains(
                "duplicate value (v) = (a) of the unique key t_v_key of public.t, first seen at"
            ),
            "{text}"
        );
        assert_eq!(problem.kind, ProblemKind::DuplicateKey);
        assert_eq!(problem.to_json()["related"]["line"], 2);
        assert_eq!(problem.to_json()["constraint"], "t_v_key");

        // NULLS NOT DISTINCT: the two NULLs collide too (the first problem of the file).
        let snapshot = snapshot_with_unique(dir.path(), data, key(), unique(true));
        let problems = snapshot.check_files().unwrap();
        let lines: Vec<Option<u64>> = problems.iter().map(|p| p.line()).collect();
        assert_eq!(lines, [Some(4), Some(6)], "{problems:?}");
        assert!(
            problems[0].to_string().contains("(v) = (\\N)"),
            "{problems:?}"
        );

        // Without the key (a manifest written before unique keys were recorded): no problem.
        let snapshot = snapshot_with(dir.path(), data, key());
        assert_eq!(snapshot.check_files().unwrap(), Vec::new());
    }

    #[test]
    fn listed_files_come_from_any_shape_of_manifest() {
        let listed = |text: &str| {
            listed_files(text.as_bytes()).map(|files| {
                let mut files: Vec<String> = files.into_iter().collect();
                files.sort();
                files
            })
        };
        let format = super::super::manifest::FORMAT;
        let usual = format!(
            r#"{{"format": "{format}", "x": [1, {{}}], "tables": [{{"file": "a.tsv", "rows": 1}}, {{"file": 3}}, {{}}]}}"#
        );
        assert_eq!(listed(&usual), Some(vec!["a.tsv".to_string()]));
        let odd = format!(r#"{{"format": "{format}", "tables": [7, {{"file": "b.tsv"}}]}}"#);
        assert_eq!(listed(&odd), Some(vec!["b.tsv".to_string()]));
        let no_tables = format!(r#"{{"format": "{format}", "tables": "none"}}"#);
        assert_eq!(listed(&no_tables), Some(Vec::new()));
        assert_eq!(listed(r#"{"format": "other", "tables": []}"#), None);
        assert_eq!(listed("[1]"), None);
        assert_eq!(listed("{"), None);
    }

    #[test]
    fn hostile_manifests_are_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = snapshot_with(dir.path(), b"id\tv\n1\tx\n", RowKey::AllColumns);
        let mut text = snapshot.manifest.to_json();
        text = text.replace("\"public.t.tsv\"", "\"../../etc/passwd\"");
        std::fs::write(dir.path().join(MANIFEST_FILE), &text).unwrap();
        let error = SnapshotDir::open(dir.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("it must be \"public.t.tsv\""), "{error}");
        for garbage in [
            &b""[..],
            b"{",
            b"[]",
            b"\xff\xfe",
            b"{\"format\": \"seedsnap-snapshot\"}",
        ] {
            std::fs::write(dir.path().join(MANIFEST_FILE), garbage).unwrap();
            assert!(SnapshotDir::open(dir.path()).is_err());
        }
    }
}
