//! Tables read whole (`--limit all`, `--whole`): their rows are streamed in parts rather than
//! held as one reply, and their files are copied without a list of row ids. What must hold:
//! every row arrives, key values with escapes in COPY text still find their parents, and the
//! file is exactly what the source holds, no more (a filtered table is not read whole).

use std::io::Read;

use super::*;

/// The source's rows of `query` as COPY text.
fn copy_of(db: &TestDb, query: &str) -> String {
    let mut client = db.client();
    let mut text = String::new();
    client
        .copy_out(format!("COPY ({query}) TO STDOUT").as_str())
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// A snapshot file's rows, its header line left out.
fn file_rows(dir: &Path, table: &str) -> String {
    let path = dir.join(format!("{table}.tsv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let header_end = text.find('\n').expect("a header line") + 1;
    text[header_end..].to_string()
}

#[test]
fn a_large_table_read_whole_streams_and_its_escaped_keys_find_their_parents() {
    // 20,000 children (more than one streamed part, more than a batch's worth) referencing
    // parents whose text keys hold a tab, a newline, a backslash and a `\N` look-alike: COPY
    // text escapes them, and a lookup with a wrongly decoded value would find no parent.
    let source = cluster().create_db(
        "stream",
        None,
        "CREATE TABLE p (code text PRIMARY KEY, note text);
         INSERT INTO p SELECT 'k' || g, 'plain' FROM generate_series(1, 40) AS g;
         INSERT INTO p VALUES (E'tab\\there', 'tab'), (E'two\\nlines', 'newline'),
                              (E'back\\\\slash', 'backslash'), (E'\\\\N', 'not null');
         CREATE TABLE c (id int PRIMARY KEY, code text NOT NULL REFERENCES p, payload text);
         INSERT INTO c
         SELECT g, CASE g % 5 WHEN 0 THEN E'tab\\there' WHEN 1 THEN E'two\\nlines'
                              WHEN 2 THEN E'back\\\\slash' WHEN 3 THEN E'\\\\N'
                              ELSE 'k' || (g % 40 + 1) END,
                repeat('x', g % 17)
           FROM generate_series(1, 20000) AS g;",
    );
    // The parents sampled down to one row: every other parent comes from the backfill,
    // looked up by the values read from the streamed children.
    let dir = export_to_scratch(&source, &["--limit", "all", "--table-limit", "public.p=1"]);
    assert_eq!(
        file_rows(&dir, "public.c"),
        copy_of(&source, "SELECT * FROM c ORDER BY id"),
        "every child row, in key order"
    );
    let parents = first_column(&dir, "public.p");
    // The referenced parents: the 4 escaped keys and k1..k40 (g % 40 + 1 over g % 5 = 4).
    let referenced = source.query_i64("SELECT count(DISTINCT code) FROM c");
    assert_eq!(parents.len() as i64, referenced, "{parents:?}");
    for escaped in ["tab\\there", "two\\nlines", "back\\\\slash", "\\\\N"] {
        assert!(
            parents.iter().any(|p| p == escaped),
            "{escaped}: {parents:?}"
        );
    }
    // And the snapshot loads, every row verified.
    let target = cluster().create_db("stream_test", None, "");
    target.execute(
        "CREATE TABLE p (code text PRIMARY KEY, note text);
         CREATE TABLE c (id int PRIMARY KEY, code text NOT NULL REFERENCES p, payload text);",
    );
    import(&target, &dir, &[]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM c"), 20000);
    assert_eq!(
        copy_of(&target, "SELECT * FROM p ORDER BY code"),
        copy_of(
            &source,
            "SELECT * FROM p WHERE code IN (SELECT code FROM c) ORDER BY code"
        )
    );
}

#[test]
fn a_table_read_whole_is_written_exactly_as_the_source_holds_it() {
    // Deleted and updated rows leave holes and moved tuples behind; a partitioned table keeps
    // its rows in two leaves. A file copied without a list of row ids holds the rows the
    // export's snapshot sees: all of them, once, in key order.
    let source = cluster().create_db(
        "whole",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, label text);
         INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 3000) AS g;
         DELETE FROM t WHERE id % 7 = 0;
         UPDATE t SET label = label || ' updated' WHERE id % 11 = 0;
         CREATE TABLE pt (id int, region text, PRIMARY KEY (id, region))
             PARTITION BY LIST (region);
         CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu');
         CREATE TABLE pt_us PARTITION OF pt FOR VALUES IN ('us');
         INSERT INTO pt SELECT g, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'us' END
           FROM generate_series(1, 500) AS g;
         DELETE FROM pt WHERE id % 10 = 0;
         ANALYZE;",
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    assert_eq!(
        file_rows(&dir, "public.t"),
        copy_of(&source, "SELECT * FROM t ORDER BY id")
    );
    assert_eq!(
        file_rows(&dir, "public.pt"),
        copy_of(&source, "SELECT * FROM pt ORDER BY id, region")
    );
    // `--whole` on one table under the default limit: the same file for it, 100 rows of the
    // other.
    let again = export_to_scratch(&source, &["--whole", "public.t"]);
    assert_eq!(
        file_rows(&again, "public.t"),
        copy_of(&source, "SELECT * FROM t ORDER BY id")
    );
    assert_eq!(first_column(&again, "public.pt").len(), 100);
}

#[test]
fn a_filtered_table_under_limit_all_writes_only_its_matching_rows() {
    // A filter makes the sample a part of the table: its file must list the chosen rows, not
    // every row the table holds.
    let source = cluster().create_db(
        "filtered",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, kind text NOT NULL);
         INSERT INTO t SELECT g, CASE WHEN g % 4 = 0 THEN 'keep' ELSE 'drop' END
           FROM generate_series(1, 12000) AS g;",
    );
    let dir = export_to_scratch(
        &source,
        &["--limit", "all", "--filter", "public.t=kind = 'keep'"],
    );
    assert_eq!(
        file_rows(&dir, "public.t"),
        copy_of(&source, "SELECT * FROM t WHERE kind = 'keep' ORDER BY id")
    );
}
