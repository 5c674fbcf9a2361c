//! Whether the rows of one data file keep a unique key's values distinct: the row key's, and
//! those of the other unique keys the manifest records (UNIQUE constraints and unique indexes,
//! see [`super::manifest::ManifestUniqueKey`]), checked by `verify`, `seal` and an overlay's
//! merge as the file is read (see [`super::directory`]).
//!
//! Values are compared as the key compares them: each field in the canonical form of its
//! column's type (see [`super::key_values`]: `03` is the `integer` `3`, `1.50` the `numeric`
//! `1.5`). A tuple holding a NULL collides with no other unless the key is `NULLS NOT
//! DISTINCT`, where NULL is one more value. The first line of each tuple is kept, so that a
//! duplicate names both lines.

use std::hash::BuildHasher;

use super::key_values::KeyType;

/// A value a column's type refuses: the column (its index in the file) and why.
pub type Refused = (usize, String);

/// The tuples one unique key has seen in a file, each with the first line that holds it: the
/// canonical tuples end to end in one arena, found again through a hash table of their ids
/// (no allocation per row; `verify` of a 1,000-table snapshot with a text unique key on every
/// table spent 0.07 s more CPU with a map of one vector per tuple).
pub struct Distinct {
    columns: Vec<usize>,
    nulls_not_distinct: bool,
    /// Every tuple kept, in id order, end to end.
    tuples: Vec<u8>,
    /// Where tuple `id` ends in `tuples` (it starts where the one before ends).
    ends: Vec<usize>,
    /// The line of tuple `id`.
    lines: Vec<u64>,
    ids: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

/// What a row's tuple is, for one key.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// Not seen before (or holding a NULL that makes it distinct from every other).
    New,
    /// The same value as the row on this earlier line.
    Duplicate { first: u64 },
}

/// The NULL field of COPY text: a canonical form never spells it (a backslash is escaped).
const NULL: &[u8] = b"\\N";

/// Tuple `id` of a [`Distinct`]'s `tuples` and `ends`.
fn stored<'t>(tuples: &'t [u8], ends: &[usize], id: u32) -> &'t [u8] {
    let start = match id {
        0 => 0,
        id => ends[id as usize - 1],
    };
    &tuples[start..ends[id as usize]]
}

impl Distinct {
    /// A key over the file's columns `columns`, in key order.
    pub fn new(columns: Vec<usize>, nulls_not_distinct: bool) -> Distinct {
        Distinct {
            columns,
            nulls_not_distinct,
            tuples: Vec::new(),
            ends: Vec::new(),
            lines: Vec::new(),
            ids: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// Records the tuple of the row on `line` (its raw `fields`, of the column types `types`)
    /// and says whether an earlier line holds the same one. Every non-NULL field of the key is
    /// brought to its canonical form, so a value its type refuses is `Err` even in a tuple
    /// that a NULL makes distinct. `tuple` is scratch space; afterwards it holds the tuple's
    /// canonical form (see [`canonical_text`]).
    pub fn see(
        &mut self,
        line: u64,
        fields: &[&[u8]],
        types: &[KeyType],
        tuple: &mut Vec<u8>,
    ) -> Result<Seen, Refused> {
        tuple.clear();
        let mut has_null = false;
        for (i, &c) in self.columns.iter().enumerate() {
            if i > 0 {
                tuple.push(b'\t');
            }
            match fields[c] {
                NULL => {
                    has_null = true;
                    tuple.extend_from_slice(NULL);
                }
                field => types[c].canonical(field, tuple).map_err(|why| (c, why))?,
            }
        }
        if has_null && !self.nulls_not_distinct {
            return Ok(Seen::New);
        }
        let hash = self.hasher.hash_one(tuple.as_slice());
        let Distinct {
            tuples,
            ends,
            lines,
            ids,
            hasher,
            ..
        } = self;
        if let Some(&id) = ids.find(hash, |&id| stored(tuples, ends, id) == tuple.as_slice()) {
            return Ok(Seen::Duplicate {
                first: lines[id as usize],
            });
        }
        let id = u32::try_from(ends.len()).expect("fewer than 2^32 rows in a file");
        ids.insert_unique(hash, id, |&id| hasher.hash_one(stored(tuples, ends, id)));
        tuples.extend_from_slice(tuple);
        ends.push(tuples.len());
        lines.push(line);
        Ok(Seen::New)
    }
}

/// A tuple's raw fields as a file spells them, `(a, b)` without the parentheses.
pub fn raw_text(columns: &[usize], fields: &[&[u8]]) -> String {
    let raw: Vec<&[u8]> = columns.iter().map(|&c| fields[c]).collect();
    String::from_utf8_lossy(&raw.join(&b", "[..])).into_owned()
}

/// A canonical tuple (as [`Distinct::see`] leaves it) spelled like [`raw_text`].
pub fn canonical_text(tuple: &[u8]) -> String {
    String::from_utf8_lossy(tuple).replace('\t', ", ")
}

/// `" (PostgreSQL reads both as (…))"` when the duplicate is spelled otherwise than the
/// canonical value, else nothing.
pub fn reads_as(raw: &str, tuple: &[u8]) -> String {
    let canonical = canonical_text(tuple);
    match canonical == raw {
        true => String::new(),
        false => format!(" (PostgreSQL reads both as ({canonical}))"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn see(key: &mut Distinct, line: u64, row: &[&str], types: &[KeyType]) -> Seen {
        let fields: Vec<&[u8]> = row.iter().map(|f| f.as_bytes()).collect();
        key.see(line, &fields, types, &mut Vec::new()).unwrap()
    }

    #[test]
    fn equal_values_are_duplicates_as_postgresql_compares_them() {
        let types = [
            KeyType::of("integer"),
            KeyType::of("numeric"),
            KeyType::Exact,
        ];
        let mut key = Distinct::new(vec![1, 2], false);
        assert_eq!(see(&mut key, 2, &["1", "1.5", "a"], &types), Seen::New);
        assert_eq!(see(&mut key, 3, &["2", "1.5", "b"], &types), Seen::New);
        assert_eq!(
            see(&mut key, 4, &["3", "1.50", "a"], &types),
            Seen::Duplicate { first: 2 }
        );
        assert_eq!(
            see(&mut key, 5, &["4", "15e-1", "b"], &types),
            Seen::Duplicate { first: 3 }
        );
        // Exact text compares byte for byte; the key's own columns only.
        assert_eq!(see(&mut key, 6, &["1", "1.5", "A"], &types), Seen::New);
    }

    #[test]
    fn nulls_are_distinct_unless_the_key_says_otherwise() {
        let types = [KeyType::of("integer"), KeyType::Exact];
        let mut distinct = Distinct::new(vec![0, 1], false);
        let mut not_distinct = Distinct::new(vec![0, 1], true);
        for line in 2..5 {
            assert_eq!(see(&mut distinct, line, &["1", "\\N"], &types), Seen::New);
        }
        assert_eq!(see(&mut not_distinct, 2, &["1", "\\N"], &types), Seen::New);
        assert_eq!(
            see(&mut not_distinct, 3, &["01", "\\N"], &types),
            Seen::Duplicate { first: 2 }
        );
        // The text `\N` (escaped) is a value, not NULL.
        assert_eq!(
            see(&mut not_distinct, 4, &["1", "\\\\N"], &types),
            Seen::New
        );
        assert_eq!(
            see(&mut not_distinct, 5, &["\\N", "\\N"], &types),
            Seen::New
        );
        assert_eq!(
            see(&mut not_distinct, 6, &["\\N", "\\N"], &types),
            Seen::Duplicate { first: 5 }
        );
    }

    #[test]
    fn a_refused_value_is_named_even_beside_a_null() {
        let types = [KeyType::of("integer"), KeyType::of("integer")];
        let mut key = Distinct::new(vec![0, 1], false);
        let fields: [&[u8]; 2] = [b"abc", b"\\N"];
        let (column, why) = key.see(2, &fields, &types, &mut Vec::new()).unwrap_err();
        assert_eq!(column, 0);
        assert!(
            why.contains("invalid input syntax for type integer"),
            "{why}"
        );
    }

    #[test]
    fn a_duplicate_spelled_otherwise_says_how_postgresql_reads_it() {
        let fields: [&[u8]; 2] = [b"03", b"x"];
        let raw = raw_text(&[0, 1], &fields);
        assert_eq!(raw, "03, x");
        assert_eq!(
            reads_as(&raw, b"3\tx"),
            " (PostgreSQL reads both as (3, x))"
        );
        assert_eq!(reads_as("3, x", b"3\tx"), "");
    }
}
