//! Files that live in a snapshot directory beside the data: git settings, a README, and the
//! exporting machine's record of which cluster the snapshot came from.
//!
//! - `.gitattributes` (`*.tsv -text`): git must store and check out the data files byte for
//!   byte; with `core.autocrlf=true` it would otherwise turn every line ending into CRLF and
//!   break every checksum. An export writes it when the directory has none.
//! - `.gitignore`: keeps [`IDENTITY_FILE`] out of the repository.
//! - [`IDENTITY_FILE`]: the source cluster's system identifier. The source-equals-target guard
//!   needs it, but every fresh throwaway cluster has a new one, so in the committed
//!   `manifest.json` it would change on every re-export of unchanged data. It stays on the
//!   machine that exported; a snapshot pulled from git has no such file, and then the guard
//!   relies on the target name rule alone (see [`crate::safety`]).
//! - `README`, `README.md`, …: a team's notes about the snapshot.
//!
//! The reader tolerates these files, and an export carries the ones a person may have edited
//! (`.gitattributes`, `.gitignore`, READMEs) over into the new directory.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const GITATTRIBUTES: &str = ".gitattributes";
pub const GITIGNORE: &str = ".gitignore";
pub const IDENTITY_FILE: &str = ".seedsnap-source.json";

const GITATTRIBUTES_TEXT: &str = "\
# Written by seedsnap export. The data files are checked byte for byte (SHA-256 in
# manifest.json): git must never convert their line endings (core.autocrlf, eol).
*.tsv -text
";

const GITIGNORE_TEXT: &str = "\
# Written by seedsnap export: which cluster this machine exported from (it changes with every
# new cluster, so it stays out of the repository).
.seedsnap-source.json
";

/// Whether a file in a snapshot directory is one of these companions (not data).
pub fn is_companion(name: &str) -> bool {
    matches!(name, GITATTRIBUTES | GITIGNORE | IDENTITY_FILE) || is_readme(name)
}

fn is_readme(name: &str) -> bool {
    name.get(..6)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("readme"))
        && !name.contains('/')
}

/// Which cluster and database an export read, as the exporting machine records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIdentity {
    pub system_identifier: String,
    pub database: String,
}

/// Writes the companions of a new snapshot directory: the ones a person may have edited in
/// the `previous` directory are carried over, the git files are written when missing, and the
/// identity file records `identity` (when known).
pub fn write(new_dir: &Path, previous: &Path, identity: Option<&SourceIdentity>) -> Result<()> {
    if previous.is_dir() {
        for entry in fs::read_dir(previous)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_companion(&name) && name != IDENTITY_FILE && entry.file_type()?.is_file() {
                fs::copy(entry.path(), new_dir.join(&name))
                    .with_context(|| format!("carrying {} over", entry.path().display()))?;
            }
        }
    }
    for (name, text) in [
        (GITATTRIBUTES, GITATTRIBUTES_TEXT),
        (GITIGNORE, GITIGNORE_TEXT),
    ] {
        let path = new_dir.join(name);
        if !path.exists() {
            fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    if let Some(identity) = identity {
        let mut text = serde_json::to_string_pretty(identity)?;
        text.push('\n');
        fs::write(new_dir.join(IDENTITY_FILE), text)?;
    }
    Ok(())
}

/// The identity the exporting machine recorded in `dir`, if any and readable.
pub fn read_identity(dir: &Path) -> Option<SourceIdentity> {
    let bytes = fs::read(dir.join(IDENTITY_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companions_are_recognised() {
        for name in [
            ".gitattributes",
            ".gitignore",
            "README",
            "README.md",
            "readme.txt",
        ] {
            assert!(is_companion(name), "{name}");
        }
        for name in ["app.users.tsv", "manifest.json", "notes.txt", "READ"] {
            assert!(!is_companion(name), "{name}");
        }
    }

    #[test]
    fn edited_companions_are_carried_over_and_defaults_written() {
        let old = tempfile::tempdir().unwrap();
        let new = tempfile::tempdir().unwrap();
        fs::write(old.path().join("README.md"), "ours").unwrap();
        fs::write(old.path().join(GITIGNORE), "custom\n").unwrap();
        fs::write(old.path().join(IDENTITY_FILE), "{}").unwrap();
        let identity = SourceIdentity {
            system_identifier: "42".into(),
            database: "demo".into(),
        };
        write(new.path(), old.path(), Some(&identity)).unwrap();
        assert_eq!(
            fs::read_to_string(new.path().join("README.md")).unwrap(),
            "ours"
        );
        assert_eq!(
            fs::read_to_string(new.path().join(GITIGNORE)).unwrap(),
            "custom\n"
        );
        assert!(fs::read_to_string(new.path().join(GITATTRIBUTES))
            .unwrap()
            .contains("*.tsv -text"));
        assert_eq!(read_identity(new.path()), Some(identity));
    }
}
