//! The snapshot format: a directory of one TSV file per table plus `manifest.json`.
//!
//! - [`file_name`]: table names to safe, unique, readable file names;
//! - [`copy_text`]: PostgreSQL's COPY text format, checked and decoded line by line;
//! - [`manifest`]: what the manifest holds and how it is checked;
//! - [`directory`]: writing a directory atomically, and reading one back with every problem
//!   reported at once;
//! - [`table_file`]: one table's data file and manifest entry, written from a database;
//! - [`companions`]: `.gitattributes`, `.gitignore`, READMEs and the local source identity
//!   beside the data;
//! - [`key_values`]: key values brought to a canonical form of their type, to compare them
//!   as PostgreSQL does;
//! - [`unique`]: the row key's and the other unique keys' values kept distinct in a file;
//! - [`overlay`]: rows added by hand in a directory an export never writes, merged at import;
//! - [`skip`]: tables and columns left out of an import explicitly (`--skip-missing`);
//! - [`retired`]: rows a previous snapshot had that a new one no longer has (refresh).
//!
//! Rows are stored exactly as `COPY … TO STDOUT` printed them under pinned session settings, so
//! every PostgreSQL type round-trips without seedsnap decoding a single value.

pub mod companions;
pub mod copy_text;
pub mod directory;
pub mod file_name;
pub mod key_values;
pub mod keys;
pub mod manifest;
pub mod overlay;
pub mod retired;
pub mod skip;
pub mod table_file;
pub mod unique;

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

pub use crate::problem::Problem;
pub use directory::{SnapshotDir, SnapshotWriter};
pub use manifest::{Manifest, ManifestTable};

/// Opens a file of a snapshot (or of an overlay) for reading, refusing anything that is not a
/// regular file in place: a symbolic link (a snapshot comes from git, where a pull request
/// can bring a link to any file of the machine, or to `/dev/zero`), a device, a FIFO. The
/// link is never followed (`O_NOFOLLOW`), so nothing outside the directory is read, not even
/// a first line for an error message; a FIFO is not waited on (`O_NONBLOCK`, which changes
/// nothing for a regular file). The error says what the file is instead.
pub fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let refused = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {what}; a snapshot's files must be regular files inside its directory \
                 (replace it with the file itself)"
            ),
        )
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refused("a symbolic link"),
            _ => e,
        })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(refused(if kind.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, a FIFO or a socket)"
        }));
    }
    Ok(file)
}

/// A reader that hashes every byte read through it, so that what a load sent can be checked
/// against the digest the manifest records ([`LoadedBytes::differs_from`]): the rows loaded are then
/// the very rows the offline check read before the load, even if the file changed between the
/// two reads.
pub struct LoadedBytes<R> {
    pub inner: R,
    hasher: sha2::Sha256,
}

impl<R> LoadedBytes<R> {
    /// `inner`, whose bytes so far (`already`: a header read before) count too.
    pub fn new(inner: R, already: &[u8]) -> Self {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(already);
        LoadedBytes { inner, hasher }
    }

    /// The SHA-256 of every byte read, when it differs from `expected` (lowercase hex).
    pub fn differs_from(self, expected: &str) -> Option<String> {
        use sha2::Digest;
        let found = hex(&self.hasher.finalize());
        (found != expected).then_some(found)
    }
}

impl<R: io::Read> io::Read for LoadedBytes<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The SHA-256 of `bytes` (a whole file), when it differs from `expected` (lowercase hex).
pub fn digest_differs(bytes: &[u8], expected: &str) -> Option<String> {
    LoadedBytes::new(io::empty(), bytes).differs_from(expected)
}

/// The error of a file whose bytes, as a load read them, no longer have the digest the
/// manifest records and the check before the load found.
pub fn changed_while_loading(path: &Path, found: &str, expected: &str) -> String {
    format!(
        "{} changed while the import read it: its SHA-256 was {expected} when it was checked, \
         as the manifest says, and {found} as it loaded (run the import again once nothing \
         writes to the snapshot)",
        path.display()
    )
}

/// Lowercase hex of a SHA-256 digest.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        text.push(DIGITS[usize::from(b >> 4)] as char);
        text.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn loaded_bytes_are_hashed_with_what_was_read_before() {
        use sha2::Digest;
        let whole = b"id\tname\n1\ta\n2\tb\n";
        let expected = super::hex(&sha2::Sha256::digest(whole));
        let (header, rows) = whole.split_at(8);
        let mut loaded = super::LoadedBytes::new(rows, header);
        std::io::copy(&mut loaded, &mut std::io::sink()).unwrap();
        assert_eq!(loaded.differs_from(&expected), None);
        let mut changed = super::LoadedBytes::new(&b"1\ta\n2\tc\n"[..], header);
        std::io::copy(&mut changed, &mut std::io::sink()).unwrap();
        assert!(changed.differs_from(&expected).is_some());
    }

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        assert_eq!(super::hex(&[]), "");
    }
}
