//! The SQL an import runs for one table, built as text from quoted identifiers.
//!
//! Rows go from the snapshot file into a temporary staging table (COPY), are classified there
//! (`_seedsnap_new`: no row of the target conflicts with them on any unique key; for a table
//! without a NOT NULL key, fewer identical rows are in the target than in the snapshot), and the
//! new ones are inserted with `INSERT … SELECT`. This gives `ON CONFLICT DO NOTHING` semantics
//! where `ON CONFLICT` itself is refused (a DEFERRABLE only key, a table with rules) and keeps
//! tables without any key free of duplicates on a second import.
//!
//! These statements run with the target role's own `search_path` (server-side code needs it),
//! so every relation and function is schema-qualified, and so is every operator on seedsnap's
//! own values (row texts, counts): `OPERATOR(pg_catalog.=)`. Key columns are compared with the
//! key's own equality, the one its unique index enforces ([`equal`]): the plain `=` for a
//! built-in operator class, which resolves to the column type's own, and the operator named
//! with its schema for an extension's (`OPERATOR(extensions.=)` of `citext`), which `=` would
//! miss when that schema is not on the search path (`citext = citext` becomes `text = text`).

use crate::catalog::{condition_sql, quote_ident, MatchRule, Table};
use crate::key_text;
use crate::snapshot::manifest::ManifestForeignKey;

pub const NEW_FLAG: &str = "_seedsnap_new";

/// The staging table's one data column when the snapshot's table has no columns
/// (`CREATE TABLE t ()`): COPY needs a column list, and each of the file's empty lines fills it
/// with an empty string.
const NO_COLUMNS_PAD: &str = "_seedsnap_pad";

/// One snapshot table as the import sees it.
pub struct LoadTable<'a> {
    pub target: &'a Table,
    /// The staging table, as SQL (`pg_temp."seedsnap_stage_3"`).
    pub stage: String,
    /// The snapshot's columns, in file order.
    pub columns: Vec<String>,
    /// The target's unique keys that the snapshot's columns cover.
    pub unique_keys: Vec<Vec<String>>,
    /// A covered unique key whose columns are all NOT NULL: rows are matched by it.
    pub identity_key: Option<Vec<String>>,
    /// The snapshot fills a GENERATED ALWAYS identity column.
    pub overriding: bool,
}

fn list(prefix: &str, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("{prefix}{}", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn row_text(prefix: &str, columns: &[String]) -> String {
    format!("ROW({})::pg_catalog.text", list(prefix, columns))
}

/// `left operator right`: two key values compared with the key's own equality `operator`
/// (`=`, or `OPERATOR(extensions.=)`; see [`crate::catalog::UniqueKey::equality`] and
/// [`crate::catalog::ForeignKey::equality`]).
pub fn equal(left: &str, operator: &str, right: &str) -> String {
    format!("{left} {operator} {right}")
}

/// `(a, b)` after a table name in COPY or INSERT; nothing for a table without columns.
fn column_list(columns: &[String]) -> String {
    if columns.is_empty() {
        String::new()
    } else {
        format!(" ({})", list("", columns))
    }
}

impl LoadTable<'_> {
    /// The rows `left` and `right` (of this table, or staged for it) hold the same values of
    /// the unique key `key` (one of [`LoadTable::unique_keys`]), by the key's own equality.
    pub fn key_match(&self, key: &[String], left: &str, right: &str) -> String {
        let unique = self.target.unique_keys.iter().find(|k| k.columns == key);
        key.iter()
            .enumerate()
            .map(|(i, c)| {
                let q = quote_ident(c);
                let operator = unique.map_or("=", |k| k.equality(i));
                equal(&format!("{left}.{q}"), operator, &format!("{right}.{q}"))
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The columns a staged row is compared on with the target's row of the same identity
    /// key: every snapshot column but the key's (all of them without an identity key, where
    /// whole rows are compared). The drift and the verification compare these, as text.
    pub fn content_columns(&self) -> Vec<String> {
        let key = self.identity_key.as_deref().unwrap_or_default();
        self.columns
            .iter()
            .filter(|c| !key.contains(c))
            .cloned()
            .collect()
    }

    pub fn create_stage(&self, types: &[String]) -> String {
        let mut columns: Vec<String> = self
            .columns
            .iter()
            .zip(types)
            .map(|(c, ty)| format!("{} {ty}", quote_ident(c)))
            .collect();
        if columns.is_empty() {
            columns.push(format!("{NO_COLUMNS_PAD} pg_catalog.text"));
        }
        format!(
            "CREATE TEMPORARY TABLE {} ({}, {NEW_FLAG} pg_catalog.bool) ON COMMIT DROP",
            self.stage,
            columns.join(", ")
        )
    }

    pub fn copy_in(&self) -> String {
        let columns = match self.columns.is_empty() {
            true => format!(" ({NO_COLUMNS_PAD})"),
            false => column_list(&self.columns),
        };
        format!("COPY {}{columns} FROM STDIN", self.stage)
    }

    /// COPY straight into the target table, for a table that is empty (nothing can conflict).
    pub fn copy_direct(&self) -> String {
        format!(
            "COPY {}{} FROM STDIN",
            self.target.name.sql(),
            column_list(&self.columns)
        )
    }

    fn no_conflict(&self) -> String {
        let mut tests: Vec<String> = self
            .unique_keys
            .iter()
            .map(|key| {
                format!(
                    "NOT EXISTS (SELECT 1 FROM {} AS t WHERE {})",
                    self.target.name.sql(),
                    self.key_match(key, "t", "s")
                )
            })
            .collect();
        if tests.is_empty() {
            tests.push("true".into());
        }
        tests.join(" AND ")
    }

    /// Marks the staged rows the target does not have yet.
    pub fn classify(&self) -> String {
        if self.identity_key.is_some() {
            return format!(
                "UPDATE {} AS s SET {NEW_FLAG} = {}",
                self.stage,
                self.no_conflict()
            );
        }
        // No NOT NULL key: compare whole rows, counting duplicates.
        format!(
            "WITH numbered AS (
                 SELECT s.ctid AS stage_row, {staged} AS r,
                        pg_catalog.row_number() OVER (PARTITION BY {staged} ORDER BY s.ctid) AS n
                   FROM {stage} AS s),
             existing AS (
                 SELECT {target_row} AS r, pg_catalog.count(*) AS c
                   FROM {from} AS t
                  WHERE {target_row} OPERATOR(pg_catalog.=) ANY (SELECT r FROM numbered)
                  GROUP BY 1)
             UPDATE {stage} AS s
                SET {NEW_FLAG} = numbered.n OPERATOR(pg_catalog.>) coalesce(existing.c, 0)
                                 AND {no_conflict}
               FROM numbered LEFT JOIN existing ON existing.r OPERATOR(pg_catalog.=) numbered.r
              WHERE s.ctid OPERATOR(pg_catalog.=) numbered.stage_row",
            staged = row_text("s.", &self.columns),
            stage = self.stage,
            target_row = row_text("t.", &self.columns),
            from = self.target.from_clause(),
            no_conflict = self.no_conflict(),
        )
    }

    /// Inserts the new rows; `nulled` columns go in as NULL (a cycle edge set afterwards).
    pub fn insert(&self, nulled: &[String]) -> String {
        let values: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                if nulled.contains(c) {
                    "NULL".to_string()
                } else {
                    format!("s.{}", quote_ident(c))
                }
            })
            .collect();
        format!(
            "INSERT INTO {}{}{} SELECT {} FROM {} AS s WHERE s.{NEW_FLAG}",
            self.target.name.sql(),
            column_list(&self.columns),
            if self.overriding {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            },
            values.join(", "),
            self.stage
        )
    }

    /// Sets columns inserted as NULL to their snapshot values (needs the identity key).
    pub fn restore(&self, nulled: &[String]) -> Option<String> {
        let key = self.identity_key.as_ref()?;
        let sets: Vec<String> = nulled
            .iter()
            .map(|c| format!("{q} = s.{q}", q = quote_ident(c)))
            .collect();
        // Rows whose snapshot values are NULL anyway need no update.
        let any_value: Vec<String> = nulled
            .iter()
            .map(|c| format!("s.{} IS NOT NULL", quote_ident(c)))
            .collect();
        Some(format!(
            "UPDATE {} AS t SET {} FROM {} AS s WHERE s.{NEW_FLAG} AND ({}) AND {}",
            self.target.name.sql(),
            sets.join(", "),
            self.stage,
            any_value.join(" OR "),
            self.key_match(key, "t", "s")
        ))
    }

    /// `(already present, drifted, missing, new)`. Already present: a row not inserted whose
    /// key holds identical content; drifted: a row not inserted whose key holds other content;
    /// missing: a row that should be in the target and is not (a trigger changed it, or it
    /// conflicts on a nullable key), and a row not inserted because it conflicts with a target
    /// row on another unique key while its own key has no row in the target (not drift: the
    /// target has no row of its key to keep or bring back); new: rows classified as new.
    ///
    /// When the table stores inserted values verbatim (no rules, no user triggers), the new
    /// rows are what the INSERT just wrote, so only the others are compared here and the
    /// caller checks that the INSERT's count equals `new`.
    ///
    /// A row matched by its identity key is compared on its other columns only
    /// ([`LoadTable::content_columns`], as the drift is): its key columns equal the target's
    /// by the key's own equality, which the match used, even where they print otherwise
    /// (`1.5` and `1.50` of a `numeric`, `citext` or text under a nondeterministic collation
    /// in another case), and no repair rewrites them.
    pub fn verify_counts(&self) -> String {
        let verbatim = self.target.inserts_verbatim();
        match &self.identity_key {
            Some(key) => format!(
                "SELECT pg_catalog.count(*) FILTER (WHERE NOT s.{NEW_FLAG} AND m.same)::pg_catalog.int8,
                        pg_catalog.count(*) FILTER (WHERE NOT s.{NEW_FLAG} AND m.found AND NOT m.same)::pg_catalog.int8,
                        pg_catalog.count(*) FILTER (WHERE (s.{NEW_FLAG} OR NOT m.found) AND NOT m.same)::pg_catalog.int8,
                        (SELECT pg_catalog.count(*) FROM {stage} WHERE {NEW_FLAG})::pg_catalog.int8
                   FROM {stage} AS s
                   LEFT JOIN {from} AS t ON {matches}
                  CROSS JOIN LATERAL (SELECT t.{first} IS NOT NULL AS found) AS f
                  CROSS JOIN LATERAL (SELECT f.found{content} AS same, f.found) AS m
                  WHERE {which}",
                stage = self.stage,
                from = self.target.from_clause(),
                matches = self.key_match(key, "t", "s"),
                first = quote_ident(&key[0]),
                content = match self.content_columns() {
                    columns if columns.is_empty() => String::new(),
                    columns => format!(
                        "\n                                             AND {} OPERATOR(pg_catalog.=) {}",
                        row_text("t.", &columns),
                        row_text("s.", &columns)
                    ),
                },
                which = if verbatim {
                    format!("NOT s.{NEW_FLAG}")
                } else {
                    "true".to_string()
                },
            ),
            None => format!(
                "SELECT (SELECT pg_catalog.count(*) FROM {stage} WHERE NOT {NEW_FLAG})::pg_catalog.int8,
                        0::pg_catalog.int8,
                        coalesce((SELECT pg_catalog.sum(greatest(
                                             g.c OPERATOR(pg_catalog.-) coalesce(e.c, 0), 0))
                           FROM (SELECT {staged} AS r, pg_catalog.count(*) AS c
                                   FROM {stage} AS s GROUP BY 1) AS g
                           LEFT JOIN (SELECT {target_row} AS r, pg_catalog.count(*) AS c
                                        FROM {from} AS t
                                       WHERE {target_row} OPERATOR(pg_catalog.=) ANY
                                             (SELECT {staged} FROM {stage} AS s)
                                       GROUP BY 1) AS e ON e.r OPERATOR(pg_catalog.=) g.r), 0)::pg_catalog.int8,
                        (SELECT pg_catalog.count(*) FROM {stage} WHERE {NEW_FLAG})::pg_catalog.int8",
                stage = self.stage,
                from = self.target.from_clause(),
                target_row = row_text("t.", &self.columns),
                staged = row_text("s.", &self.columns),
            ),
        }
    }

    /// Counts the snapshot's rows (in `rows`: the staging table, or the target table itself
    /// when it was loaded directly) whose foreign-key values have no parent row in the target;
    /// which rows need one is the key's [`MatchRule`]. Values compare as the server's check
    /// compares them: with the key's `equality` by column (`=` where it has none, see
    /// [`crate::catalog::Constraint::equality`]), the child's value cast to the parent column's
    /// type ([`key_text::child_cast`]) under the parent column's collation.
    pub fn orphan_count(
        &self,
        rows: &str,
        fk: &ManifestForeignKey,
        scope: Option<&str>,
        parent: &Table,
        equality: &[String],
    ) -> String {
        let (columns, condition, parent_columns) = (&fk.columns, &fk.when, &fk.referenced_columns);
        let rule = MatchRule::of(fk.match_full);
        let mut not_null = vec![rule.needs_parent_sql(columns, "s")];
        if !condition.is_empty() {
            not_null.push(condition_sql(condition, "s"));
        }
        // An SQL condition over the row's unqualified columns (the only relation in scope).
        not_null.extend(scope.map(str::to_string));
        let matches: Vec<String> = columns
            .iter()
            .zip(parent_columns)
            .enumerate()
            .map(|(i, (c, p))| {
                let cast = match (self.target.column(c), parent.column(p)) {
                    (Some(child), Some(parent)) => key_text::child_cast(child, parent)
                        .map(|ty| format!("::{ty}"))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                format!(
                    "p.{} {} s.{}{cast}{}",
                    quote_ident(p),
                    equality.get(i).map_or("=", String::as_str),
                    quote_ident(c),
                    collate_as(parent, p)
                )
            })
            .collect();
        format!(
            "SELECT pg_catalog.count(*)::pg_catalog.int8 FROM {} AS s WHERE {} AND NOT EXISTS \
             (SELECT 1 FROM {} AS p WHERE {})",
            rows,
            not_null.join(" AND "),
            // As PostgreSQL's own check: an inheritance child's rows are not the parent's.
            parent.from_clause(),
            matches.join(" AND ")
        )
    }
}

/// ` COLLATE <collation>` of the parent's column `column`, or nothing for a type without one:
/// a key's values compare under the referenced column's collation, as PostgreSQL's own check
/// does (between columns of different collations the comparison would otherwise fail).
pub fn collate_as(parent: &Table, column: &str) -> String {
    match parent.column(column).and_then(|c| c.collation.as_deref()) {
        Some(collation) => format!(" COLLATE {collation}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, QualifiedName, TableKind};

    fn table() -> Table {
        Table {
            oid: 1,
            name: QualifiedName::new("app", "Users"),
            kind: TableKind::Ordinary,
            columns: ["id", "email"]
                .iter()
                .map(|n| Column {
                    name: n.to_string(),
                    type_name: "text".into(),
                    base_type: "text".into(),
                    domain_base: None,
                    not_null: true,
                    generated: false,
                    identity: None,
                    has_default: false,
                    collation: None,
                    is_enum: false,
                })
                .collect(),
            unique_keys: vec![],
            has_rules: false,
            has_triggers: false,
            estimated_rows: 0,
        }
    }

    #[test]
    fn keyed_tables_check_every_unique_key() {
        let t = table();
        let load = LoadTable {
            target: &t,
            stage: "pg_temp.s1".into(),
            columns: vec!["id".into(), "email".into()],
            unique_keys: vec![vec!["id".into()], vec!["email".into()]],
            identity_key: Some(vec!["id".into()]),
            overriding: true,
        };
        let sql = load.classify();
        assert!(sql.contains(r#"t."id" = s."id""#), "{sql}");
        assert!(sql.contains(r#"t."email" = s."email""#), "{sql}");
        let insert = load.insert(&["email".into()]);
        assert!(insert.contains("OVERRIDING SYSTEM VALUE"));
        assert!(insert.contains(r#"SELECT s."id", NULL FROM"#), "{insert}");
        assert!(insert.starts_with(r#"INSERT INTO "app"."Users""#));
        let restore = load.restore(&["email".into()]).unwrap();
        assert!(restore.contains(r#"SET "email" = s."email""#), "{restore}");
    }

    #[test]
    fn keys_compare_with_their_own_equality() {
        let mut t = table();
        t.unique_keys = vec![crate::catalog::UniqueKey {
            name: "users_email_key".into(),
            columns: vec!["id".into(), "email".into()],
            primary: false,
            deferrable: false,
            nulls_not_distinct: false,
            equality: vec!["=".into(), "OPERATOR(extensions.=)".into()],
        }];
        let load = LoadTable {
            target: &t,
            stage: "pg_temp.s1".into(),
            columns: vec!["id".into(), "email".into()],
            unique_keys: vec![vec!["id".into(), "email".into()]],
            identity_key: Some(vec!["id".into(), "email".into()]),
            overriding: false,
        };
        let key = ["id".to_string(), "email".to_string()];
        assert_eq!(
            load.key_match(&key, "t", "s"),
            r#"t."id" = s."id" AND t."email" OPERATOR(extensions.=) s."email""#
        );
        assert!(load
            .classify()
            .contains(r#"t."email" OPERATOR(extensions.=) s."email""#));
        // A key the catalog does not know (none of the target's): the plain `=`.
        assert_eq!(load.key_match(&key[..1], "a", "b"), r#"a."id" = b."id""#);
    }

    #[test]
    fn keyless_tables_count_identical_rows() {
        let t = table();
        let load = LoadTable {
            target: &t,
            stage: "pg_temp.s1".into(),
            columns: vec!["id".into()],
            unique_keys: vec![],
            identity_key: None,
            overriding: false,
        };
        assert!(load.classify().contains("row_number()"));
        assert!(load.restore(&["id".into()]).is_none());
        assert!(load
            .verify_counts()
            .contains("g.c OPERATOR(pg_catalog.-) coalesce(e.c, 0), 0)"));
    }

    #[test]
    fn tables_without_columns_stage_a_pad_and_insert_without_a_list() {
        let mut t = table();
        t.columns.clear();
        let load = LoadTable {
            target: &t,
            stage: "pg_temp.s1".into(),
            columns: vec![],
            unique_keys: vec![],
            identity_key: None,
            overriding: false,
        };
        assert_eq!(
            load.create_stage(&[]),
            "CREATE TEMPORARY TABLE pg_temp.s1 (_seedsnap_pad pg_catalog.text, _seedsnap_new pg_catalog.bool) ON COMMIT DROP"
        );
        assert_eq!(load.copy_in(), "COPY pg_temp.s1 (_seedsnap_pad) FROM STDIN");
        assert_eq!(load.copy_direct(), r#"COPY "app"."Users" FROM STDIN"#);
        assert_eq!(
            load.insert(&[]),
            r#"INSERT INTO "app"."Users" SELECT  FROM pg_temp.s1 AS s WHERE s._seedsnap_new"#
        );
    }
}
