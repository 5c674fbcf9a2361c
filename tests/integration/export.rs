//! `seedsnap export`, `plan` and `verify` against real databases.

use super::*;

#[test]
fn demo_export_is_fk_complete_and_covers_every_table() {
    let demo = demo_db();
    let config = demo_config();
    let dir = export_to_scratch(&demo, &["--config", &config]);
    let run = seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).ok();
    assert!(
        run.stdout.contains("every foreign key resolves"),
        "{}",
        run.stdout
    );
    let manifest = manifest(&dir);
    let tables = manifest["tables"].as_array().unwrap();
    // Every table of the demo schema, partitions read through their parent.
    assert_eq!(tables.len(), 23);
    // The config file's virtual keys are in the manifest, so verify checked them too.
    let virtual_keys: Vec<&serde_json::Value> = tables
        .iter()
        .flat_map(|t| t["foreign_keys"].as_array().unwrap())
        .filter(|k| k["virtual"] == true)
        .collect();
    assert_eq!(virtual_keys.len(), 3, "{virtual_keys:?}");
    // Addresses point at countries far beyond the sample of 100: found by their char(2) code.
    let countries = tables
        .iter()
        .find(|t| t["name"] == "countries")
        .expect("app.countries");
    assert!(countries["backfilled"].as_u64().unwrap() > 0, "{countries}");
    for table in tables {
        assert!(
            table["rows"].as_u64().unwrap() > 0,
            "{} is empty",
            table["name"]
        );
        // The demo config's limits: 100, 20 for content_items_auto, 200 for page_views.
        let limit = match table["name"].as_str().unwrap() {
            "page_views" => 200,
            "content_items_auto" => 20,
            "schema_migrations" => u64::MAX,
            _ => 100,
        };
        assert!(table["sampled"].as_u64().unwrap() <= limit, "{table}");
    }
    // Parents load before children.
    let position = |name: &str| {
        tables
            .iter()
            .position(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert!(position("users") < position("ratings"));
    assert!(position("content_tags") < position("tag_votes"));
    assert!(!tables
        .iter()
        .any(|t| t["name"].as_str().unwrap().starts_with("interactions_")));
    // The generated column stays out of the file.
    let items = std::fs::read_to_string(dir.join("app.content_items.tsv")).unwrap();
    assert!(!items.lines().next().unwrap().contains("title_search"));
}

#[test]
fn hard_cases_of_the_demo_are_resolved() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--limit", "10"]);
    let target = empty_test_db();
    import(&target, &dir, &[]).ok();
    // Every row of the target satisfies its constraints (they are enforced), and the rows
    // whose parents lie beyond the first rows brought those parents along.
    let far_parents = target.query_i64(
        "SELECT count(*) FROM app.ratings r JOIN app.content_items c ON c.id = r.content_id
          WHERE c.id > 100",
    );
    assert!(
        far_parents > 0,
        "ratings reference far items, which must be exported"
    );
    // Composite FK with reordered columns, FK to a UNIQUE column, the nullable cycle.
    assert!(target.query_i64("SELECT count(*) FROM app.tag_votes") > 0);
    assert!(target.query_i64("SELECT count(*) FROM app.content_tags") > 0);
    assert!(
        target.query_i64("SELECT count(*) FROM app.users WHERE favorite_item_id IS NOT NULL") > 0
    );
    // Users with no content exist in the source; the export needs none of them, but samples
    // them as any other user.
    assert!(demo.query_i64(
        "SELECT count(*) FROM app.users u WHERE NOT EXISTS (SELECT 1 FROM app.content_items c WHERE c.author_id = u.id)"
    ) > 0);
}

#[test]
fn export_is_deterministic_and_leaves_the_source_unchanged() {
    let demo = demo_db();
    let before = demo.fingerprint();
    let a = export_to_scratch(&demo, &[]);
    let b = export_to_scratch(&demo, &[]);
    assert_eq!(read_dir_files(&a), read_dir_files(&b));
    // Again into the first directory: its data files are unchanged, so they are linked from
    // the snapshot being replaced (every one small enough to be held and compared), not
    // written again; the bytes are the same.
    let files = read_dir_files(&a);
    let held = files
        .iter()
        .filter(|(name, _)| {
            name.ends_with(".tsv") && std::fs::metadata(a.join(name)).unwrap().len() <= 256 * 1024
        })
        .count();
    let again = seedsnap(&[
        "export",
        "--json",
        "--source",
        &demo.url(),
        "--dir",
        a.to_str().unwrap(),
    ])
    .ok();
    assert!(held > 20, "{held}");
    assert_eq!(json(&again)["files_unchanged"], held);
    assert_eq!(read_dir_files(&a), files);
    assert_eq!(demo.fingerprint(), before);
}

#[test]
fn parallel_readers_write_the_same_files_as_one_session() {
    let demo = demo_db();
    let one = export_to_scratch(&demo, &["--jobs", "1"]);
    let dir = scratch_dir("jobs").join("snapshot");
    let run = seedsnap(&[
        "export",
        "--json",
        "--jobs",
        "4",
        "--source",
        &demo.url(),
        "--dir",
        dir.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(json(&run)["timings"]["sessions"], 4);
    assert_eq!(read_dir_files(&one), read_dir_files(&dir));
    // Readers that release their locks after every statement (a new transaction on the same
    // snapshot each time) still read exactly the export's rows.
    let released = scratch_dir("jobs1").join("snapshot");
    seedsnap_env(
        &[
            "export",
            "-q",
            "--jobs",
            "4",
            "--source",
            &demo.url(),
            "--dir",
            released.to_str().unwrap(),
        ],
        &[("SEEDSNAP_READER_LOCK_BUDGET", "1")],
    )
    .ok();
    assert_eq!(read_dir_files(&one), read_dir_files(&released));
}

#[test]
fn automatic_sessions_follow_where_the_source_is() {
    let db = cluster().create_db(
        "many_tables",
        None,
        "DO $$ BEGIN
           FOR i IN 1..320 LOOP
             EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY); INSERT INTO t%s VALUES (1)', i, i);
           END LOOP;
         END $$;",
    );
    let export = |url: &str, name: &str| {
        let dir = scratch_dir(name).join("snapshot");
        let run = seedsnap(&[
            "export",
            "--json",
            "--source",
            url,
            "--dir",
            dir.to_str().unwrap(),
        ])
        .ok();
        (
            json(&run)["timings"]["sessions"].as_u64().unwrap(),
            read_dir_files(&dir),
        )
    };
    // On this machine, through its Unix socket: two sessions per core, at most eight.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let (nearby, files) = export(&db.url(), "nearby");
    assert_eq!(nearby, (2 * cores).clamp(2, 8));
    // 5 ms a round trip away (a loopback proxy): eight, to share the round trips.
    let socket = cluster()
        .socket_dir
        .join(format!(".s.PGSQL.{}", cluster().port));
    let proxy =
        crate::latency_proxy::LatencyProxy::start(socket, std::time::Duration::from_millis(5))
            .unwrap();
    let remote_url = format!(
        "host=127.0.0.1 port={} user=seedsnap dbname={}",
        proxy.port, db.name
    );
    let (remote, remote_files) = export(&remote_url, "remote");
    assert_eq!(remote, 8);
    assert_eq!(files, remote_files);
}

/// A new role that may only read the demo's tables (with `options` such as a connection
/// limit), and the demo's URL as that role.
fn reading_role(demo: &TestDb, prefix: &str, options: &str) -> (String, String) {
    let role = cluster().unique_name(prefix);
    demo.execute(&format!(
        "CREATE ROLE {role} LOGIN {options};
         GRANT CONNECT ON DATABASE \"{db}\" TO {role};
         GRANT USAGE ON SCHEMA app, analytics, public TO {role};
         GRANT SELECT ON ALL TABLES IN SCHEMA app, analytics, public TO {role};",
        db = demo.name
    ));
    let url = demo.url().replace("user=seedsnap", &format!("user={role}"));
    (role, url)
}

#[test]
fn readers_that_cannot_connect_are_done_without() {
    let demo = demo_db();
    // One connection for the role: the export's own; every reader is refused.
    let (role, url) = reading_role(&demo, "one_slot", "CONNECTION LIMIT 1");
    let as_owner = export_to_scratch(&demo, &[]);
    let dir = scratch_dir("slots").join("snapshot");
    let run = seedsnap(&[
        "export",
        "--json",
        "--jobs",
        "4",
        "--source",
        &url,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .ok()
    .stderr_has("reading with 1 of the 4 sessions planned (--jobs)")
    .stderr_has("too many connections for role");
    assert_eq!(json(&run)["timings"]["sessions"], 1);
    assert_eq!(read_dir_files(&as_owner), read_dir_files(&dir));
    demo.execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));
}

#[test]
fn self_reference_chain_500_deep_comes_out_whole() {
    let db = cluster().create_db(
        "chain",
        None,
        "CREATE TABLE node (id int PRIMARY KEY, parent_id int REFERENCES node (id), label text);
         INSERT INTO node SELECT i, NULLIF(i - 1, 0), 'n' || i FROM generate_series(1, 500) i;
         -- a second table whose first row points at the end of the chain
         CREATE TABLE leaf (id int PRIMARY KEY, node_id int NOT NULL REFERENCES node (id));
         INSERT INTO leaf VALUES (1, 500);",
    );
    let dir = export_to_scratch(&db, &["--table-limit", "public.node=1", "--limit", "1"]);
    let manifest = manifest(&dir);
    let node = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "node")
        .unwrap()
        .clone();
    assert_eq!(node["rows"], 500);
    assert_eq!(node["sampled"], 1);
    assert_eq!(node["backfilled"], 499);
    seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).ok();
}

#[test]
fn read_only_role_exports_the_same_snapshot() {
    let demo = demo_db();
    let (role, url) = reading_role(&demo, "reader", "");
    let as_owner = export_to_scratch(&demo, &[]);
    let dir = scratch_dir("ro").join("snapshot");
    seedsnap(&[
        "export",
        "-q",
        "--source",
        &url,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(read_dir_files(&as_owner), read_dir_files(&dir));
    demo.execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));
}

#[test]
fn row_level_security_fails_loudly() {
    let db = cluster().create_db(
        "rls",
        None,
        "CREATE TABLE secret (id int PRIMARY KEY, owner text);
         INSERT INTO secret VALUES (1, 'a'), (2, 'b');
         ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
         CREATE POLICY mine ON secret USING (owner = current_user);",
    );
    let role = cluster().unique_name("limited");
    db.execute(&format!(
        "CREATE ROLE {role} LOGIN; GRANT SELECT ON secret TO {role};"
    ));
    let url = db.url().replace("user=seedsnap", &format!("user={role}"));
    let dir = scratch_dir("rls").join("snapshot");
    seedsnap(&["export", "--source", &url, "--dir", dir.to_str().unwrap()])
        .code(4)
        .stderr_has("row-level security");
    assert!(!dir.exists(), "a failed export writes no snapshot");
    db.execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));
}

#[test]
fn failed_or_killed_export_leaves_the_previous_snapshot() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &[]);
    let before = read_dir_files(&dir);
    let dir_text = dir.to_str().unwrap().to_string();

    // A failing export: an unknown table.
    seedsnap(&[
        "export",
        "--source",
        &demo.url(),
        "--dir",
        &dir_text,
        "--only",
        "app.nope",
    ])
    .code(4);
    assert_eq!(read_dir_files(&dir), before);

    // A killed export: hold a lock the export must wait for, then SIGKILL it while it waits.
    demo.execute("UPDATE app.tags SET label = 'changed' WHERE id = 1");
    let mut locker = demo.client();
    let mut txn = locker.transaction().unwrap();
    txn.batch_execute("LOCK TABLE app.videos IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let args = ["export", "-q", "--source", &demo.url(), "--dir", &dir_text];
    let mut child = seedsnap_command(&scratch_dir("home"), &args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the export is blocked on the lock.
    let mut waited = 0;
    while demo.query_i64(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'seedsnap'",
    ) == 0
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
        assert!(waited < 200, "the export never waited on the lock");
    }
    let parent = dir.parent().unwrap();
    assert!(
        std::fs::read_dir(parent).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("seedsnap-tmp")),
        "the export writes into a temporary sibling"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    txn.rollback().unwrap();
    assert_eq!(
        read_dir_files(&dir),
        before,
        "the killed export changed the snapshot"
    );

    // The next export cleans up and succeeds.
    let run = seedsnap(&["export", "--source", &demo.url(), "--dir", &dir_text]).ok();
    assert!(
        run.stderr.contains("left by an interrupted export"),
        "{}",
        run.stderr
    );
    let leftovers: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("seedsnap-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_ne!(read_dir_files(&dir), before);
}

#[test]
fn export_refuses_to_replace_a_directory_that_is_not_a_snapshot() {
    let demo = demo_db();
    let dir = scratch_dir("notsnap");
    std::fs::write(dir.join("precious.txt"), "keep me").unwrap();
    seedsnap(&[
        "export",
        "--source",
        &demo.url(),
        "--dir",
        dir.to_str().unwrap(),
    ])
    .code(4)
    .stderr_has("not a seedsnap snapshot");
    assert_eq!(
        std::fs::read_to_string(dir.join("precious.txt")).unwrap(),
        "keep me"
    );
    // A path through a file is named as such.
    let under_a_file = dir.join("precious.txt").join("snap");
    seedsnap(&[
        "export",
        "--source",
        &demo.url(),
        "--dir",
        under_a_file.to_str().unwrap(),
    ])
    .code(4)
    .stderr_has("precious.txt is a file, not a directory");
    // A refused export leaves no trace, not even the parent directories it made for --dir.
    let nested = dir.join("new").join("deeper").join("snap");
    seedsnap(&[
        "export",
        "--source",
        &demo.url(),
        "--dir",
        nested.to_str().unwrap(),
        "--filter",
        "app.users=nonsense(",
    ])
    .code(4);
    assert!(!dir.join("new").exists());
}

#[test]
fn plan_shows_order_cycles_and_counts() {
    let demo = demo_db();
    let run = seedsnap(&["plan", "-q", "--source", &demo.url()]).ok();
    assert!(
        run.stdout.contains("Load order (23 tables)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(
        "inserted with favorite_item_id NULL and set afterwards (users_favorite_item_fk)"
    ));
    assert!(run
        .stdout
        .contains("deferred to commit (collections_featured_entry_fk)"));
    assert!(run.stdout.contains("references itself"));
    assert!(
        run.stdout.contains(
            "User triggers an import holds off while it loads (1):\n  \
             shipping_addresses_count on app.shipping_addresses"
        ),
        "{}",
        run.stdout
    );
    let json = seedsnap(&["plan", "-q", "--source", &demo.url(), "--format", "json"]).ok();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(plan["cycles"].as_array().unwrap().len(), 4);
    let dot = seedsnap(&["plan", "-q", "--source", &demo.url(), "--format", "dot"]).ok();
    assert!(dot.stdout.starts_with("digraph seedsnap {"));
    assert!(dot.stdout.contains("color=red"));
}

#[test]
fn only_and_exclude_keep_the_snapshot_fk_complete() {
    let demo = demo_db();
    let config = demo_config();
    let dir = export_to_scratch(&demo, &["--config", &config, "--only", "app.tag_votes"]);
    let manifest = manifest(&dir);
    let mut names: Vec<String> = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}.{}",
                t["schema"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "app.content_items",
            "app.content_items_auto",
            "app.content_tags",
            "app.generation_jobs",
            "app.tag_votes",
            "app.tags",
            "app.users"
        ]
    );
    seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).ok();
    // Excluding a table others need is refused, with the reason.
    let dir2 = scratch_dir("excl").join("s");
    seedsnap(&[
        "export",
        "--source",
        &demo.url(),
        "--dir",
        dir2.to_str().unwrap(),
        "--exclude",
        "app.tags",
    ])
    .code(4)
    .stderr_has("app.content_tags references app.tags");
}

#[test]
fn hostile_table_names_become_safe_files_and_round_trip() {
    let sql = r#"CREATE TABLE "a/b" (id int PRIMARY KEY, v text);
         CREATE TABLE "../x" (id int PRIMARY KEY, ab int REFERENCES "a/b" (id));
         CREATE TABLE "Order" (id int PRIMARY KEY);
         CREATE TABLE "order" (id int PRIMARY KEY, "we""ird	col" text);
         INSERT INTO "a/b" VALUES (1, E'tab\there\nnewline \\ backslash'), (2, '');
         INSERT INTO "../x" VALUES (1, 2);
         INSERT INTO "Order" VALUES (1);
         INSERT INTO "order" VALUES (1, NULL);"#;
    let db = cluster().create_db("hostile", None, sql);
    let dir = export_to_scratch(&db, &[]);
    let mut files: Vec<String> = read_dir_files(&dir).into_iter().map(|(n, _)| n).collect();
    files.sort();
    assert_eq!(
        files,
        [
            ".gitattributes",
            ".gitignore",
            ".seedsnap-source.json",
            "manifest.json",
            "public.%2E%2E%2Fx.tsv",
            "public.%4Frder.tsv",
            "public.a%2Fb.tsv",
            "public.order.tsv"
        ]
    );
    let target = cluster().create_db("hostile_test", None, sql.split("INSERT").next().unwrap());
    import(&target, &dir, &[]).ok();
    assert_eq!(db.fingerprint(), target.fingerprint());
}

#[test]
fn plan_renders_mermaid_and_the_cli_generates_completions_and_a_man_page() {
    let demo = demo_db();
    let mermaid = seedsnap(&["plan", "-q", "--source", &demo.url(), "--format", "mermaid"]).ok();
    assert!(
        mermaid.stdout.starts_with("flowchart LR\n"),
        "{}",
        mermaid.stdout
    );
    assert!(mermaid.stdout.contains("app.users<br/>"));
    assert!(
        mermaid.stdout.contains("-.->|\"favorite_item_id\"|"),
        "{}",
        mermaid.stdout
    );
    assert!(mermaid.stdout.contains("class "));
    let bash = seedsnap(&["completions", "bash"]).ok();
    assert!(bash.stdout.contains("_seedsnap()") && bash.stdout.contains("--truncate-first"));
    let man = seedsnap(&["man"]).ok();
    assert!(man.stdout.contains(".TH seedsnap 1"), "{}", man.stdout);
}
