//! A table's unique keys besides its row key (UNIQUE constraints, bare unique indexes, NULLS
//! NOT DISTINCT ones), recorded in the manifest and kept by `verify` and `seal` offline; a
//! manifest written before they were recorded still verifies and imports.

use super::*;
use crate::import::tamper;
use crate::workflow::append;

/// A primary key and three other unique keys that an offline check can compare, and two it
/// cannot (an expression index, a partial index), which are not recorded.
const SCHEMA: &str = "
    CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE, code numeric(6,2) NOT NULL,
                           region text, handle text,
                           CONSTRAINT accounts_code_region_key UNIQUE (code, region));
    CREATE UNIQUE INDEX accounts_handle_idx ON accounts (handle);
    CREATE UNIQUE INDEX accounts_lower_email_idx ON accounts (lower(email));
    CREATE UNIQUE INDEX accounts_partial_idx ON accounts (region) WHERE code > 100;";

const DATA: &str = "
    INSERT INTO accounts VALUES (1, 'a@x.org', 1.5, 'eu', 'ada'), (2, 'b@x.org', 2, 'eu', 'bob'),
                                (3, NULL, 1.5, 'us', NULL);";

/// A DEFERRABLE `UNIQUE NULLS NOT DISTINCT` key (PostgreSQL 15+).
const NULLS_NOT_DISTINCT: &str = "
    CREATE TABLE tokens (id int PRIMARY KEY, value text,
                         CONSTRAINT tokens_value_key UNIQUE NULLS NOT DISTINCT (value)
                         DEFERRABLE);";

/// Whether the test cluster's server reads NULLS NOT DISTINCT.
fn has_nulls_not_distinct(db: &TestDb) -> bool {
    db.query_i64("SELECT current_setting('server_version_num')::int8") >= 150000
}

fn source() -> TestDb {
    let source = cluster().create_db("uq_demo", None, &format!("{SCHEMA}{DATA}"));
    if has_nulls_not_distinct(&source) {
        source.execute(&format!(
            "{NULLS_NOT_DISTINCT} INSERT INTO tokens VALUES (1, 't1'), (2, NULL);"
        ));
    }
    source
}

/// The target's schema: the source's.
fn target(source: &TestDb) -> TestDb {
    let target = cluster().create_db("uq_test", None, SCHEMA);
    if has_nulls_not_distinct(source) {
        target.execute(NULLS_NOT_DISTINCT);
    }
    target
}

fn table<'a>(manifest: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()
}

#[test]
fn a_duplicate_of_another_unique_key_is_refused_by_verify_naming_both_lines() {
    let source = source();
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let manifest = manifest(&dir);
    let keys = &table(&manifest, "accounts")["unique_keys"];
    assert_eq!(
        *keys,
        serde_json::json!([
            {"name": "accounts_code_region_key", "columns": ["code", "region"]},
            {"name": "accounts_email_key", "columns": ["email"]},
            {"name": "accounts_handle_idx", "columns": ["handle"]},
        ]),
        "the expression and the partial index are not recorded"
    );
    if has_nulls_not_distinct(&source) {
        assert_eq!(
            table(&manifest, "tokens")["unique_keys"],
            serde_json::json!([
                {"name": "tokens_value_key", "columns": ["value"], "nulls_not_distinct": true}
            ])
        );
    }
    let dir_text = dir.to_str().unwrap();
    seedsnap(&["verify", "--dir", dir_text]).ok();

    // Bob's e-mail edited into Ada's, the checksum fixed as a careful hand would.
    tamper(
        &dir,
        "public.accounts.tsv",
        |text| text.replace("2\tb@x.org\t", "2\ta@x.org\t"),
        true,
    );
    let before = read_dir_files(&dir);
    let run = seedsnap(&["verify", "--json", "--dir", dir_text]).code(4);
    let accounts = dir.join("public.accounts.tsv").display().to_string();
    assert!(
        run.stderr.contains(&format!(
            "{accounts} line 3: duplicate value (email) = (a@x.org) of the unique key \
             accounts_email_key of public.accounts, first seen at {accounts} line 2: the target would refuse the row"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(json(&run)["error"]["exit_code"], 4);
    assert_eq!(read_dir_files(&dir), before, "verify changes nothing");

    // The import refuses it too, before writing anything.
    let target = target(&source);
    import(&target, &dir, &[])
        .code(4)
        .stderr_has("accounts_email_key");
    assert_eq!(target.query_i64("SELECT count(*) FROM accounts"), 0);
}

#[test]
fn seal_refuses_duplicates_of_other_unique_keys_compared_as_postgresql_does() {
    let source = source();
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let dir_text = dir.to_str().unwrap();
    let accounts = dir.join("public.accounts.tsv");
    // Line 5: (code, region) = (1.500, eu) is line 2's (1.50, eu); line 6: `ADA` is not
    // `ada` (text compares exactly); line 7: the handle `bob` is line 3's.
    append(
        &accounts,
        "4\tc@x.org\t1.500\teu\t\\N\n5\td@x.org\t9\tus\tADA\n6\te@x.org\t7\tus\tbob\n",
    );
    let before = read_dir_files(&dir);
    let run = seedsnap(&["seal", "--dir", dir_text]).code(4);
    let file = accounts.display().to_string();
    for expected in [
        format!(
            "{file} line 5: duplicate value (code, region) = (1.500, eu) of the unique key \
             accounts_code_region_key of public.accounts, first seen at {file} line 2 (PostgreSQL reads both as (1.5, \
             eu))"
        ),
        format!(
            "{file} line 7: duplicate value (handle) = (bob) of the unique key \
             accounts_handle_idx of public.accounts, first seen at {file} line 3"
        ),
    ] {
        assert!(run.stderr.contains(&expected), "{expected}\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("line 6"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_eq!(read_dir_files(&dir), before, "seal changes nothing");

    // NULLS NOT DISTINCT: a second NULL is a duplicate.
    if has_nulls_not_distinct(&source) {
        let dir = export_to_scratch(&source, &["--limit", "all"]);
        let tokens = dir.join("public.tokens.tsv");
        append(&tokens, "3\t\\N\n");
        let run = seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).code(4);
        let expected = format!(
            "{tokens} line 4: duplicate value (value) = (\\N) of the unique key tokens_value_key \
             of public.tokens, first seen at {tokens} line 3",
            tokens = tokens.display()
        );
        assert!(run.stderr.contains(&expected), "{expected}\n{}", run.stderr);
    }
}

#[test]
fn nulls_in_a_plain_unique_key_are_distinct_offline_as_in_the_target() {
    let source = source();
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let dir_text = dir.to_str().unwrap();
    // Line 4 already has a NULL e-mail and handle; (3, NULL) twice in (code, region).
    append(
        &dir.join("public.accounts.tsv"),
        "7\t\\N\t3\t\\N\t\\N\n8\t\\N\t3\t\\N\t\\N\n",
    );
    seedsnap(&["seal", "--dir", dir_text]).ok();
    seedsnap(&["verify", "--dir", dir_text]).ok();
    let target = target(&source);
    import(&target, &dir, &[]).ok();
    assert_eq!(
        target.query_i64("SELECT count(*) FROM accounts WHERE email IS NULL"),
        3
    );
}

/// Rewrites the manifest in `dir` as a seedsnap that did not record unique keys wrote it: no
/// `unique_keys`, and a fingerprint over the tables without them.
pub fn as_written_before_unique_keys(dir: &Path) {
    let path = dir.join("manifest.json");
    let mut old = ::seedsnap::snapshot::Manifest::parse(&std::fs::read(&path).unwrap()).unwrap();
    for table in &mut old.tables {
        table.unique_keys.clear();
    }
    old.schema_fingerprint = ::seedsnap::snapshot::manifest::schema_fingerprint(&old.tables);
    std::fs::write(&path, old.to_json()).unwrap();
}

#[test]
fn a_manifest_written_before_unique_keys_were_recorded_still_verifies_and_imports() {
    let source = source();
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    // The manifest an earlier seedsnap wrote: no `unique_keys`, and a fingerprint over the
    // tables without them.
    let path = dir.join("manifest.json");
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("unique_keys"));
    as_written_before_unique_keys(&dir);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("unique_keys"), "{text}");

    let dir_text = dir.to_str().unwrap();
    seedsnap(&["verify", "--dir", dir_text]).ok();
    seedsnap(&["seal", "--dir", dir_text]).ok();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "nothing to seal"
    );
    let target = target(&source);
    import(&target, &dir, &[]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM accounts"), 3);
}

/// A second NULL of a DEFERRABLE `NULLS NOT DISTINCT` key in a snapshot whose manifest does not
/// record the key: the superuser's import, which holds the per-row checks off and counts each
/// DEFERRABLE unique key's duplicates itself, counts NULLs as such a key compares them.
#[test]
fn the_imports_own_duplicate_count_takes_nulls_of_a_nulls_not_distinct_key() {
    let source = source();
    if !has_nulls_not_distinct(&source) {
        return;
    }
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    as_written_before_unique_keys(&dir);
    append(&dir.join("public.tokens.tsv"), "3\t\\N\n");
    seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).ok();
    let target = target(&source);
    let before = target.fingerprint();
    let run = import(&target, &dir, &["--json"]).code(4);
    assert!(
        run.stderr
            .contains("public.tokens violates unique constraint \"tokens_value_key\""),
        "{}",
        run.stderr
    );
    assert_eq!(json(&run)["error"]["exit_code"], 4);
    assert_eq!(target.fingerprint(), before, "the target changed");
}

/// `--skip-missing` leaves out a column that a recorded unique key covers: the key goes with it.
#[test]
fn a_unique_key_over_a_column_left_out_goes_with_it() {
    let source = source();
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let target = cluster().create_db(
        "uq_skip_test",
        None,
        "CREATE TABLE accounts (id int PRIMARY KEY, code numeric(6,2) NOT NULL, region text,
                                handle text UNIQUE, UNIQUE (code, region));
         CREATE TABLE tokens (id int PRIMARY KEY, value text);",
    );
    import(&target, &dir, &["--skip-missing", "public.accounts.email"]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM accounts"), 3);
}
