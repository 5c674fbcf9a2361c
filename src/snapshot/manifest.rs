//! `manifest.json`: what a snapshot holds, in load order, and how to check it.
//!
//! The manifest is written with sorted, stable content (no timestamps), so exporting an
//! unchanged source twice gives the same bytes — also from a new cluster: it records the
//! source's database name, while the cluster's system identifier (which an import needs to
//! refuse writing into the database the snapshot came from) stays in a git-ignored file beside
//! it (see [`super::companions`]). Manifests written before that still carry it, and are read.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::file_name::file_name;
use crate::catalog::{Condition, Identity, QualifiedName, RowKey};

pub const FORMAT: &str = "seedsnap-snapshot";
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    /// Exported from a demo database.
    Export,
    /// The contents of a target's tables, saved before `--truncate-first` emptied them;
    /// importing it back into the database it came from is its purpose.
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// `pg_control_system().system_identifier`: which cluster. Not written to `manifest.json`
    /// (it changes with every new cluster); empty when the snapshot came without the
    /// exporting machine's identity file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system_identifier: String,
    pub database: String,
    pub server_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub kind: SnapshotKind,
    pub source: SourceInfo,
    /// SHA-256 over the tables' names, columns, keys (row key and other unique keys) and
    /// foreign keys.
    pub schema_fingerprint: String,
    /// The default per-table limit the snapshot was taken with (`null`: every row).
    pub limit: Option<u64>,
    /// Which columns were masked by which rule, and a fingerprint of the key and rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<ManifestMasking>,
    /// The migration the source's schema was at, per migration tool found (see
    /// [`crate::migrations`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<crate::migrations::MigrationState>,
    /// In load order: every table after the tables it references (cycles excepted).
    pub tables: Vec<ManifestTable>,
}

/// How a snapshot was masked. The key itself is never recorded: only the variable that held
/// it, and an HMAC under it that tells whether the same key and rules were used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestMasking {
    pub fingerprint: String,
    pub key_env: String,
    pub columns: Vec<MaskedColumn>,
}

/// A masked column as the manifest and `plan` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskedColumn {
    /// `schema.table.column`.
    pub column: String,
    pub rule: String,
    /// For a column that follows the column it references: that column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub not_null: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub references: QualifiedName,
    pub referenced_columns: Vec<String>,
    pub deferrable: bool,
    pub match_full: bool,
    /// From the config file, not the database: the target need not declare it.
    #[serde(
        default,
        rename = "virtual",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub virtual_key: bool,
    /// A polymorphic key applies to a row only when these hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Condition>,
    /// A key declared on partitions applies only to the rows of these leaf partitions (see
    /// the table's `partitions`); empty for a key of the whole table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<QualifiedName>,
}

/// A unique key of a table besides its row key (`key`): a UNIQUE constraint or unique index,
/// DEFERRABLE or not, whose values `verify` and `seal` keep distinct. Partial and expression
/// indexes, a partition's own indexes and keys on generated columns are not recorded: their
/// rows or values cannot be told from the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestUniqueKey {
    /// The constraint's name, or the index's for a bare unique index.
    pub name: String,
    pub columns: Vec<String>,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15+): NULLs collide like values. Without it, a row
    /// with a NULL in the key collides with none.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nulls_not_distinct: bool,
}

/// How many of a table's rows, in file order, are stored in one leaf partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionRows {
    pub partition: QualifiedName,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestTable {
    pub schema: String,
    pub name: String,
    pub file: String,
    /// The stored columns, in file order (generated columns are left to the target).
    pub columns: Vec<ManifestColumn>,
    pub key: RowKey,
    /// The table's other unique keys; absent (empty) in manifests written before seedsnap
    /// recorded them, which are then checked for their row key alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique_keys: Vec<ManifestUniqueKey>,
    pub foreign_keys: Vec<ManifestForeignKey>,
    pub rows: u64,
    pub sampled: u64,
    pub backfilled: u64,
    pub sha256: String,
    /// For a table with keys declared on partitions: its rows, in file order, grouped by the
    /// leaf partition that stores them (so `verify` knows which rows such a key covers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<PartitionRows>,
}

impl ManifestTable {
    pub fn qualified_name(&self) -> QualifiedName {
        QualifiedName::new(self.schema.clone(), self.name.clone())
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// The part of a table that describes its shape, for the fingerprint.
#[derive(Serialize)]
struct Shape<'a> {
    schema: &'a str,
    name: &'a str,
    columns: &'a [ManifestColumn],
    key: &'a RowKey,
    /// Left out when empty, so that a manifest written before unique keys were recorded keeps
    /// its fingerprint.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unique_keys: &'a [ManifestUniqueKey],
    foreign_keys: &'a [ManifestForeignKey],
}

/// A manifest's first two fields, read before the rest to tell an unusual manifest.
#[derive(Deserialize)]
struct Header {
    format: Option<serde_json::Value>,
    format_version: Option<serde_json::Value>,
}

impl Header {
    /// This seedsnap's format and version.
    fn is_current(&self) -> bool {
        self.format.as_ref().and_then(|v| v.as_str()) == Some(FORMAT)
            && self.format_version.as_ref().and_then(|v| v.as_u64()) == Some(FORMAT_VERSION as u64)
    }
}

pub fn schema_fingerprint(tables: &[ManifestTable]) -> String {
    let shapes: Vec<Shape> = tables
        .iter()
        .map(|t| Shape {
            schema: &t.schema,
            name: &t.name,
            columns: &t.columns,
            key: &t.key,
            unique_keys: &t.unique_keys,
            foreign_keys: &t.foreign_keys,
        })
        .collect();
    // Hashed as it is written: the JSON text of thousands of tables is megabytes.
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut hasher, &shapes).expect("shapes serialize");
    format!("sha256:{}", super::hex(&hasher.finalize()))
}

impl Manifest {
    /// A manifest of an export over `tables`, for unit tests that write a snapshot by hand.
    #[cfg(test)]
    pub fn for_tests(tables: Vec<ManifestTable>, limit: Option<u64>) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            kind: SnapshotKind::Export,
            source: SourceInfo {
                system_identifier: "1".into(),
                database: "d".into(),
                server_version: "15".into(),
            },
            schema_fingerprint: schema_fingerprint(&tables),
            limit,
            masking: None,
            migrations: Vec::new(),
            tables,
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("manifest serializes");
        text.push('\n');
        text
    }

    /// Writes the manifest as `manifest.json` holds it, the same text as [`Manifest::to_json`]
    /// but without the source cluster's identifier (which goes to the identity file), and
    /// without copying the manifest or its text first: on thousands of tables those are
    /// megabytes.
    pub fn write_stored(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        fn no_migrations(migrations: &&[crate::migrations::MigrationState]) -> bool {
            migrations.is_empty()
        }
        #[derive(Serialize)]
        struct Stored<'a> {
            format: &'a str,
            format_version: u32,
            kind: SnapshotKind,
            source: SourceInfo,
            schema_fingerprint: &'a str,
            limit: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            masking: Option<&'a ManifestMasking>,
            #[serde(skip_serializing_if = "no_migrations")]
            migrations: &'a [crate::migrations::MigrationState],
            tables: &'a [ManifestTable],
        }
        let stored = Stored {
            format: &self.format,
            format_version: self.format_version,
            kind: self.kind,
            source: SourceInfo {
                system_identifier: String::new(),
                ..self.source.clone()
            },
            schema_fingerprint: &self.schema_fingerprint,
            limit: self.limit,
            masking: self.masking.as_ref(),
            migrations: &self.migrations,
            tables: &self.tables,
        };
        serde_json::to_writer_pretty(&mut *out, &stored)?;
        out.write_all(b"\n")
    }

    /// The usual manifest read straight from its file, without holding the file's text (3 MB
    /// on 3,000 tables) next to what it parses into: `None` when anything is unusual (the file
    /// cannot be read, another format or version, malformed JSON), and the caller then reads
    /// the text and [`Manifest::parse`]s it, which words every problem.
    pub fn read_usual(path: &std::path::Path) -> Option<Result<Manifest, Vec<String>>> {
        let reader = || super::open_regular(path).ok().map(std::io::BufReader::new);
        let header: Header = serde_json::from_reader(reader()?).ok()?;
        if !header.is_current() {
            return None;
        }
        let manifest: Manifest = serde_json::from_reader(reader()?).ok()?;
        Some(manifest.checked())
    }

    /// The manifest, or the problems [`Manifest::structural_problems`] finds.
    fn checked(mut self) -> Result<Manifest, Vec<String>> {
        let problems = self.structural_problems();
        match problems.is_empty() {
            true => {
                self.shrink_to_fit();
                Ok(self)
            }
            false => Err(problems),
        }
    }

    /// Gives back the room its vectors grew into while the JSON was read (serde cannot know
    /// a list's length up front): a table's five columns sat in room for eight, its two
    /// foreign keys in room for four, a third of the manifest's memory on 3,000 tables.
    /// The manifest is kept through the whole import.
    fn shrink_to_fit(&mut self) {
        self.tables.shrink_to_fit();
        for table in &mut self.tables {
            table.columns.shrink_to_fit();
            table.foreign_keys.shrink_to_fit();
            table.partitions.shrink_to_fit();
            table.unique_keys.shrink_to_fit();
            for key in &mut table.unique_keys {
                key.columns.shrink_to_fit();
            }
            for key in &mut table.foreign_keys {
                key.columns.shrink_to_fit();
                key.referenced_columns.shrink_to_fit();
                key.when.shrink_to_fit();
                key.partitions.shrink_to_fit();
            }
            if let RowKey::Primary(columns) | RowKey::Unique(columns) = &mut table.key {
                columns.shrink_to_fit();
            }
        }
    }

    /// Parses a manifest and checks everything that can be checked without the data files.
    /// Returns every problem found, not just the first.
    pub fn parse(text: &[u8]) -> Result<Manifest, Vec<String>> {
        // The usual case straight from the text: a JSON tree first would take several times
        // the text's size (tens of megabytes on thousands of tables). Anything unusual goes
        // the long way below, which words every problem.
        if serde_json::from_slice::<Header>(text).is_ok_and(|h| h.is_current()) {
            if let Ok(manifest) = serde_json::from_slice::<Manifest>(text) {
                return manifest.checked();
            }
        }
        let value: serde_json::Value =
            serde_json::from_slice(text).map_err(|e| vec![format!("is not valid JSON: {e}")])?;
        match value.get("format").and_then(|v| v.as_str()) {
            Some(FORMAT) => {}
            _ => {
                return Err(vec![format!(
                    "is not a seedsnap manifest (no \"format\": \"{FORMAT}\")"
                )])
            }
        }
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == FORMAT_VERSION as u64 => {}
            Some(v) => {
                return Err(vec![format!(
                    "has format version {v}; this seedsnap reads version {FORMAT_VERSION} \
                     (export the snapshot again, or use a matching seedsnap)"
                )])
            }
            None => return Err(vec!["has no format_version".into()]),
        }
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|e| vec![format!("is malformed: {e}")])?;
        let problems = manifest.structural_problems();
        if problems.is_empty() {
            Ok(manifest)
        } else {
            Err(problems)
        }
    }

    fn structural_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for table in &self.tables {
            let name = table.qualified_name();
            if !seen.insert(name.clone()) {
                problems.push(format!("lists table {name} twice"));
            }
            let expected = file_name(&name);
            if table.file != expected {
                problems.push(format!(
                    "names file {:?} for table {name}; it must be {expected:?}",
                    table.file
                ));
            }
            let in_partitions: u64 = table.partitions.iter().map(|p| p.rows).sum();
            if !table.partitions.is_empty() && in_partitions != table.rows {
                problems.push(format!(
                    "says table {name} has {} rows but its partitions hold {in_partitions}",
                    table.rows
                ));
            }
            if table.rows != table.sampled + table.backfilled {
                problems.push(format!(
                    "says table {name} has {} rows but {} sampled + {} backfilled",
                    table.rows, table.sampled, table.backfilled
                ));
            }
            let mut column_names = std::collections::HashSet::new();
            for column in &table.columns {
                if !column_names.insert(&column.name) {
                    problems.push(format!("lists column {} of {name} twice", column.name));
                }
            }
            if let Some(key) = table.key.columns() {
                for column in key {
                    if table.column_index(column).is_none() {
                        problems.push(format!("key column {column} of {name} is not a column"));
                    }
                }
            }
            let mut unique_names = std::collections::HashSet::new();
            for key in &table.unique_keys {
                if !unique_names.insert(&key.name) {
                    problems.push(format!("lists unique key {} of {name} twice", key.name));
                }
                if key.columns.is_empty() {
                    problems.push(format!("unique key {} of {name} has no columns", key.name));
                }
                for column in &key.columns {
                    if table.column_index(column).is_none() {
                        problems.push(format!(
                            "unique key {} of {name} uses unknown column {column}",
                            key.name
                        ));
                    }
                }
            }
            for fk in &table.foreign_keys {
                for condition in &fk.when {
                    if table.column_index(&condition.column).is_none() {
                        problems.push(format!(
                            "foreign key {} of {name} has a condition on unknown column {}",
                            fk.name, condition.column
                        ));
                    }
                }
                for column in &fk.columns {
                    if table.column_index(column).is_none() {
                        problems.push(format!(
                            "foreign key {} of {name} uses unknown column {column}",
                            fk.name
                        ));
                    }
                }
                if fk.columns.len() != fk.referenced_columns.len() {
                    problems.push(format!(
                        "foreign key {} of {name} pairs {} columns with {}",
                        fk.name,
                        fk.columns.len(),
                        fk.referenced_columns.len()
                    ));
                }
                match self
                    .tables
                    .iter()
                    .find(|t| t.qualified_name() == fk.references)
                {
                    None => problems.push(format!(
                        "foreign key {} of {name} references {}, which is not in the snapshot",
                        fk.name, fk.references
                    )),
                    Some(parent) => {
                        for column in &fk.referenced_columns {
                            if parent.column_index(column).is_none() {
                                problems.push(format!(
                                    "foreign key {} of {name} references unknown column {}.{column}",
                                    fk.name, fk.references
                                ));
                            }
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            return problems;
        }
        let fingerprint = schema_fingerprint(&self.tables);
        if fingerprint != self.schema_fingerprint {
            problems.push(format!(
                "schema_fingerprint is {} but the tables described give {fingerprint}: the \
                 manifest was edited",
                self.schema_fingerprint
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_and_every_refusal_keeps_its_words() {
        let manifest = Manifest::for_tests(Vec::new(), None);
        assert_eq!(Manifest::parse(manifest.to_json().as_bytes()), Ok(manifest));
        let refusal = |text: &str| Manifest::parse(text.as_bytes()).unwrap_err().join("; ");
        assert!(refusal("{").starts_with("is not valid JSON: "));
        assert!(refusal("[1]").starts_with("is not a seedsnap manifest"));
        let wrong_version = format!(r#"{{"format": "{FORMAT}", "format_version": 999}}"#);
        assert!(refusal(&wrong_version).starts_with("has format version 999"));
        let text =
            Manifest::for_tests(Vec::new(), None)
                .to_json()
                .replacen("\"limit\"", "\"limitt\"", 1);
        let malformed = refusal(&text);
        assert!(
            malformed.starts_with("is malformed: unknown field `limitt`")
                && !malformed.contains(" line "),
            "{malformed}"
        );
    }

    fn table_with_unique_keys(unique_keys: Vec<ManifestUniqueKey>) -> ManifestTable {
        ManifestTable {
            schema: "public".into(),
            name: "t".into(),
            file: "public.t.tsv".into(),
            columns: ["id", "email"]
                .into_iter()
                .map(|name| ManifestColumn {
                    name: name.into(),
                    type_name: "text".into(),
                    not_null: name == "id",
                    identity: None,
                })
                .collect(),
            key: RowKey::Primary(vec!["id".into()]),
            unique_keys,
            foreign_keys: Vec::new(),
            rows: 0,
            sampled: 0,
            backfilled: 0,
            sha256: String::new(),
            partitions: Vec::new(),
        }
    }

    #[test]
    fn a_manifest_without_unique_keys_reads_and_keeps_its_fingerprint() {
        // A manifest of an earlier seedsnap: no `unique_keys`, its fingerprint over the shapes
        // without them.
        let old = Manifest::for_tests(vec![table_with_unique_keys(Vec::new())], None);
        let text = old.to_json();
        assert!(!text.contains("unique_keys"));
        #[derive(Serialize)]
        struct OldShape<'a> {
            schema: &'a str,
            name: &'a str,
            columns: &'a [ManifestColumn],
            key: &'a RowKey,
            foreign_keys: &'a [ManifestForeignKey],
        }
        let table = &old.tables[0];
        let shapes = [OldShape {
            schema: &table.schema,
            name: &table.name,
            columns: &table.columns,
            key: &table.key,
            foreign_keys: &table.foreign_keys,
        }];
        let mut hasher = Sha256::new();
        serde_json::to_writer(&mut hasher, &shapes).unwrap();
        let expected = format!("sha256:{}", crate::snapshot::hex(&hasher.finalize()));
        assert_eq!(old.schema_fingerprint, expected);
        assert_eq!(Manifest::parse(text.as_bytes()), Ok(old.clone()));

        // With one, the key is written, read back, and part of the fingerprint.
        let key = ManifestUniqueKey {
            name: "t_email_key".into(),
            columns: vec!["email".into()],
            nulls_not_distinct: true,
        };
        let new = Manifest::for_tests(vec![table_with_unique_keys(vec![key])], None);
        let text = new.to_json();
        assert!(text.contains("\"nulls_not_distinct\": true"), "{text}");
        assert_eq!(Manifest::parse(text.as_bytes()), Ok(new.clone()));
        assert_ne!(new.schema_fingerprint, old.schema_fingerprint);
        let edited = text.replacen("\"t_email_key\"", "\"other\"", 1);
        let refusal = Manifest::parse(edited.as_bytes()).unwrap_err().join("; ");
        assert!(refusal.contains("the manifest was edited"), "{refusal}");
    }

    #[test]
    fn a_unique_key_over_unknown_columns_is_refused() {
        let key = ManifestUniqueKey {
            name: "t_x_key".into(),
            columns: vec!["x".into()],
            nulls_not_distinct: false,
        };
        let mut manifest = Manifest::for_tests(vec![table_with_unique_keys(vec![key])], None);
        let problems = manifest.structural_problems();
        assert_eq!(
            problems,
            ["unique key t_x_key of public.t uses unknown column x"]
        );
        manifest.tables[0].unique_keys[0].columns.clear();
        let problems = manifest.structural_problems();
        assert_eq!(problems, ["unique key t_x_key of public.t has no columns"]);
    }

    #[test]
    fn the_stored_manifest_is_the_json_without_the_cluster_identifier() {
        let stored = |manifest: &Manifest| {
            let mut out = Vec::new();
            manifest.write_stored(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let mut manifest = Manifest::for_tests(Vec::new(), Some(100));
        let mut expected = manifest.clone();
        expected.source.system_identifier.clear();
        assert_eq!(stored(&manifest), expected.to_json());
        assert!(!stored(&manifest).contains("system_identifier"));

        manifest.masking = Some(ManifestMasking {
            fingerprint: "f".into(),
            key_env: "K".into(),
            columns: vec![MaskedColumn {
                column: "public.t.c".into(),
                rule: "email".into(),
                via: None,
            }],
        });
        manifest.migrations = vec![crate::migrations::MigrationState {
            tool: "sqlx".into(),
            table: "public._sqlx_migrations".into(),
            version: Some("2".into()),
            applied: 2,
        }];
        let mut expected = manifest.clone();
        expected.source.system_identifier.clear();
        assert_eq!(stored(&manifest), expected.to_json());
    }
}
