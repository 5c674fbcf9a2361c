//! The masking rules and the keyed function behind them.
//!
//! Every masked value is derived from `HMAC-SHA256(key, rule ‖ attempt ‖ original value)` and
//! nothing else: not the row, its position, the column or the other rows. The same key, rule
//! and value always give the same masked value (re-exports are byte-identical, and a rule
//! applied to a key column and to the columns referencing it gives equal values on both
//! sides); another key gives other values. `attempt` is 0 except when a unique column needs
//! another value after a collision (see [`super::resolve_collisions`]). Rules that need more
//! than the 32 bytes of the HMAC expand them in counter mode, `SHA-256(seed ‖ block)`, which
//! stays secret because the seed is.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The secret key, read from the environment variable `[masking] key_env` names. It is never
/// printed: `Debug` shows only its length.
#[derive(Clone)]
pub struct Key {
    length: usize,
    /// HMAC with the key already absorbed: cloning it saves hashing the key for every value.
    mac: Hmac<Sha256>,
}

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

impl Key {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Key, String> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "is {} bytes long; a masking key needs at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)",
                bytes.len()
            ));
        }
        Ok(Key {
            length: bytes.len(),
            mac: <Hmac<Sha256> as Mac>::new_from_slice(&bytes)
                .expect("HMAC takes keys of any length"),
        })
    }

    /// `HMAC-SHA256(key, parts joined by NUL)`.
    pub fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(&[0]);
            }
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bytes)", self.length)
    }
}

/// What to do with a column's values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `first.last.hhhh@example.com`, shortened to fit the column.
    Email,
    /// `First Last`.
    Name,
    FirstName,
    LastName,
    /// Every digit replaced; `+`, spaces and separators kept, so the format survives.
    Phone,
    /// Same length; each letter stays a letter of the same case, each digit a digit; spaces
    /// and punctuation are kept.
    Text,
    /// Lowercase hex of the keyed hash, as long as the column allows (at most 64); a `uuid`
    /// column gets a UUID.
    Hash,
    Null,
    /// `constant:VALUE`: every non-NULL value becomes VALUE.
    Constant(String),
    /// Explicitly not personal: copied as it is (and not reported by strict mode).
    Keep,
}

pub const RULE_NAMES: &str =
    "email, name, first_name, last_name, phone, text, hash, null, constant:VALUE, keep";

impl Rule {
    pub fn parse(text: &str) -> Result<Rule, String> {
        let rule = match text.trim() {
            "email" => Rule::Email,
            "name" => Rule::Name,
            "first_name" => Rule::FirstName,
            "last_name" => Rule::LastName,
            "phone" => Rule::Phone,
            "text" => Rule::Text,
            "hash" => Rule::Hash,
            "null" => Rule::Null,
            "keep" => Rule::Keep,
            other => match other.strip_prefix("constant:") {
                Some(value) => Rule::Constant(value.to_string()),
                None => {
                    return Err(format!(
                        "{text:?} is not a masking rule; use one of {RULE_NAMES}"
                    ))
                }
            },
        };
        Ok(rule)
    }

    /// Whether different values stay different (up to collisions, which are resolved): the
    /// rules allowed on unique and referenced columns.
    pub fn keeps_values_apart(&self) -> bool {
        !matches!(self, Rule::Null | Rule::Constant(_))
    }

    /// Whether the rule writes text made of letters and digits, so needs a character column.
    pub fn needs_text_column(&self) -> bool {
        matches!(
            self,
            Rule::Email | Rule::Name | Rule::FirstName | Rule::LastName | Rule::Phone | Rule::Text
        )
    }

    /// The fewest characters a column must hold for the rule.
    pub fn min_chars(&self) -> usize {
        match self {
            Rule::Email => MIN_EMAIL.len(),
            Rule::Hash => 8,
            _ => 1,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Rule::Email => "email",
            Rule::Name => "name",
            Rule::FirstName => "first_name",
            Rule::LastName => "last_name",
            Rule::Phone => "phone",
            Rule::Text => "text",
            Rule::Hash => "hash",
            Rule::Null => "null",
            Rule::Constant(value) => return write!(f, "constant:{value}"),
            Rule::Keep => "keep",
        };
        f.write_str(name)
    }
}

/// The shape of the column a value goes into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fit {
    /// `varchar(n)` / `char(n)`: at most n characters.
    pub max_chars: Option<usize>,
    /// The column is a `uuid` (for `hash`).
    pub uuid: bool,
}

const MIN_EMAIL: &str = "x@example.com";
const EMAIL_DOMAIN: &str = "@example.com";

const FIRST_NAMES: [&str; 48] = [
    "Ada", "Alan", "Alice", "Amara", "Anton", "Aria", "Bea", "Boris", "Carla", "Chen", "Dana",
    "David", "Elena", "Emil", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jonas",
    "Julia", "Kai", "Kenji", "Lara", "Leo", "Lina", "Luca", "Maya", "Mila", "Nadia", "Noah",
    "Nora", "Omar", "Paula", "Priya", "Rafael", "Rosa", "Sam", "Sara", "Tariq", "Theo", "Uma",
    "Vera", "Wei", "Yara", "Zoe",
];

const LAST_NAMES: [&str; 48] = [
    "Abbott", "Adler", "Alves", "Baker", "Berg", "Blanco", "Costa", "Dahl", "Diaz", "Ek",
    "Fischer", "Garcia", "Gray", "Haas", "Hill", "Ito", "Jensen", "Kato", "Keller", "Khan", "Lind",
    "Lopez", "Mayer", "Meier", "Moreau", "Nagy", "Novak", "Okafor", "Olsen", "Park", "Perez",
    "Quinn", "Rossi", "Sato", "Schmidt", "Silva", "Stone", "Tanaka", "Torres", "Varga", "Vogel",
    "Wagner", "Walsh", "Weber", "Wong", "Young", "Zhang", "Ziegler",
];

/// The bytes a rule draws from: the HMAC of the value, then as many blocks as needed.
struct Stream {
    seed: [u8; 32],
    block: [u8; 32],
    index: u32,
    used: usize,
}

impl Stream {
    fn new(key: &Key, rule: &str, attempt: u32, value: &str) -> Stream {
        let seed = key.hmac(&[
            b"seedsnap-mask-v1",
            rule.as_bytes(),
            &attempt.to_be_bytes(),
            value.as_bytes(),
        ]);
        Stream {
            seed,
            block: seed,
            index: 0,
            used: 0,
        }
    }

    fn byte(&mut self) -> u8 {
        if self.used == self.block.len() {
            self.index += 1;
            let mut hasher = Sha256::new();
            hasher.update(self.seed);
            hasher.update(self.index.to_be_bytes());
            self.block = hasher.finalize().into();
            self.used = 0;
        }
        self.used += 1;
        self.block[self.used - 1]
    }

    /// A number below `n`: one byte for n ≤ 26 (letters and digits, the bulk of the work; some
    /// values are at most 1/10 likelier than others, which hides nothing here), three above.
    fn below(&mut self, n: usize) -> usize {
        if n <= 26 {
            return (self.byte() as usize * n) >> 8;
        }
        let value =
            (self.byte() as usize) << 16 | (self.byte() as usize) << 8 | self.byte() as usize;
        value % n
    }

    fn hex(&mut self, digits: usize) -> String {
        (0..digits)
            .map(|i| {
                let b = self.byte();
                let nibble = if i % 2 == 0 { b >> 4 } else { b & 15 };
                char::from_digit(nibble as u32, 16).expect("a nibble")
            })
            .collect()
    }
}

/// The masked value of `value` under `rule`: `None` for SQL NULL. `attempt` is 0 unless a
/// collision under a unique key asks for another candidate.
pub fn apply(key: &Key, rule: &Rule, fit: Fit, attempt: u32, value: &str) -> Option<String> {
    // An empty or blank value holds nothing personal, and often means "none" to the
    // application: a rule that makes values keeps it (null and constant still apply).
    if value.trim().is_empty() && !matches!(rule, Rule::Null | Rule::Constant(_)) {
        return Some(value.to_string());
    }
    let label = rule.to_string();
    let stream = || Stream::new(key, &label, attempt, value);
    let masked = match rule {
        Rule::Keep => value.to_string(),
        Rule::Null => return None,
        Rule::Constant(constant) => constant.clone(),
        Rule::Email => email(&mut stream(), fit.max_chars),
        Rule::Name => {
            let mut s = stream();
            let first = FIRST_NAMES[s.below(FIRST_NAMES.len())];
            let last = LAST_NAMES[s.below(LAST_NAMES.len())];
            truncate(format!("{first} {last}"), fit.max_chars)
        }
        Rule::FirstName => truncate(
            FIRST_NAMES[stream().below(FIRST_NAMES.len())].to_string(),
            fit.max_chars,
        ),
        Rule::LastName => truncate(
            LAST_NAMES[stream().below(LAST_NAMES.len())].to_string(),
            fit.max_chars,
        ),
        Rule::Phone => phone(&mut stream(), value),
        Rule::Text => same_shape(&mut stream(), value, true),
        Rule::Hash => {
            let mut s = stream();
            if fit.uuid {
                let h = s.hex(32);
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )
            } else {
                s.hex(fit.max_chars.unwrap_or(64).min(64))
            }
        }
    };
    Some(masked)
}

fn truncate(text: String, max_chars: Option<usize>) -> String {
    match max_chars {
        Some(max) if text.chars().count() > max => text
            .chars()
            .take(max)
            .collect::<String>()
            .trim_end()
            .to_string(),
        _ => text,
    }
}

/// `first.last.hhhh@example.com`, or `hhhhhhhh@example.com`, or fewer hex digits, whatever
/// fits `max_chars` (at least [`MIN_EMAIL`]'s length). `example.com` is reserved (RFC 2606),
/// so a masked address never reaches anybody.
fn email(stream: &mut Stream, max_chars: Option<usize>) -> String {
    let first = FIRST_NAMES[stream.below(FIRST_NAMES.len())].to_lowercase();
    let last = LAST_NAMES[stream.below(LAST_NAMES.len())].to_lowercase();
    let tag = stream.hex(8);
    let full = format!("{first}.{last}.{}{EMAIL_DOMAIN}", &tag[..4]);
    let max = max_chars.unwrap_or(usize::MAX);
    if full.len() <= max {
        return full;
    }
    let digits = max.saturating_sub(EMAIL_DOMAIN.len()).clamp(1, 8);
    format!("{}{EMAIL_DOMAIN}", &tag[..digits])
}

/// A phone number's shape: digits and letters masked (a vanity number, `555-CALL-BOB`, spells
/// part of itself), except the words that mark an extension (`x`, `ext`, `ext.`,
/// `extension`), which a format CHECK may expect and which say nothing personal.
fn phone(stream: &mut Stream, value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(c) = rest.chars().next() {
        let run_len = match c.is_alphabetic() {
            true => rest
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(rest.len()),
            false => rest.find(char::is_alphabetic).unwrap_or(rest.len()),
        };
        let (run, after) = rest.split_at(run_len);
        let marker = matches!(run.to_ascii_lowercase().as_str(), "x" | "ext" | "extension");
        match marker {
            true => out.push_str(run),
            false => out.push_str(&same_shape(stream, run, true)),
        }
        rest = after;
    }
    out
}

/// The value with each ASCII digit replaced by a keyed digit, and (when `letters`) each letter
/// by a keyed letter of the same case; everything else is kept. Non-ASCII letters become ASCII
/// letters, so the length in characters never changes.
fn same_shape(stream: &mut Stream, value: &str, letters: bool) -> String {
    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    value
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                (b'0' + stream.below(10) as u8) as char
            } else if letters && c.is_uppercase() {
                UPPER[stream.below(26)] as char
            } else if letters && c.is_alphabetic() {
                LOWER[stream.below(26)] as char
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Key {
        Key::new(text.as_bytes()).unwrap()
    }

    fn mask(rule: &str, value: &str) -> String {
        let k = key("a test key of some length");
        apply(&k, &Rule::parse(rule).unwrap(), Fit::default(), 0, value).unwrap()
    }

    fn class(c: char) -> u8 {
        if c.is_ascii_digit() {
            0
        } else if c.is_uppercase() {
            1
        } else if c.is_alphabetic() {
            2
        } else {
            c as u8
        }
    }

    #[test]
    fn short_keys_are_refused_and_never_printed() {
        assert!(Key::new("short").unwrap_err().contains("at least 16"));
        let k = key("0123456789abcdef-secret");
        assert_eq!(format!("{k:?}"), "Key(23 bytes)");
    }

    #[test]
    fn every_rule_is_deterministic_and_keyed() {
        let a = key("first key, long enough");
        let b = key("second key, long enough");
        for rule in [
            "email",
            "name",
            "first_name",
            "last_name",
            "phone",
            "text",
            "hash",
        ] {
            let rule = Rule::parse(rule).unwrap();
            let value = "Jane.Doe+1@mail.example.org 555-0100";
            let one = apply(&a, &rule, Fit::default(), 0, value);
            assert_eq!(one, apply(&a, &rule, Fit::default(), 0, value), "{rule}");
            assert_ne!(one.as_deref(), Some(value), "{rule}");
            if !matches!(rule, Rule::FirstName | Rule::LastName | Rule::Name) {
                // 48 names: two keys may pick the same one; the other rules have room.
                assert_ne!(one, apply(&b, &rule, Fit::default(), 0, value), "{rule}");
                assert_ne!(one, apply(&a, &rule, Fit::default(), 1, value), "{rule}");
            }
            assert_eq!(rule, Rule::parse(&rule.to_string()).unwrap());
        }
    }

    #[test]
    fn text_keeps_length_and_character_classes() {
        let value = "Hello, World 2024! Ünïcode ok.";
        let masked = mask("text", value);
        assert_ne!(masked, value);
        assert_eq!(masked.chars().count(), value.chars().count());
        for (a, b) in value.chars().zip(masked.chars()) {
            assert_eq!(class(a), class(b), "{a} -> {b} in {masked}");
        }
        assert!(masked.is_ascii());
        assert_eq!(mask("text", ""), "");
    }

    #[test]
    fn phone_keeps_its_format() {
        let value = "+1 (555) 010-4477";
        let masked = mask("phone", value);
        assert_ne!(masked, value);
        assert_eq!(masked.len(), value.len());
        for (a, b) in value.chars().zip(masked.chars()) {
            assert_eq!(a.is_ascii_digit(), b.is_ascii_digit());
            if !a.is_ascii_digit() {
                assert_eq!(a, b);
            }
        }
        // The letters of a vanity number are masked too, keeping their case.
        let vanity = mask("phone", "555-CALL-BOB");
        assert!(
            vanity.len() == 12 && vanity != "555-CALL-BOB" && !vanity.contains("CALL"),
            "{vanity}"
        );
        assert!(vanity.chars().all(|c| !c.is_lowercase()), "{vanity}");
        // An extension marker stays: a format CHECK may expect it.
        for value in ["555-0100 x12", "555-0100 ext. 12", "555 0100 Extension 9"] {
            let masked = mask("phone", value);
            let letters = |v: &str| v.chars().filter(|c| c.is_alphabetic()).collect::<String>();
            assert_eq!(letters(&masked), letters(value), "{masked}");
            assert_ne!(masked, value);
        }
    }

    #[test]
    fn an_empty_or_blank_value_stays_as_it_is() {
        for rule in ["email", "name", "text", "phone", "hash"] {
            assert_eq!(mask(rule, ""), "", "{rule}");
            assert_eq!(mask(rule, "  "), "  ", "{rule}");
        }
        let k = key("a test key of some length");
        assert_eq!(apply(&k, &Rule::Null, Fit::default(), 0, ""), None);
    }

    #[test]
    fn email_is_an_address_at_a_reserved_domain_that_fits() {
        let masked = mask("email", "someone@real.org");
        let re = regex::Regex::new(r"^[a-z]+\.[a-z]+\.[0-9a-f]{4}@example\.com$").unwrap();
        assert!(re.is_match(&masked), "{masked}");
        let k = key("a test key of some length");
        for max in [13, 16, 20, 24] {
            let fit = Fit {
                max_chars: Some(max),
                uuid: false,
            };
            let short = apply(&k, &Rule::Email, fit, 0, "someone@real.org").unwrap();
            assert!(
                short.len() <= max && short.ends_with("@example.com"),
                "{short}"
            );
        }
    }

    #[test]
    fn names_come_from_the_lists_and_fit() {
        let name = mask("name", "Jane Doe");
        let (first, last) = name.split_once(' ').unwrap();
        assert!(
            FIRST_NAMES.contains(&first) && LAST_NAMES.contains(&last),
            "{name}"
        );
        assert!(FIRST_NAMES.contains(&mask("first_name", "Jane").as_str()));
        assert!(LAST_NAMES.contains(&mask("last_name", "Doe").as_str()));
        let k = key("a test key of some length");
        let fit = Fit {
            max_chars: Some(4),
            uuid: false,
        };
        let short = apply(&k, &Rule::Name, fit, 0, "Jane Doe").unwrap();
        assert!(
            short.chars().count() <= 4 && !short.ends_with(' '),
            "{short:?}"
        );
    }

    #[test]
    fn hash_is_hex_that_fits_or_a_uuid() {
        let masked = mask("hash", "secret-token");
        assert_eq!(masked.len(), 64);
        assert!(masked.chars().all(|c| c.is_ascii_hexdigit()));
        let k = key("a test key of some length");
        let short = apply(
            &k,
            &Rule::Hash,
            Fit {
                max_chars: Some(10),
                uuid: false,
            },
            0,
            "x",
        )
        .unwrap();
        assert_eq!(short.len(), 10);
        let uuid = apply(
            &k,
            &Rule::Hash,
            Fit {
                max_chars: None,
                uuid: true,
            },
            0,
            "x",
        )
        .unwrap();
        let re =
            regex::Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
                .unwrap();
        assert!(re.is_match(&uuid), "{uuid}");
    }

    #[test]
    fn null_constant_and_keep() {
        let k = key("a test key of some length");
        assert_eq!(apply(&k, &Rule::Null, Fit::default(), 0, "x"), None);
        assert_eq!(mask("constant:REDACTED", "x"), "REDACTED");
        assert_eq!(mask("constant:", "x"), "");
        assert_eq!(mask("keep", "x y"), "x y");
        assert!(Rule::parse("mask")
            .unwrap_err()
            .contains("is not a masking rule"));
        assert!(!Rule::Null.keeps_values_apart() && Rule::Email.keeps_values_apart());
    }
}
