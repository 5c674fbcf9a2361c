//! Whether every foreign-key value of a snapshot has its parent row in the snapshot: the
//! offline check `verify`, `seal` and an overlay's merge make, over the files alone.
//!
//! The manifest's keys are resolved once (column indexes, conditions, partition coverage, the
//! MATCH rule of [`MatchRule`]); each parent file is read once for all the tuples it must hold,
//! and each child file once for all its keys. Values are compared as PostgreSQL compares them,
//! in the canonical form of their column's type (see [`super::key_values`]: `1.50` finds the
//! `numeric` parent `1.5`, an upper-case UUID its lower-case parent); types that cannot be
//! brought to one offline are compared as their exact text. The first few offenders of each
//! key are kept with file and line, as the file spells them.
//!
//! Memory: the referenced tuples of every parent file are held at once, compactly (see
//! `Tuples`): a one-column integer key costs about two bits to two bytes per row in a
//! bitmap, any other tuple its bytes plus an 8-byte offset, instead of a hash-set entry with two
//! heap allocations per tuple (`verify` of the 3,000-table benchmark's snapshot: peak RSS
//! 127 MB before, 24 MB after, most of it now the manifest and the binary).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use anyhow::Result;
use serde::Serialize;

use super::copy_text;
use super::key_values::KeyType;
use super::manifest::{Manifest, ManifestForeignKey, ManifestTable};
use super::SnapshotDir;
use crate::catalog::MatchRule;
use crate::compact::{Bitmap64, ByteSet};
use crate::problem::{Problem, ProblemKind};

const EXAMPLES_PER_KEY: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct UnresolvedKey {
    pub table: String,
    pub foreign_key: String,
    pub references: String,
    pub rows: u64,
    pub examples: Vec<String>,
    /// The file and line of the first row whose key does not resolve.
    #[serde(skip)]
    pub first: Option<(String, u64)>,
}

/// The keys of a snapshot that do not resolve, of `checked` keys in all.
pub struct Unresolved {
    pub checked: usize,
    pub keys: Vec<UnresolvedKey>,
    /// By manifest table, then by its foreign key (the manifest's order): whether every row of
    /// the table that needs a parent through that key has one in the snapshot.
    pub resolved: Vec<Vec<bool>>,
}

/// Every foreign key of every row of a snapshot whose files passed
/// [`SnapshotDir::check_files`], against the rows of its parent.
pub fn unresolved(snapshot: &SnapshotDir) -> Result<Unresolved> {
    let manifest = &snapshot.manifest;
    let keys = resolve_keys(manifest);
    let present = present_tuples(snapshot, &keys)?;
    let mut unresolved = Vec::new();
    let mut resolved = Vec::with_capacity(keys.len());
    for (table, keys) in manifest.tables.iter().zip(&keys) {
        let found = check_table(snapshot, table, keys, &present)?;
        resolved.push(found.iter().map(|k| k.rows == 0).collect());
        unresolved.extend(found.into_iter().filter(|k| k.rows > 0));
    }
    Ok(Unresolved {
        checked: keys.iter().map(Vec::len).sum(),
        keys: unresolved,
        resolved,
    })
}

/// The unresolved keys, one a line with their examples under them.
pub fn describe(unresolved: &[UnresolvedKey]) -> String {
    let mut text = format!(
        "{} foreign key(s) do not resolve inside the snapshot:",
        unresolved.len()
    );
    for key in unresolved {
        text.push_str(&format!(
            "\n  - {} ({}) -> {}: {} rows",
            key.table, key.foreign_key, key.references, key.rows
        ));
        for example in &key.examples {
            text.push_str(&format!("\n      {example}"));
        }
    }
    text
}

/// One problem per key that does not resolve, placed at its first row, for an error that
/// refuses them (exit 4: `seal`, an import's overlay).
pub fn problems(unresolved: &[UnresolvedKey]) -> Vec<Problem> {
    unresolved
        .iter()
        .map(|key| {
            let (file, line) = key
                .first
                .clone()
                .map_or((String::new(), None), |(file, line)| (file, Some(line)));
            // Each example keeps its file: an overlay's check rewrites `<file> line N` of the
            // merged copy to the file and line the row came from.
            let message = format!(
                "{} row(s) of {} have no parent row in {} ({}): {}",
                key.rows,
                key.table,
                key.references,
                key.foreign_key,
                key.examples.join("; ")
            );
            match file.is_empty() {
                true => Problem::unplaced(message),
                false => Problem::in_file(file, line, None, message),
            }
            .kind(ProblemKind::UnresolvedForeignKey)
            .table(&key.table)
            .constraint(&key.foreign_key)
            .hint(format!(
                "add the parent rows to {}, or remove the rows that reference them",
                key.references
            ))
        })
        .collect()
}

/// The data rows (0-based, in file order) a key covers: `None` when it covers every row.
pub fn covered_rows(table: &ManifestTable, fk: &ManifestForeignKey) -> Option<Vec<Range<u64>>> {
    if fk.partitions.is_empty() {
        return None;
    }
    let mut ranges = Vec::new();
    let mut start = 0;
    for group in &table.partitions {
        if fk.partitions.contains(&group.partition) {
            ranges.push(start..start + group.rows);
        }
        start += group.rows;
    }
    Some(ranges)
}

/// The referenced tuples present in one parent file for one column set, compactly: each
/// field in the canonical form of its column's type (see [`super::key_values`]), a one-column
/// tuple whose form is a canonical decimal (`0`, `42`; no sign, no leading zero) as that
/// integer in a bitmap, every other tuple as its fields joined by tabs (a canonical form holds
/// no raw tab) in a sorted arena. Only one spelling of each number takes the integer path, so
/// the two never mix.
#[derive(Default)]
struct Tuples {
    integers: Bitmap64,
    others: ByteSet,
}

/// A tuple as [`Tuples`] keeps it.
enum Packed<'a> {
    Integer(u64),
    Bytes(&'a [u8]),
}

/// The integer a field spells canonically (see [`Tuples`]), if it does.
fn canonical_integer(field: &[u8]) -> Option<u64> {
    match field {
        [b'0'] => Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {
            std::str::from_utf8(field).ok()?.parse().ok()
        }
        _ => None,
    }
}

/// Appends the canonical form of `field` (of a column of type `kind`) to `out`: the field itself
/// when it is not a value of its type, which the file check reports before keys are compared.
fn push_canonical(kind: KeyType, field: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    if kind.canonical(field, out).is_err() {
        out.truncate(start);
        out.extend_from_slice(field);
    }
}

/// `fields` at `columns` (of the types `types`, by column) in canonical form, joined into
/// `scratch`.
fn pack<'a>(
    columns: &[usize],
    types: &[KeyType],
    fields: &[&[u8]],
    scratch: &'a mut Vec<u8>,
) -> Packed<'a> {
    scratch.clear();
    for (i, &c) in columns.iter().enumerate() {
        if i > 0 {
            scratch.push(b'\t');
        }
        push_canonical(types[c], fields[c], scratch);
    }
    match (columns.len(), canonical_integer(scratch)) {
        (1, Some(value)) => Packed::Integer(value),
        _ => Packed::Bytes(scratch),
    }
}

impl Tuples {
    fn insert(
        &mut self,
        columns: &[usize],
        types: &[KeyType],
        fields: &[&[u8]],
        scratch: &mut Vec<u8>,
    ) {
        match pack(columns, types, fields, scratch) {
            Packed::Integer(value) => {
                self.integers.insert(value);
            }
            Packed::Bytes(bytes) => self.others.push(bytes),
        }
    }

    /// Readies the set for [`Tuples::contains`].
    fn seal(&mut self) {
        self.integers.optimize();
        self.others.seal();
    }

    fn contains(
        &self,
        columns: &[usize],
        types: &[KeyType],
        fields: &[&[u8]],
        scratch: &mut Vec<u8>,
    ) -> bool {
        match pack(columns, types, fields, scratch) {
            Packed::Integer(value) => self.integers.contains(value),
            Packed::Bytes(bytes) => self.others.contains(bytes),
        }
    }
}

/// How the values of each column of `table` compare.
fn column_types(table: &ManifestTable) -> Vec<KeyType> {
    table
        .columns
        .iter()
        .map(|c| KeyType::of(&c.type_name))
        .collect()
}

/// The tuples present in parent files, by (parent table, column set).
type Present = HashMap<(usize, Vec<usize>), Tuples>;

/// A foreign key of the (validated) manifest with everything a row check needs resolved once:
/// column indexes in the child's and the parent's files, the condition's values in canonical
/// form (see [`super::key_values`]), the rows a key declared on partitions covers, and its
/// MATCH rule.
struct Key<'m> {
    fk: &'m ManifestForeignKey,
    parent: usize,
    columns: Vec<usize>,
    parent_columns: Vec<usize>,
    /// A polymorphic key applies to a row only when its discriminator matches.
    condition: Vec<(usize, Vec<u8>)>,
    /// A key declared on partitions applies only to the rows of its leaves.
    covered: Option<Vec<Range<u64>>>,
    rule: MatchRule,
    /// The types the child's fields are read as when their parent is looked up: the child's
    /// own, but the referenced columns' types at the key's columns, since the key compares
    /// with the parent type's equality (a `varchar` value `ab ` finds the `character(3)`
    /// parent `ab`).
    lookup_types: Vec<KeyType>,
}

impl Key<'_> {
    /// Whether the row on file line `line` (line 1 is the header) of a table whose columns
    /// have the types `types` must have a parent row.
    fn needs_parent(
        &self,
        line: u64,
        fields: &[&[u8]],
        types: &[KeyType],
        scratch: &mut Vec<u8>,
    ) -> bool {
        let row = line.saturating_sub(2);
        let in_scope = self
            .covered
            .as_ref()
            .is_none_or(|ranges| ranges.iter().any(|r| r.contains(&row)));
        let applies = in_scope
            && self.condition.iter().all(|(c, value)| {
                scratch.clear();
                push_canonical(types[*c], fields[*c], scratch);
                scratch == value
            });
        let nulls = self
            .columns
            .iter()
            .filter(|&&c| fields[c] == b"\\N")
            .count();
        applies && self.rule.needs_parent(nulls, self.columns.len())
    }
}

/// Every foreign key of the manifest, resolved, by child table (the manifest's order).
fn resolve_keys(manifest: &Manifest) -> Vec<Vec<Key<'_>>> {
    let index_of: HashMap<_, usize> = manifest
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.qualified_name(), i))
        .collect();
    let column = |table: &ManifestTable, name: &str| {
        table.column_index(name).expect("checked by the manifest")
    };
    manifest
        .tables
        .iter()
        .map(|table| {
            table
                .foreign_keys
                .iter()
                .map(|fk| {
                    let parent = index_of[&fk.references];
                    let parent_table = &manifest.tables[parent];
                    Key {
                        fk,
                        parent,
                        columns: fk.columns.iter().map(|c| column(table, c)).collect(),
                        parent_columns: fk
                            .referenced_columns
                            .iter()
                            .map(|c| column(parent_table, c))
                            .collect(),
                        condition: fk
                            .when
                            .iter()
                            .map(|c| {
                                let index = column(table, &c.column);
                                let kind = KeyType::of(&table.columns[index].type_name);
                                let mut value = Vec::new();
                                let field = copy_text::encode_field(&c.value);
                                push_canonical(kind, field.as_bytes(), &mut value);
                                (index, value)
                            })
                            .collect(),
                        covered: covered_rows(table, fk),
                        rule: MatchRule::of(fk.match_full),
                        lookup_types: lookup_types(table, parent_table, fk),
                    }
                })
                .collect()
        })
        .collect()
}

/// The types of a child table's columns, with those of the key's columns replaced by the
/// types of the parent columns they reference (see [`Key::lookup_types`]).
fn lookup_types(
    child: &ManifestTable,
    parent: &ManifestTable,
    fk: &ManifestForeignKey,
) -> Vec<KeyType> {
    let mut types = column_types(child);
    for (column, referenced) in fk.columns.iter().zip(&fk.referenced_columns) {
        if let (Some(c), Some(p)) = (child.column_index(column), parent.column_index(referenced)) {
            types[c] = KeyType::of(&parent.columns[p].type_name);
        }
    }
    types
}

/// The referenced tuples present in each parent file, by (parent, column set): one pass per
/// parent file for all its referenced column sets. A tuple with a NULL is never a parent.
fn present_tuples(snapshot: &SnapshotDir, keys: &[Vec<Key<'_>>]) -> Result<Present> {
    let mut wanted: BTreeMap<usize, Vec<&Vec<usize>>> = BTreeMap::new();
    for key in keys.iter().flatten() {
        let sets = wanted.entry(key.parent).or_default();
        if !sets.contains(&&key.parent_columns) {
            sets.push(&key.parent_columns);
        }
    }
    let mut present = HashMap::new();
    let (mut scratch, mut joined) = (Vec::new(), Vec::new());
    for (parent, sets) in wanted {
        // An import stopped by Ctrl-C does not wait for the rest of its proof (see
        // `import/pending_check.rs`); the other commands end at the signal itself.
        crate::interrupt::check()?;
        let types = column_types(&snapshot.manifest.tables[parent]);
        let mut found: Vec<Tuples> = sets.iter().map(|_| Tuples::default()).collect();
        snapshot.scan(
            &snapshot.manifest.tables[parent],
            &mut scratch,
            |_, fields| {
                for (set, columns) in found.iter_mut().zip(&sets) {
                    if columns.iter().all(|&c| fields[c] != b"\\N") {
                        set.insert(columns, &types, fields, &mut joined);
                    }
                }
                Ok(())
            },
        )?;
        for (mut set, columns) in found.into_iter().zip(sets) {
            set.seal();
            present.insert((parent, columns.clone()), set);
        }
    }
    Ok(present)
}

/// Each key of one table (in order) with the rows whose values have no parent row (none:
/// `rows` is 0): one pass over its file for all of them.
fn check_table(
    snapshot: &SnapshotDir,
    table: &ManifestTable,
    keys: &[Key<'_>],
    present: &Present,
) -> Result<Vec<UnresolvedKey>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let parents: Vec<&Tuples> = keys
        .iter()
        .map(|k| &present[&(k.parent, k.parent_columns.clone())])
        .collect();
    let mut found: Vec<UnresolvedKey> = keys
        .iter()
        .map(|k| UnresolvedKey {
            table: table.qualified_name().to_string(),
            foreign_key: k.fk.name.clone(),
            references: k.fk.references.to_string(),
            rows: 0,
            examples: Vec::new(),
            first: None,
        })
        .collect();
    let file = snapshot.file_path(table).display().to_string();
    let types = column_types(table);
    let (mut scratch, mut joined) = (Vec::new(), Vec::new());
    crate::interrupt::check()?;
    snapshot.scan(table, &mut scratch, |line, fields| {
        for ((key, parent), unresolved) in keys.iter().zip(&parents).zip(&mut found) {
            if !key.needs_parent(line, fields, &types, &mut joined)
                || parent.contains(&key.columns, &key.lookup_types, fields, &mut joined)
            {
                continue;
            }
            unresolved.rows += 1;
            unresolved.first.get_or_insert_with(|| (file.clone(), line));
            if unresolved.examples.len() < EXAMPLES_PER_KEY {
                let values: Vec<String> = key
                    .columns
                    .iter()
                    .map(|&c| String::from_utf8_lossy(fields[c]).into_owned())
                    .collect();
                unresolved.examples.push(format!(
                    "{file} line {line}: ({}) = ({}) has no row in {}",
                    key.fk.columns.join(", "),
                    values.join(", "),
                    key.fk.references
                ));
            }
        }
        Ok(())
    })?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_decimals_become_integers() {
        assert_eq!(canonical_integer(b"0"), Some(0));
        assert_eq!(canonical_integer(b"42"), Some(42));
        assert_eq!(canonical_integer(b"18446744073709551615"), Some(u64::MAX));
        for field in [
            &b""[..],
            b"00",
            b"042",
            b"-1",
            b"+1",
            b"1.0",
            b" 1",
            b"\\N",
            b"18446744073709551616",
        ] {
            assert_eq!(canonical_integer(field), None, "{field:?}");
        }
    }

    #[test]
    fn exact_tuples_match_fields_byte_for_byte() {
        let types = [KeyType::Exact, KeyType::Exact];
        let mut set = Tuples::default();
        let mut scratch = Vec::new();
        let rows: [&[&[u8]]; 4] = [
            &[b"7", b"a"],
            &[b"007", b"b\\tc"],
            &[b"x", b"7"],
            &[b"-3", b"7"],
        ];
        for row in rows {
            set.insert(&[0], &types, row, &mut scratch);
            set.insert(&[0, 1], &types, row, &mut scratch);
        }
        set.seal();
        let has = |columns: &[usize], row: &[&[u8]]| {
            let mut scratch = Vec::new();
            set.contains(columns, &types, row, &mut scratch)
        };
        // One column: the integer and the text paths, never mixed up.
        assert!(has(&[0], &[b"7"]) && has(&[0], &[b"007"]) && has(&[0], &[b"-3"]));
        assert!(!has(&[0], &[b"07"]) && !has(&[0], &[b"3"]) && !has(&[0], &[b"y"]));
        // Several columns, joined by a tab that no field holds.
        assert!(has(&[0, 1], &[b"007", b"b\\tc"]) && has(&[0, 1], &[b"x", b"7"]));
        assert!(!has(&[0, 1], &[b"7", b"b"]) && !has(&[0, 1], &[b"00", b"7b\\tc"]));
        // The tuple's columns may sit anywhere in the row.
        assert!(has(&[1, 0], &[b"a", b"7"]));
    }

    #[test]
    fn typed_tuples_match_the_values_postgresql_finds_equal() {
        let types = [
            KeyType::of("integer"),
            KeyType::of("numeric"),
            KeyType::of("uuid"),
        ];
        let mut set = Tuples::default();
        let mut scratch = Vec::new();
        let uuid: &[u8] = b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for row in [&[&b"3"[..], b"1.5", uuid][..], &[b"-4", b"20", uuid]] {
            for columns in [&[0][..], &[1], &[2], &[0, 1, 2]] {
                set.insert(columns, &types, row, &mut scratch);
            }
        }
        set.seal();
        let has = |columns: &[usize], row: &[&[u8]]| {
            let mut scratch = Vec::new();
            set.contains(columns, &types, row, &mut scratch)
        };
        let upper: &[u8] = b"{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}";
        assert!(has(&[0], &[b"03"]) && has(&[0], &[b" +3 "]) && has(&[0], &[b"-04"]));
        assert!(has(&[1], &[b"", b"1.50"]) && has(&[1], &[b"", b"2e1"]));
        assert!(has(&[2], &[b"", b"", upper]));
        assert!(has(&[0, 1, 2], &[b"003", b"15e-1", upper]));
        assert!(!has(&[0], &[b"4"]) && !has(&[1], &[b"", b"1.51"]));
        assert!(!has(&[0, 1, 2], &[b"3", b"20", uuid]));
        // A value its type refuses (reported by the file check) matches nothing.
        assert!(!has(&[0], &[b"abc"]));
    }
}
