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
        "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"price\" TYPE numeric(10,2)",
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
/// sequences feeding the columns only the target has. seedsnap never moves them back (another
/// session may have drawn from them meanwhile); it names each with how far it moved, on
/// stderr and in `--json` (the dry run's report, a failure's error object).
#[test]
fn sequences_the_inserts_drew_from_stay_advanced_and_are_named_when_the_import_does_not_commit() {
    let (_source, dir) = exported(
        "undrawn",
        "CREATE TABLE t (id int PRIMARY KEY, v text);",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    );
    let target = cluster().create_db(
        "undrawn_test",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, v text CONSTRAINT no_c CHECK (v <> 'c'),
                         serial_no bigserial, ident int GENERATED BY DEFAULT AS IDENTITY);
         SELECT setval('t_serial_no_seq', 41);
         INSERT INTO t (id, v) VALUES (10, 'x');",
    );
    let serial = || target.query_i64("SELECT last_value FROM t_serial_no_seq");
    let ident = || target.query_i64("SELECT last_value FROM t_ident_seq");
    assert_eq!((serial(), ident()), (42, 1));
    // The entry of `sequence` in a JSON list of sequences left advanced.
    let entry = |list: &serde_json::Value, sequence: &str| -> (i64, i64) {
        let found = list
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {list}"))
            .iter()
            .find(|s| s["sequence"] == sequence)
            .unwrap_or_else(|| panic!("{sequence} not in {list}"))
            .clone();
        (
            found["from"].as_i64().unwrap(),
            found["to"].as_i64().unwrap(),
        )
    };

    // A value the target refuses: the rows drawn before it stay drawn, named, never put back.
    let refused = import(&target, &dir, &["--json"]).code(4);
    assert!(refused.stderr.contains("no_c"), "{}", refused.stderr);
    let (after_serial, after_ident) = (serial(), ident());
    assert!(after_serial > 42 && after_ident > 1, "nothing was drawn?");
    for expected in [
        "the target's rows are as they were, but the rolled-back inserts left 2 sequence(s) \
         advanced, a harmless gap (seedsnap never moves a sequence back)"
            .to_string(),
        format!("public.t_serial_no_seq 42 -> {after_serial}"),
        format!("public.t_ident_seq 1 -> {after_ident}"),
    ] {
        assert!(
            refused.stderr.contains(&expected),
            "{expected}:\n{}",
            refused.stderr
        );
    }
    let error = &json(&refused)["error"];
    assert_eq!(
        entry(&error["sequences_left_advanced"], "public.t_serial_no_seq"),
        (42, after_serial)
    );
    assert!(
        error["message"].as_str().unwrap().ends_with(&format!(
            "public.t_ident_seq 1 -> {after_ident}, public.t_serial_no_seq 42 -> {after_serial}"
        )),
        "{error}"
    );

    // A dry run: where the sequences stood after it, and in its report.
    target.execute("ALTER TABLE t DROP CONSTRAINT no_c");
    let before = serial();
    let dry = import(&target, &dir, &["--dry-run", "--json"]).ok();
    let after = serial();
    assert_eq!(after, before + 3, "three rows drew, none was given back");
    let report = json(&dry);
    assert_eq!(
        entry(&report["sequences_left_advanced"], "public.t_serial_no_seq"),
        (before, after)
    );
    assert!(
        dry.stderr
            .contains(&format!("public.t_serial_no_seq {before} -> {after}")),
        "{}",
        dry.stderr
    );

    // An import that fails verification (a drifted row, --on-drift=fail).
    target.execute("INSERT INTO t (id, v) VALUES (1, 'drifted')");
    let before = serial();
    let drift = import(&target, &dir, &["--on-drift", "fail"]).code(5);
    let after = serial();
    assert!(after > before, "nothing was drawn?");
    assert!(
        drift
            .stderr
            .contains(&format!("public.t_serial_no_seq {before} -> {after}")),
        "{}",
        drift.stderr
    );

    // A committed import draws from them as any insert does, and names nothing.
    target.execute("DELETE FROM t WHERE id = 1");
    let committed = import(&target, &dir, &["--json"]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM t"), 4);
    assert!(
        !committed.stderr.contains("rolled-back inserts"),
        "{}",
        committed.stderr
    );
    assert_eq!(
        json(&committed)["sequences_left_advanced"],
        serde_json::json!([])
    );
}

/// While a dry run holds its locks, another session draws ids straight from the sequence
/// (`SELECT nextval(...)`, as an ORM pre-allocating them does; no table lock stops it). None
/// of them is ever handed out again: the sequence never moves back.
#[test]
fn ids_another_session_draws_during_a_dry_run_are_never_handed_out_again() {
    let (_source, dir) = exported(
        "undrawn_concurrent",
        "CREATE TABLE t (id int PRIMARY KEY, v text);",
        "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 6) i;",
    );
    let target = cluster().create_db(
        "undrawn_concurrent_test",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, v text, serial_no bigserial);
         CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_sleep(0.25); RETURN NEW; END $$;
         CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow();",
    );
    let args = import_args(&target, &dir, &["--dry-run", "--fire-triggers"]);
    let import = seedsnap_command(&scratch_dir("home"), &args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the import's inserts are under way (its session sleeps in the trigger, after its
    // row's default drew), the application draws.
    let mut app = target.client();
    let mut sleeping = false;
    for _ in 0..400 {
        sleeping = app
            .query_one(
                "SELECT count(*) > 0 FROM pg_stat_activity
                  WHERE datname = current_database() AND application_name = 'seedsnap'
                    AND wait_event = 'PgSleep'",
                &[],
            )
            .unwrap()
            .get(0);
        if sleeping {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(sleeping, "the import never reached its inserts");
    let mut taken: Vec<i64> = Vec::new();
    for _ in 0..3 {
        taken.push(
            app.query_one("SELECT nextval('t_serial_no_seq')", &[])
                .unwrap()
                .get(0),
        );
    }
    let run = Run::from_output(import.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The application's next rows get ids no one was given before.
    target.execute("DROP TRIGGER slow ON t");
    for i in 0..6 {
        let id = target.query_i64(&format!(
            "INSERT INTO t (id, v) VALUES ({}, 'app') RETURNING serial_no",
            100 + i
        ));
        assert!(!taken.contains(&id), "{id} handed out twice ({taken:?})");
        assert!(id > *taken.iter().max().unwrap(), "{id} after {taken:?}");
    }
    assert!(
        run.stderr.contains("public.t_serial_no_seq 0 -> "),
        "{}",
        run.stderr
    );
}

/// A role that may draw from a sequence (USAGE, UPDATE) but not read it (no SELECT) imports,
/// dry or not: the sequence is named as advanced by an unknown amount, never read.
#[test]
fn a_sequence_the_role_may_not_read_is_named_and_never_fails_the_import() {
    let (_source, dir) = exported(
        "unread_seq",
        "CREATE TABLE t (id int PRIMARY KEY, v text);",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b');",
    );
    let target = cluster().create_db(
        "unread_seq_test",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, v text, own serial);",
    );
    let role = cluster().unique_name("unread_loader");
    target.execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{name}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE ON t TO {role};
         GRANT USAGE, UPDATE ON SEQUENCE t_own_seq TO {role};",
        name = target.name
    ));
    let dry = import_as(&target, &role, &dir, &["--dry-run", "--json"]).ok();
    assert!(
        dry.stderr
            .contains("public.t_own_seq by an unknown amount (the role may not read it)"),
        "{}",
        dry.stderr
    );
    assert_eq!(
        json(&dry)["sequences_left_advanced"],
        serde_json::json!([{"sequence": "public.t_own_seq", "from": null, "to": null}])
    );
    assert_eq!(target.query_i64("SELECT last_value FROM t_own_seq"), 2);
    import_as(&target, &role, &dir, &[]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM t"), 2);
    assert_eq!(target.query_i64("SELECT last_value FROM t_own_seq"), 4);
}

/// A column default draws from a sequence by its oid, so the role needs no USAGE on the
/// sequence's schema to insert; naming the sequence does, so its position is not read, and
/// asking whether it may be read never fails the import.
#[test]
fn a_sequence_in_a_schema_the_role_may_not_use_is_named_and_never_fails_the_import() {
    let (_source, dir) = exported(
        "hidden_seq",
        "CREATE TABLE t (id int PRIMARY KEY, v text);",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b');",
    );
    let target = cluster().create_db(
        "hidden_seq_test",
        None,
        "CREATE SCHEMA hidden;
         CREATE SEQUENCE hidden.own_seq;
         CREATE TABLE t (id int PRIMARY KEY, v text,
                         own bigint DEFAULT nextval('hidden.own_seq'));",
    );
    let role = cluster().unique_name("hidden_loader");
    target.execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{name}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE ON t TO {role};
         GRANT SELECT, USAGE, UPDATE ON SEQUENCE hidden.own_seq TO {role};",
        name = target.name
    ));
    let dry = import_as(&target, &role, &dir, &["--dry-run", "--json"]).ok();
    assert_eq!(
        json(&dry)["sequences_left_advanced"],
        serde_json::json!([{"sequence": "hidden.own_seq", "from": null, "to": null}]),
        "{}",
        dry.stderr
    );
    import_as(&target, &role, &dir, &[]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM t"), 2);
    assert_eq!(target.query_i64("SELECT last_value FROM hidden.own_seq"), 4);
}

/// The sequences of the imported columns move forward right before the commit, in one
/// statement that sets each only while it is still behind: a draw made after they were read
/// (here by an event trigger on the import's own `ALTER TABLE … ENABLE TRIGGER`, in between)
/// is never undone.
#[test]
fn a_sequence_that_moved_on_before_the_commit_is_not_set_back() {
    let (_source, dir) = exported(
        "seq_race",
        "CREATE TABLE u (id serial PRIMARY KEY, v text);",
        "INSERT INTO u (v) VALUES ('a'), ('b'), ('c');",
    );
    let target = cluster().create_db(
        "seq_race_test",
        None,
        "CREATE TABLE u (id serial PRIMARY KEY, v text);
         CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER watched AFTER INSERT ON u FOR EACH ROW EXECUTE FUNCTION noop();
         CREATE FUNCTION jump() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF EXISTS (SELECT FROM pg_trigger WHERE tgname = 'watched' AND tgenabled = 'O') THEN
             PERFORM setval('u_id_seq', 1000);
           END IF;
         END $$;",
    );
    let trigger = cluster().unique_name("jump");
    target.execute(&format!(
        "CREATE EVENT TRIGGER {trigger} ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
         EXECUTE FUNCTION jump();
         ALTER EVENT TRIGGER {trigger} ENABLE ALWAYS"
    ));
    let run = import(&target, &dir, &[]).ok();
    target.execute(&format!("DROP EVENT TRIGGER {trigger}"));
    assert!(
        run.stdout
            .contains("sequence public.u_id_seq advanced 0 -> 3"),
        "{}",
        run.stdout
    );
    assert_eq!(target.query_i64("SELECT last_value FROM u_id_seq"), 1000);
    assert_eq!(
        target.query_i64("INSERT INTO u (v) VALUES ('new') RETURNING id::int8"),
        1001
    );
}
