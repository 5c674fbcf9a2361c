//! A `NOT VALID` foreign key checks every new row but not the rows it found: the source can
//! hold orphans that a target with the same key refuses. The export leaves them out, or stops
//! when a row it must export needs one.

use super::*;

/// Children whose NOT VALID key leaves two orphans (parent 98 and 99) and a NULL.
const SCHEMA: &str = "
    CREATE TABLE parents (id int PRIMARY KEY);
    CREATE TABLE children (id int PRIMARY KEY, parent_id int);
    CREATE TABLE grandchildren (id int PRIMARY KEY,
                                child_id int NOT NULL REFERENCES children (id));";

const NOT_VALID_KEY: &str = "
    ALTER TABLE children ADD CONSTRAINT children_parent_fk
        FOREIGN KEY (parent_id) REFERENCES parents (id) NOT VALID;";

fn source(grandchildren: &str) -> TestDb {
    cluster().create_db(
        "orphans",
        None,
        &format!(
            "{SCHEMA}
             INSERT INTO parents VALUES (1), (2);
             INSERT INTO children VALUES (1, 1), (2, 2), (3, 99), (4, NULL), (5, 98);
             INSERT INTO grandchildren VALUES {grandchildren};
             {NOT_VALID_KEY}"
        ),
    )
}

/// Exports `source` into `dir`, which must succeed, and returns its `--json` report.
fn export_json(source: &TestDb, dir: &Path) -> serde_json::Value {
    let url = source.url();
    let run = seedsnap(&[
        "export",
        "--json",
        "--source",
        &url,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .ok();
    json(&run)
}

#[test]
fn orphans_of_a_not_valid_key_are_left_out_and_the_snapshot_loads() {
    let source = source("(1, 1), (2, 4)");
    let dir = scratch_dir("orphans").join("snapshot");
    let report = export_json(&source, &dir);
    let left_out = &report["left_out"];
    assert_eq!(left_out.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(left_out[0]["foreign_key"], "children_parent_fk", "{report}");
    assert_eq!(left_out[0]["table"], "public.children", "{report}");
    assert_eq!(left_out[0]["kind"], "not_valid", "{report}");
    assert_eq!(left_out[0]["rows"], 2, "{report}");
    assert!(
        report["warnings"][0].as_str().unwrap().starts_with(
            "left out 2 rows of public.children: their (parent_id) has no row in public.parents"
        ),
        "{report}"
    );
    // The rows with a parent, and the one whose key is NULL (MATCH SIMPLE needs no parent).
    assert_eq!(first_column(&dir, "public.children"), ["1", "2", "4"]);

    seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).ok();
    // A target with the same schema, the NOT VALID key included, takes the snapshot.
    let target = cluster().create_db("orphans_test", None, &format!("{SCHEMA}{NOT_VALID_KEY}"));
    import(&target, &dir, &[]).ok();
    let count: i64 = target
        .client()
        .query_one(
            "SELECT count(*) FROM children c JOIN grandchildren g ON g.child_id = c.id",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
}

#[test]
fn a_row_that_needs_an_orphan_stops_the_export_before_anything_is_written() {
    // Grandchild 1 references child 3, an orphan of the NOT VALID key, through a valid key.
    let source = source("(1, 3), (2, 4)");
    let dir = scratch_dir("orphans").join("snapshot");
    let url = source.url();
    let dir_text = dir.to_str().unwrap();
    let run = seedsnap(&["export", "--source", &url, "--dir", dir_text]).code(4);
    for part in [
        "1 values of public.grandchildren(child_id) (grandchildren_child_id_fkey)",
        "2 rows of public.children whose (parent_id) has no row in public.parents \
         (children_parent_fk, a NOT VALID constraint)",
        "writes nothing",
        r#"ALTER TABLE "public"."children" VALIDATE CONSTRAINT "children_parent_fk""#,
        "--filter 'public.grandchildren=CONDITION'",
    ] {
        assert!(run.stderr.contains(part), "{part:?} in:\n{}", run.stderr);
    }
    assert!(!dir.exists(), "nothing written");

    // The advice works: a filter keeps the grandchild out, and the snapshot loads.
    export_into(
        &url,
        &dir,
        &["--filter", "public.grandchildren=child_id <> 3"],
    );
    seedsnap(&["verify", "--dir", dir_text]).ok();
    let target = cluster().create_db("orphans_test", None, &format!("{SCHEMA}{NOT_VALID_KEY}"));
    import(&target, &dir, &[]).ok();
}

/// A partly NULL tuple of a MATCH FULL key asks for no parent, so the selection never meets
/// it: such keys are counted up front, and the row is left out like any other orphan.
#[test]
fn partly_null_orphans_of_a_match_full_key_are_left_out() {
    let schema = "CREATE TABLE cp (a int, b int, PRIMARY KEY (a, b));
                  CREATE TABLE cc (id int PRIMARY KEY, a int, b int);";
    let key = "ALTER TABLE cc ADD CONSTRAINT cc_fk FOREIGN KEY (a, b) REFERENCES cp (a, b)
                   MATCH FULL NOT VALID;";
    let source = cluster().create_db(
        "match_full_orphans",
        None,
        &format!(
            "{schema}
             INSERT INTO cp VALUES (1, 1), (2, 2);
             INSERT INTO cc VALUES (1, 1, 1), (2, 1, NULL), (3, NULL, NULL);
             {key}"
        ),
    );
    let dir = scratch_dir("match_full_orphans").join("snapshot");
    let report = export_json(&source, &dir);
    assert_eq!(report["left_out"][0]["foreign_key"], "cc_fk", "{report}");
    assert_eq!(report["left_out"][0]["rows"], 1, "{report}");
    assert_eq!(first_column(&dir, "public.cc"), ["1", "3"]);
    seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).ok();
    let target = cluster().create_db("match_full_orphans_test", None, &format!("{schema}{key}"));
    import(&target, &dir, &[]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM cc"), 2);
}

/// A table whose every row is an orphan comes out empty: the export still refuses an empty
/// table, and says why it is empty.
#[test]
fn a_table_of_orphans_only_is_refused_saying_why_it_is_empty() {
    let source = cluster().create_db(
        "only_orphans",
        None,
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE ch (id int PRIMARY KEY, a int, b int);
         INSERT INTO p VALUES (1);
         INSERT INTO ch VALUES (99, 1, 7), (1, 99, 1);
         ALTER TABLE ch ADD CONSTRAINT ch_a FOREIGN KEY (a) REFERENCES p NOT VALID;
         ALTER TABLE ch ADD CONSTRAINT ch_b FOREIGN KEY (b) REFERENCES p NOT VALID;",
    );
    let dir = scratch_dir("only_orphans").join("snapshot");
    let url = source.url();
    let run = seedsnap(&["export", "--source", &url, "--dir", dir.to_str().unwrap()]).code(5);
    assert!(
        run.stderr
            .contains("public.ch (its rows were left out as orphans of ch_"),
        "{}",
        run.stderr
    );
    assert!(!dir.exists(), "a refused export wrote its directory");

    // With --json, the refusal is the error object's one problem.
    let run = seedsnap(&[
        "export",
        "--json",
        "--source",
        &url,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .code(5);
    let error = &json(&run)["error"];
    assert_eq!(error["kind"], "verification_failed", "{error}");
    let problems = error["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{error}");
    assert_eq!(problems[0]["kind"], "source", "{error}");
    assert_eq!(problems[0]["table"], "public.ch", "{error}");
    assert!(
        problems[0]["message"]
            .as_str()
            .unwrap()
            .contains("public.ch (its rows were left out as orphans of ch_"),
        "{error}"
    );
}

/// A key compares with the referenced type's equality, as the server's check does: a `text`
/// child `ab ` of a `character(3)` parent `ab ` has its parent (`bpchar` equality ignores
/// trailing blanks), though `ab ` and `ab` differ as text. Only `zz` is an orphan.
#[test]
fn an_orphan_count_compares_as_the_key_does_not_as_the_child_s_type() {
    let schema = "CREATE TABLE cp (id character(3) PRIMARY KEY);
                  CREATE TABLE cc (id int PRIMARY KEY, parent_id text);";
    let key = "ALTER TABLE cc ADD CONSTRAINT cc_fk FOREIGN KEY (parent_id) REFERENCES cp
                   NOT VALID;";
    let rows = "INSERT INTO cp VALUES ('ab '), ('cd');
                INSERT INTO cc VALUES (1, 'ab '), (2, 'zz'), (3, 'cd');";
    row_2_alone_is_left_out_and_the_rest_loads("char_orphans", schema, rows, key, "cc");
}

#[test]
fn an_orphan_count_casts_to_a_domain_s_base_type_so_the_domain_s_check_never_fails_it() {
    // The server's check compares with `text = text`: 'zz' is an orphan, not an error,
    // though it is no `code`.
    let schema = "CREATE DOMAIN code AS text CHECK (VALUE ~ '^[A-Z]{3}$');
                  CREATE DOMAIN short_code AS code NOT NULL;
                  CREATE TABLE dp (c short_code PRIMARY KEY);
                  CREATE TABLE dc (id int PRIMARY KEY, c text);";
    let key = "ALTER TABLE dc ADD CONSTRAINT dc_fk FOREIGN KEY (c) REFERENCES dp NOT VALID;";
    let rows = "INSERT INTO dp VALUES ('ABC');
                INSERT INTO dc VALUES (1, 'ABC'), (2, 'zz'), (3, NULL);";
    row_2_alone_is_left_out_and_the_rest_loads("domain_orphans", schema, rows, key, "dc");
}

/// A source of `schema`, `rows` and then `key` (a NOT VALID key `{child}_fk` of table `child`,
/// whose rows are ids 1 to 3): the export leaves out row 2 alone, as the key's one orphan, and
/// the snapshot loads into a target with the same schema and key.
fn row_2_alone_is_left_out_and_the_rest_loads(
    name: &str,
    schema: &str,
    rows: &str,
    key: &str,
    child: &str,
) {
    let source = cluster().create_db(name, None, &format!("{schema}{rows}{key}"));
    let dir = scratch_dir(name).join("snapshot");
    let report = export_json(&source, &dir);
    assert_eq!(
        report["left_out"][0]["foreign_key"],
        format!("{child}_fk"),
        "{report}"
    );
    assert_eq!(report["left_out"][0]["rows"], 1, "{report}");
    assert_eq!(first_column(&dir, &format!("public.{child}")), ["1", "3"]);
    let target = cluster().create_db(&format!("{name}_test"), None, &format!("{schema}{key}"));
    import(&target, &dir, &[]).ok();
    assert_eq!(
        target.query_i64(&format!("SELECT count(*) FROM {child}")),
        2
    );
}
