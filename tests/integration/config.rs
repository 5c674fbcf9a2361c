//! `seedsnap.toml`, flags over it, `check-config`, virtual and polymorphic foreign keys and
//! `plan --explain`, against real databases.

use super::*;

/// The rows of a snapshot file as maps from column name to COPY-text value.
fn rows_of(dir: &Path, file: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect();
    lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split('\t').map(String::from))
                .collect()
        })
        .collect()
}

fn column_of(dir: &Path, file: &str, column: &str) -> Vec<String> {
    rows_of(dir, file)
        .into_iter()
        .map(|r| r[column].clone())
        .collect()
}

fn table_entry<'a>(manifest: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    manifest["tables"].as_array().unwrap().iter().find(|t| {
        format!(
            "{}.{}",
            t["schema"].as_str().unwrap(),
            t["name"].as_str().unwrap()
        ) == name
    })
}

const POLYMORPHIC_KEYS: &str = r#"virtual_foreign_keys = [
  "app.content_tags(content_id) -> app.content_items(id) when content_source = 'items'",
  "app.content_tags(content_id) -> app.content_items_auto(id) when content_source = 'auto'",
]
"#;

/// A config file using every key, in a fresh working directory.
fn write_full_config(cwd: &Path, target_url: &str) {
    let text = format!(
        r#"dir = "seed"
limit = 5
schemas = ["app", "public"]
whole = ["public.schema_migrations"]
exclude = ["app.tag_votes"]
{POLYMORPHIC_KEYS}
[source]
url_env = "DEMO_URL"

[target]
url = "{target_url}"
pattern = "seed_test"

[limits]
"app.tags" = 7

[filters]
"app.content_items" = "status = 'published'"
"#
    );
    std::fs::write(cwd.join("seedsnap.toml"), text).unwrap();
}

#[test]
fn every_config_key_shapes_the_export_and_import() {
    let demo = demo_db();
    let target = empty_test_db();
    let cwd = scratch_dir("cfg");
    write_full_config(&cwd, &target.url());
    let demo_url = demo.url();
    // No --source, --target or --dir: all from ./seedsnap.toml.
    let run = seedsnap_in(&cwd, &["export"], &[("DEMO_URL", &demo_url)]).ok();
    assert!(
        run.stderr.contains("config: seedsnap.toml"),
        "{}",
        run.stderr
    );
    let dir = cwd.join("seed");
    let manifest = manifest(&dir);
    // limit
    assert_eq!(manifest["limit"], 5);
    // schemas: nothing from analytics
    assert!(table_entry(&manifest, "analytics.page_views").is_none());
    // exclude
    assert!(table_entry(&manifest, "app.tag_votes").is_none());
    // whole
    assert_eq!(
        table_entry(&manifest, "public.schema_migrations").unwrap()["rows"].as_i64(),
        Some(demo.query_i64("SELECT count(*) FROM public.schema_migrations"))
    );
    // limits
    assert_eq!(table_entry(&manifest, "app.tags").unwrap()["sampled"], 7);
    assert_eq!(table_entry(&manifest, "app.users").unwrap()["sampled"], 5);
    // filters: the sample is the first five published items (ids 1, 2, 5, 6, 9).
    let items = column_of(&dir, "app.content_items.tsv", "id");
    for id in ["1", "2", "5", "6", "9"] {
        assert!(
            items.contains(&id.to_string()),
            "item {id} missing: {items:?}"
        );
    }
    assert_eq!(
        table_entry(&manifest, "app.content_items").unwrap()["sampled"],
        5
    );
    // virtual_foreign_keys: in the manifest, resolved, checked offline.
    let tags = table_entry(&manifest, "app.content_tags").unwrap();
    let virtual_keys = tags["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["virtual"] == true)
        .count();
    assert_eq!(virtual_keys, 2);
    seedsnap_in(&cwd, &["verify"], &[]).ok();

    // [target] url and pattern: the import needs no flags either.
    let run = seedsnap_in(&cwd, &["import"], &[]).ok();
    assert!(
        run.stdout.contains("every snapshot row verified present"),
        "{}",
        run.stdout
    );
    assert_eq!(
        target.query_i64("SELECT count(*) FROM app.content_tags"),
        tags["rows"].as_i64().unwrap()
    );
    // A pattern the target does not match refuses it (exit 3), whatever the default would say.
    set_target_pattern(&cwd, "^staging_");
    seedsnap_in(&cwd, &["import"], &[])
        .code(3)
        .stderr_has("^staging_");
}

/// Points the `[target] pattern` of the file [`write_full_config`] wrote at `pattern`.
fn set_target_pattern(cwd: &Path, pattern: &str) {
    let path = cwd.join("seedsnap.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.starts_with("pattern = ") {
            true => format!("pattern = \"{pattern}\""),
            false => line.to_string(),
        })
        .collect();
    assert_ne!(lines.join("\n"), text.trim_end(), "{text}");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

/// A fresh working directory with the config file using every key; its `[target]` names a test
/// database that does not exist (an export never reads `[target]`).
fn full_config_dir(prefix: &str) -> PathBuf {
    let cwd = scratch_dir(prefix);
    let c = cluster();
    write_full_config(&cwd, &c.url(&c.unique_name("seed_test_unused")));
    cwd
}

/// A snapshot of `source` exported by a run in `cwd`, with the config file there: a fixture made
/// once and shared by tests of one behaviour each.
struct ConfiguredExport {
    source: TestDb,
    cwd: PathBuf,
    dir: PathBuf,
}

impl ConfiguredExport {
    /// Runs `seedsnap export -q --source <source> --dir <dir> <extra…>` in `cwd`.
    fn run(source: TestDb, cwd: PathBuf, dir: PathBuf, extra: &[&str]) -> ConfiguredExport {
        let url = source.url();
        let mut args = vec![
            "export",
            "-q",
            "--source",
            &url,
            "--dir",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        seedsnap_in(&cwd, &args, &[]).ok();
        ConfiguredExport { source, cwd, dir }
    }
}

/// The demo exported with a flag over each of the file's keys, in a working directory whose
/// `seedsnap.toml` uses every key. DEMO_URL is not set: --source wins, so the file's url_env is
/// never consulted.
fn flagged_export() -> &'static ConfiguredExport {
    static EXPORT: OnceLock<ConfiguredExport> = OnceLock::new();
    EXPORT.get_or_init(|| {
        ConfiguredExport::run(
            demo_db(),
            full_config_dir("cfgflags"),
            scratch_dir("cfgflags-out").join("snap"),
            &[
                "--limit",
                "3",
                "--table-limit",
                "app.tags=2",
                "--filter",
                "app.content_items=status = 'draft'",
                "--schema",
                "analytics",
                "--schema",
                "app",
                "--schema",
                "public",
            ],
        )
    })
}

#[test]
fn a_source_flag_replaces_the_files_url_variable() {
    let export = flagged_export();
    assert_eq!(
        manifest(&export.dir)["source"]["database"].as_str(),
        Some(export.source.name.as_str())
    );
}

#[test]
fn a_dir_flag_replaces_the_files_dir() {
    let export = flagged_export();
    assert!(!export.cwd.join("seed").exists(), "the file's dir was used");
    assert!(export.dir.join("manifest.json").exists());
}

#[test]
fn a_limit_flag_replaces_the_files_limit() {
    let manifest = manifest(&flagged_export().dir);
    assert_eq!(manifest["limit"], 3);
    assert_eq!(table_entry(&manifest, "app.users").unwrap()["sampled"], 3);
}

#[test]
fn a_table_limit_flag_replaces_the_files_limit_for_that_table() {
    let manifest = manifest(&flagged_export().dir);
    assert_eq!(table_entry(&manifest, "app.tags").unwrap()["sampled"], 2);
}

#[test]
fn schema_flags_replace_the_files_schemas() {
    let manifest = manifest(&flagged_export().dir);
    assert!(table_entry(&manifest, "analytics.page_views").is_some());
}

#[test]
fn a_filter_flag_replaces_the_files_filter_for_that_table() {
    // The file's filter would take published items; drafts are ids 4, 8, 12.
    let items = column_of(&flagged_export().dir, "app.content_items.tsv", "id");
    for id in ["4", "8", "12"] {
        assert!(
            items.contains(&id.to_string()),
            "draft {id} missing: {items:?}"
        );
    }
}

#[test]
fn the_files_exclude_list_still_holds_under_flags() {
    // Lists add up: flags over other keys leave the file's exclude in force.
    let manifest = manifest(&flagged_export().dir);
    assert!(table_entry(&manifest, "app.tag_votes").is_none());
}

#[test]
fn a_target_pattern_flag_replaces_the_files_pattern() {
    let target = empty_test_db();
    let cwd = scratch_dir("cfgflags-pattern");
    write_full_config(&cwd, &target.url());
    set_target_pattern(&cwd, "^staging_");
    let dir = flagged_export().dir.to_str().unwrap();
    // The file's pattern alone refuses the target ...
    seedsnap_in(&cwd, &["import", "-q", "--dir", dir], &[])
        .code(3)
        .stderr_has("^staging_");
    // ... and --target-pattern beats it; a file's pattern that matches every name is refused.
    set_target_pattern(&cwd, "");
    seedsnap_in(&cwd, &["import", "-q", "--dir", dir], &[])
        .code(4)
        .stderr_has("matches any database name");
    set_target_pattern(&cwd, "^staging_");
    seedsnap_in(
        &cwd,
        &[
            "import",
            "-q",
            "--dir",
            dir,
            "--target-pattern",
            "seed_test",
        ],
        &[],
    )
    .ok();
}

#[test]
fn no_config_ignores_the_file() {
    let demo = demo_db();
    let cwd = full_config_dir("cfgflags-noconfig");
    let plain = scratch_dir("cfgflags-plain").join("snap");
    seedsnap_in(
        &cwd,
        &[
            "--no-config",
            "export",
            "-q",
            "--source",
            &demo.url(),
            "--dir",
            plain.to_str().unwrap(),
        ],
        &[],
    )
    .ok();
    // The default limit, every schema, no exclusions.
    let plain_manifest = manifest(&plain);
    assert_eq!(plain_manifest["limit"], 100);
    assert!(table_entry(&plain_manifest, "analytics.page_views").is_some());
    assert!(table_entry(&plain_manifest, "app.tag_votes").is_some());
}

#[test]
fn a_config_flag_reads_a_file_from_anywhere_with_its_dir_relative_to_the_file() {
    let demo = demo_db();
    let cwd = full_config_dir("cfg-config");
    let elsewhere = scratch_dir("cfg-elsewhere");
    let config = cwd.join("seedsnap.toml");
    seedsnap_in(
        &elsewhere,
        &["export", "-q", "--config", config.to_str().unwrap()],
        &[("DEMO_URL", &demo.url())],
    )
    .ok();
    assert_eq!(manifest(&cwd.join("seed"))["limit"], 5);
}

/// Two content tables with overlapping ids and a polymorphic link table, no constraints between.
const POLY_SCHEMA: &str = "CREATE TABLE items (id int PRIMARY KEY, title text NOT NULL);
         CREATE TABLE items_auto (id int PRIMARY KEY, title text NOT NULL);
         CREATE TABLE tag_links (id int PRIMARY KEY, source text NOT NULL, content_id int NOT NULL);";

/// A source with [`POLY_SCHEMA`] whose links point beyond the limit, exported at limit 10 in a
/// working directory whose config declares the two polymorphic keys.
fn polymorphic_export() -> &'static ConfiguredExport {
    static EXPORT: OnceLock<ConfiguredExport> = OnceLock::new();
    EXPORT.get_or_init(|| {
        // Ids overlap between the two content tables, so a lookup in the wrong table would find
        // a row and go unnoticed by counts alone.
        let source = cluster().create_db(
            "poly",
            None,
            &format!(
                "{POLY_SCHEMA}
         INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 1000) AS i;
         INSERT INTO items_auto SELECT i, 'auto ' || i FROM generate_series(1, 1000) AS i;
         INSERT INTO tag_links VALUES (1, 'auto', 900), (2, 'items', 950), (3, 'auto', 950);"
            ),
        );
        let cwd = scratch_dir("poly");
        std::fs::write(
            cwd.join("seedsnap.toml"),
            r#"limit = 10
virtual_foreign_keys = [
  "tag_links(content_id) -> items(id) when source = 'items'",
  "tag_links(content_id) -> items_auto(id) when source = 'auto'",
]
"#,
        )
        .unwrap();
        let dir = cwd.join("snap");
        ConfiguredExport::run(source, cwd, dir, &[])
    })
}

/// The `id` column of a snapshot file, as sorted numbers.
fn sorted_ids(dir: &Path, file: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = column_of(dir, file, "id")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    ids.sort();
    ids
}

/// `seedsnap plan -q --explain <table> <extra…>` on the polymorphic source, with its config.
fn explain_polymorphic(table: &str, extra: &[&str]) -> Run {
    let export = polymorphic_export();
    let url = export.source.url();
    let mut args = vec!["plan", "-q", "--source", &url, "--explain", table];
    args.extend_from_slice(extra);
    seedsnap_in(&export.cwd, &args, &[]).ok()
}

#[test]
fn polymorphic_backfill_takes_each_row_from_its_own_table() {
    let dir = &polymorphic_export().dir;
    let first_ten: Vec<i64> = (1..=10).collect();
    assert_eq!(
        sorted_ids(dir, "public.items.tsv"),
        [first_ten.clone(), vec![950]].concat()
    );
    assert_eq!(
        sorted_ids(dir, "public.items_auto.tsv"),
        [first_ten, vec![900, 950]].concat()
    );
}

#[test]
fn the_manifest_counts_each_tables_polymorphic_backfill() {
    let manifest = manifest(&polymorphic_export().dir);
    assert_eq!(
        table_entry(&manifest, "public.items").unwrap()["backfilled"],
        1
    );
    assert_eq!(
        table_entry(&manifest, "public.items_auto").unwrap()["backfilled"],
        2
    );
}

#[test]
fn verify_accepts_a_polymorphic_backfill() {
    let export = polymorphic_export();
    seedsnap_in(
        &export.cwd,
        &["verify", "--dir", export.dir.to_str().unwrap()],
        &[],
    )
    .ok();
}

#[test]
fn plan_explain_counts_a_polymorphic_tables_sampled_and_backfilled_rows() {
    let run = explain_polymorphic("public.items_auto", &[]);
    assert!(
        run.stdout
            .contains("public.items_auto: 10 rows sampled, 2 backfilled"),
        "{}",
        run.stdout
    );
}

#[test]
fn plan_explain_names_the_row_and_polymorphic_key_that_pulled_a_row_in() {
    let run = explain_polymorphic("public.items_auto", &[]);
    assert!(
        run.stdout.contains(
            "public.items_auto (id)=(900)\n  <- public.tag_links (id)=(1)  via tag_links(content_id) -> items_auto(id) when source = 'auto'  (sampled)"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn plan_explain_json_gives_each_backfilled_row_and_the_row_that_pulled_it_in() {
    let plan = json(&explain_polymorphic("public.items", &["--format", "json"]));
    let rows = plan["explanation"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["row"], "(id)=(950)");
    assert_eq!(rows[0]["pulled_in_by"][0]["row"], "(id)=(2)");
}

#[test]
fn the_import_checks_polymorphic_keys_the_target_does_not_declare() {
    // The target declares no such constraint; the import checks the keys itself.
    let target = cluster().create_db("poly_test", None, POLY_SCHEMA);
    import(&target, &polymorphic_export().dir, &[]).ok();
    assert_eq!(
        target.query_i64("SELECT count(*) FROM items_auto WHERE id = 900"),
        1
    );
}

#[test]
fn plan_explain_follows_a_chain_down_to_a_sampled_row() {
    let demo = demo_db();
    let config = demo_config();
    let run = seedsnap(&[
        "plan",
        "-q",
        "--config",
        &config,
        "--source",
        &demo.url(),
        "--explain",
        "app.generation_jobs",
    ])
    .ok();
    // Retry chains: a job pulled in by a job that was itself pulled in by a sampled one.
    assert!(
        run.stdout.contains("  <- app.generation_jobs (id)=(")
            && run.stdout.contains("    <- app.generation_jobs (id)=("),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("via generation_jobs_retry_of_fkey  (sampled)"));
    // A table that is not exported cannot be explained.
    seedsnap(&[
        "plan",
        "-q",
        "--config",
        &config,
        "--source",
        &demo.url(),
        "--exclude",
        "app.recommendations",
        "--explain",
        "app.recommendations",
    ])
    .code(4)
    .stderr_has("--explain app.recommendations: the table is not part of this export");
}

#[test]
fn check_config_reports_every_problem_at_once() {
    let demo = demo_db();
    let cwd = scratch_dir("check");
    std::fs::write(
        cwd.join("seedsnap.toml"),
        r#"whole = ["app.tagz"]
exclude = ["app.nothing"]
virtual_foreign_keys = [
  "app.content_tags(content_idd) -> app.content_items(id)",
  "app.content_tags(content_id, tag_slug) -> app.content_items_auto(id)",
  "app.content_tags(tag_slug) -> app.content_items_auto(id)",
  "app.content_items(author_id) -> app.users(id) when status = 'deleted'",
  "app.ratings(user_id) -> app.users(id) when score = '05'",
  "app.content_tags(content_id) -> app.content_itemz(id)",
]

[limits]
"app.userz" = 5

[filters]
"app.content_items" = "statuss = 'published'"
"app.users" = "email LIKE"
"app.tags" = "id + 1"
"#,
    )
    .unwrap();
    let url = demo.url();
    let run = seedsnap_in(&cwd, &["check-config", "--source", &url], &[]).code(4);
    let expected = [
        "seedsnap.toml:1 (whole): no table app.tagz (did you mean app.tags?)",
        "seedsnap.toml:2 (exclude): no table app.nothing",
        "seedsnap.toml:4: virtual foreign key \"app.content_tags(content_idd) -> app.content_items(id)\": app.content_tags has no column content_idd",
        "seedsnap.toml:5: virtual foreign key \"app.content_tags(content_id, tag_slug) -> app.content_items_auto(id)\": 2 column(s) on the left but 1 on the right",
        "seedsnap.toml:6: virtual foreign key \"app.content_tags(tag_slug) -> app.content_items_auto(id)\": app.content_tags.tag_slug is text but app.content_items_auto.id is bigint; the types must match",
        "seedsnap.toml:7: virtual foreign key \"app.content_items(author_id) -> app.users(id) when status = 'deleted'\": 'deleted' is not a valid value of app.content_items.status (app.content_status): invalid input value for enum app.content_status: \"deleted\"",
        "seedsnap.toml:8: virtual foreign key \"app.ratings(user_id) -> app.users(id) when score = '05'\": '05' reads back as '5'; write score = '5'",
        "seedsnap.toml:9: virtual foreign key \"app.content_tags(content_id) -> app.content_itemz(id)\": no table app.content_itemz (did you mean app.content_items?)",
        "seedsnap.toml:13 (limits): no table app.userz (did you mean app.users?)",
        "seedsnap.toml:16 (filters): the filter for app.content_items (\"statuss = 'published'\") does not work: column \"statuss\" does not exist, at character 1 of the filter",
        "seedsnap.toml:17 (filters): the filter for app.users (\"email LIKE\") does not work: syntax error",
        "seedsnap.toml:18 (filters): the filter for app.tags (\"id + 1\") does not work: argument of WHERE must be type boolean",
    ];
    for text in expected {
        assert!(run.stdout.contains(text), "{text:?} not in\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains(&format!("{} problem(s)", expected.len())),
        "{}",
        run.stdout
    );
    // The same file stops an export before it writes anything.
    seedsnap_in(
        &cwd,
        &["export", "-q", "--source", &url, "--dir", "snap"],
        &[],
    )
    .code(4)
    .stderr_has("no table app.tagz");
    assert!(!cwd.join("snap").exists());

    // Mistakes found without a database are reported with their line, also all at once.
    std::fs::write(cwd.join("seedsnap.toml"), "limit = 0\n").unwrap();
    seedsnap_in(&cwd, &["check-config", "--source", &url], &[])
        .code(4)
        .stderr_has("seedsnap.toml:1: a limit must be at least 1");
    std::fs::write(
        cwd.join("seedsnap.toml"),
        "limit = 5\nlimitt = 3\nvirtual_foreign_keys = [\"a(x) b(y)\"]\n",
    )
    .unwrap();
    seedsnap_in(&cwd, &["check-config", "--source", &url], &[])
        .code(4)
        .stderr_has("seedsnap.toml:2: unknown field `limitt`");

    // A valid file passes, with a warning for a condition that selects nothing.
    std::fs::write(
        cwd.join("seedsnap.toml"),
        POLYMORPHIC_KEYS.replace("'auto'", "'automatic'"),
    )
    .unwrap();
    let run = seedsnap_in(&cwd, &["check-config", "--source", &url], &[]).ok();
    assert!(
        run.stdout
            .contains("seedsnap.toml: no problems (2 virtual foreign keys"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("warning: virtual foreign key"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("no row of app.content_tags meets its condition"));
    // Without a file there is nothing to check (usage error).
    std::fs::remove_file(cwd.join("seedsnap.toml")).unwrap();
    seedsnap_in(&cwd, &["check-config", "--source", &url], &[])
        .code(2)
        .stderr_has("no config file to check");
}

#[test]
fn a_filter_that_leaves_a_table_empty_fails_the_export() {
    let demo = demo_db();
    let dir = scratch_dir("emptyfilter").join("snap");
    seedsnap(&[
        "export",
        "-q",
        "--source",
        &demo.url(),
        "--dir",
        dir.to_str().unwrap(),
        "--filter",
        "app.search_history=false",
    ])
    .code(5)
    .stderr_has(
        "these tables have rows in the source but none in the snapshot: app.search_history",
    );
    assert!(!dir.exists());
    // In --json, a problem per table, naming it.
    let run = seedsnap(&[
        "export",
        "-q",
        "--json",
        "--source",
        &demo.url(),
        "--dir",
        dir.to_str().unwrap(),
        "--filter",
        "app.search_history=false",
    ])
    .code(5);
    let problem = &json(&run)["error"]["problems"][0];
    assert_eq!(problem["table"], "app.search_history", "{}", run.stdout);
    assert_eq!(problem["kind"], "source");
}

#[test]
fn an_unset_url_variable_is_a_bad_setting_and_a_missing_source_a_usage_error() {
    let cwd = scratch_dir("nourl");
    std::fs::write(
        cwd.join("seedsnap.toml"),
        "[source]\nurl_env = \"DEMO_URL\"\n",
    )
    .unwrap();
    seedsnap_in(&cwd, &["export"], &[])
        .code(4)
        .stderr_has("seedsnap.toml:2: [source] url_env names DEMO_URL, which is not set");
    let run = seedsnap_in(&cwd, &["export", "--json"], &[]).code(4);
    let error: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problem = &error["error"]["problems"][0];
    assert_eq!(problem["kind"], "setting", "{}", run.stdout);
    assert_eq!(problem["file"], "seedsnap.toml", "{}", run.stdout);
    assert_eq!(problem["line"], 2, "{}", run.stdout);
    seedsnap_in(&cwd, &["--no-config", "export"], &[])
        .code(2)
        .stderr_has("no source database: give --source, set SEEDSNAP_SOURCE");
}

#[test]
fn dangling_virtual_keys_are_left_out_with_a_warning_applying_the_condition() {
    // Nothing enforces a virtual key, so the source itself can hold dangling values.
    let source = cluster().create_db(
        "dangling",
        None,
        "CREATE TABLE items (id int PRIMARY KEY);
         CREATE TABLE items_auto (id int PRIMARY KEY);
         CREATE TABLE tag_links (id int PRIMARY KEY, source text NOT NULL, content_id int NOT NULL);
         INSERT INTO items VALUES (1), (2);
         INSERT INTO items_auto VALUES (1), (2);
         INSERT INTO tag_links VALUES (1, 'auto', 1), (2, 'items', 2), (3, 'auto', 5000),
                                      (4, 'other', 6000);",
    );
    let cwd = scratch_dir("dangling");
    std::fs::write(
        cwd.join("seedsnap.toml"),
        r#"virtual_foreign_keys = [
  "tag_links(content_id) -> items(id) when source = 'items'",
  "tag_links(content_id) -> items_auto(id) when source = 'auto'",
]
"#,
    )
    .unwrap();
    let url = source.url();
    let run = seedsnap_in(&cwd, &["export", "--source", &url, "--dir", "snap"], &[]).ok();
    assert!(
        run.stdout.contains(
            "warning: left out 1 rows of public.tag_links: their (content_id) has no row in \
             public.items_auto (tag_links(content_id) -> items_auto(id) when source = 'auto', a \
             virtual foreign key, which the import checks like a constraint"
        ),
        "{}",
        run.stdout
    );
    // Only the 'auto' row is left out: the 'other' row matches no key's condition, and the
    // 'items' row has its parent.
    assert_eq!(
        first_column(&cwd.join("snap"), "public.tag_links"),
        ["1", "2", "4"]
    );
    // So the snapshot verifies, as a target's import checks it.
    seedsnap_in(&cwd, &["verify", "--dir", "snap"], &[]).ok();
}
