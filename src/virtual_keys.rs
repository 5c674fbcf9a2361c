//! Virtual foreign keys: relationships the database does not declare, written in the config
//! file as
//!
//! ```text
//! app.content_tags(content_id) -> app.content_items(id) when content_source = 'items'
//! legacy.orders(customer_ref, region) -> app.customers(id, region)
//! attachment(object_id) -> invoice(id) when content_type_id = django_content_type(app_label = 'billing', model = 'invoice')
//! ```
//!
//! A `when` value may name a row of a lookup table by its natural key instead of writing the
//! discriminator's value (an id that differs between databases): the value is then that row's
//! key, read from the source inside the export's snapshot (see [`crate::lookup_values`]).
//!
//! This module owns the notation (parsing, with the character position of a mistake) and the
//! check against a catalog: tables and columns exist, both sides have as many columns, each
//! pair of columns has comparable types, and the `when` columns exist. A resolved key is a
//! [`ForeignKey`] of kind [`KeyKind::Virtual`], so ordering, sampling, backfill, `plan` and `verify`
//! treat it like a declared one; no constraint is created anywhere.

use crate::catalog::{Catalog, Condition, ForeignKey, KeyKind, MatchRule, QualifiedName, Table};
use crate::problem::{Problem, Subject};

/// A virtual key as written, before it is checked against a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualKeySpec {
    /// The text as written (it names the key in messages and in the manifest).
    pub text: String,
    /// Where it was written, for messages: `seedsnap.toml:14` or `--virtual-key`.
    pub origin: String,
    pub child: QualifiedName,
    pub columns: Vec<String>,
    pub parent: QualifiedName,
    pub parent_columns: Vec<String>,
    /// Conditions on the child row. A condition whose value names a lookup row holds that
    /// row's text (`django_content_type(app_label = 'billing', …)`) until it is resolved.
    pub condition: Vec<Condition>,
    /// The conditions whose value is a row of a lookup table: (index into `condition`, row).
    pub lookups: Vec<(usize, LookupRow)>,
}

impl VirtualKeySpec {
    /// The key as the subject of its problems: `seedsnap.toml:14: virtual foreign key "…"`.
    pub fn subject(&self) -> Subject {
        Subject::new(&self.origin, format!("virtual foreign key {:?}", self.text))
    }
}

/// `table(column = 'value', …)`: the one row of `table` with these values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRow {
    pub table: QualifiedName,
    pub filters: Vec<Condition>,
}

impl std::fmt::Display for LookupRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let filters: Vec<String> = self.filters.iter().map(|c| c.to_string()).collect();
        write!(f, "{}({})", self.table, filters.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An identifier; `true` when it was double-quoted (never a keyword then).
    Ident(String, bool),
    Literal(String),
    Punct(&'static str),
}

/// Splits the text into tokens, each with the 1-based character position it starts at.
fn tokens(text: &str) -> Result<Vec<(usize, Token)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'>') {
            out.push((start, Token::Punct("->")));
            i += 2;
        } else if let Some(p) = ["(", ")", ",", ".", "="].iter().find(|p| p.starts_with(c)) {
            out.push((start, Token::Punct(p)));
            i += 1;
        } else if c == '"' || c == '\'' {
            // Quoted identifier or string literal: the quote doubled stands for itself.
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("the quote at character {start} is never closed")),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        value.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            out.push((
                start,
                if c == '"' {
                    Token::Ident(value, true)
                } else {
                    Token::Literal(value)
                },
            ));
        } else if c.is_alphanumeric() || c == '_' || c == '-' || c == '+' {
            // A bare identifier, or a number (`kind = 2`, `kind = -1`).
            let mut value = String::from(c);
            i += 1;
            while let Some(&next) = chars.get(i) {
                if next.is_alphanumeric() || next == '_' || next == '$' {
                    value.push(next);
                    i += 1;
                } else {
                    break;
                }
            }
            let digits = value.trim_start_matches(['-', '+']);
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                out.push((start, Token::Literal(value)));
            } else if value.starts_with(['-', '+']) {
                return Err(format!("unexpected {value:?} at character {start}"));
            } else {
                out.push((start, Token::Ident(value, false)));
            }
        } else {
            return Err(format!("unexpected {c:?} at character {start}"));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn position(&self) -> String {
        match self.tokens.get(self.at) {
            Some((p, _)) => format!("at character {p}"),
            None => format!("at the end (character {})", self.end),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn punct(&mut self, wanted: &'static str) -> Result<(), String> {
        match self.peek() {
            Some(Token::Punct(p)) if *p == wanted => {
                self.at += 1;
                Ok(())
            }
            _ => Err(format!("expected {wanted:?} {}", self.position())),
        }
    }

    fn keyword(&mut self, wanted: &str) -> bool {
        match self.peek() {
            Some(Token::Ident(word, false)) if word.eq_ignore_ascii_case(wanted) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, String> {
        match self.peek() {
            Some(Token::Ident(name, _)) => {
                let name = name.clone();
                self.at += 1;
                Ok(name)
            }
            _ => Err(format!("expected {what} {}", self.position())),
        }
    }

    /// `table` or `schema.table` (schema `public` when left out).
    fn table(&mut self) -> Result<QualifiedName, String> {
        let first = self.ident("a table name")?;
        if self.peek() == Some(&Token::Punct(".")) {
            self.at += 1;
            let name = self.ident("a table name after the dot")?;
            Ok(QualifiedName::new(first, name))
        } else {
            Ok(QualifiedName::new("public", first))
        }
    }

    /// `(column, …)`
    fn columns(&mut self) -> Result<Vec<String>, String> {
        self.punct("(")?;
        let mut columns = vec![self.ident("a column name")?];
        while self.peek() == Some(&Token::Punct(",")) {
            self.at += 1;
            columns.push(self.ident("a column name")?);
        }
        self.punct(")")?;
        Ok(columns)
    }

    /// `column = 'value'`
    fn literal_condition(&mut self) -> Result<Condition, String> {
        let column = self.ident("a column name")?;
        self.punct("=")?;
        match self.peek() {
            Some(Token::Literal(value)) => {
                let value = value.clone();
                self.at += 1;
                Ok(Condition { column, value })
            }
            _ => Err(format!(
                "expected a value ('text' or a number) {}",
                self.position()
            )),
        }
    }

    /// `column = 'value'` or `column = table(column = 'value', …)` (a lookup row).
    fn condition(&mut self) -> Result<(Condition, Option<LookupRow>), String> {
        // A lookup row starts `column = table(` or `column = schema.`.
        let lookup = matches!(self.tokens.get(self.at + 2), Some((_, Token::Ident(..))))
            && matches!(
                self.tokens.get(self.at + 3),
                Some((_, Token::Punct("(" | ".")))
            );
        if !lookup {
            return Ok((self.literal_condition()?, None));
        }
        let column = self.ident("a column name")?;
        self.punct("=")?;
        let table = self.table()?;
        self.punct("(")?;
        let mut filters = vec![self.literal_condition()?];
        while self.peek() == Some(&Token::Punct(",")) {
            self.at += 1;
            filters.push(self.literal_condition()?);
        }
        self.punct(")")?;
        let row = LookupRow { table, filters };
        let value = row.to_string();
        Ok((Condition { column, value }, Some(row)))
    }
}

/// Parses `child(col, …) -> parent(col, …) [when col = 'value' [and col = 'value' …]]`.
/// Unquoted names are taken as written (no case folding); double quotes allow any character.
pub fn parse(text: &str) -> Result<VirtualKeySpec, String> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
        end: text.chars().count() + 1,
    };
    let child = parser.table()?;
    let columns = parser.columns()?;
    parser.punct("->")?;
    let parent = parser.table()?;
    let parent_columns = parser.columns()?;
    let mut condition = Vec::new();
    let mut lookups = Vec::new();
    if parser.keyword("when") {
        loop {
            let (c, lookup) = parser.condition()?;
            if let Some(row) = lookup {
                lookups.push((condition.len(), row));
            }
            condition.push(c);
            if !parser.keyword("and") {
                break;
            }
        }
    }
    if parser.peek().is_some() {
        let expected = if condition.is_empty() {
            "the end or \"when\""
        } else {
            "the end or \"and\""
        };
        return Err(format!("expected {expected} {}", parser.position()));
    }
    Ok(VirtualKeySpec {
        text: text.trim().to_string(),
        origin: String::new(),
        child,
        columns,
        parent,
        parent_columns,
        condition,
        lookups,
    })
}

/// Type families whose values compare equal when their text does (`int4` 7 and `int8` 7).
fn type_family(base_type: &str) -> &str {
    match base_type {
        "smallint" | "integer" | "bigint" => "integer",
        "text" | "character varying" | "name" => "text",
        other => other,
    }
}

/// Whether a child column can reference a parent column: the same type, or two types of one
/// family (integers of any width; text and varchar).
pub fn comparable_types(child: &str, parent: &str) -> bool {
    type_family(child) == type_family(parent)
}

/// Checks a table name against the catalog; the problem says where the name was used.
pub fn find_table(
    catalog: &Catalog,
    name: &QualifiedName,
    used_in: &Subject,
) -> Result<usize, Problem> {
    catalog
        .find(name)
        .ok_or_else(|| used_in.problem(format!("no table {name}{}", catalog.suggest(name))))
}

/// Checks that each column exists in the table and is stored (not generated); a missing one
/// gets a "did you mean" (the same name in another case, or a name one or two edits away).
pub fn check_columns(
    table: &Table,
    columns: &[String],
    used_in: &Subject,
    problems: &mut Vec<Problem>,
) {
    for column in columns {
        match table.column(column) {
            None => {
                let similar = table.suggest_column(column);
                problems.push(
                    used_in.problem(format!("{} has no column {column}{similar}", table.name)),
                );
            }
            Some(c) if c.generated => problems.push(used_in.problem(format!(
                "{}.{column} is a generated column, whose values are not exported",
                table.name
            ))),
            Some(_) => {}
        }
    }
}

/// Checks every spec against the catalog. Returns the keys that passed (indexes into the
/// catalog's tables) and every problem found.
pub fn resolve(catalog: &Catalog, specs: &[VirtualKeySpec]) -> (Vec<ForeignKey>, Vec<Problem>) {
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for spec in specs {
        let used_in = spec.subject();
        let before = problems.len();
        let child = find_table(catalog, &spec.child, &used_in).map_err(|p| problems.push(p));
        let parent = find_table(catalog, &spec.parent, &used_in).map_err(|p| problems.push(p));
        if spec.columns.len() != spec.parent_columns.len() {
            problems.push(used_in.problem(format!(
                "{} column(s) on the left but {} on the right",
                spec.columns.len(),
                spec.parent_columns.len()
            )));
        }
        let (Ok(child), Ok(parent)) = (child, parent) else {
            continue;
        };
        let (child_table, parent_table) = (&catalog.tables[child], &catalog.tables[parent]);
        check_columns(child_table, &spec.columns, &used_in, &mut problems);
        check_columns(parent_table, &spec.parent_columns, &used_in, &mut problems);
        let when: Vec<String> = spec.condition.iter().map(|c| c.column.clone()).collect();
        check_columns(child_table, &when, &used_in, &mut problems);
        for (_, row) in &spec.lookups {
            match find_table(catalog, &row.table, &used_in) {
                Ok(t) => {
                    let filters: Vec<String> =
                        row.filters.iter().map(|c| c.column.clone()).collect();
                    check_columns(&catalog.tables[t], &filters, &used_in, &mut problems);
                }
                Err(p) => problems.push(p),
            }
        }
        if problems.len() > before {
            continue;
        }
        for (c, p) in spec.columns.iter().zip(&spec.parent_columns) {
            let (c, p) = (
                child_table.column(c).expect("checked"),
                parent_table.column(p).expect("checked"),
            );
            if !comparable_types(&c.base_type, &p.base_type) {
                problems.push(used_in.problem(format!(
                    "{}.{} is {} but {}.{} is {}; the types must match",
                    child_table.name, c.name, c.type_name, parent_table.name, p.name, p.type_name
                )));
            }
        }
        if problems.len() > before {
            continue;
        }
        // The same key written twice (in the file and as a flag, say) is one key.
        let same = |k: &ForeignKey| {
            (
                k.child,
                &k.columns,
                k.parent,
                &k.parent_columns,
                k.condition(),
            ) == (
                child,
                &spec.columns,
                parent,
                &spec.parent_columns,
                spec.condition.as_slice(),
            )
        };
        if keys.iter().any(same) {
            continue;
        }
        keys.push(ForeignKey {
            name: spec.text.clone(),
            child,
            columns: spec.columns.clone(),
            parent,
            parent_columns: spec.parent_columns.clone(),
            match_rule: MatchRule::Simple,
            kind: KeyKind::Virtual {
                condition: spec.condition.clone(),
                // Read from the database after the keys are resolved (see
                // `catalog::name_virtual_equality`).
                equality: Vec::new(),
            },
            partition: None,
        });
    }
    (keys, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, TableKind, UniqueKey};

    fn cond(column: &str, value: &str) -> Condition {
        Condition {
            column: column.into(),
            value: value.into(),
        }
    }

    #[test]
    fn plain_and_polymorphic_keys_parse() {
        let key = parse("legacy_orders(customer_ref) -> app.customers(id)").unwrap();
        assert_eq!(key.child, QualifiedName::new("public", "legacy_orders"));
        assert_eq!(key.columns, vec!["customer_ref"]);
        assert_eq!(key.parent, QualifiedName::new("app", "customers"));
        assert_eq!(key.parent_columns, vec!["id"]);
        assert!(key.condition.is_empty());

        let key = parse(
            "app.content_tags(content_id) -> app.content_items_auto(id) WHEN content_source = 'auto'",
        )
        .unwrap();
        assert_eq!(key.condition, vec![cond("content_source", "auto")]);

        let key = parse(
            r#""my.schema"."Odd ""t"""(a, "B c") -> p(x, y) when kind = 2 and "Flag" = 'it''s'"#,
        )
        .unwrap();
        assert_eq!(key.child, QualifiedName::new("my.schema", "Odd \"t\""));
        assert_eq!(key.columns, vec!["a", "B c"]);
        assert_eq!(key.condition, vec![cond("kind", "2"), cond("Flag", "it's")]);
        assert_eq!(
            parse("a(x)->b(y) when n = -1").unwrap().condition[0].value,
            "-1"
        );
    }

    #[test]
    fn a_when_value_may_name_a_lookup_row() {
        let key = parse(
            "attachment(object_id) -> invoice(id) when content_type_id = \
             django_content_type(app_label = 'billing', model = 'invoice') and kind = 'x'",
        )
        .unwrap();
        assert_eq!(key.condition.len(), 2);
        assert_eq!(key.lookups.len(), 1);
        let (at, row) = &key.lookups[0];
        assert_eq!(*at, 0);
        assert_eq!(
            row.table,
            QualifiedName::new("public", "django_content_type")
        );
        assert_eq!(
            row.to_string(),
            "public.django_content_type(app_label = 'billing', model = 'invoice')"
        );
        assert_eq!(key.condition[1].value, "x");
        assert!(parse("a(x) -> b(y) when t = c(k 'v')")
            .unwrap_err()
            .contains("expected \"=\""));
    }

    #[test]
    fn mistakes_name_their_position() {
        let cases = [
            ("a(x) b(y)", "expected \"->\" at character 6"),
            ("a(x) -> b(y", "expected \")\" at the end (character 12)"),
            ("a() -> b(y)", "expected a column name at character 3"),
            (
                "a(x) -> b(y) where k = 'v'",
                "expected the end or \"when\" at character 14",
            ),
            ("a(x) -> b(y) when k", "expected \"=\" at the end"),
            (
                "a(x) -> b(y) when k = v",
                "expected a value ('text' or a number) at character 23",
            ),
            (
                "a(x) -> b(y) when k = 'v",
                "the quote at character 23 is never closed",
            ),
            (
                "a(x) -> b(y) when k = 'v' or j = 'w'",
                "expected the end or \"and\" at character 27",
            ),
            (
                "a(x) -> b(y); drop table a",
                "unexpected ';' at character 13",
            ),
        ];
        for (text, message) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(message), "{text}: {error}");
        }
    }

    fn table(schema: &str, name: &str, columns: &[(&str, &str)]) -> Table {
        Table {
            oid: 0,
            name: QualifiedName::new(schema, name),
            kind: TableKind::Ordinary,
            columns: columns
                .iter()
                .map(|(n, t)| Column {
                    name: n.to_string(),
                    type_name: (*t).into(),
                    base_type: (*t).into(),
                    domain_base: None,
                    not_null: true,
                    generated: *n == "generated",
                    identity: None,
                    has_default: false,
                    collation: None,
                    is_enum: false,
                })
                .collect(),
            unique_keys: vec![UniqueKey {
                name: "pk".into(),
                columns: vec!["id".into()],
                primary: true,
                deferrable: false,
                nulls_not_distinct: false,
                equality: Vec::new(),
            }],
            has_rules: false,
            has_triggers: false,
            estimated_rows: 0,
        }
    }

    fn demo_catalog() -> Catalog {
        Catalog {
            tables: vec![
                table("app", "items", &[("id", "bigint"), ("generated", "text")]),
                table(
                    "app",
                    "links",
                    &[
                        ("id", "integer"),
                        ("item_id", "integer"),
                        ("source", "text"),
                        ("slug", "text"),
                    ],
                ),
            ],
            ..Catalog::default()
        }
    }

    #[test]
    fn resolved_keys_become_foreign_keys() {
        let spec = parse("app.links(item_id) -> app.items(id) when source = 'items'").unwrap();
        let (keys, problems) = resolve(&demo_catalog(), &[spec]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((keys[0].child, keys[0].parent), (1, 0));
        assert!(keys[0].is_virtual() && !keys[0].validated());
        assert_eq!(keys[0].condition(), vec![cond("source", "items")]);
        // Written twice, or with other spacing: still one key.
        let specs: Vec<VirtualKeySpec> = [
            "app.links(item_id) -> app.items(id) when source = 'items'",
            "app.links(item_id)->app.items(id)  when source='items'",
        ]
        .iter()
        .map(|t| parse(t).unwrap())
        .collect();
        assert_eq!(resolve(&demo_catalog(), &specs).0.len(), 1);
    }

    #[test]
    fn every_problem_is_reported() {
        let specs: Vec<VirtualKeySpec> = [
            "app.link(item_id) -> app.items(id)",
            "app.links(item) -> app.items(ID)",
            "app.links(item_id, slug) -> app.items(id)",
            "app.links(slug) -> app.items(id)",
            "app.links(item_id) -> app.items(id) when kind = 'x'",
            "app.links(slug) -> app.items(generated)",
            "items(id) -> app.links(id)",
        ]
        .iter()
        .map(|t| parse(t).unwrap())
        .collect();
        let (keys, problems) = resolve(&demo_catalog(), &specs);
        assert!(keys.is_empty());
        let expected = [
            "no table app.link (did you mean app.links?)",
            "app.links has no column item",
            "app.items has no column ID (did you mean id?)",
            "2 column(s) on the left but 1 on the right",
            "app.links.slug is text but app.items.id is bigint; the types must match",
            "app.links has no column kind",
            "app.items.generated is a generated column",
            "no table public.items (did you mean app.items?)",
        ];
        for text in expected {
            assert!(
                problems.iter().any(|p| p.to_string().contains(text)),
                "{text} not in {problems:#?}"
            );
        }
    }

    #[test]
    fn integer_widths_and_text_types_are_comparable() {
        assert!(comparable_types("integer", "bigint"));
        assert!(comparable_types("character varying", "text"));
        assert!(comparable_types("uuid", "uuid"));
        assert!(!comparable_types("text", "bigint"));
        assert!(!comparable_types("uuid", "text"));
    }
}
