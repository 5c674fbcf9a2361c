//! The schema model: tables, columns, keys and foreign keys, read from `pg_catalog`.
//!
//! One query per kind of object (tables, columns, unique keys, foreign keys, sequences), never
//! one per table, so a schema of thousands of tables reads in milliseconds. `information_schema`
//! is not used: it hides foreign keys from a SELECT-only role and is orders of magnitude slower.
//! Everything is keyed by names, never by attribute numbers, which differ between databases.

use std::collections::HashMap;
use std::fmt;

use anyhow::{Context, Result};
use postgres::GenericClient;
use serde::{Deserialize, Serialize};

const TABLES_SQL: &str = include_str!("catalog/tables.sql");
const COLUMNS_SQL: &str = include_str!("catalog/columns.sql");
const UNIQUE_KEYS_SQL: &str = include_str!("catalog/unique_keys.sql");
const FOREIGN_KEYS_SQL: &str = include_str!("catalog/foreign_keys.sql");
const SEQUENCES_SQL: &str = include_str!("catalog/sequences.sql");

/// A schema-qualified table name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// The name as SQL: both parts quoted.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// Parses `schema.table` as typed on a command line. A name holding a dot can be quoted:
    /// `"my.schema"."my.table"`. A bare name means schema `public`.
    pub fn parse(text: &str) -> Option<QualifiedName> {
        let parts = split_dotted(text)?;
        match parts.as_slice() {
            [name] => Some(QualifiedName::new("public", name.clone())),
            [schema, name] => Some(QualifiedName::new(schema.clone(), name.clone())),
            _ => None,
        }
    }
}

fn split_dotted(text: &str) -> Option<Vec<String>> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                parts.last_mut()?.push('"');
            }
            ('"', true) => quoted = false,
            ('.', false) => parts.push(String::new()),
            (c, _) => parts.last_mut()?.push(c),
        }
    }
    if quoted || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(parts)
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Quotes an SQL identifier: always double quotes, inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal (standard_conforming_strings is pinned on).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    Ordinary,
    Partitioned,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The type with its modifier, as `format_type` prints it (`character varying(20)`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The type without modifier, used for casts (`character varying`).
    pub base_type: String,
    pub not_null: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generated: bool,
    /// `always` or `by_default` for identity columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniqueKey {
    pub name: String,
    pub columns: Vec<String>,
    pub primary: bool,
    pub deferrable: bool,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub oid: u32,
    pub name: QualifiedName,
    pub kind: TableKind,
    pub columns: Vec<Column>,
    /// Usable unique keys (no partial or expression indexes), primary key first.
    pub unique_keys: Vec<UniqueKey>,
    pub has_rules: bool,
    /// User triggers (not the ones enforcing constraints), on the table or its partitions.
    pub has_triggers: bool,
    pub row_security: bool,
    pub estimated_rows: i64,
}

/// How rows of a table are identified and ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "columns")]
pub enum RowKey {
    /// The primary key.
    Primary(Vec<String>),
    /// A unique key whose columns are all NOT NULL.
    Unique(Vec<String>),
    /// No such key: rows are ordered by all their columns.
    AllColumns,
}

impl RowKey {
    pub fn columns(&self) -> Option<&[String]> {
        match self {
            RowKey::Primary(c) | RowKey::Unique(c) => Some(c),
            RowKey::AllColumns => None,
        }
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns whose values travel in a snapshot: every column but generated ones.
    pub fn stored_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.generated)
    }

    /// The key that identifies and orders rows: the primary key, else the first unique key
    /// (by name) whose columns are all NOT NULL and stored, else all columns.
    pub fn row_key(&self) -> RowKey {
        if let Some(pk) = self.unique_keys.iter().find(|k| k.primary) {
            return RowKey::Primary(pk.columns.clone());
        }
        let usable = |key: &&UniqueKey| {
            key.columns.iter().all(|name| {
                self.column(name)
                    .map(|c| c.not_null && !c.generated)
                    .unwrap_or(false)
            })
        };
        match self.unique_keys.iter().find(usable) {
            Some(key) => RowKey::Unique(key.columns.clone()),
            None => RowKey::AllColumns,
        }
    }

    /// Whether an `INSERT … SELECT` stores exactly the values selected (no rule or user
    /// trigger can change or redirect them).
    pub fn inserts_verbatim(&self) -> bool {
        !self.has_rules && !self.has_triggers
    }

    /// `FROM` target: `ONLY` for ordinary tables so that inheritance children are not read
    /// twice; partitioned tables are read whole (they have no rows of their own).
    pub fn from_clause(&self) -> String {
        match self.kind {
            TableKind::Ordinary => format!("ONLY {}", self.name.sql()),
            TableKind::Partitioned => self.name.sql(),
        }
    }
}

/// A foreign key between two tables of the catalog (by index into `Catalog::tables`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub name: String,
    /// The schema the constraint lives in (needed to name it in `SET CONSTRAINTS`).
    pub constraint_schema: String,
    pub child: usize,
    pub columns: Vec<String>,
    pub parent: usize,
    pub parent_columns: Vec<String>,
    pub deferrable: bool,
    pub initially_deferred: bool,
    pub match_full: bool,
    pub validated: bool,
    /// Declared in the config file (`virtual_foreign_keys`), not in the database: no
    /// constraint enforces it anywhere, so its name is the key as the file wrote it.
    pub virtual_key: bool,
    /// A polymorphic key's discriminator: a child row needs a parent through this key only
    /// when every condition holds. Empty for declared keys.
    pub condition: Vec<Condition>,
}

/// `column = 'value'` on the child row of a virtual foreign key, compared as the column's text
/// output (the value is checked to be in that canonical form when the key is resolved).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Condition {
    pub column: String,
    pub value: String,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.column, quote_literal(&self.value))
    }
}

/// A condition list as SQL over the columns of `alias` (`TRUE` when empty).
pub fn condition_sql(condition: &[Condition], alias: &str) -> String {
    if condition.is_empty() {
        return "TRUE".to_string();
    }
    condition
        .iter()
        .map(|c| {
            format!(
                "{alias}.{}::pg_catalog.text = {}",
                quote_ident(&c.column),
                quote_literal(&c.value)
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl ForeignKey {
    /// Whether a child tuple needs a parent: MATCH SIMPLE ignores a tuple with any NULL,
    /// MATCH FULL only an all-NULL one (a partly NULL one is refused by the server).
    pub fn needs_parent<T>(&self, values: &[Option<T>]) -> bool {
        if self.match_full {
            values.iter().any(|v| v.is_some())
        } else {
            values.iter().all(|v| v.is_some())
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Sorted by schema, then name.
    pub tables: Vec<Table>,
    pub foreign_keys: Vec<ForeignKey>,
    /// Foreign keys that leave the catalog (their parent is outside `--schema`): the child
    /// table and a description.
    pub external_foreign_keys: Vec<(usize, String)>,
}

impl Catalog {
    pub fn find(&self, name: &QualifiedName) -> Option<usize> {
        self.tables.iter().position(|t| &t.name == name)
    }

    pub fn outgoing(&self, table: usize) -> impl Iterator<Item = (usize, &ForeignKey)> {
        self.foreign_keys
            .iter()
            .enumerate()
            .filter(move |(_, fk)| fk.child == table)
    }

    pub fn incoming(&self, table: usize) -> impl Iterator<Item = (usize, &ForeignKey)> {
        self.foreign_keys
            .iter()
            .enumerate()
            .filter(move |(_, fk)| fk.parent == table)
    }

    /// The catalog restricted to the tables marked `keep`, indexes renumbered.
    pub fn restrict(&self, keep: &[bool]) -> Catalog {
        let mut new_index = vec![usize::MAX; self.tables.len()];
        let mut tables = Vec::new();
        for (i, table) in self.tables.iter().enumerate() {
            if keep[i] {
                new_index[i] = tables.len();
                tables.push(table.clone());
            }
        }
        let foreign_keys = self
            .foreign_keys
            .iter()
            .filter(|fk| keep[fk.child] && keep[fk.parent])
            .map(|fk| ForeignKey {
                child: new_index[fk.child],
                parent: new_index[fk.parent],
                ..fk.clone()
            })
            .collect();
        let external_foreign_keys = self
            .external_foreign_keys
            .iter()
            .filter(|(child, _)| keep[*child])
            .map(|(child, text)| (new_index[*child], text.clone()))
            .collect();
        Catalog {
            tables,
            foreign_keys,
            external_foreign_keys,
        }
    }

    /// Reads every user table of the given schemas (all user schemas when empty).
    pub fn read(client: &mut impl GenericClient, schemas: &[String]) -> Result<Catalog> {
        let schemas: Vec<String> = schemas.to_vec();
        let mut tables = Vec::new();
        for row in client
            .query(TABLES_SQL, &[&schemas])
            .context("reading the list of tables from pg_catalog")?
        {
            let relkind: String = row.get("relkind");
            tables.push(Table {
                oid: row.get::<_, i64>("oid") as u32,
                name: QualifiedName::new(
                    row.get::<_, String>("schema_name"),
                    row.get::<_, String>("table_name"),
                ),
                kind: if relkind == "p" {
                    TableKind::Partitioned
                } else {
                    TableKind::Ordinary
                },
                columns: Vec::new(),
                unique_keys: Vec::new(),
                has_rules: row.get("has_rules"),
                has_triggers: row.get("has_triggers"),
                row_security: row.get("row_security"),
                estimated_rows: row.get("estimated_rows"),
            });
        }
        let by_oid: HashMap<u32, usize> =
            tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();
        let oids: Vec<i64> = tables.iter().map(|t| t.oid as i64).collect();

        for row in client
            .query(COLUMNS_SQL, &[&oids])
            .context("reading columns from pg_catalog")?
        {
            let table = by_oid[&(row.get::<_, i64>("table_oid") as u32)];
            let identity: String = row.get("identity");
            tables[table].columns.push(Column {
                name: row.get("column_name"),
                type_name: row.get("type_name"),
                base_type: row.get("base_type"),
                not_null: row.get("not_null"),
                generated: row.get("generated"),
                identity: match identity.as_str() {
                    "a" => Some("always".to_string()),
                    "d" => Some("by_default".to_string()),
                    _ => None,
                },
                has_default: row.get("has_default"),
            });
        }

        for row in client
            .query(UNIQUE_KEYS_SQL, &[&oids])
            .context("reading primary keys and unique indexes from pg_catalog")?
        {
            if row.get::<_, bool>("partial_or_expression") {
                continue;
            }
            let table = by_oid[&(row.get::<_, i64>("table_oid") as u32)];
            let constraint: Option<String> = row.get("constraint_name");
            tables[table].unique_keys.push(UniqueKey {
                name: constraint.unwrap_or_else(|| row.get("index_name")),
                columns: row.get("column_names"),
                primary: row.get("is_primary"),
                deferrable: row.get("deferrable"),
            });
        }

        let mut foreign_keys = Vec::new();
        let mut seen_keys = std::collections::HashSet::new();
        let mut external_foreign_keys = Vec::new();
        for row in client
            .query(FOREIGN_KEYS_SQL, &[])
            .context("reading foreign keys from pg_catalog")?
        {
            let child = by_oid.get(&(row.get::<_, i64>("child_oid") as u32));
            let parent = by_oid.get(&(row.get::<_, i64>("parent_oid") as u32));
            let name: String = row.get("constraint_name");
            match (child, parent) {
                (Some(&child), Some(&parent)) => {
                    let fk = ForeignKey {
                        name,
                        constraint_schema: row.get("constraint_schema"),
                        child,
                        columns: row.get("child_columns"),
                        parent,
                        parent_columns: row.get("parent_columns"),
                        deferrable: row.get("deferrable"),
                        initially_deferred: row.get("initially_deferred"),
                        match_full: row.get("match_full"),
                        validated: row.get("validated"),
                        virtual_key: false,
                        condition: Vec::new(),
                    };
                    // A key declared on several partitions maps to the same pair of roots.
                    let identity = (
                        fk.child,
                        fk.parent,
                        fk.columns.clone(),
                        fk.parent_columns.clone(),
                    );
                    if seen_keys.insert(identity) {
                        foreign_keys.push(fk);
                    }
                }
                (Some(&child), None) => external_foreign_keys.push((
                    child,
                    format!(
                        "{} ({name}) references a table outside the schemas being read",
                        tables[child].name
                    ),
                )),
                _ => {}
            }
        }
        Ok(Catalog {
            tables,
            foreign_keys,
            external_foreign_keys,
        })
    }

    /// The sequences feeding each table's columns: (table index, column, sequence as SQL).
    pub fn read_sequences(
        &self,
        client: &mut impl GenericClient,
        tables: &[usize],
    ) -> Result<Vec<(usize, String, String)>> {
        let oids: Vec<i64> = tables.iter().map(|&t| self.tables[t].oid as i64).collect();
        let by_oid: HashMap<u32, usize> = tables.iter().map(|&t| (self.tables[t].oid, t)).collect();
        let rows = client
            .query(SEQUENCES_SQL, &[&oids])
            .context("reading column sequences from pg_catalog")?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let table = *by_oid.get(&(row.get::<_, i64>(0) as u32))?;
                Some((table, row.get(1), row.get(2)))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(
            QualifiedName::new("public", "Order").sql(),
            r#""public"."Order""#
        );
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn parse_names() {
        assert_eq!(
            QualifiedName::parse("app.users"),
            Some(QualifiedName::new("app", "users"))
        );
        assert_eq!(
            QualifiedName::parse("users"),
            Some(QualifiedName::new("public", "users"))
        );
        assert_eq!(
            QualifiedName::parse(r#""my.schema"."a""b""#),
            Some(QualifiedName::new("my.schema", r#"a"b"#))
        );
        assert_eq!(QualifiedName::parse("a.b.c"), None);
        assert_eq!(QualifiedName::parse("a."), None);
    }

    #[test]
    fn match_simple_and_full() {
        let mut fk = ForeignKey {
            name: "f".into(),
            constraint_schema: "s".into(),
            child: 0,
            columns: vec!["a".into(), "b".into()],
            parent: 1,
            parent_columns: vec!["x".into(), "y".into()],
            deferrable: false,
            initially_deferred: false,
            match_full: false,
            validated: true,
            virtual_key: false,
            condition: Vec::new(),
        };
        assert!(fk.needs_parent(&[Some(1), Some(2)]));
        assert!(!fk.needs_parent(&[Some(1), None]));
        fk.match_full = true;
        assert!(fk.needs_parent(&[Some(1), None]));
        assert!(!fk.needs_parent::<i32>(&[None, None]));
    }
}
