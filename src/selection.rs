//! Which rows go into a snapshot.
//!
//! Two phases, both inside the export's read-only snapshot transaction:
//!
//! 1. **Sample**, level by level of the load plan (a table's parents are always on earlier
//!    levels): read the first rows by key (twice the limit when the table has parents to agree
//!    with) and keep up to the limit, preferring rows whose foreign keys point at parent rows
//!    already chosen (or are NULL), then filling up with the next rows by key. A table without
//!    a key takes its first rows in physical order (TID range scans of its first pages).
//! 2. **Backfill**, in rounds until nothing is missing: every foreign-key value of a chosen row
//!    whose parent row is not chosen yet is looked up — per foreign key, all the missing keys as
//!    one typed array, so the parent's unique index serves it; for a self-reference, the whole
//!    chain of ancestors in one recursive query — and the rows found are chosen too, which may
//!    need parents of their own. A found row answers the values it holds, compared as text;
//!    where the key's equality tells apart less than text does (see [`crate::key_text`]:
//!    `1.50` is the `numeric` `1.5`), the lookup joins the asked values to the parent with that
//!    equality and returns, with each row, the asked values it answers. A round takes the parents of the deepest level with keys
//!    pending (children before parents, see [`table_levels`]), so each parent is read about
//!    once with every key its descendants need.
//!
//! **Orphans.** Nothing has checked the source rows of a `NOT VALID` foreign key or of a virtual
//! key, yet a target with the key refuses an orphan (a `NOT VALID` constraint checks every new
//! row; the import checks virtual keys itself). Proving a key has none reads its whole child
//! table, so the selection first runs as if none had any; when chosen rows ask a parent the
//! source lacks through such a key, one anti-join counts that key's orphans ([`orphan_sql`]),
//! and the selection runs again with the key's table carrying "not an orphan" in its sampling
//! statements and backfill lookups, so those rows are never chosen; the stats say per key how
//! many were left out ([`LeftOut`]). A chosen row whose parent is such an orphan can then find
//! no parent: the selection fails, naming both keys, and nothing is written. Tables without
//! orphaned keys keep their statements as they were, and a source without orphans pays nothing.
//!
//! Round trips dominate on wide schemas, so the statements of one level, and of one backfill
//! round, go to the server together as simple-protocol batches, spread over the export's
//! sessions, the statements on one table to the same session (its server session then has the
//! table's catalog entries cached; a session with nothing of its own left takes over another's
//! batches). They go window by window; a window's replies are
//! taken in, in statement order, while the next window is read, and then dropped, so memory
//! holds about two windows of rows (a [`BATCH_ROWS`] per session each; two through
//! a remote source, where each window costs a round trip), not a level's. A statement expected
//! to return more than [`STREAM_ROWS`] (a table read whole under `--limit all` or `--whole`, a
//! high limit) is streamed instead, through `COPY … TO STDOUT` in parts of [`BATCH_ROWS`] rows
//! (`stream_statements`), and a table read whole is copied into its file without a list of
//! its row ids ([`TableSelection::whole`]): the driver's reply to one statement is never held
//! whole (a million-row table read whole held 300 MB that way). Rows are remembered by
//! `(tableoid, ctid)`, stable inside one snapshot, in compressed bitmaps ([`RowSet`]), so the
//! final COPY fetches exactly them with a TID scan; the key values foreign keys need are kept
//! interned as small integers, in compressed bitmaps too ([`crate::compact`]): the tuples each
//! chosen parent offers, the ones asked for and not found yet, and the ones a backfill round
//! will look up (whose SQL is written a wave of [`BATCH_ROWS`] × 32 keys at a time). Memory
//! that is left grows with the rows chosen (a few bytes each) and with the tables (the
//! catalog, and an empty bitmap and a few small vectors per table and per referenced key).
//! Nothing is written to the source: no temporary tables, so a hot standby works too.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use postgres::{GenericClient, SimpleQueryMessage};
use serde::Serialize;

use crate::catalog::{quote_ident, quote_literal, Catalog, ForeignKey, MatchRule, RowKey};
use crate::compact::Bitmap64;
use crate::error::ExitKind;
use crate::graph::Component;
use crate::key_text;
use crate::readers::{self, Readers};
use crate::snapshot::copy_text;

/// A row's physical address inside the snapshot: its (leaf) table and tuple id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowId {
    pub relation: u32,
    pub block: u32,
    pub offset: u16,
}

impl RowId {
    pub fn parse(relation: &str, ctid: &str) -> Option<RowId> {
        let (block, offset) = ctid.strip_prefix('(')?.strip_suffix(')')?.split_once(',')?;
        Some(RowId {
            relation: relation.parse().ok()?,
            block: block.parse().ok()?,
            offset: offset.parse().ok()?,
        })
    }
}

/// The rows' ctids as one SQL array: `'{"(0,1)","(0,2)"}'::pg_catalog.tid[]`, written straight
/// into one string (the export's COPYs name every chosen row this way: formatting each ctid on
/// its own took a tenth of the client's time on 1,000 tables).
pub fn tid_array(rows: impl IntoIterator<Item = RowId>) -> String {
    let rows = rows.into_iter();
    let mut array = String::with_capacity(24 + rows.size_hint().0 * 12);
    array.push_str("'{");
    let mut digits = itoa::Buffer::new();
    for (i, row) in rows.enumerate() {
        if i > 0 {
            array.push(',');
        }
        array.push_str("\"(");
        array.push_str(digits.format(row.block));
        array.push(',');
        array.push_str(digits.format(row.offset));
        array.push_str(")\"");
    }
    array.push_str("}'::pg_catalog.tid[]");
    array
}

/// A table's chosen rows, compactly and in [`RowId`] order: per leaf relation, a compressed
/// bitmap of `block << 16 | offset`. The rows of one page sit side by side, so a row costs
/// about two bytes instead of the twelve of a `RowId` (or twenty and more in a hash set):
/// this is what keeps the export's memory small on a large snapshot.
#[derive(Debug, Default, Clone)]
pub struct RowSet {
    /// By relation, sorted (a partitioned table has a few, others one).
    relations: Vec<(u32, Bitmap64)>,
    len: usize,
}

impl RowSet {
    fn tid(id: RowId) -> u64 {
        ((id.block as u64) << 16) | id.offset as u64
    }

    /// Adds a row; false when it was there already.
    pub fn insert(&mut self, id: RowId) -> bool {
        let at = match self
            .relations
            .binary_search_by_key(&id.relation, |(r, _)| *r)
        {
            Ok(at) => at,
            Err(at) => {
                self.relations.reserve_exact(1);
                self.relations
                    .insert(at, (id.relation, Bitmap64::default()));
                at
            }
        };
        let added = self.relations[at].1.insert(Self::tid(id));
        self.len += added as usize;
        added
    }

    pub fn contains(&self, id: RowId) -> bool {
        match self
            .relations
            .binary_search_by_key(&id.relation, |(r, _)| *r)
        {
            Ok(at) => self.relations[at].1.contains(Self::tid(id)),
            Err(_) => false,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Stores runs of consecutive rows as runs; worth it once a batch of rows is in.
    fn optimize(&mut self) {
        for (_, tids) in &mut self.relations {
            tids.optimize();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows in order: by relation, then by ctid.
    pub fn iter(&self) -> impl Iterator<Item = RowId> + '_ {
        self.relations
            .iter()
            .flat_map(|(relation, tids)| Self::rows_of(*relation, tids))
    }

    /// The relations holding rows, in order, each with its rows in ctid order.
    pub fn by_relation(&self) -> impl Iterator<Item = (u32, impl Iterator<Item = RowId> + '_)> {
        self.relations
            .iter()
            .map(|(relation, tids)| (*relation, Self::rows_of(*relation, tids)))
    }

    fn rows_of(relation: u32, tids: &Bitmap64) -> impl Iterator<Item = RowId> + '_ {
        tids.iter().map(move |tid| RowId {
            relation,
            block: (tid >> 16) as u32,
            offset: tid as u16,
        })
    }
}

/// What the initial sample takes: per-table limits and filters.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// `None`: every row.
    pub default: Option<u64>,
    pub per_table: HashMap<usize, Option<u64>>,
    /// A SQL condition (over the table's columns) the sampled rows must meet. Backfill
    /// ignores it: a referenced row comes in whatever it holds.
    pub filters: HashMap<usize, String>,
}

impl Limits {
    pub fn of(&self, table: usize) -> Option<u64> {
        self.per_table.get(&table).copied().unwrap_or(self.default)
    }
}

/// What was chosen for one table.
#[derive(Debug, Default, Clone)]
pub struct TableSelection {
    pub rows: RowSet,
    /// Every row the table holds in the export's snapshot is chosen: its sample read it whole
    /// (no limit, no condition), so a COPY of its rows needs no list of their ids.
    pub whole: bool,
    pub sampled: u64,
    pub backfilled: u64,
    pub sample_time: Duration,
}

/// One backfill round, for `--json`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RoundStat {
    pub foreign_keys: usize,
    pub keys_looked_up: usize,
    pub rows_found: usize,
    pub ms: f64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct SelectionStats {
    pub levels: u64,
    pub sample_ms: f64,
    pub backfill_ms: f64,
    pub backfill_rounds: Vec<RoundStat>,
    /// Per foreign key whose source rows hold orphans (see [`LeftOut`]): the rows left out.
    pub left_out: Vec<LeftOut>,
}

/// The source rows of one unchecked foreign key (`NOT VALID`, or virtual) that have no parent
/// row in the source: none of them is chosen, since a target with the key (or the import's
/// own check of a virtual key) refuses every one.
#[derive(Debug, Clone, Serialize)]
pub struct LeftOut {
    pub foreign_key: String,
    pub table: String,
    pub columns: Vec<String>,
    pub references: String,
    pub kind: Unchecked,
    /// Rows of `table` in the source whose key has no parent there: all left out.
    pub rows: u64,
}

impl LeftOut {
    /// The export's warning.
    pub fn warning(&self) -> String {
        let why = match self.kind {
            Unchecked::Virtual => {
                "a virtual foreign key, which the import checks like a constraint"
            }
            Unchecked::NotValid => "a NOT VALID constraint, which still checks every new row",
        };
        format!(
            "left out {} rows of {}: their ({}) has no row in {} ({}, {why}; a target with \
             the key would refuse them)",
            self.rows,
            self.table,
            self.columns.join(", "),
            self.references,
            self.foreign_key,
        )
    }
}

/// A foreign key whose source rows nothing has checked, so that they can hold orphans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unchecked {
    NotValid,
    Virtual,
}

impl Unchecked {
    /// `None` for a validated constraint: the server has checked every row.
    pub fn of(fk: &ForeignKey) -> Option<Unchecked> {
        match (fk.is_virtual(), fk.validated()) {
            (true, _) => Some(Unchecked::Virtual),
            (false, false) => Some(Unchecked::NotValid),
            (false, true) => None,
        }
    }
}

/// How [`orphan_sql`] looks for the parent row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `NOT EXISTS`, which the planner turns into an anti-join: to count every row.
    AntiJoin,
    /// A scalar subquery, which the planner cannot hash: each row probes the parent's key
    /// index, as a sample or a lookup reading a few rows needs (as `NOT EXISTS` inside `NOT`,
    /// the planner hashed the whole parent to keep 200 rows of a child).
    PerRow,
}

/// The SQL condition, over the child's row aliased `t`, that the row is an orphan of `fk`: the
/// key applies to it (its partition, its `when` conditions), needs a parent under the key's
/// MATCH rule, and `FROM ONLY` the parent (as the server's own check reads it) holds no row
/// with its values, compared as the server's check compares them: with the key's equality,
/// the child's values cast to the parent's type (see [`key_text::child_cast`]) under the
/// parent column's collation. Never NULL, so `NOT (…)` keeps exactly the other rows.
pub fn orphan_sql(catalog: &Catalog, fk: &ForeignKey, probe: Probe) -> String {
    let mut parts = Vec::new();
    if let Some(scope) = &fk.partition {
        let oids: Vec<String> = scope.leaf_oids.iter().map(|o| o.to_string()).collect();
        parts.push(match oids.is_empty() {
            true => "false".to_string(),
            false => format!("t.tableoid IN ({})", oids.join(", ")),
        });
    }
    parts.extend(fk.condition().iter().map(|c| {
        format!(
            "(t.{}::pg_catalog.text = {}) IS TRUE",
            quote_ident(&c.column),
            quote_literal(&c.value)
        )
    }));
    parts.push(fk.match_rule().needs_parent_sql(&fk.columns, "t"));
    let (child_table, parent_table) = (&catalog.tables[fk.child], &catalog.tables[fk.parent]);
    let matches: Vec<String> = fk
        .parent_columns
        .iter()
        .zip(&fk.columns)
        .enumerate()
        .map(|(i, (p, c))| {
            // The child's value as the parent's type, under the parent's collation, as the
            // server's check compares them (not with what `parent = child` would resolve to).
            let (child, parent) = (child_table.column(c), parent_table.column(p));
            let cast = match (child, parent) {
                (Some(child), Some(parent)) => key_text::child_cast(child, parent)
                    .map(|ty| format!("::{ty}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let collate = parent
                .and_then(|p| p.collation.as_deref())
                .map(|c| format!(" COLLATE {c}"))
                .unwrap_or_default();
            format!(
                "p.{} {} t.{}{cast}{collate}",
                quote_ident(p),
                fk.equality(i),
                quote_ident(c)
            )
        })
        .collect();
    let parent = format!(
        "SELECT true FROM {} AS p WHERE {}",
        catalog.tables[fk.parent].from_clause(),
        matches.join(" AND ")
    );
    parts.push(match probe {
        Probe::AntiJoin => format!("NOT EXISTS ({parent})"),
        Probe::PerRow => format!("({parent} LIMIT 1) IS NULL"),
    });
    format!("({})", parts.join(" AND "))
}

/// Why a backfilled row was chosen: a row of `child_table` (itself sampled or backfilled)
/// references it through foreign key `foreign_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    pub foreign_key: usize,
    pub child_table: usize,
    pub child_row: RowId,
}

pub struct Selection {
    pub tables: Vec<TableSelection>,
    pub stats: SelectionStats,
    /// For each backfilled row, the row that pulled it in (only when asked for: it costs
    /// memory per referenced key).
    pub provenance: HashMap<RowId, Reason>,
}

/// Choose `limit` rows out of a window ordered by key: preferred ones first, in key order, then
/// the others in key order. Returns the window positions taken, in key order.
pub fn pick_sample(preferred: &[bool], limit: usize) -> Vec<usize> {
    let mut taken: Vec<usize> = (0..preferred.len())
        .filter(|&i| preferred[i])
        .take(limit)
        .collect();
    if taken.len() < limit {
        let room = limit - taken.len();
        taken.extend((0..preferred.len()).filter(|&i| !preferred[i]).take(room));
        taken.sort_unstable();
    }
    taken
}

/// The level of each component: one more than the highest level among its parents'.
pub fn component_levels(
    plan: &[Component],
    parents_of: impl Fn(usize) -> Vec<usize>,
) -> Vec<usize> {
    let mut component_of = HashMap::new();
    for (c, component) in plan.iter().enumerate() {
        for &t in &component.tables {
            component_of.insert(t, c);
        }
    }
    let mut levels = vec![0usize; plan.len()];
    // The plan is in dependency order, so parents' levels are known when a component's is set.
    for (c, component) in plan.iter().enumerate() {
        let level = component
            .tables
            .iter()
            .flat_map(|&t| parents_of(t))
            .filter_map(|p| component_of.get(&p).copied())
            .filter(|&pc| pc != c)
            .map(|pc| levels[pc] + 1)
            .max()
            .unwrap_or(0);
        levels[c] = level;
    }
    levels
}

/// Each table's level: its component's (see [`component_levels`]); 0 for a table in no
/// component.
///
/// The backfill looks up the deepest level with keys pending first. A child's level is above
/// each parent's outside its component, so by the time a parent's keys are looked up, every
/// table that could still ask it for more rows is done: each parent is read about once,
/// with every key its descendants need, instead of once per round that reaches it (a chain of
/// ten tables read its first table in ten rounds). Tables of one component (a cycle) are read
/// again until none of them asks the others for more. Any order selects the same rows: the
/// backfill stops only when every key asked for has been looked up.
pub fn table_levels(plan: &[Component], levels: &[usize], tables: usize) -> Vec<usize> {
    let mut table_levels = vec![0; tables];
    for (component, &level) in plan.iter().zip(levels) {
        for &t in &component.tables {
            table_levels[t] = level;
        }
    }
    table_levels
}

/// A `text[]` literal: `'{"a","b\"c"}'::pg_catalog.text[]`, written in one pass: each value
/// double-quoted, `"` and `\` escaped for the array, `'` doubled for the SQL string.
pub fn text_array_literal<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut array = String::with_capacity(64);
    array.push_str("'{");
    for (i, value) in values.enumerate() {
        if i > 0 {
            array.push(',');
        }
        array.push('"');
        if value.contains(['"', '\\', '\'']) {
            for c in value.chars() {
                match c {
                    '"' | '\\' => {
                        array.push('\\');
                        array.push(c);
                    }
                    '\'' => array.push_str("''"),
                    c => array.push(c),
                }
            }
        } else {
            array.push_str(value);
        }
        array.push('"');
    }
    array.push_str("}'::pg_catalog.text[]");
    array
}

/// FNV-1a: a fast hasher for the small integer tuples kept here (no untrusted keys).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash ^= b as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

type FastSet<T> = HashSet<T, BuildHasherDefault<Fnv>>;

/// A set of packed key tuples. Interned values are numbered in the order they are first seen,
/// so the values of one key are runs of near numbers: a compressed bitmap holds them in a few
/// bits each. Two values packed side by side are not near numbers (the first one varies in
/// the high half), so those go to a hash set.
enum TupleSet {
    Dense(Bitmap64),
    Pairs(FastSet<Packed>),
}

impl TupleSet {
    fn for_arity(arity: usize) -> TupleSet {
        match arity {
            2 => TupleSet::Pairs(FastSet::default()),
            _ => TupleSet::Dense(Bitmap64::default()),
        }
    }

    /// Adds a tuple; false when it was there already.
    fn insert(&mut self, tuple: Packed) -> bool {
        match self {
            TupleSet::Dense(set) => set.insert(tuple),
            TupleSet::Pairs(set) => set.insert(tuple),
        }
    }

    fn contains(&self, tuple: Packed) -> bool {
        match self {
            TupleSet::Dense(set) => set.contains(tuple),
            TupleSet::Pairs(set) => set.contains(&tuple),
        }
    }

    fn optimize(&mut self) {
        if let TupleSet::Dense(set) = self {
            set.optimize();
        }
    }

    fn len(&self) -> usize {
        match self {
            TupleSet::Dense(set) => set.len() as usize,
            TupleSet::Pairs(set) => set.len(),
        }
    }

    /// The tuples, in ascending order.
    fn sorted(&self) -> Vec<Packed> {
        match self {
            TupleSet::Dense(set) => set.iter().collect(),
            TupleSet::Pairs(set) => {
                let mut tuples: Vec<Packed> = set.iter().copied().collect();
                tuples.sort_unstable();
                tuples
            }
        }
    }

    /// The tuples `keep` wants, in ascending order, cut into sets of at most `size`.
    fn chunks(&self, size: usize, keep: impl Fn(Packed) -> bool) -> Vec<TupleSet> {
        let values: Box<dyn Iterator<Item = Packed>> = match self {
            TupleSet::Dense(set) => Box::new(set.iter()),
            TupleSet::Pairs(_) => Box::new(self.sorted().into_iter()),
        };
        let mut chunks = Vec::new();
        let mut current: Option<TupleSet> = None;
        for value in values.filter(|&v| keep(v)) {
            let chunk = current.get_or_insert_with(|| self.empty_like());
            chunk.insert(value);
            if chunk.len() == size {
                chunks.extend(current.take().map(TupleSet::optimized));
            }
        }
        chunks.extend(current.map(TupleSet::optimized));
        chunks
    }

    /// Drops the tuples `other` holds.
    fn remove_all(&mut self, other: &TupleSet) {
        match (self, other) {
            (TupleSet::Dense(set), TupleSet::Dense(other)) => set.remove_all(other),
            (set, other) => {
                let TupleSet::Pairs(pairs) = set else {
                    unreachable!("a key set's tuples have one arity")
                };
                pairs.retain(|&t| !other.contains(t));
            }
        }
    }

    fn empty_like(&self) -> TupleSet {
        match self {
            TupleSet::Dense(_) => TupleSet::Dense(Bitmap64::default()),
            TupleSet::Pairs(_) => TupleSet::Pairs(FastSet::default()),
        }
    }

    fn optimized(mut self) -> TupleSet {
        self.optimize();
        self
    }

    /// How many of these tuples `other` lacks.
    fn count_missing_from(&self, other: &TupleSet) -> usize {
        match self {
            TupleSet::Dense(set) => set.iter().filter(|&t| !other.contains(t)).count(),
            TupleSet::Pairs(set) => set.iter().filter(|&&t| !other.contains(t)).count(),
        }
    }
}

/// Key values as small integers: each distinct text is stored once, end to end in one string,
/// and found again through a hash table of ids (under twenty bytes a value beside its text,
/// where a map of boxed strings plus a vector of them cost over a hundred).
#[derive(Default)]
struct Interner {
    /// Every text, in id order.
    texts: String,
    /// Where text `id` ends in `texts` (it starts where the one before ends).
    ends: Vec<usize>,
    ids: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Interner {
    fn intern(&mut self, text: &str) -> u32 {
        let hash = self.hasher.hash_one(text);
        let Interner {
            texts,
            ends,
            ids,
            hasher,
        } = self;
        if let Some(&id) = ids.find(hash, |&id| interned(texts, ends, id) == text) {
            return id;
        }
        let id = u32::try_from(ends.len()).expect("fewer than 2^32 distinct key values");
        ids.insert_unique(hash, id, |&id| hasher.hash_one(interned(texts, ends, id)));
        texts.push_str(text);
        ends.push(texts.len());
        id
    }

    fn text(&self, id: u32) -> &str {
        interned(&self.texts, &self.ends, id)
    }
}

/// Text `id` of an [`Interner`]'s `texts` and `ends`.
fn interned<'t>(texts: &'t str, ends: &[usize], id: u32) -> &'t str {
    let start = match id {
        0 => 0,
        id => ends[id as usize - 1],
    };
    &texts[start..ends[id as usize]]
}

/// A tuple of interned values packed into one integer: one value as itself, two side by side,
/// more through a second interner. A key set has one arity, so packings never mix.
type Packed = u64;
/// A row's tracked values, interned (`None`: NULL). Inline up to four, which is what nearly
/// every table tracks: a heap allocation per row read was the export's most frequent one.
type Values = smallvec::SmallVec<[Option<u32>; 4]>;

struct TableState<'a> {
    /// Column names whose values foreign keys need (outgoing keys and referenced keys).
    tracked: Vec<&'a str>,
    selection: TableSelection,
}

/// What is known about one set of referenced columns of one parent table. Every foreign key
/// that references the same columns shares it (a hub table referenced by fifty tables is
/// tracked once), except self-references, which keep their own so that they can be fetched
/// recursively.
struct KeySet<'a> {
    parent: usize,
    parent_columns: &'a [String],
    /// Positions of the referenced columns in the parent's tracked list.
    parent_positions: Vec<usize>,
    /// The self-referencing foreign key this set belongs to, if any.
    self_reference: Option<usize>,
    /// Whether some key of this set compares values that print two ways (see
    /// [`crate::key_text`]): its lookups then return, with each parent row, the asked tuple it
    /// matched, and that tuple counts as present, not only the parent's own text.
    matched: bool,
    /// The key's equality per referenced column, as SQL (see [`ForeignKey::equality`]): a
    /// matched lookup compares with it.
    equality: Vec<&'a str>,
    /// Referenced-column tuples of the chosen parent rows.
    present: TupleSet,
    /// Tuples asked for and not (yet) found: after each round, those found are dropped
    /// ([`Selector::forget_found`]), since `present` answers for them.
    requested: TupleSet,
    /// Tuples asked for since the last backfill round took them.
    pending: TupleSet,
}

struct Selector<'a> {
    catalog: &'a Catalog,
    tables: Vec<TableState<'a>>,
    /// For each foreign key: its key set and the positions of its columns in the child's
    /// tracked list.
    key_of: Vec<(usize, Vec<usize>)>,
    /// For each foreign key: its `when` conditions as (tracked position, interned value).
    conditions: Vec<Vec<(usize, u32)>>,
    sets: Vec<KeySet<'a>>,
    /// Key sets by parent table.
    sets_of: Vec<Vec<usize>>,
    outgoing: Vec<Vec<usize>>,
    interner: Interner,
    tuples: HashMap<Box<[u32]>, u64>,
    tuple_values: Vec<Box<[u32]>>,
    /// When explaining: the first row that asked for each (key set, tuple).
    requested_by: Option<HashMap<(usize, Packed), Reason>>,
    provenance: HashMap<RowId, Reason>,
    /// The tables that chose rows since the last [`Selector::compact`].
    touched: Vec<bool>,
    /// Per table: its keys with orphans in the source and how many rows each leaves out
    /// ([`count_orphans`]); empty for nearly every table.
    orphaned: Vec<Vec<(usize, u64)>>,
    /// Per table with orphaned keys: the condition every row it chooses meets, `NOT` each
    /// key's [`orphan_sql`]; sampling and backfill lookups both carry it.
    keep: Vec<Option<String>>,
}

/// Runs both phases. `plan` gives the load order. With `explain`, the selection also says why
/// each backfilled row was chosen.
///
/// Orphans of unchecked keys are rare, and proving that a key has none reads its whole child
/// table: so the selection first runs as if no key had any, and only when chosen rows ask a
/// parent the source lacks through such a key are that key's orphans counted
/// (`count_orphans`) and the selection run again, leaving them out; again while new keys show
/// up (at most once per unchecked key). A composite MATCH FULL key is counted up front: its
/// partly NULL orphans ask for no parent, so the selection would never meet them.
pub fn select(
    client: &mut (impl GenericClient + Send),
    readers: &mut Readers,
    catalog: &Catalog,
    plan: &[Component],
    limits: &Limits,
    explain: bool,
) -> Result<Selection> {
    // A partly NULL tuple of a MATCH FULL key asks for no parent, so the selection cannot
    // meet such an orphan: those (rare) keys are counted up front.
    let match_full: Vec<usize> = (0..catalog.foreign_keys.len())
        .filter(|&i| {
            let fk = &catalog.foreign_keys[i];
            Unchecked::of(fk).is_some()
                && fk.match_rule() == MatchRule::Full
                && fk.columns.len() > 1
        })
        .collect();
    let mut orphans = count_orphans(client, readers, catalog, &match_full)?;
    loop {
        let attempt =
            select_leaving_out(client, readers, catalog, plan, limits, explain, &orphans)?;
        match attempt {
            Attempt::Selected(selection) => return Ok(selection),
            Attempt::Orphaned { keys, unresolved } => {
                let counted = count_orphans(client, readers, catalog, &keys)?;
                if counted.is_empty() {
                    return Err(unresolved);
                }
                orphans.extend(counted);
            }
        }
    }
}

/// How one run of the selection ended.
enum Attempt {
    Selected(Selection),
    /// Chosen rows ask for parents the source lacks through unchecked `keys` whose orphans
    /// were not left out yet; `unresolved` is the error should those keys have none.
    Orphaned {
        keys: Vec<usize>,
        unresolved: anyhow::Error,
    },
}

/// Both phases, leaving out the rows `orphans` names (unchecked keys with the orphans each
/// has in the source).
fn select_leaving_out(
    client: &mut (impl GenericClient + Send),
    readers: &mut Readers,
    catalog: &Catalog,
    plan: &[Component],
    limits: &Limits,
    explain: bool,
    orphans: &[(usize, u64)],
) -> Result<Attempt> {
    let mut selector = Selector::new(catalog);
    if explain {
        selector.requested_by = Some(HashMap::new());
    }
    let mut stats = SelectionStats::default();

    let started = Instant::now();
    selector.leave_out(orphans);
    stats.left_out = orphans
        .iter()
        .filter_map(|&(i, rows)| {
            let fk = &catalog.foreign_keys[i];
            Some(LeftOut {
                foreign_key: fk.name.clone(),
                table: catalog.tables[fk.child].name.to_string(),
                columns: fk.columns.clone(),
                references: catalog.tables[fk.parent].name.to_string(),
                kind: Unchecked::of(fk)?,
                rows,
            })
        })
        .collect();
    let levels = component_levels(plan, |t| {
        selector.outgoing[t]
            .iter()
            .map(|&fk| catalog.foreign_keys[fk].parent)
            .collect()
    });
    let level_count = levels.iter().max().map_or(0, |m| m + 1);
    stats.levels = level_count as u64;
    let mut sampled_before = vec![false; catalog.tables.len()];
    for level in 0..level_count {
        let tables: Vec<usize> = plan
            .iter()
            .zip(&levels)
            .filter(|(_, &l)| l == level)
            .flat_map(|(c, _)| c.tables.iter().copied())
            .collect();
        selector.sample_level(client, readers, &tables, limits, &sampled_before)?;
        selector.compact();
        for &t in &tables {
            sampled_before[t] = true;
        }
    }
    stats.sample_ms = started.elapsed().as_secs_f64() * 1e3;

    let started = Instant::now();
    let table_levels = table_levels(plan, &levels, catalog.tables.len());
    while let Some(level) = selector.deepest_pending(&table_levels) {
        // Explaining, every key set is taken every round, breadth first as before the levels
        // ordered the rounds: the first row that asks for a parent, which the explanation
        // names, is then the nearest one (deepest first, it is often the far end of a long
        // self-referencing chain). The rows chosen are the same either way.
        let work = selector.take_pending(|parent| explain || table_levels[parent] == level);
        if work.is_empty() {
            continue;
        }
        let round_started = Instant::now();
        let keys_looked_up = work
            .iter()
            .flat_map(|(_, chunks)| chunks.iter().map(TupleSet::len))
            .sum();
        let rows_found = selector.backfill_round(client, readers, &work)?;
        selector.compact();
        selector.forget_found();
        stats.backfill_rounds.push(RoundStat {
            foreign_keys: work.len(),
            keys_looked_up,
            rows_found,
            ms: round_started.elapsed().as_secs_f64() * 1e3,
        });
    }
    stats.backfill_ms = started.elapsed().as_secs_f64() * 1e3;

    // Every value asked for has its row now, unless that row is an orphan left out above: a
    // snapshot holding the row that asked for it could not load either.
    let mut unresolved = None;
    let mut orphaned_keys = Vec::new();
    for (i, fk) in catalog.foreign_keys.iter().enumerate() {
        let set = &selector.sets[selector.key_of[i].0];
        let missing = set.requested.count_missing_from(&set.present);
        if missing > 0 {
            if Unchecked::of(fk).is_some() && !orphans.iter().any(|&(k, _)| k == i) {
                orphaned_keys.push(i);
            }
            let orphaned = &selector.orphaned[fk.parent];
            let kind = match orphaned.is_empty() {
                true => ExitKind::VerificationFailed,
                false => ExitKind::BadInput,
            };
            unresolved.get_or_insert_with(|| {
                crate::problem::refuse(
                    kind,
                    crate::problem::Problem::unplaced(unresolved_message(
                        catalog, i, missing, orphaned,
                    ))
                    .kind(crate::problem::ProblemKind::Source)
                    .table(&catalog.tables[fk.child].name)
                    .constraint(&fk.name),
                )
            });
        }
    }
    if let Some(unresolved) = unresolved {
        return match orphaned_keys.is_empty() {
            true => Err(unresolved),
            false => Ok(Attempt::Orphaned {
                keys: orphaned_keys,
                unresolved,
            }),
        };
    }

    let provenance = std::mem::take(&mut selector.provenance);
    let tables = selector
        .tables
        .into_iter()
        .map(|state| state.selection)
        .collect();
    Ok(Attempt::Selected(Selection {
        tables,
        stats,
        provenance,
    }))
}

/// Counts the orphans of unchecked `keys` (see [`Unchecked`]) in the source: one anti-join
/// of the child with the parent's key index each ([`orphan_sql`]), all in one batch (only
/// keys whose chosen rows met an orphan are counted, see [`select`]). Returns the keys with
/// orphans, with how many rows each holds.
fn count_orphans(
    client: &mut (impl GenericClient + Send),
    readers: &mut Readers,
    catalog: &Catalog,
    keys: &[usize],
) -> Result<Vec<(usize, u64)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let statements: Vec<String> = keys
        .iter()
        .map(|&i| {
            let fk = &catalog.foreign_keys[i];
            format!(
                "SELECT pg_catalog.count(*) FROM {} AS t WHERE {}",
                catalog.tables[fk.child].from_clause(),
                orphan_sql(catalog, fk, Probe::AntiJoin)
            )
        })
        .collect();
    let tables: Vec<usize> = keys
        .iter()
        .map(|&i| catalog.foreign_keys[i].child)
        .collect();
    let mut orphans = Vec::new();
    batch(
        client,
        readers,
        &statements,
        &vec![1; keys.len()],
        &tables,
        |k, rows, _| {
            let count = rows.get(0, 0).unwrap_or_default();
            let count: u64 = count
                .parse()
                .with_context(|| format!("unexpected count {count:?}"))?;
            if count > 0 {
                orphans.push((keys[k], count));
            }
            Ok(())
        },
    )
    .context("counting the orphans of NOT VALID and virtual foreign keys")?;
    Ok(orphans)
}

/// Why `missing` values of foreign key `fk` found no row in the source: its parent's
/// `orphaned` keys (with the rows each leaves out) left those rows out; with none, the rows
/// are not in the export's snapshot of the source at all.
fn unresolved_message(
    catalog: &Catalog,
    fk: usize,
    missing: usize,
    orphaned: &[(usize, u64)],
) -> String {
    let key = &catalog.foreign_keys[fk];
    let (child, parent) = (
        &catalog.tables[key.child].name,
        &catalog.tables[key.parent].name,
    );
    let asked = format!(
        "{missing} values of {child}({}) ({})",
        key.columns.join(", "),
        key.name
    );
    if orphaned.is_empty() {
        return format!(
            "foreign key values could not be resolved: {asked} have no row in {parent}"
        );
    }
    let mut repairs = Vec::new();
    // The parent's keys that left rows out; which of them left out the rows asked for is not
    // kept, so each is named.
    let causes: Vec<String> = orphaned
        .iter()
        .map(|&(o, rows)| {
            let other = &catalog.foreign_keys[o];
            let grandparent = &catalog.tables[other.parent].name;
            let kind = match Unchecked::of(other) {
                Some(Unchecked::Virtual) => {
                    repairs.push(format!(
                        "for the virtual key {}, correct its definition in the config if it \
                         does not hold in the source",
                        other.name
                    ));
                    "a virtual foreign key"
                }
                _ => {
                    repairs.push(format!(
                        "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                        parent.sql(),
                        quote_ident(&other.name)
                    ));
                    "a NOT VALID constraint"
                }
            };
            format!(
                "{rows} rows of {parent} whose ({}) has no row in {grandparent} ({}, {kind})",
                other.columns.join(", "),
                other.name
            )
        })
        .collect();
    format!(
        "{asked} reference rows of {parent} that the export leaves out as orphans, because a \
         target with their key would refuse them; the rows referencing them could not load \
         without them, so the export stops and writes nothing. Left out: {}. Repair the orphans in the source (delete them or point them at existing rows; \
         then {}), or keep the rows of {child} that reference them out of the sample with \
         --filter '{child}=CONDITION' (backfill ignores filters: a filter must leave out every \
         sampled row that leads to them)",
        causes.join("; "),
        repairs.join(", ")
    )
}

/// At most this many rows (as far as the statements' expected rows tell) come back in one
/// batch (a statement expected to return more goes alone); with the window sizes below, this
/// bounds what the export holds of the source's rows while it selects.
pub const BATCH_ROWS: usize = 1024;

/// The keys of one wave of a backfill round: the round's lookup statements are written and
/// sent a wave at a time, so that the SQL text of every missing key (megabytes on thousands of
/// tables) is never in memory at once; the keys wait as compact sets ([`TupleSet`]).
const WAVE_ROWS: usize = 32 * BATCH_ROWS;

/// Consecutive runs of `items` of at most [`WAVE_ROWS`] `rows` (an item with more goes alone).
fn wave_ranges<T>(items: &[T], rows: impl Fn(&T) -> usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut total) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let n = rows(item);
        if i > start && total + n > WAVE_ROWS {
            ranges.push(start..i);
            (start, total) = (i, 0);
        }
        total += n;
    }
    if start < items.len() {
        ranges.push(start..items.len());
    }
    ranges
}

/// The rows expected of one [`batch`] window, per session: a window is taken in while the next
/// one is read, so about two windows of rows are held at once. Every session waits for the
/// last batch of a window before the next window starts, so fewer, larger windows leave the
/// cores idle less often (a batch's worth rather than half: the 1,000-table export 8 % faster
/// and 10 % less client CPU, measured). A session's share still goes in two round trips (see
/// [`batch`]), so the driver holds no more rows at once than with the smaller windows.
const WINDOW_ROWS_PER_SESSION: usize = BATCH_ROWS;

/// The same through a source a round trip of [`crate::readers::REMOTE`] or more away, where
/// each window costs at least one round trip: twice the rows (and memory), half the round
/// trips (measured through 5 ms when local windows were half a batch: those made the
/// 1,000-table export 0.3 s slower than windows of a batch).
const REMOTE_WINDOW_ROWS_PER_SESSION: usize = 2 * BATCH_ROWS;

/// The rows of a window per session for this source.
fn window_rows_per_session(
    client: &mut impl GenericClient,
    readers: &mut Readers,
) -> Result<usize> {
    Ok(
        match readers.round_trip(client)? >= crate::readers::REMOTE {
            true => REMOTE_WINDOW_ROWS_PER_SESSION,
            false => WINDOW_ROWS_PER_SESSION,
        },
    )
}

/// The most SQL text of one batch.
const MAX_BATCH_TEXT: usize = 8 << 20;

/// How the statements (with the rows each is `expected` to return) are cut into windows for
/// `sessions` sessions: consecutive runs of at most `sessions` × `per_session` expected rows,
/// or `sessions` × the largest statement of the run when that is more, so that statements
/// larger than a session's share (a backfill chunk of [`BATCH_ROWS`] keys, a sample under a
/// high limit) still go `sessions` at a time, not one by one.
fn window_ranges(
    expected: &[usize],
    sessions: usize,
    per_session: usize,
) -> Vec<std::ops::Range<usize>> {
    let sessions = sessions.max(1);
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < expected.len() {
        let mut end = start + 1;
        let (mut rows, mut largest) = (expected[start], expected[start]);
        while end < expected.len() {
            let largest_then = largest.max(expected[end]);
            if rows + expected[end] > sessions * per_session.max(largest_then) {
                break;
            }
            rows += expected[end];
            largest = largest_then;
            end += 1;
        }
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// One round trip of a [`batch`] window: the statements (in order) one session sends as one
/// simple-protocol message, and the session that reads their table.
#[derive(Debug, PartialEq)]
struct HomeBatch {
    home: usize,
    statements: Vec<usize>,
}

/// A window's statements cut into batches: each statement goes to the session of the table it
/// reads (`tables[i]` modulo `sessions`), and each session's statements, in order, into
/// batches of at most `batch_rows` expected rows (a statement expected to return more goes
/// alone) and [`MAX_BATCH_TEXT`] of text.
fn home_batches(
    statements: &[String],
    expected: &[usize],
    tables: &[usize],
    window: std::ops::Range<usize>,
    sessions: usize,
    batch_rows: usize,
) -> Vec<HomeBatch> {
    let sessions = sessions.max(1);
    // Per session, its open batch and that batch's rows and text.
    let mut open: Vec<Option<(HomeBatch, usize, usize)>> = (0..sessions).map(|_| None).collect();
    let mut batches = Vec::new();
    for i in window {
        let home = tables[i] % sessions;
        let (rows, text) = (expected[i], statements[i].len() + 2);
        if let Some((_, open_rows, open_text)) = &open[home] {
            if open_rows + rows > batch_rows || open_text + text > MAX_BATCH_TEXT {
                batches.extend(open[home].take().map(|(batch, _, _)| batch));
            }
        }
        let (batch, open_rows, open_text) = open[home].get_or_insert_with(|| {
            (
                HomeBatch {
                    home,
                    statements: Vec::new(),
                },
                0,
                0,
            )
        });
        batch.statements.push(i);
        *open_rows += rows;
        *open_text += text;
    }
    batches.extend(open.into_iter().flatten().map(|(batch, _, _)| batch));
    // The earliest statements first: an idle session takes over the earliest batch left.
    batches.sort_by_key(|b| b.statements[0]);
    batches
}

/// Statements expected to return more rows than this are not sent in simple-protocol batches,
/// whose reply the driver holds whole (about 250 bytes a row: a 1,000,000-row table read whole
/// under `--limit all` held 300 MB), but streamed (`stream_statements`).
pub const STREAM_ROWS: usize = 8 * BATCH_ROWS;

/// How the statements, by the rows each is `expected` to return, are read: consecutive runs
/// of statements batched (`false`) and of statements streamed (`true`, more than
/// [`STREAM_ROWS`] rows each), in order.
fn read_runs(expected: &[usize]) -> Vec<(std::ops::Range<usize>, bool)> {
    let mut runs: Vec<(std::ops::Range<usize>, bool)> = Vec::new();
    for (i, &rows) in expected.iter().enumerate() {
        let streamed = rows > STREAM_ROWS;
        match runs.last_mut() {
            Some((run, kind)) if *kind == streamed => run.end = i + 1,
            _ => runs.push((i..i + 1, streamed)),
        }
    }
    runs
}

/// Sends several statements and hands each one's rows to `consume`, in the statements'
/// order, as `consume(statement, rows, complete)`: a statement's rows come in one call, or,
/// when it is expected to return more than [`STREAM_ROWS`], in parts of at most
/// [`BATCH_ROWS`] rows, the last with `complete` set.
///
/// The statements go as simple-protocol batches (one round trip each) over the export's
/// transaction and its readers, which all see the same snapshot, window by window
/// ([`window_ranges`]); inside a window, the statements on one table go to one session
/// ([`home_batches`], `tables[i]` is the table statement `i` reads), whose server session
/// then has that table's catalog entries cached from the levels and rounds before. A window's
/// replies are taken in, in statement order, while the next window is read, and then dropped.
/// A large statement is streamed instead ([`stream_statements`]), so memory holds a few parts
/// of its rows, not its reply.
fn batch<F>(
    client: &mut (impl GenericClient + Send),
    readers: &mut Readers,
    statements: &[String],
    expected: &[usize],
    tables: &[usize],
    mut consume: F,
) -> Result<()>
where
    F: FnMut(usize, &TextRows, bool) -> Result<()> + Send,
{
    for (run, streamed) in read_runs(expected) {
        match streamed {
            false => batch_windows(
                client,
                readers,
                statements,
                expected,
                tables,
                run,
                &mut consume,
            )?,
            true => stream_statements(client, readers, statements, tables, run, &mut consume)?,
        }
    }
    Ok(())
}

/// [`batch`] for the statements `run`, none expected to return more than [`STREAM_ROWS`].
fn batch_windows<F>(
    client: &mut (impl GenericClient + Send),
    readers: &mut Readers,
    statements: &[String],
    expected: &[usize],
    tables: &[usize],
    run: std::ops::Range<usize>,
    consume: &mut F,
) -> Result<()>
where
    F: FnMut(usize, &TextRows, bool) -> Result<()> + Send,
{
    let sessions = readers.sessions();
    let per_session = window_rows_per_session(client, readers)?;
    let windows = window_ranges(&expected[run.clone()], sessions, per_session)
        .into_iter()
        .map(|w| w.start + run.start..w.end + run.start);
    std::thread::scope(|scope| -> Result<()> {
        // The consumer, here or lent to the thread taking in the previous window.
        let mut consumer = Some(consume);
        let mut consuming: Option<std::thread::ScopedJoinHandle<'_, (&mut F, Result<()>)>> = None;
        for window in windows {
            // A session's share of a window goes in two round trips: the driver holds a
            // round trip's rows (about 180 bytes each) until its reply is complete.
            let batches = home_batches(
                statements,
                expected,
                tables,
                window,
                sessions,
                per_session / 2,
            );
            let read = readers::run(
                client,
                readers,
                batches,
                |b| b.statements.len(),
                |b| b.home,
                |session, b| {
                    let sql: Vec<&str> = b
                        .statements
                        .iter()
                        .map(|&i| statements[i].as_str())
                        .collect();
                    let messages = session
                        .simple_query_text(&sql.join(";\n"))
                        .map_err(explain_read_error)?;
                    let rows = rows_by_statement(messages, b.statements.len())?;
                    Ok(b.statements.into_iter().zip(rows).collect::<Vec<_>>())
                },
            );
            let replies = match read {
                Ok(replies) => replies,
                // The previous window's consumer failed first: its error is the one to report.
                Err(error) => {
                    if let Some(previous) = consuming.take() {
                        previous.join().expect("the batch consumer thread").1?;
                    }
                    return Err(error);
                }
            };
            if let Some(previous) = consuming.take() {
                let (returned, outcome) = previous.join().expect("the batch consumer thread");
                outcome?;
                consumer = Some(returned);
            }
            let consume = consumer.take().expect("the consumer is back");
            consuming = Some(scope.spawn(move || {
                let mut replies: Vec<(usize, TextRows)> = replies.into_iter().flatten().collect();
                replies.sort_by_key(|(i, _)| *i);
                let outcome = replies
                    .into_iter()
                    .try_for_each(|(i, rows)| consume(i, &rows, true));
                (consume, outcome)
            }));
        }
        match consuming {
            Some(last) => last.join().expect("the batch consumer thread").1,
            None => Ok(()),
        }
    })
}

/// Parts of a streamed statement's rows waiting to be taken in, per statement: with the part
/// being read and the one being taken in, a streaming session holds at most this many plus
/// two parts of [`BATCH_ROWS`] rows.
const STREAM_PARTS_QUEUED: usize = 2;

/// [`batch`] for the statements `run`, each streamed: `COPY (statement) TO STDOUT` on the
/// sessions ([`readers::run`], so several tables stream at once), its rows cut into parts of
/// [`BATCH_ROWS`] and handed, through a short queue per statement, to `consume` on a thread of
/// its own, which takes the statements in order. A session streams its own statements in order
/// and takes over another's only when it has none left ([`readers::run`]), so the earliest
/// statement not taken in yet is always being read: a full queue only waits for the consumer.
fn stream_statements<F>(
    client: &mut (impl GenericClient + Send),
    readers: &mut Readers,
    statements: &[String],
    tables: &[usize],
    run: std::ops::Range<usize>,
    consume: &mut F,
) -> Result<()>
where
    F: FnMut(usize, &TextRows, bool) -> Result<()> + Send,
{
    type Part = (TextRows, bool);
    let (senders, receivers): (Vec<_>, Vec<_>) = run
        .clone()
        .map(|_| std::sync::mpsc::sync_channel::<Part>(STREAM_PARTS_QUEUED))
        .unzip();
    let items: Vec<(usize, std::sync::mpsc::SyncSender<Part>)> = run.clone().zip(senders).collect();
    std::thread::scope(|scope| -> Result<()> {
        let consumer = scope.spawn(move || -> Result<()> {
            for (i, parts) in run.zip(receivers) {
                loop {
                    // A closed queue before the last part: its reader failed, and says why.
                    let Ok((rows, complete)) = parts.recv() else {
                        return Ok(());
                    };
                    consume(i, &rows, complete)?;
                    if complete {
                        break;
                    }
                }
            }
            Ok(())
        });
        let read = readers::run(
            client,
            readers,
            items,
            |_| 1,
            |&(i, _)| tables[i],
            |session, (i, parts)| {
                let sql = format!("COPY ({}) TO STDOUT", statements[i]);
                let reader = session.copy_out_text(&sql).map_err(explain_read_error)?;
                read_copy_parts(reader, |part, complete| {
                    // A closed queue: the consumer failed, and says why.
                    parts.send((part, complete)).is_ok()
                })
            },
        );
        let consumed = consumer.join().expect("the stream consumer thread");
        // The consumer's error first: a reader fails as a consequence of it (its queue closed).
        consumed?;
        read.map(|_| ())
    })
}

/// Reads COPY text rows from `reader` into parts of at most [`BATCH_ROWS`] rows, handing each
/// to `deliver` with whether it is the last; stops early when `deliver` returns false.
fn read_copy_parts(
    reader: impl std::io::Read,
    mut deliver: impl FnMut(TextRows, bool) -> bool,
) -> Result<()> {
    let mut reader = std::io::BufReader::with_capacity(64 << 10, reader);
    let mut line = Vec::new();
    let mut part = TextRows::default();
    loop {
        line.clear();
        let read = std::io::BufRead::read_until(&mut reader, b'\n', &mut line)
            .map_err(explain_copy_error)?;
        if read == 0 {
            deliver(part, true);
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        part.push_copy_line(&line)?;
        if part.len() >= BATCH_ROWS && !deliver(std::mem::take(&mut part), false) {
            return Ok(());
        }
    }
}

/// An error reading a COPY's rows: the server's is explained as [`explain_read_error`] does.
fn explain_copy_error(error: std::io::Error) -> anyhow::Error {
    if !error
        .get_ref()
        .is_some_and(|inner| inner.is::<postgres::Error>())
    {
        return anyhow::Error::from(error).context("reading rows streamed by COPY");
    }
    let inner = error.into_inner().expect("checked above");
    match inner.downcast::<postgres::Error>() {
        Ok(server) => explain_read_error(*server),
        Err(other) => anyhow::anyhow!(other),
    }
}

/// One statement's rows as text, compactly: every field end to end in one string, and where
/// each ends. A reply waits in memory until its window is taken in, and the driver's rows
/// cost about 250 bytes each beside their values (a vector of 24-byte ranges per row):
/// this is a third of that.
#[derive(Debug, Default)]
struct TextRows {
    text: String,
    /// Per field of every row, in order: where it ends in `text`, with [`TextRows::NULL`]
    /// set for a NULL (which ends where the field before it does).
    ends: Vec<usize>,
    /// Fields per row.
    width: usize,
}

impl TextRows {
    const NULL: usize = 1 << (usize::BITS - 1);

    fn push(&mut self, fields: impl ExactSizeIterator<Item = Option<impl AsRef<str>>>) {
        self.width = fields.len();
        for field in fields {
            match field {
                Some(value) => {
                    self.text.push_str(value.as_ref());
                    self.ends.push(self.text.len());
                }
                None => self.ends.push(self.text.len() | Self::NULL),
            }
        }
    }

    /// Adds a row from a line of COPY text without its newline (see
    /// [`crate::snapshot::copy_text`]): fields separated by tabs, `\N` for NULL, escapes
    /// decoded.
    fn push_copy_line(&mut self, line: &[u8]) -> Result<()> {
        let mut width = 0;
        for field in copy_text::split_fields(line) {
            width += 1;
            match copy_text::decode_field(field) {
                Ok(None) => self.ends.push(self.text.len() | Self::NULL),
                Ok(Some(value)) => {
                    self.text.push_str(std::str::from_utf8(&value)?);
                    self.ends.push(self.text.len());
                }
                Err(error) => anyhow::bail!("field {width} of a COPY row: {error:?}"),
            }
        }
        self.width = width;
        Ok(())
    }

    fn len(&self) -> usize {
        match self.width {
            0 => 0,
            width => self.ends.len() / width,
        }
    }

    /// Field `field` of row `row`: `None` for NULL.
    fn get(&self, row: usize, field: usize) -> Option<&str> {
        let at = row * self.width + field;
        let end = self.ends[at];
        if end & Self::NULL != 0 {
            return None;
        }
        let start = match at {
            0 => 0,
            _ => self.ends[at - 1] & !Self::NULL,
        };
        Some(&self.text[start..end])
    }
}

/// The rows of each of a batch's `count` statements, from its reply.
fn rows_by_statement(messages: Vec<SimpleQueryMessage>, count: usize) -> Result<Vec<TextRows>> {
    let mut statements = Vec::with_capacity(count);
    let mut current = TextRows::default();
    for message in messages {
        match message {
            SimpleQueryMessage::Row(row) => current.push((0..row.len()).map(|i| row.get(i))),
            SimpleQueryMessage::CommandComplete(_) => {
                anyhow::ensure!(
                    statements.len() < count,
                    "expected {count} result sets in a batch, got more"
                );
                statements.push(std::mem::take(&mut current));
            }
            _ => {}
        }
    }
    anyhow::ensure!(
        statements.len() == count,
        "expected {count} result sets in a batch, got {}",
        statements.len()
    );
    Ok(statements)
}

impl<'a> Selector<'a> {
    fn new(catalog: &'a Catalog) -> Self {
        // Names borrowed from the catalog, not copied: a few per table and key set.
        let mut tracked: Vec<Vec<&'a str>> = vec![Vec::new(); catalog.tables.len()];
        let mut outgoing = vec![Vec::new(); catalog.tables.len()];
        for (i, fk) in catalog.foreign_keys.iter().enumerate() {
            tracked[fk.child].extend(fk.columns.iter().map(String::as_str));
            tracked[fk.child].extend(fk.condition().iter().map(|c| c.column.as_str()));
            tracked[fk.parent].extend(fk.parent_columns.iter().map(String::as_str));
            outgoing[fk.child].push(i);
        }
        for (table, names) in tracked.iter_mut().enumerate() {
            let order: Vec<&str> = catalog.tables[table]
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            names.sort_by_key(|n| order.iter().position(|o| o == n));
            names.dedup();
            names.shrink_to_fit();
        }
        let position = |names: &[&str], wanted: &[String]| -> Vec<usize> {
            wanted
                .iter()
                .map(|w| names.iter().position(|n| n == w).expect("tracked"))
                .collect()
        };
        let mut sets: Vec<KeySet> = Vec::new();
        let mut sets_of = vec![Vec::new(); catalog.tables.len()];
        let mut shared: HashMap<(usize, &[String]), usize> = HashMap::new();
        let mut key_of = Vec::with_capacity(catalog.foreign_keys.len());
        for (i, fk) in catalog.foreign_keys.iter().enumerate() {
            let self_reference = (fk.child == fk.parent).then_some(i);
            let parent_columns: &'a [String] = &fk.parent_columns;
            let new_set = |sets: &mut Vec<KeySet<'a>>, sets_of: &mut Vec<Vec<usize>>| {
                sets.push(KeySet {
                    parent: fk.parent,
                    parent_columns,
                    parent_positions: position(&tracked[fk.parent], &fk.parent_columns),
                    self_reference,
                    matched: false,
                    equality: (0..fk.parent_columns.len())
                        .map(|i| fk.equality(i))
                        .collect(),
                    present: TupleSet::for_arity(fk.parent_columns.len()),
                    requested: TupleSet::for_arity(fk.parent_columns.len()),
                    pending: TupleSet::for_arity(fk.parent_columns.len()),
                });
                sets_of[fk.parent].push(sets.len() - 1);
                sets.len() - 1
            };
            let set = if self_reference.is_some() {
                new_set(&mut sets, &mut sets_of)
            } else {
                match shared.get(&(fk.parent, &fk.parent_columns[..])) {
                    Some(&set) => set,
                    None => {
                        let set = new_set(&mut sets, &mut sets_of);
                        shared.insert((fk.parent, &fk.parent_columns), set);
                        set
                    }
                }
            };
            sets[set].matched |= !prints_one_way(catalog, fk);
            // A virtual key sharing the set with a declared one compares as the declared does.
            if !fk.equalities().is_empty() && !fk.is_virtual() {
                sets[set].equality = (0..fk.parent_columns.len())
                    .map(|i| fk.equality(i))
                    .collect();
            }
            key_of.push((set, position(&tracked[fk.child], &fk.columns)));
        }
        let mut interner = Interner::default();
        let conditions = catalog
            .foreign_keys
            .iter()
            .map(|fk| {
                fk.condition()
                    .iter()
                    .map(|c| {
                        let at = position(&tracked[fk.child], std::slice::from_ref(&c.column));
                        (at[0], interner.intern(&c.value))
                    })
                    .collect()
            })
            .collect();
        let tables = tracked
            .into_iter()
            .map(|tracked| TableState {
                tracked,
                selection: TableSelection::default(),
            })
            .collect();
        Selector {
            catalog,
            tables,
            key_of,
            conditions,
            sets,
            sets_of,
            outgoing,
            interner,
            tuples: HashMap::new(),
            tuple_values: Vec::new(),
            requested_by: None,
            provenance: HashMap::new(),
            touched: vec![false; catalog.tables.len()],
            orphaned: vec![Vec::new(); catalog.tables.len()],
            keep: vec![None; catalog.tables.len()],
        }
    }

    /// Leaves out the orphans of each of `orphans` (key, rows): no row of theirs is chosen.
    fn leave_out(&mut self, orphans: &[(usize, u64)]) {
        for &(fk, rows) in orphans {
            let key = &self.catalog.foreign_keys[fk];
            self.orphaned[key.child].push((fk, rows));
            let not_orphan = format!("NOT {}", orphan_sql(self.catalog, key, Probe::PerRow));
            self.keep[key.child] = Some(match self.keep[key.child].take() {
                Some(keep) => format!("{keep} AND {not_orphan}"),
                None => not_orphan,
            });
        }
    }

    /// The condition table `t`'s sampled rows meet: its filter and [`Selector::keep`].
    fn sample_condition(&self, t: usize, limits: &Limits) -> Option<String> {
        let parts: Vec<String> = limits
            .filters
            .get(&t)
            .map(|filter| format!("({filter})"))
            .into_iter()
            .chain(self.keep[t].clone())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" AND "))
    }

    fn pack(&mut self, values: &[u32]) -> Packed {
        match values {
            [a] => *a as u64,
            [a, b] => ((*a as u64) << 32) | *b as u64,
            _ => {
                if let Some(&id) = self.tuples.get(values) {
                    return id;
                }
                let id = self.tuple_values.len() as u64;
                self.tuple_values.push(values.into());
                self.tuples.insert(values.into(), id);
                id
            }
        }
    }

    /// Value `i` of a tuple of `arity` values packed by [`Selector::pack`] or
    /// [`Selector::pack_values`].
    fn unpacked(&self, packed: Packed, arity: usize, i: usize) -> u32 {
        match (arity, i) {
            (1, _) => packed as u32,
            (2, 0) => (packed >> 32) as u32,
            (2, _) => packed as u32,
            _ => self.tuple_values[packed as usize][i],
        }
    }

    /// `tableoid, ctid, <tracked columns as text>` for rows of `table` aliased `t`.
    fn outputs(&self, table: usize) -> Vec<String> {
        let mut outputs = vec![
            "t.tableoid::pg_catalog.int8 AS r".to_string(),
            "t.ctid AS c".to_string(),
        ];
        outputs.extend(
            self.tables[table]
                .tracked
                .iter()
                .enumerate()
                .map(|(i, name)| format!("t.{}::pg_catalog.text AS v{i}", quote_ident(name))),
        );
        outputs
    }

    fn select_from(&self, table: usize) -> String {
        format!(
            "SELECT {} FROM {} AS t",
            self.outputs(table).join(", "),
            self.catalog.tables[table].from_clause()
        )
    }

    /// Row `row` of a reply to [`Selector::outputs`] of `table`.
    fn parse(&mut self, table: usize, rows: &TextRows, row: usize) -> Result<(RowId, Values)> {
        let relation = rows.get(row, 0).unwrap_or_default();
        let ctid = rows.get(row, 1).unwrap_or_default();
        let id = RowId::parse(relation, ctid).with_context(|| format!("unexpected ctid {ctid}"))?;
        let values = (0..self.tables[table].tracked.len())
            .map(|i| rows.get(row, i + 2).map(|v| self.interner.intern(v)))
            .collect();
        Ok((id, values))
    }

    fn sample_level(
        &mut self,
        client: &mut (impl GenericClient + Send),
        readers: &mut Readers,
        tables: &[usize],
        limits: &Limits,
        sampled_before: &[bool],
    ) -> Result<()> {
        let catalog: &'a Catalog = self.catalog;
        // Keys to earlier-sampled parents are the ones a preference can be checked against.
        let preferring: Vec<Vec<usize>> = tables
            .iter()
            .map(|&t| {
                self.outgoing[t]
                    .iter()
                    .copied()
                    .filter(|&fk| sampled_before[catalog.foreign_keys[fk].parent])
                    .collect()
            })
            .collect();
        let windows: Vec<Option<u64>> = tables
            .iter()
            .zip(&preferring)
            .map(|(&t, prefer)| match limits.of(t) {
                Some(limit) if prefer.is_empty() => Some(limit),
                Some(limit) => Some(limit.saturating_mul(2)),
                None => None,
            })
            .collect();
        let started = Instant::now();
        let mut statements = Vec::new();
        let mut expected = Vec::new();
        let mut keyed = Vec::new();
        let mut statement_tables = Vec::new();
        // Tables without a key are read first, by page; their rows are taken in table order.
        let mut by_page: HashMap<usize, Vec<(RowId, Values)>> = HashMap::new();
        for (i, &t) in tables.iter().enumerate() {
            let info = &catalog.tables[t];
            if info.row_key() == RowKey::AllColumns && windows[i].is_some() {
                let condition = self.sample_condition(t, limits);
                let rows = self.first_rows_by_page(
                    client,
                    readers,
                    t,
                    windows[i].unwrap_or(u64::MAX),
                    condition.as_deref(),
                )?;
                by_page.insert(i, rows);
                continue;
            }
            let mut sql = self.select_from(t);
            let condition = self.sample_condition(t, limits);
            self.tables[t].selection.whole = windows[i].is_none() && condition.is_none();
            if let Some(condition) = condition {
                sql.push_str(&format!(" WHERE {condition}"));
            }
            sql.push_str(&format!(" ORDER BY {}", info.order_by("t.")));
            if let Some(window) = windows[i] {
                sql.push_str(&format!(" LIMIT {window}"));
            }
            statements.push(sql);
            statement_tables.push(t);
            // A table read whole returns what its statistics say, and at least a batch's worth
            // as far as batching goes. It is streamed when that is large, or unknown: a table
            // never analysed says 0, whatever it holds.
            let rows = match windows[i] {
                Some(window) => window,
                None if info.estimated_rows <= 0 => STREAM_ROWS as u64 + 1,
                None => (info.estimated_rows as u64).max(BATCH_ROWS as u64),
            };
            expected.push(rows.min(usize::MAX as u64) as usize);
            keyed.push(i);
        }
        // The tables in order: each keyed table's rows as its statement's reply comes in, the
        // tables read by page in between.
        let mut next = 0;
        let mut take_up_to = |selector: &mut Self, end: usize| {
            while next < end {
                if let Some(parsed) = by_page.remove(&next) {
                    selector.take_sample(tables[next], &preferring[next], limits, parsed);
                }
                next += 1;
            }
        };
        // A streamed statement's rows come in parts: a table read whole takes each part as it
        // comes; a sample that prefers some rows to others waits for all of its window.
        let mut waiting: Vec<(RowId, Values)> = Vec::new();
        batch(
            client,
            readers,
            &statements,
            &expected,
            &statement_tables,
            |k, rows, complete| {
                let i = keyed[k];
                take_up_to(self, i);
                for row in 0..rows.len() {
                    waiting.push(self.parse(tables[i], rows, row)?);
                }
                let take_now = complete || limits.of(tables[i]).is_none();
                if take_now {
                    let parsed = std::mem::take(&mut waiting);
                    self.take_sample(tables[i], &preferring[i], limits, parsed);
                }
                if complete {
                    take_up_to(self, i + 1);
                }
                if take_now {
                    self.compact();
                }
                Ok(())
            },
        )?;
        take_up_to(self, tables.len());
        let time = started.elapsed() / tables.len().max(1) as u32;
        for &t in tables {
            self.tables[t].selection.sample_time = time;
        }
        Ok(())
    }

    /// Takes table `t`'s sample out of its window of rows in key order: `preferring` the rows
    /// whose keys point at chosen parent rows.
    fn take_sample(
        &mut self,
        t: usize,
        preferring: &[usize],
        limits: &Limits,
        parsed: Vec<(RowId, Values)>,
    ) {
        let preferred: Vec<bool> = parsed
            .iter()
            .map(|(id, values)| self.is_preferred(preferring, *id, values))
            .collect::<Vec<_>>();
        let take = limits.of(t).map_or(parsed.len(), |l| l as usize);
        let picked: HashSet<usize> = pick_sample(&preferred, take).into_iter().collect();
        for (j, (id, values)) in parsed.into_iter().enumerate() {
            if picked.contains(&j) && self.add_row(t, id, &values) {
                self.tables[t].selection.sampled += 1;
            }
        }
    }

    /// Whether a row's foreign key applies to it: a polymorphic key only when its
    /// discriminator holds the key's value(s); a key declared on partitions only to rows
    /// stored in them.
    fn applies(&self, fk: usize, id: RowId, values: &Values) -> bool {
        let in_scope = match &self.catalog.foreign_keys[fk].partition {
            Some(scope) => scope.covers(id.relation),
            None => true,
        };
        in_scope
            && self.conditions[fk]
                .iter()
                .all(|&(position, value)| values[position] == Some(value))
    }

    fn is_preferred(&mut self, keys: &[usize], id: RowId, values: &Values) -> bool {
        keys.iter().all(|&fk| {
            if !self.applies(fk, id, values) {
                return true;
            }
            let set = self.key_of[fk].0;
            let positions = &self.key_of[fk].1;
            let nulls = positions.iter().filter(|&&p| values[p].is_none()).count();
            let rule = self.catalog.foreign_keys[fk].match_rule();
            if !rule.needs_parent(nulls, positions.len()) {
                return true;
            }
            match self.pack_at(fk, values) {
                Some(packed) => self.sets[set].present.contains(packed),
                // MATCH FULL with a partly NULL tuple.
                None => false,
            }
        })
    }

    /// At least `window` rows (all of them in a smaller table) in physical order: pages 0..1,
    /// then 1..2, 2..4, 4..8 … until enough rows are read, each range a TID range scan; the
    /// first `window` by `(relation, ctid)` are kept. Deterministic for an unchanged source.
    fn first_rows_by_page(
        &mut self,
        client: &mut (impl GenericClient + Send),
        readers: &mut Readers,
        table: usize,
        window: u64,
        condition: Option<&str>,
    ) -> Result<Vec<(RowId, Values)>> {
        let info = &self.catalog.tables[table];
        let pages: i64 = client
            .query_one(
                "SELECT coalesce(max(pg_catalog.pg_relation_size(r.relid)), 0)::int8
                        / pg_catalog.current_setting('block_size')::int8
                   FROM (SELECT $1::pg_catalog.int8::pg_catalog.oid AS relid
                          UNION ALL
                         SELECT relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.int8::pg_catalog.oid)
                          WHERE isleaf) AS r",
                &[&(info.oid as i64)],
            )
            .map_err(explain_read_error)?
            .get(0);
        let mut rows = Vec::new();
        let (mut start, mut end) = (0i64, 1i64);
        while (rows.len() as u64) < window && start <= pages {
            let mut sql = format!(
                "{} WHERE t.ctid >= '({start},0)'::pg_catalog.tid AND t.ctid < '({end},0)'::pg_catalog.tid",
                self.select_from(table)
            );
            if let Some(condition) = condition {
                sql.push_str(&format!(" AND {condition}"));
            }
            // One statement: a batch of its own whatever it returns.
            batch(client, readers, &[sql], &[0], &[table], |_, found, _| {
                for row in 0..found.len() {
                    rows.push(self.parse(table, found, row)?);
                }
                Ok(())
            })?;
            start = end;
            end *= 2;
        }
        rows.sort_by_key(|(id, _)| *id);
        rows.truncate(window.min(usize::MAX as u64) as usize);
        Ok(rows)
    }

    /// A parent row's values in the referenced columns of key set `set`, packed; `None` when
    /// one is NULL (no child can reference such a tuple).
    fn referenced_tuple(&mut self, set: usize, values: &Values) -> Option<Packed> {
        let positions = std::mem::take(&mut self.sets[set].parent_positions);
        let packed = self.pack_values(&positions, values);
        self.sets[set].parent_positions = positions;
        packed
    }

    /// A child row's values in the columns of foreign key `fk`, packed; `None` when one is
    /// NULL.
    fn pack_at(&mut self, fk: usize, values: &Values) -> Option<Packed> {
        let positions = std::mem::take(&mut self.key_of[fk].1);
        let packed = self.pack_values(&positions, values);
        self.key_of[fk].1 = positions;
        packed
    }

    /// The values at `positions`, packed (one or two without allocating); `None` when one is
    /// NULL.
    fn pack_values(&mut self, positions: &[usize], values: &Values) -> Option<Packed> {
        match *positions {
            [a] => Some(values[a]? as Packed),
            [a, b] => Some(((values[a]? as Packed) << 32) | values[b]? as Packed),
            _ => {
                let tuple: Vec<u32> = positions
                    .iter()
                    .map(|&p| values[p])
                    .collect::<Option<_>>()?;
                Some(self.pack(&tuple))
            }
        }
    }

    /// Records a chosen row; false when it was chosen already.
    fn add_row(&mut self, table: usize, id: RowId, values: &Values) -> bool {
        if !self.tables[table].selection.rows.insert(id) {
            return false;
        }
        self.touched[table] = true;
        for i in 0..self.sets_of[table].len() {
            let set = self.sets_of[table][i];
            if let Some(packed) = self.referenced_tuple(set, values) {
                self.sets[set].present.insert(packed);
            }
        }
        for i in 0..self.outgoing[table].len() {
            let fk = self.outgoing[table][i];
            if !self.applies(fk, id, values) {
                continue;
            }
            let set = self.key_of[fk].0;
            // A tuple with a NULL needs no parent (MATCH SIMPLE), or has none to find (MATCH
            // FULL, partly NULL: only under a NOT VALID key); either way nothing is asked for.
            let Some(packed) = self.pack_at(fk, values) else {
                continue;
            };
            let key_set = &mut self.sets[set];
            if !key_set.present.contains(packed) && key_set.requested.insert(packed) {
                key_set.pending.insert(packed);
                if let Some(requested_by) = &mut self.requested_by {
                    requested_by.insert(
                        (set, packed),
                        Reason {
                            foreign_key: fk,
                            child_table: table,
                            child_row: id,
                        },
                    );
                }
            }
        }
        true
    }

    /// Compresses the runs in what the tables that chose rows since the last call keep: their
    /// rows, the tuples they offer as parents and the tuples they asked for.
    fn compact(&mut self) {
        for table in 0..self.touched.len() {
            if !std::mem::take(&mut self.touched[table]) {
                continue;
            }
            self.tables[table].selection.rows.optimize();
            for &set in &self.sets_of[table] {
                self.sets[set].present.optimize();
            }
            for &fk in &self.outgoing[table] {
                let set = &mut self.sets[self.key_of[fk].0];
                set.requested.optimize();
                set.pending.optimize();
            }
        }
    }

    /// Drops the requested tuples that were found: only those still missing (in flight, or
    /// with no parent row at all) need remembering, and most requests are answered.
    fn forget_found(&mut self) {
        for set in &mut self.sets {
            set.requested.remove_all(&set.present);
            set.requested.optimize();
        }
    }

    /// When explaining: remembers which request a backfilled row answered.
    fn record_reason(&mut self, table: usize, id: RowId, values: &Values) {
        if self.requested_by.is_none() {
            return;
        }
        for i in 0..self.sets_of[table].len() {
            let set = self.sets_of[table][i];
            let Some(packed) = self.referenced_tuple(set, values) else {
                continue;
            };
            let reason = self
                .requested_by
                .as_ref()
                .and_then(|r| r.get(&(set, packed)).copied());
            if let Some(reason) = reason {
                self.provenance.insert(id, reason);
                return;
            }
        }
    }

    /// The asked tuple a row of a [`KeySet::matched`] lookup of key set `set` (on `parent`)
    /// answers: the columns after the parent's tracked ones (see [`Selector::lookup_sql`]),
    /// interned and packed as the child values that asked for it were.
    fn asked_tuple(
        &mut self,
        set: usize,
        parent: usize,
        rows: &TextRows,
        row: usize,
    ) -> Result<Packed> {
        let first = 2 + self.tables[parent].tracked.len();
        let arity = self.sets[set].parent_columns.len();
        let values: Values = (first..first + arity)
            .map(|field| rows.get(row, field).map(|v| self.interner.intern(v)))
            .collect();
        let positions: Vec<usize> = (0..arity).collect();
        self.pack_values(&positions, &values)
            .context("a lookup returned a NULL asked value")
    }

    /// When explaining: remembers which request a backfilled row of a [`KeySet::matched`]
    /// lookup answered, by the asked tuple it matched.
    fn record_asked_reason(&mut self, set: usize, asked: Packed, id: RowId) {
        let reason = self
            .requested_by
            .as_ref()
            .and_then(|r| r.get(&(set, asked)).copied());
        if let Some(reason) = reason {
            self.provenance.insert(id, reason);
        }
    }

    /// The deepest level (see [`table_levels`]) of a parent with tuples pending, if any.
    fn deepest_pending(&self, table_levels: &[usize]) -> Option<usize> {
        self.sets
            .iter()
            .filter(|set| set.pending.len() > 0)
            .map(|set| table_levels[set.parent])
            .max()
    }

    /// Drains what is still missing of the key sets whose parent is `taken`, per key set, in a
    /// stable order: each set's tuples in ascending order, in chunks of at most [`BATCH_ROWS`]
    /// (one lookup statement each), kept as compact sets until their statements are written.
    fn take_pending(&mut self, taken: impl Fn(usize) -> bool) -> Vec<(usize, Vec<TupleSet>)> {
        let mut work = Vec::new();
        for (i, set) in self.sets.iter_mut().enumerate() {
            if !taken(set.parent) {
                continue;
            }
            let pending = std::mem::replace(&mut set.pending, set.present.empty_like());
            let chunks = pending.chunks(BATCH_ROWS, |t| !set.present.contains(t));
            if !chunks.is_empty() {
                work.push((i, chunks));
            }
        }
        work
    }

    /// One round: every foreign key's missing parents, wave by wave (see [`WAVE_ROWS`]).
    /// Returns rows found.
    fn backfill_round(
        &mut self,
        client: &mut (impl GenericClient + Send),
        readers: &mut Readers,
        work: &[(usize, Vec<TupleSet>)],
    ) -> Result<usize> {
        let chunks: Vec<(usize, &TupleSet)> = work
            .iter()
            .flat_map(|(set, chunks)| chunks.iter().map(move |chunk| (*set, chunk)))
            .collect();
        let mut found = 0;
        for wave in wave_ranges(&chunks, |(_, chunk)| chunk.len()) {
            let statements: Vec<String> = chunks[wave.clone()]
                .iter()
                .map(|(set, chunk)| self.lookup_sql(*set, &chunk.sorted()))
                .collect();
            let expected: Vec<usize> = chunks[wave.clone()]
                .iter()
                .map(|(_, chunk)| chunk.len())
                .collect();
            let sets: Vec<usize> = chunks[wave].iter().map(|(set, _)| *set).collect();
            let owners: Vec<usize> = sets.iter().map(|&set| self.sets[set].parent).collect();
            batch(
                client,
                readers,
                &statements,
                &expected,
                &owners,
                |k, rows, _| {
                    let (set, parent) = (sets[k], owners[k]);
                    let matched = self.sets[set].matched;
                    for row in 0..rows.len() {
                        let (id, values) = self.parse(parent, rows, row)?;
                        let asked = match matched {
                            true => Some(self.asked_tuple(set, parent, rows, row)?),
                            false => None,
                        };
                        let added = self.add_row(parent, id, &values);
                        if let Some(asked) = asked {
                            self.sets[set].present.insert(asked);
                        }
                        if added {
                            self.tables[parent].selection.backfilled += 1;
                            found += 1;
                            match asked {
                                Some(asked) => self.record_asked_reason(set, asked, id),
                                None => self.record_reason(parent, id, &values),
                            }
                        }
                    }
                    self.compact();
                    Ok(())
                },
            )
            .context("looking up referenced rows")?;
        }
        Ok(found)
    }

    /// The rows of a key set's parent whose referenced columns hold one of `tuples`.
    fn lookup_sql(&self, set: usize, tuples: &[Packed]) -> String {
        let key = &self.sets[set];
        let parent = key.parent;
        let info = &self.catalog.tables[parent];
        let arity = key.parent_columns.len();
        let types: Vec<&str> = key
            .parent_columns
            .iter()
            .map(|c| {
                info.column(c)
                    .map(key_text::lookup_type)
                    .unwrap_or("pg_catalog.text")
            })
            .collect();
        let arrays: Vec<String> = (0..arity)
            .map(|i| {
                text_array_literal(
                    tuples
                        .iter()
                        .map(|&t| self.interner.text(self.unpacked(t, arity, i))),
                )
            })
            .collect();
        if key.matched {
            return self.matched_lookup_sql(set, &types, &arrays);
        }
        let mut condition = if arity == 1 {
            format!(
                "WHERE t.{} = ANY ({}::{}[])",
                quote_ident(&key.parent_columns[0]),
                arrays[0],
                types[0]
            )
        } else {
            let columns: Vec<String> = key
                .parent_columns
                .iter()
                .map(|c| format!("t.{}", quote_ident(c)))
                .collect();
            let casts: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, ty)| format!("k.c{i}::{ty}"))
                .collect();
            let aliases: Vec<String> = (0..types.len()).map(|i| format!("c{i}")).collect();
            format!(
                "WHERE ({}) IN (SELECT {} FROM unnest({}) AS k({}))",
                columns.join(", "),
                casts.join(", "),
                arrays.join(", "),
                aliases.join(", ")
            )
        };
        // The parent's orphans of its own unchecked keys are not chosen, asked for or not.
        if let Some(keep) = &self.keep[parent] {
            condition.push_str(&format!(" AND {keep}"));
        }
        let Some(fk) = key.self_reference else {
            return format!("{} {condition}", self.select_from(parent));
        };
        // A self-reference: the whole chain of ancestors in one recursive query. UNION drops
        // rows already found, so a cycle of rows ends the recursion. The recursive step is a
        // LATERAL subquery fenced by OFFSET 0, so that each chain row probes the parent's key
        // index: as a join, the planner misjudges the chain's size and, with sequential scans
        // off, walks the whole index on every step (44 rows read per exported row on a large
        // table instead of about one).
        let step = self.chain_step(set, fk, &types);
        let outputs = self.outputs(parent).join(", ");
        format!(
            "WITH RECURSIVE chain AS (SELECT {outputs} FROM {from} AS t {condition} \
             UNION SELECT s.* FROM chain CROSS JOIN LATERAL \
             (SELECT {outputs} FROM {from} AS t WHERE {step} OFFSET 0) AS s) \
             SELECT * FROM chain",
            from = info.from_clause(),
        )
    }

    /// The rows of a [`KeySet::matched`] key set's parent that equal one of the asked tuples
    /// (`arrays`, one `text[]` literal per column, `types` the parent columns' base types),
    /// each with the asked tuple it equals after the parent's tracked columns (`a0`, `a1` …):
    /// the asked array joined to the parent on the referenced columns, each asked value cast
    /// to its column's type, so that the parent type's equality compares them under the
    /// column's collation, as the server's own check does. A parent row equal to two asked
    /// tuples (`1.5` and `1.50`) comes back once for each.
    fn matched_lookup_sql(&self, set: usize, types: &[&str], arrays: &[String]) -> String {
        let key = &self.sets[set];
        let parent = key.parent;
        let info = &self.catalog.tables[parent];
        let on: Vec<String> = key
            .parent_columns
            .iter()
            .zip(types)
            .enumerate()
            .map(|(i, (column, ty))| {
                format!("t.{} {} k.a{i}::{ty}", quote_ident(column), key.equality[i])
            })
            .collect();
        let aliases: Vec<String> = (0..types.len()).map(|i| format!("a{i}")).collect();
        let asked: Vec<String> = aliases.iter().map(|a| format!(", k.{a} AS {a}")).collect();
        let mut from = format!(
            "FROM unnest({}) AS k({}) JOIN {} AS t ON {}",
            arrays.join(", "),
            aliases.join(", "),
            info.from_clause(),
            on.join(" AND ")
        );
        // The parent's orphans of its own unchecked keys are not chosen, asked for or not.
        if let Some(keep) = &self.keep[parent] {
            from.push_str(&format!(" WHERE {keep}"));
        }
        let outputs = self.outputs(parent).join(", ");
        let Some(fk) = key.self_reference else {
            return format!("SELECT {outputs}{} {from}", asked.concat());
        };
        // A self-reference: the chain of ancestors as in `lookup_sql`, each ancestor with the
        // value of the row below it that reached it (its asked tuple).
        let step = self.chain_step(set, fk, types);
        let reached: Vec<String> = self.key_of[fk]
            .1
            .iter()
            .enumerate()
            .map(|(i, position)| format!(", chain.v{position} AS a{i}"))
            .collect();
        format!(
            "WITH RECURSIVE chain AS (SELECT {outputs}{asked} {from} \
             UNION SELECT s.*{reached} FROM chain CROSS JOIN LATERAL \
             (SELECT {outputs} FROM {parent} AS t WHERE {step} OFFSET 0) AS s) \
             SELECT * FROM chain",
            asked = asked.concat(),
            reached = reached.concat(),
            parent = info.from_clause(),
        )
    }

    /// The condition under which a parent row (`t`) is the parent of a chain row (`chain`)
    /// through the self-reference `fk` of key set `set`, `types` the referenced columns' base
    /// types.
    fn chain_step(&self, set: usize, fk: usize, types: &[&str]) -> String {
        let key = &self.sets[set];
        let mut step: Vec<String> = key
            .parent_columns
            .iter()
            .zip(&self.key_of[fk].1)
            .zip(types)
            .zip(&key.equality)
            .map(|(((column, &position), ty), equality)| {
                format!(
                    "t.{} {equality} chain.v{position}::{ty}",
                    quote_ident(column)
                )
            })
            .collect();
        // A polymorphic self-reference follows only rows whose discriminator selects it.
        step.extend(self.conditions[fk].iter().map(|&(position, value)| {
            format!(
                "chain.v{position} = {}",
                quote_literal(self.interner.text(value))
            )
        }));
        step.extend(self.keep[key.parent].clone());
        // A self-reference declared on partitions follows only rows stored in them.
        if let Some(scope) = &self.catalog.foreign_keys[fk].partition {
            let oids: Vec<String> = scope.leaf_oids.iter().map(|o| o.to_string()).collect();
            step.push(match oids.is_empty() {
                true => "false".to_string(),
                false => format!("chain.r IN ({})", oids.join(", ")),
            });
        }
        step.join(" AND ")
    }
}

/// Whether every column of `fk` prints the values it shares with the referenced column as that
/// column does (see [`key_text::prints_one_way`]); a column the catalog lacks is taken as not.
fn prints_one_way(catalog: &Catalog, fk: &ForeignKey) -> bool {
    let (child, parent) = (&catalog.tables[fk.child], &catalog.tables[fk.parent]);
    fk.columns.iter().zip(&fk.parent_columns).all(|(c, p)| {
        match (child.column(c), parent.column(p)) {
            (Some(c), Some(p)) => key_text::prints_one_way(c, p),
            _ => false,
        }
    })
}

/// Turns a privilege or row-level-security refusal into advice; other errors pass through.
pub fn explain_read_error(error: postgres::Error) -> anyhow::Error {
    if let Some(db) = error.as_db_error() {
        if db.code().code() == "42501" && db.message().contains("row-level security") {
            return crate::problem::refuse(
                ExitKind::BadInput,
                crate::problem::Problem::unplaced(format!(
                    "{}: row-level security would hide rows from this role, so the export stops \
                     rather than silently export fewer rows. Export as the table's owner or a \
                     role with BYPASSRLS, or leave the table out with --exclude.",
                    db.message()
                ))
                .kind(crate::problem::ProblemKind::Source)
                .from_server(db),
            );
        }
        if db.code().code() == "42501" {
            return crate::problem::refuse(
                ExitKind::BadInput,
                crate::problem::Problem::unplaced(format!(
                    "{}: the role needs CONNECT on the database, USAGE on each schema and SELECT \
                     on each table it exports",
                    db.message()
                ))
                .kind(crate::problem::ProblemKind::Source),
            );
        }
    }
    anyhow::Error::new(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables `parents`, `children` and `grandchildren` of schema `app`; keys: children's
    /// NOT VALID one to parents, grandchildren's validated one to children, and a virtual
    /// polymorphic key of grandchildren to parents.
    fn orphan_catalog() -> Catalog {
        use crate::catalog::{Condition, Constraint, KeyKind, MatchRule, QualifiedName, Table};
        let table = |name: &str| Table {
            oid: 0,
            name: QualifiedName::new("app", name),
            kind: crate::catalog::TableKind::Ordinary,
            columns: Vec::new(),
            unique_keys: Vec::new(),
            has_rules: false,
            has_triggers: false,
            estimated_rows: 0,
        };
        let declared = |validated| {
            KeyKind::Declared(Constraint {
                schema: "app".into(),
                deferrable: false,
                validated,
                equality: Vec::new(),
            })
        };
        let key = |name: &str, child, column: &str, parent, kind| ForeignKey {
            name: name.into(),
            child,
            columns: vec![column.into()],
            parent,
            parent_columns: vec!["id".into()],
            match_rule: MatchRule::Simple,
            kind,
            partition: None,
        };
        Catalog {
            tables: vec![table("parents"), table("children"), table("grandchildren")],
            foreign_keys: vec![
                key("children_parent_fk", 1, "parent_id", 0, declared(false)),
                key("grandchildren_child_fk", 2, "child_id", 1, declared(true)),
                key(
                    "grandchildren(owner_id) -> parents(id) when owner = 'p'",
                    2,
                    "owner_id",
                    0,
                    KeyKind::Virtual {
                        condition: vec![Condition {
                            column: "owner".into(),
                            value: "p".into(),
                        }],
                        equality: Vec::new(),
                    },
                ),
            ],
            ..Catalog::default()
        }
    }

    /// `parents(id citext)`, `numbers(id integer)` and `children(id, parent_id citext,
    /// number_id integer)` with a key to each; the citext key compares with the extension's
    /// operator.
    fn citext_catalog() -> Catalog {
        use crate::catalog::{Column, Constraint, KeyKind, MatchRule, QualifiedName, Table};
        let column = |name: &str, ty: &str| Column {
            name: name.into(),
            type_name: ty.into(),
            base_type: ty.into(),
            domain_base: None,
            not_null: false,
            generated: false,
            identity: None,
            has_default: false,
            collation: None,
            is_enum: false,
        };
        let table = |name: &str, columns: Vec<Column>| Table {
            oid: 0,
            name: QualifiedName::new("app", name),
            kind: crate::catalog::TableKind::Ordinary,
            columns,
            unique_keys: Vec::new(),
            has_rules: false,
            has_triggers: false,
            estimated_rows: 0,
        };
        let key = |name: &str, column: &str, parent, equality: Vec<String>| ForeignKey {
            name: name.into(),
            child: 2,
            columns: vec![column.into()],
            parent,
            parent_columns: vec!["id".into()],
            match_rule: MatchRule::Simple,
            kind: KeyKind::Declared(Constraint {
                schema: "app".into(),
                deferrable: false,
                validated: true,
                equality,
            }),
            partition: None,
        };
        Catalog {
            tables: vec![
                table("parents", vec![column("id", "public.citext")]),
                table("numbers", vec![column("id", "integer")]),
                table(
                    "children",
                    vec![
                        column("id", "integer"),
                        column("parent_id", "public.citext"),
                        column("number_id", "integer"),
                    ],
                ),
            ],
            foreign_keys: vec![
                key(
                    "children_parent_fk",
                    "parent_id",
                    0,
                    vec!["OPERATOR(public.=)".into()],
                ),
                key("children_number_fk", "number_id", 1, Vec::new()),
            ],
            ..Catalog::default()
        }
    }

    #[test]
    fn a_key_whose_values_print_two_ways_looks_up_with_its_equality_and_returns_the_asked() {
        let catalog = citext_catalog();
        let mut selector = Selector::new(&catalog);
        let (citext, integer) = (selector.key_of[0].0, selector.key_of[1].0);
        assert!(selector.sets[citext].matched);
        assert!(!selector.sets[integer].matched);
        let asked: Vec<Packed> = ["AB", "it's"]
            .iter()
            .map(|v| selector.interner.intern(v) as Packed)
            .collect();
        assert_eq!(
            selector.lookup_sql(citext, &asked),
            "SELECT t.tableoid::pg_catalog.int8 AS r, t.ctid AS c, \
             t.\"id\"::pg_catalog.text AS v0, k.a0 AS a0 \
             FROM unnest('{\"AB\",\"it''s\"}'::pg_catalog.text[]) AS k(a0) \
             JOIN ONLY \"app\".\"parents\" AS t ON t.\"id\" OPERATOR(public.=) k.a0::public.citext"
        );
        // Integers print each value one way: the lookup as it was.
        let one = selector.interner.intern("1") as Packed;
        assert_eq!(
            selector.lookup_sql(integer, &[one]),
            "SELECT t.tableoid::pg_catalog.int8 AS r, t.ctid AS c, \
             t.\"id\"::pg_catalog.text AS v0 FROM ONLY \"app\".\"numbers\" AS t \
             WHERE t.\"id\" = ANY ('{\"1\"}'::pg_catalog.text[]::integer[])"
        );
        // The orphan count compares with the key's equality too.
        assert!(
            orphan_sql(&catalog, &catalog.foreign_keys[0], Probe::AntiJoin)
                .contains("p.\"id\" OPERATOR(public.=) t.\"parent_id\"")
        );
    }

    #[test]
    fn an_orphan_is_a_row_that_needs_a_parent_and_has_none() {
        let catalog = orphan_catalog();
        assert_eq!(
            orphan_sql(&catalog, &catalog.foreign_keys[0], Probe::AntiJoin),
            concat!(
                r#"(t."parent_id" IS NOT NULL AND NOT EXISTS (SELECT true FROM ONLY "#,
                r#""app"."parents" AS p WHERE p."id" = t."parent_id"))"#
            )
        );
        // Per row, as a scalar subquery the planner cannot hash.
        assert_eq!(
            orphan_sql(&catalog, &catalog.foreign_keys[0], Probe::PerRow),
            concat!(
                r#"(t."parent_id" IS NOT NULL AND (SELECT true FROM ONLY "app"."parents" AS p "#,
                r#"WHERE p."id" = t."parent_id" LIMIT 1) IS NULL)"#
            )
        );
        // A virtual key's condition limits it; a NULL discriminator is not an orphan.
        assert_eq!(
            orphan_sql(&catalog, &catalog.foreign_keys[2], Probe::AntiJoin),
            concat!(
                r#"((t."owner"::pg_catalog.text = 'p') IS TRUE AND t."owner_id" IS NOT NULL AND "#,
                r#"NOT EXISTS (SELECT true FROM ONLY "app"."parents" AS p "#,
                r#"WHERE p."id" = t."owner_id"))"#
            )
        );
        let kinds: Vec<Option<Unchecked>> =
            catalog.foreign_keys.iter().map(Unchecked::of).collect();
        assert_eq!(
            kinds,
            [Some(Unchecked::NotValid), None, Some(Unchecked::Virtual)]
        );
    }

    #[test]
    fn a_value_that_needs_an_orphan_names_both_keys_and_the_way_out() {
        let catalog = orphan_catalog();
        let message = unresolved_message(&catalog, 1, 3, &[(0, 2)]);
        for part in [
            "3 values of app.grandchildren(child_id) (grandchildren_child_fk) reference rows of \
             app.children",
            "2 rows of app.children whose (parent_id) has no row in app.parents \
             (children_parent_fk, a NOT VALID constraint)",
            r#"ALTER TABLE "app"."children" VALIDATE CONSTRAINT "children_parent_fk""#,
            "--filter 'app.grandchildren=CONDITION'",
        ] {
            assert!(message.contains(part), "{part:?} in {message}");
        }
        // Without a key leaving rows out, the rows are simply not there.
        assert_eq!(
            unresolved_message(&catalog, 1, 3, &[]),
            "foreign key values could not be resolved: 3 values of \
             app.grandchildren(child_id) (grandchildren_child_fk) have no row in app.children"
        );
        let left_out = LeftOut {
            foreign_key: "children_parent_fk".into(),
            table: "app.children".into(),
            columns: vec!["parent_id".into()],
            references: "app.parents".into(),
            kind: Unchecked::NotValid,
            rows: 2,
        };
        assert_eq!(
            left_out.warning(),
            "left out 2 rows of app.children: their (parent_id) has no row in app.parents \
             (children_parent_fk, a NOT VALID constraint, which still checks every new row; a \
             target with the key would refuse them)"
        );
    }

    #[test]
    fn preferred_rows_first_then_fill_in_key_order() {
        let preferred = [false, true, false, true, true];
        assert_eq!(pick_sample(&preferred, 2), vec![1, 3]);
        assert_eq!(pick_sample(&preferred, 4), vec![0, 1, 3, 4]);
        assert_eq!(pick_sample(&preferred, 9), vec![0, 1, 2, 3, 4]);
        assert_eq!(pick_sample(&[false, false], 1), vec![0]);
        assert_eq!(pick_sample(&[], 3), Vec::<usize>::new());
    }

    #[test]
    fn levels_put_every_table_after_its_parents() {
        use crate::graph::{load_plan, Edge, EdgeKind};
        // 0 <- 1 <- 2, 0 <- 3, and the cycle {4, 5} under 3.
        let edges = [(1, 0), (2, 1), (3, 0), (4, 3), (5, 4), (4, 5)]
            .iter()
            .enumerate()
            .map(|(id, &(child, parent))| Edge {
                child,
                parent,
                kind: EdgeKind::Nullable,
                id,
            })
            .collect::<Vec<_>>();
        let plan = load_plan(6, &edges);
        let levels = component_levels(&plan, |t| {
            edges
                .iter()
                .filter(|e| e.child == t)
                .map(|e| e.parent)
                .collect()
        });
        let level_of = |table: usize| {
            let c = plan.iter().position(|c| c.tables.contains(&table)).unwrap();
            levels[c]
        };
        assert_eq!(
            (0..6).map(level_of).collect::<Vec<_>>(),
            vec![0, 1, 2, 1, 2, 2]
        );
        // Per table, as the backfill orders its lookups: every parent outside the child's
        // cycle sits on a lower level, so it is looked up after all its children are done.
        let per_table = table_levels(&plan, &levels, 7);
        assert_eq!(
            per_table,
            vec![0, 1, 2, 1, 2, 2, 0],
            "table 6 is in no component"
        );
        for e in &edges {
            let same_cycle = plan
                .iter()
                .any(|c| c.tables.contains(&e.child) && c.tables.contains(&e.parent));
            assert!(
                same_cycle || per_table[e.parent] < per_table[e.child],
                "{e:?}"
            );
        }
    }

    #[test]
    fn windows_split_by_expected_rows() {
        let w = WINDOW_ROWS_PER_SESSION;
        // One session: windows of WINDOW_ROWS_PER_SESSION rows; a statement expected to
        // return more goes alone.
        let expected = [w / 2, w / 2, 1, w * 3, 1, 1];
        assert_eq!(window_ranges(&expected, 1, w), vec![0..2, 2..3, 3..4, 4..6]);
        // Four sessions: four times as many rows per window, or four of the largest statement.
        assert_eq!(window_ranges(&expected, 4, w), vec![0..6]);
        assert!(window_ranges(&[], 8, w).is_empty());
        // Statements larger than a session's share still go a session's worth at a time.
        let chunks = [BATCH_ROWS; 5];
        assert_eq!(window_ranges(&chunks, 2, w), vec![0..2, 2..4, 4..5]);
    }

    #[test]
    fn statements_past_the_stream_size_are_streamed_in_runs() {
        let big = STREAM_ROWS + 1;
        let expected = [1, STREAM_ROWS, big, big, 3, big];
        assert_eq!(
            read_runs(&expected),
            vec![(0..2, false), (2..4, true), (4..5, false), (5..6, true)]
        );
        assert!(read_runs(&[]).is_empty());
    }

    #[test]
    fn copy_text_rows_arrive_in_parts_with_their_escapes_decoded() {
        // 2.5 parts' worth of rows: a NULL, a tab, a newline and a backslash in the values.
        let rows = BATCH_ROWS * 5 / 2;
        let mut copy = String::new();
        for i in 0..rows {
            copy.push_str(&format!("{i}\t(0,{i})\ta\\tb\\n{i}\\\\\t\\N\n"));
        }
        let mut parts = Vec::new();
        read_copy_parts(copy.as_bytes(), |part, last| {
            parts.push((part, last));
            true
        })
        .unwrap();
        let sizes: Vec<(usize, bool)> = parts.iter().map(|(p, last)| (p.len(), *last)).collect();
        assert_eq!(
            sizes,
            vec![
                (BATCH_ROWS, false),
                (BATCH_ROWS, false),
                (BATCH_ROWS / 2, true)
            ]
        );
        let (last, _) = &parts[2];
        let i = rows - 1;
        assert_eq!(
            last.get(BATCH_ROWS / 2 - 1, 0),
            Some(i.to_string().as_str())
        );
        assert_eq!(
            last.get(BATCH_ROWS / 2 - 1, 2),
            Some(format!("a\tb\n{i}\\").as_str())
        );
        assert_eq!(last.get(BATCH_ROWS / 2 - 1, 3), None);
        // A consumer that stops (its queue closed) ends the reading.
        let mut calls = 0;
        read_copy_parts(copy.as_bytes(), |_, _| {
            calls += 1;
            false
        })
        .unwrap();
        assert_eq!(calls, 1);
        // No rows: one empty last part.
        let mut empty = Vec::new();
        read_copy_parts(&b""[..], |part, last| {
            empty.push((part.len(), last));
            true
        })
        .unwrap();
        assert_eq!(empty, vec![(0, true)]);
    }

    #[test]
    fn a_table_s_statements_go_to_one_session_in_order() {
        let statements: Vec<String> = (0..6).map(|i| format!("SELECT {i}")).collect();
        let tables = [3, 4, 3, 5, 7, 4];
        let batches = home_batches(&statements, &[1; 6], &tables, 0..6, 2, BATCH_ROWS);
        // Tables 3, 5 and 7 read by session 1, table 4 by session 0; earliest batch first.
        assert_eq!(
            batches,
            vec![
                HomeBatch {
                    home: 1,
                    statements: vec![0, 2, 3, 4]
                },
                HomeBatch {
                    home: 0,
                    statements: vec![1, 5]
                },
            ]
        );
        // A batch stops before the statement that would take it over its rows.
        let expected = [BATCH_ROWS / 2, 1, BATCH_ROWS / 2, 1, 1, 1];
        let batches = home_batches(&statements, &expected, &tables, 1..6, 2, BATCH_ROWS);
        assert_eq!(
            batches,
            vec![
                HomeBatch {
                    home: 0,
                    statements: vec![1, 5]
                },
                HomeBatch {
                    home: 1,
                    statements: vec![2, 3, 4]
                },
            ]
        );
        let expected = [BATCH_ROWS, 1, 1, 1, 1, 1];
        let batches = home_batches(&statements, &expected, &tables, 0..3, 1, BATCH_ROWS);
        assert_eq!(
            batches,
            vec![
                HomeBatch {
                    home: 0,
                    statements: vec![0]
                },
                HomeBatch {
                    home: 0,
                    statements: vec![1, 2]
                },
            ]
        );
    }

    #[test]
    fn row_sets_keep_rows_once_in_row_id_order() {
        let id = |relation, block, offset| RowId {
            relation,
            block,
            offset,
        };
        let rows = [
            id(9, 0, 3),
            id(5, 70_000, 1),
            id(9, 0, 1),
            id(5, 2, 291),
            id(5, 2, 7),
        ];
        let mut set = RowSet::default();
        for row in rows {
            assert!(set.insert(row));
        }
        assert!(!set.insert(id(9, 0, 1)));
        assert!(set.contains(id(5, 70_000, 1)) && !set.contains(id(5, 70_000, 2)));
        let mut sorted = rows.to_vec();
        sorted.sort_unstable();
        assert_eq!(set.iter().collect::<Vec<_>>(), sorted);
        assert_eq!(set.len(), 5);
        let relations: Vec<(u32, usize)> = set
            .by_relation()
            .map(|(relation, rows)| (relation, rows.count()))
            .collect();
        assert_eq!(relations, vec![(5, 3), (9, 2)]);
        assert!(RowSet::default().is_empty());
    }

    #[test]
    fn waves_cut_by_rows() {
        let w = WAVE_ROWS;
        assert_eq!(
            wave_ranges(&[w / 2, w / 2, 1, w * 2, 1], |&n| n),
            vec![0..2, 2..3, 3..4, 4..5]
        );
        assert_eq!(wave_ranges(&[1, 2, 3], |&n| n), vec![0..3]);
        assert!(wave_ranges(&[] as &[usize], |&n| n).is_empty());
    }

    #[test]
    fn pending_tuples_come_out_sorted_in_chunks_without_the_present_ones() {
        for arity in [1, 2] {
            let mut pending = TupleSet::for_arity(arity);
            for t in [9u64, 3, 1 << 33, 5, 7, 1, 8] {
                pending.insert(t);
            }
            pending.optimize();
            let chunks = pending.chunks(3, |t| t != 5);
            let parts: Vec<Vec<Packed>> = chunks.iter().map(TupleSet::sorted).collect();
            assert_eq!(
                parts,
                vec![vec![1, 3, 7], vec![8, 9, 1 << 33]],
                "arity {arity}"
            );
            assert_eq!(chunks.iter().map(TupleSet::len).sum::<usize>(), 6);
            assert!(pending.chunks(3, |_| false).is_empty());
        }
    }

    #[test]
    fn text_rows_give_back_each_field_and_null() {
        let mut rows = TextRows::default();
        assert_eq!(rows.len(), 0);
        rows.push([Some("16384"), Some("(0,1)"), None, Some("")].into_iter());
        rows.push([None, Some("(0,2)"), Some("é"), Some("x")].into_iter());
        assert_eq!(rows.len(), 2);
        let row = |r| (0..4).map(|f| rows.get(r, f)).collect::<Vec<_>>();
        assert_eq!(row(0), vec![Some("16384"), Some("(0,1)"), None, Some("")]);
        assert_eq!(row(1), vec![None, Some("(0,2)"), Some("é"), Some("x")]);
    }

    #[test]
    fn row_ids_parse_and_print() {
        let id = RowId::parse("16384", "(12,7)").unwrap();
        assert_eq!((id.relation, id.block, id.offset), (16384, 12, 7));
        let other = RowId::parse("16384", "(0,1)").unwrap();
        assert_eq!(
            tid_array([id, other]),
            "'{\"(12,7)\",\"(0,1)\"}'::pg_catalog.tid[]"
        );
        assert!(RowId::parse("1", "12,7").is_none());
    }

    #[test]
    fn interned_texts_keep_one_id_each_and_read_back() {
        let mut interner = Interner::default();
        let texts: Vec<String> = (0..5000).map(|i| format!("key-{}", i % 2500)).collect();
        let ids: Vec<u32> = texts.iter().map(|t| interner.intern(t)).collect();
        assert_eq!(
            interner.intern(""),
            2500,
            "the empty text is a value of its own"
        );
        assert_eq!(interner.text(2500), "");
        for (text, &id) in texts.iter().zip(&ids) {
            assert_eq!(interner.text(id), text);
            assert_eq!(interner.intern(text), id);
        }
        assert_eq!(ids[..2500], ids[2500..], "the same text, the same id");
        assert_eq!(*ids.iter().max().unwrap(), 2499);
    }

    #[test]
    fn array_literals_escape_quotes_and_backslashes() {
        assert_eq!(
            text_array_literal(["a", "b\"c", "it's", "x\\y"].into_iter()),
            r#"'{"a","b\"c","it''s","x\\y"}'::pg_catalog.text[]"#
        );
        assert_eq!(
            text_array_literal(["{,}", "é"].into_iter()),
            r#"'{"{,}","é"}'::pg_catalog.text[]"#
        );
        assert_eq!(
            text_array_literal(std::iter::empty()),
            "'{}'::pg_catalog.text[]"
        );
    }
}
