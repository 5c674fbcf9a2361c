//! Hand-edited key values compared offline as PostgreSQL compares them (`seal`, `verify`), and
//! the same exit code for a key that does not resolve with or without an overlay.

use super::*;
use crate::import::tamper;
use crate::workflow::append;

/// Keys of the types whose values have several spellings: uuid, numeric, integer, boolean.
const SCHEMA: &str = "
    CREATE TABLE owners (id uuid PRIMARY KEY, name text NOT NULL);
    CREATE TABLE prices (amount numeric PRIMARY KEY, label text);
    CREATE TABLE items (id int PRIMARY KEY, active boolean NOT NULL, UNIQUE (id, active));
    CREATE TABLE orders (id int PRIMARY KEY, owner_id uuid REFERENCES owners,
                         amount numeric REFERENCES prices, item_id int, item_active boolean,
                         FOREIGN KEY (item_id, item_active) REFERENCES items (id, active));";

const DATA: &str = "
    INSERT INTO owners VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'Ada');
    INSERT INTO prices VALUES (1.5, 'one and a half'), (20, 'twenty');
    INSERT INTO items VALUES (3, true), (4, false);
    INSERT INTO orders VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.5, 3, true);";

/// Rows of `orders` written by hand, each key spelled otherwise than PostgreSQL prints it.
const HAND_WRITTEN: &str = "2\tA0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\t1.50\t03\tyes\n\
                            3\t{a0eebc999c0b4ef8bb6d6bb9bd380a11}\t2e1\t+4\toff\n";

fn snapshot() -> (TestDb, PathBuf) {
    let demo = cluster().create_db("kv_demo", None, &format!("{SCHEMA}{DATA}"));
    let dir = export_to_scratch(&demo, &["--limit", "all"]);
    (demo, dir)
}

#[test]
fn seal_compares_hand_edited_keys_as_postgresql_does() {
    let (_demo, dir) = snapshot();
    let dir_text = dir.to_str().unwrap();
    append(&dir.join("public.orders.tsv"), HAND_WRITTEN);
    let run = seedsnap(&["seal", "--dir", dir_text]).ok();
    assert!(
        run.stdout.contains("public.orders.tsv: 3 rows (was 1)"),
        "{}",
        run.stdout
    );
    // The target agrees: every hand-written key finds its parent.
    let target = cluster().create_db("kv_test", None, SCHEMA);
    import(&target, &dir, &[]).ok();
    assert_eq!(
        target.query_i64(
            "SELECT count(*) FROM orders WHERE owner_id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"
        ),
        3
    );

    // `03` is the key 3 again, and `3.0` the key 3 of a numeric: duplicates, not new keys.
    let manifest_before = std::fs::read(dir.join("manifest.json")).unwrap();
    let items = dir.join("public.items.tsv");
    let items_before = std::fs::read_to_string(&items).unwrap();
    append(&items, "03\tt\n");
    append(&dir.join("public.prices.tsv"), "20.000\tagain\n");
    let run = seedsnap(&["seal", "--dir", dir_text]).code(4);
    let (items_file, prices_file) = (items.display(), dir.join("public.prices.tsv"));
    let prices_file = prices_file.display();
    for expected in [
        format!(
            "{items_file} line 4: duplicate key (id) = (03) of public.items, first seen at \
             {items_file} line 2 (PostgreSQL reads both as (3))"
        ),
        format!(
            "{prices_file} line 4: duplicate key (amount) = (20.000) of public.prices, first \
             seen at {prices_file} line 3 (PostgreSQL reads both as (20))"
        ),
    ] {
        assert!(run.stderr.contains(&expected), "{expected}\n{}", run.stderr);
    }
    assert_eq!(
        std::fs::read(dir.join("manifest.json")).unwrap(),
        manifest_before
    );

    // A value the column's type refuses is named with its file, line and column.
    std::fs::write(&items, format!("{items_before}abc\tt\n5\tmaybe\n")).unwrap();
    let run = seedsnap(&["seal", "--dir", dir_text]).code(4);
    for expected in [
        "public.items.tsv line 4, column \"id\": invalid input syntax for type integer: \"abc\"",
        "public.items.tsv line 5, column \"active\": invalid input syntax for type boolean: \
         \"maybe\"",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    assert_eq!(
        std::fs::read(dir.join("manifest.json")).unwrap(),
        manifest_before
    );
}

#[test]
fn verify_compares_hand_edited_keys_as_postgresql_does() {
    let (_demo, dir) = snapshot();
    let dir_text = dir.to_str().unwrap();
    // Values of the existing row respelled in place (row counts unchanged, checksum fixed).
    tamper(
        &dir,
        "public.orders.tsv",
        |text| {
            text.replace(
                "1\ta0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\t1.5\t3\tt",
                "1\tA0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\t01.50\t003\tTRUE",
            )
        },
        true,
    );
    assert!(std::fs::read_to_string(dir.join("public.orders.tsv"))
        .unwrap()
        .contains("01.50"));
    let run = seedsnap(&["verify", "--dir", dir_text]).ok();
    assert!(
        run.stdout
            .contains("every foreign key resolves inside the snapshot"),
        "{}",
        run.stdout
    );
    // With an overlay whose rows spell their keys otherwise: resolved too.
    let overlay = scratch_dir("kv-overlay");
    let header = "id\towner_id\tamount\titem_id\titem_active\n";
    std::fs::write(
        overlay.join("public.orders.tsv"),
        format!("{header}{HAND_WRITTEN}"),
    )
    .unwrap();
    let verify = || {
        seedsnap(&[
            "verify",
            "--dir",
            dir_text,
            "--overlay",
            overlay.to_str().unwrap(),
        ])
    };
    verify().ok();
    // A parent that is really not there is still reported, as the file spells it.
    std::fs::write(
        overlay.join("public.orders.tsv"),
        format!("{header}4\t\\N\t1.25\t\\N\t\\N\n"),
    )
    .unwrap();
    let orders = overlay.join("public.orders.tsv").display().to_string();
    verify().code(5).stderr_has(&format!(
        "{orders} line 2: (amount) = (1.25) has no row in public.prices"
    ));
}

#[test]
fn a_key_that_does_not_resolve_exits_5_with_or_without_an_overlay() {
    let (demo, dir) = snapshot();
    let dir_text = dir.to_str().unwrap();
    let orphan = "9\t\\N\t7\t\\N\t\\N\n";
    let header = "id\towner_id\tamount\titem_id\titem_active\n";
    // In an overlay.
    let overlay = scratch_dir("kv-overlay");
    std::fs::write(
        overlay.join("public.orders.tsv"),
        format!("{header}{orphan}"),
    )
    .unwrap();
    let with_overlay = [
        "verify",
        "--json",
        "--dir",
        dir_text,
        "--overlay",
        overlay.to_str().unwrap(),
    ];
    let run = seedsnap(&with_overlay).code(5);
    let overlay_file = overlay.join("public.orders.tsv").display().to_string();
    assert!(
        run.stderr.contains(&format!(
            "{overlay_file} line 2: (amount) = (7) has no row in public.prices"
        )),
        "{}",
        run.stderr
    );
    let report = json(&run);
    assert_eq!(report["unresolved"][0]["rows"], 1, "{report}");
    assert_eq!(report["error"]["exit_code"], 5, "{report}");
    // The same row in the snapshot itself.
    let in_snapshot = export_to_scratch(&demo, &["--limit", "all"]);
    append(&in_snapshot.join("public.orders.tsv"), orphan);
    tamper(&in_snapshot, "public.orders.tsv", |t| t, true);
    let mut manifest = manifest(&in_snapshot);
    for table in manifest["tables"].as_array_mut().unwrap() {
        if table["name"] == "orders" {
            table["rows"] = 2.into();
            table["sampled"] = 2.into();
        }
    }
    std::fs::write(
        in_snapshot.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let run = seedsnap(&["verify", "--json", "--dir", in_snapshot.to_str().unwrap()]).code(5);
    assert!(
        run.stderr
            .contains("public.orders.tsv line 3: (amount) = (7) has no row in public.prices"),
        "{}",
        run.stderr
    );
    assert_eq!(json(&run)["error"]["exit_code"], 5);
    // Each unresolved key is a problem of its own in --json, with its file and first line.
    let problem = &json(&run)["error"]["problems"][0];
    assert_eq!(problem["kind"], "unresolved_foreign_key", "{}", run.stdout);
    assert_eq!(problem["table"], "public.orders");
    assert_eq!(problem["line"], 3);
    assert!(problem["file"]
        .as_str()
        .unwrap()
        .ends_with("public.orders.tsv"));
    // A file that is not valid is bad input either way (exit 4).
    std::fs::write(
        overlay.join("public.orders.tsv"),
        format!("{header}9\t\\N\n"),
    )
    .unwrap();
    seedsnap(&with_overlay).code(4);
}

/// A key compares its values with the referenced type's equality: a `varchar` child `ab `
/// finds its `character(3)` parent `ab`, as the server's COPY does.
#[test]
fn a_child_value_is_compared_as_its_parent_column_type() {
    let schema = "CREATE TABLE codes (id char(3) PRIMARY KEY);
                  CREATE TABLE uses (id int PRIMARY KEY, code varchar(5) REFERENCES codes);";
    let source = cluster().create_db(
        "kv_cross",
        None,
        &format!("{schema} INSERT INTO codes VALUES ('ab'); INSERT INTO uses VALUES (1, 'ab');"),
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    append(&dir.join("public.uses.tsv"), "2\tab \n");
    seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).ok();
    seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).ok();
    let target = cluster().create_db("kv_cross_test", None, schema);
    import(&target, &dir, &[]).ok();
    assert_eq!(target.query_i64("SELECT count(*) FROM uses"), 2);
}

/// A NULL hand-written into a column of the row key (NOT NULL) is refused offline, with file,
/// line and column, as the target would refuse it.
#[test]
fn a_null_in_the_row_key_is_refused_offline() {
    let (_demo, dir) = snapshot();
    append(&dir.join("public.items.tsv"), "\\N\tt\n");
    let run = seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).code(4);
    assert!(
        run.stderr.contains(
            "public.items.tsv line 4, column \"id\": NULL in the key (id), whose columns are \
             NOT NULL"
        ),
        "{}",
        run.stderr
    );
}
