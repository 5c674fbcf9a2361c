//! Shapes that real application schemas have: keys of every type a key can have (forced
//! through the backfill), tables without columns, user triggers. Each runs end to end: export,
//! verify, import, re-import, and an export of the target that must give the same files.

use super::*;

/// The `.tsv` files of a snapshot directory with their digests.
fn data_files(dir: &Path) -> Vec<(String, String)> {
    read_dir_files(dir)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".tsv"))
        .collect()
}

/// Export → verify → import → re-import (nothing new, nothing changed) → export of the target
/// gives byte-identical files. Returns the snapshot directory and the target.
fn round_trip(
    prefix: &str,
    schema: &str,
    data: &str,
    export_extra: &[&str],
    import_extra: &[&str],
) -> (PathBuf, TestDb) {
    let source = cluster().create_db(prefix, None, &format!("{schema}{data}"));
    let dir = export_to_scratch(&source, export_extra);
    seedsnap(&["verify", "-q", "--dir", dir.to_str().unwrap()]).ok();
    let target = cluster().create_db(&format!("{prefix}_test"), None, schema);
    let mut first_args = vec!["--json"];
    first_args.extend_from_slice(import_extra);
    let first = json(&import(&target, &dir, &first_args).ok());
    let rows = snapshot_rows(&dir);
    assert_eq!(total(&first, "inserted"), rows, "{first}");
    let after_first = target.fingerprint();
    let second = json(&import(&target, &dir, &first_args).ok());
    assert_eq!(total(&second, "inserted"), 0, "{second}");
    assert_eq!(
        target.fingerprint(),
        after_first,
        "a re-import changed the target"
    );
    let again_args = without_limit(export_extra);
    let again = export_to_scratch(&target, &again_args);
    assert_eq!(
        data_files(&dir),
        data_files(&again),
        "the target differs from the snapshot"
    );
    (dir, target)
}

/// The export arguments with `--limit N` replaced by `--limit all`.
fn without_limit<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip = false;
    for &a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == "--limit" {
            skip = true;
            continue;
        }
        out.push(a);
    }
    out.extend(["--limit", "all"]);
    out
}

/// A child with a foreign key to a parent keyed by each type a key can have, single-column and
/// composite.
const KEY_TYPES_SCHEMA: &str = "
        CREATE EXTENSION citext;
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN code AS char(2);
        CREATE TABLE p_char (k char(2) PRIMARY KEY);
        CREATE TABLE p_varchar (k varchar(5) PRIMARY KEY);
        CREATE TABLE p_bit (k bit(6) PRIMARY KEY);
        CREATE TABLE p_varbit (k varbit PRIMARY KEY);
        CREATE TABLE p_numeric (k numeric(6,2) PRIMARY KEY);
        CREATE TABLE p_ts (k timestamp(3) PRIMARY KEY);
        CREATE TABLE p_time (k time(2) PRIMARY KEY);
        CREATE TABLE p_interval (k interval PRIMARY KEY);
        CREATE TABLE p_citext (k citext PRIMARY KEY);
        CREATE TABLE p_uuid (k uuid PRIMARY KEY);
        CREATE TABLE p_inet (k inet PRIMARY KEY);
        CREATE TABLE p_enum (k mood PRIMARY KEY);
        CREATE TABLE p_domain (k code PRIMARY KEY);
        CREATE TABLE p_comp1 (a char(2), b bit(6), c numeric(6,2), d timestamp(3),
                              PRIMARY KEY (a, b, c, d));
        CREATE TABLE p_comp2 (a varchar(5), b time(2), c interval, d citext, e uuid, f inet,
                              g mood, h code, i varbit, PRIMARY KEY (a, b, c, d, e, f, g, h, i));
        CREATE TABLE child (
            id int PRIMARY KEY,
            c_char char(2) REFERENCES p_char, c_varchar varchar(5) REFERENCES p_varchar,
            c_bit bit(6) REFERENCES p_bit, c_varbit varbit REFERENCES p_varbit,
            c_numeric numeric(6,2) REFERENCES p_numeric, c_ts timestamp(3) REFERENCES p_ts,
            c_time time(2) REFERENCES p_time, c_interval interval REFERENCES p_interval,
            c_citext citext REFERENCES p_citext, c_uuid uuid REFERENCES p_uuid,
            c_inet inet REFERENCES p_inet, c_enum mood REFERENCES p_enum,
            c_domain code REFERENCES p_domain,
            FOREIGN KEY (c_char, c_bit, c_numeric, c_ts) REFERENCES p_comp1,
            FOREIGN KEY (c_varchar, c_time, c_interval, c_citext, c_uuid, c_inet, c_enum,
                         c_domain, c_varbit) REFERENCES p_comp2);";

/// 40 parents of each, and children pointing at the last ones (38 to 40).
const KEY_TYPES_DATA: &str = "
        CREATE TEMP TABLE v AS
        SELECT i,
               lpad(i::text, 2, '0')::char(2) AS c_char, ('v' || i)::varchar(5) AS c_varchar,
               i::bit(6) AS c_bit, (i::bit(6))::varbit || B'1' AS c_varbit,
               (i + 0.25)::numeric(6,2) AS c_numeric,
               ('2020-01-01'::timestamp + i * interval '1.123 s')::timestamp(3) AS c_ts,
               ('10:00'::time + i * interval '1.12 s')::time(2) AS c_time,
               i * interval '1 day 2 hours 3.5 s' AS c_interval,
               ('Ci' || i)::citext AS c_citext, md5(i::text)::uuid AS c_uuid,
               ('10.0.0.' || i)::inet AS c_inet,
               (enum_range(NULL::mood))[1 + i % 3] AS c_enum,
               lpad(i::text, 2, 'x')::code AS c_domain
          FROM generate_series(1, 40) AS i;
        INSERT INTO p_char SELECT c_char FROM v; INSERT INTO p_varchar SELECT c_varchar FROM v;
        INSERT INTO p_bit SELECT c_bit FROM v; INSERT INTO p_varbit SELECT c_varbit FROM v;
        INSERT INTO p_numeric SELECT c_numeric FROM v; INSERT INTO p_ts SELECT c_ts FROM v;
        INSERT INTO p_time SELECT c_time FROM v; INSERT INTO p_interval SELECT c_interval FROM v;
        INSERT INTO p_citext SELECT c_citext FROM v; INSERT INTO p_uuid SELECT c_uuid FROM v;
        INSERT INTO p_inet SELECT c_inet FROM v; INSERT INTO p_enum SELECT unnest(enum_range(NULL::mood));
        INSERT INTO p_domain SELECT c_domain FROM v;
        INSERT INTO p_comp1 SELECT c_char, c_bit, c_numeric, c_ts FROM v;
        INSERT INTO p_comp2 SELECT c_varchar, c_time, c_interval, c_citext, c_uuid, c_inet,
                                   c_enum, c_domain, c_varbit FROM v;
        -- The child rows point at the last parents; the sample takes the first.
        INSERT INTO child SELECT i, c_char, c_varchar, c_bit, c_varbit, c_numeric, c_ts, c_time,
                                 c_interval, c_citext, c_uuid, c_inet, c_enum, c_domain
                            FROM v WHERE i > 37;";

/// Keys of every type a key can have, each parent far beyond the sample so that every wanted
/// value goes through the backfill's lookup, single-column and composite.
#[test]
fn keys_of_every_type_are_found_by_the_backfill() {
    let schema = KEY_TYPES_SCHEMA;
    let data = KEY_TYPES_DATA;
    round_trip(
        "keytypes_ins",
        schema,
        data,
        &["--limit", "2"],
        &["--load-via", "insert"],
    );
    let (dir, target) = round_trip("keytypes", schema, data, &["--limit", "2"], &[]);
    // Two children are sampled (38 and 39); every parent holds its two sampled rows (1, 2)
    // and the two the children need, found by the lookup.
    for parent in [
        "p_char", "p_bit", "p_varbit", "p_ts", "p_time", "p_citext", "p_domain",
    ] {
        assert_eq!(
            target.query_i64(&format!("SELECT count(*) FROM {parent}")),
            4,
            "{parent}"
        );
    }
    assert_eq!(target.query_i64("SELECT count(*) FROM p_comp2"), 4);
    assert_eq!(target.query_i64("SELECT count(*) FROM child"), 2);
    drop(dir);
}

/// Foreign keys between columns of different types that print one value two ways: a
/// `numeric(6,2)` child (`38.50`) and a domain over it referencing a `numeric` parent
/// (`38.5`), `varchar` (`c38`) referencing `character(4)` (`c38 `), `citext` `CI38`
/// referencing `Ci38`, composite keys of them, and a self-reference whose chain crosses such a
/// key.
const PRINTED_TWO_WAYS_SCHEMA: &str = "
        CREATE EXTENSION citext;
        CREATE DOMAIN price AS numeric(6,2);
        CREATE TABLE p_num (k numeric PRIMARY KEY);
        CREATE TABLE p_char (k character(4) PRIMARY KEY);
        CREATE TABLE p_ci (k citext PRIMARY KEY);
        CREATE TABLE p_pair (a numeric, b character(4), PRIMARY KEY (a, b));
        CREATE TABLE p_comp (a numeric, b character(4), c citext, PRIMARY KEY (a, b, c));
        CREATE TABLE child (
            id int PRIMARY KEY,
            c_num numeric(6,2) REFERENCES p_num, c_price price REFERENCES p_num,
            c_char varchar(4) REFERENCES p_char, c_ci citext REFERENCES p_ci,
            FOREIGN KEY (c_num, c_char) REFERENCES p_pair,
            FOREIGN KEY (c_num, c_char, c_ci) REFERENCES p_comp);
        CREATE TABLE node (id numeric PRIMARY KEY, up numeric(6,2) REFERENCES node);";

/// 40 parents of each; children point at the last ones (38 to 40), each node at the next.
const PRINTED_TWO_WAYS_DATA: &str = "
        INSERT INTO p_num SELECT i + 0.5 FROM generate_series(1, 40) AS i;
        INSERT INTO p_char SELECT 'c' || i FROM generate_series(1, 40) AS i;
        INSERT INTO p_ci SELECT 'Ci' || i FROM generate_series(1, 40) AS i;
        INSERT INTO p_pair SELECT i + 0.5, 'c' || i FROM generate_series(1, 40) AS i;
        INSERT INTO p_comp SELECT i + 0.5, 'c' || i, 'Ci' || i FROM generate_series(1, 40) AS i;
        INSERT INTO child SELECT i, i + 0.5, i + 0.5, 'c' || i, 'CI' || i
                            FROM generate_series(38, 40) AS i;
        INSERT INTO node SELECT i + 0.5, CASE WHEN i < 40 THEN i + 1.5 END
                           FROM generate_series(1, 40) AS i;";

/// The backfill finds a parent whose key prints otherwise than the child's value that asks
/// for it (it compared the two as text and stopped with 'could not be resolved'), and the
/// snapshot verifies, imports and re-imports.
#[test]
fn keys_between_types_that_print_a_value_two_ways_are_found_by_the_backfill() {
    let (dir, target) = round_trip(
        "two_ways",
        PRINTED_TWO_WAYS_SCHEMA,
        PRINTED_TWO_WAYS_DATA,
        &["--limit", "2"],
        &[],
    );
    // The snapshot holds the parents as the parent prints them.
    let num = first_column(&dir, "public.p_num");
    assert!(num.contains(&"38.5".to_string()), "{num:?}");
    assert!(num.contains(&"39.5".to_string()), "{num:?}");
    let char_keys = first_column(&dir, "public.p_char");
    assert!(char_keys.contains(&"c38 ".to_string()), "{char_keys:?}");
    let ci = first_column(&dir, "public.p_ci");
    assert!(ci.contains(&"Ci39".to_string()), "{ci:?}");
    // Children 38 and 39 are sampled; each parent holds its two sampled rows and the two the
    // children need.
    for (parent, needed) in [
        ("p_num", "k IN (38.5, 39.5)"),
        ("p_char", "k IN ('c38', 'c39')"),
        ("p_ci", "k IN ('ci38', 'ci39')"),
        ("p_pair", "(a, b) IN ((38.5, 'c38'), (39.5, 'c39'))"),
        (
            "p_comp",
            "(a, b, c) IN ((38.5, 'c38', 'CI38'), (39.5, 'c39', 'cI39'))",
        ),
    ] {
        assert_eq!(
            target.query_i64(&format!("SELECT count(*) FROM {parent}")),
            4,
            "{parent}"
        );
        assert_eq!(
            target.query_i64(&format!("SELECT count(*) FROM {parent} WHERE {needed}")),
            2,
            "{parent}"
        );
    }
    assert_eq!(target.query_i64("SELECT count(*) FROM child"), 2);
    // The two sampled nodes need the whole chain above them.
    assert_eq!(target.query_i64("SELECT count(*) FROM node"), 40);
}

/// Text under a case-insensitive (nondeterministic) collation: the parent row `Ab38` that
/// the child's `AB38` equals is found, and the snapshot imports into an empty database. (The
/// offline check compares such text exactly, the manifest not knowing the collation: `verify`
/// would report the child's `AB38`.)
#[test]
fn keys_under_a_case_insensitive_collation_are_found_by_the_backfill() {
    let schema = "
        CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
        CREATE TABLE parent (k text COLLATE ci PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, k text REFERENCES parent);";
    let data = "
        INSERT INTO parent SELECT 'Ab' || i FROM generate_series(1, 40) AS i;
        INSERT INTO child SELECT i, 'AB' || i FROM generate_series(38, 40) AS i;";
    let source = cluster().create_db("ci_keys", None, &format!("{schema}{data}"));
    let dir = export_to_scratch(&source, &["--limit", "2"]);
    // The first two by key (in the collation's order), and the two the children need.
    let parents = first_column(&dir, "public.parent");
    assert_eq!(parents, ["Ab1", "Ab10", "Ab38", "Ab39"]);
    let target = cluster().create_db("ci_keys_test", None, schema);
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(total(&report, "inserted"), 6, "{report}");
    assert_eq!(
        target.query_i64("SELECT count(*) FROM parent WHERE k IN ('ab38', 'AB39')"),
        2
    );
}

/// The same keys, plus a partitioned child and a partitioned parent, imported by a table owner
/// who may not switch key triggers off, with rows enough to drop the keys for the load: every
/// key comes back with the definition it had, and the target holds the snapshot.
#[test]
fn keys_of_every_type_come_back_as_they_were_after_an_owner_drops_them() {
    let schema = format!(
        "{KEY_TYPES_SCHEMA};
         CREATE TABLE pp (k int PRIMARY KEY) PARTITION BY RANGE (k);
         CREATE TABLE pp_low PARTITION OF pp FOR VALUES FROM (0) TO (100);
         CREATE TABLE pp_high PARTITION OF pp FOR VALUES FROM (100) TO (MAXVALUE);
         CREATE TABLE pc (id int, k int REFERENCES pp ON DELETE CASCADE, PRIMARY KEY (id))
             PARTITION BY HASH (id);
         CREATE TABLE pc_0 PARTITION OF pc FOR VALUES WITH (MODULUS 2, REMAINDER 0);
         CREATE TABLE pc_1 PARTITION OF pc FOR VALUES WITH (MODULUS 2, REMAINDER 1);"
    );
    // Five children for each of the 40 parents: 200 rows, 3,000 values for 15 keys; 200 rows
    // of the partitioned child over 200 partitioned parents.
    let data = format!(
        "{};
         INSERT INTO pp SELECT generate_series(1, 200);
         INSERT INTO pc SELECT i, i FROM generate_series(1, 200) i;",
        KEY_TYPES_DATA
            .replace(
                "INSERT INTO child SELECT i, c_char,",
                "INSERT INTO child SELECT i + 40 * k, c_char,"
            )
            .replace("FROM v WHERE i > 37", "FROM v, generate_series(0, 4) AS k")
    );
    let source = cluster().create_db("owner_keys", None, &format!("{schema}{data}"));
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let target = cluster().create_db("owner_keys_test", None, &schema);
    let role = cluster().unique_name("keys_owner");
    let mut grants = format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};",
        target.name
    );
    let tables: Vec<String> = target
        .client()
        .query(
            "SELECT c.oid::regclass::text FROM pg_class c
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in &tables {
        grants.push_str(&format!("ALTER TABLE {table} OWNER TO {role};"));
    }
    target.execute(&grants);
    let keys_sql = "SELECT string_agg(format('%s %s %s %s', conrelid::regclass, conname,
                        pg_get_constraintdef(oid), convalidated), E'\\n'
                        ORDER BY conrelid::regclass::text, conname)
                      FROM pg_constraint WHERE contype = 'f'";
    let keys_before: String = target.client().query_one(keys_sql, &[]).unwrap().get(0);
    let url = target
        .url()
        .replace("user=seedsnap", &format!("user={role}"));
    let run = seedsnap(&[
        "import",
        "-q",
        "--json",
        "--target",
        &url,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .ok();
    let report = json(&run);
    assert_eq!(report["key_checks"], "re_added", "{report}");
    assert_eq!(report["foreign_keys_re_added"], 16, "{report}");
    assert_eq!(total(&report, "inserted"), snapshot_rows(&dir), "{report}");
    let keys_after: String = target.client().query_one(keys_sql, &[]).unwrap().get(0);
    assert_eq!(
        keys_after, keys_before,
        "the keys did not come back as they were"
    );
    // Partition clones of the keys too.
    assert!(
        keys_after.contains("pc_0") && keys_after.contains("pp_high"),
        "{keys_after}"
    );
    let again = export_to_scratch(&target, &["--limit", "all"]);
    assert_eq!(
        data_files(&dir),
        data_files(&again),
        "the target differs from the snapshot"
    );
    // A comment on a clone of a key (on a partition) would not come back: the per-row
    // triggers stay.
    let commented = cluster().create_db("owner_keys_test", None, &schema);
    commented.execute(&format!(
        "{grants_without_role}
         COMMENT ON CONSTRAINT pc_k_fkey ON pc_0 IS 'the clone''s own comment';",
        grants_without_role = grants
            .replace(&format!("CREATE ROLE {role} LOGIN;"), "")
            .replace(&target.name, &commented.name)
    ));
    let commented_url = commented
        .url()
        .replace("user=seedsnap", &format!("user={role}"));
    let run = seedsnap(&[
        "import",
        "-q",
        "--json",
        "--target",
        &commented_url,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(json(&run)["key_checks"], "per_row", "{}", run.stdout);
    assert_eq!(
        commented.query_i64(
            "SELECT count(*) FROM pg_description
              WHERE description = 'the clone''s own comment'"
        ),
        1
    );
    let mut revoke = String::new();
    for table in &tables {
        revoke.push_str(&format!("ALTER TABLE {table} OWNER TO seedsnap;"));
    }
    commented.execute(&format!(
        "{revoke} REVOKE ALL ON DATABASE \"{}\" FROM {role};
         REVOKE ALL ON SCHEMA public FROM {role};",
        commented.name
    ));
    revoke.push_str(&format!(
        "REVOKE ALL ON DATABASE \"{}\" FROM {role}; REVOKE ALL ON SCHEMA public FROM {role};
         DROP ROLE {role};",
        target.name
    ));
    target.execute(&revoke);
}

/// `CREATE TABLE t ()` holding rows: exported as empty lines, verified, imported, re-imported
/// without duplicates (counted like any table without a key).
#[test]
fn tables_without_columns_round_trip() {
    let schema = "
        CREATE TABLE nothing ();
        CREATE TABLE never_filled ();
        CREATE TABLE other (id int PRIMARY KEY);";
    let data = "
        INSERT INTO nothing DEFAULT VALUES; INSERT INTO nothing DEFAULT VALUES;
        INSERT INTO nothing DEFAULT VALUES; INSERT INTO other VALUES (1);";
    let (dir, target) = round_trip("nocols", schema, data, &[], &[]);
    assert_eq!(target.query_i64("SELECT count(*) FROM nothing"), 3);
    let manifest = manifest(&dir);
    let file = element(&manifest["tables"], "name", "nothing")["file"]
        .as_str()
        .unwrap()
        .to_string();
    // The header (no names) and three rows: four empty lines.
    assert_eq!(std::fs::read(dir.join(file)).unwrap(), b"\n\n\n\n");
    // Into a target that already holds one such row: two more, not three.
    let target = cluster().create_db("nocols2_test", None, schema);
    target.execute("INSERT INTO nothing DEFAULT VALUES");
    let run = json(&import(&target, &dir, &["--json"]).ok());
    // Two rows of `nothing` (the target had one of its three) and the one row of `other`.
    assert_eq!(total(&run, "inserted"), 3, "{run}");
    assert_eq!(target.query_i64("SELECT count(*) FROM nothing"), 3);
}

/// A small deterministic generator (no dependency for one test).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A random schema of tables with zero to four columns of assorted types, with and without
/// keys, holding awkward values (NULL, empty strings, tabs, newlines, backslashes).
fn random_schema(rng: &mut Lcg) -> (String, String) {
    const TYPES: &[(&str, &[&str])] = &[
        ("int", &["0", "-7", "2147483647", "NULL"]),
        (
            "text",
            &["''", "E'a\\tb'", "E'line\\nbreak\\\\'", "'\\N'", "NULL"],
        ),
        ("char(3)", &["'ab'", "'xyz'", "NULL"]),
        ("bit(4)", &["B'1010'", "B'0001'", "NULL"]),
        ("numeric(8,3)", &["1.5", "-0.001", "NULL"]),
        ("timestamptz", &["'2021-03-04 05:06:07.891+02'", "NULL"]),
        ("float8", &["0.1", "'NaN'", "1e300", "NULL"]),
        ("bytea", &["'\\x00ff'", "''", "NULL"]),
        ("jsonb", &["'{\"a\": [1, \"\\t\"]}'", "NULL"]),
    ];
    let mut schema = String::new();
    let mut data = String::new();
    for t in 0..1 + rng.below(4) {
        let columns = rng.below(5);
        let keyed = columns > 0 && rng.below(2) == 0;
        let mut defs = Vec::new();
        let mut picks = Vec::new();
        for c in 0..columns {
            let (ty, values) = TYPES[rng.below(TYPES.len() as u64) as usize];
            defs.push(format!("c{c} {ty}"));
            picks.push(values);
        }
        if keyed {
            defs.insert(0, "id int PRIMARY KEY".into());
        }
        schema.push_str(&format!("CREATE TABLE t{t} ({});\n", defs.join(", ")));
        for r in 0..rng.below(6) {
            if defs.is_empty() {
                data.push_str(&format!("INSERT INTO t{t} DEFAULT VALUES;\n"));
                continue;
            }
            let mut values: Vec<String> = picks
                .iter()
                .map(|v| v[rng.below(v.len() as u64) as usize].to_string())
                .collect();
            if keyed {
                values.insert(0, r.to_string());
            }
            data.push_str(&format!(
                "INSERT INTO t{t} VALUES ({});\n",
                values.join(", ")
            ));
        }
    }
    (schema, data)
}

/// Whatever export writes, verify and import accept: random schemas round-trip.
#[test]
fn whatever_export_writes_verify_and_import_accept() {
    let mut rng = Lcg(20261129);
    for round in 0..5 {
        let (schema, data) = random_schema(&mut rng);
        eprintln!("round {round}:\n{schema}{data}");
        round_trip(&format!("random{round}"), &schema, &data, &[], &[]);
        // The same rows sent as INSERT literals instead of COPY lines load the same values.
        round_trip(
            &format!("random{round}_ins"),
            &schema,
            &data,
            &[],
            &["--load-via", "insert"],
        );
    }
}

/// An application schema whose triggers write derived rows (row and statement level, with a
/// transition table), rewrite values (BEFORE) and delete at commit (deferred constraint
/// trigger); every trigger function, and the function a domain's CHECK calls, uses unqualified
/// names, found through the role's search_path.
const TRIGGER_SCHEMA: &str = r#"
    SET check_function_bodies = off;
    CREATE SCHEMA app;
    CREATE TABLE app.banned_names (name text PRIMARY KEY);
    CREATE FUNCTION app.allowed_name(text) RETURNS boolean LANGUAGE sql STABLE
        AS 'SELECT NOT EXISTS (SELECT 1 FROM banned_names WHERE name = $1)';
    CREATE DOMAIN app.item_name AS text CHECK (app.allowed_name(VALUE));
    CREATE TABLE app.items (id int PRIMARY KEY, name app.item_name NOT NULL, slug text);
    CREATE TABLE app.item_meta (item_id int PRIMARY KEY REFERENCES app.items, note text);
    CREATE TABLE app.comments (id int PRIMARY KEY, item_id int REFERENCES app.items, body text);
    CREATE TABLE app.commentables (comment_id int PRIMARY KEY REFERENCES app.comments);
    CREATE TABLE app.tags (id int PRIMARY KEY, name text);
    CREATE TABLE app.item_tags (item_id int REFERENCES app.items, tag_id int REFERENCES app.tags,
                                PRIMARY KEY (item_id, tag_id));
    CREATE FUNCTION app.make_meta() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO item_meta VALUES (NEW.id, 'made by trigger'); RETURN NULL; END $$;
    CREATE TRIGGER items_meta AFTER INSERT ON app.items
        FOR EACH ROW EXECUTE FUNCTION app.make_meta();
    CREATE FUNCTION app.fill_commentables() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO commentables SELECT id FROM new_rows; RETURN NULL; END $$;
    CREATE TRIGGER comments_fill AFTER INSERT ON app.comments REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION app.fill_commentables();
    ALTER TABLE app.comments ENABLE ALWAYS TRIGGER comments_fill;
    CREATE FUNCTION app.slugify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.slug := lower(NEW.name) || '-' || NEW.id; RETURN NEW; END $$;
    CREATE TRIGGER items_slug BEFORE INSERT ON app.items
        FOR EACH ROW EXECUTE FUNCTION app.slugify();
    CREATE FUNCTION app.drop_unused_tags() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM tags AS t WHERE NOT EXISTS
              (SELECT 1 FROM item_tags AS it WHERE it.tag_id = t.id);
              RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER tags_gc AFTER INSERT ON app.tags DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION app.drop_unused_tags();
    CREATE TRIGGER items_off AFTER INSERT ON app.items
        FOR EACH ROW EXECUTE FUNCTION app.make_meta();
    ALTER TABLE app.items DISABLE TRIGGER items_off;
"#;

/// Rows made with the triggers, then edited the way an application would: meta notes and
/// slugs changed afterwards, and a tag nobody references kept (loaded with its trigger off).
const TRIGGER_DATA: &str = "
    SET search_path = app, public;
    INSERT INTO app.banned_names VALUES ('Forbidden');
    INSERT INTO app.items (id, name) SELECT i, 'Item ' || i FROM generate_series(1, 5) AS i;
    INSERT INTO app.comments SELECT i, 1 + i % 5, 'c' || i FROM generate_series(1, 8) AS i;
    ALTER TABLE app.tags DISABLE TRIGGER tags_gc;
    INSERT INTO app.tags VALUES (1, 'used'), (2, 'used too'), (3, 'kept although unused');
    ALTER TABLE app.tags ENABLE TRIGGER tags_gc;
    INSERT INTO app.item_tags VALUES (1, 1), (2, 2);
    UPDATE app.item_meta SET note = 'edited later' WHERE item_id > 3;
    ALTER TABLE app.items DISABLE TRIGGER items_slug;
    UPDATE app.items SET slug = 'custom-' || id WHERE id % 2 = 0;
    ALTER TABLE app.items ENABLE TRIGGER items_slug;
    RESET search_path;";

/// Every user trigger and its state, to compare before and after.
fn trigger_states(db: &TestDb) -> Vec<(String, String)> {
    db.client()
        .query(
            "SELECT format('%I.%I.%I', n.nspname, c.relname, tgname), tgenabled::text
               FROM pg_trigger JOIN pg_class c ON c.oid = tgrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE NOT tgisinternal ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// A target with the trigger schema whose role finds the schema `app` on its search_path.
fn trigger_target(prefix: &str, role: &str) -> TestDb {
    let target = cluster().create_db(prefix, None, TRIGGER_SCHEMA);
    target.execute(&format!(
        "ALTER ROLE {role} IN DATABASE \"{}\" SET search_path = app, public",
        target.name
    ));
    target
}

#[test]
fn user_triggers_are_held_off_and_the_snapshot_lands_exactly() {
    let source = cluster().create_db("trig", None, &format!("{TRIGGER_SCHEMA}{TRIGGER_DATA}"));
    let plan = seedsnap(&["plan", "-q", "--source", &source.url()]).ok();
    assert!(
        plan.stdout
            .contains("User triggers an import holds off while it loads (4):")
            && plan
                .stdout
                .contains("comments_fill on app.comments (enabled always)")
            && !plan.stdout.contains("items_off"),
        "{}",
        plan.stdout
    );
    let dir = export_to_scratch(&source, &[]);
    seedsnap(&["verify", "-q", "--dir", dir.to_str().unwrap()]).ok();
    let target = trigger_target("trig_test", "seedsnap");
    let before = trigger_states(&target);
    assert_eq!(before, trigger_states(&source));
    let run = import(&target, &dir, &[]).ok();
    assert!(
        run.stdout.contains(
            "user triggers held off during the load and enabled again: \
             comments_fill on app.comments, items_meta on app.items, items_slug on app.items, \
             tags_gc on app.tags"
        ),
        "{}",
        run.stdout
    );
    // Exactly the source's rows: no trigger-made meta rows or slugs, the unused tag kept.
    assert_eq!(target.fingerprint(), source.fingerprint());
    assert_eq!(trigger_states(&target), before);
    let second = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(total(&second, "inserted"), 0);
    assert_eq!(second["triggers_held_off"].as_array().unwrap().len(), 4);
    assert_eq!(target.fingerprint(), source.fingerprint());
    assert_eq!(trigger_states(&target), before);
    // The triggers work again afterwards, with the role's search_path.
    let mut client = target.client();
    client
        .batch_execute("INSERT INTO app.items (id, name) VALUES (100, 'New')")
        .unwrap();
    let slug: String = client
        .query_one("SELECT slug FROM app.items WHERE id = 100", &[])
        .unwrap()
        .get(0);
    assert_eq!(slug, "new-100");
    assert_eq!(
        target.query_i64("SELECT count(*) FROM app.item_meta WHERE item_id = 100"),
        1
    );
}

#[test]
fn a_role_that_may_not_hold_triggers_off_is_refused_unless_they_fire() {
    let source = cluster().create_db("trigrole", None, &format!("{TRIGGER_SCHEMA}{TRIGGER_DATA}"));
    let dir = export_to_scratch(
        &source,
        &["--exclude", "app.tags", "--exclude", "app.item_tags"],
    );
    let role = cluster().unique_name("loader");
    let target = trigger_target("trigrole_test", "seedsnap");
    target.execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT, TEMPORARY ON DATABASE \"{db}\" TO {role};
         GRANT USAGE ON SCHEMA app TO {role};
         GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA app TO {role};
         ALTER ROLE {role} IN DATABASE \"{db}\" SET search_path = app, public;",
        db = target.name
    ));
    let before = target.fingerprint();
    let url = target
        .url()
        .replace("user=seedsnap", &format!("user={role}"));
    let args = |extra: &[&str]| {
        let mut args = vec![
            "import",
            "-q",
            "--target",
            &url,
            "--dir",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let refused = seedsnap(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>())
        .code(4)
        .stderr_has(&format!(
            "user triggers would fire while loading, and {role} may not hold them off"
        ))
        .stderr_has("comments_fill on app.comments (owned by seedsnap)")
        .stderr_has("items_meta on app.items (owned by seedsnap)")
        .stderr_has("--fire-triggers");
    assert!(
        refused.stderr.contains("nothing was written"),
        "{}",
        refused.stderr
    );
    assert_eq!(target.fingerprint(), before);
    // Fired, the BEFORE trigger rewrites the custom slugs: those rows are reported missing and
    // nothing is kept.
    let fire = args(&["--fire-triggers", "--allow-drift", "--json"]);
    let fire: Vec<&str> = fire.iter().map(String::as_str).collect();
    seedsnap(&fire)
        .code(5)
        .stderr_has("snapshot rows are not in the target after loading: app.items (2 rows)");
    assert_eq!(target.fingerprint(), before);
    // With slugs as the trigger makes them, rows the triggers made that equal the snapshot's
    // count as already present, the edited meta rows as drift (allowed here).
    source.execute("UPDATE app.items SET slug = lower(name) || '-' || id");
    let dir = export_to_scratch(
        &source,
        &["--exclude", "app.tags", "--exclude", "app.item_tags"],
    );
    let fire = args(&["--fire-triggers", "--allow-drift", "--json"]);
    let mut fire: Vec<&str> = fire.iter().map(String::as_str).collect();
    let position = fire.iter().position(|a| *a == "--dir").unwrap() + 1;
    fire[position] = dir.to_str().unwrap();
    let fired = seedsnap(&fire).ok();
    let report = json(&fired);
    let table = |name: &str| element(&report["tables"], "table", name).clone();
    assert_eq!(table("app.commentables")["already_present"], 8, "{report}");
    assert_eq!(table("app.item_meta")["already_present"], 3, "{report}");
    assert_eq!(table("app.item_meta")["drifted"], 2, "{report}");
    assert_eq!(table("app.items")["inserted"], 5, "{report}");
    assert_eq!(
        report["triggers_fired"].as_array().unwrap().len(),
        3,
        "{report}"
    );
    target.execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));
}

/// Notes list-partitioned by what they are about, each partition referencing its own table (a
/// sub-partitioned one declares its key above its leaves), a partition with no key, a key on
/// the root for every row; events range-partitioned, with a key on the recent partition only.
const PARTITION_SCHEMA: &str = "
    CREATE SCHEMA app;
    CREATE TABLE app.users (id int PRIMARY KEY, name text);
    CREATE TABLE app.orders (id int PRIMARY KEY, user_id int NOT NULL REFERENCES app.users);
    CREATE TABLE app.invoices (id int PRIMARY KEY);
    CREATE TABLE app.notes (kind text NOT NULL, id int NOT NULL, target_id int NOT NULL,
                            created date NOT NULL, author_id int REFERENCES app.users,
                            PRIMARY KEY (kind, id, created)) PARTITION BY LIST (kind);
    CREATE TABLE app.notes_on_orders PARTITION OF app.notes FOR VALUES IN ('order');
    CREATE TABLE app.notes_on_invoices PARTITION OF app.notes FOR VALUES IN ('invoice')
        PARTITION BY RANGE (created);
    CREATE TABLE app.notes_on_invoices_2023 PARTITION OF app.notes_on_invoices
        FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
    CREATE TABLE app.notes_on_invoices_2024 PARTITION OF app.notes_on_invoices
        FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE app.notes_on_users PARTITION OF app.notes FOR VALUES IN ('user');
    CREATE TABLE app.notes_misc PARTITION OF app.notes FOR VALUES IN ('misc');
    CREATE TABLE app.events (id int NOT NULL, at date NOT NULL, order_id int,
                             PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
    CREATE TABLE app.events_old PARTITION OF app.events
        FOR VALUES FROM ('2000-01-01') TO ('2023-01-01');
    CREATE TABLE app.events_new PARTITION OF app.events
        FOR VALUES FROM ('2023-01-01') TO ('2030-01-01');
";

const PARTITION_KEYS: &str = "
    ALTER TABLE app.notes_on_orders ADD FOREIGN KEY (target_id) REFERENCES app.orders;
    ALTER TABLE app.notes_on_invoices ADD FOREIGN KEY (target_id) REFERENCES app.invoices;
    ALTER TABLE app.notes_on_users ADD FOREIGN KEY (target_id) REFERENCES app.users;
    ALTER TABLE app.events_new ADD FOREIGN KEY (order_id) REFERENCES app.orders;
";

/// Every note points at one of the last rows of its table (beyond the sample); misc notes and
/// old events point at ids that exist nowhere, which no key forbids.
const PARTITION_DATA: &str = "
    INSERT INTO app.users SELECT i, 'u' || i FROM generate_series(1, 60) AS i;
    INSERT INTO app.orders SELECT i, i FROM generate_series(1, 60) AS i;
    INSERT INTO app.invoices SELECT i FROM generate_series(1, 60) AS i;
    INSERT INTO app.notes
    SELECT kind, i, CASE kind WHEN 'misc' THEN 9000 + i ELSE 50 + i END,
           DATE '2023-06-01' + i * 40, 1 + i % 3
      FROM unnest(ARRAY['order', 'invoice', 'user', 'misc']) AS kind, generate_series(1, 8) AS i;
    INSERT INTO app.events
    SELECT i, CASE WHEN i % 2 = 0 THEN DATE '2020-01-01' ELSE DATE '2024-01-01' END + i,
           CASE WHEN i % 2 = 0 THEN 7000 + i ELSE 40 + i END
      FROM generate_series(1, 12) AS i;
";

#[test]
fn keys_declared_on_partitions_cover_their_rows_only() {
    let schema = format!("{PARTITION_SCHEMA}{PARTITION_KEYS}");
    let source = cluster().create_db("parts", None, &format!("{schema}{PARTITION_DATA}"));
    let plan = seedsnap(&["plan", "-q", "--source", &source.url(), "--limit", "3"]).ok();
    for edge in [
        "app.notes_on_orders (partition of app.notes)(target_id) -> app.orders(id)",
        "app.notes_on_invoices (partition of app.notes)(target_id) -> app.invoices(id)",
        "app.events_new (partition of app.events)(order_id) -> app.orders(id)",
        "  app.notes(author_id) -> app.users(id)",
    ] {
        assert!(plan.stdout.contains(edge), "{edge}:\n{}", plan.stdout);
    }
    drop(source);
    let (dir, target) = round_trip(
        "parts",
        &schema,
        PARTITION_DATA,
        &[
            "--limit",
            "3",
            "--table-limit",
            "app.notes=all",
            "--table-limit",
            "app.events=all",
        ],
        &[],
    );
    let manifest = manifest(&dir);
    let notes = element(&manifest["tables"], "name", "notes");
    let on_invoices = notes["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["references"]["name"] == "invoices")
        .unwrap();
    assert_eq!(
        on_invoices["partitions"],
        serde_json::json!([
            {"schema": "app", "name": "notes_on_invoices_2023"},
            {"schema": "app", "name": "notes_on_invoices_2024"}
        ])
    );
    let author = notes["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["columns"] == serde_json::json!(["author_id"]))
        .unwrap()
        .clone();
    assert!(author.get("partitions").is_none(), "{author}");
    assert_eq!(notes["partitions"].as_array().unwrap().len(), 5, "{notes}");
    // Each note's target came along from its own table, beyond the sample of 3.
    for (kind, parent) in [
        ("order", "orders"),
        ("invoice", "invoices"),
        ("user", "users"),
    ] {
        assert_eq!(
            target.query_i64(&format!(
                "SELECT count(*) FROM app.notes n WHERE kind = '{kind}'
                    AND NOT EXISTS (SELECT 1 FROM app.{parent} p WHERE p.id = n.target_id)"
            )),
            0
        );
    }
    assert!(target.query_i64("SELECT count(*) FROM app.orders WHERE id > 50") > 0);
    // Misc notes and old events point nowhere and were exported as they are.
    assert!(target.query_i64("SELECT count(*) FROM app.notes_misc") > 0);
    // A target that does not declare the partition keys: the import checks them itself, on
    // the rows of their partitions only.
    let bare = cluster().create_db("parts_bare_test", None, PARTITION_SCHEMA);
    import(&bare, &dir, &[]).ok();
    // verify applies each key to its rows only: an order note pointing nowhere is found, the
    // misc notes (no key) are not.
    crate::import::tamper(
        &dir,
        "app.notes.tsv",
        |text| text.replacen("order\t1\t51\t", "order\t1\t99999\t", 1),
        true,
    );
    let run = seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).code(5);
    assert!(
        run.stderr.contains("notes_on_orders_target_id_fkey")
            && run.stderr.contains("(99999) has no row in app.orders")
            && !run.stderr.contains("app.invoices")
            && !run.stderr.contains("= (90"),
        "{}",
        run.stderr
    );
}

/// Django's generic relations: the discriminator is a row of `django_content_type`, named by
/// its natural key in `when`; its id differs between databases.
const CONTENT_TYPE_SCHEMA: &str = "
    CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label text NOT NULL,
                                      model text NOT NULL, UNIQUE (app_label, model));
    CREATE TABLE legacy_kind (id int PRIMARY KEY, name text);
    CREATE TABLE invoice (id int PRIMARY KEY);
    CREATE TABLE ticket (id int PRIMARY KEY);
    CREATE TABLE attachment (id int PRIMARY KEY,
                             content_type_id int NOT NULL REFERENCES django_content_type,
                             object_id int NOT NULL, kind_id int);";

const INVOICE_KEY: &str = "attachment(object_id) -> invoice(id) when content_type_id = \
                           django_content_type(app_label = 'billing', model = 'invoice')";
const TICKET_KEY: &str = "attachment(object_id) -> ticket(id) when content_type_id = \
                          django_content_type(app_label = 'support', model = 'ticket')";

#[test]
fn a_lookup_row_names_the_discriminator_of_a_polymorphic_key() {
    // Ids overlap between invoices and tickets; the content types get other ids than the
    // order the keys are written in.
    let data = "
        INSERT INTO django_content_type (app_label, model)
        VALUES ('auth', 'user'), ('support', 'ticket'), ('billing', 'invoice');
        INSERT INTO legacy_kind VALUES (1, 'dup'), (2, 'dup');
        INSERT INTO invoice SELECT i FROM generate_series(1, 100) AS i;
        INSERT INTO ticket SELECT i FROM generate_series(1, 100) AS i;
        INSERT INTO attachment VALUES (1, 3, 95, NULL), (2, 2, 97, NULL), (3, 1, 99, NULL);";
    let keys = ["--virtual-key", INVOICE_KEY, "--virtual-key", TICKET_KEY];
    let mut export = vec!["--limit", "5"];
    export.extend(keys);
    let (dir, target) = round_trip("ctype", CONTENT_TYPE_SCHEMA, data, &export, &[]);
    assert_eq!(
        target.query_i64("SELECT count(*) FROM invoice WHERE id = 95"),
        1
    );
    assert_eq!(
        target.query_i64("SELECT count(*) FROM ticket WHERE id = 97"),
        1
    );
    // Only from its own table: no invoice 97, no ticket 95, nothing for the user's 99.
    assert_eq!(
        target.query_i64("SELECT count(*) FROM invoice WHERE id IN (97, 99)")
            + target.query_i64("SELECT count(*) FROM ticket WHERE id IN (95, 99)"),
        0
    );
    // The manifest holds the id the row has in the source.
    let manifest = manifest(&dir);
    let attachment = element(&manifest["tables"], "name", "attachment");
    let whens: Vec<&serde_json::Value> = attachment["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k.get("when"))
        .collect();
    assert!(whens.contains(&&serde_json::json!([{"column": "content_type_id", "value": "3"}])));
    assert!(whens.contains(&&serde_json::json!([{"column": "content_type_id", "value": "2"}])));

    // check-config: no such row, several rows, a lookup table or column that does not exist.
    let source = cluster().create_db("ctype_check", None, &format!("{CONTENT_TYPE_SCHEMA}{data}"));
    let url = source.url();
    let bad = [
        "attachment(object_id) -> invoice(id) when content_type_id = django_content_type(app_label = 'billing', model = 'nope')",
        "attachment(object_id) -> ticket(id) when kind_id = legacy_kind(name = 'dup')",
        "attachment(object_id) -> ticket(id) when kind_id = legacy_kinds(name = 'dup')",
        "attachment(object_id) -> ticket(id) when kind_id = legacy_kind(nam = 'dup')",
    ];
    let cwd = scratch_dir("ctype");
    let lines: Vec<String> = bad.iter().map(|k| format!("  {k:?},\n")).collect();
    std::fs::write(
        cwd.join("seedsnap.toml"),
        format!("virtual_foreign_keys = [\n{}]\n", lines.concat()),
    )
    .unwrap();
    let run = seedsnap_in(&cwd, &["check-config", "--source", &url], &[]).code(4);
    let expected = [
        format!("seedsnap.toml:2: virtual foreign key {:?}: no row of public.django_content_type has app_label = 'billing' and model = 'nope'", bad[0]),
        format!("seedsnap.toml:3: virtual foreign key {:?}: several rows of public.legacy_kind have name = 'dup'; name more columns so that one row matches", bad[1]),
        format!("seedsnap.toml:4: virtual foreign key {:?}: no table public.legacy_kinds (did you mean public.legacy_kind?)", bad[2]),
        format!("seedsnap.toml:5: virtual foreign key {:?}: public.legacy_kind has no column nam", bad[3]),
    ];
    for text in &expected {
        assert!(
            run.stdout.contains(text.as_str()),
            "{text}\nnot in\n{}",
            run.stdout
        );
    }
    // Rails' string discriminators keep working next to it.
    let rails = "attachment(object_id) -> ticket(id) when content_type_id = '2'";
    std::fs::write(
        cwd.join("seedsnap.toml"),
        format!("virtual_foreign_keys = [{INVOICE_KEY:?}, {rails:?}]\n"),
    )
    .unwrap();
    seedsnap_in(&cwd, &["check-config", "--source", &url], &[]).ok();
}

/// A trigger let run with --fire-triggers writes rows the snapshot also holds. Loaded after
/// them, its rows count as already present; loaded before them (its table sorts first), its
/// insert collides and the error blames the trigger, not the snapshot's rows.
#[test]
fn rows_a_fired_trigger_makes_are_present_or_the_trigger_is_named() {
    let schema = |log: &str| {
        format!(
            "CREATE TABLE {log} (id serial PRIMARY KEY, what text NOT NULL);
             CREATE TABLE items (id int PRIMARY KEY);
             CREATE FUNCTION log_item() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN INSERT INTO public.{log} (what) VALUES ('item ' || NEW.id);
                 RETURN NULL; END $$;
             CREATE TRIGGER items_log AFTER INSERT ON items
                 FOR EACH ROW EXECUTE FUNCTION log_item();"
        )
    };
    let data = "INSERT INTO items VALUES (1), (2);";
    // items first, then z_log: the trigger's rows equal the snapshot's.
    let source = cluster().create_db("fired", None, &format!("{}{data}", schema("z_log")));
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db("fired_test", None, &schema("z_log"));
    let run = json(&import(&target, &dir, &["--fire-triggers", "--json"]).ok());
    let log = element(&run["tables"], "table", "public.z_log");
    assert_eq!(
        (log["inserted"].as_u64(), log["already_present"].as_u64()),
        (Some(0), Some(2)),
        "{run}"
    );
    assert_eq!(target.fingerprint(), source.fingerprint());
    // a_log first: the trigger's nextval collides with the snapshot's ids.
    let source = cluster().create_db("fired2", None, &format!("{}{data}", schema("a_log")));
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db("fired2_test", None, &schema("a_log"));
    let before = target.fingerprint();
    import(&target, &dir, &["--fire-triggers"])
        .code(4)
        .stderr_has(
            "a trigger that ran while loading public.items violates a constraint of the \
             target (without --fire-triggers, triggers are held off)",
        )
        .stderr_has("a_log_pkey");
    // The tables are as before; the sequence the trigger called is not: nextval is never
    // rolled back.
    let tables = |db: &TestDb| tables_of(&db.fingerprint());
    assert_eq!(tables(&target), tables_of(&before));
    import(&target, &dir, &[]).ok();
    assert_eq!(tables(&target), tables(&source));
}

fn tables_of(fingerprint: &str) -> String {
    fingerprint
        .lines()
        .filter(|l| !l.contains("_seq "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A virtual key between `citext` columns (or a domain over `citext`) compares as a declared
/// key would, with the type's own equality: `ABC` references `abc`. Only `nope` is an orphan,
/// and the import's own check of the virtual key agrees.
#[test]
fn a_virtual_key_of_an_extension_s_type_compares_with_its_equality() {
    // In a schema of its own, off the role's search_path, as some hosts install extensions.
    let schema = "CREATE SCHEMA ext; CREATE EXTENSION citext SCHEMA ext;
        CREATE DOMAIN ci_code AS ext.citext;
        CREATE TABLE tags (name ext.citext PRIMARY KEY);
        CREATE TABLE labels (code ci_code PRIMARY KEY);
        CREATE TABLE posts (id int PRIMARY KEY, tag ext.citext, label ci_code);";
    let source = cluster().create_db(
        "ci_virtual",
        None,
        &format!(
            "{schema}
             INSERT INTO tags VALUES ('abc'), ('def');
             INSERT INTO labels VALUES ('x1');
             INSERT INTO posts VALUES (1, 'ABC', 'X1'), (2, 'nope', 'x1'), (3, 'Def', NULL);"
        ),
    );
    let dir = scratch_dir("ci_virtual").join("snapshot");
    let (url, dir_text) = (source.url(), dir.to_str().unwrap());
    let run = seedsnap(&[
        "export",
        "--json",
        "--source",
        &url,
        "--dir",
        dir_text,
        "--virtual-key",
        "posts(tag) -> tags(name)",
        "--virtual-key",
        "posts(label) -> labels(code)",
    ])
    .ok();
    let report = json(&run);
    assert_eq!(report["left_out"][0]["rows"], 1, "{report}");
    assert_eq!(first_column(&dir, "public.posts"), ["1", "3"]);
    assert_eq!(first_column(&dir, "public.tags"), ["abc", "def"]);
    // (`verify` compares a domain's values as exact text: see the README.)
    let target = cluster().create_db("ci_virtual_test", None, schema);
    import(&target, &dir, &[]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM posts"), 2);
}

/// A virtual key from `text` to `name` compares the whole text: a cast to `name` truncates to
/// 63 bytes, and a 70-byte child whose first 63 bytes are a parent's name is an orphan.
#[test]
fn a_virtual_key_to_a_name_is_not_matched_by_a_longer_text() {
    let long = "a".repeat(63);
    let schema = "CREATE TABLE roles (rolname name PRIMARY KEY);
        CREATE TABLE grants (id int PRIMARY KEY, who text);";
    let source = cluster().create_db(
        "name_virtual",
        None,
        &format!(
            "{schema}
             INSERT INTO roles VALUES ('{long}');
             INSERT INTO grants VALUES (1, '{long}'), (2, '{long}tail123');"
        ),
    );
    let dir = scratch_dir("name_virtual").join("snapshot");
    let (url, dir_text) = (source.url(), dir.to_str().unwrap());
    let run = seedsnap(&[
        "export",
        "--json",
        "--source",
        &url,
        "--dir",
        dir_text,
        "--virtual-key",
        "grants(who) -> roles(rolname)",
    ])
    .ok();
    let report = json(&run);
    assert_eq!(report["left_out"][0]["rows"], 1, "{report}");
    assert_eq!(first_column(&dir, "public.grants"), ["1"]);
}

/// The import's batched key check (a superuser's, into empty tables) compares as the server's
/// check does: `ABC` is its `citext` parent `abc` when citext lives off the search path, and a
/// `text` `ab ` its `character(3)` parent `ab `.
#[test]
fn the_batched_key_check_compares_with_each_key_s_equality() {
    let schema = "CREATE SCHEMA ext; CREATE EXTENSION citext SCHEMA ext;
        CREATE TABLE tags (name ext.citext PRIMARY KEY);
        CREATE TABLE codes (code character(3) PRIMARY KEY);
        CREATE TABLE posts (id int PRIMARY KEY, tag ext.citext REFERENCES tags,
                            code text REFERENCES codes);";
    let source = cluster().create_db(
        "batched_eq",
        None,
        &format!(
            "{schema}
             INSERT INTO tags VALUES ('abc');
             INSERT INTO codes VALUES ('ab ');
             INSERT INTO posts VALUES (1, 'ABC', 'ab ');"
        ),
    );
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db("batched_eq_test", None, schema);
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(report["key_checks"], "batched", "{report}");
    assert_eq!(target.query_i64("SELECT count(*) FROM posts"), 1);
}

#[test]
fn a_primary_key_over_a_generated_column_round_trips_and_keys_over_them_are_refused() {
    // The snapshot stores no generated column: a table whose primary key is one is keyed by
    // its next usable key (here all its columns), exported, verified and imported.
    let schema = "CREATE TABLE tags (
                      name text NOT NULL,
                      slug text GENERATED ALWAYS AS (lower(name)) STORED PRIMARY KEY);";
    let (dir, target) = round_trip(
        "genkey",
        schema,
        "INSERT INTO tags (name) VALUES ('A'), ('B');",
        &[],
        &[],
    );
    assert_eq!(manifest(&dir)["tables"][0]["key"]["kind"], "all_columns");
    assert_eq!(
        target.query_i64("SELECT count(*) FROM tags WHERE slug IN ('a', 'b')"),
        2
    );

    // A foreign key to a generated column cannot be recorded: refused before anything is
    // written, naming the key, the column and the way out.
    let source = cluster().create_db(
        "genfk",
        None,
        "CREATE TABLE items (id int PRIMARY KEY, name text,
                             code text GENERATED ALWAYS AS (upper(name)) STORED UNIQUE);
         CREATE TABLE refs (id int PRIMARY KEY, code text REFERENCES items (code));
         INSERT INTO items VALUES (1, 'x'); INSERT INTO refs VALUES (1, 'X');",
    );
    let dir = scratch_dir("genfk").join("snap");
    let url = source.url();
    let run = seedsnap(&[
        "export",
        "--no-config",
        "--json",
        "--source",
        &url,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .code(4);
    let error: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problem = &error["error"]["problems"][0];
    assert_eq!(problem["constraint"], "refs_code_fkey", "{}", run.stdout);
    assert_eq!(problem["table"], "public.refs");
    assert!(problem["message"]
        .as_str()
        .unwrap()
        .contains("uses the generated column(s) public.items.code"));
    assert!(!dir.exists());
}
