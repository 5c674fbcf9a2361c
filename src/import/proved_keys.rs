//! The foreign keys of the target that the snapshot's own files prove, which the fast path
//! ([`super::fast_path`]) then does not count again in the target.
//!
//! On the fast path every loaded table was empty before the load, is locked, and stores its
//! file's rows verbatim (no rule, no user trigger left on); each file's bytes, as they load,
//! have the digest the check found before the load ([`crate::snapshot::LoadedBytes`]). After
//! the load, a loaded table holds exactly its file's rows. So a key between two loaded tables
//! holds in the target when every row of the child's file that needs a parent through it has
//! one in the parent's file ([`crate::snapshot::keys::unresolved`], run beside the load), and
//! when two values the files hold equal offline are equal to the key's equality operator too.
//! That last step is why a key is proved only when, for each of its column pairs:
//! - the child's and the parent's columns have the same type and modifier in the target, and
//!   the snapshot recorded that very type for both (the same text read by the same input
//!   function in one transaction is one value, and a B-tree equality finds a value equal to
//!   itself); a `real` child of a `double precision` parent, a `numeric(5,1)` child of a
//!   `numeric(5,0)` parent, or a column whose type changed since the export is counted;
//! - the offline comparison only merges spellings that the type's input reads as one value
//!   (integers, `numeric` with its modifier, `uuid`, `boolean`, `character(n)`,
//!   `character varying(n)`, and the exact text for every other type), which rules out
//!   `citext`: it folds case offline as a UTF-8 locale does, and a database whose `LC_CTYPE`
//!   is `C` does not;
//! - the snapshot fills both columns (no default or generated value stands in for the file's).
//!
//! The key must also match a key of the manifest column for column, apply to every row (no
//! condition, not declared on partitions) and be `MATCH SIMPLE` in the target (a `MATCH FULL`
//! key never takes the fast path). Every other key, deferrable unique keys and keys to tables
//! the snapshot does not carry included, is counted as before.
//!
//! Resolving the keys in the files reads every file again, on the offline check's thread
//! ([`super::pending_check`]). A snapshot whose keys have fewer than [`BESIDE_THE_LOAD_FROM`]
//! values to check is resolved only for a superuser's session (the fast path is then all but
//! sure), asked for as soon as it connects, while the import reads the target's catalog: on
//! the demo (31 keys, 19,199 values) that is mostly done before the first row is sent (17–25
//! ms of one thread), and the counts it spares took 8–14 ms. A role granted `SET` on
//! `session_replication_role` learns it may take the fast path only just before the load,
//! too late for that: its small snapshot's keys are counted. A larger snapshot is resolved
//! while the rows load, once the fast path is taken: before it, it would hold up the load.

use std::collections::HashSet;

use crate::catalog::{ForeignKey, KeyKind, MatchRule, QualifiedName};
use crate::snapshot::key_values::KeyType;
use crate::snapshot::manifest::ManifestForeignKey;

use super::Layout;

/// The values the snapshot's keys must have checked (each key counts the rows of its table)
/// from which the files are resolved beside the load rather than before it. Resolving the
/// demo's 19,199 values beside the load made it 10–15 ms longer (alternated runs on the 2-core
/// bench machine), and resolving before it takes about what the import's connection and
/// catalog wait; on the 1,000-table schema (2,053 keys, 694,313 values) resolving takes a few
/// hundred ms, which the load hides.
pub const BESIDE_THE_LOAD_FROM: u64 = 100_000;

/// The keys of [`crate::catalog::Catalog::foreign_keys`] proved by the files, by address.
#[derive(Debug, Default)]
pub struct ProvedKeys(HashSet<usize>);

impl ProvedKeys {
    pub fn contains(&self, fk: &ForeignKey) -> bool {
        self.0.contains(&(fk as *const ForeignKey as usize))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// One column pair of a key, as the target and the snapshot type it.
#[derive(Debug, Clone, Copy)]
pub struct ColumnPair<'a> {
    pub child_type: &'a str,
    pub parent_type: &'a str,
    pub child_snapshot_type: &'a str,
    pub parent_snapshot_type: &'a str,
    /// The snapshot fills both columns.
    pub filled: bool,
}

/// Whether values of these column pairs that the files hold equal are equal in the target
/// (see the module's documentation).
pub fn equal_offline_is_equal(pairs: &[ColumnPair<'_>]) -> bool {
    pairs.iter().all(|p| {
        p.filled
            && p.child_type == p.parent_type
            && p.child_snapshot_type == p.child_type
            && p.parent_snapshot_type == p.parent_type
            && KeyType::of(p.child_type) != KeyType::CaseInsensitive
    })
}

/// Whether the manifest's key `mfk` of the child is the target's key `fk` (same columns, same
/// parent, same referenced columns) and applies to every row.
fn same_key(fk: &ForeignKey, mfk: &ManifestForeignKey, parent: &QualifiedName) -> bool {
    mfk.columns == fk.columns
        && mfk.referenced_columns == fk.parent_columns
        && mfk.references == *parent
        && mfk.when.is_empty()
        && mfk.partitions.is_empty()
}

/// The declared keys between loaded tables that the files prove, given `resolved` (by
/// manifest table, then key: whether the key resolves inside the files).
pub fn proved_keys(layout: &Layout<'_>, resolved: &[Vec<bool>]) -> ProvedKeys {
    let catalog = layout.catalog;
    let mut proved = HashSet::new();
    for fk in &catalog.foreign_keys {
        if !matches!(fk.kind, KeyKind::Declared(_))
            || fk.partition.is_some()
            || fk.match_rule != MatchRule::Simple
        {
            continue;
        }
        let (Some(&child_m), Some(&parent_m)) = (
            layout.by_target.get(&fk.child),
            layout.by_target.get(&fk.parent),
        ) else {
            continue;
        };
        let child_file = &layout.manifest.tables[child_m];
        let parent_file = &layout.manifest.tables[parent_m];
        let parent_name = parent_file.qualified_name();
        let resolves = child_file.foreign_keys.iter().enumerate().any(|(k, mfk)| {
            same_key(fk, mfk, &parent_name)
                && resolved
                    .get(child_m)
                    .and_then(|keys| keys.get(k))
                    .copied()
                    .unwrap_or(false)
        });
        if !resolves {
            continue;
        }
        let (child, parent) = (&catalog.tables[fk.child], &catalog.tables[fk.parent]);
        let type_of = |table: &crate::catalog::Table, column: &str| {
            table
                .column(column)
                .map(|c| c.type_name.to_string())
                .unwrap_or_default()
        };
        let snapshot_type = |file: &crate::snapshot::ManifestTable, column: &str| {
            file.column_index(column)
                .map(|i| file.columns[i].type_name.clone())
                .unwrap_or_default()
        };
        let types: Vec<[String; 4]> = fk
            .columns
            .iter()
            .zip(&fk.parent_columns)
            .map(|(c, p)| {
                [
                    type_of(child, c),
                    type_of(parent, p),
                    snapshot_type(child_file, c),
                    snapshot_type(parent_file, p),
                ]
            })
            .collect();
        let pairs: Vec<ColumnPair<'_>> = fk
            .columns
            .iter()
            .zip(&fk.parent_columns)
            .zip(&types)
            .map(|((c, p), [ct, pt, cs, ps])| ColumnPair {
                child_type: ct,
                parent_type: pt,
                child_snapshot_type: cs,
                parent_snapshot_type: ps,
                filled: layout.fills(fk.child, c) && layout.fills(fk.parent, p),
            })
            .collect();
        if equal_offline_is_equal(&pairs) {
            proved.insert(fk as *const ForeignKey as usize);
        }
    }
    ProvedKeys(proved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair<'a>(child: &'a str, parent: &'a str) -> ColumnPair<'a> {
        ColumnPair {
            child_type: child,
            parent_type: parent,
            child_snapshot_type: child,
            parent_snapshot_type: parent,
            filled: true,
        }
    }

    #[test]
    fn columns_of_one_type_recorded_so_by_the_snapshot_prove_equality() {
        assert!(equal_offline_is_equal(&[pair("integer", "integer")]));
        assert!(equal_offline_is_equal(&[
            pair("numeric(5,1)", "numeric(5,1)"),
            pair("text", "text"),
            pair("timestamp with time zone", "timestamp with time zone"),
        ]));
    }

    #[test]
    fn types_that_differ_between_the_ends_or_since_the_export_do_not() {
        // '0.1' is one real and another double precision: equal text, unequal values.
        assert!(!equal_offline_is_equal(&[pair("real", "double precision")]));
        assert!(!equal_offline_is_equal(&[pair(
            "numeric(5,1)",
            "numeric(5,0)"
        )]));
        assert!(!equal_offline_is_equal(&[pair("integer", "bigint")]));
        let mut changed = pair("integer", "integer");
        changed.child_snapshot_type = "text";
        assert!(!equal_offline_is_equal(&[changed]));
        let mut changed = pair("integer", "integer");
        changed.parent_snapshot_type = "bigint";
        assert!(!equal_offline_is_equal(&[pair("text", "text"), changed]));
    }

    #[test]
    fn case_folded_types_and_columns_the_snapshot_does_not_fill_do_not() {
        assert!(!equal_offline_is_equal(&[pair("citext", "citext")]));
        assert!(!equal_offline_is_equal(&[pair("ext.citext", "ext.citext")]));
        let mut default = pair("integer", "integer");
        default.filled = false;
        assert!(!equal_offline_is_equal(&[default]));
    }
}
