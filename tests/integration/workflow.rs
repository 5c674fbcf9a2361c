//! Living with a committed snapshot: the demo changes, teammates re-export, people edit files.

use super::*;
use crate::cluster::Cluster;

/// A small schema with a parent, a child referencing it, and a table without a key.
const SCHEMA: &str = "
    CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE);
    CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL REFERENCES authors (id),
                        title text, body text);
    CREATE TABLE notes (a int, b text);";

const DATA: &str = "
    INSERT INTO authors VALUES (1, 'Ada', 'ada@x'), (2, 'Bob', 'bob@x'), (3, 'Cy', NULL);
    INSERT INTO posts VALUES (1, 1, 'one', 'b1'), (2, 1, 'two', 'b2'), (3, 2, 'three', NULL),
                             (4, 3, 'four', 'b4');
    INSERT INTO notes VALUES (1, 'n1'), (2, 'n2');";

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn workflow_dbs() -> (TestDb, TestDb) {
    let demo = cluster().create_db("wf_demo", None, &format!("{SCHEMA}{DATA}"));
    let target = cluster().create_db("wf_test", None, SCHEMA);
    (demo, target)
}

fn refresh(demo: &TestDb, target: &TestDb, dir: &Path, extra: &[&str]) -> Run {
    let (source, target) = (demo.url(), target.url());
    let mut args = vec![
        "refresh",
        "-q",
        "--source",
        &source,
        "--target",
        &target,
        "--dir",
        dir.to_str().unwrap(),
        "--limit",
        "all",
    ];
    args.extend_from_slice(extra);
    seedsnap(&args)
}

fn text(db: &TestDb, sql: &str) -> String {
    db.client().query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn demo_rows_updated_deleted_and_added_then_refresh_converges() {
    let (demo, target) = workflow_dbs();
    let dir = scratch_dir("wf").join("snapshot");
    refresh(&demo, &target, &dir, &[]).ok();
    // A row tests added themselves, which nothing may touch.
    target.execute("INSERT INTO authors VALUES (100, 'Mine', 'mine@x')");
    demo.execute(
        "UPDATE authors SET name = 'Ada L.' WHERE id = 1;
         UPDATE posts SET author_id = 3, title = 'moved' WHERE id = 2;
         DELETE FROM posts WHERE id = 4;
         INSERT INTO posts VALUES (5, 2, 'five', 'b5');
         UPDATE notes SET b = 'n2 changed' WHERE a = 2;",
    );
    let run = refresh(&demo, &target, &dir, &["--json"]).ok();
    let report = json(&run);
    assert_eq!(
        drifted(&report["import"]),
        vec!["public.authors 1 name", "public.posts 2 author_id,title"]
    );
    assert_eq!(report["import"]["committed"], true);
    let left = &report["left_from_previous_snapshot"];
    assert_eq!(left[0]["table"], "public.posts", "{left}");
    assert_eq!(left[0]["keys"], serde_json::json!([["4"]]));
    // Every snapshot row holds the snapshot's content; the row the demo deleted and the row
    // the tests added stay; the keyless table gained the changed row (it cannot drift).
    assert_eq!(
        text(&target, "SELECT name FROM authors WHERE id = 1"),
        "Ada L."
    );
    assert_eq!(
        target.query_i64("SELECT author_id::int8 FROM posts WHERE id = 2"),
        3
    );
    assert_eq!(
        target.query_i64("SELECT count(*) FROM posts WHERE id IN (4, 5)"),
        2
    );
    assert_eq!(
        target.query_i64("SELECT count(*) FROM authors WHERE id = 100"),
        1
    );
    assert_eq!(target.query_i64("SELECT count(*) FROM notes"), 3);
    // A third refresh with nothing changed converges to nothing to do, in text too.
    let run = refresh(&demo, &target, &dir, &[]).ok();
    assert!(!run.stdout.contains("drifted row(s)"), "{}", run.stdout);
    assert!(run.stdout.contains("imported 0 rows"), "{}", run.stdout);

    // The strict and the keep-what-is-there behaviours stay available.
    demo.execute("UPDATE authors SET name = 'Bobby' WHERE id = 2");
    let before = target.fingerprint();
    refresh(&demo, &target, &dir, &["--on-drift", "fail"])
        .code(5)
        .stderr_has("public.authors (1 rows)")
        .stderr_has("--on-drift=update");
    assert_eq!(target.fingerprint(), before);
    // The same choice from seedsnap.toml, which a flag overrides.
    let config = scratch_dir("wf-drift").join("seedsnap.toml");
    std::fs::write(&config, "[target]\non_drift = \"fail\"\n").unwrap();
    let config = config.to_str().unwrap();
    import(&target, &dir, &["--config", config]).code(5);
    import(&target, &dir, &["--config", config, "--on-drift", "keep"]).ok();
    assert_eq!(target.fingerprint(), before);
    let report = json(&import(&target, &dir, &["--on-drift", "keep", "--json"]).ok());
    assert_eq!(report["tables"][0]["drifted"], 1, "{report}");
    assert_eq!(
        text(&target, "SELECT name FROM authors WHERE id = 2"),
        "Bob"
    );
    let run = import(&target, &dir, &[]).ok();
    assert!(
        run.stdout.contains("public.authors (id)=(2): name"),
        "{}",
        run.stdout
    );
    assert_eq!(
        text(&target, "SELECT name FROM authors WHERE id = 2"),
        "Bobby"
    );
}

#[test]
fn a_teammates_reexported_snapshot_imports_after_a_pull() {
    let (demo, target) = workflow_dbs();
    let dir = export_to_scratch(&demo, &["--limit", "all"]);
    import(&target, &dir, &[]).ok();
    // The teammate's demo moved on; their re-export replaces the committed files.
    demo.execute(
        "UPDATE posts SET body = NULL, title = 'edited' WHERE id = 1;
         INSERT INTO authors VALUES (4, 'Dee', 'dee@x');",
    );
    export_into(&demo.url(), &dir, &["--limit", "all"]);
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(drifted(&report), vec!["public.posts 1 title,body"]);
    let inserted: u64 = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["inserted"].as_u64().unwrap())
        .sum();
    assert_eq!(inserted, 1);
    assert_eq!(
        target.query_i64("SELECT count(*) FROM posts WHERE id = 1 AND body IS NULL"),
        1
    );
    // Dry run of the same import: nothing left to do.
    let again = json(&import(&target, &dir, &["--json", "--dry-run"]).ok());
    assert!(drifted(&again).is_empty());
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@x",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_unchanged_reexport_from_a_new_cluster_leaves_git_clean() {
    let demo = cluster().create_db("wf_demo", None, &format!("{SCHEMA}{DATA}"));
    let repo = scratch_dir("wf-git");
    let dir = repo.join("seed");
    let export = |url: &str| export_into(url, &dir, &[]);
    export(&demo.url());
    std::fs::write(dir.join("README.md"), "Our seed data; see seedsnap.toml.\n").unwrap();
    let files = read_dir_files(&dir);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&".gitattributes") && names.contains(&".gitignore"),
        "{names:?}"
    );
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "seed"]);
    let tracked = git(&repo, &["ls-files"]);
    assert!(!tracked.contains(".seedsnap-source.json"), "{tracked}");
    assert!(!manifest(&dir)["source"]
        .as_object()
        .unwrap()
        .contains_key("system_identifier"));

    // The same data in a brand-new cluster (another system identifier), exported again.
    let other = Cluster::private(5432);
    other
        .connect("postgres")
        .unwrap()
        .batch_execute(&format!("CREATE DATABASE \"{}\"", demo.name))
        .unwrap();
    other
        .connect(&demo.name)
        .unwrap()
        .batch_execute(&format!("{SCHEMA}{DATA}"))
        .unwrap();
    let identity_before = std::fs::read(dir.join(".seedsnap-source.json")).unwrap();
    export(&other.url(&demo.name));
    assert_ne!(
        std::fs::read(dir.join(".seedsnap-source.json")).unwrap(),
        identity_before,
        "the second export did not read another cluster"
    );
    let without_identity = |files: Vec<(String, String)>| -> Vec<(String, String)> {
        files
            .into_iter()
            .filter(|(n, _)| n != ".seedsnap-source.json")
            .collect()
    };
    assert_eq!(
        without_identity(read_dir_files(&dir)),
        without_identity(files)
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");

    // The guard still knows the source on this machine: the source itself is refused.
    let same = cluster().create_db("wf_source_test", None, &format!("{SCHEMA}{DATA}"));
    let copy = export_to_scratch(&same, &[]);
    import(&same, &copy, &[])
        .code(3)
        .stderr_has("the database the snapshot was exported from");

    // A clone with core.autocrlf=true checks the data files out byte for byte.
    let clone = scratch_dir("wf-clone").join("c");
    git(
        &repo,
        &[
            "clone",
            "-q",
            "-c",
            "core.autocrlf=true",
            ".",
            clone.to_str().unwrap(),
        ],
    );
    seedsnap(&[
        "verify",
        "-q",
        "--dir",
        clone.join("seed").to_str().unwrap(),
    ])
    .ok();
    let target = cluster().create_db("wf_test", None, SCHEMA);
    import(&target, &clone.join("seed"), &[]).ok();
}

/// Appends `text` to the file at `path`.
pub fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

#[test]
fn hand_edits_are_accepted_by_seal_and_then_import() {
    let (demo, target) = workflow_dbs();
    let dir = export_to_scratch(&demo, &["--limit", "all"]);
    let posts = dir.join("public.posts.tsv");
    // Edit a value and add a row, as a pull request would.
    let edited = std::fs::read_to_string(&posts)
        .unwrap()
        .replace("1\t1\tone\tb1", "1\t1\tone (edited)\tb1");
    std::fs::write(&posts, edited).unwrap();
    append(&posts, "6\t2\thand-written\t\\N\n");
    import(&target, &dir, &[])
        .code(4)
        .stderr_has("seedsnap seal --dir");
    // The new manifest a killed seal leaves behind is named as such, and the next seal
    // removes it.
    let leftover = dir.join(".manifest.json.seal-99999");
    std::fs::write(&leftover, "{\"half\": ").unwrap();
    seedsnap(&["verify", "--dir", dir.to_str().unwrap()])
        .code(4)
        .stderr_has("is a new manifest an interrupted `seal` left behind");

    // A row whose parent is not in the snapshot, and a malformed line: refused with file and
    // line, and the manifest stays as it was.
    let manifest_before = std::fs::read(dir.join("manifest.json")).unwrap();
    append(&posts, "7\t99\torphan\t\\N\n8\t1\ttoo few fields\n");
    let run = seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).code(4);
    assert!(
        run.stderr.contains("public.posts.tsv line 8") && run.stderr.contains("expected 4"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(dir.join("manifest.json")).unwrap(),
        manifest_before
    );
    assert!(
        !leftover.exists(),
        "seal removes an interrupted seal's manifest"
    );
    let lines: Vec<String> = std::fs::read_to_string(&posts)
        .unwrap()
        .lines()
        .take(7)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&posts, lines.concat()).unwrap();
    let run = seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).code(4);
    assert!(
        run.stderr
            .contains("public.posts.tsv line 7: (author_id) = (99) has no row in public.authors"),
        "{}",
        run.stderr
    );
    // A duplicate key beside the orphan: both in one run, not one after the other.
    append(&posts, "1\t1\tduplicate\t\\N\n");
    let run = seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).code(4);
    assert!(
        run.stderr.contains("public.posts.tsv line 8")
            && run
                .stderr
                .contains("line 7: (author_id) = (99) has no row in public.authors")
            && run.stderr.contains("(2 problem(s))"),
        "{}",
        run.stderr
    );
    std::fs::write(&posts, lines.concat()).unwrap();
    assert_eq!(
        std::fs::read(dir.join("manifest.json")).unwrap(),
        manifest_before
    );

    // The last line without its newline: only that is reported (not also a row count that
    // seal itself would rewrite).
    let unterminated = lines[..6].concat();
    std::fs::write(&posts, &unterminated[..unterminated.len() - 1]).unwrap();
    let run = seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).code(4);
    assert!(
        run.stderr
            .contains("public.posts.tsv line 6: has no newline at its end")
            && run.stderr.contains("(1 problem(s))"),
        "{}",
        run.stderr
    );

    // Without the orphan, the edit is sealed and imports.
    let lines: Vec<String> = lines.into_iter().take(6).collect();
    std::fs::write(&posts, lines.concat()).unwrap();
    let run = seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).ok();
    assert!(
        run.stdout.contains("public.posts.tsv: 5 rows (was 4)"),
        "{}",
        run.stdout
    );
    let entry = manifest(&dir)["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "posts")
        .cloned()
        .unwrap();
    assert_eq!(
        (entry["rows"].as_u64(), entry["sampled"].as_u64()),
        (Some(5), Some(5))
    );
    seedsnap(&["verify", "-q", "--dir", dir.to_str().unwrap()]).ok();
    import(&target, &dir, &[]).ok();
    assert_eq!(
        text(&target, "SELECT title FROM posts WHERE id = 1"),
        "one (edited)"
    );
    assert_eq!(
        target.query_i64("SELECT count(*) FROM posts WHERE id = 6"),
        1
    );
    // Sealing again finds nothing to do.
    let run = seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).ok();
    assert!(run.stdout.contains("nothing to seal"), "{}", run.stdout);
}

#[test]
fn overlay_rows_survive_a_reexport_and_are_verified_with_the_snapshot() {
    let (demo, target) = workflow_dbs();
    let root = scratch_dir("wf-overlay");
    let dir = root.join("seed");
    let overlay = root.join("seed-overlay");
    std::fs::create_dir(&overlay).unwrap();
    std::fs::write(
        overlay.join("public.authors.tsv"),
        "id\tname\temail\n500\tQA account\tqa@x\n",
    )
    .unwrap();
    std::fs::write(
        overlay.join("public.posts.tsv"),
        "id\tauthor_id\ttitle\tbody\n500\t500\tQA post\t\\N\n501\t2\tBob's draft\tx\n",
    )
    .unwrap();
    std::fs::write(overlay.join("README.md"), "Rows the QA team needs.\n").unwrap();
    // The overlay named in seedsnap.toml, relative to the file.
    std::fs::write(
        root.join("seedsnap.toml"),
        "dir = \"seed\"\noverlay = \"seed-overlay\"\nlimit = \"all\"\n",
    )
    .unwrap();
    let config = root.join("seedsnap.toml");
    let config = config.to_str().unwrap();
    let (source, target_url) = (demo.url(), target.url());
    let refresh = || {
        seedsnap(&[
            "refresh",
            "-q",
            "--json",
            "--config",
            config,
            "--source",
            &source,
            "--target",
            &target_url,
        ])
    };
    let report = json(&refresh().ok());
    assert_eq!(report["import"]["overlay"], overlay.to_str().unwrap());
    let run = seedsnap(&["verify", "--config", config]).ok();
    assert!(run.stdout.contains("with the overlay"), "{}", run.stdout);
    assert_eq!(
        target.query_i64("SELECT count(*) FROM posts WHERE id IN (500, 501)"),
        2
    );
    // A re-export replaces the snapshot directory, never the overlay; the next import loads
    // the overlay's rows again (already present: nothing to do).
    let overlay_files = read_dir_files(&overlay);
    demo.execute("UPDATE authors SET name = 'Ada 2' WHERE id = 1");
    let report = json(&refresh().ok());
    assert_eq!(read_dir_files(&overlay), overlay_files);
    assert_eq!(drifted(&report["import"]), vec!["public.authors 1 name"]);
    // An overlay row edited in the target is drift like any other, brought back.
    target.execute("UPDATE posts SET title = 'changed' WHERE id = 501");
    let report = json(
        &import(
            &target,
            &dir,
            &["--json", "--overlay", overlay.to_str().unwrap()],
        )
        .ok(),
    );
    assert_eq!(drifted(&report), vec!["public.posts 501 title"]);

    // A row whose parent is nowhere, and a key the snapshot has: refused with the overlay's
    // file and line, nothing written.
    std::fs::write(
        overlay.join("public.posts.tsv"),
        "id\tauthor_id\ttitle\tbody\n502\t2\tok\t\\N\n503\t999\tno author\t\\N\n1\t1\tdup\t\\N\n",
    )
    .unwrap();
    let before = target.fingerprint();
    let run = import(&target, &dir, &["--overlay", overlay.to_str().unwrap()]).code(4);
    let posts = overlay.join("public.posts.tsv").display().to_string();
    assert!(
        run.stderr
            .contains(&format!("{posts} line 4: duplicate key (id) = (1)")),
        "{}",
        run.stderr
    );
    std::fs::write(
        overlay.join("public.posts.tsv"),
        "id\tauthor_id\ttitle\tbody\n502\t2\tok\t\\N\n503\t999\tno author\t\\N\n",
    )
    .unwrap();
    // The import refuses it (nothing written, exit 4); verify reports a key that does not
    // resolve as it does without an overlay (exit 5).
    for (run, code) in [
        (
            import(&target, &dir, &["--overlay", overlay.to_str().unwrap()]),
            4,
        ),
        (seedsnap(&["verify", "--config", config]), 5),
    ] {
        let run = run.code(code);
        assert!(
            run.stderr.contains(&format!(
                "{posts} line 3: (author_id) = (999) has no row in public.authors"
            )),
            "{}",
            run.stderr
        );
    }
    // In --json too, the problem's message names the overlay's line, as its fields do.
    let run = import(
        &target,
        &dir,
        &["--json", "--overlay", overlay.to_str().unwrap()],
    )
    .code(4);
    let problem = &json(&run)["error"]["problems"][0];
    assert_eq!(problem["line"], 3, "{}", run.stdout);
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{posts} line 3: (author_id) = (999)")),
        "{}",
        run.stdout
    );
    // Saved by an editor with CRLF line endings: said so, not as two headers that look alike.
    std::fs::write(
        overlay.join("public.posts.tsv"),
        "id\tauthor_id\ttitle\tbody\r\n502\t2\tok\t\\N\r\n",
    )
    .unwrap();
    import(&target, &dir, &["--overlay", overlay.to_str().unwrap()])
        .code(4)
        .stderr_has(&format!(
            "{posts} line 1: ends with a carriage return (was the file saved with CRLF"
        ));
    std::fs::write(overlay.join("public.nope.tsv"), "x\n").unwrap();
    import(&target, &dir, &["--overlay", overlay.to_str().unwrap()])
        .code(4)
        .stderr_has("is not the file of a table of the snapshot");
    assert_eq!(target.fingerprint(), before);
}

#[test]
fn an_overlay_row_that_repeats_a_snapshot_key_names_both_files_and_lines() {
    let (demo, target) = workflow_dbs();
    let dir = export_to_scratch(&demo, &["--limit", "all"]);
    let overlay = scratch_dir("wf-overlay-dup");
    // Overlay line 3 repeats the snapshot's post 2 (line 3 of the snapshot's file), overlay
    // line 4 repeats overlay line 2.
    std::fs::write(
        overlay.join("public.posts.tsv"),
        "id\tauthor_id\ttitle\tbody\n600\t1\tnew\t\\N\n2\t1\tagain\t\\N\n\
         600\t2\tnew again\t\\N\n",
    )
    .unwrap();
    let snapshot_posts = dir.join("public.posts.tsv").display().to_string();
    let overlay_posts = overlay.join("public.posts.tsv").display().to_string();
    let (dir_text, overlay_text) = (dir.to_str().unwrap(), overlay.to_str().unwrap());
    let before = target.fingerprint();
    let verify = seedsnap(&[
        "verify",
        "--json",
        "--dir",
        dir_text,
        "--overlay",
        overlay_text,
    ]);
    let import = import(&target, &dir, &["--json", "--overlay", overlay_text]);
    for run in [verify, import] {
        let run = run.code(4);
        let with_snapshot = format!(
            "{overlay_posts} line 3: duplicate key (id) = (2) of public.posts, first seen at \
             {snapshot_posts} line 3"
        );
        let within_overlay = format!(
            "{overlay_posts} line 4: duplicate key (id) = (600) of public.posts, first seen at \
             {overlay_posts} line 2"
        );
        for expected in [&with_snapshot, &within_overlay] {
            assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
        }
        let error = &json(&run)["error"];
        assert_eq!(error["kind"], "bad_input");
        assert_eq!(error["exit_code"], 4);
        assert!(
            error["message"].as_str().unwrap().contains(&with_snapshot),
            "{error}"
        );
        let problems = error["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 2, "{error}");
        for (problem, line, first_file, first_line) in [
            (&problems[0], 3, &snapshot_posts, 3),
            (&problems[1], 4, &overlay_posts, 2),
        ] {
            assert_eq!(problem["kind"], "duplicate_key", "{problem}");
            assert_eq!(problem["table"], "public.posts");
            assert_eq!(problem["constraint"], "primary key (id)");
            assert_eq!(problem["file"], overlay_posts.as_str());
            assert_eq!(problem["line"], line);
            assert_eq!(problem["related"]["file"], first_file.as_str());
            assert_eq!(problem["related"]["line"], first_line);
            assert!(
                problem["hint"]
                    .as_str()
                    .unwrap()
                    .contains("remove one of the two rows"),
                "{problem}"
            );
            assert!(problem["text"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{overlay_posts} line {line}: duplicate key")));
        }
    }
    assert_eq!(target.fingerprint(), before);
}

#[test]
fn exit_4_failures_list_their_problems_in_json() {
    let (demo, _target) = workflow_dbs();
    let dir = export_to_scratch(&demo, &["--limit", "all"]);
    // A target whose posts lack a column and whose authors.name is too short for the
    // snapshot's values: the schema match refuses both, each a problem of its own.
    let target = cluster().create_db(
        "wf_json_test",
        None,
        "CREATE TABLE authors (id int PRIMARY KEY, name varchar(2) NOT NULL, email text UNIQUE);
         CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL REFERENCES authors (id),
                             title text);
         CREATE TABLE notes (a int, b text);",
    );
    let run = import(&target, &dir, &["--json"]).code(4);
    let error = &json(&run)["error"];
    assert_eq!(error["kind"], "bad_input");
    assert_eq!(error["exit_code"], 4);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("the target's schema does not match the snapshot"),
        "{error}"
    );
    let problems = error["problems"].as_array().unwrap();
    let about = |table: &str, column: &str| {
        problems
            .iter()
            .find(|p| p["table"] == table && p["column"] == column)
            .unwrap_or_else(|| panic!("no problem with {table}.{column}: {error}"))
    };
    let posts = about("public.posts", "body");
    assert_eq!(posts["kind"], "schema_mismatch");
    assert_eq!(
        posts["file"],
        dir.join("public.posts.tsv").display().to_string()
    );
    assert_eq!(posts["line"], serde_json::Value::Null);
    let authors = about("public.authors", "name");
    assert_eq!(authors["kind"], "schema_mismatch");
    assert!(
        authors["message"].as_str().unwrap().contains("varchar")
            || authors["message"]
                .as_str()
                .unwrap()
                .contains("character varying"),
        "{authors}"
    );
    // The printed line of each problem is in the message.
    for problem in problems {
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains(problem["text"].as_str().unwrap()),
            "{problem}"
        );
    }

    // A config file with a setting that does not parse: its file and line.
    let root = scratch_dir("wf-json-config");
    let config = root.join("seedsnap.toml");
    std::fs::write(&config, "dir = \"seed\"\nlimit = \"lots\"\n").unwrap();
    let run = seedsnap(&["verify", "--json", "--config", config.to_str().unwrap()]).code(4);
    let error = &json(&run)["error"];
    let problems = error["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{error}");
    assert_eq!(problems[0]["kind"], "setting");
    assert_eq!(problems[0]["file"], config.display().to_string());
    assert_eq!(problems[0]["line"], 2);

    // A refusal that is one sentence still lists it, as one problem.
    let run = seedsnap(&[
        "verify",
        "--json",
        "--dir",
        dir.to_str().unwrap(),
        "--overlay",
        dir.join("inside").to_str().unwrap(),
    ])
    .code(4);
    let error = &json(&run)["error"];
    let problems = error["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{error}");
    assert_eq!(problems[0]["kind"], "directory");
    assert!(
        problems[0]["hint"]
            .as_str()
            .unwrap()
            .contains("put it beside it"),
        "{error}"
    );
}

#[test]
fn a_dropped_column_and_a_dropped_table_are_skipped_explicitly() {
    let (demo, target) = workflow_dbs();
    let dir = export_to_scratch(&demo, &["--limit", "all"]);
    target.execute(
        "ALTER TABLE posts DROP COLUMN body;
         DROP TABLE notes;
         ALTER TABLE authors RENAME COLUMN email TO email_address;",
    );
    let before = target.fingerprint();
    let run = import(&target, &dir, &[]).code(4);
    for expected in [
        "column public.posts.body does not exist in the target: dropped by a migration? Leave \
         it out with --skip-missing public.posts.body",
        "table public.notes does not exist in the target: dropped by a migration? Leave it out \
         with --skip-missing public.notes",
        "column public.authors.email does not exist in the target: dropped by a migration; \
         renamed? the target has email_address?",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    assert!(
        !run.stderr.contains("create the schema first"),
        "{}",
        run.stderr
    );
    assert_eq!(target.fingerprint(), before);

    // Left out on the command line for one, in seedsnap.toml for the others.
    let config = scratch_dir("wf-skip").join("seedsnap.toml");
    std::fs::write(
        &config,
        "skip_missing = [\"public.notes\", \"public.authors.email\"]\n",
    )
    .unwrap();
    let skip = [
        "--skip-missing",
        "public.posts.body",
        "--config",
        config.to_str().unwrap(),
    ];
    let run = import(&target, &dir, &skip).ok();
    for expected in [
        "warning: left out table public.notes and its 2 rows",
        "warning: left out column public.posts.body (4 values",
        "warning: left out column public.authors.email (3 values",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    assert_eq!(target.query_i64("SELECT count(*) FROM posts"), 4);
    assert_eq!(
        target.query_i64("SELECT count(*) FROM authors WHERE email_address IS NULL"),
        3
    );
    // Verification is adjusted: a second import finds every row present.
    let again = import(&target, &dir, &[&skip[..], &["--json"]].concat()).ok();
    let report = json(&again);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 3, "{report}");
    // Something the snapshot does not have is a mistake, not a no-op.
    import(&target, &dir, &["--skip-missing", "public.posts.nope"])
        .code(4)
        .stderr_has("the snapshot has no such table or column");
    // ... unless only the config file names it: a later export dropped what the entry left
    // out, and the entry is stale. Said with its line; the import goes on.
    std::fs::write(
        &config,
        "skip_missing = [\"public.notes\", \"public.authors.email\",\n    \"public.gone\"]\n",
    )
    .unwrap();
    let run = import(&target, &dir, &skip).ok();
    assert!(
        run.stderr.contains(&format!(
            "warning: {}:2: skip_missing public.gone: the snapshot has no such table or column \
             any more; nothing to leave out (remove the entry)",
            config.display()
        )),
        "{}",
        run.stderr
    );
    // The same on the command line stays a mistake.
    let mut with_flag = skip.to_vec();
    with_flag.extend(["--skip-missing", "public.gone"]);
    import(&target, &dir, &with_flag)
        .code(4)
        .stderr_has("--skip-missing public.gone: the snapshot has no such table or column");

    // A target without any of the snapshot's tables lacks the schema.
    let bare = cluster().create_db("wf_bare_test", None, "");
    import(&bare, &dir, &[])
        .code(4)
        .stderr_has("create the schema first (run your migrations)");
}

#[test]
fn a_migration_version_mismatch_is_reported() {
    let tools = "
        CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
        CREATE SCHEMA gm;
        CREATE TABLE gm.schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);";
    let demo = cluster().create_db(
        "wf_demo",
        None,
        &format!(
            "{SCHEMA}{DATA}{tools}
             INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240201000000');
             INSERT INTO gm.schema_migrations VALUES (7, false);
             -- What migration 7 made, which the target (at 6) lacks.
             CREATE TABLE extra (id int PRIMARY KEY);
             INSERT INTO extra VALUES (1);"
        ),
    );
    let dir = export_to_scratch(
        &demo,
        &[
            "--exclude",
            "public.schema_migrations",
            "--exclude",
            "gm.schema_migrations",
            "--exclude",
            "public.extra",
        ],
    );
    let recorded = &manifest(&dir)["migrations"];
    assert_eq!(
        recorded,
        &serde_json::json!([
            {"tool": "golang-migrate", "table": "gm.schema_migrations", "version": "7", "applied": 1},
            {"tool": "rails", "table": "public.schema_migrations", "version": "20240201000000", "applied": 2},
        ])
    );
    let target = cluster().create_db(
        "wf_test",
        None,
        &format!(
            "{SCHEMA}{tools}
             INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240201000000'),
                                                  ('20240301000000');
             INSERT INTO gm.schema_migrations VALUES (6, false);
             -- A hand-made table of a tool's name holding a NULL version: left out, not a crash.
             CREATE SCHEMA hand;
             CREATE TABLE hand.schema_migrations (version text);
             INSERT INTO hand.schema_migrations VALUES (NULL);"
        ),
    );
    let run = import(&target, &dir, &["--json"]).ok();
    assert!(
        run.stderr.contains(
            "the snapshot was taken at migration rails 20240201000000 (2 applied), the target \
             is at rails 20240301000000 (3 applied): the target is ahead"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("golang-migrate 7 (1 applied), the target is at golang-migrate 6 (1 applied): the snapshot is ahead"),
        "{}",
        run.stderr
    );
    assert_eq!(json(&run)["migrations"].as_array().unwrap().len(), 2);

    // With the bookkeeping tables in the snapshot: the target records migrations of its own,
    // so both tables stay as the target has them (golang-migrate keeps its single row, 6,
    // which the snapshot's 7 would have joined as a second; rails its three rows), and the
    // rest loads, what migration 7 made left out explicitly.
    let with_tables = export_to_scratch(&demo, &[]);
    import(&target, &with_tables, &[])
        .code(4)
        .stderr_has("public.extra");
    let run = import(
        &target,
        &with_tables,
        &["--json", "--skip-missing", "public.extra"],
    )
    .ok();
    let kept: Vec<String> = json(&run)["bookkeeping_kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept.iter().any(|k| k.contains(
            "gm.schema_migrations kept as the target has it, at migration golang-migrate 6 (1 \
             applied): migration bookkeeping describes the target's own schema; the snapshot's \
             rows (golang-migrate 7 (1 applied)) were not loaded"
        )),
        "{kept:?}"
    );
    assert!(run
        .stderr
        .contains("public.schema_migrations kept as the target has it"));
    assert_eq!(
        target.query_i64("SELECT count(*) FROM gm.schema_migrations"),
        1
    );
    assert_eq!(
        target.query_i64("SELECT max(version) FROM gm.schema_migrations"),
        6
    );
    assert_eq!(
        target.query_i64("SELECT count(*) FROM public.schema_migrations"),
        3
    );

    // An empty bookkeeping table (a schema loaded from a dump) takes the snapshot's rows, which
    // then describe it; but not while the target's schema lacks parts of the snapshot's.
    let dumped = cluster().create_db("wf_dumped_test", None, &format!("{SCHEMA}{tools}"));
    let before = dumped.fingerprint();
    let run = import(
        &dumped,
        &with_tables,
        &["--json", "--skip-missing", "public.extra"],
    )
    .code(4);
    let error: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problems = error["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{}", run.stdout);
    let gm = problems
        .iter()
        .find(|p| p["table"] == "gm.schema_migrations")
        .expect("gm.schema_migrations refused");
    assert_eq!(gm["kind"], "schema_mismatch");
    assert!(
        gm["message"].as_str().unwrap().contains(
            "the snapshot's rows of gm.schema_migrations would record migration golang-migrate 7 \
             (1 applied) while --skip-missing leaves parts of the snapshot out"
        ),
        "{}",
        run.stdout
    );
    assert!(gm["hint"]
        .as_str()
        .unwrap()
        .contains("bring the target to the snapshot's migration first"));
    assert_eq!(dumped.fingerprint(), before);
    dumped.execute("CREATE TABLE extra (id int PRIMARY KEY)");
    let run = import(&dumped, &with_tables, &["--json"]).ok();
    assert_eq!(json(&run)["bookkeeping_kept"], serde_json::json!([]));
    assert_eq!(
        dumped.query_i64("SELECT max(version) FROM gm.schema_migrations"),
        7
    );
    // Imported again, the bookkeeping now records migrations: kept, the same as the snapshot's.
    let run = import(&dumped, &with_tables, &["--json"]).ok();
    assert!(
        json(&run)["bookkeeping_kept"][0]
            .as_str()
            .unwrap()
            .contains("the snapshot's rows record the same"),
        "{}",
        run.stdout
    );

    // A schema refusal names the migrations too.
    target.execute("ALTER TABLE posts DROP COLUMN body");
    import(&target, &dir, &[])
        .code(4)
        .stderr_has("migrations: the snapshot was taken at migration");
}

#[test]
fn tables_show_live_progress_unless_quiet() {
    let (demo, target) = workflow_dbs();
    let dir = scratch_dir("wf-progress").join("seed");
    let (source, target_url, dir_text) = (demo.url(), target.url(), dir.display().to_string());
    let every_row = [("SEEDSNAP_PROGRESS_INTERVAL_MS", "0")];
    let run = seedsnap_env(
        &[
            "export", "--source", &source, "--dir", &dir_text, "--limit", "all",
        ],
        &every_row,
    )
    .ok();
    assert!(
        run.stderr
            .contains("seedsnap: copying rows of public.posts: 4 of 4 rows ("),
        "{}",
        run.stderr
    );
    let run = seedsnap_env(
        &["import", "--target", &target_url, "--dir", &dir_text],
        &every_row,
    )
    .ok();
    assert!(
        run.stderr
            .contains("seedsnap: loading public.posts: 4 of 4 rows ("),
        "{}",
        run.stderr
    );
    let run = seedsnap_env(
        &["import", "-q", "--target", &target_url, "--dir", &dir_text],
        &every_row,
    )
    .ok();
    assert!(!run.stderr.contains("rows/s"), "{}", run.stderr);
}

#[test]
fn the_local_server_says_why_the_postgres_user_cannot_enter_a_checkout() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return; // Only root hands the server to the 'postgres' OS user.
    }
    let private = scratch_dir("wf-private");
    let scripts = private.join("checkout/scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    let script = scripts.join("local-pg.sh");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/local-pg.sh"),
        &script,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = |command: &str| {
        std::process::Command::new("bash")
            .arg(&script)
            .arg(command)
            .env_remove("SEEDSNAP_LOCAL_PGDIR")
            .env("SEEDSNAP_LOCAL_PORT", "54397")
            .output()
            .unwrap()
    };
    let out = run("ensure");
    // Whatever happened, leave no server behind.
    run("clean");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let shown = private.display();
    for expected in [
        format!("cannot enter {shown} (700)"),
        format!("chmod o+x {shown}"),
        "SEEDSNAP_LOCAL_PGDIR=".to_string(),
    ] {
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    }
    assert!(!private.join("checkout/.pg").exists());
    std::fs::remove_dir_all(&private).unwrap();
}

#[test]
fn seedsnap_toml_and_the_default_directory_are_found_from_a_subdirectory() {
    let (demo, target) = workflow_dbs();
    let root = scratch_dir("wf-upwards");
    std::fs::write(
        root.join("seedsnap.toml"),
        format!(
            "limit = \"all\"\n[source]\nurl = \"{}\"\n[target]\nurl = \"{}\"\n",
            demo.url(),
            target.url()
        ),
    )
    .unwrap();
    let deeper = root.join("app/models");
    std::fs::create_dir_all(&deeper).unwrap();
    let run = seedsnap_in(&deeper, &["refresh", "-q"], &[]).ok();
    assert!(
        run.stderr.contains("config: ../../seedsnap.toml"),
        "{}",
        run.stderr
    );
    assert!(root.join("fixtures/snapshot/manifest.json").is_file());
    assert_eq!(target.query_i64("SELECT count(*) FROM posts"), 4);
    let run = seedsnap_in(&deeper, &["verify"], &[]).ok();
    assert!(
        run.stdout.contains("../../fixtures/snapshot"),
        "{}",
        run.stdout
    );
    // plan takes --json like the other commands.
    let run = seedsnap_in(&deeper, &["plan", "-q", "--json"], &[]).ok();
    let plan = json(&run);
    assert!(plan.is_object(), "{plan}");
    // One man page per subcommand.
    let run = seedsnap(&["man", "seal"]).ok();
    assert!(run.stdout.contains("seedsnap\\-seal"), "{}", run.stdout);
}

#[test]
fn foreign_key_violations_name_file_line_and_key() {
    let source = cluster().create_db(
        "wf_fk",
        None,
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, p_id int, note text);
         INSERT INTO p VALUES (1), (2), (3);
         INSERT INTO c VALUES (1, 1, 'a'), (2, 5, 'b'), (3, 2, 'c');",
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    // The target declares the key the source does not: row 2 of c has no parent.
    let schema = "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id), note text);";
    let file = dir.join("public.c.tsv").display().to_string();
    // Into empty tables (COPY straight in) and into tables with rows (staged, then inserted).
    for rows in [
        "",
        "INSERT INTO p VALUES (9); INSERT INTO c VALUES (9, 9, 'x');",
    ] {
        let target = cluster().create_db("wf_fk_test", None, &format!("{schema}{rows}"));
        let run = import(&target, &dir, &[]).code(4);
        assert!(
            run.stderr.contains(&format!("{file} line 3: (p_id)=(5)")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn json_failures_print_an_error_object_with_the_exit_code() {
    let missing = scratch_dir("wf-json").join("nothing-here");
    let run = seedsnap(&["verify", "--json", "--dir", missing.to_str().unwrap()]).code(4);
    let error = json(&run);
    assert_eq!(error["error"]["kind"], "bad_input");
    assert_eq!(error["error"]["exit_code"], 4);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("manifest.json"),
        "{error}"
    );
    let run = seedsnap(&["import", "--json", "--no-such-flag"]).code(2);
    assert_eq!(json(&run)["error"]["exit_code"], 2);
    let (demo, _target) = workflow_dbs();
    let dir = export_to_scratch(&demo, &["--limit", "all"]);
    let run = seedsnap(&[
        "import",
        "--json",
        "--target",
        "host=/nonexistent dbname=x_test",
        "--dir",
        dir.to_str().unwrap(),
    ])
    .code(6);
    assert_eq!(json(&run)["error"]["kind"], "connection");

    // A report that fails carries its error: one JSON document.
    let posts = dir.join("public.posts.tsv");
    append(&posts, "9\t77\tx\t\\N\n");
    seedsnap(&["seal", "--dir", dir.to_str().unwrap()]).code(4);
    // Bypass seal's check to get a snapshot whose keys do not resolve.
    let text = std::fs::read_to_string(&posts).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    let entry = |m: &serde_json::Value| {
        m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .position(|t| t["name"] == "posts")
            .unwrap()
    };
    let mut m = manifest(&dir);
    let i = entry(&m);
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    m["tables"][i]["sha256"] = serde_json::json!(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>());
    m["tables"][i]["rows"] = serde_json::json!(5);
    m["tables"][i]["sampled"] = serde_json::json!(5);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    let run = seedsnap(&["verify", "--json", "--dir", dir.to_str().unwrap()]).code(5);
    let report = json(&run);
    assert_eq!(report["error"]["kind"], "verification_failed");
    assert_eq!(report["unresolved"][0]["rows"], 1, "{report}");
}

#[test]
fn drift_across_the_demos_cycles_converges_to_the_first_import() {
    let demo = demo_db();
    let dir = export_to_scratch(&demo, &["--config", &demo_config()]);
    let target = empty_test_db();
    import(&target, &dir, &[]).ok();
    let seeded = target.fingerprint();
    target.execute(
        "UPDATE app.users SET display_name = 'renamed', favorite_item_id = NULL
          WHERE id IN (SELECT id FROM app.users WHERE favorite_item_id IS NOT NULL LIMIT 3);
         UPDATE app.collections SET featured_entry_id =
                (SELECT max(id) FROM app.collection_entries), title = 'moved'
          WHERE id IN (SELECT id FROM app.collections ORDER BY id LIMIT 2);
         UPDATE app.collection_entries SET position = position + 100
          WHERE id IN (SELECT id FROM app.collection_entries ORDER BY id LIMIT 2);
         UPDATE app.tags SET label = 'changed' WHERE id = 1;",
    );
    let report = json(&import(&target, &dir, &["--json"]).ok());
    assert_eq!(
        report["drifted_rows"].as_array().unwrap().len(),
        3 + 2 + 2 + 1,
        "{report}"
    );
    assert_eq!(target.fingerprint(), seeded);
}

#[test]
fn a_kept_drift_that_breaks_a_virtual_key_names_the_file_line_and_key() {
    let schema = "CREATE TABLE parent (id int PRIMARY KEY, code text NOT NULL UNIQUE);
                  CREATE TABLE child (id int PRIMARY KEY, parent_code text);";
    let source = cluster().create_db(
        "wf_vk",
        None,
        &format!(
            "{schema} INSERT INTO parent VALUES (1, 'a'), (2, 'b');
                      INSERT INTO child VALUES (1, 'b'), (2, 'a');"
        ),
    );
    let dir = export_to_scratch(
        &source,
        &[
            "--limit",
            "all",
            "--virtual-key",
            "public.child(parent_code) -> public.parent(code)",
        ],
    );
    let target = cluster().create_db("wf_vk_test", None, schema);
    import(&target, &dir, &[]).ok();
    // Someone renamed a parent's code in the test database; keeping it strands a child.
    target.execute("UPDATE parent SET code = 'z' WHERE id = 1");
    let file = dir.join("public.child.tsv").display().to_string();
    import(&target, &dir, &["--on-drift", "keep"])
        .code(5)
        .stderr_has(&format!("{file} line 3: (parent_code)=(a)"));
    // Bringing the drift back repairs it.
    import(&target, &dir, &[]).ok();
    assert_eq!(text(&target, "SELECT code FROM parent WHERE id = 1"), "a");
}
