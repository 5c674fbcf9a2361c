//! Whether a foreign key's equal values print as one text.
//!
//! The selection keeps key values as the text the server prints (see [`crate::selection`]),
//! and matches a parent row it found to the child values that asked for it by that text when
//! it can: equal values then print alike. They do not always: a foreign key compares with the
//! referenced column's equality, and a `numeric(6,2)` child's `1.50` is the `numeric` parent's
//! `1.5`, a `varchar` `ab` the `character(3)` parent `ab ` (printed with its blanks), a
//! `citext` `ABC` the parent `abc`, as is a `text` `ABC` under a case-insensitive
//! (nondeterministic) collation. For such a key the lookup returns, with each parent row, the
//! asked values it matched, in the server's own comparison.
//!
//! [`prints_one_way`] says which pairs of columns need no such help: both of one type (or
//! both of the integer types, or both strings) among types whose values have one printed form
//! each (an enum's label, a `time` or `timetz`, whose equality needs the same zone too, a
//! `numeric(p)`, printed by the catalog as `numeric(p,0)`), and a string compared under a
//! collation that compares bytes. Anything it does not
//! know (domains, extension types, floats, intervals, a collation outside `pg_catalog`, which
//! may be nondeterministic) takes the matched-values lookup, which is always right.

use crate::catalog::Column;

/// Types whose equal values print alike, whatever spelling they were written in (under the
/// export's pinned session settings), when child and parent have the same type and modifier.
/// `numeric(p,s)` and `character(n)` print every value at their fixed scale and length, so
/// they qualify only with a modifier, and only when both columns have the same.
const ONE_FORM: &[&str] = &[
    "boolean", "uuid", "date", "bytea", "\"char\"", "name", "oid", "money", "inet", "cidr",
    "macaddr", "macaddr8",
];

/// The integer types: each prints a value as its plain decimal, so any two of them compare
/// as text.
const INTEGERS: &[&str] = &["smallint", "integer", "bigint"];

/// Whether `type_name` (as `format_type` prints it) is `time` or `timetz`, with or without a
/// precision. Equal `time` values are the same microsecond; equal `timetz` values the same
/// time in the same zone (`12:00+01` is not `11:00+00`): each prints one way.
fn is_time_of_day(type_name: &str) -> bool {
    let rest = match type_name.strip_prefix("time(") {
        Some(precision) => match precision.split_once(')') {
            Some((digits, rest)) if digits.chars().all(|c| c.is_ascii_digit()) => rest,
            _ => return false,
        },
        None => match type_name.strip_prefix("time") {
            Some(rest) => rest,
            None => return false,
        },
    };
    rest == " without time zone" || rest == " with time zone"
}

/// Whether `type_name` (as `format_type` prints it) is a string type that compares by bytes
/// under a deterministic collation: `text`, `character varying` with or without a length.
fn is_plain_string(type_name: &str) -> bool {
    type_name == "text" || type_name.starts_with("character varying")
}

/// Whether a collation (qualified and quoted, as the catalog keeps it) compares by bytes.
/// Every collation PostgreSQL ships in `pg_catalog` is deterministic; one created elsewhere
/// may not be, and is taken as case-insensitive.
fn is_deterministic(collation: Option<&str>) -> bool {
    collation.is_none_or(|c| c.starts_with("pg_catalog."))
}

/// Whether a child column's values, referencing a parent column's, print exactly as the parent
/// values they equal under the key's comparison (the parent type's equality, under the parent
/// column's collation).
pub fn prints_one_way(child: &Column, parent: &Column) -> bool {
    let (c, p) = (&*child.type_name, &*parent.type_name);
    if INTEGERS.contains(&c) && INTEGERS.contains(&p) {
        return true;
    }
    if is_plain_string(c) && is_plain_string(p) {
        return is_deterministic(parent.collation.as_deref());
    }
    if c != p {
        return false;
    }
    ONE_FORM.contains(&c)
        || (child.is_enum && parent.is_enum)
        || c.starts_with("timestamp")
        || is_time_of_day(c)
        || (c.starts_with("numeric(") && c.contains(','))
        || (c.starts_with("character(") && is_deterministic(parent.collation.as_deref()))
}

/// The type a child column's values are cast to before the key's equality compares them with
/// the parent column's, as the server's own check does (the referenced type's equality, the
/// child's value coerced to that type when its family has no operator for the pair): a `text`
/// `ab ` is the `character(3)` `ab ` under `bpchar` equality, though not as text, which is what
/// `bpchar = text` would pick. A domain is compared as its base type (the operator's input),
/// never cast to: a cast to the domain runs its CHECK and NOT NULL, which the server's check
/// never does, so an orphan would fail the query instead of being one. `None` when the columns
/// compare as one type, when both are integers (whose family compares across widths: a cast
/// could overflow), or when the parent is a `name` (a cast to `name` truncates to 63 bytes, so
/// a long orphan could equal a parent: `name = text` compares them whole).
pub fn child_cast<'p>(child: &Column, parent: &'p Column) -> Option<&'p str> {
    let (c, p) = (child.compared_type(), parent.compared_type());
    let both_integers = INTEGERS.contains(&c) && INTEGERS.contains(&p);
    (c != p && !both_integers && p != "name").then_some(p)
}

/// The type values of a key (as text) are cast to, to look up the parent rows holding them:
/// the parent column's base type ([`Column::compared_type`]: never a domain, whose CHECK an
/// orphan could fail), but `text` for `name` (a cast to `name` truncates to 63 bytes, so a
/// longer value would find a row it does not equal; `name = text` compares them whole).
pub fn lookup_type(parent: &Column) -> &str {
    match parent.compared_type() {
        "name" => "pg_catalog.text",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(type_name: &str, collation: Option<&str>) -> Column {
        Column {
            name: "k".into(),
            type_name: type_name.into(),
            base_type: type_name.into(),
            domain_base: None,
            not_null: false,
            generated: false,
            identity: None,
            has_default: false,
            collation: collation.map(Into::into),
            is_enum: false,
        }
    }

    fn one_way(child: &str, parent: &str) -> bool {
        let collation =
            |t: &str| (t.contains("char") || t == "text").then_some("pg_catalog.\"default\"");
        prints_one_way(
            &column(child, collation(child)),
            &column(parent, collation(parent)),
        )
    }

    #[test]
    fn integers_and_plain_strings_print_one_way_across_their_types() {
        for (child, parent) in [
            ("integer", "integer"),
            ("integer", "bigint"),
            ("smallint", "bigint"),
            ("bigint", "integer"),
            ("text", "text"),
            ("character varying(5)", "text"),
            ("text", "character varying"),
            ("uuid", "uuid"),
            ("numeric(6,2)", "numeric(6,2)"),
            // `numeric(6)`, as the catalog prints it.
            ("numeric(6,0)", "numeric(6,0)"),
            ("character(3)", "character(3)"),
            ("time without time zone", "time without time zone"),
            ("time(2) without time zone", "time(2) without time zone"),
            ("time with time zone", "time with time zone"),
            ("time(3) with time zone", "time(3) with time zone"),
            (
                "timestamp(3) without time zone",
                "timestamp(3) without time zone",
            ),
        ] {
            assert!(one_way(child, parent), "{child} -> {parent}");
        }
    }

    #[test]
    fn types_that_print_one_value_two_ways_do_not() {
        for (child, parent) in [
            // 1.50 and 1.5.
            ("numeric(6,2)", "numeric"),
            ("numeric", "numeric"),
            ("integer", "numeric"),
            ("numeric(6,2)", "numeric(8,3)"),
            // `ab` and `ab `.
            ("character varying(3)", "character(3)"),
            ("character(3)", "character(5)"),
            // ABC and abc.
            ("citext", "citext"),
            ("public.citext", "public.citext"),
            // -0 and 0; '1 day' and '24 hours'.
            ("double precision", "double precision"),
            ("interval", "interval"),
            // A domain may be over any of these.
            ("code", "code"),
            ("integer[]", "integer[]"),
            // Times of two precisions, and a time to a timetz.
            ("time(2) without time zone", "time without time zone"),
            ("time without time zone", "time with time zone"),
            ("timeline", "timeline"),
            ("time(x) with time zone", "time(x) with time zone"),
        ] {
            assert!(!one_way(child, parent), "{child} -> {parent}");
        }
    }

    #[test]
    fn an_enum_prints_each_value_as_its_label() {
        let mood = |is_enum| Column {
            is_enum,
            ..column("app.mood", None)
        };
        assert!(prints_one_way(&mood(true), &mood(true)));
        // A type of that name that is not an enum (a domain) may print a value two ways.
        assert!(!prints_one_way(&mood(false), &mood(false)));
        let other = Column {
            is_enum: true,
            ..column("app.colour", None)
        };
        assert!(!prints_one_way(&mood(true), &other));
    }

    #[test]
    fn a_child_is_cast_to_the_parent_s_type_unless_it_is_the_same_or_both_are_integers() {
        let cast = |child: &str, parent: &str| {
            child_cast(&column(child, None), &column(parent, None)).map(str::to_string)
        };
        assert_eq!(cast("text", "bpchar").as_deref(), Some("bpchar"));
        assert_eq!(
            cast("character varying", "bpchar").as_deref(),
            Some("bpchar")
        );
        assert_eq!(cast("bpchar", "text").as_deref(), Some("text"));
        assert_eq!(cast("bpchar", "bpchar"), None);
        assert_eq!(cast("public.citext", "public.citext"), None);
        assert_eq!(cast("bigint", "integer"), None);
        assert_eq!(cast("integer", "bigint"), None);
    }

    #[test]
    fn a_domain_is_compared_as_its_base_type_and_never_cast_to() {
        let domain = |name: &str, base: &str| Column {
            domain_base: Some(base.into()),
            ..column(name, None)
        };
        let cast = |child: &Column, parent: &Column| child_cast(child, parent).map(str::to_string);
        // A domain over text referenced by text: compared as text, no cast to the domain.
        assert_eq!(
            cast(&column("text", None), &domain("public.code", "text")),
            None
        );
        assert_eq!(
            cast(&domain("public.code", "text"), &column("text", None)),
            None
        );
        // Over another type, the cast is to the base type, not to the domain.
        assert_eq!(
            cast(&column("text", None), &domain("public.code", "bpchar")).as_deref(),
            Some("bpchar")
        );
        assert_eq!(
            cast(
                &domain("public.qty", "integer"),
                &domain("public.big", "bigint")
            ),
            None
        );
    }

    #[test]
    fn parents_are_looked_up_by_their_base_type_and_names_as_text() {
        let code = Column {
            domain_base: Some("text".into()),
            ..column("public.code", None)
        };
        assert_eq!(lookup_type(&code), "text");
        assert_eq!(lookup_type(&column("name", None)), "pg_catalog.text");
        assert_eq!(lookup_type(&column("bpchar", None)), "bpchar");
    }

    #[test]
    fn nothing_is_cast_to_name_which_truncates() {
        let cast = |child: &str, parent: &str| {
            child_cast(&column(child, None), &column(parent, None)).map(str::to_string)
        };
        assert_eq!(cast("text", "name"), None);
        assert_eq!(cast("character varying", "name"), None);
        assert_eq!(cast("name", "text").as_deref(), Some("text"));
    }

    #[test]
    fn a_collation_outside_pg_catalog_may_ignore_case() {
        let text = |collation| column("text", collation);
        let c = Some("pg_catalog.\"C\"");
        let icu = Some("pg_catalog.\"und-x-icu\"");
        let custom = Some("public.case_insensitive");
        assert!(prints_one_way(&text(c), &text(icu)));
        // The parent's collation is the key's.
        assert!(prints_one_way(&text(custom), &text(c)));
        assert!(!prints_one_way(&text(c), &text(custom)));
        assert!(!prints_one_way(
            &column("character(2)", custom),
            &column("character(2)", custom)
        ));
    }
}
