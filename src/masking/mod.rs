//! Masking: personal data never reaches the snapshot, and every key still holds.
//!
//! Rules come from `[masking.columns]` of `seedsnap.toml` and `--mask` flags (a flag wins for
//! its column). This module
//! - resolves them against the source's catalog ([`check`], used by `check-config`, `plan` and
//!   `export` alike): unknown columns, a rule that does not fit the column's type or length,
//!   `null` on a NOT NULL column, a rule that would break a key, and — in strict mode — columns
//!   that look personal and have no rule;
//! - propagates a rule on a referenced column to every column that references it (declared and
//!   virtual foreign keys, composite ones included), so both sides get the same values
//!   ([`Plan`]); a rule on a referencing column alone is refused;
//! - masks the rows of a table between the source's COPY and the file ([`mask_tables`]): in
//!   memory, so no file ever holds an original value. Columns under a primary key, UNIQUE
//!   constraint or unique index (and the columns that share their values through foreign keys)
//!   stay unique: a collision is resolved by asking the rule for another candidate, in the
//!   order of the original values (never of the rows), or fails naming the column;
//! - checks masked values against the domain CHECKs of their column on the source
//!   ([`check_domains`]), inside the export's read-only transaction;
//! - fingerprints the key and the rules for the manifest ([`fingerprint`]), so that `verify`
//!   can tell a snapshot masked with another key or other rules.
//!
//! The keyed function and the rules themselves are in [`rules`].

pub mod json;
pub mod replaced;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use anyhow::Result;
use postgres::GenericClient;

use crate::catalog::{quote_literal, split_dotted, Catalog, Column, QualifiedName};
use crate::connection::Environment;
use crate::error::{failure, ExitKind};
use crate::problem::{self, Problem, Subject};
use crate::snapshot::copy_text;
use crate::snapshot::manifest::ManifestMasking;
pub use crate::snapshot::manifest::MaskedColumn;
use crate::virtual_keys;
pub use json::JsonPath;
pub use rules::{Fit, Key, Rule};

const MASKED_COLUMNS_SQL: &str = include_str!("../catalog/masked_columns.sql");

/// The environment variable holding the key when `[masking]` names none.
pub const DEFAULT_KEY_ENV: &str = "SEEDSNAP_MASK_KEY";

/// How many other candidates a unique column may ask a rule for before the export gives up.
const MAX_ATTEMPTS: u32 = 1000;

/// Masked values of at most this many bytes are remembered per group during an export.
const CACHED_LENGTH: usize = 64;

/// `schema.table.column` (a bare `table.column` means schema `public`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColumnName {
    pub table: QualifiedName,
    pub column: String,
}

impl ColumnName {
    pub fn parse(text: &str) -> Option<ColumnName> {
        let mut parts = split_dotted(text)?;
        let column = parts.pop()?;
        let table = match parts.as_slice() {
            [name] => QualifiedName::new("public", name.clone()),
            [schema, name] => QualifiedName::new(schema.clone(), name.clone()),
            _ => return None,
        };
        Some(ColumnName { table, column })
    }
}

/// What a rule names: `schema.table.column`, or `schema.table.column#json.path` for values
/// inside a `json`/`jsonb` column (see [`json`]).
pub fn parse_target(text: &str) -> Result<(ColumnName, Option<JsonPath>), String> {
    let (column, path) = match text.split_once('#') {
        Some((column, path)) => (column, Some(JsonPath::parse(path)?)),
        None => (text, None),
    };
    let column = ColumnName::parse(column.trim()).ok_or_else(|| {
        format!("{column:?} is not a column name (schema.table.column[#json.path])")
    })?;
    Ok((column, path))
}

impl fmt::Display for ColumnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// One rule for one column, and where it was written (`seedsnap.toml:12`, or `--mask`).
#[derive(Debug, Clone)]
pub struct RuleSetting {
    pub column: ColumnName,
    /// A rule for the values at this path inside a `json`/`jsonb` column.
    pub json_path: Option<JsonPath>,
    pub rule: Rule,
    pub origin: String,
}

impl RuleSetting {
    /// `schema.table.column` or `schema.table.column#path`.
    pub fn target(&self) -> String {
        match &self.json_path {
            Some(path) => format!("{}#{path}", self.column),
            None => self.column.to_string(),
        }
    }
}

/// The masking settings: the config file's `[masking]` with the `--mask` flags over it.
#[derive(Debug, Clone, Default)]
pub struct MaskingOptions {
    /// `[masking]` is present or `--mask` was given: the export needs the key.
    pub enabled: bool,
    /// The variable holding the key.
    pub key_env: String,
    pub strict: bool,
    /// Later settings win for their column (the file's first, then the flags').
    pub rules: Vec<RuleSetting>,
}

impl MaskingOptions {
    /// One setting per column or JSON path (the last given wins), sorted.
    pub fn effective_rules(&self) -> Vec<&RuleSetting> {
        let mut by_column: BTreeMap<(&ColumnName, &Option<JsonPath>), &RuleSetting> =
            BTreeMap::new();
        for setting in &self.rules {
            by_column.insert((&setting.column, &setting.json_path), setting);
        }
        by_column.into_values().collect()
    }

    /// The key, when masking is on. A missing or short key is a usage error naming the
    /// variable (never its value).
    pub fn load_key(&self, env: &dyn Environment) -> Result<Option<Key>> {
        if !self.enabled {
            return Ok(None);
        }
        let variable = &self.key_env;
        match env.var(variable) {
            Some(value) if !value.is_empty() => {
                Key::new(value.into_bytes()).map(Some).map_err(|e| {
                    failure(
                        ExitKind::BadInput,
                        format!("the masking key in {variable} {e}; nothing was exported"),
                    )
                })
            }
            _ => Err(failure(
                ExitKind::BadInput,
                format!(
                    "masking is configured but {variable} (the masking key, [masking] key_env) \
                     is not set: set it to a secret of at least {} bytes; nothing was exported",
                    rules::MIN_KEY_BYTES
                ),
            )),
        }
    }
}

/// `hmac-sha256:…` over the rules, under the key: equal for the same key and rules, different
/// otherwise, and useless for guessing the key.
pub fn fingerprint(key: &Key, options: &MaskingOptions) -> String {
    let rules: String = options
        .effective_rules()
        .iter()
        .map(|s| format!("{}={}\n", s.target(), s.rule))
        .collect();
    let mac = key.hmac(&[b"seedsnap-mask-fingerprint-v1", rules.as_bytes()]);
    format!("hmac-sha256:{}", crate::snapshot::hex(&mac[..16]))
}

/// Whether a snapshot's masking (its manifest's record) matches the settings: `None` when it
/// does, or when it cannot be told (no `[masking]`, or the key is not set here); otherwise
/// what is wrong.
pub fn compare(
    recorded: Option<&ManifestMasking>,
    options: &MaskingOptions,
    env: &dyn Environment,
) -> Option<String> {
    if !options.enabled {
        return None;
    }
    let Some(recorded) = recorded else {
        return Some(
            "the snapshot is not masked, but the config file has [masking]: export it again"
                .to_string(),
        );
    };
    let key = options.load_key(env).ok()??;
    let expected = fingerprint(&key, options);
    (recorded.fingerprint != expected).then(|| {
        format!(
            "the snapshot was masked with another key or other rules than the config file's \
             [masking] (fingerprint {}, expected {expected} with the key in {}): export it again",
            recorded.fingerprint, options.key_env
        )
    })
}

/// Columns that share masked values: a column with a rule and every column that references
/// it, directly or through others.
#[derive(Debug, Clone)]
pub struct Group {
    pub rule: Rule,
    /// The column the rule was written for.
    pub root: ColumnName,
    /// The narrowest column of the group.
    pub fit: Fit,
    /// Some member is under a unique key (or referenced): masked values must stay distinct.
    pub unique: bool,
    /// `(table, stored-column index)`.
    pub members: Vec<(usize, usize)>,
    /// How the members' types compare values, which the masked values must follow.
    pub fold: Fold,
}

/// What the equality of a group's root column ignores (the column with the rule, whose key
/// the others reference and compare with): values it calls equal must be masked alike (a
/// `citext` child's `ANN@X.ORG` references its `citext` parent's `ann@x.org`; a `varchar`
/// child's `AB12` a `char(12)` parent's `AB12` padded with spaces), and masked values it calls
/// equal collide under a unique key (`Q` and `q` in a unique `citext`). The rule is given the
/// folded value. A child's own type does not fold the group: a case-sensitive `text` key may
/// hold `Ann` and `ann`, which must stay two masked values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fold {
    /// The root is `citext`, or has a unique index on `lower(column)` or `upper(column)`: case
    /// is ignored (folded character by character, as the database's `lower()` does; it agrees
    /// on every ASCII letter, and on other letters in most locales).
    pub case: bool,
    /// A member is `char(n)`: trailing spaces are ignored.
    pub trailing_spaces: bool,
}

impl Fold {
    /// The value as the rule sees it.
    pub fn input<'a>(&self, value: &'a str) -> std::borrow::Cow<'a, str> {
        let value = match self.trailing_spaces {
            true => value.trim_end_matches(' '),
            false => value,
        };
        match self.case {
            // Character by character, as the database's lower() (towlower) does: no final
            // sigma or other context, and a character whose lower case is several keeps itself.
            true => value
                .chars()
                .map(|c| {
                    let mut lower = c.to_lowercase();
                    match (lower.next(), lower.next()) {
                        (Some(single), None) => single,
                        _ => c,
                    }
                })
                .collect::<String>()
                .into(),
            false => value.into(),
        }
    }
}

/// One masked column of a table.
#[derive(Debug, Clone)]
pub struct ColumnMask {
    /// Index among the table's stored columns (= field of the data file).
    pub field: usize,
    /// The group whose values the column shares (`None` for JSON path rules).
    pub group: Option<usize>,
    /// Rules inside a `json`/`jsonb` value.
    pub json: Vec<(JsonPath, Rule)>,
    pub name: ColumnName,
    /// The column's type when it is a domain with CHECKs: masked values are cast to it.
    pub check_type: Option<String>,
}

/// The masking of one export, over the catalog it was built for.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub groups: Vec<Group>,
    /// By table index.
    pub tables: BTreeMap<usize, Vec<ColumnMask>>,
    /// Every masked column, sorted.
    pub columns: Vec<MaskedColumn>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Builds the plan; `check` has already reported any problem, so one here is an error.
    /// Without `[masking]` or `--mask` there are no rules: the plan is empty, and neither the
    /// catalog is walked nor the column types query sent (4 ms on 1,000 tables).
    pub fn build(
        client: &mut impl GenericClient,
        catalog: &Catalog,
        options: &MaskingOptions,
    ) -> Result<Plan> {
        if !options.enabled {
            return Ok(Plan::default());
        }
        let keep = vec![true; catalog.tables.len()];
        let (plan, problems) = resolve(client, catalog, options, &keep, Scope::Restricted)?;
        problem::check(
            ExitKind::BadInput,
            "the masking rules do not fit:",
            &problems,
        )?;
        Ok(plan)
    }
}

/// Every problem of the masking settings against the catalog, for the tables marked `keep`
/// (strict mode looks at those only).
pub fn check(
    client: &mut impl GenericClient,
    catalog: &Catalog,
    options: &MaskingOptions,
    keep: &[bool],
) -> Result<Vec<Problem>> {
    if !options.enabled {
        return Ok(Vec::new());
    }
    Ok(resolve(client, catalog, options, keep, Scope::Full)?.1)
}

/// Which catalog the rules are resolved against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every table read: a rule naming another table is a problem.
    Full,
    /// The tables an export takes (after `--only`, `--exclude`): rules for the others, checked
    /// already, do not apply.
    Restricted,
}

/// What masking needs to know of a column's type.
#[derive(Debug, Clone)]
struct TypeInfo {
    base_type: String,
    /// `pg_type.typcategory`: `S` for strings.
    category: String,
    max_chars: Option<usize>,
    domain_checks: bool,
    /// A unique index on `lower(column)` or `upper(column)`.
    case_blind_unique: bool,
}

fn read_types(
    client: &mut impl GenericClient,
    catalog: &Catalog,
    columns: &[(usize, String)],
) -> Result<HashMap<(usize, String), TypeInfo>> {
    let oids: Vec<i64> = columns
        .iter()
        .map(|(t, _)| catalog.tables[*t].oid as i64)
        .collect();
    let names: Vec<&str> = columns.iter().map(|(_, c)| c.as_str()).collect();
    let by_oid: HashMap<i64, usize> = catalog
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.oid as i64, i))
        .collect();
    let mut types = HashMap::new();
    for row in client.query(MASKED_COLUMNS_SQL, &[&oids, &names])? {
        let max_chars: Option<i32> = row.get("max_chars");
        types.insert(
            (
                by_oid[&row.get::<_, i64>("table_oid")],
                row.get("column_name"),
            ),
            TypeInfo {
                base_type: row.get("base_type"),
                category: row.get("category"),
                max_chars: max_chars.map(|n| n as usize),
                domain_checks: row.get("domain_checks"),
                case_blind_unique: row.get("case_blind_unique"),
            },
        );
    }
    Ok(types)
}

type Col = (usize, String);

/// Resolves the rules against the catalog: the plan, and every problem.
fn resolve(
    client: &mut impl GenericClient,
    catalog: &Catalog,
    options: &MaskingOptions,
    keep: &[bool],
    scope: Scope,
) -> Result<(Plan, Vec<Problem>)> {
    let mut problems = Vec::new();
    let (explicit, json_rules) = placed_settings(catalog, options, scope, &mut problems);
    let (parents, referenced) = key_pairs(catalog);
    let effective = effective_rules(catalog, &explicit, &parents, &mut problems);
    condition_problems(catalog, &effective, &mut problems);
    let mut masked: Vec<Col> = effective.keys().cloned().collect();
    masked.sort();
    let mut typed = masked.clone();
    typed.extend(json_rules.keys().cloned());
    let resolved = Resolved {
        catalog,
        types: read_types(client, catalog, &typed)?,
        unique_columns: unique_columns(catalog, &referenced),
        explicit,
        json_rules,
        effective,
    };
    let mut plan = Plan::default();
    resolved.plan_masked(client, &masked, &mut plan, &mut problems)?;
    resolved.plan_json(&mut plan, &mut problems);
    plan.columns.sort_by(|a, b| a.column.cmp(&b.column));
    if options.strict {
        problems.extend(resolved.strict_problem(keep));
    }
    Ok((plan, problems))
}

/// The `schema.table.column` name of a catalog column.
fn column_name(catalog: &Catalog, (t, c): &Col) -> ColumnName {
    ColumnName {
        table: catalog.tables[*t].name.clone(),
        column: c.clone(),
    }
}

/// Which settings name a column of the catalog (whole-value rules by column, JSON path rules
/// grouped by column); the others are problems, or skipped outside a restricted scope.
fn placed_settings<'a>(
    catalog: &Catalog,
    options: &'a MaskingOptions,
    scope: Scope,
    problems: &mut Vec<Problem>,
) -> (
    HashMap<Col, &'a RuleSetting>,
    BTreeMap<Col, Vec<&'a RuleSetting>>,
) {
    let mut explicit: HashMap<Col, &RuleSetting> = HashMap::new();
    let mut json_rules: BTreeMap<Col, Vec<&RuleSetting>> = BTreeMap::new();
    for setting in options.effective_rules() {
        if scope == Scope::Restricted && catalog.find(&setting.column.table).is_none() {
            continue;
        }
        let Some(column) = place_setting(catalog, setting, problems) else {
            continue;
        };
        match setting.json_path {
            Some(_) => json_rules.entry(column).or_default().push(setting),
            None => {
                explicit.insert(column, setting);
            }
        }
    }
    (explicit, json_rules)
}

/// The catalog column a setting names, or `None` with the problem recorded when its table or
/// column is not there.
fn place_setting(
    catalog: &Catalog,
    setting: &RuleSetting,
    problems: &mut Vec<Problem>,
) -> Option<Col> {
    let used_in = Subject::new(&setting.origin, format!("mask {}", setting.target()));
    let t = match virtual_keys::find_table(catalog, &setting.column.table, &used_in) {
        Ok(t) => t,
        Err(problem) => {
            // Not in the schemas read: the same message as for other table settings.
            problems.push(problem);
            return None;
        }
    };
    let before = problems.len();
    virtual_keys::check_columns(
        &catalog.tables[t],
        std::slice::from_ref(&setting.column.column),
        &used_in,
        problems,
    );
    (problems.len() == before).then(|| (t, setting.column.column.clone()))
}

/// Which columns each column references, pair by pair (sorted, without repeats), and every
/// referenced column.
fn key_pairs(catalog: &Catalog) -> (HashMap<Col, Vec<Col>>, HashSet<Col>) {
    let mut parents: HashMap<Col, Vec<Col>> = HashMap::new();
    let mut referenced: HashSet<Col> = HashSet::new();
    for fk in &catalog.foreign_keys {
        for (c, p) in fk.columns.iter().zip(&fk.parent_columns) {
            let parent = (fk.parent, p.clone());
            parents
                .entry((fk.child, c.clone()))
                .or_default()
                .push(parent.clone());
            referenced.insert(parent);
        }
    }
    for list in parents.values_mut() {
        list.sort();
        list.dedup();
    }
    (parents, referenced)
}

/// The rule each column ends up with, and the column it follows, for every column with a
/// setting or a foreign key.
fn effective_rules(
    catalog: &Catalog,
    explicit: &HashMap<Col, &RuleSetting>,
    parents: &HashMap<Col, Vec<Col>>,
    problems: &mut Vec<Problem>,
) -> HashMap<Col, (Rule, Col)> {
    let name_of = |column: &Col| column_name(catalog, column);
    let mut effective: HashMap<Col, (Rule, Col)> = HashMap::new();
    let mut visiting = HashSet::new();
    let mut columns: Vec<Col> = explicit.keys().cloned().collect();
    columns.extend(parents.keys().cloned());
    columns.sort();
    columns.dedup();
    for column in &columns {
        effective_rule(
            column,
            explicit,
            parents,
            &mut effective,
            &mut visiting,
            problems,
            &name_of,
        );
    }
    effective
}

/// A masked column that decides which table a virtual foreign key points at is a problem.
fn condition_problems(
    catalog: &Catalog,
    effective: &HashMap<Col, (Rule, Col)>,
    problems: &mut Vec<Problem>,
) {
    for fk in catalog
        .foreign_keys
        .iter()
        .filter(|k| !k.condition().is_empty())
    {
        for condition in fk.condition() {
            let column = (fk.child, condition.column.clone());
            if let Some((rule, _)) = effective.get(&column) {
                problems.push(Problem::unplaced(format!(
                    "{} decides which table the virtual foreign key {:?} points at: the {rule} \
                     rule would break the key; mark it keep",
                    column_name(catalog, &column),
                    fk.name
                )));
            }
        }
    }
}

/// The columns under a unique key, and the referenced ones: their values must stay apart.
fn unique_columns(catalog: &Catalog, referenced: &HashSet<Col>) -> HashSet<Col> {
    catalog
        .tables
        .iter()
        .enumerate()
        .flat_map(|(t, table)| {
            table
                .unique_keys
                .iter()
                .flat_map(move |k| k.columns.iter().map(move |c| (t, c.clone())))
        })
        .chain(referenced.iter().cloned())
        .collect()
}

/// The rules resolved against the catalog, before the plan is built from them.
struct Resolved<'a> {
    catalog: &'a Catalog,
    explicit: HashMap<Col, &'a RuleSetting>,
    json_rules: BTreeMap<Col, Vec<&'a RuleSetting>>,
    effective: HashMap<Col, (Rule, Col)>,
    types: HashMap<Col, TypeInfo>,
    unique_columns: HashSet<Col>,
}

/// One masked column as its problems describe it.
struct MaskedUse<'a> {
    name: ColumnName,
    /// The rule and where it comes from, as the messages say it.
    how: String,
    info: &'a Column,
    types: &'a TypeInfo,
}

impl Resolved<'_> {
    /// Checks every column masked whole (in `masked` order) and adds it to the plan, in the
    /// group of the column it follows.
    fn plan_masked(
        &self,
        client: &mut impl GenericClient,
        masked: &[Col],
        plan: &mut Plan,
        problems: &mut Vec<Problem>,
    ) -> Result<()> {
        let mut group_of: HashMap<Col, usize> = HashMap::new();
        for column in masked {
            let (rule, root) = &self.effective[column];
            let info = self.catalog.tables[column.0]
                .column(&column.1)
                .expect("checked");
            let name = column_name(self.catalog, column);
            let how = if root == column {
                format!("{} ({rule})", self.explicit[column].origin)
            } else {
                format!("{rule}, following {}", column_name(self.catalog, root))
            };
            let Some(types) = self.types.get(column) else {
                continue;
            };
            let masked_use = MaskedUse {
                name,
                how,
                info,
                types,
            };
            self.rule_fit_problems(column, rule, &masked_use, problems);
            if let Rule::Constant(value) = rule {
                masked_use.constant_problems(client, value, problems)?;
            }
            self.join_group(column, &masked_use, plan, &mut group_of);
        }
        Ok(())
    }

    /// Whether the rule fits the column's type, length, NOT NULL and keys.
    fn rule_fit_problems(
        &self,
        column: &Col,
        rule: &Rule,
        masked: &MaskedUse,
        problems: &mut Vec<Problem>,
    ) {
        let MaskedUse {
            name,
            how,
            info,
            types,
        } = masked;
        if rule.needs_text_column() && types.category != "S" {
            // Only the rules that fit the type: hash needs text or a uuid, and JSON values
            // take path rules for the strings inside them.
            let instead = match types.base_type.as_str() {
                "uuid" => "use hash, null, constant:VALUE or keep".to_string(),
                "json" | "jsonb" => format!(
                    "use a rule on a path inside it (\"{name}#path.to.field\" = \"{rule}\"), null, \
                     constant:VALUE or keep"
                ),
                _ => "use null, constant:VALUE or keep".to_string(),
            };
            problems.push(Problem::unplaced(format!(
                "{name} is {}: the {rule} rule ({how}) writes text; {instead}",
                info.type_name
            )));
        }
        if *rule == Rule::Hash && types.category != "S" && types.base_type != "uuid" {
            problems.push(Problem::unplaced(format!(
                "{name} is {}: the hash rule ({how}) needs a text or uuid column",
                info.type_name
            )));
        }
        if let Some(max) = types.max_chars {
            if max < rule.min_chars() {
                problems.push(Problem::unplaced(format!(
                    "{name} is {}: too short for the {rule} rule ({how}), which needs {} \
                     characters",
                    info.type_name,
                    rule.min_chars()
                )));
            }
        }
        if *rule == Rule::Null && info.not_null {
            problems.push(Problem::unplaced(format!(
                "{name} is NOT NULL: the null rule ({how}) cannot apply; use constant:VALUE, \
                 hash or text"
            )));
        }
        if !rule.keeps_values_apart() && self.unique_columns.contains(column) {
            problems.push(Problem::unplaced(format!(
                "{name} is under a unique key or referenced by a foreign key: the {rule} rule \
                 ({how}) gives every row the same value and would break the key; use hash, \
                 text or email"
            )));
        }
    }

    /// Adds a masked column to the group of the column it follows (a new group for the first
    /// one), and to the plan's tables and columns.
    fn join_group(
        &self,
        column: &Col,
        masked: &MaskedUse,
        plan: &mut Plan,
        group_of: &mut HashMap<Col, usize>,
    ) {
        let (rule, root) = &self.effective[column];
        let table = &self.catalog.tables[column.0];
        let Some(field) = table.stored_columns().position(|c| c.name == column.1) else {
            return;
        };
        let group = *group_of.entry(root.clone()).or_insert_with(|| {
            plan.groups.push(Group {
                rule: rule.clone(),
                root: column_name(self.catalog, root),
                fit: Fit::default(),
                unique: false,
                members: Vec::new(),
                fold: Fold::default(),
            });
            plan.groups.len() - 1
        });
        let g = &mut plan.groups[group];
        g.members.push((column.0, field));
        // How the values compare is the root's to say: the columns that reference it compare
        // with its key's equality, and a case-sensitive unique root may hold `Ann` and `ann`,
        // which a citext child folding the group would make one masked value twice.
        if column == root {
            g.fold.case = masked.types.base_type == "citext" || masked.types.case_blind_unique;
            g.fold.trailing_spaces = masked.types.base_type == "bpchar";
        }
        g.unique |= masked.types.case_blind_unique;
        g.unique |= self.unique_columns.contains(column);
        g.fit.uuid = masked.types.base_type == "uuid";
        g.fit.max_chars = match (g.fit.max_chars, masked.types.max_chars) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        plan.tables.entry(column.0).or_default().push(ColumnMask {
            field,
            group: Some(group),
            json: Vec::new(),
            name: masked.name.clone(),
            check_type: masked
                .types
                .domain_checks
                .then(|| masked.info.type_name.to_string()),
        });
        plan.columns.push(MaskedColumn {
            column: masked.name.to_string(),
            rule: rule.to_string(),
            via: (root != column).then(|| column_name(self.catalog, root).to_string()),
        });
    }

    /// Checks every column with JSON path rules and adds the ones that fit to the plan.
    fn plan_json(&self, plan: &mut Plan, problems: &mut Vec<Problem>) {
        for (column, settings) in &self.json_rules {
            let Some(info) = self.types.get(column) else {
                continue;
            };
            let type_name = &self.catalog.tables[column.0]
                .column(&column.1)
                .expect("checked")
                .type_name;
            if let Some(message) = self.json_problem(column, info, type_name) {
                problems.push(Problem::setting(&settings[0].origin, message));
                continue;
            }
            let table = &self.catalog.tables[column.0];
            let Some(field) = table.stored_columns().position(|c| c.name == column.1) else {
                continue;
            };
            let rules: Vec<(JsonPath, Rule)> = settings
                .iter()
                .map(|s| (s.json_path.clone().expect("a path rule"), s.rule.clone()))
                .collect();
            for setting in settings {
                plan.columns.push(MaskedColumn {
                    column: setting.target(),
                    rule: setting.rule.to_string(),
                    via: None,
                });
            }
            plan.tables.entry(column.0).or_default().push(ColumnMask {
                field,
                group: None,
                json: rules,
                name: column_name(self.catalog, column),
                check_type: info.domain_checks.then(|| type_name.to_string()),
            });
        }
    }

    /// Why JSON path rules cannot apply to a column: not JSON, masked whole too, or under a
    /// key.
    fn json_problem(&self, column: &Col, info: &TypeInfo, type_name: &str) -> Option<String> {
        let name = column_name(self.catalog, column);
        if info.base_type != "json" && info.base_type != "jsonb" {
            return Some(format!(
                "{name} is {type_name}: JSON path rules need a json or jsonb column"
            ));
        }
        if let Some((rule, _)) = self.effective.get(column) {
            return Some(format!(
                "{name} has the {rule} rule for the whole value and JSON path rules; \
                 keep one"
            ));
        }
        if self.unique_columns.contains(column) {
            return Some(format!(
                "{name} is under a unique key or referenced: JSON path rules could \
                 make two values equal; mask it whole (hash) instead"
            ));
        }
        None
    }

    /// Strict mode: the columns of the `keep` tables that look personal and have no rule, as
    /// one problem.
    fn strict_problem(&self, keep: &[bool]) -> Option<Problem> {
        let covered: HashSet<&Col> = self
            .effective
            .keys()
            .chain(self.explicit.keys())
            .chain(self.json_rules.keys())
            .collect();
        let mut uncovered = Vec::new();
        for (t, table) in self.catalog.tables.iter().enumerate() {
            if !keep[t] {
                continue;
            }
            for column in table.stored_columns() {
                if let Some(why) = personal_reason(column) {
                    if !covered.contains(&(t, column.name.clone())) {
                        uncovered.push(format!("{}.{} ({why})", table.name, column.name));
                    }
                }
            }
        }
        (!uncovered.is_empty()).then(|| {
            Problem::unplaced(format!(
                "[masking] strict: {} column(s) look personal and have no rule: {}; give each \
                 a rule, or mark it \"keep\" in [masking.columns]",
                uncovered.len(),
                uncovered.join(", ")
            ))
        })
    }
}

/// Why a column looks personal (its name or its type), if it does.
fn personal_reason(column: &Column) -> Option<String> {
    personal_by_name(&column.name)
        .map(|word| format!("name has {word:?}"))
        .or_else(|| personal_by_type(&column.base_type).then(|| column.base_type.to_string()))
}

impl MaskedUse<'_> {
    /// Whether a constant fits the column: not too long, and a valid value of its type (asked
    /// of the server inside a savepoint).
    fn constant_problems(
        &self,
        client: &mut impl GenericClient,
        value: &str,
        problems: &mut Vec<Problem>,
    ) -> Result<()> {
        let (name, how, type_name) = (&self.name, &self.how, &self.info.type_name);
        if self
            .types
            .max_chars
            .is_some_and(|max| value.chars().count() > max)
        {
            problems.push(Problem::unplaced(format!(
                "{name} is {type_name}: the constant {} ({how}) is too long",
                quote_literal(value)
            )));
        }
        let sql = format!("SELECT {}::{type_name}", quote_literal(value));
        let mut savepoint = client.transaction()?;
        if let Err(e) = savepoint.execute(sql.as_str(), &[]) {
            problems.push(Problem::unplaced(format!(
                "{name}: the constant {} ({how}) is not a valid {type_name}: {}",
                quote_literal(value),
                e.as_db_error().map(|d| d.message()).unwrap_or("rejected")
            )));
        }
        savepoint.rollback()?;
        Ok(())
    }
}

/// The effective rule of a column: its own (`keep` masks nothing), or the one of the columns it
/// references, which must agree; records problems where a key would break.
fn effective_rule(
    column: &Col,
    explicit: &HashMap<Col, &RuleSetting>,
    parents: &HashMap<Col, Vec<Col>>,
    effective: &mut HashMap<Col, (Rule, Col)>,
    visiting: &mut HashSet<Col>,
    problems: &mut Vec<Problem>,
    name_of: &dyn Fn(&Col) -> ColumnName,
) -> Option<(Rule, Col)> {
    if let Some(done) = effective.get(column) {
        return Some(done.clone());
    }
    if !visiting.insert(column.clone()) {
        return None;
    }
    let own = explicit
        .get(column)
        .map(|s| s.rule.clone())
        .filter(|r| *r != Rule::Keep);
    let mut from_parents: Vec<(Col, Option<(Rule, Col)>)> = Vec::new();
    for parent in parents.get(column).map(Vec::as_slice).unwrap_or(&[]) {
        if parent == column {
            continue;
        }
        let rule = effective_rule(
            parent, explicit, parents, effective, visiting, problems, name_of,
        );
        from_parents.push((parent.clone(), rule));
    }
    visiting.remove(column);
    let name = name_of(column);
    let result = match (&own, explicit.get(column)) {
        (Some(rule), Some(setting)) => {
            for (parent, theirs) in &from_parents {
                match theirs {
                    Some((r, _)) if r == rule => {}
                    Some((r, root)) => problems.push(Problem::setting(
                        &setting.origin,
                        format!(
                            "{name} has the {rule} rule but references {}, which is masked by \
                         {r} (from {}): drop the rule on {name}, it follows {} already",
                            name_of(parent),
                            name_of(root),
                            name_of(parent)
                        ),
                    )),
                    None => problems.push(Problem::setting(
                        &setting.origin,
                        format!(
                            "a rule on {name} alone would break its key: it references {}, \
                         which has no rule; put the rule on {} (it then applies to {name} too)",
                            name_of(parent),
                            name_of(parent)
                        ),
                    )),
                }
            }
            Some((rule.clone(), column.clone()))
        }
        _ => {
            let masked: Vec<&(Col, Option<(Rule, Col)>)> =
                from_parents.iter().filter(|(_, r)| r.is_some()).collect();
            let first = masked.first().and_then(|(_, r)| r.clone());
            let agree = from_parents
                .iter()
                .all(|(_, r)| r.as_ref().map(|x| &x.0) == first.as_ref().map(|x| &x.0));
            if let (Some(_), false) = (&first, agree) {
                let list: Vec<String> = from_parents
                    .iter()
                    .map(|(p, r)| match r {
                        Some((rule, _)) => format!("{} ({rule})", name_of(p)),
                        None => format!("{} (no rule)", name_of(p)),
                    })
                    .collect();
                problems.push(Problem::unplaced(format!(
                    "{name} references {}: it cannot follow different rules; give them the \
                     same rule",
                    list.join(" and ")
                )));
            }
            if let (Some(_), Some(setting)) = (&first, explicit.get(column)) {
                problems.push(Problem::setting(
                    &setting.origin,
                    format!(
                        "{name} is marked keep but references a masked column, so its key \
                     would break; drop the keep"
                    ),
                ));
            }
            first
        }
    };
    if let Some(result) = &result {
        effective.insert(column.clone(), result.clone());
    }
    result
}

/// The word that makes a column name look personal, if any.
pub fn personal_by_name(name: &str) -> Option<&'static str> {
    const ANYWHERE: [&str; 31] = [
        "email",
        "e_mail",
        "phone",
        "mobile",
        "name",
        "address",
        "password",
        "passwd",
        "secret",
        "token",
        "birth",
        "ssn",
        "iban",
        "salary",
        "street",
        "postcode",
        "postal",
        "passport",
        "national_id",
        "tax_id",
        "taxid",
        "credit_card",
        "card_number",
        "cardnumber",
        "user_agent",
        "useragent",
        "latitude",
        "longitude",
        "gender",
        "ethnicity",
        "religion",
    ];
    const WORDS: [&str; 18] = [
        "ip",
        "dob",
        "zip",
        "city",
        "fax",
        "mail",
        "ip_address",
        "tel",
        "lat",
        "lng",
        "lon",
        "nin",
        "cell",
        "login",
        "contact",
        "cvv",
        "geo",
        "sex",
    ];
    let lower = name.to_lowercase();
    if let Some(word) = ANYWHERE.iter().find(|w| lower.contains(*w)) {
        return Some(word);
    }
    lower
        .split(|c: char| !c.is_alphanumeric())
        .find_map(|part| WORDS.iter().find(|w| **w == part).copied())
}

/// Network addresses identify people and machines.
pub fn personal_by_type(base_type: &str) -> bool {
    matches!(base_type, "inet" | "cidr" | "macaddr" | "macaddr8")
}

/// What masking the tables found besides the masked values.
#[derive(Debug, Default)]
pub struct Masked {
    /// For each masked column whose type is a domain with CHECKs, its distinct masked values,
    /// for [`check_domains`].
    pub domain_checks: Vec<(ColumnName, String, Vec<String>)>,
    /// A warning for each JSON path rule that reached no string in a column holding JSON
    /// values: a misspelt path masks nothing, and what it meant to mask is exported as it is.
    pub paths_unmatched: Vec<String>,
}

/// Masks the buffered COPY output of the plan's tables in place (`copies` by table index).
pub fn mask_tables(
    plan: &Plan,
    key: &Key,
    copies: &mut BTreeMap<usize, Vec<u8>>,
) -> Result<Masked> {
    // Collisions of unique groups, resolved over the distinct values of all their columns.
    let mut overrides: Vec<HashMap<String, String>> = vec![HashMap::new(); plan.groups.len()];
    for (g, group) in plan.groups.iter().enumerate() {
        if !group.unique {
            continue;
        }
        let mut values = BTreeSet::new();
        for &(t, field) in &group.members {
            if let Some(data) = copies.get(&t) {
                for line in lines(data) {
                    if let Some(value) = field_value(line, field)? {
                        values.insert(group.fold.input(&value).into_owned());
                    }
                }
            }
        }
        overrides[g] = resolve_collisions(key, group, &values)?;
    }
    let mut checks: BTreeMap<usize, (ColumnName, String, BTreeSet<String>)> = BTreeMap::new();
    let mut cache: Vec<HashMap<String, Option<String>>> = vec![HashMap::new(); plan.groups.len()];
    let mut paths_unmatched = Vec::new();
    for (&t, masks) in &plan.tables {
        let Some(data) = copies.get_mut(&t) else {
            continue;
        };
        // Per masked column: how many JSON values it held, and the strings each path reached.
        let mut json_values = vec![0u64; masks.len()];
        let mut json_matched: Vec<Vec<u64>> = masks.iter().map(|m| vec![0; m.json.len()]).collect();
        let mut out = Vec::with_capacity(data.len());
        for line in lines(data) {
            let mut fields: Vec<std::borrow::Cow<[u8]>> = copy_text::split_fields(line)
                .map(std::borrow::Cow::Borrowed)
                .collect();
            for (m, mask) in masks.iter().enumerate() {
                let Some(raw) = fields.get(mask.field) else {
                    anyhow::bail!("a row of {} has too few fields", mask.name.table);
                };
                let Some(value) = decode(raw)? else {
                    continue;
                };
                let masked = match mask.group {
                    None => {
                        json_values[m] += 1;
                        Some(
                            json::mask(key, &mask.json, &value, &mut json_matched[m]).map_err(
                                |e| anyhow::anyhow!("a value of {} is not JSON: {e}", mask.name),
                            )?,
                        )
                    }
                    Some(g) => {
                        let group = &plan.groups[g];
                        let input = group.fold.input(&value);
                        match overrides[g].get(input.as_ref()) {
                            Some(v) => Some(v.clone()),
                            // Short values repeat (statuses, keys referenced many times).
                            None if input.len() <= CACHED_LENGTH => cache[g]
                                .entry(input.clone().into_owned())
                                .or_insert_with(|| {
                                    rules::apply(key, &group.rule, group.fit, 0, &input)
                                })
                                .clone(),
                            None => rules::apply(key, &group.rule, group.fit, 0, &input),
                        }
                    }
                };
                if let (Some(check_type), Some(v)) = (&mask.check_type, &masked) {
                    checks
                        .entry(t * 10_000 + m)
                        .or_insert_with(|| (mask.name.clone(), check_type.clone(), BTreeSet::new()))
                        .2
                        .insert(v.clone());
                }
                fields[mask.field] = match masked {
                    Some(v) => copy_text::encode_field(&v).into_bytes().into(),
                    None => (&b"\\N"[..]).into(),
                };
            }
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b'\t');
                }
                out.extend_from_slice(field);
            }
            out.push(b'\n');
        }
        *data = out;
        for (m, mask) in masks.iter().enumerate() {
            for ((path, _), &reached) in mask.json.iter().zip(&json_matched[m]) {
                if reached == 0 && json_values[m] > 0 {
                    paths_unmatched.push(format!(
                        "the masking rule for {}#{path} reached no string in the {} JSON \
                         values exported: a misspelt path masks nothing (keys are matched \
                         exactly; a key holding a dot is double-quoted: \"a.b\".email)",
                        mask.name, json_values[m]
                    ));
                }
            }
        }
    }
    Ok(Masked {
        domain_checks: checks
            .into_values()
            .map(|(name, ty, values)| (name, ty, values.into_iter().collect()))
            .collect(),
        paths_unmatched,
    })
}

/// Rows of COPY text (`data`, a line each) in the order of the given fields' masked text, then
/// of the whole line: for a table whose rows the source orders by a column that is masked (a
/// masked key, or any column of a keyless table). The source's order would tell each masked
/// value's rank among the originals (the real emails' alphabetical order).
pub fn sort_rows_by_fields(data: &[u8], fields: &[usize]) -> Vec<u8> {
    let mut rows: Vec<(Vec<&[u8]>, &[u8])> = lines(data)
        .map(|line| {
            let all: Vec<&[u8]> = copy_text::split_fields(line).collect();
            let key = fields
                .iter()
                .map(|&f| all.get(f).copied().unwrap_or(b""))
                .collect();
            (key, line)
        })
        .collect();
    rows.sort();
    let mut out = Vec::with_capacity(data.len());
    for (_, line) in rows {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// The lines of COPY text output, without their newlines.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.strip_suffix(b"\n")
        .map(|d| d.split(|&b| b == b'\n'))
        .into_iter()
        .flatten()
}

fn decode(raw: &[u8]) -> Result<Option<String>> {
    let decoded = copy_text::decode_field(raw)
        .map_err(|e| anyhow::anyhow!("cannot read a value the source sent: {e:?}"))?;
    Ok(decoded.map(|bytes| String::from_utf8(bytes).expect("decode_field checks UTF-8")))
}

fn field_value(line: &[u8], field: usize) -> Result<Option<String>> {
    match copy_text::split_fields(line).nth(field) {
        Some(raw) => decode(raw),
        None => Ok(None),
    }
}

/// Masked values for distinct originals of a unique group (folded, see [`Fold::input`]): each
/// value keeps its first candidate unless another value has the same one (as the group's
/// types compare: `Q` and `q` are one `citext`); then, in the order of the original values,
/// the later ones ask the rule for further candidates until one is free. Returns only the
/// values that moved. The result depends on the set of values, never on row order.
pub fn resolve_collisions(
    key: &Key,
    group: &Group,
    values: &BTreeSet<String>,
) -> Result<HashMap<String, String>> {
    let same = |masked: &str| group.fold.input(masked).into_owned();
    let first: Vec<(&String, String)> = values
        .iter()
        .filter_map(|v| Some((v, rules::apply(key, &group.rule, group.fit, 0, v)?)))
        .collect();
    let mut used: HashSet<String> = first.iter().map(|(_, m)| same(m)).collect();
    let mut owner: HashMap<String, &String> = HashMap::new();
    let mut moved = HashMap::new();
    for (value, masked) in &first {
        if owner.insert(same(masked), value).is_none() {
            continue;
        }
        let candidate = (1..=MAX_ATTEMPTS)
            .filter_map(|attempt| rules::apply(key, &group.rule, group.fit, attempt, value))
            .find(|c| !used.contains(&same(c)));
        match candidate {
            Some(c) => {
                used.insert(same(&c));
                moved.insert((*value).clone(), c);
            }
            None => {
                let roomier = match group.rule {
                    Rule::Hash => "a wider column".to_string(),
                    Rule::Email => "use hash, or a wider column".to_string(),
                    _ => "use a rule with more room (hash, or email), or a wider column".into(),
                };
                return Err(crate::problem::refuse(
                    ExitKind::BadInput,
                    crate::problem::Problem::unplaced(format!(
                        "masking {} with the {} rule: {} distinct values must stay distinct \
                         (a unique key), but the rule found no free value for one of them after \
                         {MAX_ATTEMPTS} attempts; {roomier}; nothing was exported",
                        group.root,
                        group.rule,
                        values.len()
                    ))
                    .kind(crate::problem::ProblemKind::Setting),
                ));
            }
        }
    }
    Ok(moved)
}

/// Checks masked values against their column's domain CHECKs on the source (a read-only cast).
pub fn check_domains(
    client: &mut impl GenericClient,
    checks: &[(ColumnName, String, Vec<String>)],
) -> Result<()> {
    for (column, type_name, values) in checks {
        let sql = format!("SELECT $1::pg_catalog.text[]::{type_name}[]");
        if let Err(e) = client.execute(sql.as_str(), &[values]) {
            return Err(crate::problem::refuse(
                ExitKind::BadInput,
                crate::problem::Problem::unplaced(format!(
                    "masked values of {column} do not satisfy its type {type_name}: {}; choose \
                     a rule whose values it accepts (or constant:VALUE); nothing was exported",
                    e.as_db_error().map(|d| d.message()).unwrap_or("rejected")
                ))
                .kind(crate::problem::ProblemKind::Setting),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_parse_like_table_names() {
        let c = ColumnName::parse("app.users.email").unwrap();
        assert_eq!(c.to_string(), "app.users.email");
        assert_eq!(
            ColumnName::parse("users.email").unwrap().table,
            QualifiedName::new("public", "users")
        );
        assert_eq!(
            ColumnName::parse("\"my.schema\".t.\"a.b\"").unwrap().column,
            "a.b"
        );
        assert!(ColumnName::parse("email").is_none());
        assert!(ColumnName::parse("a.b.c.d").is_none());
    }

    #[test]
    fn personal_columns_are_recognised() {
        for name in [
            "email",
            "user_email",
            "display_name",
            "phone_number",
            "client_ip",
            "api_token",
            "password_hash",
            "date_of_birth",
            "dob",
            "postal_code",
            "passport_no",
            "national_id",
            "tax_id",
            "nin",
            "credit_card",
            "card_number",
            "lat",
            "lng",
            "user_agent",
            "contact",
            "login",
            "cell",
            "gender",
            "ethnicity",
        ] {
            assert!(personal_by_name(name).is_some(), "{name}");
        }
        for name in [
            "id",
            "created_at",
            "zipper",
            "status",
            "tip",
            "latency",
            "cellar_id",
            "geometry",
        ] {
            assert_eq!(personal_by_name(name), None, "{name}");
        }
        assert!(personal_by_type("inet") && !personal_by_type("text"));
    }

    fn group(rule: Rule, max: Option<usize>) -> Group {
        Group {
            rule,
            root: ColumnName::parse("app.t.c").unwrap(),
            fit: Fit {
                max_chars: max,
                uuid: false,
            },
            unique: true,
            members: Vec::new(),
            fold: Fold::default(),
        }
    }

    /// The masked value of each of `values`: the one collisions `moved` it to, else its first.
    fn masked_values<'a>(
        key: &'a Key,
        g: &'a Group,
        values: &'a BTreeSet<String>,
        moved: &'a HashMap<String, String>,
    ) -> impl Iterator<Item = String> + 'a {
        values.iter().map(|v| {
            moved
                .get(v)
                .cloned()
                .unwrap_or_else(|| rules::apply(key, &g.rule, g.fit, 0, v).unwrap())
        })
    }

    #[test]
    fn collisions_are_resolved_by_value_order_not_row_order() {
        let key = Key::new("a key for collisions!").unwrap();
        // One digit: ten values fit, collisions among them are certain.
        let values: BTreeSet<String> = (0..10).map(|i| i.to_string()).collect();
        let g = group(Rule::Text, None);
        let moved = resolve_collisions(&key, &g, &values).unwrap();
        assert!(!moved.is_empty());
        let all: HashSet<String> = masked_values(&key, &g, &values, &moved).collect();
        assert_eq!(all.len(), 10, "{all:?}");
        // The same set gives the same answer.
        assert_eq!(moved, resolve_collisions(&key, &g, &values).unwrap());
        // 49 distinct first names cannot come from a list of 48: a clear failure.
        let many: BTreeSet<String> = (0..49).map(|i| format!("person {i}")).collect();
        let error = resolve_collisions(&key, &group(Rule::FirstName, None), &many).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("masking app.t.c with the first_name rule: 49 distinct"),
            "{error}"
        );
    }

    #[test]
    fn a_case_blind_group_masks_alike_what_it_calls_equal_and_keeps_apart_what_it_does_not() {
        let key = Key::new("a key for collisions!").unwrap();
        let fold = Fold {
            case: true,
            trailing_spaces: true,
        };
        assert_eq!(fold.input("Ann@X.org  "), "ann@x.org");
        // As towlower: no final sigma, no expansion.
        assert_eq!(fold.input("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold.input("İ"), "İ");
        assert_eq!(Fold::default().input("Ann  "), "Ann  ");
        // 26 letters of one character, half of them upper case: distinct in a unique citext.
        let values: BTreeSet<String> = (0..26u8)
            .map(|i| match i < 13 {
                true => ((b'a' + i) as char).to_string(),
                false => ((b'A' + i) as char).to_string(),
            })
            .map(|v| fold.input(&v).into_owned())
            .collect();
        let mut g = group(Rule::Text, None);
        g.fold = fold;
        let moved = resolve_collisions(&key, &g, &values).unwrap();
        let masked: HashSet<String> = masked_values(&key, &g, &values, &moved)
            .map(|m| m.to_lowercase())
            .collect();
        assert_eq!(masked.len(), 26, "{masked:?}");
    }

    #[test]
    fn rows_ordered_by_a_masked_key_are_sorted_by_its_masked_values() {
        let data = b"3\tzed\tc\n1\tamy\tb\n2\tamy\ta\n";
        assert_eq!(
            sort_rows_by_fields(data, &[1]),
            b"1\tamy\tb\n2\tamy\ta\n3\tzed\tc\n".to_vec()
        );
        assert_eq!(sort_rows_by_fields(b"", &[0]), Vec::<u8>::new());
    }

    #[test]
    fn fingerprints_follow_key_and_rules() {
        let options = |rule: &str| MaskingOptions {
            enabled: true,
            key_env: DEFAULT_KEY_ENV.into(),
            strict: false,
            rules: vec![RuleSetting {
                column: ColumnName::parse("app.users.email").unwrap(),
                json_path: None,
                rule: Rule::parse(rule).unwrap(),
                origin: "--mask".into(),
            }],
        };
        let a = Key::new("key number one, long").unwrap();
        let b = Key::new("key number two, long").unwrap();
        let f = fingerprint(&a, &options("email"));
        assert!(f.starts_with("hmac-sha256:") && f.len() == 12 + 32);
        assert_eq!(f, fingerprint(&a, &options("email")));
        assert_ne!(f, fingerprint(&b, &options("email")));
        assert_ne!(f, fingerprint(&a, &options("hash")));
    }

    #[test]
    fn masking_rewrites_only_the_masked_field_and_keeps_nulls() {
        let key = Key::new("a key for the rows here").unwrap();
        let mut plan = Plan::default();
        plan.groups.push(group(Rule::Email, None));
        plan.groups[0].members.push((0, 1));
        plan.tables.insert(
            0,
            vec![ColumnMask {
                field: 1,
                group: Some(0),
                json: Vec::new(),
                name: ColumnName::parse("app.t.c").unwrap(),
                check_type: None,
            }],
        );
        let mut copies = BTreeMap::new();
        copies.insert(0, b"1\tann@x.org\tA\\tB\n2\t\\N\tC\n".to_vec());
        mask_tables(&plan, &key, &mut copies).unwrap();
        let text = String::from_utf8(copies[&0].clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("1\t") && lines[0].ends_with("@example.com\tA\\tB"));
        assert_eq!(lines[1], "2\t\\N\tC");
        assert!(!text.contains("ann@x.org"));
    }
}
