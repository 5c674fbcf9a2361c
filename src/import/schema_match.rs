//! Does the target have what the snapshot needs? Every table and column, with a compatible
//! type, nothing generated where the snapshot has values, and no NOT NULL column without a
//! default that the snapshot cannot fill. Every problem is reported at once, before anything
//! is written.
//!
//! A target column's type is compatible when it holds every value of the snapshot column's
//! type exactly ([`compatible`]): nothing is ever rounded, truncated or normalised on the way
//! in (a wider `numeric` scale prints more zeros, `1.25` as `1.250`, the same number).
//! Accepted, besides the same type:
//!
//! - the same type with a wider modifier or none: `varchar(10)` into `varchar(50)` or
//!   `varchar`, `numeric(10,2)` into `numeric(12,2)` or `numeric` (at least as many digits
//!   before and after the point), `timestamp(0)` into `timestamp(6)` (likewise `time`,
//!   `timetz`, `timestamptz`, `interval`), `varbit(4)` into `varbit(8)`;
//! - a wider integer: `smallint` into `integer` or `bigint`, `integer` into `bigint`, any of
//!   them into a `numeric` with enough digits before the point and a scale of zero or more;
//! - `real` into `double precision`, `jsonb` into `json` (which keeps jsonb's text as it
//!   is), `bit(n)` into `varbit(m)` with `m >= n`;
//! - text kept as it is: `text`, `varchar(n)`, `char(n)` (with its padding), `bpchar`,
//!   `name` and `citext` into `text`, `citext` or a `varchar` long enough for every value
//!   (`varchar` into `text` and back, deliberately: the same values);
//! - arrays of compatible element types.
//!
//! Everything else is refused, narrowing above all: a smaller length, precision or scale
//! (`numeric(10,2)` into `numeric(10,1)` rounds 1.25 to 1.3), a narrower integer, `double
//! precision` into `real`, `numeric` into a float or an integer, a float into `numeric`
//! (`-0` becomes `0`), `text` into `name` (63 bytes) or `char(n)` (padding), `json` into
//! `jsonb` (duplicate keys dropped, keys reordered), and any other pair of types. The server
//! would store such values rounded, and verification could not tell: staged rows are typed
//! like the target, so both sides of the comparison would be rounded alike.

use super::hints;
use crate::catalog::{Catalog, QualifiedName, Table};
use crate::problem::ProblemKind;
use crate::snapshot::manifest::ManifestTable;
use crate::snapshot::skip::SkipItem;
use crate::snapshot::{Manifest, Problem};

/// A snapshot table and its counterpart in the (restricted) target catalog.
#[derive(Debug, Clone)]
pub struct MatchedTable {
    /// Index into the manifest's tables.
    pub manifest: usize,
    /// Index into the restricted target catalog.
    pub target: usize,
}

/// Integer types and the decimal digits their largest value has.
const INTEGER_DIGITS: &[(&str, i64)] = &[("smallint", 5), ("integer", 10), ("bigint", 19)];

/// Types whose every value keeps its exact text in `text`, `character varying` and `citext`
/// columns, with the most characters a value may have (`None`: no limit). `character(n)`
/// keeps its padding; `name` holds at most 63 bytes, so at most 63 characters.
fn text_length(column: &TypeName<'_>) -> Option<Option<i64>> {
    match column.base.as_str() {
        "text" | "bpchar" => Some(None),
        _ if is_citext(&column.base) => Some(None),
        "character varying" | "character" => Some(column.mods.first().copied()),
        "name" => Some(Some(63)),
        _ => None,
    }
}

/// The `citext` extension's type, which the catalog names with its schema (`public.citext`).
fn is_citext(base: &str) -> bool {
    base.rsplit('.').next() == Some("citext")
}

/// A type as `format_type` prints it, split into its name without the modifier
/// (`timestamp without time zone`, `character varying`) and the modifier's numbers
/// (`timestamp(3) without time zone` has `[3]`, `numeric(10,2)` has `[10, 2]`).
#[derive(Debug, PartialEq, Eq)]
struct TypeName<'a> {
    base: String,
    mods: Vec<i64>,
    /// The modifier as written, when it is not numbers (kept so that it is compared).
    raw_mods: &'a str,
}

fn parse_type(type_name: &str) -> TypeName<'_> {
    match (type_name.find('('), type_name.find(')')) {
        (Some(open), Some(close)) if close > open => {
            let raw = &type_name[open + 1..close];
            let before = type_name[..open].trim_end();
            let after = type_name[close + 1..].trim_start();
            let base = if after.is_empty() {
                before.to_string()
            } else {
                format!("{before} {after}")
            };
            let mods: Option<Vec<i64>> = raw.split(',').map(|m| m.trim().parse().ok()).collect();
            TypeName {
                base,
                mods: mods.clone().unwrap_or_default(),
                raw_mods: if mods.is_some() { "" } else { raw },
            }
        }
        _ => TypeName {
            base: type_name.to_string(),
            mods: Vec::new(),
            raw_mods: "",
        },
    }
}

/// Whether every value of the snapshot column's type loads into the target column's type
/// exactly: the same value, never rounded, truncated or normalised (see the module
/// documentation for the rule).
pub fn compatible(snapshot_type: &str, target_type: &str) -> bool {
    if snapshot_type == target_type {
        return true;
    }
    // Arrays: the same on both sides, and their elements compatible (array input applies
    // the column's modifier to every element).
    match (
        snapshot_type.strip_suffix("[]"),
        target_type.strip_suffix("[]"),
    ) {
        (Some(a), Some(b)) => return compatible(a, b),
        (None, None) => {}
        _ => return false,
    }
    let (from, to) = (parse_type(snapshot_type), parse_type(target_type));
    if !from.raw_mods.is_empty() || !to.raw_mods.is_empty() {
        // A modifier that is not numbers (`geometry(Point,4326)`): the same, or none in the
        // target.
        return from.base == to.base && to.mods.is_empty() && to.raw_mods.is_empty();
    }
    if from.base == to.base {
        return same_type_widens(&from, &to);
    }
    let integer_digits = |t: &TypeName<'_>| {
        INTEGER_DIGITS
            .iter()
            .find(|(name, _)| *name == t.base)
            .map(|(_, digits)| *digits)
    };
    if let Some(digits) = integer_digits(&from) {
        return match integer_digits(&to) {
            Some(wider) => wider >= digits,
            None => to.base == "numeric" && numeric_holds(&[digits, 0], &to.mods),
        };
    }
    let keeps_text =
        matches!(to.base.as_str(), "text" | "character varying") || is_citext(&to.base);
    if let (Some(length), true) = (text_length(&from), keeps_text) {
        return match (length, to.mods.first()) {
            (_, None) => true,
            (Some(length), Some(&limit)) => length <= limit,
            (None, Some(_)) => false,
        };
    }
    matches!(
        (from.base.as_str(), to.base.as_str()),
        ("real", "double precision")
            // jsonb prints normalised text, which json keeps as it is.
            | ("jsonb", "json")
            | ("bit", "bit varying")
    ) && length_holds(&from.mods, &to.mods)
}

/// The same type on both sides, modifiers aside: a target without a modifier takes every
/// value; otherwise the target's modifier must be at least as wide.
fn same_type_widens(from: &TypeName<'_>, to: &TypeName<'_>) -> bool {
    if to.mods.is_empty() {
        return true;
    }
    if from.mods.is_empty() {
        return false;
    }
    match from.base.as_str() {
        "numeric" => numeric_holds(&from.mods, &to.mods),
        // Longer strings and more fractional digits of seconds.
        "character varying"
        | "bit varying"
        | "timestamp without time zone"
        | "timestamp with time zone"
        | "time without time zone"
        | "time with time zone"
        | "interval" => length_holds(&from.mods, &to.mods),
        // character(n) and bit(n) pad or refuse any other length; other types' modifiers are
        // compared as they are.
        _ => from.mods == to.mods,
    }
}

/// A length (or precision) modifier at least as large, or none in the target.
fn length_holds(from: &[i64], to: &[i64]) -> bool {
    match (from.first(), to.first()) {
        (_, None) => true,
        (Some(a), Some(b)) => a <= b,
        (None, Some(_)) => false,
    }
}

/// Whether `numeric(p', s')` (`to`; empty: unconstrained) holds every `numeric(p, s)` value
/// (`from`): at least as many digits before the point and at least as many after it.
fn numeric_holds(from: &[i64], to: &[i64]) -> bool {
    match (from.is_empty(), to.is_empty()) {
        (_, true) => true,
        (true, false) => false,
        (false, false) => {
            let (p, s) = (from[0], from.get(1).copied().unwrap_or(0));
            let (q, t) = (to[0], to.get(1).copied().unwrap_or(0));
            t >= s && q - t >= p - s
        }
    }
}

/// Matches the snapshot against the target catalog; returns the catalog restricted to the
/// snapshot's tables and the matches, or every problem. The tables of `left_as_they_are` (a
/// migration tool's bookkeeping the target keeps, see [`crate::migrations::kept`]) are neither
/// matched nor loaded: to the import they are tables outside the snapshot.
pub fn match_snapshot(
    manifest: &Manifest,
    target: Catalog,
    left_as_they_are: &[QualifiedName],
    file_of: impl Fn(&ManifestTable) -> String,
) -> Result<(Catalog, Vec<MatchedTable>), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut keep = vec![false; target.tables.len()];
    // With none of the snapshot's tables, the target lacks the schema altogether.
    let no_schema = manifest
        .tables
        .iter()
        .all(|t| target.find(&t.qualified_name()).is_none());
    let mut full_index = Vec::new();
    for (m, table) in manifest.tables.iter().enumerate() {
        let name = table.qualified_name();
        if left_as_they_are.contains(&name) {
            continue;
        }
        let file = file_of(table);
        let problem = |column: Option<&str>, message: String| {
            Problem::in_file(file.clone(), None, column, message)
                .kind(ProblemKind::SchemaMismatch)
                .table(&name)
        };
        let Some(t) = target.find(&name) else {
            let message = if no_schema {
                format!(
                    "table {name} does not exist in the target, nor does any other table of the \
                     snapshot: create the schema first (run your migrations)"
                )
            } else {
                let same_schema = target
                    .tables
                    .iter()
                    .filter(|t| t.name.schema == name.schema)
                    .map(|t| t.name.name.as_str());
                let close: Vec<String> = hints::close_names(&name.name, same_schema)
                    .into_iter()
                    .map(|n| format!("{}.{n}", name.schema))
                    .collect();
                format!(
                    "table {name} does not exist in the target: dropped by a migration{}? Leave \
                     it out with --skip-missing {} (or skip_missing in seedsnap.toml)",
                    hints::renamed_hint(&close),
                    SkipItem::Table(name.clone()).argument()
                )
            };
            problems.push(problem(None, message));
            continue;
        };
        keep[t] = true;
        full_index.push((m, t));
        problems.extend(
            column_problems(table, &target.tables[t])
                .into_iter()
                .map(|(column, message)| problem(column.as_deref(), message)),
        );
        problems.extend(key_problem(table, &target.tables[t]).map(|m| problem(None, m)));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let new_index = crate::catalog::renumbering(&keep);
    let matched = full_index
        .iter()
        .map(|&(manifest, t)| MatchedTable {
            manifest,
            target: new_index[t],
        })
        .collect();
    let restricted = target.into_restricted(&keep);
    Ok((restricted, matched))
}

/// A snapshot table keyed by its primary key (or a unique key) needs a key in the target to
/// match its rows by: a primary key or a unique key on NOT NULL columns the snapshot has.
/// Without one the import would match rows by all their columns, and a row that changed in
/// the target would be inserted a second time, with the same key, instead of being reported.
fn key_problem(table: &ManifestTable, target: &Table) -> Option<String> {
    let key = table.key.columns()?;
    let usable = target.unique_keys.iter().any(|k| {
        k.columns.iter().all(|c| {
            table.column_index(c).is_some() && target.column(c).is_some_and(|c| c.not_null)
        })
    });
    if usable {
        return None;
    }
    let name = table.qualified_name();
    let columns: Vec<String> = key.iter().map(|c| crate::catalog::quote_ident(c)).collect();
    Some(format!(
        "table {name} has no primary key in the target, nor a unique key on NOT NULL columns the \
         snapshot has, while the snapshot's rows are keyed by ({}): the import could not tell a \
         changed row from a new one and would insert it a second time. Add the key (ALTER TABLE \
         {} ADD PRIMARY KEY ({}))",
        key.join(", "),
        name.sql(),
        columns.join(", ")
    ))
}

fn column_problems(table: &ManifestTable, target: &Table) -> Vec<(Option<String>, String)> {
    let mut problems = Vec::new();
    let name = table.qualified_name();
    for column in &table.columns {
        match target.column(&column.name) {
            None => {
                let new_columns = target
                    .columns
                    .iter()
                    .filter(|c| table.column_index(&c.name).is_none())
                    .map(|c| c.name.as_str());
                let close = hints::close_names(&column.name, new_columns);
                problems.push((
                    Some(column.name.clone()),
                    format!(
                        "column {name}.{} does not exist in the target: dropped by a migration{}? \
                         Leave it out with --skip-missing {} (or skip_missing in \
                         seedsnap.toml)",
                        column.name,
                        hints::renamed_hint(&close),
                        SkipItem::Column(name.clone(), column.name.clone()).argument()
                    ),
                ))
            }
            Some(found) if found.generated => problems.push((
                Some(column.name.clone()),
                format!(
                    "column {name}.{} is a generated column in the target; the snapshot has values for it",
                    column.name
                ),
            )),
            Some(found) if !compatible(&column.type_name, &found.type_name) => problems.push((
                Some(column.name.clone()),
                format!(
                    "column {name}.{col} is {snap} in the snapshot but {target} in the target, \
                     which cannot hold every {snap} value exactly (another type, or a smaller \
                     length, precision or scale): widen the target column (ALTER TABLE {sql} \
                     ALTER COLUMN {quoted} TYPE {snap}) or export a snapshot from a source that \
                     has the target's type",
                    sql = name.sql(),
                    col = column.name,
                    quoted = crate::catalog::quote_ident(&column.name),
                    snap = column.type_name,
                    target = found.type_name
                ),
            )),
            Some(_) => {}
        }
    }
    for column in &target.columns {
        let missing = table.column_index(&column.name).is_none();
        if missing
            && column.not_null
            && !column.has_default
            && column.identity.is_none()
            && !column.generated
        {
            problems.push((
                Some(column.name.clone()),
                format!(
                    "column {name}.{} is NOT NULL without a default in the target, and the \
                     snapshot has no values for it",
                    column.name
                ),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_is_accepted() {
        for (from, to) in [
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric(11,3)"),
            ("integer", "numeric(10,0)"),
            ("integer", "numeric(12,2)"),
            ("smallint", "integer"),
            ("bigint", "numeric"),
            ("character varying(10)", "text"),
            ("character varying(10)", "character varying"),
            ("character(5)", "character varying(5)"),
            ("name", "text"),
            ("name", "character varying(63)"),
            ("citext", "text"),
            ("text", "citext"),
            ("text", "public.citext"),
            ("public.citext", "character varying"),
            ("character varying", "text"),
            ("real", "double precision"),
            ("jsonb", "json"),
            ("json", "json"),
            (
                "timestamp(0) without time zone",
                "timestamp(6) without time zone",
            ),
            (
                "timestamp(0) without time zone",
                "timestamp without time zone",
            ),
            ("time(2) with time zone", "time(3) with time zone"),
            ("interval(0)", "interval"),
            ("bit(3)", "bit varying(3)"),
            ("bit varying(3)", "bit varying"),
            ("numeric(10,2)[]", "numeric(12,2)[]"),
            ("character varying(5)[]", "text[]"),
        ] {
            assert!(compatible(from, to), "{from} -> {to}");
        }
    }

    #[test]
    fn narrowing_and_lossy_conversions_are_refused() {
        for (from, to) in [
            ("numeric(10,2)", "numeric(10,1)"),
            ("numeric(10,2)", "numeric(9,2)"),
            ("numeric", "numeric(30,10)"),
            ("numeric", "double precision"),
            ("numeric", "bigint"),
            ("numeric(10,0)", "bigint"),
            ("double precision", "real"),
            ("double precision", "numeric"),
            ("real", "numeric"),
            ("bigint", "integer"),
            ("integer", "smallint"),
            ("integer", "numeric(9,0)"),
            ("integer", "numeric(20,-2)"),
            ("text", "name"),
            ("text", "character varying(10)"),
            ("character varying(50)", "character varying(10)"),
            ("character varying", "character(5)"),
            ("character(5)", "character(6)"),
            ("name", "character varying(62)"),
            ("json", "jsonb"),
            (
                "timestamp(6) without time zone",
                "timestamp(0) without time zone",
            ),
            (
                "timestamp without time zone",
                "timestamp(3) without time zone",
            ),
            ("interval", "interval(0)"),
            ("interval", "interval year to month"),
            ("bit(3)", "bit(4)"),
            ("bit varying(4)", "bit varying(3)"),
            ("numeric(10,2)[]", "numeric(10,1)[]"),
            ("text[]", "name[]"),
        ] {
            assert!(!compatible(from, to), "{from} -> {to}");
        }
    }

    #[test]
    fn type_names_split_into_base_and_modifier() {
        let t = parse_type("timestamp(3) with time zone");
        assert_eq!(
            (t.base.as_str(), t.mods, t.raw_mods),
            ("timestamp with time zone", vec![3], "")
        );
        let n = parse_type("numeric(10,2)");
        assert_eq!((n.base.as_str(), n.mods), ("numeric", vec![10, 2]));
        let g = parse_type("geometry(Point,4326)");
        assert_eq!((g.base.as_str(), g.raw_mods), ("geometry", "Point,4326"));
        assert!(!compatible("geometry(Point,4326)", "geometry(Point,3857)"));
        assert!(compatible("geometry(Point,4326)", "geometry(Point,4326)"));
        assert!(compatible("geometry(Point,4326)", "geometry"));
        assert!(!compatible("geometry", "geometry(Point,4326)"));
    }

    #[test]
    fn type_compatibility() {
        assert!(compatible("character varying(20)", "character varying(50)"));
        assert!(compatible("integer", "bigint"));
        assert!(compatible("text", "character varying"));
        assert!(compatible("numeric(10,2)", "numeric"));
        assert!(compatible("app.status", "app.status"));
        assert!(!compatible("integer", "text"));
        assert!(!compatible(
            "timestamp without time zone",
            "timestamp with time zone"
        ));
        assert!(!compatible("integer[]", "integer"));
    }
}
