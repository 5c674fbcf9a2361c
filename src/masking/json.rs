//! Rules inside `json` and `jsonb` values: `"app.users.settings#profile.email" = "email"`.
//!
//! A path is a list of object keys separated by dots; `[*]` after a key (or alone) walks every
//! element of an array: `contacts[*].phone`, `[*].email`. A rule applies to the string values
//! the path reaches (`null` makes them JSON `null`, `constant:VALUE` a JSON string); numbers,
//! booleans and a path that leads nowhere are left alone. The value is written back compactly
//! with its object keys sorted, which `jsonb` does not mind (it normalises on input).

use std::fmt;

use serde_json::Value;

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
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let mut steps = Vec::new();
        if text.is_empty() {
            return Err("an empty JSON path".to_string());
        }
        for part in text.split('.') {
            let mut rest = part;
            let key_end = rest.find('[').unwrap_or(rest.len());
            let key = &rest[..key_end];
            if !key.is_empty() {
                steps.push(Step::Key(key.to_string()));
            }
            rest = &rest[key_end..];
            while let Some(after) = rest.strip_prefix("[*]") {
                steps.push(Step::Each);
                rest = after;
            }
            if !rest.is_empty() || (key.is_empty() && key_end == part.len()) {
                return Err(format!(
                    "{text:?} is not a JSON path (keys separated by dots, [*] for every element \
                     of an array: profile.email, contacts[*].phone)"
                ));
            }
        }
        Ok(JsonPath(steps))
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
                    f.write_str(key)?;
                }
                Step::Each => f.write_str("[*]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// Applies the rules to a JSON text; `Err` when the text is not JSON.
pub fn mask(key: &Key, rules: &[(JsonPath, Rule)], text: &str) -> Result<String, String> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (path, rule) in rules {
        apply(key, rule, &path.0, &mut value);
    }
    Ok(value.to_string())
}

fn apply(key: &Key, rule: &Rule, steps: &[Step], value: &mut Value) {
    match steps.split_first() {
        None => {
            if let Value::String(text) = value {
                *value = match rules::apply(key, rule, Fit::default(), 0, text) {
                    Some(masked) => Value::String(masked),
                    None => Value::Null,
                };
            }
        }
        Some((Step::Key(name), rest)) => {
            if let Some(inner) = value.as_object_mut().and_then(|o| o.get_mut(name)) {
                apply(key, rule, rest, inner);
            }
        }
        Some((Step::Each, rest)) => {
            if let Some(items) = value.as_array_mut() {
                for item in items {
                    apply(key, rule, rest, item);
                }
            }
        }
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
        for bad in ["", "a..b", "a[0]", "a[*]x", "."] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
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
        let masked = mask(&key, &rules, text).unwrap();
        assert_eq!(masked, mask(&key, &rules, text).unwrap());
        let value: Value = serde_json::from_str(&masked).unwrap();
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
        assert_eq!(value["token"], Value::Null);
        assert!(!masked.contains("ann@real.org"));
        assert!(mask(&key, &rules, "{not json").is_err());
    }
}
