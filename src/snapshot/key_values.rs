//! Key values compared as PostgreSQL compares them, offline.
//!
//! `verify`, `seal` and an overlay's merge check, from the files alone, that keys are unique
//! and that every foreign-key value has its parent row. Exported values are spelled the one
//! way PostgreSQL prints them, but hand-edited ones need not be: `1.50` is the `numeric` 1.5,
//! `03` the `integer` 3, an upper-case UUID its lower-case self. So each key value is brought
//! to a canonical form of its column's type (the manifest records it, as `format_type` prints
//! it) before it is compared, following PostgreSQL's input functions:
//!
//! - `smallint`, `integer`, `bigint`: leading and trailing white space, a `+` or `-` sign,
//!   leading zeros; the type's range;
//! - `numeric`, `numeric(p,s)`: white space, sign, leading and trailing zeros, a decimal point
//!   anywhere, an exponent (`1.5e1`, `15E-1`), `-0`, `NaN` and infinities in any case; a
//!   modifier's rounding (half away from zero) and overflow; an integral value's form is the
//!   integer's, so an `integer` key finds its `numeric` parent;
//! - `uuid`: upper or lower case, braces, hyphens after any group of four digits or none;
//! - `boolean`: `t`/`f`, `1`/`0`, `on`/`off` and any prefix of `true`, `false`, `yes`, `no`,
//!   in any case, with white space around;
//! - `character(n)`: trailing spaces do not count; `character varying(n)`: spaces beyond `n`
//!   characters are cut off; either refuses a longer value;
//! - `citext` (the extension's type, in any schema): in lower case, each character as its
//!   one-character lower case (as `lower()` under a UTF-8 locale: a database whose `LC_CTYPE`
//!   is `C` folds only ASCII letters, so there two values that differ in the case of another
//!   letter pass here and the import's key check refuses them);
//! - `text` and every other type (dates and times, whose spelling depends on settings; floats;
//!   domains, even over the types above; arrays; other extension types): the exact value. A
//!   column of a case-insensitive (nondeterministic) collation is compared exactly too (the
//!   manifest does not record collations).
//!
//! A value the type's input function would refuse (`abc` as an `integer`) is an error, which
//! the snapshot check reports with file, line and column. The rules are PostgreSQL 15's:
//! PostgreSQL 16 also reads `0x1A`, `0o17`, `0b101` and `1_000` as integers, which are refused
//! here.

use std::borrow::Cow;
use std::io::Write;

use super::copy_text;
use super::manifest::Manifest;

/// How the values of a column compare (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Integer {
        name: &'static str,
        min: i64,
        max: i64,
    },
    /// With the modifier's precision and scale, if any.
    Numeric(Option<(u32, i32)>),
    Uuid,
    Boolean,
    /// `character(n)` (`bpchar` without a length).
    Character(Option<usize>),
    /// `character varying(n)`.
    Varying(Option<usize>),
    /// `citext`: compared in lower case.
    CaseInsensitive,
    /// `text` and every type not brought to a canonical form offline.
    Exact,
}

/// PostgreSQL's `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

fn quoted(value: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(value))
}

/// Whether a COPY text field may be used as its value's bytes: no escape, and none of the
/// control characters that COPY writes escaped.
fn plain(field: &[u8]) -> bool {
    !field
        .iter()
        .any(|&b| matches!(b, b'\\' | 0x08 | 0x0b | 0x0c))
}

impl KeyType {
    /// The type of a column from its name as `format_type` prints it.
    pub fn of(type_name: &str) -> KeyType {
        let integer = |name, min, max| KeyType::Integer { name, min, max };
        let length = |rest: &str| -> Option<Option<usize>> {
            match rest {
                "" => Some(None),
                _ => rest
                    .strip_prefix('(')?
                    .strip_suffix(')')?
                    .parse()
                    .ok()
                    .map(Some),
            }
        };
        match type_name {
            "smallint" => integer("smallint", i16::MIN.into(), i16::MAX.into()),
            "integer" => integer("integer", i32::MIN.into(), i32::MAX.into()),
            "bigint" => integer("bigint", i64::MIN, i64::MAX),
            "numeric" => KeyType::Numeric(None),
            "uuid" => KeyType::Uuid,
            "boolean" => KeyType::Boolean,
            "text" => KeyType::Exact,
            "bpchar" => KeyType::Character(None),
            _ if type_name == "citext" || type_name.ends_with(".citext") => {
                KeyType::CaseInsensitive
            }
            _ => {
                if let Some(rest) = type_name.strip_prefix("numeric(") {
                    let modifier = rest.strip_suffix(')').and_then(|m| {
                        let (p, s) = m.split_once(',')?;
                        Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
                    });
                    if let Some(modifier) = modifier {
                        return KeyType::Numeric(Some(modifier));
                    }
                } else if let Some(rest) = type_name.strip_prefix("character varying") {
                    if let Some(n) = length(rest) {
                        return KeyType::Varying(n);
                    }
                } else if let Some(rest) = type_name.strip_prefix("character") {
                    if let Some(n) = length(rest) {
                        return KeyType::Character(Some(n.unwrap_or(1)));
                    }
                }
                KeyType::Exact
            }
        }
    }

    /// Appends the canonical form of a non-NULL COPY text field to `out`: COPY text itself
    /// (no raw tab, so tuples can be joined by tabs), equal for two fields exactly when
    /// PostgreSQL finds their values equal. `Err`: why PostgreSQL would refuse the value.
    /// On `Err`, `out` is left as it was.
    pub fn canonical(self, field: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        let result = self.append_canonical(field, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn append_canonical(self, field: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if self == KeyType::Exact && plain(field) {
            out.extend_from_slice(field);
            return Ok(());
        }
        let value: Cow<[u8]> = if plain(field) {
            Cow::Borrowed(field)
        } else {
            match copy_text::decode_field(field) {
                Ok(Some(decoded)) => Cow::Owned(decoded),
                Ok(None) => return Err("\\N is NULL, not a value".into()),
                Err(e) => return Err(format!("cannot be decoded: {e:?}")),
            }
        };
        match self {
            KeyType::Integer { name, min, max } => {
                let n = integer(&value, name, min, max)?;
                if canonical_decimal(&value) {
                    out.extend_from_slice(&value);
                } else {
                    write!(out, "{n}").expect("writing to a vector");
                }
            }
            KeyType::Numeric(modifier) => {
                if !plain_numeric(&value, modifier, out) {
                    numeric(&value, modifier, out)?;
                }
            }
            KeyType::Uuid => uuid(&value, out)?,
            KeyType::Boolean => out.push(if boolean(&value)? { b't' } else { b'f' }),
            KeyType::Character(n) => {
                let text = fit_length(&value, n, "character")?;
                push_encoded(
                    text.trim_end_matches(' '),
                    matches!(value, Cow::Owned(_)),
                    out,
                );
            }
            KeyType::Varying(n) => {
                let text = fit_length(&value, n, "character varying")?;
                push_encoded(text, matches!(value, Cow::Owned(_)), out);
            }
            KeyType::CaseInsensitive => {
                let text = std::str::from_utf8(&value).map_err(|_| "is not valid UTF-8")?;
                push_encoded(&lower_case(text), matches!(value, Cow::Owned(_)), out);
            }
            KeyType::Exact => {
                let text = std::str::from_utf8(&value).map_err(|_| "is not valid UTF-8")?;
                push_encoded(text, matches!(value, Cow::Owned(_)), out);
            }
        }
        Ok(())
    }
}

/// `text` with each character replaced by its lower case when that is one character, as
/// PostgreSQL's `lower()` maps character by character (`İ`, whose full lower case is two
/// characters, stays as it is).
fn lower_case(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_uppercase) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(l), None) => l,
                    _ => c,
                }
            })
            .collect(),
    )
}

/// Appends `text` as a COPY text field: as it is when it was not `decoded` from its field (a
/// field that needs no decoding holds nothing COPY escapes).
fn push_encoded(text: &str, decoded: bool, out: &mut Vec<u8>) {
    match decoded {
        false => out.extend_from_slice(text.as_bytes()),
        true => out.extend_from_slice(copy_text::encode_field(text).as_bytes()),
    }
}

/// Whether a value is an integer spelled canonically: `0`, or digits without a leading zero
/// after an optional `-` (but not `-0`).
fn canonical_decimal(value: &[u8]) -> bool {
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    match digits {
        [b'0'] => digits.len() == value.len(),
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// The common case of [`numeric`] without its allocations: a plain decimal (`-?digits`,
/// `.digits` optional) short enough that no limit applies, needing no rounding. Appends its
/// canonical form and returns `true`, or returns `false` (and appends nothing) for anything
/// else.
fn plain_numeric(value: &[u8], modifier: Option<(u32, i32)>, out: &mut Vec<u8>) -> bool {
    let (negative, unsigned) = match value.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (whole, fraction) = match unsigned.iter().position(|&b| b == b'.') {
        Some(point) => (&unsigned[..point], &unsigned[point + 1..]),
        None => (unsigned, &b""[..]),
    };
    if whole.is_empty()
        || value.len() > 100
        || !whole.iter().chain(fraction).all(u8::is_ascii_digit)
    {
        return false;
    }
    let whole = &whole[whole.iter().take_while(|&&d| d == b'0').count()..];
    let fraction =
        &fraction[..fraction.len() - fraction.iter().rev().take_while(|&&d| d == b'0').count()];
    if let Some((precision, scale)) = modifier {
        if scale < 0
            || fraction.len() > scale as usize
            || whole.len() as i64 > i64::from(precision) - i64::from(scale)
        {
            return false;
        }
    }
    if whole.is_empty() && fraction.is_empty() {
        out.push(b'0');
        return true;
    }
    if negative {
        out.push(b'-');
    }
    match whole {
        [] => out.push(b'0'),
        _ => out.extend_from_slice(whole),
    }
    if !fraction.is_empty() {
        out.push(b'.');
        out.extend_from_slice(fraction);
    }
    true
}

/// The value cut to `n` characters when what is beyond is spaces; `Err` when it is not.
fn fit_length<'a>(value: &'a [u8], n: Option<usize>, type_name: &str) -> Result<&'a str, String> {
    let text = std::str::from_utf8(value).map_err(|_| "is not valid UTF-8".to_string())?;
    let Some(n) = n else {
        return Ok(text);
    };
    match text.char_indices().nth(n) {
        None => Ok(text),
        Some((end, _)) if text[end..].bytes().all(|b| b == b' ') => Ok(&text[..end]),
        Some(_) => Err(format!("value too long for type {type_name}({n})")),
    }
}

/// An integer as `int2in`/`int4in`/`int8in` read it.
fn integer(value: &[u8], name: &str, min: i64, max: i64) -> Result<i64, String> {
    let invalid = || format!("invalid input syntax for type {name}: {}", quoted(value));
    let text = trim_spaces(value);
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut n: i128 = 0;
    for &d in digits {
        n = n * 10 + i128::from(d - b'0');
        if n > i128::from(u64::MAX) {
            break;
        }
    }
    let n = if negative { -n } else { n };
    if n < i128::from(min) || n > i128::from(max) {
        return Err(format!(
            "value {} is out of range for type {name}",
            quoted(value)
        ));
    }
    Ok(n as i64)
}

/// The largest display scale and number of integer digits a `numeric` holds.
const NUMERIC_DSCALE_MAX: i64 = 16383;
const NUMERIC_INTEGER_DIGITS_MAX: i64 = 131072;

/// A `numeric` as `numeric_in` reads it, rounded to the modifier's scale.
fn numeric(value: &[u8], modifier: Option<(u32, i32)>, out: &mut Vec<u8>) -> Result<(), String> {
    let invalid = || format!("invalid input syntax for type numeric: {}", quoted(value));
    let overflows = || "value overflows numeric format".to_string();
    let start = value
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(value.len());
    let text = &value[start..];
    let only_spaces = |rest: &[u8]| rest.iter().all(|&b| is_space(b));
    // The special values, in numeric_in's order.
    for (word, canonical) in [
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("+Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
        ("inf", "Infinity"),
        ("+inf", "Infinity"),
        ("-inf", "-Infinity"),
    ] {
        if text.len() >= word.len() && text[..word.len()].eq_ignore_ascii_case(word.as_bytes()) {
            if !only_spaces(&text[word.len()..]) {
                return Err(invalid());
            }
            if let (Some((p, s)), true) = (modifier, canonical != "NaN") {
                return Err(format!(
                    "numeric field overflow: a field with precision {p}, scale {s} cannot hold \
                     an infinite value"
                ));
            }
            out.extend_from_slice(canonical.as_bytes());
            return Ok(());
        }
    }
    let mut i = 0;
    let negative = sign(text, &mut i);
    let mut digits: Vec<u8> = Vec::new();
    let (mut have_point, mut fraction_digits) = (false, 0i64);
    if text.get(i) == Some(&b'.') {
        have_point = true;
        i += 1;
    }
    if !text.get(i).is_some_and(u8::is_ascii_digit) {
        return Err(invalid());
    }
    while let Some(&b) = text.get(i) {
        if b.is_ascii_digit() {
            digits.push(b);
            fraction_digits += i64::from(have_point);
        } else if b == b'.' && !have_point {
            have_point = true;
        } else if b == b'.' {
            return Err(invalid());
        } else {
            break;
        }
        i += 1;
    }
    let mut exponent = 0i64;
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        // strtol: white space, a sign, digits.
        while text.get(i).is_some_and(|&b| is_space(b)) {
            i += 1;
        }
        let negative_exponent = sign(text, &mut i);
        let first = i;
        while let Some(&b) = text.get(i).filter(|b| b.is_ascii_digit()) {
            exponent = (exponent * 10 + i64::from(b - b'0')).min(i64::from(i32::MAX));
            i += 1;
        }
        if i == first {
            return Err(invalid());
        }
        if exponent >= i64::from(i32::MAX / 2) {
            return Err(overflows());
        }
        if negative_exponent {
            exponent = -exponent;
        }
    }
    if !only_spaces(&text[i..]) {
        return Err(invalid());
    }
    // The value is digits × 10^power.
    let mut power = exponent - fraction_digits;
    let lead = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..lead);
    match modifier {
        Some((precision, scale)) => {
            round(&mut digits, &mut power, -i64::from(scale));
            let integer_digits = digits.len() as i64 + power;
            let room = i64::from(precision) - i64::from(scale);
            if !digits.is_empty() && integer_digits > room {
                return Err(format!(
                    "numeric field overflow: a field with precision {precision}, scale {scale} \
                     must round to an absolute value less than 10^{room}"
                ));
            }
        }
        None => {
            if (-power).max(0).max(fraction_digits - exponent) > NUMERIC_DSCALE_MAX
                || (!digits.is_empty() && digits.len() as i64 + power > NUMERIC_INTEGER_DIGITS_MAX)
            {
                return Err(overflows());
            }
        }
    }
    let trail = digits.iter().rev().take_while(|&&d| d == b'0').count();
    digits.truncate(digits.len() - trail);
    power += trail as i64;
    if digits.is_empty() {
        out.push(b'0');
        return Ok(());
    }
    if negative {
        out.push(b'-');
    }
    let integer_digits = digits.len() as i64 + power;
    if power >= 0 {
        out.extend_from_slice(&digits);
        out.resize(out.len() + power as usize, b'0');
    } else if integer_digits > 0 {
        let (whole, fraction) = digits.split_at(integer_digits as usize);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (-integer_digits) as usize, b'0');
        out.extend_from_slice(&digits);
    }
    Ok(())
}

/// Whether `text` has a minus sign at `i`; moves `i` past a sign, if there is one.
fn sign(text: &[u8], i: &mut usize) -> bool {
    match text.get(*i) {
        Some(b'-' | b'+') => {
            *i += 1;
            text[*i - 1] == b'-'
        }
        _ => false,
    }
}

/// Rounds `digits × 10^power` (no leading zero) to a multiple of `10^last`, half away from
/// zero, as `round_var` does.
fn round(digits: &mut Vec<u8>, power: &mut i64, last: i64) {
    if *power >= last {
        return;
    }
    let dropped = (last - *power) as usize;
    let keep = digits.len().saturating_sub(dropped);
    let up = dropped <= digits.len() && digits[keep] >= b'5';
    digits.truncate(keep);
    *power = last;
    if up {
        let mut at = digits.len();
        loop {
            if at == 0 {
                digits.insert(0, b'1');
                break;
            }
            at -= 1;
            if digits[at] == b'9' {
                digits[at] = b'0';
            } else {
                digits[at] += 1;
                break;
            }
        }
    }
    let lead = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..lead);
}

/// A `uuid` as `uuid_in` reads it, written as PostgreSQL prints it (`out` holds a partial
/// form on `Err`).
fn uuid(value: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let printed = value.len() == 36
        && value.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    if printed {
        out.extend_from_slice(value);
        return Ok(());
    }
    let invalid = || format!("invalid input syntax for type uuid: {}", quoted(value));
    let mut rest = value;
    let braces = rest.first() == Some(&b'{');
    if braces {
        rest = &rest[1..];
    }
    for i in 0..16 {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        match rest {
            [a, b, tail @ ..] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
                out.push(a.to_ascii_lowercase());
                out.push(b.to_ascii_lowercase());
                rest = tail;
            }
            _ => return Err(invalid()),
        }
        if rest.first() == Some(&b'-') && i % 2 == 1 && i < 15 {
            rest = &rest[1..];
        }
    }
    if braces {
        rest = rest.strip_prefix(b"}").ok_or_else(invalid)?;
    }
    if !rest.is_empty() {
        return Err(invalid());
    }
    Ok(())
}

/// A `boolean` as `boolin` reads it.
fn boolean(value: &[u8]) -> Result<bool, String> {
    let text = trim_spaces(value).to_ascii_lowercase();
    let prefix_of = |word: &str| !text.is_empty() && word.as_bytes().starts_with(&text);
    match text.first() {
        Some(b't') if prefix_of("true") => Ok(true),
        Some(b'y') if prefix_of("yes") => Ok(true),
        Some(b'f') if prefix_of("false") => Ok(false),
        Some(b'n') if prefix_of("no") => Ok(false),
        Some(b'o') if text == b"on" => Ok(true),
        Some(b'o') if text == b"of" || text == b"off" => Ok(false),
        Some(b'1') if text.len() == 1 => Ok(true),
        Some(b'0') if text.len() == 1 => Ok(false),
        _ => Err(format!(
            "invalid input syntax for type boolean: {}",
            quoted(value)
        )),
    }
}

/// The columns of each table (the manifest's order) whose values an offline check compares:
/// its row key, its foreign keys and their conditions, and the columns other tables' foreign
/// keys reference. Sorted, each once.
pub fn compared_columns(manifest: &Manifest) -> Vec<Vec<usize>> {
    let mut compared: Vec<Vec<usize>> = vec![Vec::new(); manifest.tables.len()];
    let index = |t: usize, name: &str| manifest.tables[t].column_index(name);
    for (t, table) in manifest.tables.iter().enumerate() {
        let own = table.key.columns().unwrap_or_default().iter().chain(
            table
                .foreign_keys
                .iter()
                .flat_map(|fk| fk.columns.iter().chain(fk.when.iter().map(|c| &c.column))),
        );
        compared[t].extend(own.filter_map(|c| index(t, c)));
        for fk in &table.foreign_keys {
            if let Some(p) = manifest
                .tables
                .iter()
                .position(|p| p.qualified_name() == fk.references)
            {
                let referenced: Vec<usize> = fk
                    .referenced_columns
                    .iter()
                    .filter_map(|c| index(p, c))
                    .collect();
                compared[p].extend(referenced);
            }
        }
    }
    for columns in &mut compared {
        columns.sort_unstable();
        columns.dedup();
    }
    compared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(type_name: &str, field: &str) -> Result<String, String> {
        let mut out = Vec::new();
        KeyType::of(type_name).canonical(field.as_bytes(), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn same(type_name: &str, fields: &[&str], expected: &str) {
        for field in fields {
            assert_eq!(
                canonical(type_name, field).as_deref(),
                Ok(expected),
                "{type_name} {field:?}"
            );
        }
    }

    fn refused(type_name: &str, fields: &[&str], message: &str) {
        for field in fields {
            let error = canonical(type_name, field).unwrap_err();
            assert!(error.contains(message), "{type_name} {field:?}: {error}");
        }
    }

    #[test]
    fn type_names_as_format_type_prints_them() {
        assert_eq!(
            KeyType::of("numeric(10,2)"),
            KeyType::Numeric(Some((10, 2)))
        );
        assert_eq!(
            KeyType::of("numeric(3,-2)"),
            KeyType::Numeric(Some((3, -2)))
        );
        assert_eq!(
            KeyType::of("character varying(20)"),
            KeyType::Varying(Some(20))
        );
        assert_eq!(KeyType::of("character varying"), KeyType::Varying(None));
        assert_eq!(KeyType::of("character(3)"), KeyType::Character(Some(3)));
        assert_eq!(KeyType::of("bpchar"), KeyType::Character(None));
        for exact in [
            "text",
            "integer[]",
            "public.positive_int",
            "timestamp with time zone",
            "double precision",
            "citext[]",
            "numeric(x)",
        ] {
            assert_eq!(KeyType::of(exact), KeyType::Exact, "{exact}");
        }
    }

    #[test]
    fn integers_as_int4in_reads_them() {
        same("integer", &["3", "03", "+3", " 3 ", "\t003\n", "\\t3"], "3");
        same("integer", &["-0", "+0", "000"], "0");
        same("smallint", &["-32768"], "-32768");
        same("bigint", &["-9223372036854775808"], "-9223372036854775808");
        refused(
            "integer",
            &[
                "abc", "", " ", "3.", "1e3", "- 3", "--3", "0x1A", "1_000", "3 4",
            ],
            "invalid input syntax for type integer",
        );
        refused(
            "integer",
            &[
                "2147483648",
                "003000000000",
                "99999999999999999999999999999",
            ],
            "out of range for type integer",
        );
        refused("smallint", &["32768"], "out of range for type smallint");
        refused(
            "bigint",
            &["9223372036854775808"],
            "out of range for type bigint",
        );
    }

    #[test]
    fn numerics_as_numeric_in_reads_them() {
        same(
            "numeric",
            &[
                "1.5", "1.50", "01.5", "1.5e0", "15e-1", "0.15E+1", " 1.5 ", "+1.5",
            ],
            "1.5",
        );
        same("numeric", &["15", "1.5e1", "15.000", "150e-1", "15."], "15");
        same("numeric", &["0", "-0", "-0.00", "0e5000", ".0", "+0"], "0");
        same("numeric", &["-.5", "-0.50", " -5e-1 "], "-0.5");
        same("numeric", &["1e -5", "0.00001"], "0.00001");
        same("numeric", &["NaN", "nan", " NaN "], "NaN");
        same(
            "numeric",
            &["inf", "Infinity", "+INF", "+infinity"],
            "Infinity",
        );
        same("numeric", &["-inf", "-Infinity"], "-Infinity");
        same("numeric", &["1e3"], "1000");
        refused(
            "numeric",
            &[
                "abc", "", ".", "1e", "1e+", "1.2.3", "1e5.5", "-NaN", "1_000", "0x1A", "1e+-5",
            ],
            "invalid input syntax for type numeric",
        );
        refused(
            "numeric",
            &[
                "1e131072",
                "1e-16384",
                "0e-16384",
                "0.0e-16383",
                "1e1073741823",
            ],
            "value overflows numeric format",
        );
        assert_eq!(canonical("numeric", "1e131071").unwrap().len(), 131072);
        assert!(canonical("numeric", "1e-16383").is_ok());
    }

    #[test]
    fn a_numeric_modifier_rounds_half_away_from_zero_and_bounds_the_value() {
        same("numeric(5,2)", &["1.005", "1.01", "1.0149"], "1.01");
        same("numeric(5,2)", &["-1.005"], "-1.01");
        same("numeric(5,2)", &["1.004", "1"], "1");
        same("numeric(5,2)", &["0.004", "-0.004"], "0");
        same(
            "numeric(5,2)",
            &["999.994", "00000000000000999.99"],
            "999.99",
        );
        same("numeric(5,2)", &["NaN"], "NaN");
        same("numeric(3,5)", &["0.00999"], "0.00999");
        same("numeric(3,-2)", &["12345", "12250"], "12300");
        same("numeric(3,-2)", &["99949"], "99900");
        same("numeric(2,0)", &["9.5", "10"], "10");
        refused(
            "numeric(5,2)",
            &["999.995", "1000", "inf"],
            "numeric field overflow",
        );
        refused(
            "numeric(3,5)",
            &["0.009995", "0.01"],
            "numeric field overflow",
        );
        refused("numeric(3,-2)", &["99950"], "numeric field overflow");
    }

    #[test]
    fn the_fast_path_of_plain_decimals_agrees_with_the_full_reading() {
        let modifiers = [
            None,
            Some((5, 2)),
            Some((3, 0)),
            Some((3, -2)),
            Some((3, 5)),
        ];
        let mut handled = 0;
        for value in [
            "0", "-0", "00", "1", "-1", "007", "1.5", "1.50", "-1.50", "0.5", ".5", "5.", "120",
            "120.000", "999.99", "999.995", "1000", "0.00999", "0.001", "12345", "-", "1.2.3",
            "1e3", " 1", "abc",
        ] {
            for modifier in modifiers {
                let mut fast = Vec::new();
                if !plain_numeric(value.as_bytes(), modifier, &mut fast) {
                    assert!(fast.is_empty(), "{value} {modifier:?}");
                    continue;
                }
                handled += 1;
                let mut full = Vec::new();
                numeric(value.as_bytes(), modifier, &mut full).unwrap();
                assert_eq!(fast, full, "{value} {modifier:?}");
            }
        }
        assert!(handled > 30, "{handled}");
        for (value, canonical) in [("3", true), ("-3", true), ("0", true), ("-0", false)] {
            assert_eq!(canonical_decimal(value.as_bytes()), canonical, "{value}");
        }
        assert!(!canonical_decimal(b"03") && !canonical_decimal(b"+3") && !canonical_decimal(b""));
    }

    #[test]
    fn an_integral_numeric_is_spelled_as_the_integer() {
        assert_eq!(canonical("numeric", "3.000"), canonical("integer", "03"));
        assert_eq!(canonical("numeric", "-4e0"), canonical("bigint", "-4"));
    }

    #[test]
    fn uuids_as_uuid_in_reads_them() {
        same(
            "uuid",
            &[
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
                "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
                "a0eebc999c0b4ef8bb6d6bb9bd380a11",
                "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
                "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
                "a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11",
            ],
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        );
        refused(
            "uuid",
            &[
                " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ",
                "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
                "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
                "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
                "a0eebc99",
            ],
            "invalid input syntax for type uuid",
        );
    }

    #[test]
    fn booleans_as_boolin_reads_them() {
        same(
            "boolean",
            &[
                "t", "T", "true", "TRUE", "tr", "y", "yes", "YE", "on", "ON", "1", " t ", "\\tyes",
            ],
            "t",
        );
        same(
            "boolean",
            &["f", "fa", "false", "n", "no", "of", "off", "0", " 0"],
            "f",
        );
        refused(
            "boolean",
            &["o", "01", "truee", "", "nope", "2"],
            "invalid input syntax for type boolean",
        );
    }

    #[test]
    fn character_types_as_copy_stores_them() {
        same("character(3)", &["ab", "ab ", "ab    "], "ab");
        same("bpchar", &["x  "], "x");
        same("character varying(3)", &["abc", "abc  "], "abc");
        same("character varying(3)", &["ab  "], "ab ");
        same("character varying(1)", &["é  "], "é");
        refused(
            "character(3)",
            &["abcd", "ab d"],
            "value too long for type character(3)",
        );
        refused(
            "character varying(3)",
            &["abcd", "ab d"],
            "value too long for type character varying(3)",
        );
    }

    #[test]
    fn citext_values_are_compared_in_lower_case() {
        assert_eq!(KeyType::of("citext"), KeyType::CaseInsensitive);
        assert_eq!(KeyType::of("ext.citext"), KeyType::CaseInsensitive);
        same("citext", &["abc", "ABC", "aBc"], "abc");
        same("public.citext", &["ÉTÉ", "été"], "été");
        same("citext", &["A\tB", "a\tb"], "a\tb");
        // One character whose lower case is two stays.
        same("citext", &["İ"], "İ");
        same("citext", &["Straße", "STRAßE"], "straße");
    }

    #[test]
    fn exact_values_are_compared_as_their_decoded_text() {
        same("text", &["03"], "03");
        same("text", &["a\\tb"], "a\\tb");
        // A control character COPY would write escaped is the same value escaped.
        same("text", &["a\u{8}b", "a\\bb"], "a\\bb");
        same("date", &["2024-01-02"], "2024-01-02");
        refused("text", &["a\\qb"], "cannot be decoded");
    }
}
