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
//! passed, each in one statement that sets it only if it is still behind (see [`apply`]). For
//! the same reason, the values the import's inserts draw from the sequences of columns only
//! the target has (a `serial` or identity column the snapshot does not fill) are not given
//! back by a rollback, and seedsnap does not put them back either: any session may call
//! `nextval` directly (an ORM pre-allocating ids, a function, a trigger on another table)
//! whatever the import locks, and a sequence moved back would hand out its values twice. An
//! import that does not commit names them instead, with how far they moved: their positions
//! are read before the first write ([`before_writes`]) and after the rollback
//! ([`left_advanced`]), as far as the role may read them (SELECT on the sequence; the others
//! are named as advanced by an unknown amount, and never fail the import).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use postgres::Transaction;
use serde::Serialize;

use super::{batch_rows, SequenceChange};
use crate::catalog::{quote_ident, quote_literal, Catalog};
use crate::error::ExitKind;

const SEQUENCE_READABLE_SQL: &str = include_str!("../catalog/sequence_readable.sql");

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
                     WHERE p.seqrelid OPERATOR(pg_catalog.=) {}::pg_catalog.regclass",
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
    let current = position(p.last_value, p.is_called, p.increment);
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

/// Sets the planned sequences, all of them in one round trip, right before the commit, each
/// only while it is still behind its target value: a session outside the import may have
/// drawn from it since [`plan`] read it (a direct `nextval`, which no table lock stops), and
/// setting it then would move it back. The check and the `setval` are one statement.
pub fn apply(txn: &mut Transaction<'_>, changes: &[SequenceChange]) -> Result<()> {
    let statements: Vec<String> = changes.iter().map(advance_sql).collect();
    batch_rows(txn, &statements).with_context(|| {
        let names: Vec<&str> = changes.iter().map(|c| c.sequence.as_str()).collect();
        format!(
            "advancing the sequences {}; the import was rolled back, the target is unchanged",
            names.join(", ")
        )
    })?;
    Ok(())
}

/// The statement that moves a sequence to `change.to`, in its own direction only: not when
/// the next value it hands out is already past `to` (`last_value` itself when never called).
fn advance_sql(change: &SequenceChange) -> String {
    let to = change.to;
    let (before, at_most) = match change.to > change.from {
        true => ("<", "<="),
        false => (">", ">="),
    };
    format!(
        "SELECT pg_catalog.setval({}::pg_catalog.regclass, {to}, true) FROM {} AS s \
         WHERE CASE WHEN s.is_called THEN s.last_value OPERATOR(pg_catalog.{before}) {to} \
         ELSE s.last_value OPERATOR(pg_catalog.{at_most}) {to} END",
        quote_literal(&change.sequence),
        change.sequence
    )
}

/// The sequences the import's inserts may draw from (those feeding a column the snapshot does
/// not fill: its default, `serial` or identity calls `nextval`), each with where it stood
/// before the first write (see [`position`]) — `None` when the role may not read it.
#[derive(Debug, Default)]
pub struct Drawn {
    before: Vec<(String, Option<i64>)>,
}

/// A sequence that the inserts of an import that did not commit drew from: a rollback does
/// not give back what `nextval` drew, and seedsnap never moves a sequence back (another
/// session may have drawn from it meanwhile: a value handed out twice would be a duplicate
/// key). `from` and `to` are its positions before the first write and after the rollback,
/// `None` where the role may not read it (it needs SELECT on the sequence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftAdvanced {
    pub sequence: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// The sequences an import that did not commit left advanced, as the context of its error:
/// said on stderr after the error, and listed in the `--json` error object
/// (`sequences_left_advanced`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequencesLeftAdvanced(pub Vec<LeftAdvanced>);

impl std::fmt::Display for SequencesLeftAdvanced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(&self.0))
    }
}

/// One sentence naming each sequence left advanced, with `from -> to` where readable.
pub fn describe(left: &[LeftAdvanced]) -> String {
    let listed: Vec<String> = left
        .iter()
        .map(|l| match (l.from, l.to) {
            (Some(from), Some(to)) => format!("{} {from} -> {to}", l.sequence),
            (Some(from), None) => format!("{} from {from} by an unknown amount", l.sequence),
            _ => format!(
                "{} by an unknown amount (the role may not read it)",
                l.sequence
            ),
        })
        .collect();
    format!(
        "the target's rows are as they were, but the rolled-back inserts left {} sequence(s) \
         advanced, a harmless gap (seedsnap never moves a sequence back): {}",
        left.len(),
        listed.join(", ")
    )
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

/// Where `sequences` stand, read with the tables locked and before the first write: only
/// those the role may read (SELECT on the sequence, USAGE on its schema: see
/// `sequence_readable.sql`); the others are `None`, so that reading them never fails the
/// import.
pub fn before_writes(txn: &mut Transaction<'_>, sequences: &[&str]) -> Result<Drawn> {
    let names: Vec<&str> = sequences.to_vec();
    let answers = txn
        .query_typed(
            SEQUENCE_READABLE_SQL,
            &[(&names, postgres::types::Type::TEXT_ARRAY)],
        )
        .context("reading which sequences the role may read")?;
    anyhow::ensure!(answers.len() == sequences.len(), "one answer per sequence");
    let readable: Vec<&str> = sequences
        .iter()
        .zip(&answers)
        .filter(|(_, answer)| answer.get::<_, bool>(0))
        .map(|(sequence, _)| *sequence)
        .collect();
    let mut positions = read_positions(txn, &readable)
        .context("reading the sequences' positions")?
        .into_iter();
    let before = sequences
        .iter()
        .map(|sequence| {
            let position = match readable.contains(sequence) {
                true => positions.next(),
                false => None,
            };
            (sequence.to_string(), position)
        })
        .collect();
    Ok(Drawn { before })
}

/// After the rollback of an import that did not commit: each sequence of `drawn` that moved,
/// or may have (the role may not read it), with its positions. Never fails: a sequence that
/// cannot be read again (the connection is gone) is named with an unknown `to`.
pub fn left_advanced(
    client: &mut impl postgres::GenericClient,
    drawn: &Drawn,
) -> Vec<LeftAdvanced> {
    let readable: Vec<&str> = drawn
        .before
        .iter()
        .filter(|(_, before)| before.is_some())
        .map(|(sequence, _)| sequence.as_str())
        .collect();
    let mut after = read_positions(client, &readable).ok().map(Vec::into_iter);
    drawn
        .before
        .iter()
        .filter_map(|(sequence, from)| {
            let to = match from {
                Some(_) => after.as_mut().and_then(Iterator::next),
                None => None,
            };
            (from.is_none() || to != *from).then(|| LeftAdvanced {
                sequence: sequence.clone(),
                from: *from,
                to,
            })
        })
        .collect()
}

/// The [`position`] of each of `sequences`, in one round trip.
fn read_positions(
    client: &mut impl postgres::GenericClient,
    sequences: &[&str],
) -> Result<Vec<i64>> {
    if sequences.is_empty() {
        return Ok(Vec::new());
    }
    let sql: Vec<String> = sequences
        .iter()
        .map(|sequence| {
            format!(
                "SELECT s.last_value, s.is_called, p.seqincrement FROM {sequence} AS s, \
                 pg_catalog.pg_sequence AS p WHERE p.seqrelid OPERATOR(pg_catalog.=) {}::pg_catalog.regclass",
                quote_literal(sequence)
            )
        })
        .collect();
    let mut positions = Vec::new();
    for message in client.simple_query(&sql.join(";\n"))? {
        if let postgres::SimpleQueryMessage::Row(row) = message {
            let int = |i: usize| -> Result<i64> {
                row.get(i)
                    .and_then(|v| v.parse::<i64>().ok())
                    .context("a sequence's state")
            };
            positions.push(position(int(0)?, row.get(1) == Some("t"), int(2)?));
        }
    }
    anyhow::ensure!(
        positions.len() == sequences.len(),
        "one answer per sequence"
    );
    Ok(positions)
}

/// A sequence's position: the value `nextval` returned last, or the one before the value it
/// will return first (`last_value` less one increment) when it was never called.
fn position(last_value: i64, is_called: bool, increment: i64) -> i64 {
    if is_called {
        last_value
    } else {
        last_value.saturating_sub(increment)
    }
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

    #[test]
    fn a_position_is_the_last_value_returned_or_the_one_before_the_first() {
        assert_eq!(super::position(41, true, 1), 41);
        assert_eq!(super::position(1, false, 1), 0);
        assert_eq!(super::position(-1, false, -1), 0);
        assert_eq!(super::position(10, false, 5), 5);
        // Never an overflow at the bounds.
        assert_eq!(super::position(i64::MIN, false, 1), i64::MIN);
    }

    #[test]
    fn sequences_left_advanced_are_named_with_from_and_to_where_readable() {
        let left = |sequence: &str, from, to| LeftAdvanced {
            sequence: sequence.to_string(),
            from,
            to,
        };
        let text = describe(&[
            left("public.a", Some(41), Some(44)),
            left("public.b", None, None),
            left("public.c", Some(0), None),
        ]);
        assert_eq!(
            text,
            "the target's rows are as they were, but the rolled-back inserts left 3 sequence(s) \
             advanced, a harmless gap (seedsnap never moves a sequence back): public.a 41 -> 44, public.b by an unknown amount (the role \
             may not read it), public.c from 0 by an unknown amount"
        );
        assert_eq!(
            SequencesLeftAdvanced(vec![left("s", Some(1), Some(2))]).to_string(),
            describe(&[left("s", Some(1), Some(2))])
        );
    }

    #[test]
    fn a_sequence_is_set_only_while_it_is_still_behind_in_its_own_direction() {
        let change = |from, to| SequenceChange {
            sequence: "app.\"S\"".to_string(),
            from,
            to,
        };
        assert_eq!(
            advance_sql(&change(3, 10)),
            "SELECT pg_catalog.setval('app.\"S\"'::pg_catalog.regclass, 10, true) FROM app.\"S\" \
             AS s WHERE CASE WHEN s.is_called THEN s.last_value OPERATOR(pg_catalog.<) 10 \
             ELSE s.last_value OPERATOR(pg_catalog.<=) 10 END"
        );
        assert!(advance_sql(&change(0, -3)).ends_with(
            "WHERE CASE WHEN s.is_called THEN s.last_value OPERATOR(pg_catalog.>) -3 \
             ELSE s.last_value OPERATOR(pg_catalog.>=) -3 END"
        ));
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
