//! The import never changes a value on its way in: a target type that would round or
//! truncate is refused, a target database's settings do not change how text is read, and the
//! sequences feeding the loaded columns move in their own direction.

use super::*;

/// A source with one row of `schema`'s table `t` and `data`, exported with `--limit all`.
fn exported(prefix: &str, schema: &str, data: &str) -> (TestDb, PathBuf) {
    let source = cluster().create_db(prefix, None, &format!("{schema}{data}"));
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    (source, dir)
}

/// Imports `dir` into `target`, expects it refused (exit 4) saying each of `expected`, and
/// the target unchanged.
fn refused_unchanged(target: &TestDb, dir: &Path, expected: &[&str]) {
    let before = target.fingerprint();
    let run = import(target, dir, &[]).code(4);
    for expected in expected {
        assert!(run.stderr.contains(expected), "{expected}:\n{}", run.stderr);
    }
    assert_eq!(target.fingerprint(), before, "a refused import wrote");
}

#[test]
fn target_types_that_cannot_hold_every_value_are_refused_before_any_write() {
    let (_source, dir) = exported(
        "lossy",
        "CREATE TABLE t (id int PRIMARY KEY, price numeric(10,2), ratio float8, big numeric,
                         label text, doc json, code varchar(50), small int, at timestamp(0),
                         r real, j jsonb);",
        "INSERT INTO t VALUES (1, 1.25, 1.0000000000000002, 12345678901234567890.5,
                               repeat('x', 70), '{\"a\": 1, \"a\": 2}', 'abc', 7,
                               '2024-01-02 03:04:05', 1.5, '{\"b\": 1, \"a\": 2}');",
    );
    // Every narrowing at once, listed with its column, both types and the fix.
    let narrowed = cluster().create_db(
        "lossy_test",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, price numeric(10,1), ratio real, big float8,
                         label name, doc jsonb, code varchar(10), small smallint,
                         at timestamp(0), r real, j jsonb);",
    );
    refused_unchanged(
        &narrowed,
        &dir,
        &[
        "column public.t.price is numeric(10,2) in the snapshot but numeric(10,1) in the target",
        "column public.t.ratio is double precision in the snapshot but real in the target",
        "column public.t.big is numeric in the snapshot but double precision in the target",
        "column public.t.label is text in the snapshot but name in the target",
        "column public.t.doc is json in the snapshot but jsonb in the target",
        "column public.t.code is character varying(50) in the snapshot but character varying(10)",
        "column public.t.small is integer in the snapshot but smallint in the target",
        "ALTER TABLE public.t ALTER COLUMN \"price\" TYPE numeric(10,2)",
        "(7 problem(s))",
        "the target is unchanged",
        ],
    );

    // Widening loads, every value as it was.
    let widened = cluster().create_db(
        "lossy_test",
        None,
        "CREATE TABLE t (id bigint PRIMARY KEY, price numeric(12,2), ratio float8, big numeric,
                         label varchar, doc json, code text, small numeric(10,0),
                         at timestamp(6), r float8, j json);",
    );
    let first = json(&import(&widened, &dir, &["--json"]).ok());
    assert_eq!(total(&first, "inserted"), 1, "{first}");
    let again = json(&import(&widened, &dir, &["--json"]).ok());
    assert_eq!(total(&again, "already_present"), 1, "{again}");
    let row = widened.client().query_one(
        "SELECT price::text, ratio::text, big::text, length(label), doc::text, code, small::text,
                at::text, r::text, j::text FROM t",
        &[],
    );
    let row = row.unwrap();
    assert_eq!(row.get::<_, String>(0), "1.25");
    assert_eq!(row.get::<_, String>(1), "1.0000000000000002");
    assert_eq!(row.get::<_, String>(2), "12345678901234567890.5");
    assert_eq!(row.get::<_, i32>(3), 70);
    assert_eq!(row.get::<_, String>(4), "{\"a\": 1, \"a\": 2}");
    assert_eq!(row.get::<_, String>(5), "abc");
    assert_eq!(row.get::<_, String>(6), "7");
    assert_eq!(row.get::<_, String>(7), "2024-01-02 03:04:05");
    assert_eq!(row.get::<_, String>(8), "1.5");
    assert_eq!(row.get::<_, String>(9), "{\"a\": 2, \"b\": 1}");
}

#[test]
fn null_array_elements_stay_null_whatever_the_databases_set() {
    let schema = "CREATE TABLE t (id int PRIMARY KEY, tags text[]);";
    let (source, dir) = {
        let source = cluster().create_db(
            "array_nulls",
            None,
            &format!("{schema}INSERT INTO t VALUES (1, '{{a,NULL}}'), (2, '{{\"NULL\",b}}');"),
        );
        source.execute(&format!(
            "ALTER DATABASE \"{}\" SET array_nulls = off",
            source.name
        ));
        let dir = export_to_scratch(&source, &["--limit", "all"]);
        (source, dir)
    };
    let rows = std::fs::read_to_string(dir.join("public.t.tsv")).unwrap();
    assert_eq!(rows, "id\ttags\n1\t{a,NULL}\n2\t{\"NULL\",b}\n");
    drop(source);

    let nulls = "SELECT string_agg(format('%s:%s:%s', id, tags[1] IS NULL, tags[2] IS NULL), ' ' \
                 ORDER BY id) FROM t";
    let target = cluster().create_db("array_nulls_test", None, schema);
    target.execute(&format!(
        "ALTER DATABASE \"{}\" SET array_nulls = off",
        target.name
    ));
    // An empty table: COPY straight into it.
    import(&target, &dir, &[]).ok();
    let text = |db: &TestDb| -> String { db.client().query_one(nulls, &[]).unwrap().get(0) };
    assert_eq!(text(&target), "1:f:t 2:f:f");
    // A correctly loaded table: every row is present, nothing is rewritten.
    let again = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(total(&again, "already_present"), 2, "{again}");
    assert_eq!(total(&again, "updated"), 0, "{again}");
    // Staged and inserted with INSERT batches too.
    let batches = cluster().create_db("array_nulls_test", None, schema);
    batches.execute(&format!(
        "ALTER DATABASE \"{}\" SET array_nulls = off; INSERT INTO t VALUES (3, '{{c}}');",
        batches.name
    ));
    import(&batches, &dir, &["--load-via", "insert"]).ok();
    assert_eq!(text(&batches), "1:f:t 2:f:f 3:f:t");
}

#[test]
fn descending_sequences_move_toward_their_minimum_and_bounds_are_named() {
    let schema = "CREATE SEQUENCE down_seq INCREMENT -1 START -1 MAXVALUE -1;
                  CREATE TABLE d (id int PRIMARY KEY DEFAULT nextval('down_seq'), v text);
                  CREATE TABLE u (id serial PRIMARY KEY, v text);";
    let (_source, dir) = exported(
        "down_seq",
        schema,
        "INSERT INTO d (v) VALUES ('a'), ('b'), ('c');
         INSERT INTO u (v) VALUES ('a'), ('b'), ('c');",
    );
    let target = cluster().create_db("down_seq_test", None, schema);
    let run = import(&target, &dir, &[]).ok();
    assert!(
        run.stdout
            .contains("sequence public.down_seq advanced 0 -> -3"),
        "{}",
        run.stdout
    );
    // The application's next inserts work, in each sequence's own direction.
    assert_eq!(
        target.query_i64("INSERT INTO d (v) VALUES ('new') RETURNING id::int8"),
        -4
    );
    assert_eq!(
        target.query_i64("INSERT INTO u (v) VALUES ('new') RETURNING id::int8"),
        4
    );
    // Never backwards: a descending sequence already further down stays where it is.
    let further = cluster().create_db("down_seq_test", None, schema);
    further.execute("SELECT setval('down_seq', -100)");
    import(&further, &dir, &[]).ok();
    assert_eq!(further.query_i64("SELECT last_value FROM down_seq"), -100);

    // A bound the snapshot's values pass: named with the value, the bound and the fix,
    // nothing changed.
    let bounded = cluster().create_db(
        "down_seq_test",
        None,
        &format!(
            "{}CREATE SEQUENCE u_seq MAXVALUE 2;
             ALTER TABLE u ALTER id SET DEFAULT nextval('u_seq');",
            schema
                .replace("MAXVALUE -1;", "MAXVALUE -1 MINVALUE -2;")
                .replace("serial", "int")
        ),
    );
    refused_unchanged(
        &bounded,
        &dir,
        &[
            "the import was rolled back; the target is unchanged",
            "sequence public.down_seq (descending) must be set to -3",
            "its MINVALUE is -2: ALTER SEQUENCE public.down_seq MINVALUE -3",
            "sequence public.u_seq must be set to 3",
            "its MAXVALUE is 2: ALTER SEQUENCE public.u_seq MAXVALUE 3",
        ],
    );
}

/// A sequence is not rolled back with the transaction: the inserts of an import that does not
/// commit (a value the target refuses, a dry run, a verification failure) drew from the
/// sequences feeding the columns only the target has, and those are put back.
#[test]
fn sequences_the_inserts_drew_from_are_put_back_when_the_import_does_not_commit() {
    let (_source, dir) = exported(
        "undrawn",
        "CREATE TABLE t (id int PRIMARY KEY, v text);",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    );
    let target_schema =
        "CREATE TABLE t (id int PRIMARY KEY, v text CONSTRAINT no_c CHECK (v <> 'c'),
                                         serial_no bigserial,
                                         ident int GENERATED BY DEFAULT AS IDENTITY);
                         SELECT setval('t_serial_no_seq', 41);";
    let positions = |db: &TestDb| -> (i64, i64) {
        (
            db.query_i64("SELECT last_value FROM t_serial_no_seq"),
            db.query_i64("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM t_ident_seq"),
        )
    };
    // A value the target refuses.
    let target = cluster().create_db("undrawn_test", None, target_schema);
    target.execute("INSERT INTO t (id, v) VALUES (10, 'x')");
    let before = positions(&target);
    assert_eq!(before, (42, 1));
    let refused = import(&target, &dir, &[]).code(4);
    assert!(refused.stderr.contains("no_c"), "{}", refused.stderr);
    assert_eq!(
        positions(&target),
        before,
        "refused: a sequence stayed advanced"
    );

    // A dry run, and an import that fails verification (a drifted row, --on-drift=fail).
    target.execute("ALTER TABLE t DROP CONSTRAINT no_c");
    import(&target, &dir, &["--dry-run"]).ok();
    assert_eq!(
        positions(&target),
        before,
        "dry run: a sequence stayed advanced"
    );
    target.execute("INSERT INTO t (id, v) VALUES (1, 'drifted')");
    let before = positions(&target);
    import(&target, &dir, &["--on-drift", "fail"]).code(5);
    assert_eq!(
        positions(&target),
        before,
        "drift: a sequence stayed advanced"
    );

    // A committed import draws from them as any insert does.
    target.execute("DELETE FROM t WHERE id = 1");
    import(&target, &dir, &[]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM t"), 4);
    assert!(positions(&target).0 > before.0);
}

/// Only a sequence no other session can have drawn from while the import held its locks is
/// put back: one that a table outside the import also draws from stays where it is (moving it
/// back could hand out a value another session took), and so does one the role may not set;
/// each is named, and neither changes the import's own outcome.
#[test]
fn sequences_other_sessions_may_draw_from_are_left_advanced_and_named() {
    let (_source, dir) = exported(
        "undrawn_shared",
        "CREATE TABLE t (id int PRIMARY KEY, v text);",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b');",
    );
    let target = cluster().create_db(
        "undrawn_shared_test",
        None,
        "CREATE SEQUENCE shared;
         CREATE TABLE t (id int PRIMARY KEY, v text, sh bigint DEFAULT nextval('shared'),
                         own serial);
         CREATE TABLE other (id bigint PRIMARY KEY DEFAULT nextval('shared'));",
    );
    let position = |sequence: &str| target.query_i64(&format!("SELECT last_value FROM {sequence}"));
    let run = import(&target, &dir, &["--dry-run"]).ok();
    assert!(
        run.stderr.contains(
            "may have left these sequences advanced (harmless gaps; seedsnap does not move them \
             back): public.shared (other tables draw from it too)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(position("shared"), 2, "the shared sequence was moved back");
    assert_eq!(
        position("t_own_seq"),
        1,
        "the private sequence stayed advanced"
    );

    // A role that may draw from a private sequence but not set it: left, named, and the dry
    // run still succeeds.
    let role = cluster().unique_name("undrawn_loader");
    target.execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{name}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE ON t TO {role};
         GRANT USAGE, SELECT ON SEQUENCE shared, t_own_seq TO {role};",
        name = target.name
    ));
    let run = import_as(&target, &role, &dir, &["--dry-run"]).ok();
    assert!(
        run.stderr
            .contains("public.t_own_seq (the role may not set it)"),
        "{}",
        run.stderr
    );
}
