//! `seedsnap import`, `refresh` and their guards against real databases.

use super::*;

#[test]
fn import_is_idempotent_and_verified() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &[]);
    let target = empty_test_db();
    let first = json(&import(&target, &dir, &["--json"]).ok());
    let rows = snapshot_rows(&dir);
    assert_eq!(total(&first, "inserted"), rows);
    assert!(first["committed"].as_bool().unwrap());
    let after_first = target.fingerprint();
    let second = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(total(&second, "inserted"), 0);
    // The migration bookkeeping the first import filled now describes the target: kept as the
    // target has it, the rest already present.
    let kept = second["bookkeeping_kept"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0]
            .as_str()
            .unwrap()
            .contains("public.schema_migrations kept as the target has it, at migration rails")
            && kept[0]
                .as_str()
                .unwrap()
                .contains("the snapshot's rows record the same"),
        "{kept:?}"
    );
    let bookkeeping_rows = manifest(&dir)["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["schema"] == "public" && t["name"] == "schema_migrations")
        .unwrap()["rows"]
        .as_u64()
        .unwrap();
    assert_eq!(total(&second, "already_present"), rows - bookkeeping_rows);
    assert_eq!(
        target.fingerprint(),
        after_first,
        "a second import changed the target"
    );
}

#[test]
fn round_trip_gives_byte_identical_files() {
    round_trip_with(&[]);
}

#[test]
fn round_trip_through_insert_batches_gives_byte_identical_files() {
    let report = round_trip_with(&["--load-via", "insert"]);
    let sent = &report["rows_sent"];
    assert_eq!(sent["files_by_copy"], 0, "{sent}");
    assert!(sent["files_by_insert"].as_u64().unwrap() > 10, "{sent}");
}

/// Exports the demo under session defaults that change how values print, imports it with
/// `import_extra` into a target with other defaults, exports the target again and compares
/// the data files; returns the import's JSON report.
fn round_trip_with(import_extra: &[&str]) -> serde_json::Value {
    let demo = demo_db();
    // Session defaults that change how values print must not change the files.
    demo.execute(&format!(
        "ALTER DATABASE \"{}\" SET DateStyle = 'SQL, DMY';
         ALTER DATABASE \"{}\" SET TimeZone = 'Asia/Kolkata';
         ALTER DATABASE \"{}\" SET extra_float_digits = -3;
         ALTER DATABASE \"{}\" SET bytea_output = 'escape';
         ALTER DATABASE \"{}\" SET IntervalStyle = 'sql_standard';",
        demo.name, demo.name, demo.name, demo.name, demo.name
    ));
    let dir = export_to_scratch(&demo, &[]);
    let target = empty_test_db();
    target.execute(&format!(
        "ALTER DATABASE \"{0}\" SET DateStyle = 'German, DMY';
         ALTER DATABASE \"{0}\" SET TimeZone = 'America/Los_Angeles';
         ALTER DATABASE \"{0}\" SET IntervalStyle = 'iso_8601';",
        target.name
    ));
    let mut args = vec!["--json"];
    args.extend_from_slice(import_extra);
    let report = json(&import(&target, &dir, &args).ok());
    let again = export_to_scratch(&target, &["--limit", "all"]);
    let tsv = |files: Vec<(String, String)>| -> Vec<(String, String)> {
        files
            .into_iter()
            .filter(|(n, _)| n.ends_with(".tsv"))
            .collect()
    };
    assert_eq!(tsv(read_dir_files(&dir)), tsv(read_dir_files(&again)));
    report
}

#[test]
fn a_batch_the_target_refuses_names_the_file_and_changes_nothing() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--limit", "5"]);
    let target = empty_test_db();
    // A constraint the source does not have: the first tag the snapshot holds breaks it.
    target
        .execute("ALTER TABLE app.tags ADD CONSTRAINT no_slugs_yet CHECK (slug IS NULL) NOT VALID");
    let before = target.fingerprint();
    let run = import(&target, &dir, &["--load-via", "insert"]).code(4);
    assert!(
        run.stderr.contains("app.tags.tsv") && run.stderr.contains("no_slugs_yet"),
        "{}",
        run.stderr
    );
    assert_eq!(target.fingerprint(), before);
}

#[test]
fn guard_refuses_databases_not_named_like_tests() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &[]);
    let other = cluster().create_db("staging", Some(&templates().empty), "");
    let before = other.fingerprint();
    import(&other, &dir, &[])
        .code(3)
        .stderr_has("does not look like a test database");
    // The flag alone is not enough without a terminal.
    import(&other, &dir, &["--allow-non-test-target"])
        .code(3)
        .stderr_has("add --yes");
    assert_eq!(other.fingerprint(), before);
    import(&other, &dir, &["--allow-non-test-target", "--yes"]).ok();
    assert_ne!(other.fingerprint(), before);
    // A custom pattern; one that matches every name (an unset variable's "") is refused.
    let named = cluster().create_db("qa_copy", Some(&templates().empty), "");
    let before = named.fingerprint();
    for every in ["", ".*", "|", ".+"] {
        import(&named, &dir, &["--target-pattern", every])
            .code(4)
            .stderr_has("matches any database name");
    }
    assert_eq!(named.fingerprint(), before);
    import(&named, &dir, &["--target-pattern", "^qa_"]).ok();
}

#[test]
fn guard_refuses_the_source_database_itself() {
    // A source whose name passes the name guard, so that only the second guard can stop it.
    let source = cluster().create_db("looks_like_test", Some(&templates().demo), "");
    let dir = export_to_scratch(&source, &[]);
    let before = source.fingerprint();
    import(&source, &dir, &[])
        .code(3)
        .stderr_has("the database the snapshot was exported from");
    assert_eq!(source.fingerprint(), before);
    // refresh refuses before exporting anything.
    let snap = scratch_dir("refresh").join("s");
    seedsnap(&[
        "refresh",
        "--source",
        &source.url(),
        "--target",
        &source.url(),
        "--dir",
        snap.to_str().unwrap(),
    ])
    .code(3);
    assert!(!snap.exists());
}

/// Rewrites a data file and fixes its checksum in the manifest, so only the content is wrong.
pub fn tamper(dir: &Path, file: &str, edit: impl FnOnce(String) -> String, fix_checksum: bool) {
    use sha2::Digest;
    let path = dir.join(file);
    let text = edit(std::fs::read_to_string(&path).unwrap());
    std::fs::write(&path, &text).unwrap();
    if fix_checksum {
        let mut manifest = manifest(dir);
        let digest: String = sha2::Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        for table in manifest["tables"].as_array_mut().unwrap() {
            if table["file"] == file {
                table["sha256"] = digest.clone().into();
            }
        }
        std::fs::write(
            dir.join("manifest.json"),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
    }
}

fn copy_dir(from: &Path) -> PathBuf {
    let to = scratch_dir("copy").join("snapshot");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

/// Like `tamper`, on bytes.
fn tamper_bytes(dir: &Path, file: &str, edit: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    use sha2::Digest;
    let path = dir.join(file);
    let bytes = edit(std::fs::read(&path).unwrap());
    std::fs::write(&path, &bytes).unwrap();
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    edit_manifest(dir, |m| {
        for table in m["tables"].as_array_mut().unwrap() {
            if table["file"] == file {
                table["sha256"] = digest.clone().into();
            }
        }
    });
}

fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut m = manifest(dir);
    edit(&mut m);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
}

fn replace_bytes(bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern in file");
    [&bytes[..at], to, &bytes[at + from.len()..]].concat()
}

#[test]
fn bad_snapshots_are_refused_with_file_and_line_and_change_nothing() {
    let demo = demo_db();
    let good = export_to_scratch(&demo, &["--limit", "5"]);
    let target = empty_test_db();
    let before = target.fingerprint();
    type Edit = Box<dyn Fn(&Path)>;
    fn tags(from: &'static [u8], to: &'static [u8]) -> Edit {
        Box::new(move |d| tamper_bytes(d, "app.tags.tsv", |b| replace_bytes(b, from, to)))
    }
    fn manifest_edit(edit: fn(&mut serde_json::Value)) -> Edit {
        Box::new(move |d| edit_manifest(d, edit))
    }
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "truncated file",
            Box::new(|d| {
                tamper(
                    d,
                    "public.schema_migrations.tsv",
                    |t| t[..t.len() - 3].to_string(),
                    true,
                )
            }),
            "public.schema_migrations.tsv line 6: has no newline at its end",
        ),
        (
            "extra field",
            tags(b"\ttag-1\t", b"\textra\ttag-1\t"),
            "app.tags.tsv line 2: has 5 fields, expected 4",
        ),
        (
            "missing field",
            tags(b"\ttag-1\t", b"\t"),
            "app.tags.tsv line 2: has 3 fields, expected 4",
        ),
        (
            "bad escape",
            tags(b"Tag 1\t", b"Tag \\q1\t"),
            "app.tags.tsv line 2, column \"label\": bad escape \"\\q\"",
        ),
        (
            "octal escape",
            tags(b"Tag 1\t", b"Tag \\101\t"),
            "app.tags.tsv line 2, column \"label\": bad escape \"\\1\"",
        ),
        (
            "backslash ending a field",
            tags(b"Tag 1\t", b"Tag 1\\\t"),
            "app.tags.tsv line 2, column \"label\": bad escape",
        ),
        (
            "\\N inside a value",
            tags(b"Tag 1\t", b"Tag \\N1\t"),
            "app.tags.tsv line 2, column \"label\": \\N inside a value",
        ),
        (
            "invalid UTF-8",
            tags(b"Tag 1\t", b"Tag \xff1\t"),
            "app.tags.tsv line 2, column \"label\": is not valid UTF-8",
        ),
        (
            "NUL byte",
            tags(b"Tag 1\t", b"Tag \x001\t"),
            "app.tags.tsv line 2, column \"label\": contains a NUL byte",
        ),
        (
            "CRLF line ending",
            tags(b"Tag 1\t\\N\n", b"Tag 1\t\\N\r\n"),
            "app.tags.tsv line 2: contains a raw carriage return",
        ),
        (
            "end-of-data marker",
            tags(b"\n2\t", b"\n\\.\n2\t"),
            "app.tags.tsv line 3: has 1 fields, expected 4",
        ),
        (
            "duplicate key within a file",
            tags(b"\n2\t", b"\n1\tdup\tDup\t\\N\n2\t"),
            "app.tags.tsv line 3: duplicate key (id) = (1) of app.tags, first seen at ",
        ),
        (
            "header renamed",
            tags(b"\tlabel\t", b"\tname\t"),
            "app.tags.tsv line 1: header is",
        ),
        (
            "value that does not parse",
            tags(b"\n1\t", b"\nx1\t"),
            "app.tags.tsv line 2, column \"id\": invalid input syntax for type integer",
        ),
        (
            "NULL in a NOT NULL column",
            tags(b"Tag 1\t", b"\\N\t"),
            "null value in column \"label\" of relation \"tags\" violates not-null constraint",
        ),
        (
            "row that violates a CHECK",
            Box::new(|d| {
                tamper(
                    d,
                    "app.ratings.tsv",
                    |t| {
                        let at = t.find("\t2024-").unwrap();
                        format!("{}9{}", &t[..at - 1], &t[at..])
                    },
                    true,
                )
            }),
            "violates check constraint \"ratings_score_check\"",
        ),
        (
            "row whose parent is missing",
            tags(b"\t\\N\n", b"\t299\n"),
            "violates foreign key constraint \"tags_parent_id_fkey\"",
        ),
        (
            "checksum mismatch",
            Box::new(|d| {
                tamper(
                    d,
                    "app.tags.tsv",
                    |t| t.replacen("Tag 1", "Tag 9", 1),
                    false,
                )
            }),
            "app.tags.tsv: SHA-256 is",
        ),
        (
            "missing file",
            Box::new(|d| std::fs::remove_file(d.join("app.videos.tsv")).unwrap()),
            "app.videos.tsv: cannot be read",
        ),
        (
            "empty file",
            Box::new(|d| tamper_bytes(d, "app.videos.tsv", |_| Vec::new())),
            "app.videos.tsv: is empty: it has no header line",
        ),
        (
            // A pull request can bring a link to any file of the machine: never followed,
            // its content never shown.
            "data file that is a symbolic link out of the directory",
            Box::new(|d| {
                let outside = scratch_dir("outside").join("secret.tsv");
                let original = std::fs::read(d.join("app.videos.tsv")).unwrap();
                std::fs::write(&outside, original).unwrap();
                std::fs::remove_file(d.join("app.videos.tsv")).unwrap();
                std::os::unix::fs::symlink(&outside, d.join("app.videos.tsv")).unwrap();
            }),
            "app.videos.tsv: cannot be read: it is a symbolic link",
        ),
        (
            "data file that is a link to a device",
            Box::new(|d| {
                std::fs::remove_file(d.join("app.videos.tsv")).unwrap();
                std::os::unix::fs::symlink("/dev/zero", d.join("app.videos.tsv")).unwrap();
            }),
            "app.videos.tsv: cannot be read: it is a symbolic link",
        ),
        (
            "manifest that is a symbolic link",
            Box::new(|d| {
                let outside = scratch_dir("outside").join("manifest.json");
                std::fs::copy(d.join("manifest.json"), &outside).unwrap();
                std::fs::remove_file(d.join("manifest.json")).unwrap();
                std::os::unix::fs::symlink(&outside, d.join("manifest.json")).unwrap();
            }),
            "manifest.json: it is a symbolic link",
        ),
        (
            "extra file",
            Box::new(|d| std::fs::write(d.join("public.stray.tsv"), "x\n").unwrap()),
            "public.stray.tsv: is not listed in the manifest",
        ),
        (
            "manifest with wrong counts",
            manifest_edit(|m| {
                m["tables"][0]["rows"] = 999.into();
                m["tables"][0]["sampled"] = 999.into();
                m["tables"][0]["backfilled"] = 0.into();
            }),
            "has 5 rows but the manifest says 999",
        ),
        (
            "manifest counts that do not add up",
            manifest_edit(|m| m["tables"][0]["sampled"] = 1.into()),
            "rows but 1 sampled",
        ),
        (
            "unknown format version",
            manifest_edit(|m| m["format_version"] = 99.into()),
            "has format version 99",
        ),
        (
            "manifest not JSON",
            Box::new(|d| std::fs::write(d.join("manifest.json"), "{").unwrap()),
            "is not valid JSON",
        ),
        (
            "manifest missing",
            Box::new(|d| std::fs::remove_file(d.join("manifest.json")).unwrap()),
            "manifest.json: No such file",
        ),
        (
            "file name leaving the directory",
            manifest_edit(|m| m["tables"][0]["file"] = "../../etc/passwd".into()),
            "names file \"../../etc/passwd\"",
        ),
        (
            "table listed twice",
            manifest_edit(|m| {
                let first = m["tables"][0].clone();
                m["tables"].as_array_mut().unwrap().push(first);
            }),
            "twice",
        ),
        (
            "column type edited in the manifest",
            manifest_edit(|m| m["tables"][0]["columns"][0]["type"] = "text".into()),
            "the manifest was edited",
        ),
        (
            "foreign key to a table not in the snapshot",
            manifest_edit(|m| {
                for table in m["tables"].as_array_mut().unwrap() {
                    if let Some(fk) = table["foreign_keys"]
                        .as_array_mut()
                        .and_then(|f| f.first_mut())
                    {
                        fk["references"]["name"] = "nowhere".into();
                        break;
                    }
                }
            }),
            "which is not in the snapshot",
        ),
    ];
    assert!(cases.len() >= 29);
    // Every case runs; the test then fails listing every case that went wrong.
    let mut failures = Vec::new();
    for (name, edit, message) in cases {
        let dir = copy_dir(&good);
        edit(&dir);
        let run = import(&target, &dir, &[]);
        if run.code != 4 {
            failures.push(format!("{name}: exit code {}: {}", run.code, run.stderr));
        } else if !run.stderr.contains(message) {
            failures.push(format!("{name}: expected {message:?} in\n{}", run.stderr));
        }
        if target.fingerprint() != before {
            failures.push(format!("{name} changed the target"));
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // A table renamed in the target.
    let renamed = empty_test_db();
    renamed.execute("ALTER TABLE app.videos RENAME TO clips");
    let before = renamed.fingerprint();
    import(&renamed, &good, &[])
        .code(4)
        .stderr_has("table app.videos does not exist in the target");
    assert_eq!(renamed.fingerprint(), before);
}

/// A load stops at the first value the target refuses; the error then lists every refused
/// value of every file, found in a second transaction, and the target is unchanged.
#[test]
fn every_refused_value_is_listed() {
    let demo = demo_db();
    let dir = copy_dir(&export_to_scratch(&demo, &["--limit", "5"]));
    // Columns that are not keys, which the target refuses (a key value its type refuses is
    // refused offline, before loading: see the key_values tests).
    let bad_field = |n: usize| {
        move |t: String| {
            let mut lines: Vec<String> = t.lines().map(String::from).collect();
            let mut fields: Vec<&str> = lines[1].split('\t').collect();
            let bad = format!("x{}", fields[n]);
            fields[n] = &bad;
            lines[1] = fields.join("\t");
            format!("{}\n", lines.join("\n"))
        }
    };
    // articles: content_id, word_count; users: id, email, display_name, created_at.
    tamper(&dir, "app.articles.tsv", bad_field(1), true);
    tamper(&dir, "app.users.tsv", bad_field(3), true);
    let target = empty_test_db();
    let before = target.fingerprint();
    let run = import(&target, &dir, &[])
        .code(4)
        .stderr_has("snapshot values do not load into the target's columns")
        .stderr_has("(2 problem(s))")
        .stderr_has("app.articles.tsv line 2, column \"word_count\": invalid input syntax")
        .stderr_has("app.users.tsv line 2, column \"created_at\": invalid input syntax");
    assert_eq!(target.fingerprint(), before, "{}", run.stderr);
}

#[test]
fn schema_mismatch_is_refused_with_every_problem() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--limit", "5"]);
    let target = empty_test_db();
    target.execute(
        "ALTER TABLE app.videos DROP COLUMN resolution;
         ALTER TABLE app.articles ALTER COLUMN summary TYPE integer USING NULL;
         ALTER TABLE app.tags ADD COLUMN required text NOT NULL;
         ALTER TABLE app.ratings DROP CONSTRAINT ratings_pkey;",
    );
    let before = target.fingerprint();
    let run = import(&target, &dir, &[]).code(4);
    for expected in [
        "column app.videos.resolution does not exist in the target",
        "column app.articles.summary is text in the snapshot but integer in the target",
        "column app.tags.required is NOT NULL without a default",
        // Rows matched by all their columns: a changed one would be inserted twice.
        "table app.ratings has no primary key in the target",
    ] {
        assert!(run.stderr.contains(expected), "{expected}:\n{}", run.stderr);
    }
    assert_eq!(target.fingerprint(), before);
}

#[test]
fn drift_is_detected_and_rolled_back() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--limit", "5"]);
    let target = empty_test_db();
    import(&target, &dir, &[]).ok();
    target.execute("UPDATE app.tags SET label = 'changed' WHERE id = 1");
    target.execute("DELETE FROM analytics.page_views WHERE ctid IN (SELECT ctid FROM analytics.page_views LIMIT 1)");
    let before = target.fingerprint();
    import(&target, &dir, &["--on-drift", "fail"])
        .code(5)
        .stderr_has("drift")
        .stderr_has("app.tags (1 rows)")
        // The row itself, with the column that differs, as the default mode lists it.
        .stderr_has("app.tags (id)=(1): label");
    let run = import(&target, &dir, &["--on-drift", "fail", "--json"]).code(5);
    let error: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problems = error["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{}", run.stdout);
    assert_eq!(problems[0]["kind"], "drift");
    assert_eq!(problems[0]["table"], "app.tags");
    assert_eq!(problems[0]["message"], "app.tags (id)=(1): label");
    assert_eq!(
        target.fingerprint(),
        before,
        "a failed import must change nothing"
    );
    let report = json(&import(&target, &dir, &["--allow-drift", "--json"]).ok());
    // The deleted keyless row came back; the drifted row kept the target's content.
    assert_eq!(total(&report, "inserted"), 1);
    assert_eq!(total(&report, "drifted"), 1);
    assert_eq!(
        target.query_i64("SELECT count(*) FROM app.tags WHERE label = 'changed'"),
        1
    );
}

#[test]
fn sequences_advance_and_never_go_back() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &[]);
    let target = empty_test_db();
    target.execute("SELECT setval('app.flagged_content_id_seq', 100000)");
    import(&target, &dir, &[]).ok();
    let max_user = target.query_i64("SELECT max(id) FROM app.users");
    // The application's next insert works.
    let next = target.query_i64(
        "INSERT INTO app.users (email, display_name, created_at) VALUES ('new@x', 'n', now()) RETURNING id",
    );
    assert!(next > max_user);
    assert_eq!(
        target.query_i64("SELECT last_value FROM app.flagged_content_id_seq"),
        100000
    );
}

#[test]
fn dry_run_writes_nothing() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &[]);
    let target = empty_test_db();
    let before = target.fingerprint();
    let report = json(&import(&target, &dir, &["--dry-run", "--json"]).ok());
    assert!(total(&report, "inserted") > 0);
    assert!(!report["committed"].as_bool().unwrap());
    assert_eq!(target.fingerprint(), before);
}

#[test]
fn truncate_first_writes_a_backup_that_restores() {
    let demo = demo_db();
    let small = export_to_scratch(&demo, &["--limit", "3"]);
    let big = export_to_scratch(&demo, &["--limit", "20"]);
    let target = empty_test_db();
    import(&target, &big, &[]).ok();
    target.execute("UPDATE app.tags SET label = 'local edit' WHERE id = 1");
    let before = target.fingerprint();
    // A directory the import makes (it never writes a .gitignore into an existing one).
    let backups = scratch_dir("backups").join("made");
    let run = import(
        &target,
        &small,
        &[
            "--truncate-first",
            "--allow-drift",
            "--json",
            "--backup-dir",
            backups.to_str().unwrap(),
        ],
    )
    .ok();
    let report = json(&run);
    let backup = report["backup"].as_str().unwrap().to_string();
    assert!(backup.starts_with(backups.to_str().unwrap()));
    // How many rows were emptied is said, and kept in the report; the backups stay out of git.
    let held = report["rows_emptied"].as_u64().unwrap();
    assert_eq!(
        held,
        manifest(Path::new(&backup))["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["rows"].as_u64().unwrap())
            .sum::<u64>()
    );
    assert!(held > 0);
    assert!(run
        .stderr
        .contains(&format!("tables holding {held} rows (--truncate-first)")));
    assert_eq!(
        std::fs::read_to_string(backups.join(".gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );
    // A dry run counts what it would empty, and backs nothing up.
    let dry = import(
        &target,
        &small,
        &[
            "--truncate-first",
            "--dry-run",
            "--json",
            "--backup-dir",
            scratch_dir("no-backups").to_str().unwrap(),
        ],
    )
    .ok();
    assert!(dry.stderr.contains("would empty"), "{}", dry.stderr);
    assert!(json(&dry)["backup"].is_null());
    assert!(json(&dry)["rows_emptied"].as_u64().unwrap() > 0);
    assert_eq!(
        target.query_i64("SELECT count(*) FROM app.tags WHERE label = 'local edit'"),
        0
    );
    // Restore: truncate again (backing up the small state), load the backup.
    import(
        &target,
        Path::new(&backup),
        &[
            "--truncate-first",
            "--backup-dir",
            backups.to_str().unwrap(),
        ],
    )
    .ok();
    // Content is back; sequences only ever move forward, so compare tables only.
    let tables_only = |f: String| -> String {
        f.lines()
            .filter(|l| !l.contains("_seq "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(tables_only(target.fingerprint()), tables_only(before));
}

#[test]
fn cycles_of_every_kind_load() {
    let sql = "
        CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL);
        CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a (id));
        ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id);
        CREATE TABLE p (id int PRIMARY KEY, q_id int);
        CREATE TABLE q (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p (id));
        ALTER TABLE p ADD FOREIGN KEY (q_id) REFERENCES q (id);
        CREATE TABLE d1 (id int PRIMARY KEY, d2_id int NOT NULL);
        CREATE TABLE d2 (id int PRIMARY KEY, d1_id int NOT NULL REFERENCES d1 (id));
        ALTER TABLE d1 ADD FOREIGN KEY (d2_id) REFERENCES d2 (id) DEFERRABLE;
        CREATE TABLE s (id int PRIMARY KEY, s_id int NOT NULL REFERENCES s (id));";
    let data = "
        WITH x AS (INSERT INTO a VALUES (1, 1), (2, 2)) INSERT INTO b VALUES (1, 2), (2, 1);
        INSERT INTO p VALUES (1, NULL), (2, NULL); INSERT INTO q VALUES (1, 1), (2, 2);
        UPDATE p SET q_id = 3 - id;
        BEGIN; SET CONSTRAINTS ALL DEFERRED;
        INSERT INTO d1 VALUES (1, 1); INSERT INTO d2 VALUES (1, 1); COMMIT;
        INSERT INTO s VALUES (1, 3), (2, 1), (3, 2);";
    let source = cluster().create_db("cycles", None, &format!("{sql}{data}"));
    let plan = seedsnap(&["plan", "-q", "--source", &source.url()]).ok();
    assert!(
        plan.stdout.contains("load together in one statement"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("NULL and set afterwards"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("deferred to commit"));
    let dir = export_to_scratch(&source, &["--limit", "1"]);
    let target = cluster().create_db("cycles_test", None, sql);
    import(&target, &dir, &[]).ok();
    assert_eq!(source.fingerprint(), target.fingerprint());
    // And again: nothing new.
    let second = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(total(&second, "inserted"), 0);
}

#[test]
fn tables_without_keys_or_with_rules_or_deferrable_keys_load_idempotently() {
    let sql = "
        CREATE TABLE nokey (a int, b text);
        CREATE TABLE defkey (id int, v text, CONSTRAINT u UNIQUE (id) DEFERRABLE);
        ALTER TABLE defkey ALTER COLUMN id SET NOT NULL;
        CREATE TABLE ruled (id int PRIMARY KEY, v text);
        CREATE TABLE ruled_log (id int);
        CREATE RULE log_it AS ON INSERT TO ruled DO ALSO INSERT INTO ruled_log VALUES (NEW.id);";
    let data = "
        INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (2, NULL);
        INSERT INTO defkey VALUES (1, 'a'), (2, 'b');
        INSERT INTO ruled VALUES (1, 'a');";
    let source = cluster().create_db("keys", None, &format!("{sql}{data}"));
    let dir = export_to_scratch(&source, &["--exclude", "public.ruled_log"]);
    let target = cluster().create_db("keys_test", None, sql);
    import(&target, &dir, &[]).ok();
    let after_first = target.fingerprint();
    assert_eq!(target.query_i64("SELECT count(*) FROM nokey"), 3);
    import(&target, &dir, &[]).ok();
    assert_eq!(target.fingerprint(), after_first);
}

#[test]
fn refresh_exports_then_imports() {
    let demo = demo_db();
    let target = empty_test_db();
    let dir = scratch_dir("refresh").join("snapshot");
    let (source_url, target_url) = (demo.url(), target.url());
    let refresh = |limit: &str| {
        seedsnap(&[
            "refresh",
            "-q",
            "--source",
            &source_url,
            "--target",
            &target_url,
            "--dir",
            dir.to_str().unwrap(),
            "--limit",
            limit,
        ])
    };
    let run = refresh("7").ok();
    assert!(run.stdout.contains("imported"), "{}", run.stdout);
    assert!(target.query_i64("SELECT count(*) FROM app.users") >= 7);
    // Each database is named, with whether its session is encrypted, once.
    for side in ["source database", "target database"] {
        assert_eq!(run.stderr.matches(side).count(), 1, "{}", run.stderr);
    }
    // An import that fails after the export says the snapshot was replaced all the same.
    target.execute("ALTER TABLE app.users DROP COLUMN avatar");
    refresh("8")
        .code(4)
        .stderr_has("the export did replace the snapshot in")
        .stderr_has("then the import into");
}

#[test]
fn unreachable_server_is_a_connection_error() {
    let dir = scratch_dir("unreach");
    seedsnap(&[
        "export",
        "--source",
        "host=/nonexistent-socket-dir port=1 user=x dbname=y",
        "--dir",
        dir.join("s").to_str().unwrap(),
    ])
    .code(6)
    .stderr_has("cannot connect to the source database /nonexistent-socket-dir:1/y as x");
}

#[test]
fn a_damaged_snapshot_is_reported_before_an_unreachable_target() {
    // The files are checked while the import connects; a damaged file is still the error.
    let demo = demo_db();
    let dir = copy_dir(&export_to_scratch(&demo, &["--limit", "3"]));
    tamper_bytes(&dir, "app.tags.tsv", |bytes| {
        replace_bytes(bytes, b"\t", b"\t\\q")
    });
    let run = seedsnap(&[
        "import",
        "--target",
        "host=/nonexistent-socket-dir port=1 user=x dbname=y_test",
        "--dir",
        dir.to_str().unwrap(),
    ])
    .code(4);
    assert!(
        run.stderr.contains("app.tags.tsv") && !run.stderr.contains("cannot connect"),
        "{}",
        run.stderr
    );
}

#[test]
fn passwords_never_appear_in_output() {
    let demo = demo_db();
    let dir = scratch_dir("pw").join("s");
    // trust authentication ignores the password, so the run succeeds and we can check output.
    let url = format!("{} password=sup3rsecret", demo.url());
    let run = seedsnap(&[
        "export",
        "--source",
        &url,
        "--dir",
        dir.to_str().unwrap(),
        "--json",
    ])
    .ok();
    assert!(!run.stdout.contains("sup3rsecret") && !run.stderr.contains("sup3rsecret"));
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(!manifest.contains("sup3rsecret"));
    let run = seedsnap_env(
        &[
            "export",
            "--source",
            "host=/nonexistent port=1 user=x dbname=y",
            "--dir",
            "/tmp/x",
        ],
        &[("PGPASSWORD", "sup3rsecret")],
    );
    assert!(!run.stderr.contains("sup3rsecret"));
}

#[test]
fn verify_reports_unresolved_foreign_keys_with_file_and_line() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--limit", "5"]);
    // Drop the first user from the snapshot (checksum and counts fixed up): rows that reference
    // it no longer resolve.
    let users = std::fs::read_to_string(dir.join("app.users.tsv")).unwrap();
    let first_id = users
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    tamper(
        &dir,
        "app.users.tsv",
        |t| {
            let mut lines: Vec<&str> = t.lines().collect();
            lines.remove(1);
            format!("{}\n", lines.join("\n"))
        },
        true,
    );
    let mut m = manifest(&dir);
    for table in m["tables"].as_array_mut().unwrap() {
        if table["name"] == "users" {
            let rows = table["rows"].as_u64().unwrap() - 1;
            table["rows"] = rows.into();
            if table["backfilled"].as_u64().unwrap() > 0 {
                table["backfilled"] = (table["backfilled"].as_u64().unwrap() - 1).into();
            } else {
                table["sampled"] = (table["sampled"].as_u64().unwrap() - 1).into();
            }
        }
    }
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    let referencing = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path()).ok()?;
            Some(text.contains(&format!("\t{first_id}\t")))
        })
        .any(|x| x);
    assert!(referencing, "some row references user {first_id}");
    let run = seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).code(5);
    assert!(
        run.stderr.contains("do not resolve inside the snapshot"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(") has no row in app.users"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(".tsv line "), "{}", run.stderr);
}

/// Runs seedsnap under a pseudo-terminal (util-linux `script`), typing `input`.
fn seedsnap_at_terminal(args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = quote(env!("CARGO_BIN_EXE_seedsnap"));
    line.push_str(" --no-config");
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    let mut script = std::process::Command::new("script");
    let mut child = crate::controlled(&mut script, &crate::scratch_dir("home"))
        .args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    // Give the prompt a moment, then type.
    std::thread::sleep(std::time::Duration::from_millis(500));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        // Under a terminal, stderr and stdout both arrive on script's stdout.
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

#[test]
fn overriding_the_name_guard_at_a_terminal_needs_the_typed_name() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--limit", "3"]);
    let other = cluster().create_db("staging", Some(&templates().empty), "");
    let before = other.fingerprint();
    let args = import_args(&other, &dir, &["--allow-non-test-target"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    seedsnap_at_terminal(&args, "not-the-name\n")
        .code(3)
        .stderr_has("type its name");
    assert_eq!(other.fingerprint(), before);
    // --yes does not replace typing at a terminal.
    let mut with_yes = args.to_vec();
    with_yes.push("--yes");
    seedsnap_at_terminal(&with_yes, "\n").code(3);
    assert_eq!(other.fingerprint(), before);
    seedsnap_at_terminal(&args, &format!("{}\n", other.name)).ok();
    assert_ne!(other.fingerprint(), before);
}

#[test]
fn two_imports_at_once_both_succeed_without_duplicates() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--limit", "30"]);
    let target = empty_test_db();
    let reference = empty_test_db();
    import(&reference, &dir, &[]).ok();
    let spawn = || {
        seedsnap_command(&scratch_dir("home"), &import_args(&target, &dir, &[]))
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Exactly the rows of one import: no duplicates, also in the table without a key.
    let tables_only = |f: String| -> String {
        f.lines()
            .filter(|l| !l.contains("_seq "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        tables_only(target.fingerprint()),
        tables_only(reference.fingerprint())
    );
}

#[test]
fn killed_import_leaves_the_target_exactly_as_before() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--limit", "all"]);
    // The base already holds part of the data, so a run stages, classifies, inserts and
    // verifies; it is a template for a fresh target per trial.
    let base = empty_test_db();
    import(&base, &export_to_scratch(&demo, &["--limit", "5"]), &[]).ok();
    let before = base.fingerprint();
    // How long a whole import takes, to spread the kills over it.
    let probe = cluster().create_db("probe_test", Some(&base.name), "");
    let started = std::time::Instant::now();
    import(&probe, &dir, &[]).ok();
    let full = started.elapsed();
    let imported = probe.fingerprint();
    drop(probe);
    let mut kills = 0;
    let mut phases = std::collections::BTreeMap::new();
    // Kill points spread over the first 90% of a run; a run that finishes first is retried at
    // another point, until 24 kills (a slow machine only shifts where they land).
    for trial in 0..60u32 {
        if kills >= 24 {
            break;
        }
        let target = cluster().create_db("killed_test", Some(&base.name), "");
        let mut child = seedsnap_command(&scratch_dir("home"), &import_args(&target, &dir, &[]))
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64((trial % 24) as f64 / 24.0 * 0.9));
        // What the import was doing when it died.
        let doing: Option<String> = cluster()
            .connect("postgres")
            .unwrap()
            .query_opt(
                "SELECT left(query, 40) FROM pg_stat_activity
                  WHERE datname = $1 AND application_name = 'seedsnap' LIMIT 1",
                &[&target.name],
            )
            .unwrap()
            .map(|r| r.get(0));
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
            kills += 1;
            let phase = match doing.as_deref() {
                Some(q) if q.starts_with("COPY") => "copy",
                Some(q) if q.contains("INSERT") => "insert",
                Some(q) if q.starts_with("SELECT pg_catalog.count") => "verify",
                Some(_) => "other",
                None => "connecting",
            };
            *phases.entry(phase).or_insert(0) += 1;
        }
        child.wait().unwrap();
        if !finished {
            // Wait for the server to notice the dead client and roll back.
            let mut waited = 0;
            while target.query_i64(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
                target.name
            )) > 0
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
                waited += 1;
                assert!(waited < 500, "the killed import's session lingers");
            }
            // Killed after the server committed, the whole import is there; killed between the
            // sequences' advance and COMMIT (setval is not transactional, as the README says),
            // the rows are as before and a sequence may have moved forward. Anything else is a
            // torn import.
            let after = target.fingerprint();
            assert!(
                after == before || after == imported || rows_as_before_sequences_ahead(&after, &before, &imported),
                "trial {trial} killed while {doing:?} changed the target:\n{after}\nbefore:\n{before}"
            );
        }
    }
    assert!(
        kills >= 20,
        "only {kills} of 24 trials killed a running import"
    );
    eprintln!("killed imports by phase: {phases:?}");
}

/// A COPY the server refuses at its start cannot be reported by the driver (its session is
/// left unusable: the error read "lost the connection"), so the tables loaded straight by
/// COPY are asked first: row-level security that applies to the role, no INSERT privilege
/// (on the table, or on a column the snapshot fills),
/// a read-only default. Each is explained, naming the table, and nothing changes.
#[test]
fn copies_the_target_would_refuse_are_explained_not_lost_connections() {
    const SCHEMA: &str = "CREATE TABLE notes (id int PRIMARY KEY, body text);";
    let source = cluster().create_db(
        "notes",
        None,
        &format!("{SCHEMA} INSERT INTO notes VALUES (1, 'a');"),
    );
    let dir = export_to_scratch(&source, &[]);
    let role = cluster().unique_name("copy_loader");
    let target = cluster().create_db("copy_refused_test", None, SCHEMA);
    target.execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{name}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE ON notes TO {role};
         ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
         CREATE POLICY everything ON notes USING (true) WITH CHECK (true);",
        name = target.name
    ));
    let import_as_role = || import_as(&target, &role, &dir, &["--json"]);
    let before = target.fingerprint();
    for (setup, expected) in [
        ("", "public.notes: row-level security applies to the role"),
        (
            "ALTER TABLE notes DISABLE ROW LEVEL SECURITY; REVOKE INSERT ON notes FROM {role};",
            "public.notes: permission denied: the role may not INSERT into it",
        ),
        (
            "GRANT INSERT (id) ON notes TO {role};",
            "public.notes: permission denied for column(s) \\\"body\\\"",
        ),
        (
            "GRANT INSERT ON notes TO {role}; ALTER ROLE {role} SET default_transaction_read_only = on;",
            "the target's transactions are read-only",
        ),
    ] {
        target.execute(&setup.replace("{role}", &role));
        let refused = import_as_role();
        assert_eq!(refused.code, 1, "{expected}: {}", refused.stderr);
        assert!(
            refused.stdout.contains(expected),
            "{expected}: {}",
            refused.stdout
        );
        assert_eq!(target.fingerprint(), before, "{expected}: the target changed");
    }
    target.execute(&format!(
        "ALTER ROLE {role} RESET default_transaction_read_only"
    ));
    let loaded = import_as_role();
    assert_eq!(loaded.code, 0, "{}", loaded.stderr);
    assert_eq!(target.query_i64("SELECT count(*) FROM notes"), 1);
}

/// A target session that starts in replica mode (a database or role default) would load
/// every row with the foreign-key triggers off: refused before anything is written. A table
/// whose row-level security would hide rows from the import's checks stops it, with advice,
/// instead of being half-seen.
#[test]
fn replica_mode_and_row_security_on_the_target_are_refused_not_worked_around() {
    const SCHEMA: &str = "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);";
    let source = cluster().create_db(
        "guarded",
        None,
        &format!("{SCHEMA} INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1);"),
    );
    let dir = export_to_scratch(&source, &[]);

    let replica = cluster().create_db("replica_test", None, SCHEMA);
    replica.execute(&format!(
        "ALTER DATABASE \"{}\" SET session_replication_role = replica",
        replica.name
    ));
    let before = replica.fingerprint();
    import(&replica, &dir, &[])
        .code(4)
        .stderr_has("starts with session_replication_role = replica");
    assert_eq!(
        replica.fingerprint(),
        before,
        "replica mode: the target changed"
    );

    let role = cluster().unique_name("rls_loader");
    let guarded = cluster().create_db("rls_test", None, SCHEMA);
    guarded.execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{name}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         ALTER TABLE parent OWNER TO {role};
         ALTER TABLE child OWNER TO {role};
         ALTER TABLE child ENABLE ROW LEVEL SECURITY;
         ALTER TABLE child FORCE ROW LEVEL SECURITY;
         CREATE POLICY only_odd ON child USING (id % 2 = 1);
         INSERT INTO parent VALUES (2); INSERT INTO child VALUES (2, 2);",
        name = guarded.name
    ));
    let before = guarded.fingerprint();
    let url = guarded
        .url()
        .replace("user=seedsnap", &format!("user={role}"));
    // By INSERT (as through a remote link), which row security would not stop by itself.
    let refused = seedsnap(&[
        "import",
        "--load-via",
        "insert",
        "--target",
        &url,
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("row-level security") && refused.stderr.contains("BYPASSRLS"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        guarded.fingerprint(),
        before,
        "row security: the target changed"
    );
    guarded.execute(&format!(
        "DROP POLICY only_odd ON child;
         ALTER TABLE parent OWNER TO seedsnap; ALTER TABLE child OWNER TO seedsnap;
         REVOKE ALL ON DATABASE \"{name}\" FROM {role}; REVOKE ALL ON SCHEMA public FROM {role};
         DROP ROLE {role};",
        name = guarded.name
    ));
}

/// A key value that only an inheritance child of the parent holds does not satisfy a foreign
/// key (PostgreSQL checks `ONLY` the parent): the fast path's own check says so too.
#[test]
fn a_key_held_only_by_an_inheritance_child_is_an_orphan() {
    const SCHEMA: &str = "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE parent_sub () INHERITS (parent);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);";
    let source = cluster().create_db(
        "inherited",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent VALUES (1); INSERT INTO parent_sub VALUES (9);
             INSERT INTO child VALUES (1, 1);"
        ),
    );
    let dir = export_to_scratch(&source, &[]);
    let bad = copy_dir(&dir);
    tamper_bytes(&bad, "public.child.tsv", |b| {
        replace_bytes(b, b"1\t1\n", b"1\t9\n")
    });
    let target = cluster().create_db("inherited_test", None, SCHEMA);
    let before = target.fingerprint();
    let failed = import(&target, &bad, &["--json"]).code(4);
    assert!(
        failed.stdout.contains("child_parent_id_fkey")
            && failed.stdout.contains("have no row in public.parent"),
        "{}",
        failed.stdout
    );
    assert_eq!(target.fingerprint(), before, "the target changed");
}

/// A foreign key between text columns of different collations: the fast path's own checks
/// compare under the referenced column's collation, as PostgreSQL's check does (they failed
/// with "could not determine which collation to use"), and still catch an orphan.
#[test]
fn keys_between_columns_of_different_collations_are_checked_like_the_server_does() {
    const SCHEMA: &str = "CREATE TABLE parent (code text COLLATE \"C\" PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, code text COLLATE \"POSIX\" REFERENCES parent);
         CREATE TABLE other (id int PRIMARY KEY, code text COLLATE \"POSIX\" REFERENCES parent);";
    let source = cluster().create_db(
        "collated",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent VALUES ('a'), ('b');
             INSERT INTO child VALUES (1, 'a'), (2, 'b'); INSERT INTO other VALUES (1, 'b');"
        ),
    );
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db("collated_test", None, SCHEMA);
    let run = import(&target, &dir, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["batched_key_checks"], true, "{}", run.stdout);
    assert_eq!(target.query_i64("SELECT count(*) FROM child"), 2);

    let bad = copy_dir(&dir);
    tamper_bytes(&bad, "public.child.tsv", |b| {
        replace_bytes(b, b"2\tb\n", b"2\tz\n")
    });
    let empty = cluster().create_db("collated_bad_test", None, SCHEMA);
    let before = empty.fingerprint();
    import(&empty, &bad, &[])
        .code(4)
        .stderr_has("child_code_fkey");
    assert_eq!(empty.fingerprint(), before, "the orphan changed the target");
}

/// The fast path counts the orphans of the keys that share a parent with one statement: an
/// orphan is still blamed on its own key (and only on it), with its file and line, whichever
/// of several keys to the same parent it breaks, two-column keys included.
#[test]
fn keys_checked_together_still_name_the_one_that_is_broken() {
    const SCHEMA: &str = "CREATE TABLE parent (id int PRIMARY KEY, k int, UNIQUE (id, k));
         CREATE TABLE a (id int PRIMARY KEY, p int REFERENCES parent, q int REFERENCES parent);
         CREATE TABLE b (id int PRIMARY KEY, p int REFERENCES parent, pk int,
                         FOREIGN KEY (p, pk) REFERENCES parent (id, k));
         CREATE TABLE c (id int PRIMARY KEY, p int, pk int,
                         FOREIGN KEY (p, pk) REFERENCES parent (id, k));";
    let source = cluster().create_db(
        "grouped",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent VALUES (1, 10), (2, 20), (3, 30);
             INSERT INTO a VALUES (1, 1, 2), (2, 3, NULL);
             INSERT INTO b VALUES (1, 2, 20), (2, 3, 30);
             INSERT INTO c VALUES (1, 1, 10), (2, 2, 20);"
        ),
    );
    let dir = export_to_scratch(&source, &[]);
    let clean = cluster().create_db("grouped_test", None, SCHEMA);
    let run = import(&clean, &dir, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["batched_key_checks"], true, "{}", run.stdout);

    for (file, line, from, to, broken, intact) in [
        (
            "public.a.tsv",
            2,
            &b"1\t1\t2\n"[..],
            &b"1\t1\t9\n"[..],
            "a_q_fkey",
            "a_p_fkey",
        ),
        (
            "public.a.tsv",
            3,
            &b"2\t3\t\\N\n"[..],
            &b"2\t7\t\\N\n"[..],
            "a_p_fkey",
            "a_q_fkey",
        ),
        (
            "public.b.tsv",
            3,
            &b"2\t3\t30\n"[..],
            &b"2\t3\t31\n"[..],
            "b_p_pk_fkey",
            "b_p_fkey",
        ),
        // Two two-column keys to the same parent columns, counted by one statement.
        (
            "public.c.tsv",
            3,
            &b"2\t2\t20\n"[..],
            &b"2\t2\t21\n"[..],
            "c_p_pk_fkey",
            "b_p_pk_fkey",
        ),
    ] {
        let bad = copy_dir(&dir);
        tamper_bytes(&bad, file, |b| replace_bytes(b, from, to));
        let target = cluster().create_db("grouped_bad_test", None, SCHEMA);
        let before = target.fingerprint();
        let failed = import(&target, &bad, &[]).code(4).stderr_has(broken);
        assert!(
            !failed.stderr.contains(intact),
            "{intact} is intact but blamed: {}",
            failed.stderr
        );
        assert!(
            failed.stderr.contains(&format!("{file} line {line}")),
            "{}",
            failed.stderr
        );
        assert_eq!(target.fingerprint(), before, "{broken}: the target changed");
    }
}

/// A foreign key from a snapshot table to a target table the snapshot does not carry (the
/// source has no such key; or `--skip-missing` left the table out) holds after the import as
/// PostgreSQL's trigger would have kept it, on every path: the superuser's fast path counts its
/// orphans against the target's table (it committed them, the key never checked, also after
/// `--truncate-first`), a table owner's re-added key and the per-row triggers refuse them too.
/// The error names the key, the file, the line and the values; the target is unchanged.
#[test]
fn a_key_to_a_table_outside_the_snapshot_still_holds_on_every_path() {
    let source = cluster().create_db(
        "outside",
        None,
        "CREATE TABLE orders (id int PRIMARY KEY, status_id int);
         INSERT INTO orders SELECT i, 1 + i % 2 FROM generate_series(1, 300) i;",
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    const TARGET: &str = "CREATE TABLE statuses (id int PRIMARY KEY);
         CREATE TABLE orders (id int PRIMARY KEY, status_id int REFERENCES statuses);";
    let broken = "public.orders violates foreign key constraint \"orders_status_id_fkey\"";
    // The first row (id 1) is on line 2, under the header.
    let located = "public.orders.tsv line 2: (status_id)=(2)";

    // Superuser, empty tables: the fast path.
    let target = cluster().create_db("outside_test", None, TARGET);
    let before = target.fingerprint();
    let failed = import(&target, &dir, &[]).code(4).stderr_has(broken);
    assert!(failed.stderr.contains(located), "{}", failed.stderr);
    assert_eq!(target.fingerprint(), before, "orphans committed");
    // --truncate-first empties a table that held rows: the fast path again.
    target.execute("INSERT INTO statuses VALUES (1); INSERT INTO orders VALUES (1000, 1);");
    let before = target.fingerprint();
    let backups = scratch_dir("outside_backups");
    let truncating = [
        "--truncate-first",
        "--backup-dir",
        backups.to_str().unwrap(),
    ];
    import(&target, &dir, &truncating)
        .code(4)
        .stderr_has(broken);
    assert_eq!(
        target.fingerprint(),
        before,
        "--truncate-first: orphans committed"
    );
    // The per-row triggers (--fire-triggers keeps them) refuse the same rows.
    import(&target, &dir, &["--fire-triggers"])
        .code(4)
        .stderr_has("orders_status_id_fkey")
        .stderr_has("public.orders.tsv line 2");
    assert_eq!(target.fingerprint(), before, "per row: orphans committed");
    // With the parents there, the fast path loads every row and the key stays valid.
    let complete = cluster().create_db("outside_ok_test", None, TARGET);
    complete.execute("INSERT INTO statuses VALUES (1), (2);");
    let run = import(&complete, &dir, &["--json"]).ok();
    assert_eq!(json(&run)["key_checks"], "batched", "{}", run.stdout);
    assert_eq!(complete.query_i64("SELECT count(*) FROM orders"), 300);
    // While another session writes the parents, the fast path (which locks them SHARE to
    // keep the rows it counted) gives way at once to the per-row triggers.
    let busy = cluster().create_db("outside_busy_test", None, TARGET);
    busy.execute("INSERT INTO statuses VALUES (1), (2);");
    let mut writer = busy.client();
    writer
        .batch_execute("BEGIN; INSERT INTO statuses VALUES (3);")
        .unwrap();
    let run = import(&busy, &dir, &["--json"]).ok();
    assert_eq!(json(&run)["key_checks"], "per_row", "{}", run.stdout);
    writer.batch_execute("ROLLBACK").unwrap();
    assert_eq!(busy.query_i64("SELECT count(*) FROM orders"), 300);

    // A table owner that may not switch triggers off drops the key and adds it back (300
    // checked values for one key): the validation refuses the orphans, named the same way
    // (seedsnap's counts find them).
    let role = cluster().unique_name("outside_owner");
    let owned = cluster().create_db("outside_owner_test", None, TARGET);
    owned.execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{name}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         ALTER TABLE statuses OWNER TO {role};
         ALTER TABLE orders OWNER TO {role};",
        name = owned.name
    ));
    let as_owner = |dir: &std::path::Path| import_as(&owned, &role, dir, &["--json"]);
    let before = owned.fingerprint();
    let failed = as_owner(&dir).code(4);
    assert!(
        failed.stdout.contains("orders_status_id_fkey")
            && failed.stdout.contains("have no row in public.statuses")
            && failed.stdout.contains(located),
        "{}",
        failed.stdout
    );
    assert_eq!(owned.fingerprint(), before, "re-added: orphans committed");
    owned.execute("INSERT INTO statuses VALUES (1), (2);");
    let run = as_owner(&dir).ok();
    assert_eq!(json(&run)["key_checks"], "re_added", "{}", run.stdout);
    assert_eq!(owned.query_i64("SELECT count(*) FROM orders"), 300);
    owned.execute(&format!(
        "ALTER TABLE orders OWNER TO seedsnap; ALTER TABLE statuses OWNER TO seedsnap;
         REVOKE ALL ON DATABASE \"{name}\" FROM {role};
         REVOKE ALL ON SCHEMA public FROM {role}; DROP ROLE {role};",
        name = owned.name
    ));

    // --skip-missing public.p leaves p's rows out of a snapshot that has them; the target's
    // p, empty, has none of c's parents.
    const BOTH: &str = "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p);";
    let source = cluster().create_db(
        "skipped_parent",
        None,
        &format!("{BOTH} INSERT INTO p VALUES (1), (2); INSERT INTO c VALUES (1, 1), (2, 2);"),
    );
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db("skipped_parent_test", None, BOTH);
    let before = target.fingerprint();
    import(&target, &dir, &["--skip-missing", "public.p"])
        .code(4)
        .stderr_has("public.c violates foreign key constraint \"c_pid_fkey\"")
        .stderr_has("public.c.tsv line 2: (pid)=(1)");
    assert_eq!(
        target.fingerprint(),
        before,
        "--skip-missing: orphans committed"
    );
    target.execute("INSERT INTO p VALUES (1), (2);");
    let run = import(&target, &dir, &["--json", "--skip-missing", "public.p"]).ok();
    assert_eq!(json(&run)["key_checks"], "batched", "{}", run.stdout);
    assert_eq!(target.query_i64("SELECT count(*) FROM c"), 2);
}

/// A trigger enabled REPLICA fires exactly when the fast path loads (in replica mode): it is
/// held off like the others, so the target gets exactly the snapshot's rows and nothing in
/// other tables, and it comes back enabled REPLICA.
#[test]
fn replica_triggers_are_held_off_on_the_fast_path_and_restored() {
    let source = cluster().create_db(
        "replica_trigger",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'x'), (2, 'y');",
    );
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db(
        "replica_trigger_test",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         CREATE TABLE audit (id serial PRIMARY KEY, msg text);
         CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO public.audit (msg) VALUES ('saw ' || new.id);
                 new.v := upper(new.v); RETURN new; END $$;
         CREATE TRIGGER rt BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();
         ALTER TABLE t ENABLE REPLICA TRIGGER rt;
         CREATE TRIGGER ordinary BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();",
    );
    let text = |sql: &str| -> String { target.client().query_one(sql, &[]).unwrap().get(0) };
    let run = import(&target, &dir, &["--json"]).ok();
    let report = json(&run);
    assert_eq!(report["key_checks"], "batched", "{}", run.stdout);
    assert_eq!(
        text("SELECT string_agg(id || v, ',' ORDER BY id) FROM t"),
        "1x,2y",
        "a replica trigger rewrote the rows"
    );
    assert_eq!(target.query_i64("SELECT count(*) FROM audit"), 0);
    let replica: Vec<&serde_json::Value> = report["triggers_held_off"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["replica"] == true)
        .collect();
    assert_eq!(replica.len(), 1, "{}", run.stdout);
    assert_eq!(replica[0]["trigger"], "rt");
    assert_eq!(
        text(
            "SELECT string_agg(tgname || ' ' || tgenabled::text, ',' ORDER BY tgname)
               FROM pg_trigger WHERE tgrelid = 't'::regclass"
        ),
        "ordinary O,rt R"
    );
}

#[test]
fn orphans_sharing_a_value_are_named_once_each_with_their_own_line() {
    const SCHEMA: &str = "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent);";
    let source = cluster().create_db(
        "shared_orphans",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent VALUES (1), (2), (3);
             INSERT INTO child VALUES (1, 1), (2, 1), (3, 2), (4, 3);"
        ),
    );
    let dir = export_to_scratch(&source, &[]);
    let bad = copy_dir(&dir);
    // Lines 2 and 3 point at 9, line 5 at 8: three orphans, two values.
    tamper_bytes(&bad, "public.child.tsv", |b| {
        let b = replace_bytes(b, b"\t1\n", b"\t9\n");
        let b = replace_bytes(b, b"\t1\n", b"\t9\n");
        replace_bytes(b, b"4\t3\n", b"4\t8\n")
    });
    let target = cluster().create_db("shared_orphans_test", None, SCHEMA);
    let before = target.fingerprint();
    let failed = import(&target, &bad, &[])
        .code(4)
        .stderr_has("child_p_fkey");
    let named: Vec<&str> = failed
        .stderr
        .match_indices("public.child.tsv line ")
        .map(|(at, _)| failed.stderr[at..].split(':').next().unwrap())
        .collect();
    assert_eq!(named.len(), 2, "one example a value: {}", failed.stderr);
    assert!(
        named.contains(&"public.child.tsv line 2") && named.contains(&"public.child.tsv line 5"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("(p)=(9)") && failed.stderr.contains("(p)=(8)"));
    assert_eq!(target.fingerprint(), before, "the target changed");
}

/// Whether a fingerprint has `before`'s table lines exactly, and each sequence line either as
/// `before` or as after a complete import (advanced, never anything else).
fn rows_as_before_sequences_ahead(after: &str, before: &str, imported: &str) -> bool {
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    let (after, before, imported) = (lines(after), lines(before), lines(imported));
    after.len() == before.len()
        && after.len() == imported.len()
        && after
            .iter()
            .zip(&before)
            .zip(&imported)
            .all(|((a, b), i)| a == b || (a == i && is_sequence_line(a)))
}

/// A sequence's fingerprint line ends in `last_value:is_called`; a table's in `count:md5`.
fn is_sequence_line(line: &str) -> bool {
    line.ends_with(":true") || line.ends_with(":false")
}

/// Which target tables are empty is read from their size on disk first: a table with no
/// block holds no row. A table whose rows were all deleted still has blocks and is read (it
/// is empty: the fast path is taken), and a partitioned table is empty only when every
/// partition is (one holding a row makes the import keep the per-row triggers).
#[test]
fn tables_with_blocks_are_read_to_tell_whether_they_are_empty() {
    const SCHEMA: &str = "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
         CREATE TABLE events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
         CREATE TABLE events_h1 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
         CREATE TABLE events_h2 PARTITION OF events FOR VALUES FROM ('2025-07-01') TO ('2026-01-01');";
    let source = cluster().create_db(
        "blocks",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (1, 1), (2, 2);
             INSERT INTO events VALUES (1, '2025-01-01'), (2, '2025-07-01');"
        ),
    );
    let dir = export_to_scratch(&source, &[]);

    // Rows inserted, then deleted: every table has blocks, and no row.
    let emptied = cluster().create_db(
        "blocks_emptied_test",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent VALUES (7); INSERT INTO child VALUES (7, 7);
             INSERT INTO events VALUES (7, '2025-08-01');
             DELETE FROM child; DELETE FROM parent; DELETE FROM events;"
        ),
    );
    assert!(emptied.query_i64("SELECT pg_relation_size('child')") > 0);
    let run = import(&emptied, &dir, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["batched_key_checks"], true, "{}", run.stdout);
    assert_eq!(emptied.query_i64("SELECT count(*) FROM child"), 2);
    assert_eq!(emptied.query_i64("SELECT count(*) FROM events"), 2);

    // One partition holds a row: the partitioned table is not empty.
    let held = cluster().create_db(
        "blocks_held_test",
        None,
        &format!("{SCHEMA} INSERT INTO events VALUES (3, '2025-02-01');"),
    );
    let run = import(&held, &dir, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["batched_key_checks"], false, "{}", run.stdout);
    assert_eq!(held.query_i64("SELECT count(*) FROM events"), 3);
    assert_eq!(held.query_i64("SELECT count(*) FROM child"), 2);
}

/// On the fast path, a key between two tables loaded from the snapshot is proved by the files
/// (every child value has its parent row in them, and the loaded tables hold exactly those
/// rows), so it is not counted again in the target: the report says how many; every key is
/// valid afterwards. Keys with 100,000 values or more to check are resolved while the rows load,
/// a superuser's smaller snapshot's before, both proved. A key whose values the files compare otherwise than the target does is
/// still counted: a `citext` key, which the files fold as a UTF-8 locale does and a target of
/// `LC_CTYPE` C does not; the orphan it has there fails the import, naming the key, with the
/// target unchanged.
#[test]
fn keys_the_snapshot_files_prove_are_not_counted_again_unless_the_target_compares_otherwise() {
    const SCHEMA: &str = "CREATE TABLE parent (id numeric(8,2) PRIMARY KEY, code text UNIQUE);
         CREATE TABLE child (id int PRIMARY KEY, parent_id numeric(8,2) REFERENCES parent,
                             code text REFERENCES parent (code));";
    // 50,000 children with two keys each: 100,000 values to check.
    let source = cluster().create_db(
        "proved",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent SELECT i + 0.25, 'p' || i FROM generate_series(1, 1000) i;
             INSERT INTO child SELECT i, CASE WHEN i % 5 <> 0 THEN 1 + i % 1000 + 0.25 END,
                                      CASE WHEN i % 7 <> 0 THEN 'p' || (1 + i % 1000) END
               FROM generate_series(1, 50000) i;"
        ),
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let target = cluster().create_db("proved_test", None, SCHEMA);
    let run = import(&target, &dir, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["key_checks"], "batched", "{}", run.stdout);
    assert_eq!(report["foreign_keys_proved_by_files"], 2, "{}", run.stdout);
    assert_eq!(target.query_i64("SELECT count(*) FROM child"), 50_000);
    assert_eq!(
        target.query_i64(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'child'::regclass
                AND contype = 'f' AND convalidated"
        ),
        2
    );
    // A hundred rows a table: resolved before the load, proved too.
    let small = export_to_scratch(&source, &["--limit", "100"]);
    let target = cluster().create_db("proved_small_test", None, SCHEMA);
    let run = import(&target, &small, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["key_checks"], "batched", "{}", run.stdout);
    assert_eq!(report["foreign_keys_proved_by_files"], 2, "{}", run.stdout);

    // citext folds case by the database's LC_CTYPE, and the files are compared offline as a
    // UTF-8 locale folds: 'é' finds its parent 'É' in the source (C.UTF-8) and in the files,
    // not in a target whose LC_CTYPE is C, so that key is counted there and its orphan found.
    const FOLDED: &str = "CREATE EXTENSION citext;
         CREATE TABLE parent (code citext PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, code citext REFERENCES parent);";
    let source = cluster().create_db_with(
        "proved_folded",
        " TEMPLATE template0 ENCODING 'UTF8' LC_CTYPE 'C.UTF-8' LC_COLLATE 'C.UTF-8'",
        &format!(
            "{FOLDED} INSERT INTO parent VALUES ('É'), ('a');
             INSERT INTO child VALUES (1, 'é');
             INSERT INTO child SELECT i, 'A' FROM generate_series(2, 100001) i;"
        ),
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    let target = cluster().create_db_with(
        "proved_folded_test",
        " TEMPLATE template0 ENCODING 'UTF8' LC_CTYPE 'C' LC_COLLATE 'C'",
        FOLDED,
    );
    let before = target.fingerprint();
    let failed = import(&target, &dir, &["--json"]).code(4);
    assert!(
        failed.stdout.contains("child_code_fkey") && failed.stdout.contains("é"),
        "{}",
        failed.stdout
    );
    assert_eq!(target.fingerprint(), before, "the target changed");
}

/// As a superuser the import loads with foreign-key triggers off and checks every key itself
/// (named in the report) when the tables are empty; an orphan or a duplicate in a DEFERRABLE unique key still fails the
/// import and changes nothing; every constraint and trigger stays enabled and valid; a role
/// that is not a superuser loads with the per-row triggers, unless it was granted SET on
/// `session_replication_role`, which gives it the same fast path and guarantees.
#[test]
fn a_superuser_import_checks_every_key_itself_with_the_same_guarantees() {
    const SCHEMA: &str = "CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE DEFERRABLE);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);";
    let source = cluster().create_db(
        "fp",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent VALUES (1, 'a'), (2, 'b');
             INSERT INTO child VALUES (1, 1), (2, 2);"
        ),
    );
    let dir = export_to_scratch(&source, &[]);

    let target = cluster().create_db("fp_test", None, SCHEMA);
    let run = import(&target, &dir, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["batched_key_checks"], true, "{}", run.stdout);
    // A superuser's small snapshot is resolved in its files while the catalog is read.
    assert_eq!(report["foreign_keys_proved_by_files"], 1, "{}", run.stdout);
    assert_eq!(target.query_i64("SELECT count(*) FROM child"), 2);
    // Into tables that already hold rows, the per-row triggers are cheaper than whole-table
    // checks.
    let again = import(&target, &dir, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(report["batched_key_checks"], false, "{}", again.stdout);
    assert_eq!(
        target.query_i64(
            "SELECT count(*) FROM pg_constraint
              WHERE conrelid IN ('parent'::regclass, 'child'::regclass) AND NOT convalidated"
        ),
        0
    );
    assert_eq!(
        target.query_i64(
            "SELECT count(*) FROM pg_trigger
              WHERE tgrelid IN ('parent'::regclass, 'child'::regclass) AND tgenabled <> 'O'"
        ),
        0
    );

    for (file, from, to, message) in [
        (
            "public.child.tsv",
            &b"2\t2\n"[..],
            &b"2\t9\n"[..],
            "public.child violates foreign key constraint \"child_parent_id_fkey\"",
        ),
        (
            "public.parent.tsv",
            &b"2\tb\n"[..],
            &b"2\ta\n"[..],
            "public.parent violates unique constraint \"parent_code_key\"",
        ),
    ] {
        let bad = copy_dir(&dir);
        tamper_bytes(&bad, file, |b| replace_bytes(b, from, to));
        if file == "public.parent.tsv" {
            // The manifest's unique keys make `verify` and the import's file check refuse the
            // duplicate before anything is loaded; without them (a manifest written before
            // they were recorded) the import's own check after the load finds it.
            seedsnap(&["verify", "--dir", bad.to_str().unwrap()])
                .code(4)
                .stderr_has("of the unique key parent_code_key");
            crate::unique_keys::as_written_before_unique_keys(&bad);
        }
        let empty = cluster().create_db("fp_bad_test", None, SCHEMA);
        let before = empty.fingerprint();
        import(&empty, &bad, &[]).code(4).stderr_has(message);
        assert_eq!(empty.fingerprint(), before, "{message}: the target changed");
    }

    let role = cluster().unique_name("loader");
    // A target whose tables `role` owns (after `first`, run there), and its URL as `role`.
    let owned_by_role = |name: &str, first: &str| {
        let db = cluster().create_db(name, None, SCHEMA);
        db.execute(&format!(
            "{first}
             GRANT CONNECT ON DATABASE \"{name}\" TO {role};
             GRANT USAGE ON SCHEMA public TO {role};
             ALTER TABLE parent OWNER TO {role};
             ALTER TABLE child OWNER TO {role};",
            name = db.name
        ));
        let url = db.url().replace("user=seedsnap", &format!("user={role}"));
        (db, url)
    };
    let (plain, url) = owned_by_role("fp_plain_test", &format!("CREATE ROLE {role} LOGIN;"));
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
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["batched_key_checks"], false, "{}", run.stdout);
    assert_eq!(plain.query_i64("SELECT count(*) FROM child"), 2);

    // The same owner, allowed to set session_replication_role (PostgreSQL 15+), takes the fast
    // path with the same guarantees: an orphan still fails (caught by seedsnap's own count, not
    // a trigger) and changes nothing.
    let granting = plain.query_i64("SELECT current_setting('server_version_num')::int8") >= 150000;
    let mut targets = vec![plain];
    if granting {
        let (granted, granted_url) = owned_by_role(
            "fp_granted_test",
            &format!("GRANT SET ON PARAMETER session_replication_role TO {role};"),
        );
        let orphan = copy_dir(&dir);
        tamper_bytes(&orphan, "public.child.tsv", |b| {
            replace_bytes(b, b"2\t2\n", b"2\t9\n")
        });
        let before = granted.fingerprint();
        let import_as_role = |dir: &std::path::Path| {
            seedsnap(&[
                "import",
                "-q",
                "--json",
                "--target",
                &granted_url,
                "--dir",
                dir.to_str().unwrap(),
            ])
        };
        let failed = import_as_role(&orphan).code(4);
        assert!(
            failed.stdout.contains("child_parent_id_fkey")
                && failed.stdout.contains("have no row in public.parent"),
            "{}",
            failed.stdout
        );
        assert_eq!(
            granted.fingerprint(),
            before,
            "the orphan changed the target"
        );
        let run = import_as_role(&dir).ok();
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(report["batched_key_checks"], true, "{}", run.stdout);
        // Not a superuser: a snapshot this small is not resolved in its files (that waits
        // for the fast path, and beside the load it costs more than it spares): counted.
        assert_eq!(report["foreign_keys_proved_by_files"], 0, "{}", run.stdout);
        assert_eq!(granted.query_i64("SELECT count(*) FROM child"), 2);
        granted.execute(&format!(
            "REVOKE SET ON PARAMETER session_replication_role FROM {role};"
        ));
        targets.push(granted);
    }
    for db in &targets {
        db.execute(&format!(
            "ALTER TABLE parent OWNER TO seedsnap; ALTER TABLE child OWNER TO seedsnap;
             REVOKE ALL ON DATABASE \"{name}\" FROM {role};
             REVOKE ALL ON SCHEMA public FROM {role};",
            name = db.name
        ));
    }
    targets[0].execute(&format!("DROP ROLE {role};"));
}

/// A table owner that may not switch the key triggers off (no superuser, no grant) loads a
/// snapshot big enough to gain by dropping the foreign keys for the load and adding them back:
/// every key comes back with its name, definition and comment, valid; rows that break a key
/// fail the import with the key, the file and the line, and change nothing (keys included);
/// a lock another session holds, or an enabled event trigger, keeps the per-row triggers.
#[test]
fn a_table_owner_drops_and_re_adds_keys_and_they_come_back_as_they_were() {
    const SCHEMA: &str = "CREATE TABLE parent (id int PRIMARY KEY,
             code text UNIQUE DEFERRABLE INITIALLY DEFERRED);
         CREATE TABLE child (id int PRIMARY KEY,
             parent_id int NOT NULL,
             previous_id int REFERENCES child DEFERRABLE INITIALLY DEFERRED,
             CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent ON DELETE CASCADE);
         COMMENT ON CONSTRAINT child_parent ON child IS 'every child has a parent';";
    // 300 children over 200 parents, each child after the one before it: 600 checked values
    // for two keys.
    let source = cluster().create_db(
        "readd",
        None,
        &format!(
            "{SCHEMA} INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 200) i;
             INSERT INTO child SELECT i, 1 + i % 200, nullif(i - 1, 0) FROM generate_series(1, 300) i;"
        ),
    );
    let dir = export_to_scratch(&source, &["--limit", "300"]);
    let role = cluster().unique_name("owner");
    // Each key: its table, name, definition, comment, validity, referenced index, and the
    // states of its internal triggers.
    let keys_sql = "SELECT string_agg(format('%s %s %s %s %s %s %s', conrelid::regclass, conname,
                        pg_get_constraintdef(c.oid), obj_description(c.oid, 'pg_constraint'),
                        convalidated, conindid::regclass,
                        (SELECT string_agg(tgenabled::text, '' ORDER BY tgenabled)
                           FROM pg_trigger WHERE tgconstraint = c.oid)),
                        E'\\n' ORDER BY conname)
                      FROM pg_constraint c WHERE contype = 'f'";
    let keys_of = |db: &TestDb| -> String { db.client().query_one(keys_sql, &[]).unwrap().get(0) };
    // A target whose tables `role` owns, and its URL as `role`.
    let owned_by_role = |first: &str| {
        let db = cluster().create_db("readd_test", None, SCHEMA);
        db.execute(&format!(
            "{first}
             GRANT CONNECT ON DATABASE \"{name}\" TO {role};
             GRANT USAGE ON SCHEMA public TO {role};
             ALTER TABLE parent OWNER TO {role};
             ALTER TABLE child OWNER TO {role};",
            name = db.name
        ));
        let url = db.url().replace("user=seedsnap", &format!("user={role}"));
        (db, url)
    };
    let import_as_role = |url: &str, dir: &std::path::Path| {
        seedsnap(&[
            "import",
            "-q",
            "--json",
            "--target",
            url,
            "--dir",
            dir.to_str().unwrap(),
        ])
    };
    let report_of = |run: &Run| -> serde_json::Value { serde_json::from_str(&run.stdout).unwrap() };

    let (target, url) = owned_by_role(&format!("CREATE ROLE {role} LOGIN;"));
    let keys_before = keys_of(&target);
    assert!(
        keys_before.contains("every child has a parent"),
        "{keys_before}"
    );
    let run = import_as_role(&url, &dir).ok();
    let report = report_of(&run);
    assert_eq!(report["key_checks"], "re_added", "{}", run.stdout);
    assert_eq!(report["foreign_keys_re_added"], 2, "{}", run.stdout);
    assert_eq!(target.query_i64("SELECT count(*) FROM child"), 300);
    assert_eq!(target.query_i64("SELECT count(*) FROM parent"), 200);
    assert_eq!(
        keys_of(&target),
        keys_before,
        "the keys did not come back as they were"
    );
    assert_eq!(
        target.query_i64(
            "SELECT count(*) FROM pg_trigger
              WHERE tgrelid IN ('parent'::regclass, 'child'::regclass) AND tgenabled <> 'O'"
        ),
        0
    );

    // An orphan: the import fails as the trigger would have, naming the key, the file and the
    // line, and the target keeps its rows (none) and its keys.
    let orphan = copy_dir(&dir);
    tamper_bytes(&orphan, "public.child.tsv", |b| {
        replace_bytes(b, b"\n150\t151\t149\n", b"\n150\t999\t149\n")
    });
    let (fresh, fresh_url) = owned_by_role("");
    let before = fresh.fingerprint();
    let failed = import_as_role(&fresh_url, &orphan).code(4);
    assert!(
        failed.stdout.contains("child_parent")
            && failed.stdout.contains("have no row in public.parent")
            && failed.stdout.contains("public.child.tsv"),
        "{}",
        failed.stdout
    );
    assert_eq!(fresh.fingerprint(), before, "the orphan changed the target");
    assert_eq!(keys_of(&fresh), keys_before, "the failed import lost a key");
    // A duplicate in a deferrable unique key: its deferred recheck runs before the keys come
    // back (ALTER TABLE would refuse a table with one pending), and fails as a violation.
    let duplicate = copy_dir(&dir);
    tamper_bytes(&duplicate, "public.parent.tsv", |b| {
        replace_bytes(b, b"\n2\tp2\n", b"\n2\tp1\n")
    });
    let failed = import_as_role(&fresh_url, &duplicate).code(4);
    assert!(
        failed.stdout.contains("parent_code_key"),
        "{}",
        failed.stdout
    );
    assert_eq!(
        fresh.fingerprint(),
        before,
        "the duplicate changed the target"
    );
    assert_eq!(keys_of(&fresh), keys_before, "the failed import lost a key");

    // Another session reading the parent: the drop would wait for it, so the import keeps the
    // per-row triggers instead, and loads the same rows.
    let mut reader = fresh.client();
    let mut open = reader.transaction().unwrap();
    open.batch_execute("SELECT count(*) FROM parent").unwrap();
    let run = import_as_role(&fresh_url, &dir).ok();
    assert_eq!(report_of(&run)["key_checks"], "per_row", "{}", run.stdout);
    open.rollback().unwrap();
    assert_eq!(fresh.query_i64("SELECT count(*) FROM child"), 300);
    assert_eq!(keys_of(&fresh), keys_before);

    // Keys that would not come back as they are keep the per-row triggers: a second unique
    // index the key could use (ADD would take the first by OID), internal triggers a
    // superuser disabled (ADD would enable them).
    for twist in [
        "CREATE UNIQUE INDEX parent_id_too ON parent (id);",
        "ALTER TABLE child DISABLE TRIGGER ALL;",
    ] {
        let (twisted, twisted_url) = owned_by_role("");
        twisted.execute(twist);
        let keys = keys_of(&twisted);
        let run = import_as_role(&twisted_url, &dir).ok();
        assert_eq!(
            report_of(&run)["key_checks"],
            "per_row",
            "{twist}: {}",
            run.stdout
        );
        assert_eq!(twisted.query_i64("SELECT count(*) FROM child"), 300);
        assert_eq!(keys_of(&twisted), keys, "{twist}");
        twisted.execute(&format!(
            "ALTER TABLE parent OWNER TO seedsnap; ALTER TABLE child OWNER TO seedsnap;
             REVOKE ALL ON DATABASE \"{name}\" FROM {role};
             REVOKE ALL ON SCHEMA public FROM {role};",
            name = twisted.name
        ));
    }

    // An enabled event trigger would fire on the DDL: per-row triggers.
    let (watched, watched_url) = owned_by_role("");
    let trigger = cluster().unique_name("ddl_watch");
    watched.execute(&format!(
        "CREATE FUNCTION {trigger}() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
         CREATE EVENT TRIGGER {trigger} ON ddl_command_end EXECUTE FUNCTION {trigger}();"
    ));
    let run = import_as_role(&watched_url, &dir).ok();
    assert_eq!(report_of(&run)["key_checks"], "per_row", "{}", run.stdout);
    assert_eq!(watched.query_i64("SELECT count(*) FROM child"), 300);

    for db in [&target, &fresh, &watched] {
        db.execute(&format!(
            "ALTER TABLE parent OWNER TO seedsnap; ALTER TABLE child OWNER TO seedsnap;
             REVOKE ALL ON DATABASE \"{name}\" FROM {role};
             REVOKE ALL ON SCHEMA public FROM {role};",
            name = db.name
        ));
    }
    watched.execute(&format!("DROP EVENT TRIGGER {trigger};"));
    target.execute(&format!("DROP ROLE {role};"));
}

/// Event triggers cannot be held off like table triggers: one that fires on the staging
/// tables' `CREATE TEMPORARY TABLE` is named on stderr and in the report before it fires (what
/// it writes is committed with the import); a disabled one, or a load with nothing to stage,
/// says nothing.
#[test]
fn event_triggers_that_see_the_staging_tables_are_named() {
    const SCHEMA: &str = "CREATE TABLE notes (id int PRIMARY KEY, body text);";
    let source = cluster().create_db(
        "ddl_watched",
        None,
        &format!("{SCHEMA} INSERT INTO notes VALUES (1, 'a'), (2, 'b');"),
    );
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db(
        "ddl_watched_test",
        None,
        &format!(
            "{SCHEMA}
             CREATE TABLE ddl_log (tag text, object text);
             CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
             DECLARE r record;
             BEGIN
               FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
                 INSERT INTO ddl_log VALUES (r.command_tag, r.object_identity);
               END LOOP;
             END $$;"
        ),
    );
    let trigger = cluster().unique_name("log_ddl");
    target.execute(&format!(
        "CREATE EVENT TRIGGER {trigger} ON ddl_command_end EXECUTE FUNCTION log_ddl()"
    ));
    // Empty: every table loads straight by COPY, nothing is staged.
    let straight = import(&target, &dir, &["--json"]).ok();
    assert!(
        !straight.stderr.contains("event trigger"),
        "{}",
        straight.stderr
    );
    assert_eq!(json(&straight)["event_triggers"], serde_json::json!([]));

    // A table that holds rows is staged: the trigger sees it, and is named.
    target.execute("DELETE FROM notes WHERE id = 2");
    let staged = import(&target, &dir, &["--json"]).ok();
    assert!(
        staged.stderr.contains(&format!(
            "warning: event trigger(s) {trigger} (ddl_command_end, public.log_ddl()) fire on the \
             import's 1 temporary staging table(s)"
        )),
        "{}",
        staged.stderr
    );
    assert_eq!(json(&staged)["event_triggers"][0]["name"], trigger.as_str());
    assert_eq!(
        target.query_i64("SELECT count(*) FROM ddl_log WHERE tag = 'CREATE TABLE'"),
        1
    );

    target.execute(&format!(
        "ALTER EVENT TRIGGER {trigger} DISABLE; DELETE FROM notes WHERE id = 2"
    ));
    let disabled = import(&target, &dir, &["--json"]).ok();
    assert!(
        !disabled.stderr.contains("event trigger"),
        "{}",
        disabled.stderr
    );

    // Holding off a user trigger is DDL too (ALTER TABLE … DISABLE TRIGGER), run under the
    // role's search_path, which the event trigger's unqualified INSERT needs.
    target.execute(&format!(
        "ALTER EVENT TRIGGER {trigger} ENABLE; DELETE FROM notes; DELETE FROM ddl_log;
         CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER stamp BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION noop();"
    ));
    let held_off = import(&target, &dir, &["--json"]).ok();
    assert!(
        held_off.stderr.contains(&format!(
            "warning: event trigger(s) {trigger} (ddl_command_end, public.log_ddl()) fire on the ALTER \
             TABLE … DISABLE/ENABLE TRIGGER that holds off 1 user trigger(s)"
        )),
        "{}",
        held_off.stderr
    );
    assert_eq!(
        json(&held_off)["event_triggers"][0]["name"],
        trigger.as_str()
    );
    assert!(target.query_i64("SELECT count(*) FROM ddl_log WHERE tag = 'ALTER TABLE'") >= 1);
    assert_eq!(target.query_i64("SELECT count(*) FROM notes"), 2);
    target.execute(&format!("DROP EVENT TRIGGER {trigger}"));
}

/// A privilege the role lacks on the staging path (its INSERT … SELECT) or for the lock is
/// explained with what the import needs, not only the server's "permission denied".
#[test]
fn missing_privileges_say_what_the_import_needs() {
    const SCHEMA: &str = "CREATE TABLE notes (id int PRIMARY KEY, body text);";
    let source = cluster().create_db(
        "privileged",
        None,
        &format!("{SCHEMA} INSERT INTO notes VALUES (1, 'a'), (2, 'b');"),
    );
    let dir = export_to_scratch(&source, &[]);
    let role = cluster().unique_name("partial_loader");
    let target = cluster().create_db("privileged_test", None, SCHEMA);
    target.execute(&format!(
        "INSERT INTO notes VALUES (1, 'a');
         CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{name}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT ON notes TO {role};",
        name = target.name
    ));
    let before = target.fingerprint();
    let refused = import_as(&target, &role, &dir, &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("IN SHARE ROW EXCLUSIVE MODE, which keeps other sessions from writing"),
        "{}",
        refused.stderr
    );
    // Allowed to lock, but not to insert the body: the table holds rows, so it is staged.
    target.execute(&format!(
        "REVOKE INSERT ON notes FROM {role}; GRANT UPDATE ON notes TO {role};
         GRANT INSERT (id) ON notes TO {role};"
    ));
    let refused = import_as(&target, &role, &dir, &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("the importing role lacks a privilege: it needs SELECT and INSERT"),
        "{}",
        refused.stderr
    );
    assert_eq!(target.fingerprint(), before, "a refused import wrote");
}
