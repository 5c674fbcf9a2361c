//! Rules inside `json` and `jsonb` values: `"app.users.settings#profile.email" = "email"`.
//!
//! A path is a list of object keys separated by dots; `[*]` after a key (or alone) walks every
//! element of an array: `contacts[*].phone`, `[*].email`. A rule applies to the string values
//! the path reaches (`null` makes them JSON `null`, `constant:VALUE` a JSON string); numbers,
//! booleans and a path that leads nowhere are left alone. A key holding a dot is double-quoted:
//! `"a.b".email`. Every other byte of the value is written back as it was: numbers keep their
//! every digit (`json` keeps them as text), keys their order, a `json` object its duplicate
//! keys (each one the path names is masked).

use std::fmt;

use super::rules::{self, Fit, Key, Rule};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    Key(String),
    /// `[*]`: every element of an array.
    Each,
}

/// A path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonPath(pub Vec<Step>);

impl JsonPath {
    /// Reads `profile.email`, `contacts[*].phone`, `"a.b".email` (a key holding a dot, a `[`
    /// or a double quote is double-quoted, a quote inside doubled, as in SQL).
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad = || {
            format!(
                "{text:?} is not a JSON path (keys separated by dots, [*] for every element of an \
                 array, a key holding a dot double-quoted: profile.email, contacts[*].phone, \
                 \"a.b\".email)"
            )
        };
        if text.is_empty() {
            return Err("an empty JSON path".to_string());
        }
        let mut steps = Vec::new();
        let mut rest = text;
        loop {
            // One part: an optional key, then any number of [*].
            let mut has_key = false;
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut key = String::new();
                let mut chars = quoted.char_indices();
                let after = loop {
                    match chars.next() {
                        None => return Err(bad()),
                        Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                            key.push('"');
                            chars.next();
                        }
                        Some((i, '"')) => break &quoted[i + 1..],
                        Some((_, c)) => key.push(c),
                    }
                };
                steps.push(Step::Key(key));
                has_key = true;
                rest = after;
            } else {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                if end > 0 {
                    if rest[..end].contains('"') {
                        return Err(bad());
                    }
                    steps.push(Step::Key(rest[..end].to_string()));
                    has_key = true;
                }
                rest = &rest[end..];
            }
            let mut each = false;
            while let Some(after) = rest.strip_prefix("[*]") {
                steps.push(Step::Each);
                each = true;
                rest = after;
            }
            if !has_key && !each {
                return Err(bad());
            }
            match rest.strip_prefix('.') {
                Some(after) => rest = after,
                None if rest.is_empty() => return Ok(JsonPath(steps)),
                None => return Err(bad()),
            }
        }
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for step in &self.0 {
            match step {
                Step::Key(key) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    match key.is_empty() || key.contains(['.', '[', '"']) {
                        true => write!(f, "\"{}\"", key.replace('"', "\"\""))?,
                        false => f.write_str(key)?,
                    }
                }
                Step::Each => f.write_str("[*]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// Applies the rules to a JSON text; `Err` when the text is not JSON. Only the strings the
/// rules reach change: every other byte of the text (numbers of any precision, key order,
/// duplicate keys, spacing) is copied as it is. `matched[i]` counts the strings rule `i`
/// reached.
pub fn mask(
    key: &Key,
    rules: &[(JsonPath, Rule)],
    text: &str,
    matched: &mut [u64],
) -> Result<String, String> {
    // Checked whole first, with serde_json's own messages; skipping values converts no number.
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| e.to_string())?;
    let mut rewriter = Rewriter {
        text,
        at: 0,
        copied: 0,
        out: String::new(),
        key,
        rules,
        matched,
    };
    let all: Vec<(usize, usize)> = (0..rules.len()).map(|r| (r, 0)).collect();
    rewriter.value(&all)?;
    if rewriter.copied == 0 {
        return Ok(text.to_string());
    }
    rewriter.out.push_str(&text[rewriter.copied..]);
    Ok(rewriter.out)
}

/// A walk over a JSON text already known to be valid, writing it out with the strings the
/// rules reach replaced.
struct Rewriter<'a> {
    text: &'a str,
    at: usize,
    /// How far `text` was copied into `out`.
    copied: usize,
    out: String,
    key: &'a Key,
    rules: &'a [(JsonPath, Rule)],
    matched: &'a mut [u64],
}

impl Rewriter<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_space();
        match self.peek() {
            Some(b) if b == byte => {
                self.at += 1;
                Ok(())
            }
            _ => Err(format!("expected '{}' at byte {}", byte as char, self.at)),
        }
    }

    /// A string token: its span, quotes included.
    fn string(&mut self) -> Result<(usize, usize), String> {
        self.skip_space();
        let start = self.at;
        self.expect(b'"')?;
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.at) {
            self.at += 1;
            match b {
                b'\\' => self.at += 1,
                b'"' => return Ok((start, self.at)),
                _ => {}
            }
        }
        Err("an unterminated string".to_string())
    }

    fn decoded(&self, (start, end): (usize, usize)) -> Result<String, String> {
        serde_json::from_str(&self.text[start..end]).map_err(|e| e.to_string())
    }

    /// One value; `active` holds, per rule still on the path, how many of its steps the
    /// enclosing keys and elements took.
    fn value(&mut self, active: &[(usize, usize)]) -> Result<(), String> {
        self.skip_space();
        if active.is_empty() {
            // No rule reaches inside: skipped without recursion, so the depth of the walk is
            // bounded by the rules' paths, not by how deep the value nests.
            return self.skip_value();
        }
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                self.skip_space();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    let name_span = self.string()?;
                    let inner: Vec<(usize, usize)> = match active.is_empty() {
                        true => Vec::new(),
                        false => {
                            let name = self.decoded(name_span)?;
                            self.advance(active, |step| matches!(step, Step::Key(k) if *k == name))
                        }
                    };
                    self.expect(b':')?;
                    self.value(&inner)?;
                    if self.closed_after_member(b'}')? {
                        return Ok(());
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                self.skip_space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(());
                }
                let inner = self.advance(active, |step| matches!(step, Step::Each));
                loop {
                    self.value(&inner)?;
                    if self.closed_after_member(b']')? {
                        return Ok(());
                    }
                }
            }
            Some(b'"') => {
                let span = self.string()?;
                let reached: Vec<usize> = active
                    .iter()
                    .filter(|&&(rule, taken)| taken == self.rules[rule].0 .0.len())
                    .map(|&(rule, _)| rule)
                    .collect();
                if !reached.is_empty() {
                    self.replace(span, &reached)?;
                }
                Ok(())
            }
            Some(_) => {
                // A number, true, false or null: copied as it is.
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.at += 1;
                }
                Ok(())
            }
            None => Err("unexpected end of JSON".to_string()),
        }
    }

    /// After a member of an object or array: true at its `close`, false at a `,` (both taken).
    fn closed_after_member(&mut self, close: u8) -> Result<bool, String> {
        self.skip_space();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(true)
            }
            _ => Err(format!(
                "expected ',' or '{}' at byte {}",
                close as char, self.at
            )),
        }
    }

    /// Steps over one value (already known to be valid JSON), nesting counted, not recursed.
    fn skip_value(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        loop {
            self.skip_space();
            match self.peek() {
                None => return Err("unexpected end of JSON".to_string()),
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'{' | b'[') => {
                    self.at += 1;
                    depth += 1;
                    continue;
                }
                Some(b'}' | b']') => {
                    self.at += 1;
                    depth = depth.saturating_sub(1);
                }
                Some(b',' | b':') => {
                    self.at += 1;
                    continue;
                }
                Some(_) => {
                    while let Some(b) = self.peek() {
                        if matches!(b, b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r') {
                            break;
                        }
                        self.at += 1;
                    }
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// The rules of `active` whose next step `takes` accepts, one step further.
    fn advance(
        &self,
        active: &[(usize, usize)],
        takes: impl Fn(&Step) -> bool,
    ) -> Vec<(usize, usize)> {
        active
            .iter()
            .filter(|&&(rule, taken)| self.rules[rule].0 .0.get(taken).is_some_and(&takes))
            .map(|&(rule, taken)| (rule, taken + 1))
            .collect()
    }

    /// Replaces the string at `span` by what the `reached` rules make of it, in their order
    /// (a rule that makes it `null` ends it).
    fn replace(&mut self, span: (usize, usize), reached: &[usize]) -> Result<(), String> {
        let mut text = Some(self.decoded(span)?);
        for &rule in reached {
            self.matched[rule] += 1;
            if let Some(current) = &text {
                text = rules::apply(self.key, &self.rules[rule].1, Fit::default(), 0, current);
            }
        }
        self.out.push_str(&self.text[self.copied..span.0]);
        match text {
            Some(masked) => self
                .out
                .push_str(&serde_json::to_string(&masked).map_err(|e| e.to_string())?),
            None => self.out.push_str("null"),
        }
        self.copied = span.1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_and_print() {
        for text in [
            "profile.email",
            "contacts[*].phone",
            "[*].email",
            "tags[*]",
            "a[*][*].b",
        ] {
            assert_eq!(JsonPath::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "", "a..b", "a[0]", "a[*]x", ".", "a.", "\"a.b", "a\"b\"", "\"a\"b",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
        // A key holding a dot, a bracket or a quote is double-quoted, a quote doubled.
        let path = JsonPath::parse("\"a.b\".email").unwrap();
        assert_eq!(
            path.0,
            vec![Step::Key("a.b".into()), Step::Key("email".into())]
        );
        assert_eq!(path.to_string(), "\"a.b\".email");
        let path = JsonPath::parse("x.\"say \"\"hi\"\"\"[*]").unwrap();
        assert_eq!(
            path.0,
            vec![
                Step::Key("x".into()),
                Step::Key("say \"hi\"".into()),
                Step::Each
            ]
        );
        assert_eq!(JsonPath::parse(&path.to_string()).unwrap(), path);
    }

    #[test]
    fn every_byte_the_rules_do_not_reach_is_kept() {
        let key = Key::new("a key for json values!").unwrap();
        let rules = vec![
            (JsonPath::parse("\"a.b\".email").unwrap(), Rule::Email),
            (JsonPath::parse("dup").unwrap(), Rule::Null),
            (JsonPath::parse("typo").unwrap(), Rule::Text),
        ];
        let text = "{ \"pi\" : 3.14159265358979323846264, \"big\":12345678901234567890123,\n\
                    \"n\": 1.000, \"exp\": 1e400, \"z\": {\"q\": \"\\u00e9\"},\n\
                    \"a.b\": {\"email\": \"dotkey@corp.com\"}, \"dup\": \"one\", \"dup\": \"two\"}";
        let mut matched = vec![0; rules.len()];
        let masked = mask(&key, &rules, text, &mut matched).unwrap();
        assert_eq!(matched, vec![1, 2, 0]);
        assert!(!masked.contains("dotkey@corp.com"), "{masked}");
        assert!(
            !masked.contains("\"one\"") && !masked.contains("\"two\""),
            "{masked}"
        );
        // Everything else, byte for byte: the numbers, the spacing, the escapes, the order.
        let unmasked = |t: &str| -> String {
            let mut t = t.to_string();
            for (from, to) in [("\"one\"", "null"), ("\"two\"", "null")] {
                t = t.replace(from, to);
            }
            let start = t.find("\"email\": \"").unwrap() + 10;
            let end = start + t[start..].find('"').unwrap();
            format!("{}{}", &t[..start], &t[end..])
        };
        assert_eq!(unmasked(&masked), unmasked(text), "{masked}");
        // A value no rule reaches comes back as it was.
        let plain = "[1.50, {\"k\": \"v\"}]";
        assert_eq!(mask(&key, &rules, plain, &mut matched).unwrap(), plain);
        // Nesting deeper than any path is stepped over, not recursed into.
        let deep = format!("{{\"x\": {}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(mask(&key, &rules, &deep, &mut matched).unwrap(), deep);
        for bad in ["{not json", "[1,]", "\"open", "{\"a\":1} x"] {
            assert!(mask(&key, &rules, bad, &mut matched).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_strings_a_path_reaches_change() {
        let key = Key::new("a key for json values!").unwrap();
        let rules = vec![
            (JsonPath::parse("profile.email").unwrap(), Rule::Email),
            (JsonPath::parse("contacts[*].phone").unwrap(), Rule::Phone),
            (JsonPath::parse("token").unwrap(), Rule::Null),
            (JsonPath::parse("missing.path").unwrap(), Rule::Text),
        ];
        let text = r#"{"theme": "dark", "profile": {"email": "ann@real.org", "age": 40},
                       "contacts": [{"phone": "+1 555 0100"}, {"phone": 5550101}], "token": "abc"}"#;
        let mut matched = vec![0; rules.len()];
        let masked = mask(&key, &rules, text, &mut matched).unwrap();
        assert_eq!(masked, mask(&key, &rules, text, &mut matched).unwrap());
        // Twice over the text: the email once, each phone string once, the token once.
        assert_eq!(matched, vec![2, 2, 2, 0]);
        let value: serde_json::Value = serde_json::from_str(&masked).unwrap();
        assert_eq!(value["theme"], "dark");
        assert_eq!(value["profile"]["age"], 40);
        assert!(value["profile"]["email"]
            .as_str()
            .unwrap()
            .ends_with("@example.com"));
        let phone = value["contacts"][0]["phone"].as_str().unwrap();
        let shape = |p: &str| -> String {
            p.chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect()
        };
        assert!(
            shape(phone) == "+9 999 9999" && phone != "+1 555 0100",
            "{phone}"
        );
        assert_eq!(value["contacts"][1]["phone"], 5550101);
        assert_eq!(value["token"], serde_json::Value::Null);
        assert!(!masked.contains("ann@real.org"));
        assert!(mask(&key, &rules, "{not json", &mut matched).is_err());
    }
}
