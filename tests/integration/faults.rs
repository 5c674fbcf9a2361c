//! Reliability under faults: servers that go away, locks held by others, hot standbys,
//! read-only defaults, concurrent writers, big values, secrets.

use std::process::Stdio;
use std::time::Duration;

use super::*;
use crate::cluster::Cluster;

const SMALL_SCHEMA: &str = "
    CREATE TABLE parent (id int PRIMARY KEY, label text NOT NULL);
    CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id), note text);";
const SMALL_DATA: &str = "
    INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 300) i;
    INSERT INTO child SELECT i, 1 + (i * 7) % 300, 'c' || i FROM generate_series(1, 600) i;";

fn spawn_seedsnap(args: &[&str]) -> std::process::Child {
    seedsnap_command(&scratch_dir("home"), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: std::process::Child) -> Run {
    Run::from_output(child.wait_with_output().unwrap())
}

/// The line of stderr that reports the error (progress lines also name the databases).
fn error_line(run: &Run) -> &str {
    run.stderr
        .lines()
        .find(|l| l.starts_with("seedsnap: error:"))
        .unwrap_or_else(|| panic!("no error line in:\n{}", run.stderr))
}

/// Waits until a seedsnap session of `db` waits on a lock.
fn wait_for_lock_wait(cluster: &Cluster, db: &str) {
    wait_for_session(
        cluster,
        db,
        "wait_event_type = 'Lock'",
        "waited on the lock",
    );
}

/// Waits until a seedsnap session of `db` has been running one statement for a while.
fn wait_for_long_statement(cluster: &Cluster, db: &str) {
    wait_for_session(
        cluster,
        db,
        "state = 'active' AND now() - query_start > interval '300 ms'",
        "ran a long statement",
    );
}

/// Waits until a seedsnap session of `db` meets `condition` (on `pg_stat_activity`); panics
/// saying it never `did` after ten seconds.
fn wait_for_session(cluster: &Cluster, db: &str, condition: &str, did: &str) {
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = $1 AND application_name = 'seedsnap' AND {condition}"
    );
    for _ in 0..400 {
        let found: i64 = cluster
            .connect("postgres")
            .unwrap()
            .query_one(sql.as_str(), &[&db])
            .unwrap()
            .get(0);
        if found > 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("seedsnap never {did}");
}

#[test]
fn a_server_going_away_is_a_connection_error_and_writes_nothing() {
    let c = Cluster::private(5432);
    let source = c.create_db("src", None, &format!("{SMALL_SCHEMA}{SMALL_DATA}"));
    let dir = scratch_dir("gone").join("snapshot");
    let dir_text = dir.to_str().unwrap().to_string();
    seedsnap(&[
        "export",
        "-q",
        "--source",
        &source.url(),
        "--dir",
        &dir_text,
    ])
    .ok();
    let snapshot_before = read_dir_files(&dir);
    let target = c.create_db("tgt_test", None, SMALL_SCHEMA);
    let target_before = target.fingerprint();

    for mode in ["fast", "immediate"] {
        // The source goes away in the middle of an export.
        source.execute("UPDATE parent SET label = label || '!' WHERE id = 1");
        let mut holder = source.client();
        let mut hold = holder.transaction().unwrap();
        hold.batch_execute("LOCK TABLE child IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        let export = spawn_seedsnap(&["export", "--source", &source.url(), "--dir", &dir_text]);
        wait_for_lock_wait(c, &source.name);
        c.stop("data", mode);
        let run = finish(export).code(6);
        let error = error_line(&run);
        assert!(
            error.contains(&format!("/{} as seedsnap", source.name)),
            "{mode}: the error does not name the source: {}",
            run.stderr
        );
        drop(hold);
        drop(holder);
        assert_eq!(
            read_dir_files(&dir),
            snapshot_before,
            "{mode}: the snapshot changed"
        );
        c.spawn("data", &[]).unwrap();

        // The target goes away in the middle of an import.
        let mut holder = target.client();
        let mut hold = holder.transaction().unwrap();
        hold.batch_execute("LOCK TABLE child IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        let import = spawn_seedsnap(&["import", "--target", &target.url(), "--dir", &dir_text]);
        wait_for_lock_wait(c, &target.name);
        c.stop("data", mode);
        let run = finish(import).code(6);
        let error = error_line(&run);
        assert!(
            error.contains(&format!("/{} as seedsnap", target.name)),
            "{mode}: the error does not name the target: {}",
            run.stderr
        );
        drop(hold);
        drop(holder);
        c.spawn("data", &[]).unwrap();
        assert_eq!(
            target.fingerprint(),
            target_before,
            "{mode}: the target changed"
        );
    }
}

#[test]
fn a_lock_held_by_another_session_times_out_naming_the_table() {
    let source = cluster().create_db("lk", None, &format!("{SMALL_SCHEMA}{SMALL_DATA}"));
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db("lk_test", None, SMALL_SCHEMA);
    let before = target.fingerprint();
    let mut holder = target.client();
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut hold = holder.transaction().unwrap();
    hold.batch_execute(
        "SET application_name = 'a_test_suite'; LOCK TABLE child IN ROW EXCLUSIVE MODE",
    )
    .unwrap();
    let started = std::time::Instant::now();
    // The session that holds the lock is named, so that a stale one can be found and ended.
    import(&target, &dir, &["--lock-timeout", "1"])
        .code(1)
        .stderr_has("could not lock public.child within 1 s")
        .stderr_has(&format!("held by pid {holder_pid} (role "))
        .stderr_has("application a_test_suite");
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(hold);
    drop(holder);
    assert_eq!(target.fingerprint(), before);
}

#[test]
fn a_full_lock_table_is_explained_and_changes_nothing() {
    let c = Cluster::private(5432);
    let tables: String = (0..300)
        .map(|i| format!("CREATE TABLE t{i} (id int PRIMARY KEY, label text); INSERT INTO t{i} VALUES (1, 'a');\n"))
        .collect();
    let source = c.create_db("locks_src", None, &tables);
    let dir = export_to_scratch(&source, &[]);
    let target = c.create_db("locks_test", None, &tables.replace("INSERT", "-- INSERT"));
    import(&target, &dir, &[]).ok();
    // Importing again stages every file in a temporary table, in a lock table of about 10 × (20 connections + the server's own processes).
    c.stop("data", "fast");
    c.spawn(
        "data",
        &[
            "-c",
            "max_locks_per_transaction=10",
            "-c",
            "max_connections=20",
        ],
    )
    .unwrap();
    let before = target.fingerprint();
    let run = import(&target, &dir, &[]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("raise max_locks_per_transaction on that server")
            && run.stderr.contains("the target is unchanged"),
        "{}",
        run.stderr
    );
    assert_eq!(target.fingerprint(), before);
}

/// Exports the demo (with `env`) while another session holds `app.users`: `meanwhile` runs
/// while the export waits on that lock, then the export finishes. Returns a one-session export
/// taken before, and this export's directory.
fn export_while_users_is_locked(
    demo: &TestDb,
    env: &[(&str, &str)],
    meanwhile: impl FnOnce(),
) -> (PathBuf, PathBuf) {
    let before = export_to_scratch(demo, &["--jobs", "1"]);
    let mut holder = demo.client();
    let mut hold = holder.transaction().unwrap();
    hold.batch_execute("LOCK TABLE app.users IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let dir = scratch_dir("locked").join("snapshot");
    let dir_text = dir.to_str().unwrap().to_string();
    let url = demo.url();
    let mut command = seedsnap_command(
        &scratch_dir("home"),
        &[
            "export", "-q", "--jobs", "4", "--source", &url, "--dir", &dir_text,
        ],
    );
    command.envs(env.iter().copied());
    let export = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lock_wait(cluster(), &demo.name);
    meanwhile();
    hold.commit().unwrap();
    finish(export).ok();
    (before, dir)
}

#[test]
fn a_table_cannot_be_truncated_under_a_running_export() {
    let demo = demo_db();
    // The export locks its tables before it reads any, in name order; it waits at app.users
    // with app.articles already locked, although the sample reaches it only after app.users.
    // TRUNCATE is not MVCC-safe (the export's snapshot would see the table empty): it must
    // wait for the export.
    let (before, dir) = export_while_users_is_locked(&demo, &[], || {
        let truncate = demo
            .client()
            .batch_execute("SET lock_timeout = '500ms'; TRUNCATE app.articles CASCADE");
        assert!(
            truncate
                .as_ref()
                .is_err_and(|e| e.code().map(|c| c.code()) == Some("55P03")),
            "{truncate:?}"
        );
    });
    assert_eq!(read_dir_files(&dir), read_dir_files(&before));
}

#[test]
fn readers_see_the_snapshot_of_the_export_not_later_commits() {
    let demo = demo_db();
    // The export takes its snapshot, then waits on the lock; meanwhile every tag's label
    // changes and commits. The readers (each of which releases its locks after every
    // statement, so it imports the snapshot again and again) must not see the change.
    let (before, dir) =
        export_while_users_is_locked(&demo, &[("SEEDSNAP_READER_LOCK_BUDGET", "1")], || {
            demo.execute("UPDATE app.tags SET label = label || ' (changed later)'");
        });
    assert_eq!(read_dir_files(&dir), read_dir_files(&before));
}

#[test]
fn export_from_a_hot_standby_matches_the_primary() {
    let c = Cluster::private(5432);
    let source = c.create_db("primary_db", None, &format!("{SMALL_SCHEMA}{SMALL_DATA}"));
    c.start_standby("standby", 5433).unwrap();
    let standby_url = c.url_on(5433, &source.name);
    // Wait until the standby has replayed the data.
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(mut client) = postgres::Client::connect(&standby_url, postgres::NoTls) {
            if let Ok(row) = client.query_one("SELECT count(*) FROM child", &[]) {
                if row.get::<_, i64>(0) == 600 {
                    ready = true;
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ready, "the standby never caught up");
    let from_primary = export_to_scratch(&source, &[]);
    let dir = scratch_dir("standby").join("snapshot");
    // A standby's snapshot is not shared with parallel readers: one session reads it all.
    seedsnap(&[
        "export",
        "-q",
        "--jobs",
        "4",
        "--source",
        &standby_url,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .ok()
    .stderr_has("reading with one session: the source is a standby");
    assert_eq!(read_dir_files(&dir), read_dir_files(&from_primary));
}

#[test]
fn a_database_defaulting_to_read_only_transactions_exports() {
    let demo = demo_db();
    demo.execute(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
        demo.name
    ));
    let dir = export_to_scratch(&demo, &["--limit", "5"]);
    seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).ok();
}

#[test]
fn exports_under_concurrent_writes_are_consistent_and_import_cleanly() {
    let demo = demo_db();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            // Repoint the first items (the ones every export samples) at a fresh user, then
            // put them back and delete that user: a snapshot that mixed two moments would
            // reference a user that no longer exists.
            let mut client = demo.client();
            let mut round = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                round += 1;
                let mut txn = client.transaction().unwrap();
                let user: i64 = txn
                    .query_one(
                        "INSERT INTO app.users (email, display_name, created_at)
                         VALUES ($1, 'writer', now()) RETURNING id",
                        &[&format!("writer{round}@example.test")],
                    )
                    .unwrap()
                    .get(0);
                txn.execute(
                    "UPDATE app.content_items SET author_id = $1 WHERE id <= 5",
                    &[&user],
                )
                .unwrap();
                txn.execute(
                    "INSERT INTO app.ratings (user_id, content_id, score, rated_at)
                     VALUES ($1, 1, 5, now())",
                    &[&user],
                )
                .unwrap();
                txn.commit().unwrap();
                let mut txn = client.transaction().unwrap();
                txn.execute(
                    "UPDATE app.content_items SET author_id = 1 WHERE id <= 5",
                    &[],
                )
                .unwrap();
                txn.execute("DELETE FROM app.ratings WHERE user_id = $1", &[&user])
                    .unwrap();
                txn.execute("DELETE FROM app.users WHERE id = $1", &[&user])
                    .unwrap();
                txn.commit().unwrap();
            }
            round
        });
        for i in 0..20 {
            let dir = export_to_scratch(&demo, &["--limit", "5"]);
            seedsnap(&["verify", "--dir", dir.to_str().unwrap()]).ok();
            let target = empty_test_db();
            import(&target, &dir, &[]).ok();
            let _ = i;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = writer.join().unwrap();
        assert!(rounds > 20, "the writer ran only {rounds} rounds");
    });
}

#[test]
fn hundred_megabyte_values_round_trip_in_bounded_memory() {
    let sql = "CREATE TABLE big (id int PRIMARY KEY, t text, b bytea);";
    let source = cluster().create_db(
        "big",
        None,
        &format!(
            "{sql}
             INSERT INTO big VALUES (1, repeat('x', 100 * 1024 * 1024), NULL);
             INSERT INTO big VALUES (2, NULL, decode(repeat('ab', 100 * 1024 * 1024), 'hex'));"
        ),
    );
    let dir = export_to_scratch(&source, &[]);
    let target = cluster().create_db("big_test", None, sql);
    let args = import_args(&target, &dir, &[]);
    let (run, rss_kb) = seedsnap_with_rss(&args.iter().map(String::as_str).collect::<Vec<_>>());
    run.ok();
    let digest = |db: &TestDb| -> String {
        db.client()
            .query_one(
                "SELECT string_agg(md5(coalesce(t, '')) || md5(coalesce(b, '')), ',' ORDER BY id) FROM big",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(digest(&target), digest(&source));
    // One 200 MB line (the bytea in hex) is the most that is ever held.
    assert!(rss_kb < 700 * 1024, "import peak RSS {rss_kb} kB");
}

/// Runs seedsnap and returns its peak RSS in kB, from wait4 (which reaps the child).
#[allow(clippy::zombie_processes)]
fn seedsnap_with_rss(args: &[&str]) -> (Run, i64) {
    let child = spawn_seedsnap(args);
    let pid = child.id() as libc::pid_t;
    let stdout = child.stdout;
    let stderr = child.stderr;
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout.unwrap(), &mut text).ok();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr.unwrap(), &mut text).ok();
        text
    });
    let mut status = 0;
    // SAFETY: plain data filled by wait4 for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (
        Run {
            code,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        },
        usage.ru_maxrss,
    )
}

#[test]
fn passwords_from_pgpass_never_appear() {
    use std::os::unix::fs::PermissionsExt;
    let home = scratch_dir("pgpass-home");
    std::fs::write(home.join(".pgpass"), "*:*:*:*:pgp4ss-secret\n").unwrap();
    std::fs::set_permissions(home.join(".pgpass"), std::fs::Permissions::from_mode(0o600)).unwrap();
    for source in [
        cluster().url("postgres"),
        "host=/nonexistent port=1 user=x dbname=y".into(),
    ] {
        let out = seedsnap_command(&home, &["plan", "--source", &source, "--format", "json"])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("pgp4ss-secret"), "{text}");
    }
}

/// A table owner's import whose dropped keys would not fit in half a small server's lock table
/// (10 locks a transaction × 20 connections) keeps the per-row triggers and loads; where they
/// fit, the same import drops and re-adds them.
#[test]
fn keys_are_dropped_only_when_their_locks_fit_in_the_lock_table() {
    let c = Cluster::private(5432);
    // 30 children of 200 rows, a key each to one parent: 30 keys, 6,000 checked values.
    let mut schema = String::from("CREATE TABLE parent (id int PRIMARY KEY);\n");
    for i in 0..30 {
        schema.push_str(&format!(
            "CREATE TABLE child{i} (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent);\n"
        ));
    }
    let mut data = String::from("INSERT INTO parent SELECT generate_series(1, 200);\n");
    for i in 0..30 {
        data.push_str(&format!(
            "INSERT INTO child{i} SELECT i, i FROM generate_series(1, 200) i;\n"
        ));
    }
    let source = c.create_db("lockkeys", None, &format!("{schema}{data}"));
    let dir = export_to_scratch(&source, &["--limit", "200"]);
    let role = c.unique_name("owner");
    source.execute(&format!("CREATE ROLE {role} LOGIN;"));
    let owned_target = || {
        let target = c.create_db("lockkeys_test", None, &schema);
        let mut grants = format!(
            "GRANT CONNECT ON DATABASE \"{name}\" TO {role};
             GRANT USAGE ON SCHEMA public TO {role};
             ALTER TABLE parent OWNER TO {role};",
            name = target.name
        );
        for i in 0..30 {
            grants.push_str(&format!("ALTER TABLE child{i} OWNER TO {role};"));
        }
        target.execute(&grants);
        let url = target
            .url()
            .replace("user=seedsnap", &format!("user={role}"));
        (target, url)
    };
    let key_checks = |url: &str| -> String {
        let run = seedsnap(&[
            "import",
            "-q",
            "--json",
            "--target",
            url,
            "--dir",
            dir.to_str().unwrap(),
        ])
        .ok();
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        report["key_checks"].as_str().unwrap().to_string()
    };
    let (roomy, roomy_url) = owned_target();
    assert_eq!(key_checks(&roomy_url), "re_added");
    assert_eq!(roomy.query_i64("SELECT count(*) FROM child29"), 200);

    let (tight, tight_url) = owned_target();
    c.stop("data", "fast");
    c.spawn(
        "data",
        &[
            "-c",
            "max_locks_per_transaction=10",
            "-c",
            "max_connections=20",
        ],
    )
    .unwrap();
    assert_eq!(key_checks(&tight_url), "per_row");
    assert_eq!(tight.query_i64("SELECT count(*) FROM child29"), 200);
    assert_eq!(
        tight.query_i64("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated"),
        30
    );
}

/// Sends `signal` to a running seedsnap.
fn send_signal(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the pid of our own child, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

#[test]
fn ctrl_c_during_an_import_rolls_back_names_the_sequences_it_drew_and_exits_130() {
    let source = cluster().create_db(
        "interrupted",
        None,
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 400) AS g;",
    );
    let dir = export_to_scratch(&source, &["--limit", "all"]);
    // A default that takes 10 ms a row keeps the load running for seconds, drawing from the
    // serial's sequence as it goes.
    let target = cluster().create_db(
        "interrupted_test",
        None,
        "CREATE FUNCTION slow() RETURNS int LANGUAGE sql VOLATILE
             AS 'SELECT 1 FROM pg_sleep(0.01)';
         CREATE TABLE t (id int PRIMARY KEY, v text, serial_no bigserial, s int DEFAULT slow());
         INSERT INTO t (id, v) VALUES (1000, 'kept');",
    );
    let rows_before = target.query_i64("SELECT count(*) FROM t");
    let drawn_before = target.query_i64("SELECT last_value FROM t_serial_no_seq");
    let args = import_args(&target, &dir, &["--json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let import = spawn_seedsnap(&args);
    wait_for_long_statement(cluster(), &target.name);
    send_signal(&import, libc::SIGINT);
    let run = finish(import);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(
        run.stderr.contains("seedsnap: interrupted: cancelling"),
        "{}",
        run.stderr
    );
    let error = error_line(&run);
    for expected in [
        "interrupted (Ctrl-C or SIGTERM)",
        "the target is unchanged",
        "left 1 sequence(s) advanced",
        "public.t_serial_no_seq",
    ] {
        assert!(error.contains(expected), "{expected}: {error}");
    }
    let report = json(&run);
    assert_eq!(report["error"]["kind"], "interrupted", "{report}");
    assert_eq!(report["error"]["exit_code"], 130, "{report}");
    let drawn_after = target.query_i64("SELECT last_value FROM t_serial_no_seq");
    assert!(
        drawn_after > drawn_before,
        "nothing was drawn before the signal?"
    );
    assert_eq!(
        report["error"]["sequences_left_advanced"][0]["to"], drawn_after,
        "{report}"
    );
    assert_eq!(target.query_i64("SELECT count(*) FROM t"), rows_before);
    assert_eq!(
        target.query_i64("SELECT count(*) FROM t WHERE id = 1000"),
        1
    );
}

#[test]
fn sigterm_during_an_export_keeps_the_previous_snapshot_and_exits_130() {
    let source = cluster().create_db(
        "interrupted_export",
        None,
        &format!("{SMALL_SCHEMA}{SMALL_DATA}"),
    );
    let dir = export_to_scratch(&source, &[]);
    let files = read_dir_files(&dir);
    let beside = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let entries = beside(&dir);
    // The export waits on a lock another session holds, then is told to stop.
    let mut holder = source.client();
    let mut hold = holder.transaction().unwrap();
    hold.batch_execute("LOCK TABLE child IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let url = source.url();
    let dir_text = dir.to_str().unwrap().to_string();
    let export = spawn_seedsnap(&["export", "--source", &url, "--dir", &dir_text]);
    wait_for_lock_wait(cluster(), &source.name);
    send_signal(&export, libc::SIGTERM);
    let run = finish(export);
    hold.commit().unwrap();
    assert_eq!(run.code, 130, "{}", run.stderr);
    let error = error_line(&run);
    for expected in [
        "interrupted (Ctrl-C or SIGTERM)",
        "the export stopped before writing",
        "what it held is unchanged",
    ] {
        assert!(error.contains(expected), "{expected}: {error}");
    }
    assert_eq!(read_dir_files(&dir), files, "the previous snapshot changed");
    assert_eq!(beside(&dir), entries, "the export left something beside it");
}
