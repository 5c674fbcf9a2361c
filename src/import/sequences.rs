//! The sequences feeding the imported columns, moved past the snapshot's values so that the
//! application's next insert does not collide with a loaded row.
//!
//! A sequence moves only in its own direction and never backwards: an ascending one (positive
//! increment) to the largest value in its columns, a descending one (negative increment) to
//! the smallest, and only when its position (the value `nextval` returned last, or would have
//! before its first call) is behind that value. A sequence shared by several columns takes
//! the furthest value over all of them. A value beyond the sequence's `MAXVALUE` (or below its
//! `MINVALUE`) cannot be set: the import fails, naming the sequence, the value, the bound and
//! the `ALTER SEQUENCE` that makes room, before anything is committed.
//!
//! Sequences are not transactional: they are set right before the commit, after every check
//! passed. For the same reason, the values the import's inserts draw from the sequences of
//! columns only the target has (a `serial` or identity column the snapshot does not fill) are
//! not given back by a rollback: their positions are read before the first write
//! ([`remember`]), and an import that does not commit (refused, failed, dry, unverified) puts
//! them back ([`rewind`]) while it still holds its locks.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use postgres::Transaction;

use super::{batch_rows, SequenceChange};
use crate::catalog::{quote_ident, quote_literal, Catalog};
use crate::error::ExitKind;

const SEQUENCE_REWINDS_SQL: &str = include_str!("../catalog/sequence_rewinds.sql");

/// A sequence's state, and the range of the values in the columns it feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    last_value: i64,
    is_called: bool,
    increment: i64,
    min_value: i64,
    max_value: i64,
    /// The smallest and the largest value in its columns.
    lowest: i64,
    highest: i64,
}

/// Every sequence feeding an imported integer column (`feeds`: table index, column, sequence
/// as regclass text) that is behind the values in its columns. Each column's `min()` and
/// `max()` and its sequence's state are read by one small statement naming everything with
/// its schema, all of them sent in batches (one round trip, not two per sequence). A
/// sequence that cannot reach its columns' values within its bounds fails the import.
pub fn plan(
    txn: &mut Transaction<'_>,
    catalog: &Catalog,
    feeds: &[(usize, String, String)],
) -> Result<Vec<SequenceChange>> {
    let (sequences, statements): (Vec<&String>, Vec<String>) = feeds
        .iter()
        .filter_map(|(t, column, sequence)| {
            let table = &catalog.tables[*t];
            let col = table.column(column)?;
            matches!(&*col.base_type, "smallint" | "integer" | "bigint").then(|| {
                let column = quote_ident(column);
                let sql = format!(
                    "SELECT c.hi, c.lo, s.last_value, s.is_called, p.seqincrement, p.seqmin, \
                     p.seqmax FROM (SELECT pg_catalog.max({column})::pg_catalog.int8 AS hi, \
                     pg_catalog.min({column})::pg_catalog.int8 AS lo FROM {}) AS c, \
                     {sequence} AS s, pg_catalog.pg_sequence AS p \
                     WHERE p.seqrelid = {}::pg_catalog.regclass",
                    table.from_clause(),
                    quote_literal(sequence)
                );
                (sequence, sql)
            })
        })
        .unzip();
    let rows = batch_rows(txn, &statements).context("reading the sequences' positions")?;
    anyhow::ensure!(rows.len() == sequences.len(), "one answer per sequence");
    let mut positions: BTreeMap<String, Position> = BTreeMap::new();
    for (sequence, row) in sequences.into_iter().zip(&rows) {
        let int = |i: usize| -> Result<Option<i64>> {
            row.get(i)
                .map(|v| v.parse::<i64>().context("a sequence value"))
                .transpose()
        };
        let (Some(highest), Some(lowest)) = (int(0)?, int(1)?) else {
            continue; // No values in the column.
        };
        let field = |i: usize| -> Result<i64> {
            int(i)?.with_context(|| format!("sequence {sequence}: column {i} is NULL"))
        };
        let position = Position {
            last_value: field(2)?,
            is_called: row.get(3) == Some("t"),
            increment: field(4)?,
            min_value: field(5)?,
            max_value: field(6)?,
            lowest,
            highest,
        };
        positions
            .entry(sequence.clone())
            .and_modify(|p| {
                p.lowest = p.lowest.min(lowest);
                p.highest = p.highest.max(highest);
            })
            .or_insert(position);
    }
    changes(positions)
}

/// The sequences to advance, or every one that cannot be (see [`change`]).
fn changes(positions: BTreeMap<String, Position>) -> Result<Vec<SequenceChange>> {
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    for (sequence, position) in positions {
        match change(&sequence, &position) {
            Ok(Some(change)) => changes.push(change),
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(changes)
    } else {
        Err(crate::problem::refuse(
            ExitKind::BadInput,
            crate::problem::Problem::unplaced(format!(
                "{}. Make room in the target's sequence (or leave the rows out of the \
                 snapshot), then import again",
                problems.join("; ")
            ))
            .kind(crate::problem::ProblemKind::Sequence),
        ))
    }
}

/// Where a sequence must go, if anywhere: `from` its position (the value `nextval` returned
/// last, or the one before the value it will return first) `to` the furthest value in its
/// columns in its own direction. `None` when it is there already or beyond; an error naming
/// the bound when that value lies outside `MINVALUE`..`MAXVALUE`.
fn change(sequence: &str, p: &Position) -> Result<Option<SequenceChange>, String> {
    let ascending = p.increment > 0;
    let current = if p.is_called {
        p.last_value
    } else {
        p.last_value.saturating_sub(p.increment)
    };
    let (to, behind) = if ascending {
        (p.highest, p.highest > current)
    } else {
        (p.lowest, p.lowest < current)
    };
    if !behind {
        return Ok(None);
    }
    if ascending && to > p.max_value {
        return Err(format!(
            "sequence {sequence} must be set to {to}, the largest value in the columns it feeds, \
             but its MAXVALUE is {}: ALTER SEQUENCE {sequence} MAXVALUE {to} (or higher, or NO \
             MAXVALUE)",
            p.max_value
        ));
    }
    if !ascending && to < p.min_value {
        return Err(format!(
            "sequence {sequence} (descending) must be set to {to}, the smallest value in the \
             columns it feeds, but its MINVALUE is {}: ALTER SEQUENCE {sequence} MINVALUE {to} \
             (or lower, or NO MINVALUE)",
            p.min_value
        ));
    }
    Ok(Some(SequenceChange {
        sequence: sequence.to_string(),
        from: current,
        to,
    }))
}

/// Sets the planned sequences, all of them in one round trip, right before the commit.
pub fn apply(txn: &mut Transaction<'_>, changes: &[SequenceChange]) -> Result<()> {
    let statements: Vec<String> = changes
        .iter()
        .map(|change| {
            format!(
                "SELECT pg_catalog.setval({}::pg_catalog.regclass, {}, true)",
                quote_literal(&change.sequence),
                change.to
            )
        })
        .collect();
    batch_rows(txn, &statements).with_context(|| {
        let names: Vec<&str> = changes.iter().map(|c| c.sequence.as_str()).collect();
        format!(
            "advancing the sequences {}; the import was rolled back, the target is unchanged",
            names.join(", ")
        )
    })?;
    Ok(())
}

/// Where the sequences that the import's inserts may draw from stood before the first write:
/// those feeding a column the snapshot does not fill (its default, `serial` or identity calls
/// `nextval`). A draw is not undone by a rollback, so a failed, refused, dry or unverified
/// import puts them back ([`rewind`]) — only those no other session can have drawn from
/// meanwhile (see `sequence_rewinds.sql`); the others are named, left where they are.
#[derive(Debug, Default)]
pub struct Positions {
    /// Sequence (regclass text), `last_value`, `is_called`.
    sequences: Vec<(String, i64, bool)>,
    /// The sequences it may not put back, each with why.
    pub kept: Vec<String>,
}

impl Positions {
    /// The names of the sequences it puts back.
    pub fn names(&self) -> Vec<&str> {
        self.sequences
            .iter()
            .map(|(name, _, _)| name.as_str())
            .collect()
    }
}

/// The sequences among `feeds` (table, column, sequence) that feed a column `fills` says the
/// snapshot leaves to the target, each once, in name order.
pub fn drawn_by_inserts(
    feeds: &[(usize, String, String)],
    fills: impl Fn(usize, &str) -> bool,
) -> Vec<&str> {
    let mut drawn: Vec<&str> = feeds
        .iter()
        .filter(|(t, column, _)| !fills(*t, column))
        .map(|(_, _, sequence)| sequence.as_str())
        .collect();
    drawn.sort_unstable();
    drawn.dedup();
    drawn
}

/// Which of `sequences` may be put back (`locked`: the oids of the tables the import locked),
/// and where those stand. Called with the tables locked and before the first write.
pub fn remember(
    txn: &mut Transaction<'_>,
    sequences: &[&str],
    locked: &[postgres::types::Oid],
) -> Result<Positions> {
    let names: Vec<&str> = sequences.to_vec();
    let answers = txn
        .query_typed(
            SEQUENCE_REWINDS_SQL,
            &[
                (&names, postgres::types::Type::TEXT_ARRAY),
                (&locked, postgres::types::Type::OID_ARRAY),
            ],
        )
        .context("reading which sequences the import may put back")?;
    anyhow::ensure!(answers.len() == sequences.len(), "one answer per sequence");
    let mut positions = Positions::default();
    let mut rewindable = Vec::new();
    for (sequence, answer) in sequences.iter().zip(&answers) {
        match (
            answer.get::<_, bool>("private"),
            answer.get::<_, bool>("may_set"),
        ) {
            (true, true) => rewindable.push(*sequence),
            (false, _) => positions
                .kept
                .push(format!("{sequence} (other tables draw from it too)")),
            (true, false) => positions
                .kept
                .push(format!("{sequence} (the role may not set it)")),
        }
    }
    let statements: Vec<String> = rewindable
        .iter()
        .map(|s| format!("SELECT last_value, is_called FROM {s}"))
        .collect();
    let rows = batch_rows(txn, &statements).context("reading the sequences' positions")?;
    anyhow::ensure!(rows.len() == rewindable.len(), "one answer per sequence");
    for (sequence, row) in rewindable.iter().zip(&rows) {
        let last_value = row
            .get(0)
            .and_then(|v| v.parse::<i64>().ok())
            .with_context(|| format!("sequence {sequence}: no last_value"))?;
        positions
            .sequences
            .push((sequence.to_string(), last_value, row.get(1) == Some("t")));
    }
    Ok(positions)
}

/// Puts back every sequence of `positions` that moved, and returns their names. `setval` is
/// not undone by a rollback either: called inside the import's transaction, with its locks
/// still held (no insert of another session can draw in between), its effect outlives the
/// rollback that follows.
pub fn rewind(txn: &mut Transaction<'_>, positions: &Positions) -> Result<Vec<String>> {
    let statements: Vec<String> = positions
        .sequences
        .iter()
        .map(|(sequence, last_value, is_called)| {
            format!(
                "SELECT CASE WHEN (last_value, is_called) IS DISTINCT FROM ({last_value}, \
                 {is_called}) THEN pg_catalog.setval({seq}::pg_catalog.regclass, {last_value}, \
                 {is_called}) IS NOT NULL ELSE false END FROM {sequence}",
                seq = quote_literal(sequence),
            )
        })
        .collect();
    let rows = batch_rows(txn, &statements).context("putting the sequences back")?;
    anyhow::ensure!(rows.len() == statements.len(), "one answer per sequence");
    Ok(positions
        .sequences
        .iter()
        .zip(rows)
        .filter(|(_, row)| row.get(0) == Some("t"))
        .map(|((sequence, _, _), _)| sequence.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sequences_of_columns_the_snapshot_leaves_to_the_target_are_drawn() {
        let feed = |t: usize, c: &str, s: &str| (t, c.to_string(), s.to_string());
        let feeds = [
            feed(0, "id", "public.a_id_seq"),
            feed(0, "serial_no", "public.shared"),
            feed(1, "n", "public.shared"),
            feed(1, "id", "public.b_id_seq"),
        ];
        let fills = |t: usize, c: &str| c == "id" || (t == 1 && c == "n");
        assert_eq!(drawn_by_inserts(&feeds, fills), ["public.shared"]);
        assert!(drawn_by_inserts(&feeds, |_, _| true).is_empty());
        assert_eq!(
            drawn_by_inserts(&feeds, |_, _| false),
            ["public.a_id_seq", "public.b_id_seq", "public.shared"]
        );
    }

    fn position(
        last_value: i64,
        is_called: bool,
        increment: i64,
        lowest: i64,
        highest: i64,
    ) -> Position {
        Position {
            last_value,
            is_called,
            increment,
            min_value: if increment > 0 { 1 } else { i64::MIN },
            max_value: if increment > 0 { i64::MAX } else { -1 },
            lowest,
            highest,
        }
    }

    fn moves(p: &Position) -> Option<(i64, i64)> {
        change("s", p).unwrap().map(|c| (c.from, c.to))
    }

    #[test]
    fn only_sequences_behind_their_columns_advance() {
        // Ascending: to the largest value, from the last one returned.
        assert_eq!(moves(&position(3, true, 1, 1, 10)), Some((3, 10)));
        assert_eq!(moves(&position(5, true, 1, 1, 5)), None);
        assert_eq!(moves(&position(9, true, 1, 1, 2)), None);
        // Never called: its first value is still to come.
        assert_eq!(moves(&position(1, false, 1, 1, 1)), Some((0, 1)));
        assert_eq!(moves(&position(11, false, 1, 1, 10)), None);
        assert_eq!(moves(&position(10, false, 5, 1, 10)), Some((5, 10)));
    }

    #[test]
    fn descending_sequences_move_toward_their_minimum() {
        // The reviewer's case: start -1, rows -1, -2, -3; a fresh target sequence.
        assert_eq!(moves(&position(-1, false, -1, -3, -1)), Some((0, -3)));
        assert_eq!(moves(&position(-5, true, -1, -3, -1)), None);
        assert_eq!(moves(&position(-3, true, -1, -3, -1)), None);
        assert_eq!(moves(&position(-2, true, -2, -10, 4)), Some((-2, -10)));
        // Never past its own direction: a larger column value does not move it back.
        assert_eq!(moves(&position(-4, false, -1, 7, 9)), None);
    }

    #[test]
    fn a_value_beyond_the_bound_names_sequence_value_and_bound() {
        let mut up = position(1, false, 1, 1, 500);
        up.max_value = 100;
        let message = change("app.s", &up).unwrap_err();
        assert!(message.contains("app.s must be set to 500"), "{message}");
        assert!(message.contains("MAXVALUE is 100"), "{message}");
        assert!(
            message.contains("ALTER SEQUENCE app.s MAXVALUE 500"),
            "{message}"
        );
        let mut down = position(-1, false, -1, -500, -1);
        down.min_value = -100;
        let message = change("d", &down).unwrap_err();
        assert!(message.contains("MINVALUE is -100"), "{message}");
        assert!(
            message.contains("ALTER SEQUENCE d MINVALUE -500"),
            "{message}"
        );
        // Exactly at the bound is possible.
        up.highest = 100;
        assert_eq!(moves(&up), Some((0, 100)));
        // Every problem at once, and what it means for the target.
        let error = changes(BTreeMap::from([
            ("a".to_string(), {
                let mut p = up.clone();
                p.highest = 101;
                p
            }),
            ("b".to_string(), down),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("sequence a must") && error.contains("sequence b (descending)"),
            "{error}"
        );
        assert!(error.contains("then import again"), "{error}");
    }
}
