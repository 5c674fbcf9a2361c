//! How the import checks foreign keys, and its fast path (superuser, or a role allowed to set
//! `session_replication_role`): load with foreign-key triggers off, then prove every key with
//! batched anti-joins (one statement per parent key, counting each foreign key apart).
//!
//! A per-row foreign-key check (the RI trigger's `SELECT … FOR KEY SHARE`) is most of an
//! import's time on a wide schema. [`begin`] chooses, in this order:
//! 1. **Batched** ([`KeyChecks::Batched`]): when the importing role may set it (a superuser,
//!    or a role granted `SET ON PARAMETER session_replication_role`, PostgreSQL 15+), the
//!    import sets `session_replication_role = replica` inside its locked transaction, which
//!    stops those triggers, and back to `origin` after the last row; it then checks, over each
//!    loaded table in whole:
//!    - every foreign key of the table (a `NOT EXISTS` count per key, all sent in batches; the
//!      keys that reference the same parent columns from columns of the same types are
//!      counted by one statement, which reads the parent once), those to a table of the target
//!      the snapshot does not carry included ([`Catalog::outside_keys`]): counted against the
//!      target's rows of that table, which the import locks `SHARE` with the switch (in the
//!      same savepoint), so that none of them can go before the commit (the per-row check's
//!      row locks would have kept them);
//!    - every DEFERRABLE unique key (replica mode also skips their deferred recheck): one
//!      duplicate count per key.
//!
//!    Any orphan or duplicate fails the import as the trigger would have (bad input, naming
//!    the constraint) and it rolls back. No constraint is dropped or disabled. A key the
//!    snapshot's files prove (`proved_keys.rs`) is not counted.
//! 2. **Re-added** ([`KeyChecks::ReAdded`]): a role that owns the tables but may not set the
//!    parameter drops the keys for the load and adds them back, validated by the server, when
//!    the rows make that cheaper (see [`re_added_keys`]).
//! 3. **Per row** ([`KeyChecks::PerRow`]): the triggers check every row as it loads.
//!
//! The first two are chosen automatically, and only where whole-table checks cost what the
//! rows cost: every loaded table was empty before the load (so a whole-table check reads only
//! the new rows; a big target keeps the per-row triggers). And only when nothing else that
//! replica mode changes is in play: no loaded table has rules or a user trigger left enabled
//! (the user triggers the import holds off, those enabled `REPLICA` included, are disabled
//! anyway; replica mode would silently skip the others, or fire the `REPLICA` ones it may not
//! hold off, so the caller never takes these paths with `--fire-triggers`), no key is `NOT
//! VALID` (old rows may break it, so a whole-table check would fail wrongly), `MATCH FULL`
//! (its partly-null rule is the trigger's) or declared on partitions, and no key leaves the
//! schemas the catalog read (its parent is unknown). A deferrable exclusion constraint on a loaded table (replica mode would skip its
//! recheck) rules out the batched path only.

use anyhow::{Context, Result};
use postgres::types::Type;
use postgres::Transaction;
use serde::Serialize;

use crate::catalog::{quote_ident, Catalog, ForeignKey, MatchRule, Table, UniqueKey};
use crate::error::ExitKind;
use crate::key_text;
use crate::problem::{self, Problem, ProblemKind};

use crate::snapshot::manifest::ManifestForeignKey;
use crate::snapshot::SnapshotDir;

use super::proved_keys::ProvedKeys;
use super::{fk_violation, re_added_keys, Layout};

const LOAD_CHECKS_SQL: &str = include_str!("../catalog/load_checks.sql");

/// Why the per-row triggers stay on for these tables, or `None` when the catalog allows the
/// fast path (the role and exclusion constraints are asked of the server separately).
/// `empty[t]`: table `t` held no rows before the load.
pub fn catalog_refusal(catalog: &Catalog, loaded: &[usize], empty: &[bool]) -> Option<String> {
    for &t in loaded {
        let table = &catalog.tables[t];
        if !empty[t] {
            return Some(format!("{} already holds rows", table.name));
        }
        if !table.inserts_verbatim() {
            return Some(format!("{} has rules or user triggers", table.name));
        }
        if catalog.external_foreign_keys.iter().any(|(c, _)| *c == t) {
            return Some(format!(
                "{} has a foreign key outside the schemas read",
                table.name
            ));
        }
    }
    catalog
        .declared_keys()
        .map(|(fk, _)| fk)
        .filter(|fk| loaded.contains(&fk.child))
        .find(|fk| !fk.validated() || fk.match_rule == MatchRule::Full || fk.partition.is_some())
        .map(|fk| {
            format!(
                "foreign key {} is NOT VALID, MATCH FULL or declared on partitions",
                fk.name
            )
        })
}

/// How the foreign keys of the loaded tables are checked.
#[derive(Debug)]
pub enum KeyChecks {
    /// By their triggers, row by row (the tables load in dependency order).
    PerRow,
    /// Triggers off (replica mode), every key counted by batched queries after the load.
    Batched,
    /// Dropped for the load and added back after it, validated by the server (see
    /// [`re_added_keys`]).
    ReAdded(re_added_keys::DroppedKeys),
}

/// [`KeyChecks`] as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCheckMode {
    PerRow,
    Batched,
    ReAdded,
}

impl KeyChecks {
    pub fn mode(&self) -> KeyCheckMode {
        match self {
            KeyChecks::PerRow => KeyCheckMode::PerRow,
            KeyChecks::Batched => KeyCheckMode::Batched,
            KeyChecks::ReAdded(_) => KeyCheckMode::ReAdded,
        }
    }

    /// Whether the tables load straight from their files in any order (no key is checked
    /// while they load).
    pub fn keys_off_during_load(&self) -> bool {
        !matches!(self, KeyChecks::PerRow)
    }
}

/// Chooses how the keys are checked; for [`KeyChecks::Batched`] switches the session to
/// replica mode, for [`KeyChecks::ReAdded`] drops the keys. `checked_values`: the sum, over
/// the keys of the loaded tables, of the rows loaded into each key's table.
pub fn begin(
    txn: &mut Transaction<'_>,
    catalog: &Catalog,
    loaded: &[usize],
    empty: &[bool],
    checked_values: u64,
) -> Result<KeyChecks> {
    if catalog_refusal(catalog, loaded, empty).is_some() {
        return Ok(KeyChecks::PerRow);
    }
    let oids: Vec<postgres::types::Oid> = loaded.iter().map(|&t| catalog.tables[t].oid).collect();
    // One round trip each (`query_typed`: no separate prepare).
    let row = txn
        .query_typed_one(LOAD_CHECKS_SQL, &[(&oids, Type::OID_ARRAY)])
        .context("reading the deferrable exclusion constraints of the loaded tables")?;
    let (exclusions, superuser, version, event_triggers, lock_slots): (
        i64,
        Option<bool>,
        i32,
        i64,
        i64,
    ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    if exclusions == 0
        && may_try_replica(txn, superuser, version)?
        && switch_to_replica(txn, &outside_parents_lock(catalog, loaded))?
    {
        return Ok(KeyChecks::Batched);
    }
    if event_triggers > 0 {
        return Ok(KeyChecks::PerRow);
    }
    Ok(
        re_added_keys::try_drop(txn, &oids, checked_values, lock_slots.max(0) as u64)?
            .map_or(KeyChecks::PerRow, KeyChecks::ReAdded),
    )
}

/// Whether replica mode is worth trying. From PostgreSQL 15 a role's right to set the
/// parameter can be asked: a plain owner then does not leave a "permission denied" error in
/// the server's log at every import. Before 15, only a hosted service's own rule could allow a
/// role that is not a superuser; trying is the only way to know.
fn may_try_replica(
    txn: &mut Transaction<'_>,
    superuser: Option<bool>,
    version: i32,
) -> Result<bool> {
    if superuser == Some(true) || version < 150000 {
        return Ok(true);
    }
    Ok(txn
        .query_typed_one(
            "SELECT pg_catalog.has_parameter_privilege('session_replication_role', 'SET')",
            &[],
        )
        .context("reading whether the role may set session_replication_role")?
        .get(0))
}

/// The statement that locks the tables left out of the snapshot that a loaded table's key
/// references (empty when there are none): `SHARE` until the commit, so that no row the
/// counts found can be deleted or changed before then (what the row locks of the per-row
/// checks guarantee); reads and other imports go on. `NOWAIT`: while another session writes
/// one of them, the import takes another path at once rather than wait.
fn outside_parents_lock(catalog: &Catalog, loaded: &[usize]) -> String {
    let mut parents: Vec<usize> = catalog
        .outside_keys
        .iter()
        .filter(|fk| loaded.contains(&fk.child))
        .map(|fk| fk.parent)
        .collect();
    parents.sort_unstable();
    parents.dedup();
    if parents.is_empty() {
        return String::new();
    }
    let names: Vec<String> = parents
        .iter()
        .map(|&p| catalog.outside_parents[p].name.sql())
        .collect();
    format!("LOCK TABLE {} IN SHARE MODE NOWAIT; ", names.join(", "))
}

/// Tries `SET LOCAL session_replication_role = replica` in a savepoint: a superuser may, and
/// so may a role granted it (`GRANT SET ON PARAMETER session_replication_role`, PostgreSQL
/// 15+, or a hosted service's own rule). The server's answer is the test, not a guess from
/// role attributes; refused (insufficient privilege), the session is as before and the
/// import keeps the per-row triggers. `lock` (see [`outside_parents_lock`]) runs in the same
/// savepoint: a role that may not take it, or a lock held by another session, keeps the
/// per-row triggers too (or the re-added keys).
fn switch_to_replica(txn: &mut Transaction<'_>, lock: &str) -> Result<bool> {
    // One round trip: a refusal aborts the rest of the string, and the savepoint is rolled back.
    match txn.batch_execute(&format!(
        "SAVEPOINT seedsnap_replica; SET LOCAL session_replication_role = replica; {lock}\
         RELEASE SAVEPOINT seedsnap_replica"
    )) {
        Ok(()) => Ok(true),
        Err(error)
            if error.code().map(|c| c.code()) == Some("42501")
                || (!lock.is_empty() && error.code().map(|c| c.code()) == Some("55P03")) =>
        {
            txn.batch_execute(
                "ROLLBACK TO SAVEPOINT seedsnap_replica; RELEASE SAVEPOINT seedsnap_replica",
            )
            .context("keeping the foreign-key triggers on for the load")?;
            Ok(false)
        }
        Err(error) if lock.is_empty() => {
            Err(error).context("switching foreign-key triggers off for the load")
        }
        Err(error) => Err(error).context(format!(
            "switching foreign-key triggers off for the load ({})",
            lock.trim_end_matches("; ")
        )),
    }
}

/// One key [`check`] counts. Its SQL and its words are made when needed, not held for every
/// key of the schema at once (on 3,000 tables those strings were a quarter of the import's
/// heap).
enum Check<'a> {
    /// Foreign key `fk` to table `parent` (in the catalog or left out of it), from `child`'s
    /// `columns`, counted with the keys it shares an [`OrphanGroup`] with (see
    /// [`counting_plan`]).
    ForeignKey {
        fk: &'a ForeignKey,
        parent: &'a Table,
        child: usize,
        columns: &'a [String],
        group: OrphanGroup<'a>,
    },
    /// A deferrable unique key of table `table`, counted alone.
    Unique { table: usize, key: &'a UniqueKey },
}

impl Check<'_> {
    /// What a non-zero count means.
    fn what(&self, catalog: &Catalog) -> String {
        match self {
            Check::ForeignKey { fk, parent, .. } => format!(
                "{} violates foreign key constraint \"{}\": rows whose ({}) have no row in {}",
                catalog.tables[fk.child].name,
                fk.name,
                fk.columns.join(", "),
                parent.name,
            ),
            Check::Unique { table, key } => format!(
                "{} violates unique constraint \"{}\": values of ({}) held by more than one row",
                catalog.tables[*table].name,
                key.name,
                key.columns.join(", ")
            ),
        }
    }

    /// The table a non-zero count is about and the constraint's name.
    fn names(&self, catalog: &Catalog) -> (String, String) {
        match self {
            Check::ForeignKey { fk, .. } => {
                (catalog.tables[fk.child].name.to_string(), fk.name.clone())
            }
            Check::Unique { table, key } => {
                (catalog.tables[*table].name.to_string(), key.name.clone())
            }
        }
    }

    /// For a foreign key, the statement that counts its orphans alone (its first orphans are
    /// read with the same conditions).
    fn orphan_sql(&self, layout: &Layout) -> Option<String> {
        let Check::ForeignKey { fk, parent, .. } = self else {
            return None;
        };
        let catalog = layout.catalog;
        // A declared key of the whole table (the others never take this path), as the import's
        // own orphan check reads keys.
        let key = ManifestForeignKey {
            name: fk.name.clone(),
            columns: fk.columns.clone(),
            references: parent.name.clone(),
            referenced_columns: fk.parent_columns.clone(),
            deferrable: fk.deferrable(),
            match_full: false,
            virtual_key: false,
            when: Vec::new(),
            partitions: Vec::new(),
        };
        Some(layout.loads[&fk.child].orphan_count(
            &catalog.tables[fk.child].from_clause(),
            &key,
            None,
            parent,
            fk.equalities(),
        ))
    }
}

/// Foreign keys counted by one statement: same parent and referenced columns, and child
/// columns of the same types (so that `UNION ALL` converts nothing).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct OrphanGroup<'a> {
    parent: String,
    parent_columns: &'a [String],
    child_types: Vec<&'a str>,
    /// ` COLLATE …` of each parent column, or nothing (see `statements::collate_as`).
    collations: Vec<String>,
    /// The keys' equality of each column (see [`crate::catalog::Constraint::equality`]).
    equality: Vec<String>,
    /// `::type` of each column when the child's values are cast to the parent's type to be
    /// compared, as the server's check does ([`key_text::child_cast`]), or nothing.
    casts: Vec<String>,
}

/// At most this many foreign keys are counted by one statement.
const KEYS_PER_COUNT: usize = 32;

/// Switches the triggers back on and checks every foreign key and deferrable unique key of the
/// loaded tables. A broken key fails as the trigger would have (bad input, naming the
/// constraint, and for a foreign key the file, line and values of its first rows), listing
/// every broken key at once.
///
/// The keys in `proved` (see [`super::proved_keys`]) are not counted: the snapshot's files
/// prove them. Returns how many foreign keys were counted.
pub fn check(
    txn: &mut Transaction<'_>,
    layout: &Layout,
    loaded: &[usize],
    snapshot: &SnapshotDir,
    proved: &ProvedKeys,
) -> Result<usize> {
    // The triggers back on in the same round trip as the counts (it returns no row).
    count_keys(
        txn,
        layout,
        loaded,
        snapshot,
        proved,
        Some("SET LOCAL session_replication_role = origin"),
    )
}

/// Checks every foreign key and deferrable unique key of the loaded tables by batched counting
/// queries (see [`check`]).
pub fn check_keys(
    txn: &mut Transaction<'_>,
    layout: &Layout,
    loaded: &[usize],
    snapshot: &SnapshotDir,
) -> Result<()> {
    count_keys(txn, layout, loaded, snapshot, &ProvedKeys::default(), None).map(|_| ())
}

/// [`check_keys`] but for the keys in `proved`, with `first` (a statement that returns no
/// row) sent ahead of the counting statements in their first round trip. Returns how many
/// foreign keys it counted.
fn count_keys(
    txn: &mut Transaction<'_>,
    layout: &Layout,
    loaded: &[usize],
    snapshot: &SnapshotDir,
    proved: &ProvedKeys,
    first: Option<&str>,
) -> Result<usize> {
    let catalog = layout.catalog;
    let mut checks: Vec<Check> = Vec::new();
    for (fk, parent) in catalog
        .declared_keys()
        .filter(|(fk, _)| loaded.contains(&fk.child) && !proved.contains(fk))
    {
        let child = &catalog.tables[fk.child];
        let child_types = fk
            .columns
            .iter()
            .map(|c| child.column(c).map_or("", |c| &*c.type_name))
            .collect();
        let casts = fk
            .columns
            .iter()
            .zip(&fk.parent_columns)
            .map(|(c, p)| match (child.column(c), parent.column(p)) {
                (Some(c), Some(p)) => key_text::child_cast(c, p)
                    .map(|ty| format!("::{ty}"))
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .collect();
        checks.push(Check::ForeignKey {
            fk,
            parent,
            child: fk.child,
            columns: &fk.columns,
            group: OrphanGroup {
                // As PostgreSQL's own check: `ONLY` unless the parent is partitioned.
                parent: parent.from_clause(),
                parent_columns: &fk.parent_columns,
                child_types,
                collations: fk
                    .parent_columns
                    .iter()
                    .map(|c| super::statements::collate_as(parent, c))
                    .collect(),
                equality: (0..fk.parent_columns.len())
                    .map(|i| fk.equality(i).to_string())
                    .collect(),
                casts,
            },
        });
    }
    for &table in loaded {
        for key in catalog.tables[table]
            .unique_keys
            .iter()
            .filter(|k| k.deferrable)
        {
            checks.push(Check::Unique { table, key });
        }
    }
    let plan = counting_plan(&checks);
    // The statements are written a round trip at a time, never all at once.
    let statements = first.map(str::to_string).into_iter().chain(
        plan.iter()
            .map(|members| counting_sql(&checks, members, catalog)),
    );
    // Each statement's one row goes straight into the counts of the checks it answers for
    // (`None`: not a number), in statement order.
    let mut answers: Vec<Option<i64>> = vec![None; checks.len()];
    let mut answered = 0;
    super::batch_map_written(txn, statements, |row| {
        if let Some(counted) = plan.get(answered) {
            for (column, &check) in counted.iter().enumerate() {
                answers[check] = row
                    .try_get(column)
                    .ok()
                    .flatten()
                    .and_then(|v| v.parse().ok());
            }
        }
        answered += 1;
    })
    .context("checking every foreign key")?;
    anyhow::ensure!(answered == plan.len(), "one answer per counting statement");
    let mut counts = vec![0i64; checks.len()];
    for (check, answer) in answers.into_iter().enumerate() {
        counts[check] = answer.with_context(|| {
            format!(
                "checking keys: no count for {}",
                checks[check].what(catalog)
            )
        })?;
    }
    let mut broken = Vec::new();
    let mut problems = Vec::new();
    for (check, &n) in checks.iter().zip(&counts) {
        if n == 0 {
            continue;
        }
        let what = check.what(catalog);
        // The first few orphans, with the file's line and the key values.
        let mut located = Vec::new();
        let mut file = None;
        if let (Check::ForeignKey { child, columns, .. }, Some(count)) =
            (check, check.orphan_sql(layout))
        {
            if let Some(sql) = fk_violation::orphan_examples_sql(&count, columns) {
                let examples: Vec<Vec<Option<String>>> = txn
                    .query(sql.as_str(), &[])?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let table = layout.manifest_table(*child);
                located = fk_violation::describe_examples(snapshot, table, columns, &examples);
                file = Some(snapshot.file_path(table).display().to_string());
            }
        }
        let texts: Vec<&str> = located.iter().map(|(_, text)| text.as_str()).collect();
        let text = match texts.is_empty() {
            true => format!("{what} ({n})"),
            false => format!("{what} ({n}): {}", texts.join("; ")),
        };
        let line = located.iter().find_map(|(line, _)| *line);
        let (table, constraint) = check.names(catalog);
        problems.push(
            match file {
                Some(file) => Problem::in_file(file, line, None, text.clone()),
                None => Problem::unplaced(text.clone()),
            }
            .kind(ProblemKind::ConstraintViolation)
            .table(table)
            .constraint(constraint),
        );
        broken.push(text);
    }
    if broken.is_empty() {
        return Ok(checks
            .iter()
            .filter(|c| matches!(c, Check::ForeignKey { .. }))
            .count());
    }
    Err(problem::with_problems(
        ExitKind::BadInput,
        format!(
            "the snapshot's rows violate constraints of the target: {}",
            broken.join("; ")
        ),
        problems,
    ))
}

/// Which checks each counting statement answers for, in the order of its one row's columns.
/// A deferrable unique key is counted alone; foreign keys of one [`OrphanGroup`] (up to
/// [`KEYS_PER_COUNT`]) by one statement, which reads the parent once for all of them: on the
/// bundled demo, eight keys reference `app.users`, and each anti-join of its own hashed the
/// whole parent again.
fn counting_plan(checks: &[Check]) -> Vec<Vec<usize>> {
    let mut statements = Vec::new();
    // The groups in the order of their first key, and where each is in that list.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut position: std::collections::HashMap<&OrphanGroup, usize> = Default::default();
    for (i, check) in checks.iter().enumerate() {
        match check {
            Check::Unique { .. } => statements.push(vec![i]),
            Check::ForeignKey { group, .. } => {
                let at = *position.entry(group).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[at].push(i);
            }
        }
    }
    for members in groups {
        statements.extend(members.chunks(KEYS_PER_COUNT).map(<[usize]>::to_vec));
    }
    statements
}

/// The counting statement of `members` (one entry of [`counting_plan`]).
fn counting_sql(checks: &[Check], members: &[usize], catalog: &Catalog) -> String {
    let group = match &checks[members[0]] {
        Check::Unique { table, key } => {
            return duplicate_count(&catalog.tables[*table].from_clause(), key)
        }
        Check::ForeignKey { group, .. } => group,
    };
    let children: Vec<(String, &[String])> = members
        .iter()
        .filter_map(|&i| match &checks[i] {
            Check::ForeignKey { child, columns, .. } => {
                Some((catalog.tables[*child].from_clause(), *columns))
            }
            Check::Unique { .. } => None,
        })
        .collect();
    orphan_counts(group, &children)
}

/// One row: for each child relation and its key columns, how many of its rows with every key
/// column set have no row in the group's parent with those values.
fn orphan_counts(group: &OrphanGroup<'_>, children: &[(String, &[String])]) -> String {
    let branches: Vec<String> = children
        .iter()
        .enumerate()
        .map(|(k, (from, columns))| {
            let values: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("s.{} AS v{i}", quote_ident(c)))
                .collect();
            let set: Vec<String> = columns
                .iter()
                .map(|c| format!("s.{} IS NOT NULL", quote_ident(c)))
                .collect();
            format!(
                "SELECT {k} AS k, {} FROM {from} AS s WHERE {}",
                values.join(", "),
                set.join(" AND ")
            )
        })
        .collect();
    let counts: Vec<String> = (0..children.len())
        .map(|k| {
            format!(
                "pg_catalog.count(*) FILTER (WHERE s.k OPERATOR(pg_catalog.=) {k})::pg_catalog.int8"
            )
        })
        .collect();
    let matches: Vec<String> = group
        .parent_columns
        .iter()
        .zip(&group.collations)
        .zip(group.equality.iter().zip(&group.casts))
        .enumerate()
        .map(|(i, ((p, collate), (equality, cast)))| {
            format!("p.{} {equality} s.v{i}{cast}{collate}", quote_ident(p))
        })
        .collect();
    format!(
        "SELECT {} FROM ({}) AS s WHERE NOT EXISTS (SELECT 1 FROM {} AS p WHERE {})",
        counts.join(", "),
        branches.join(" UNION ALL "),
        group.parent,
        matches.join(" AND ")
    )
}

/// Counts the groups of rows of `from` that share values of the unique key `key`: non-null
/// values, or for a `NULLS NOT DISTINCT` key any values (`GROUP BY` puts NULLs together, as
/// such a key compares them).
fn duplicate_count(from: &str, key: &UniqueKey) -> String {
    let quoted: Vec<String> = key.columns.iter().map(|c| quote_ident(c)).collect();
    let not_null: Vec<String> = quoted.iter().map(|c| format!("{c} IS NOT NULL")).collect();
    let filter = match key.nulls_not_distinct {
        true => String::new(),
        false => format!("WHERE {} ", not_null.join(" AND ")),
    };
    format!(
        "SELECT pg_catalog.count(*)::pg_catalog.int8 FROM (SELECT 1 FROM {from} \
         {filter}GROUP BY {} \
         HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1) AS d",
        quoted.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Table {
        Table::bare("public", name)
    }

    #[test]
    fn keys_are_counted_together_by_parent_columns_and_child_types_in_chunks() {
        let catalog = Catalog {
            tables: vec![table("a"), table("b")],
            ..Catalog::default()
        };
        let (fk, parent) = (ForeignKey::declared("k", 0, 0), table("P"));
        let columns = ["p".to_string()];
        let id = ["id".to_string()];
        let code = ["code".to_string()];
        fn group<'a>(
            parent: &str,
            parent_columns: &'a [String],
            child_type: &'a str,
        ) -> OrphanGroup<'a> {
            OrphanGroup {
                parent: parent.into(),
                parent_columns,
                child_types: vec![child_type],
                collations: vec![String::new()],
                equality: vec!["=".into()],
                casts: vec![String::new()],
            }
        }
        let key = |child: usize, group| Check::ForeignKey {
            fk: &fk,
            parent: &parent,
            child,
            columns: &columns,
            group,
        };
        let unique = UniqueKey {
            name: "b_code".into(),
            columns: vec!["code".into()],
            primary: false,
            deferrable: true,
            nulls_not_distinct: false,
            equality: Vec::new(),
        };
        // 70 integer keys to one parent column, one bigint key to it, one key to another
        // column of the same parent, and a unique check in between.
        let mut checks: Vec<Check> = (0..70)
            .map(|i| key(i % 2, group("P", &id, "integer")))
            .collect();
        checks.insert(
            5,
            Check::Unique {
                table: 1,
                key: &unique,
            },
        );
        checks.push(key(0, group("P", &id, "bigint")));
        checks.push(key(1, group("P", &code, "integer")));
        let members = counting_plan(&checks);
        let statements: Vec<String> = members
            .iter()
            .map(|m| counting_sql(&checks, m, &catalog))
            .collect();
        let integer_keys: Vec<usize> = (0..71).filter(|&i| i != 5).collect();
        assert_eq!(
            members,
            vec![
                vec![5],
                integer_keys[..32].to_vec(),
                integer_keys[32..64].to_vec(),
                integer_keys[64..].to_vec(),
                vec![71],
                vec![72],
            ]
        );
        assert_eq!(
            statements[0],
            duplicate_count("ONLY \"public\".\"b\"", &unique),
            "a unique key is counted alone, by its own statement"
        );
        // One count column per key, each child once per key.
        assert_eq!(statements[1].matches("FILTER").count(), 32);
        assert_eq!(statements[3].matches("UNION ALL").count(), 5);
        assert!(statements[4].contains("FROM ONLY \"public\".\"a\" AS s"));
    }

    #[test]
    fn keys_sharing_a_parent_are_counted_in_one_statement() {
        let parent_columns = ["id".to_string(), "K".to_string()];
        let group = OrphanGroup {
            parent: "public.parent".into(),
            parent_columns: &parent_columns,
            child_types: vec!["integer", "text"],
            collations: vec![String::new(), " COLLATE pg_catalog.\"C\"".into()],
            equality: vec!["=".into(), "OPERATOR(ext.=)".into()],
            casts: vec![String::new(), "::ext.citext".into()],
        };
        let (a, b) = (
            ["p".to_string(), "pk".to_string()],
            ["x".to_string(), "y".to_string()],
        );
        assert_eq!(
            orphan_counts(&group, &[("ONLY public.a".into(), &a[..]), ("ONLY public.b".into(), &b[..])]),
            "SELECT pg_catalog.count(*) FILTER (WHERE s.k OPERATOR(pg_catalog.=) 0)::pg_catalog.int8, \
             pg_catalog.count(*) FILTER (WHERE s.k OPERATOR(pg_catalog.=) 1)::pg_catalog.int8 \
             FROM (SELECT 0 AS k, s.\"p\" AS v0, s.\"pk\" AS v1 FROM ONLY public.a AS s \
             WHERE s.\"p\" IS NOT NULL AND s.\"pk\" IS NOT NULL \
             UNION ALL SELECT 1 AS k, s.\"x\" AS v0, s.\"y\" AS v1 FROM ONLY public.b AS s \
             WHERE s.\"x\" IS NOT NULL AND s.\"y\" IS NOT NULL) AS s \
             WHERE NOT EXISTS (SELECT 1 FROM public.parent AS p WHERE p.\"id\" = s.v0 \
             AND p.\"K\" OPERATOR(ext.=) s.v1::ext.citext COLLATE pg_catalog.\"C\")"
        );
    }

    #[test]
    fn duplicates_are_counted_over_non_null_keys_unless_nulls_are_not_distinct() {
        let mut key = UniqueKey {
            name: "t_a_b".into(),
            columns: vec!["a".into(), "B".into()],
            primary: false,
            deferrable: true,
            nulls_not_distinct: false,
            equality: Vec::new(),
        };
        assert_eq!(
            duplicate_count("ONLY public.t", &key),
            "SELECT pg_catalog.count(*)::pg_catalog.int8 FROM (SELECT 1 FROM ONLY public.t \
             WHERE \"a\" IS NOT NULL AND \"B\" IS NOT NULL GROUP BY \"a\", \"B\" \
             HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1) AS d"
        );
        key.nulls_not_distinct = true;
        assert_eq!(
            duplicate_count("ONLY public.t", &key),
            "SELECT pg_catalog.count(*)::pg_catalog.int8 FROM (SELECT 1 FROM ONLY public.t \
             GROUP BY \"a\", \"B\" \
             HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1) AS d"
        );
    }
}
