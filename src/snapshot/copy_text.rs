//! PostgreSQL's COPY text format, as `COPY … TO STDOUT` writes it.
//!
//! One row per line ending in `\n`; fields separated by a tab; `\N` alone is NULL; inside a
//! field a backslash escapes `\b \f \n \r \t \v` and itself. The server accepts more on input
//! (octal, hex, any other escaped character taken literally), but COPY never writes them, so in
//! a snapshot they can only mean damage: this reader rejects them, as it rejects raw carriage
//! returns (a file that went through a CRLF conversion), NUL bytes, invalid UTF-8 and a last
//! line with no newline (a truncated file).

use std::fmt;
use std::io::BufRead;

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    FieldCount { expected: usize, found: usize },
    BadEscape { field: usize, sequence: String },
    EscapedNull { field: usize },
    InvalidUtf8 { field: usize },
    NulByte { field: usize },
    CarriageReturn,
    NoNewline,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::FieldCount { expected, found } => {
                write!(f, "has {found} fields, expected {expected}")
            }
            LineError::BadEscape { sequence, .. } => write!(
                f,
                "bad escape \"{}\" (seedsnap reads only the escapes it writes, \\b \\f \\n \\r \\t \\v \\\\ and \\N, so that every value has one spelling: write the character itself, not a \\x, octal or other escape PostgreSQL's COPY would also read)",
                // As written in the file: the backslash once, other characters made visible.
                sequence
                    .chars()
                    .map(|c| match c {
                        '\\' => "\\".to_string(),
                        c => c.escape_debug().to_string(),
                    })
                    .collect::<String>()
            ),
            LineError::EscapedNull { .. } => {
                write!(f, "\\N inside a value (\\N must be the whole field)")
            }
            LineError::InvalidUtf8 { .. } => write!(f, "is not valid UTF-8"),
            LineError::NulByte { .. } => write!(f, "contains a NUL byte"),
            LineError::CarriageReturn => write!(
                f,
                "contains a raw carriage return (was the file converted to CRLF line endings?)"
            ),
            LineError::NoNewline => {
                write!(f, "has no newline at its end: the file is truncated")
            }
        }
    }
}

impl LineError {
    /// The zero-based field the error is in, when it is in one.
    pub fn field(&self) -> Option<usize> {
        match self {
            LineError::BadEscape { field, .. }
            | LineError::EscapedNull { field }
            | LineError::InvalidUtf8 { field }
            | LineError::NulByte { field } => Some(*field),
            _ => None,
        }
    }
}

/// Splits a line (without its newline) into raw, still-escaped fields.
pub fn split_fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b'\t')
}

/// Checks a whole line (without its newline) and returns its raw fields.
pub fn check_line(line: &[u8], expected_fields: usize) -> Result<Vec<&[u8]>, LineError> {
    if line.contains(&b'\r') {
        return Err(LineError::CarriageReturn);
    }
    // A row of a table without columns (`CREATE TABLE t ()`) is an empty line of no fields.
    let fields: Vec<&[u8]> = if expected_fields == 0 && line.is_empty() {
        Vec::new()
    } else {
        split_fields(line).collect()
    };
    if fields.len() != expected_fields {
        return Err(LineError::FieldCount {
            expected: expected_fields,
            found: fields.len(),
        });
    }
    for (i, field) in fields.iter().enumerate() {
        check_field(field).map_err(|e| e.at(i))?;
    }
    Ok(fields)
}

#[derive(Debug)]
pub enum FieldError {
    BadEscape(String),
    EscapedNull,
    InvalidUtf8,
    NulByte,
}

impl FieldError {
    fn at(self, field: usize) -> LineError {
        match self {
            FieldError::BadEscape(sequence) => LineError::BadEscape { field, sequence },
            FieldError::EscapedNull => LineError::EscapedNull { field },
            FieldError::InvalidUtf8 => LineError::InvalidUtf8 { field },
            FieldError::NulByte => LineError::NulByte { field },
        }
    }
}

/// What [`decode_field`] checks, without building the value: every escape is one COPY
/// writes, no NUL byte, valid UTF-8 (checked on the raw field: the escapes allowed stand for
/// ASCII characters, so the raw field is valid exactly when the value is).
fn check_field(field: &[u8]) -> Result<(), FieldError> {
    if field == b"\\N" {
        return Ok(());
    }
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        match b {
            0 => return Err(FieldError::NulByte),
            b'\\' => match bytes.next() {
                Some(b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'\\') => {}
                Some(b'N') => return Err(FieldError::EscapedNull),
                Some(&other) => {
                    return Err(FieldError::BadEscape(
                        String::from_utf8_lossy(&[b'\\', other]).into_owned(),
                    ))
                }
                None => return Err(FieldError::BadEscape("\\ at the end of a field".into())),
            },
            _ => {}
        }
    }
    if std::str::from_utf8(field).is_err() {
        return Err(FieldError::InvalidUtf8);
    }
    Ok(())
}

/// Decodes one raw field: `None` for NULL, the value's bytes otherwise.
pub fn decode_field(field: &[u8]) -> Result<Option<Vec<u8>>, FieldError> {
    if field == b"\\N" {
        return Ok(None);
    }
    if field.contains(&0) {
        return Err(FieldError::NulByte);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let decoded = match bytes.next() {
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'v') => 0x0b,
            Some(b'\\') => b'\\',
            Some(b'N') => return Err(FieldError::EscapedNull),
            Some(&other) => {
                return Err(FieldError::BadEscape(
                    String::from_utf8_lossy(&[b'\\', other]).into_owned(),
                ))
            }
            None => return Err(FieldError::BadEscape("\\ at the end of a field".into())),
        };
        out.push(decoded);
    }
    if std::str::from_utf8(&out).is_err() {
        return Err(FieldError::InvalidUtf8);
    }
    Ok(Some(out))
}

/// Encodes a value (here: a column name in the header line) as a COPY text field.
pub fn encode_field(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
    out
}

/// The header line for a list of column names, newline included.
pub fn header_line<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = names
        .into_iter()
        .map(encode_field)
        .collect::<Vec<_>>()
        .join("\t");
    line.push('\n');
    line
}

/// Reads lines one at a time, numbering them from 1, memory bounded by the longest line.
pub struct LineReader<R> {
    reader: R,
    buffer: Vec<u8>,
    line_number: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(reader: R) -> Self {
        LineReader {
            reader,
            buffer: Vec::new(),
            line_number: 0,
        }
    }

    /// The number of the line last returned (1-based).
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// The next line's number and the line without its newline; `Err(NoNewline)` for a last
    /// line with none.
    #[allow(clippy::type_complexity)]
    pub fn next_line(&mut self) -> std::io::Result<Option<(u64, Result<&[u8], LineError>)>> {
        self.buffer.clear();
        let read = self.reader.read_until(b'\n', &mut self.buffer)?;
        if read == 0 {
            return Ok(None);
        }
        self.line_number += 1;
        if self.buffer.last() != Some(&b'\n') {
            return Ok(Some((self.line_number, Err(LineError::NoNewline))));
        }
        self.buffer.pop();
        Ok(Some((self.line_number, Ok(&self.buffer))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_copy_writes() {
        assert_eq!(decode_field(b"\\N").unwrap(), None);
        assert_eq!(decode_field(b"").unwrap(), Some(vec![]));
        assert_eq!(
            decode_field(b"a\\tb\\nc\\\\d\\r").unwrap(),
            Some(b"a\tb\nc\\d\r".to_vec())
        );
        assert_eq!(decode_field("é".as_bytes()).unwrap(), Some("é".into()));
    }

    #[test]
    fn rejects_what_copy_never_writes() {
        assert!(matches!(
            decode_field(b"a\\q"),
            Err(FieldError::BadEscape(_))
        ));
        assert!(matches!(
            decode_field(b"\\101"),
            Err(FieldError::BadEscape(_))
        ));
        assert!(matches!(
            decode_field(b"a\\"),
            Err(FieldError::BadEscape(_))
        ));
        assert!(matches!(
            decode_field(b"x\\N"),
            Err(FieldError::EscapedNull)
        ));
        assert!(matches!(decode_field(b"a\0"), Err(FieldError::NulByte)));
        assert!(matches!(
            decode_field(b"\xff"),
            Err(FieldError::InvalidUtf8)
        ));
    }

    #[test]
    fn a_row_without_columns_is_an_empty_line() {
        assert_eq!(check_line(b"", 0).unwrap().len(), 0);
        assert!(matches!(
            check_line(b"x", 0),
            Err(LineError::FieldCount {
                expected: 0,
                found: 1
            })
        ));
        assert_eq!(header_line(std::iter::empty()), "\n");
    }

    #[test]
    fn checks_lines() {
        assert_eq!(check_line(b"1\tx", 2).unwrap().len(), 2);
        // One column holding the empty string is an empty line.
        assert_eq!(check_line(b"", 1).unwrap(), vec![b"" as &[u8]]);
        assert_eq!(
            check_line(b"1", 2),
            Err(LineError::FieldCount {
                expected: 2,
                found: 1
            })
        );
        assert_eq!(check_line(b"1\r", 1), Err(LineError::CarriageReturn));
        assert_eq!(
            check_line(b"1\t\\x", 2),
            Err(LineError::BadEscape {
                field: 1,
                sequence: "\\x".into()
            })
        );
    }

    #[test]
    fn header_round_trips_odd_names() {
        let line = header_line(["id", "a\tb", "c\\d"]);
        assert_eq!(line, "id\ta\\tb\tc\\\\d\n");
        let fields: Vec<Vec<u8>> = check_line(line.trim_end_matches('\n').as_bytes(), 3)
            .unwrap()
            .into_iter()
            .map(|f| decode_field(f).unwrap().unwrap())
            .collect();
        assert_eq!(
            fields,
            vec![b"id".to_vec(), b"a\tb".to_vec(), b"c\\d".to_vec()]
        );
    }

    #[test]
    fn reader_spots_truncation() {
        let mut reader = LineReader::new(&b"a\nb"[..]);
        assert_eq!(reader.next_line().unwrap().unwrap(), (1, Ok(&b"a"[..])));
        assert_eq!(
            reader.next_line().unwrap().unwrap(),
            (2, Err(LineError::NoNewline))
        );
        assert_eq!(reader.line_number(), 2);
        assert!(reader.next_line().unwrap().is_none());
    }

    #[test]
    fn checking_a_field_accepts_exactly_what_decoding_accepts() {
        let samples: &[&[u8]] = &[
            b"plain",
            b"\\N",
            b"a\\tb\\\\c",
            b"\\x41",
            b"\\N tail",
            b"caf\xc3\xa9",
            b"bad \xff utf8",
            b"nul \0 byte",
            b"ends with \\",
            b"\\v\\b\\f\\r\\n",
            b"",
        ];
        for field in samples {
            assert_eq!(
                check_field(field).is_ok(),
                decode_field(field).is_ok(),
                "{:?}",
                String::from_utf8_lossy(field)
            );
        }
    }
}
