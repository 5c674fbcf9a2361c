//! `seedsnap.toml`: the seeding rules a team keeps in its repository.
//!
//! This module owns reading the file (from `--config`, else the nearest `seedsnap.toml` in the
//! current directory or its parents),
//! every check that needs no database (syntax, unknown keys, names, limits, virtual-key
//! notation), each reported with the file and line, and the file's values as the command line
//! reads them; [`crate::cli`] merges them under the flags: a flag always wins over the file.
//! Scalars (source, target, dir, limit, schemas,
//! target pattern) are replaced by their flag; per-table settings (limits, whole tables,
//! filters) are merged table by table, the flag's entry winning; lists (exclude, virtual keys)
//! add up; masking rules (`[masking.columns]`) are per column, the `--mask` flag's winning.
//! Checks against the source catalog live in [`crate::prepare::checked_scope`]
//! (run alone by [`crate::check_config`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::catalog::QualifiedName;
use crate::connection::{Environment, Side};
use crate::error::ExitKind;
use crate::masking;
use crate::problem::{self, Problem, ProblemKind};
use crate::virtual_keys::{self, VirtualKeySpec};

pub const FILE_NAME: &str = "seedsnap.toml";

/// A setting that names tables, by the flag that gives it on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableSetting {
    Only,
    Exclude,
    TableLimit,
    Filter,
}

impl TableSetting {
    /// The flag's name, without the dashes.
    pub fn flag(self) -> &'static str {
        match self {
            TableSetting::Only => "only",
            TableSetting::Exclude => "exclude",
            TableSetting::TableLimit => "table-limit",
            TableSetting::Filter => "filter",
        }
    }
}

/// A row limit in the file: a number of rows, or `"all"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitValue(pub Option<u64>);

impl<'de> Deserialize<'de> for LimitValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitVisitor;
        impl Visitor<'_> for LimitVisitor {
            type Value = LimitValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of rows (1 or more) or \"all\"")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<LimitValue, E> {
                if value < 1 {
                    return Err(E::custom(format!(
                        "a limit must be at least 1, not {value} (use exclude to leave a table out)"
                    )));
                }
                Ok(LimitValue(Some(value as u64)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<LimitValue, E> {
                if value.eq_ignore_ascii_case("all") {
                    Ok(LimitValue(None))
                } else {
                    Err(E::custom(format!(
                        "{value:?} is not a limit: write a number of rows or \"all\""
                    )))
                }
            }
        }
        deserializer.deserialize_any(LimitVisitor)
    }
}

/// Where a database's URL comes from: the URL itself, or the name of an environment variable
/// holding it (so that passwords stay out of the file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseEntry {
    pub url: Option<String>,
    pub url_env: Option<Spanned<String>>,
    /// Target only: a regular expression searched in its database name, replacing the default
    /// rule (a whole word `test`, `tests` or `testing`, and no production word).
    pub pattern: Option<String>,
    /// Target only: what an import does with drifted rows (`update`, `keep`, `fail`).
    pub on_drift: Option<crate::import::drift::OnDrift>,
}

/// The file as written. Table names are `schema.table` (a bare name means `public`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub source: Option<Spanned<DatabaseEntry>>,
    pub target: Option<Spanned<DatabaseEntry>>,
    /// The snapshot directory, relative to the file's own directory.
    pub dir: Option<PathBuf>,
    /// A directory of hand-added rows merged into the snapshot at import, relative to the
    /// file's own directory; an export never writes it.
    pub overlay: Option<PathBuf>,
    /// Tables (`schema.table`) and columns (`schema.table.column`) of the snapshot an import
    /// leaves out: what a migration dropped from the test schema.
    #[serde(default)]
    pub skip_missing: Vec<Spanned<String>>,
    /// Rows to sample per table.
    pub limit: Option<LimitValue>,
    pub schemas: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// Tables copied whole (small lookup tables).
    #[serde(default)]
    pub whole: Vec<Spanned<String>>,
    #[serde(default)]
    pub limits: BTreeMap<Spanned<String>, LimitValue>,
    /// A SQL condition per table that the initial sample must meet; backfill ignores it.
    #[serde(default)]
    pub filters: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    pub virtual_foreign_keys: Vec<Spanned<String>>,
    /// Masking of personal data (see [`crate::masking`]).
    pub masking: Option<MaskingSection>,
}

/// `[masking]`: the variable holding the key, strict mode, and a rule per column.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingSection {
    pub key_env: Option<Spanned<String>>,
    #[serde(default)]
    pub strict: bool,
    /// `"schema.table.column" = "rule"`.
    #[serde(default)]
    pub columns: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// A loaded, statically checked file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub path: PathBuf,
    pub file: ConfigFile,
    /// Parsed from `virtual_foreign_keys`, in file order.
    pub virtual_keys: Vec<VirtualKeySpec>,
    /// Found by searching upwards from the current directory (not named with `--config`).
    pub found_by_search: bool,
    text: String,
}

/// Where a byte offset of the file is, for messages: `seedsnap.toml:12`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Config {
    /// `path:line` of a value of the file.
    pub fn at<T>(&self, value: &Spanned<T>) -> String {
        format!(
            "{}:{}",
            self.path.display(),
            line_of(&self.text, value.span().start)
        )
    }

    /// The file to use: `--config`, else the nearest `seedsnap.toml` in the current directory
    /// or one of its parents (as cargo and git search), else none. `--no-config` ignores both.
    pub fn locate(explicit: Option<&Path>, ignore: bool) -> Option<PathBuf> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::locate_from(explicit, ignore, &cwd)
    }

    /// [`Config::locate`] from a given directory. A file found in a parent directory is named
    /// relative to `start` (`../seedsnap.toml`), so paths derived from it stay short.
    pub fn locate_from(explicit: Option<&Path>, ignore: bool, start: &Path) -> Option<PathBuf> {
        if ignore {
            return None;
        }
        if let Some(path) = explicit {
            return Some(path.to_path_buf());
        }
        let mut relative = PathBuf::new();
        for dir in start.ancestors() {
            if dir.join(FILE_NAME).is_file() {
                return Some(relative.join(FILE_NAME));
            }
            relative.push("..");
        }
        None
    }

    /// The default snapshot directory when the file names none: beside a file found by
    /// searching upwards (the project root), else relative to the current directory.
    pub fn default_dir(&self, default: &str) -> PathBuf {
        if self.found_by_search {
            self.path.parent().unwrap_or(Path::new("")).join(default)
        } else {
            PathBuf::from(default)
        }
    }

    /// Reads and checks a file; every problem found is reported at once (exit code 4).
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            problem::refuse(
                ExitKind::BadInput,
                Problem::in_file(
                    path.display().to_string(),
                    None,
                    None,
                    format!("the config file cannot be read: {e}"),
                )
                .kind(ProblemKind::Setting),
            )
        })?;
        Config::parse(path, text).map_err(|problems| {
            problem::into_error(
                ExitKind::BadInput,
                format!(
                    "the config file {} has {} problem(s):",
                    path.display(),
                    problems.len()
                ),
                &problems,
            )
        })
    }

    /// Parses the text of a file and checks what can be checked without a database.
    pub fn parse(path: &Path, text: String) -> Result<Config, Vec<Problem>> {
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(1);
            vec![Problem::setting(
                &format!("{}:{line}", path.display()),
                e.message().trim_end(),
            )]
        })?;
        let mut config = Config {
            path: path.to_path_buf(),
            file,
            virtual_keys: Vec::new(),
            found_by_search: false,
            text,
        };
        let mut problems = Vec::new();
        for key in &config.file.virtual_foreign_keys {
            match virtual_keys::parse(key.get_ref()) {
                Ok(mut spec) => {
                    spec.origin = config.at(key);
                    config.virtual_keys.push(spec)
                }
                Err(e) => problems.push(Problem::setting(
                    &config.at(key),
                    format!("virtual foreign key {:?}: {e}", key.get_ref()),
                )),
            }
        }
        for item in &config.file.skip_missing {
            if let Err(e) = crate::snapshot::skip::SkipItem::parse(item.get_ref()) {
                problems.push(Problem::setting(
                    &config.at(item),
                    format!("skip_missing: {e}"),
                ));
            }
        }
        let mut check_name = |name: &Spanned<String>, what: &str| {
            if QualifiedName::parse(name.get_ref()).is_none() {
                problems.push(Problem::setting(
                    &config.at(name),
                    format!(
                        "{what} {:?} is not a table name (schema.table)",
                        name.get_ref()
                    ),
                ));
            }
        };
        for name in &config.file.exclude {
            check_name(name, "exclude");
        }

        for name in &config.file.whole {
            check_name(name, "whole");
        }
        for name in config.file.limits.keys() {
            check_name(name, "limits");
        }
        for name in config.file.filters.keys() {
            check_name(name, "filters");
        }
        for (name, filter) in &config.file.filters {
            if filter.trim().is_empty() {
                problems.push(Problem::setting(
                    &config.at(name),
                    format!("the filter for {} is empty", name.get_ref()),
                ));
            }
        }
        // A table left out cannot also have rows chosen for it.
        for name in &config.file.exclude {
            let parsed = QualifiedName::parse(name.get_ref());
            let same = |other: &Spanned<String>| QualifiedName::parse(other.get_ref()) == parsed;
            for (other, section) in config
                .file
                .whole
                .iter()
                .map(|n| (n, "whole"))
                .chain(config.file.limits.keys().map(|n| (n, "limits")))
                .chain(config.file.filters.keys().map(|n| (n, "filters")))
            {
                if parsed.is_some() && same(other) {
                    problems.push(Problem::setting(
                        &config.at(name),
                        format!(
                            "{} is excluded but also listed in {section} (line {})",
                            name.get_ref(),
                            line_of(&config.text, other.span().start)
                        ),
                    ));
                }
            }
        }
        for name in &config.file.whole {
            let parsed = QualifiedName::parse(name.get_ref());
            if let Some(other) = config
                .file
                .limits
                .keys()
                .find(|o| parsed.is_some() && QualifiedName::parse(o.get_ref()) == parsed)
            {
                problems.push(Problem::setting(
                    &config.at(name),
                    format!(
                        "{} is copied whole but also has a limit (line {}); keep one",
                        name.get_ref(),
                        line_of(&config.text, other.span().start)
                    ),
                ));
            }
        }
        for (entry, which) in [
            (&config.file.source, Side::Source),
            (&config.file.target, Side::Target),
        ] {
            if let Some(entry) = entry {
                let value = entry.get_ref();
                if value.url.is_some() && value.url_env.is_some() {
                    problems.push(Problem::setting(
                        &config.at(entry),
                        format!("[{which}] has both url and url_env; keep one"),
                    ));
                }
                if which == Side::Source && value.pattern.is_some() {
                    problems.push(Problem::setting(
                        &config.at(entry),
                        "pattern applies to [target] only",
                    ));
                }
                if which == Side::Source && value.on_drift.is_some() {
                    problems.push(Problem::setting(
                        &config.at(entry),
                        "on_drift applies to [target] only",
                    ));
                }
            }
        }
        if let Some(pattern) = config
            .file
            .target
            .as_ref()
            .and_then(|t| t.get_ref().pattern.as_ref())
        {
            match regex::Regex::new(pattern) {
                Err(e) => problems.push(Problem::setting(
                    &config.at(config.file.target.as_ref().expect("checked")),
                    format!("[target] pattern {pattern:?} is not a regular expression: {e}"),
                )),
                Ok(regex) if crate::safety::matches_every_sample(&regex) => {
                    problems.push(Problem::setting(
                        &config.at(config.file.target.as_ref().expect("checked")),
                        crate::safety::matches_every_name(pattern),
                    ))
                }
                Ok(_) => {}
            }
        }
        if let Some(masking) = &config.file.masking {
            if let Err(e) = config.masking_rules(masking) {
                problems.extend(e);
            }
            if let Some(variable) = &masking.key_env {
                if variable.get_ref().trim().is_empty() {
                    problems.push(Problem::setting(
                        &config.at(variable),
                        "[masking] key_env is empty: name the environment variable that \
                         holds the key",
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// The rules of `[masking.columns]`, each with its line; every malformed one is a problem.
    fn masking_rules(
        &self,
        masking: &MaskingSection,
    ) -> Result<Vec<masking::RuleSetting>, Vec<Problem>> {
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for (column, rule) in &masking.columns {
            let parsed = masking::parse_target(column.get_ref());
            let rule_parsed = masking::Rule::parse(rule.get_ref());
            match (parsed, rule_parsed) {
                (Ok((column_name, json_path)), Ok(rule_value)) => {
                    rules.push(masking::RuleSetting {
                        column: column_name,
                        json_path,
                        rule: rule_value,
                        origin: self.at(column),
                    })
                }
                (Err(e), _) => problems.push(Problem::setting(
                    &self.at(column),
                    format!("[masking.columns] {e}"),
                )),
                (_, Err(e)) => problems.push(Problem::setting(&self.at(rule), e)),
            }
        }
        if problems.is_empty() {
            Ok(rules)
        } else {
            Err(problems)
        }
    }

    /// The masking settings of the file (off when it has no `[masking]`).
    pub fn masking(&self) -> masking::MaskingOptions {
        let Some(section) = &self.file.masking else {
            return masking::MaskingOptions {
                key_env: masking::DEFAULT_KEY_ENV.to_string(),
                ..Default::default()
            };
        };
        masking::MaskingOptions {
            enabled: true,
            key_env: section
                .key_env
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_else(|| masking::DEFAULT_KEY_ENV.to_string()),
            strict: section.strict,
            rules: self.masking_rules(section).unwrap_or_default(),
        }
    }

    /// The snapshot directory the file names, relative to the file's directory.
    pub fn dir(&self) -> Option<PathBuf> {
        let dir = self.file.dir.as_ref()?;
        let base = self.path.parent().unwrap_or(Path::new(""));
        Some(base.join(dir))
    }

    /// The overlay directory the file names, relative to the file's directory.
    pub fn overlay(&self) -> Option<PathBuf> {
        let dir = self.file.overlay.as_ref()?;
        let base = self.path.parent().unwrap_or(Path::new(""));
        Some(base.join(dir))
    }

    /// The URL of `[source]` or `[target]`, when the file gives one: the URL, or the value of
    /// the variable it names (an unset variable is an error naming the line).
    pub fn url(&self, which: Side, env: &dyn Environment) -> Result<Option<String>> {
        let entry = match which {
            Side::Source => &self.file.source,
            Side::Target => &self.file.target,
        };
        let Some(entry) = entry else {
            return Ok(None);
        };
        let value = entry.get_ref();
        if let Some(url) = &value.url {
            return Ok(Some(url.clone()));
        }
        let Some(variable) = &value.url_env else {
            return Ok(None);
        };
        match env.var(variable.get_ref()) {
            Some(url) if !url.is_empty() => Ok(Some(url)),
            // A setting the environment does not fill: bad input (exit 4), with its place.
            _ => Err(problem::refuse(
                ExitKind::BadInput,
                Problem::setting(
                    &self.at(variable),
                    format!(
                        "[{which}] url_env names {}, which is not set: set it, or give --{which}",
                        variable.get_ref()
                    ),
                ),
            )),
        }
    }

    /// Per-table limits from the file, whole tables first: `(table, limit)` in file order.
    pub fn table_limits(&self) -> Vec<(QualifiedName, Option<u64>)> {
        let whole = self.file.whole.iter().map(|n| (n, None));
        let limits = self.file.limits.iter().map(|(n, l)| (n, l.0));
        whole
            .chain(limits)
            .filter_map(|(name, limit)| Some((QualifiedName::parse(name.get_ref())?, limit)))
            .collect()
    }

    /// Where each table setting of the file is, keyed like [`crate::prepare::ExportOptions`]'s
    /// origins: `(Exclude, app.users) -> "seedsnap.toml:3 (exclude)"`.
    pub fn table_origins(&self) -> HashMap<(TableSetting, QualifiedName), String> {
        let mut origins = HashMap::new();
        let sections = [
            (
                TableSetting::Exclude,
                "exclude",
                self.file.exclude.iter().collect::<Vec<_>>(),
            ),
            (
                TableSetting::TableLimit,
                "whole",
                self.file.whole.iter().collect(),
            ),
            (
                TableSetting::TableLimit,
                "limits",
                self.file.limits.keys().collect(),
            ),
            (
                TableSetting::Filter,
                "filters",
                self.file.filters.keys().collect(),
            ),
        ];
        for (flag, section, names) in sections {
            for name in names {
                if let Some(table) = QualifiedName::parse(name.get_ref()) {
                    origins.insert((flag, table), format!("{} ({section})", self.at(name)));
                }
            }
        }
        origins
    }

    /// The tables and columns `skip_missing` names (checked when the file was loaded).
    pub fn skip_missing(&self) -> Vec<crate::snapshot::skip::SkipItem> {
        self.file
            .skip_missing
            .iter()
            .filter_map(|item| crate::snapshot::skip::SkipItem::parse(item.get_ref()).ok())
            .collect()
    }

    /// Where each `skip_missing` entry is written (`seedsnap.toml:4`).
    pub fn skip_missing_origins(&self) -> Vec<(crate::snapshot::skip::SkipItem, String)> {
        self.file
            .skip_missing
            .iter()
            .filter_map(|item| {
                let parsed = crate::snapshot::skip::SkipItem::parse(item.get_ref()).ok()?;
                Some((parsed, self.at(item)))
            })
            .collect()
    }

    pub fn exclude(&self) -> Vec<QualifiedName> {
        self.file
            .exclude
            .iter()
            .filter_map(|n| QualifiedName::parse(n.get_ref()))
            .collect()
    }

    pub fn filters(&self) -> Vec<(QualifiedName, String)> {
        self.file
            .filters
            .iter()
            .filter_map(|(n, f)| Some((QualifiedName::parse(n.get_ref())?, f.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeEnvironment(Vec<(String, String)>);
    impl FakeEnvironment {
        fn with(pairs: &[(&str, &str)]) -> Self {
            FakeEnvironment(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        }
    }
    impl Environment for FakeEnvironment {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
        fn home(&self) -> Option<PathBuf> {
            None
        }
    }

    fn parse(text: &str) -> Result<Config, Vec<String>> {
        // The problems as printed.
        Config::parse(Path::new("conf/seedsnap.toml"), text.to_string())
            .map_err(|problems| problems.iter().map(|p| p.to_string()).collect())
    }

    const EVERY_KEY: &str = r#"
dir = "seed"
limit = 50
schemas = ["app", "analytics"]
exclude = ["analytics.page_views"]
whole = ["app.tags"]
virtual_foreign_keys = [
  "app.content_tags(content_id) -> app.content_items(id) when content_source = 'items'",
  "app.content_tags(content_id) -> app.content_items_auto(id) when content_source = 'auto'",
]

[source]
url_env = "DEMO_DATABASE_URL"

[target]
url = "postgresql://localhost/app_test"
pattern = "_test$"
on_drift = "keep"

[limits]
"app.users" = 20
"app.ratings" = "all"

[filters]
"app.content_items" = "status = 'published'"
"#;

    #[test]
    fn every_key_is_read() {
        let config = parse(EVERY_KEY).unwrap();
        assert_eq!(config.dir(), Some(PathBuf::from("conf/seed")));
        assert_eq!(config.file.limit, Some(LimitValue(Some(50))));
        assert_eq!(
            config.file.schemas,
            Some(vec!["app".to_string(), "analytics".to_string()])
        );
        assert_eq!(
            config.exclude(),
            vec![QualifiedName::new("analytics", "page_views")]
        );
        assert_eq!(
            config.table_limits(),
            vec![
                (QualifiedName::new("app", "tags"), None),
                (QualifiedName::new("app", "ratings"), None),
                (QualifiedName::new("app", "users"), Some(20)),
            ]
        );
        assert_eq!(
            config.filters(),
            vec![(
                QualifiedName::new("app", "content_items"),
                "status = 'published'".to_string()
            )]
        );
        assert_eq!(config.virtual_keys.len(), 2);
        assert_eq!(config.virtual_keys[1].condition[0].value, "auto");
        let env = FakeEnvironment::with(&[("DEMO_DATABASE_URL", "postgresql://demo")]);
        assert_eq!(
            config.url(Side::Source, &env).unwrap().as_deref(),
            Some("postgresql://demo")
        );
        assert_eq!(
            config.url(Side::Target, &env).unwrap().as_deref(),
            Some("postgresql://localhost/app_test")
        );
        assert_eq!(
            config
                .file
                .target
                .as_ref()
                .unwrap()
                .get_ref()
                .pattern
                .as_deref(),
            Some("_test$")
        );
        assert_eq!(
            config.file.target.as_ref().unwrap().get_ref().on_drift,
            Some(crate::import::drift::OnDrift::Keep)
        );
    }

    #[test]
    fn an_unset_url_variable_names_the_line() {
        let config = parse(EVERY_KEY).unwrap();
        let error = config
            .url(Side::Source, &FakeEnvironment::with(&[]))
            .unwrap_err();
        assert!(
            error.to_string().contains(
                "conf/seedsnap.toml:13: [source] url_env names DEMO_DATABASE_URL, which is not set"
            ),
            "{error}"
        );
    }

    #[test]
    fn an_empty_file_sets_nothing() {
        let config = parse("").unwrap();
        assert_eq!(config.dir(), None);
        assert!(config.table_limits().is_empty() && config.virtual_keys.is_empty());
        assert_eq!(
            config
                .url(Side::Source, &FakeEnvironment::with(&[]))
                .unwrap(),
            None
        );
    }

    #[test]
    fn syntax_errors_and_unknown_keys_name_the_line() {
        let problems = parse("limit = 5\nlimitt = 3\n").unwrap_err();
        assert!(
            problems[0].starts_with("conf/seedsnap.toml:2: unknown field `limitt`"),
            "{problems:?}"
        );
        let problems = parse("limit = 0\n").unwrap_err();
        assert!(
            problems[0].contains(":1: a limit must be at least 1"),
            "{problems:?}"
        );
        let problems = parse("[limits]\n\"app.users\" = \"many\"\n").unwrap_err();
        assert!(
            problems[0].contains(":2: \"many\" is not a limit"),
            "{problems:?}"
        );
        let problems = parse("dir = [\n").unwrap_err();
        assert!(
            problems[0].starts_with("conf/seedsnap.toml:"),
            "{problems:?}"
        );
    }

    #[test]
    fn static_problems_are_all_reported() {
        let text = r#"
exclude = ["app.users", "a.b.c"]
whole = ["app.tags"]
virtual_foreign_keys = ["a(x) b(y)", "a(x) -> b(y)"]

[source]
url = "postgresql://demo"
url_env = "DEMO"
pattern = "x"

[target]
pattern = "("

[limits]
"app.users" = 5
"app.tags" = 5

[filters]
"app.users" = " "
"#;
        let problems = parse(text).unwrap_err();
        let expected = [
            "conf/seedsnap.toml:4: virtual foreign key \"a(x) b(y)\": expected \"->\" at character 6",
            "conf/seedsnap.toml:2: exclude \"a.b.c\" is not a table name",
            "conf/seedsnap.toml:19: the filter for app.users is empty",
            "conf/seedsnap.toml:2: app.users is excluded but also listed in limits (line 15)",
            "conf/seedsnap.toml:2: app.users is excluded but also listed in filters (line 19)",
            "conf/seedsnap.toml:3: app.tags is copied whole but also has a limit (line 16)",
            "[source] has both url and url_env",
            "pattern applies to [target] only",
            "[target] pattern \"(\" is not a regular expression",
        ];
        for text in expected {
            assert!(
                problems.iter().any(|p| p.contains(text)),
                "{text} not in {problems:#?}"
            );
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    }

    #[test]
    fn masking_rules_are_read_with_their_lines() {
        let config = parse(
            "[masking]\nkey_env = \"MY_KEY\"\nstrict = true\n[masking.columns]\n\
             \"app.users.email\" = \"email\"\n\"app.users.settings#profile.phone\" = \"phone\"\n",
        )
        .unwrap();
        let masking = config.masking();
        assert!(masking.enabled && masking.strict);
        assert_eq!(masking.key_env, "MY_KEY");
        let rules: Vec<String> = masking
            .effective_rules()
            .iter()
            .map(|r| format!("{} {} {}", r.target(), r.rule, r.origin))
            .collect();
        assert_eq!(
            rules,
            [
                "app.users.email email conf/seedsnap.toml:5",
                "app.users.settings#profile.phone phone conf/seedsnap.toml:6"
            ]
        );
        // Without [masking], masking is off and the key variable is the default.
        let off = parse("").unwrap().masking();
        assert!(!off.enabled && off.key_env == masking::DEFAULT_KEY_ENV);

        let problems = parse(
            "[masking]\nkey_env = \"\"\n[masking.columns]\n\"email\" = \"email\"\n\
             \"app.users.x\" = \"scramble\"\n\"app.users.y#a..b\" = \"text\"\n",
        )
        .unwrap_err();
        let expected = [
            "conf/seedsnap.toml:4: [masking.columns] \"email\" is not a column name",
            "conf/seedsnap.toml:5: \"scramble\" is not a masking rule",
            "conf/seedsnap.toml:6: [masking.columns] \"a..b\" is not a JSON path",
            "conf/seedsnap.toml:2: [masking] key_env is empty",
        ];
        for text in expected {
            assert!(
                problems.iter().any(|p| p.contains(text)),
                "{text} not in {problems:#?}"
            );
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    }

    #[test]
    fn the_file_is_found_upwards() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(Config::locate_from(None, false, &deep), None);
        std::fs::write(root.path().join(FILE_NAME), "").unwrap();
        let found = Config::locate_from(None, false, &deep).unwrap();
        assert_eq!(found, PathBuf::from("../../seedsnap.toml"));
        assert!(deep.join(&found).is_file());
        assert_eq!(Config::locate_from(None, true, &deep), None);
        let mut config = parse("").unwrap();
        config.path = found;
        config.found_by_search = true;
        assert_eq!(
            config.default_dir("fixtures/snapshot"),
            PathBuf::from("../../fixtures/snapshot")
        );
    }

    #[test]
    fn the_file_is_found_only_where_told() {
        assert_eq!(Config::locate(Some(Path::new("x.toml")), true), None);
        assert_eq!(
            Config::locate(Some(Path::new("x.toml")), false),
            Some(PathBuf::from("x.toml"))
        );
    }
}
