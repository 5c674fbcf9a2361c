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
pub mod keys;
pub mod manifest;
pub mod overlay;
pub mod retired;
pub mod skip;
pub mod table_file;

pub use crate::problem::Problem;
pub use directory::{SnapshotDir, SnapshotWriter};
pub use manifest::{Manifest, ManifestTable};

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
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        assert_eq!(super::hex(&[]), "");
    }
}
