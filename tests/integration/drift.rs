//! Drift (`--on-drift=update`): target rows that hold other content under a snapshot row's key
//! are brought back to the snapshot's values before the new rows that may need them, never
//! rewrite rows outside the snapshot, and a column that cannot be brought back is named.

use super::*;

fn text(db: &TestDb, sql: &str) -> String {
    db.client().query_one(sql, &[]).unwrap().get(0)
}

/// [`drifted`], sorted.
fn repaired(report: &serde_json::Value) -> Vec<String> {
    let mut rows = drifted(report);
    rows.sort();
    rows
}

/// A source holding `source_rows`, its snapshot, and a target holding `target_rows`, both
/// databases with `schema`.
fn drifted_target(
    name: &str,
    schema: &str,
    source_rows: &str,
    target_rows: &str,
) -> (TestDb, PathBuf, TestDb) {
    let source = cluster().create_db(name, None, &format!("{schema} {source_rows}"));
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let target = cluster().create_db(
        &format!("{name}_test"),
        None,
        &format!("{schema} {target_rows}"),
    );
    (source, dir, target)
}

/// Imports into a target holding `target_rows` a snapshot of a source holding `source_rows`
/// (both with `schema`), checks that the target then holds the source's rows, and returns
/// the import's report.
fn converges(name: &str, schema: &str, source_rows: &str, target_rows: &str) -> serde_json::Value {
    let (source, dir, target) = drifted_target(name, schema, source_rows, target_rows);
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(
        target.fingerprint(),
        source.fingerprint(),
        "{schema} {report}"
    );
    let again = json(&import(&target, &dir, &["--json"]).ok());
    assert!(repaired(&again).is_empty(), "{schema} {again}");
    report
}

#[test]
fn drifted_rows_are_repaired_before_the_new_rows_that_need_them() {
    let schema = "CREATE TABLE parent (id int PRIMARY KEY, code text NOT NULL UNIQUE);
                  CREATE TABLE child (id int PRIMARY KEY,
                                      parent_code text NOT NULL REFERENCES parent (code));
                  CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL UNIQUE);";
    let source = cluster().create_db(
        "drift_order",
        None,
        &format!(
            "{schema} INSERT INTO parent VALUES (1, 'a');
                      INSERT INTO child VALUES (1, 'a');
                      INSERT INTO users VALUES (1, 'ann@x'), (2, 'bob@x');"
        ),
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    // Compared with the target all at once, and (a trigger let run) table by table.
    let trigger = "CREATE FUNCTION same() RETURNS trigger LANGUAGE plpgsql
                       AS 'BEGIN RETURN NEW; END';
                   CREATE TRIGGER same BEFORE INSERT OR UPDATE ON users
                       FOR EACH ROW EXECUTE FUNCTION same();";
    for extra in [&[][..], &["--fire-triggers"][..]] {
        // The target's rows drifted: the parent's code was renamed (a new child needs the old
        // one back), and user 1 took the address the snapshot gives user 2.
        let target = cluster().create_db(
            "drift_order_test",
            None,
            &format!(
                "{schema} {} INSERT INTO parent VALUES (1, 'z');
                          INSERT INTO users VALUES (1, 'bob@x');",
                if extra.is_empty() { "" } else { trigger }
            ),
        );
        let args: Vec<&str> = ["--json"].iter().chain(extra).copied().collect();
        let report = json(&import(&target, &dir, &args).ok());
        assert_eq!(
            report["triggers_fired"].as_array().unwrap().len(),
            extra.len(),
            "{report}"
        );
        assert_eq!(
            repaired(&report),
            vec!["public.parent 1 code", "public.users 1 email"],
            "{extra:?} {report}"
        );
        assert_eq!(total(&report, "inserted"), 2, "{report}");
        assert_eq!(total(&report, "updated"), 2, "{report}");
        assert_eq!(
            text(
                &target,
                "SELECT string_agg(id || ':' || email, ' ' ORDER BY id) FROM users"
            ),
            "1:ann@x 2:bob@x"
        );
        assert_eq!(
            text(&target, "SELECT parent_code FROM child WHERE id = 1"),
            "a"
        );
        // Converged: the next import has nothing to do.
        let again = json(&import(&target, &dir, &args).ok());
        assert!(repaired(&again).is_empty(), "{again}");
        assert_eq!(total(&again, "inserted"), 0, "{again}");
    }
}

#[test]
fn a_repair_that_would_cascade_to_rows_outside_the_snapshot_is_refused() {
    let schema = "CREATE TABLE parent (id int PRIMARY KEY, code text NOT NULL UNIQUE);
                  CREATE TABLE child (id int PRIMARY KEY,
                                      parent_code text REFERENCES parent (code)
                                          ON UPDATE CASCADE);";
    let source = cluster().create_db(
        "drift_cascade",
        None,
        &format!(
            "{schema} INSERT INTO parent VALUES (1, 'a');
                      INSERT INTO child VALUES (1, 'a');"
        ),
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let target = cluster().create_db("drift_cascade_test", None, schema);
    import(&target, &dir, &[]).ok();
    // A test added a child of its own; then the parent's code was renamed (both children
    // followed it by the cascade).
    target.execute(
        "INSERT INTO child VALUES (2, 'a');
         UPDATE parent SET code = 'z' WHERE id = 1;",
    );
    let before = target.fingerprint();
    import(&target, &dir, &[])
        .code(5)
        .stderr_has("public.parent (id)=(1)")
        .stderr_has("ON UPDATE CASCADE")
        .stderr_has("1 row(s) of public.child")
        .stderr_has("(id)=(2)")
        .stderr_has("--on-drift=keep");
    assert_eq!(target.fingerprint(), before, "the target changed");
    // Keeping the drift loads; nothing outside the snapshot changed.
    import(&target, &dir, &["--on-drift", "keep"]).ok();
    assert_eq!(target.fingerprint(), before);
}

#[test]
fn a_drifted_generated_always_identity_column_is_named() {
    let schema = "CREATE TABLE tickets (id int PRIMARY KEY,
                                        n int GENERATED ALWAYS AS IDENTITY,
                                        label text);";
    let source = cluster().create_db(
        "drift_identity",
        None,
        &format!("{schema} INSERT INTO tickets (id, label) VALUES (1, 'one'), (2, 'two');"),
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let target = cluster().create_db("drift_identity_test", None, schema);
    import(&target, &dir, &[]).ok();
    // The identity column can only be set to DEFAULT: the row now holds another number.
    target.execute("UPDATE tickets SET n = DEFAULT, label = 'changed' WHERE id = 2");
    let before = target.fingerprint();
    import(&target, &dir, &[])
        .code(5)
        .stderr_has("public.tickets (id)=(2)")
        .stderr_has("column n")
        .stderr_has("GENERATED ALWAYS")
        .stderr_has("--on-drift=keep");
    assert_eq!(target.fingerprint(), before, "the target changed");
}

#[test]
fn drift_in_tables_that_reference_themselves_converges() {
    let schema = "CREATE TABLE categories (id int PRIMARY KEY, name text NOT NULL UNIQUE,
                                           parent_id int REFERENCES categories (id));
                  CREATE TABLE nodes (id int PRIMARY KEY, label text UNIQUE,
                                      parent_id int REFERENCES nodes (id));";
    let source = cluster().create_db(
        "drift_self",
        None,
        &format!(
            "{schema} INSERT INTO categories VALUES (1, 'a', NULL), (2, 'b', 1);
                      INSERT INTO nodes VALUES (2, 'n2', NULL), (1, 'n1', 2);"
        ),
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    // Category 1 holds the name the snapshot gives category 2 (repaired before the insert);
    // node 1 lost its parent, a row new to the target (that repair breaks the key before
    // the insert: it is rolled back and done after it).
    let target = cluster().create_db(
        "drift_self_test",
        None,
        &format!(
            "{schema} INSERT INTO categories VALUES (1, 'b', NULL);
                      INSERT INTO nodes VALUES (1, 'n1', NULL);"
        ),
    );
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(
        repaired(&report),
        vec!["public.categories 1 name", "public.nodes 1 parent_id"],
        "{report}"
    );
    assert_eq!(
        text(
            &target,
            "SELECT string_agg(id || ':' || name, ' ' ORDER BY id) FROM categories"
        ),
        "1:a 2:b"
    );
    assert_eq!(
        target.query_i64("SELECT parent_id::int8 FROM nodes WHERE id = 1"),
        2
    );
}

#[test]
fn a_repair_waits_for_a_drifted_child_under_a_deferrable_key() {
    // A parent's unique value changed, and its child (matched by key, repaired after the
    // insert) followed it: the parent's repair before its new row breaks the deferrable key
    // until the child's repair, so the deferred check waits for the last repair. Also a
    // deferrable cycle through the same kind of key.
    let cases = [
        (
            "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE NOT NULL, name text);
             CREATE TABLE orders (id int PRIMARY KEY, user_email text
                                  REFERENCES users (email) DEFERRABLE INITIALLY DEFERRED);",
            "INSERT INTO users VALUES (1, 'a@x', 'A'), (2, 'c@x', 'C');
             INSERT INTO orders VALUES (10, 'a@x');",
            "INSERT INTO users VALUES (1, 'b@x', 'A'); INSERT INTO orders VALUES (10, 'b@x');",
        ),
        (
            "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE NOT NULL, name text);
             CREATE TABLE orders (id int PRIMARY KEY, user_email text
                                  REFERENCES users (email) DEFERRABLE);",
            "INSERT INTO users VALUES (1, 'a@x', 'A'), (2, 'c@x', 'C');
             INSERT INTO orders VALUES (10, 'a@x');",
            "INSERT INTO users VALUES (1, 'b@x', 'A'); INSERT INTO orders VALUES (10, 'b@x');",
        ),
        (
            "CREATE TABLE a (id int PRIMARY KEY, code text UNIQUE NOT NULL, b_id int);
             CREATE TABLE b (id int PRIMARY KEY, a_code text
                             REFERENCES a (code) DEFERRABLE INITIALLY DEFERRED);
             ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id)
                 DEFERRABLE INITIALLY DEFERRED;",
            "BEGIN; INSERT INTO a VALUES (1, 'x', 10), (2, 'y', NULL);
             INSERT INTO b VALUES (10, 'x'); COMMIT;",
            "BEGIN; INSERT INTO a VALUES (1, 'old', 10); INSERT INTO b VALUES (10, 'old');
             COMMIT;",
        ),
    ];
    for (schema, source_rows, target_rows) in cases {
        let report = converges("drift_deferred", schema, source_rows, target_rows);
        assert_eq!(repaired(&report).len(), 2, "{schema} {report}");
        assert_eq!(total(&report, "inserted"), 1, "{schema} {report}");
    }
}

#[test]
fn a_cascade_is_followed_through_snapshot_rows_to_rows_outside_it() {
    // t1's repair cascades to t2's row (in the snapshot), whose change cascades (or sets NULL)
    // to t3's row 555, which the snapshot does not hold.
    for action in ["CASCADE", "SET NULL"] {
        let schema = format!(
            "CREATE TABLE t1 (id int PRIMARY KEY, code text UNIQUE NOT NULL);
             CREATE TABLE t2 (id int PRIMARY KEY,
                              code text REFERENCES t1 (code) ON UPDATE CASCADE,
                              UNIQUE (code, id));
             CREATE TABLE t3 (id int PRIMARY KEY, code text, t2id int,
                              FOREIGN KEY (code, t2id) REFERENCES t2 (code, id)
                                  ON UPDATE {action});"
        );
        let (_source, dir, target) = drifted_target(
            "drift_chain",
            &schema,
            "INSERT INTO t1 VALUES (1, 'A'); INSERT INTO t2 VALUES (10, 'A');
             INSERT INTO t3 VALUES (100, 'A', 10);",
            "INSERT INTO t1 VALUES (1, 'B'); INSERT INTO t2 VALUES (10, 'B');
             INSERT INTO t3 VALUES (555, 'B', 10);",
        );
        let before = target.fingerprint();
        import(&target, &dir, &[])
            .code(5)
            .stderr_has("public.t1 (id)=(1)")
            .stderr_has("t2_code_fkey ON UPDATE CASCADE carries to rows of public.t2")
            .stderr_has("1 row(s) of public.t3")
            .stderr_has(&format!("ON UPDATE {action}: (id)=(555)"))
            .stderr_has("--on-drift=keep");
        assert_eq!(target.fingerprint(), before, "{action}: the target changed");
    }
}

#[test]
fn unique_indexes_that_are_not_keys_are_repaired_before_the_new_rows() {
    // Row 1 holds the value the snapshot gives row 2 under a unique index that is no usable
    // key (an expression, a predicate, one partition's own): repaired before row 2 goes in.
    let cases = [
        (
            "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);
             CREATE UNIQUE INDEX ON users (lower(email));",
            "INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x');",
            "INSERT INTO users VALUES (1, 'B@x');",
        ),
        (
            "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, active bool NOT NULL);
             CREATE UNIQUE INDEX ON users (email) WHERE active;",
            "INSERT INTO users VALUES (1, 'a@x', true), (2, 'b@x', true);",
            "INSERT INTO users VALUES (1, 'b@x', true);",
        ),
        (
            "CREATE TABLE users (id int, region text, email text NOT NULL,
                                 PRIMARY KEY (id, region)) PARTITION BY LIST (region);
             CREATE TABLE users_eu PARTITION OF users (UNIQUE (email)) FOR VALUES IN ('eu');",
            "INSERT INTO users VALUES (1, 'eu', 'a@x'), (2, 'eu', 'b@x');",
            "INSERT INTO users VALUES (1, 'eu', 'b@x');",
        ),
    ];
    for (schema, source_rows, target_rows) in cases {
        let report = converges("drift_index", schema, source_rows, target_rows);
        assert_eq!(
            repaired(&report),
            ["public.users 1 email"],
            "{schema} {report}"
        );
        assert_eq!(total(&report, "inserted"), 1, "{schema} {report}");
    }
}

#[test]
fn only_the_repairs_that_need_a_new_row_wait_for_it() {
    // Row 1's slug must come back before the new row 2 can reference it; row 3's repair
    // needs row 2: repaired after the insert.
    let schema = "CREATE TABLE tags (id int PRIMARY KEY, slug text UNIQUE NOT NULL,
                                     parent_slug text REFERENCES tags (slug));";
    let report = converges(
        "drift_partial",
        schema,
        "INSERT INTO tags VALUES (1, 'root', NULL), (2, 'child', 'root'), (3, 'grand', 'child');",
        "INSERT INTO tags VALUES (1, 'oldroot', NULL), (3, 'grand', NULL);",
    );
    assert_eq!(
        repaired(&report),
        ["public.tags 1 slug", "public.tags 3 parent_slug"],
        "{report}"
    );
    assert_eq!(total(&report, "inserted"), 1, "{report}");
}

#[test]
fn a_repair_refused_by_a_key_names_the_rows_that_hold_it() {
    // Row 99, which the snapshot does not hold, still references the tag's old slug through
    // a NO ACTION key: the repair is refused, naming the key, the rows and what to do.
    let schema = "CREATE TABLE tags (id int PRIMARY KEY, slug text UNIQUE NOT NULL);
                  CREATE TABLE content_tags (id int PRIMARY KEY,
                                             tag_slug text REFERENCES tags (slug));";
    let (_source, dir, target) = drifted_target(
        "drift_blocked",
        schema,
        "INSERT INTO tags VALUES (1, 'a'), (2, 'b');",
        "INSERT INTO tags VALUES (1, 'old'); INSERT INTO content_tags VALUES (99, 'old');",
    );
    let before = target.fingerprint();
    import(&target, &dir, &[])
        .code(4)
        .stderr_has("public.tags (id)=(1): slug")
        .stderr_has("1 row(s) of public.content_tags still reference")
        .stderr_has("content_tags_tag_slug_fkey (ON UPDATE NO ACTION): (id)=(99)")
        .stderr_has("--on-drift=keep");
    assert_eq!(target.fingerprint(), before, "the target changed");
    import(&target, &dir, &["--on-drift", "keep"]).ok();
}

#[test]
fn a_key_spelled_otherwise_in_the_same_type_is_the_same_row_not_drift() {
    // Keys whose equality is not their text's: a numeric (scale), a citext and a text under a
    // nondeterministic collation (case).
    let schema = "CREATE EXTENSION citext;
                  CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2',
                                       deterministic = false);
                  CREATE TABLE prices (amount numeric PRIMARY KEY, label text NOT NULL);
                  CREATE TABLE orders (id int PRIMARY KEY,
                                       amount numeric NOT NULL REFERENCES prices (amount));
                  CREATE TABLE tags (name citext PRIMARY KEY, note text);
                  CREATE TABLE codes (code text COLLATE ci PRIMARY KEY, note text);";
    let (_source, dir, target) = drifted_target(
        "drift_scale",
        schema,
        "INSERT INTO prices VALUES (1.5, 'small'), (2, 'big');
         INSERT INTO orders VALUES (1, 1.5);
         INSERT INTO tags VALUES ('Ann', 'a');
         INSERT INTO codes VALUES ('Abc', 'c');",
        "",
    );
    let dir_text = dir.to_str().unwrap();
    import(&target, &dir, &[]).ok();
    let hand_edit = |file: &str, from: &str, to: &str| {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}: {text}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        seedsnap(&["seal", "--dir", dir_text]).ok();
    };
    // Only the spelling of each key changes: the rows are the ones the target holds.
    hand_edit("public.prices.tsv", "\n1.5\tsmall\n", "\n1.50\tsmall\n");
    hand_edit("public.tags.tsv", "\nAnn\ta\n", "\nANN\ta\n");
    hand_edit("public.codes.tsv", "\nAbc\tc\n", "\nABC\tc\n");
    seedsnap(&["verify", "--dir", dir_text]).ok();
    let before = target.fingerprint();
    for on_drift in ["update", "fail"] {
        let report = json(&import(&target, &dir, &["--json", "--on-drift", on_drift]).ok());
        assert!(repaired(&report).is_empty(), "{report}");
        assert_eq!(total(&report, "drifted"), 0, "{report}");
        assert_eq!(total(&report, "already_present"), 5, "{report}");
        assert_eq!(total(&report, "missing"), 0, "{report}");
        assert_eq!(report["committed"], true, "{report}");
    }
    // Nothing rewrote the keys: the target keeps its own spelling.
    assert_eq!(target.fingerprint(), before);
    assert_eq!(
        text(
            &target,
            "SELECT amount::text FROM prices WHERE label = 'small'"
        ),
        "1.5"
    );

    // A real change of a column that is not the key is drift still: refused with
    // --on-drift=fail, brought back by default.
    hand_edit("public.prices.tsv", "\n1.50\tsmall\n", "\n1.50\tsmaller\n");
    import(&target, &dir, &["--on-drift", "fail"])
        .code(5)
        .stderr_has("(drift) in public.prices (1 rows)");
    assert_eq!(target.fingerprint(), before);
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(repaired(&report), vec!["public.prices 1.50 label"]);
    assert_eq!(
        text(&target, "SELECT label FROM prices WHERE amount = 1.5"),
        "smaller"
    );
    let again = json(&import(&target, &dir, &["--json", "--on-drift", "fail"]).ok());
    assert!(repaired(&again).is_empty(), "{again}");
}

#[test]
fn a_repair_of_an_inheritance_parent_updates_its_own_rows_only() {
    // The parent's row 1 drifted; a child table (classic inheritance, no key shared) holds a
    // row under the same id, which the snapshot's parent rows are not.
    let schema = "CREATE TABLE items (id int PRIMARY KEY, label text);
                  CREATE TABLE special_items (extra text) INHERITS (items);";
    let (_source, dir, target) = drifted_target(
        "drift_inherit",
        schema,
        "INSERT INTO items VALUES (1, 'a');",
        "INSERT INTO items VALUES (1, 'old');
         INSERT INTO special_items VALUES (1, 'mine', 'x');",
    );
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(repaired(&report), ["public.items 1 label"], "{report}");
    assert_eq!(
        text(
            &target,
            "SELECT string_agg(tableoid::regclass || ':' || label, ' ' ORDER BY label) FROM items"
        ),
        "items:a special_items:mine"
    );
}

#[test]
fn a_repair_that_would_cascade_through_a_key_to_one_partition_is_refused() {
    // audit references a leaf partition of acct, not acct itself: the repair of acct's row
    // would rewrite audit's row 9, which the snapshot does not hold.
    let schema = "CREATE TABLE acct (id int, region text, code text,
                                     PRIMARY KEY (id, region), UNIQUE (code, region))
                      PARTITION BY LIST (region);
                  CREATE TABLE acct_eu PARTITION OF acct FOR VALUES IN ('eu');
                  CREATE TABLE audit (id int PRIMARY KEY, code text, region text,
                                      FOREIGN KEY (code, region) REFERENCES acct_eu (code, region)
                                          ON UPDATE CASCADE);";
    let (_source, dir, target) = drifted_target(
        "drift_leaf_cascade",
        schema,
        "INSERT INTO acct VALUES (1, 'eu', 'B');",
        "INSERT INTO acct VALUES (1, 'eu', 'A'); INSERT INTO audit VALUES (9, 'A', 'eu');",
    );
    let before = target.fingerprint();
    import(&target, &dir, &[])
        .code(5)
        .stderr_has("public.acct (id, region)=(1, eu)")
        .stderr_has("1 row(s) of public.audit")
        .stderr_has("(id)=(9)")
        .stderr_has("--on-drift=keep");
    assert_eq!(target.fingerprint(), before, "the target changed");
}

#[test]
fn a_repair_refused_by_a_key_to_a_partitioned_table_names_the_rows_that_hold_it() {
    // A NO ACTION key to the partitioned table (its check runs as the clone on the partition)
    // and one to a leaf partition: both name the key and the row that still holds the value.
    for reference in ["acct (code, region)", "acct_eu (code, region)"] {
        let schema = format!(
            "CREATE TABLE acct (id int, region text, code text,
                                PRIMARY KEY (id, region), UNIQUE (code, region))
                 PARTITION BY LIST (region);
             CREATE TABLE acct_eu PARTITION OF acct FOR VALUES IN ('eu');
             CREATE TABLE audit (id int PRIMARY KEY, code text, region text,
                                 CONSTRAINT audit_acct FOREIGN KEY (code, region)
                                     REFERENCES {reference});"
        );
        let (_source, dir, target) = drifted_target(
            "drift_leaf_blocked",
            &schema,
            "INSERT INTO acct VALUES (1, 'eu', 'B');",
            "INSERT INTO acct VALUES (1, 'eu', 'A'); INSERT INTO audit VALUES (9, 'A', 'eu');",
        );
        let before = target.fingerprint();
        import(&target, &dir, &[])
            .code(4)
            .stderr_has("public.acct (id, region)=(1, eu): code")
            .stderr_has("1 row(s) of public.audit still reference")
            .stderr_has("audit_acct (ON UPDATE NO ACTION): (id)=(9)");
        assert_eq!(
            target.fingerprint(),
            before,
            "{reference}: the target changed"
        );
    }
}

#[test]
fn keys_of_an_extension_type_off_the_search_path_compare_with_their_own_equality() {
    // citext lives in a schema the role's search_path lacks, where `citext = citext` would
    // resolve to text's `=`, which tells case.
    let schema = "CREATE SCHEMA extensions;
                  CREATE EXTENSION citext SCHEMA extensions;
                  CREATE TABLE tags (id int PRIMARY KEY, name extensions.citext UNIQUE NOT NULL);
                  CREATE TABLE notes (id int PRIMARY KEY, tag extensions.citext
                                      REFERENCES tags (name) ON UPDATE CASCADE);
                  CREATE TABLE words (word extensions.citext PRIMARY KEY, note text);";
    // Note 9 (not in the snapshot) references tag 1 in another case: the repair of tag 1's
    // name would rewrite it by the cascade.
    let (_source, dir, target) = drifted_target(
        "drift_citext_path",
        schema,
        "INSERT INTO tags VALUES (1, 'xyz'); INSERT INTO words VALUES ('Ann', 'a');",
        "INSERT INTO tags VALUES (1, 'ABC'); INSERT INTO notes VALUES (9, 'abc');
         INSERT INTO words VALUES ('ANN', 'a');",
    );
    let before = target.fingerprint();
    import(&target, &dir, &[])
        .code(5)
        .stderr_has("public.tags (id)=(1)")
        .stderr_has("1 row(s) of public.notes")
        .stderr_has("(id)=(9)");
    assert_eq!(target.fingerprint(), before, "the target changed");
    // Without the tag's drift, the word spelled in another case is the row the target holds.
    target.execute("DELETE FROM notes; UPDATE tags SET name = 'xyz'");
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert!(repaired(&report).is_empty(), "{report}");
    assert_eq!(total(&report, "already_present"), 2, "{report}");
    assert_eq!(text(&target, "SELECT word::text FROM words"), "ANN");
}

#[test]
fn a_cascade_chain_that_comes_back_to_a_key_with_new_rows_is_refused() {
    // r's repair cascades to a1, then (b_a) to b10, then (a_b) to a3, all in the snapshot;
    // b_a again carries a3's change to b30, which the snapshot does not hold.
    let schema = "CREATE TABLE r (id int PRIMARY KEY, code text NOT NULL, UNIQUE (code, id));
                  CREATE TABLE a (id int PRIMARY KEY, code text, rid int, bid int,
                                  UNIQUE (code, id),
                                  CONSTRAINT a_r FOREIGN KEY (code, rid) REFERENCES r (code, id)
                                      ON UPDATE CASCADE);
                  CREATE TABLE b (id int PRIMARY KEY, code text, aid int, UNIQUE (code, id),
                                  CONSTRAINT b_a FOREIGN KEY (code, aid) REFERENCES a (code, id)
                                      ON UPDATE CASCADE);
                  ALTER TABLE a ADD CONSTRAINT a_b FOREIGN KEY (code, bid)
                      REFERENCES b (code, id) ON UPDATE CASCADE;";
    let rows = |code: &str, outside: &str| {
        format!(
            "INSERT INTO r VALUES (1, '{code}'); INSERT INTO a VALUES (1, '{code}', 1, NULL);
             INSERT INTO b VALUES (10, '{code}', 1); INSERT INTO a VALUES (3, '{code}', NULL, 10);
             {outside}"
        )
    };
    let (_source, dir, target) = drifted_target(
        "drift_revisit",
        schema,
        &rows("Y", ""),
        &rows("X", "INSERT INTO b VALUES (30, 'X', 3);"),
    );
    let before = target.fingerprint();
    import(&target, &dir, &[])
        .code(5)
        .stderr_has("public.r (id)=(1): code")
        .stderr_has("a_r → b_a → a_b → b_a")
        .stderr_has("1 row(s) of public.b")
        .stderr_has("(id)=(30)")
        .stderr_has("--on-drift=keep");
    assert_eq!(target.fingerprint(), before, "the target changed");
    // Without the row outside the snapshot, the chain reaches nothing new: it converges.
    target.execute("DELETE FROM b WHERE id = 30");
    import(&target, &dir, &[]).ok();
    assert_eq!(
        text(&target, "SELECT string_agg(DISTINCT code, ',') FROM b"),
        "Y"
    );
}

#[test]
fn a_cascade_through_a_key_of_other_types_compares_as_the_server_does() {
    // The key compares a text child with the character(3) parent by bpchar's equality (the
    // child cast to the parent's type), which ignores trailing blanks: post 9's 'xy '
    // references tag 1's 'xy', and the repair of the tag's code would rewrite it by the
    // cascade. Compared as text, they differ.
    let schema = "CREATE TABLE tags (id int PRIMARY KEY, code char(3) UNIQUE NOT NULL);
                  CREATE TABLE posts (id int PRIMARY KEY, tag_code text
                                      REFERENCES tags (code) ON UPDATE CASCADE);";
    let (_source, dir, target) = drifted_target(
        "drift_bpchar_cascade",
        schema,
        "INSERT INTO tags VALUES (1, 'ab');",
        "INSERT INTO tags VALUES (1, 'xy'); INSERT INTO posts VALUES (9, 'xy ');",
    );
    let before = target.fingerprint();
    import(&target, &dir, &[])
        .code(5)
        .stderr_has("public.tags (id)=(1)")
        .stderr_has("1 row(s) of public.posts")
        .stderr_has("(id)=(9)");
    assert_eq!(target.fingerprint(), before, "the target changed");
}

#[test]
fn a_cascade_from_a_partition_follows_the_keys_to_its_partitioned_table() {
    // acct_eu's own key (declared on the partition only) carries the repair of tag 1's code
    // to acct's row 1, and audit's key to acct (the partitioned table) would carry it on to
    // audit's row 9, which the snapshot does not hold. (The partition's rows are taken as
    // outside the snapshot, which holds them as rows of acct: the chain is refused at its
    // first key.)
    let schema = "CREATE TABLE tag (id int PRIMARY KEY, code text UNIQUE NOT NULL);
                  CREATE TABLE acct (id int, region text, code text,
                                     PRIMARY KEY (id, region), UNIQUE (code, region))
                      PARTITION BY LIST (region);
                  CREATE TABLE acct_eu PARTITION OF acct FOR VALUES IN ('eu');
                  ALTER TABLE acct_eu ADD FOREIGN KEY (code) REFERENCES tag (code)
                      ON UPDATE CASCADE;
                  CREATE TABLE audit (id int PRIMARY KEY, code text, region text,
                                      FOREIGN KEY (code, region) REFERENCES acct (code, region)
                                          ON UPDATE CASCADE);";
    let (_source, dir, target) = drifted_target(
        "drift_partition_cascade",
        schema,
        "INSERT INTO tag VALUES (1, 'B'); INSERT INTO acct VALUES (1, 'eu', 'B');",
        "INSERT INTO tag VALUES (1, 'A'); INSERT INTO acct VALUES (1, 'eu', 'A');
         INSERT INTO audit VALUES (9, 'A', 'eu');",
    );
    let before = target.fingerprint();
    import(&target, &dir, &[])
        .code(5)
        .stderr_has("public.tag (id)=(1)")
        .stderr_has("--on-drift=keep");
    assert_eq!(target.fingerprint(), before, "the target changed");
}

#[test]
fn a_snapshot_row_held_out_by_another_unique_key_is_missing_not_drift() {
    // The snapshot's row 1 has no row of its key in the target, but a row a test added holds
    // its email: it cannot go in. Not drift (there is no row of its key to keep or bring
    // back): missing, whatever --on-drift says, and the target unchanged.
    let (_source, dir, target) = drifted_target(
        "held_out",
        "CREATE TABLE t (id int PRIMARY KEY, email text NOT NULL UNIQUE, note text);",
        "INSERT INTO t VALUES (1, 'a@x', 'from the snapshot'), (2, 'b@x', 'second');",
        "INSERT INTO t VALUES (99, 'a@x', 'added by a test');",
    );
    let before = target.fingerprint();
    for on_drift in ["keep", "update", "fail"] {
        import(&target, &dir, &["--on-drift", on_drift])
            .code(5)
            .stderr_has("snapshot rows are not in the target after loading: public.t (1 rows)")
            .stderr_has("conflict with existing rows on another unique key");
        assert_eq!(target.fingerprint(), before, "--on-drift={on_drift}");
    }
    // Without the test's row, the snapshot loads whole.
    target.execute("DELETE FROM t WHERE id = 99");
    import(&target, &dir, &["--on-drift", "keep"]).ok();
    assert_eq!(
        target.query_i64("SELECT count(*) FROM t WHERE id IN (1, 2)"),
        2
    );
}
