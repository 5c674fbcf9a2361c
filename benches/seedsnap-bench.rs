//! `make bench`: seedsnap's export and import timed against a floor, on the bundled demo at
//! scale 0.1, 1 and 10, on a self-referencing table over 500,000 rows
//! (`fixtures/bench/selfref.sql`) and on generated wide schemas of 1,000 and 3,000 tables.
//!
//! Databases live in the throwaway local cluster of `scripts/local-pg.sh` and are generated
//! once (delete them, or `make clean-local-db`, to regenerate; the demo at scale 10 takes the
//! longest). For each database, after a warm-up, every figure is the median of `--runs` runs
//! (default 5):
//! - export and import wall time (import includes verification, into a fresh empty clone), the
//!   import three times: by the bench role, a superuser (seedsnap may take its fast path,
//!   foreign-key triggers off and every key checked afterwards, by the snapshot's files or by
//!   batched counting queries, and the report says
//!   whether it did); by `bench_importer`, a role that owns the clone's schemas, tables and
//!   sequences but is not a superuser (its clone comes from a template made once with
//!   `fixtures/bench/owned_by.sql`; the bench fails if that import reports batched key checks,
//!   and records whether it dropped and re-added the keys or kept the per-row triggers);
//!   and by `bench_importer` again into another clone of that template, with
//!   `GRANT SET ON PARAMETER session_replication_role TO bench_importer` (PostgreSQL 15+) in
//!   force for that import only (the bench fails if this build's import does not report
//!   batched key checks; a `--compare` build may not take them). The grant is revoked right
//!   after that import, also when it fails, and at the start of every bench run, so that an
//!   interrupted run leaves none behind and the plain owner's import never has it;
//! - the client's peak RSS (`VmHWM`, read while it runs) of each;
//! - rows exported, and source rows read per exported row (`pg_stat_user_tables`:
//!   `seq_tup_read + idx_tup_fetch`, reset before each export);
//! - the floor: one `COPY (SELECT * … ORDER BY key LIMIT 100)` per table on one connection, no
//!   parents, and loading those rows with `session_replication_role = replica` (no FK checks);
//! - the own floor: a COPY of seedsnap's own snapshot files into an empty clone with
//!   `session_replication_role = replica` (no FK checks, nothing verified), which is what the
//!   imports' times are compared with; timed in every run right after this build's imports,
//!   before anything else (the demo's export of every row, hundreds of MB, is synced to disk
//!   before the run goes on). Where an import takes under half a second, each import and the
//!   own floor are timed three times in every run and their medians kept.
//!
//! On the 1,000-table schema it also times the export and the import through a proxy of its
//! own (`support/latency_proxy.rs`, loopback only) that adds 5 ms to each round trip: the
//! remote-server row (the superuser's import only). `support/render.rs` writes the markdown,
//! including the performance issue's targets, each compared with the figures.
//!
//! Environment: `BENCH_CONN` (libpq string without dbname, a superuser; the cluster must let
//! `bench_importer` in without a password, as the local cluster's trust authentication does),
//! `BENCH_BINDIR` (server binaries, for psql), set by the Makefile; `SEEDSNAP_BIN` to time
//! another seedsnap binary. `--compare BIN` also times a previous build, alternating with this
//! one in every run (for before/after rows).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use postgres::{Client, NoTls};

use seedsnap::catalog::Catalog;

#[path = "support/latency_proxy.rs"]
mod latency_proxy;
#[path = "support/render.rs"]
mod render;

use render::{median, EveryRow, Figures, Sample};

/// The latency the remote-server row adds to each round trip.
const REMOTE_DELAY: Duration = Duration::from_millis(5);
/// The dataset measured through the latency proxy.
const REMOTE_DATASET: &str = "wide_1000";
/// The dataset also exported whole (`--limit all`, millions of rows), for the memory an export
/// holds as the snapshot grows.
const EVERY_ROW_DATASET: &str = "demo_1";
/// The role of the "not superuser" imports: it owns the tables of its target, nothing more
/// (and, for the "owner + SET grant" import only, `SET` on [`REPLICATION_ROLE`]).
const IMPORTER: &str = "bench_importer";
/// The parameter whose `SET` privilege the "owner + SET grant" import is granted.
const REPLICATION_ROLE: &str = "session_replication_role";

struct Dataset {
    name: &'static str,
    /// Generator: (script, psql variables).
    script: &'static str,
    vars: &'static [(&'static str, &'static str)],
    empty_vars: &'static [(&'static str, &'static str)],
}

const DATASETS: &[Dataset] = &[
    Dataset {
        name: "demo_0_1",
        script: "fixtures/demo/generate.sql",
        vars: &[("scale", "0.1")],
        empty_vars: &[],
    },
    Dataset {
        name: "demo_1",
        script: "fixtures/demo/generate.sql",
        vars: &[("scale", "1")],
        empty_vars: &[],
    },
    Dataset {
        name: "demo_10",
        script: "fixtures/demo/generate.sql",
        vars: &[("scale", "10")],
        empty_vars: &[],
    },
    Dataset {
        name: "selfref",
        script: "fixtures/bench/selfref.sql",
        vars: &[("rows", "500000")],
        empty_vars: &[("rows", "0")],
    },
    Dataset {
        name: "wide_1000",
        script: "fixtures/bench/wide.sql",
        vars: &[("tables", "1000"), ("rows", "1000")],
        empty_vars: &[("tables", "1000"), ("rows", "0")],
    },
    Dataset {
        name: "wide_3000",
        script: "fixtures/bench/wide.sql",
        vars: &[("tables", "3000"), ("rows", "1000")],
        empty_vars: &[("tables", "3000"), ("rows", "0")],
    },
];

struct Env {
    conn: String,
    bindir: PathBuf,
    root: PathBuf,
    seedsnap: PathBuf,
    /// `--compare BIN`: a previous build, timed alternately with this one.
    previous: Option<PathBuf>,
    scratch: PathBuf,
    /// Whether the server knows `GRANT SET ON PARAMETER` (PostgreSQL 15+): the "owner + SET
    /// grant" import is timed only then.
    set_grant: bool,
}

impl Env {
    fn url(&self, db: &str) -> String {
        format!("{} dbname={db}", self.conn)
    }
    /// [`Env::url`] for the role [`IMPORTER`].
    fn importer_url(&self, db: &str) -> String {
        let others: Vec<&str> = self
            .conn
            .split_whitespace()
            .filter(|kv| !kv.starts_with("user="))
            .collect();
        format!("{} user={IMPORTER} dbname={db}", others.join(" "))
    }
    fn connect(&self, db: &str) -> Result<Client> {
        Client::connect(&self.url(db), NoTls).with_context(|| format!("connecting to {db}"))
    }
    fn psql(&self, db: &str, script: &str, vars: &[(&str, &str)]) -> Result<()> {
        let mut command = Command::new(self.bindir.join("psql"));
        command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.url(db)]);
        for (k, v) in vars {
            command.arg("-v").arg(format!("{k}={v}"));
        }
        let out = command.arg("-f").arg(self.root.join(script)).output()?;
        if !out.status.success() {
            bail!("{script} on {db}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
    fn exists(&self, db: &str) -> Result<bool> {
        Ok(self
            .connect("postgres")?
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])?
            .is_some())
    }
    fn create(&self, db: &str, template: Option<&str>) -> Result<()> {
        let template = template
            .map(|t| format!(" TEMPLATE {t}"))
            .unwrap_or_default();
        self.connect("postgres")?
            .batch_execute(&format!("CREATE DATABASE {db}{template}"))?;
        Ok(())
    }
    fn drop(&self, db: &str) -> Result<()> {
        self.connect("postgres")?
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
        Ok(())
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.connect("postgres")?
            .batch_execute(&format!("ALTER DATABASE {from} RENAME TO {to}"))?;
        Ok(())
    }
}

/// Creates the role [`IMPORTER`] once, and makes sure it is not a superuser.
fn ensure_importer(env: &Env) -> Result<()> {
    let mut client = env.connect("postgres")?;
    let found = client.query_opt(
        "SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = $1",
        &[&IMPORTER],
    )?;
    match found {
        None => client.batch_execute(&format!("CREATE ROLE {IMPORTER} LOGIN NOSUPERUSER"))?,
        Some(row) if row.get::<_, bool>(0) || !row.get::<_, bool>(1) => bail!(
            "the role {IMPORTER} must be able to log in and must not be a superuser: \
             ALTER ROLE {IMPORTER} LOGIN NOSUPERUSER"
        ),
        Some(_) => {}
    }
    if env.set_grant {
        // A run interrupted during the granted import left its grant behind.
        revoke_set(env)?;
    }
    Ok(())
}

/// Revokes [`IMPORTER`]'s `SET` on [`REPLICATION_ROLE`], and fails if it may still set it
/// (granted by another grantor, say), which would make the plain owner's import a granted one.
fn revoke_set(env: &Env) -> Result<()> {
    let mut client = env.connect("postgres")?;
    client.batch_execute(&format!(
        "REVOKE SET ON PARAMETER {REPLICATION_ROLE} FROM {IMPORTER}"
    ))?;
    if importer_may_set(&mut client)? {
        bail!(
            "{IMPORTER} may still set {REPLICATION_ROLE} after REVOKE SET ON PARAMETER \
             {REPLICATION_ROLE} FROM {IMPORTER}: another grantor granted it (see \
             pg_parameter_acl); revoke it by hand, the \"not superuser\" import must not have it"
        );
    }
    Ok(())
}

/// Whether the server lets [`IMPORTER`] set [`REPLICATION_ROLE`] (PostgreSQL 15+).
fn importer_may_set(client: &mut Client) -> Result<bool> {
    Ok(client
        .query_one(
            "SELECT has_parameter_privilege($1, $2, 'SET')",
            &[&IMPORTER, &REPLICATION_ROLE],
        )?
        .get(0))
}

/// `GRANT SET ON PARAMETER session_replication_role TO bench_importer`, in force while this
/// lives: dropping it revokes the grant, also when the import it was made for fails or panics.
struct SetGrant<'a> {
    env: &'a Env,
}

impl<'a> SetGrant<'a> {
    fn grant(env: &'a Env) -> Result<Self> {
        // The guard comes first, so that even a grant whose answer was lost is revoked.
        let guard = SetGrant { env };
        let mut client = env.connect("postgres")?;
        client.batch_execute(&format!(
            "GRANT SET ON PARAMETER {REPLICATION_ROLE} TO {IMPORTER}"
        ))?;
        anyhow::ensure!(
            importer_may_set(&mut client)?,
            "{IMPORTER} may not set {REPLICATION_ROLE} right after GRANT SET ON PARAMETER"
        );
        Ok(guard)
    }
}

impl Drop for SetGrant<'_> {
    fn drop(&mut self) {
        if let Err(e) = revoke_set(self.env) {
            eprintln!(
                "bench: could not revoke the grant: {e:#}; run REVOKE SET ON PARAMETER \
                 {REPLICATION_ROLE} FROM {IMPORTER} as a superuser (the next bench run tries too)"
            );
        }
    }
}

/// The databases of a dataset.
#[derive(Clone, Copy)]
enum Db {
    Source,
    /// The schema without rows: the template of each superuser import's target.
    Empty,
    /// `Empty` with its schemas, tables, sequences, types and functions owned by [`IMPORTER`].
    Owned,
    /// A superuser import's target, a clone of `Empty`.
    Target,
    /// An import by [`IMPORTER`]: a clone of `Owned`.
    OwnedTarget,
    /// An import by [`IMPORTER`] granted `SET` on [`REPLICATION_ROLE`]: a clone of `Owned`.
    GrantedTarget,
}

impl Dataset {
    fn database(&self, db: Db) -> String {
        let suffix = match db {
            Db::Source => "",
            Db::Empty => "_empty",
            Db::Owned => "_empty_owned",
            Db::Target => "_test",
            Db::OwnedTarget => "_owner_test",
            Db::GrantedTarget => "_owner_grant_test",
        };
        format!("bench_{}{suffix}", self.name)
    }
}

/// Builds the source and the empty-schema templates of a dataset, once.
fn ensure(env: &Env, d: &Dataset) -> Result<()> {
    let source = d.database(Db::Source);
    let empty = d.database(Db::Empty);
    let owned = d.database(Db::Owned);
    if !env.exists(&source)? {
        eprintln!("bench: generating {source} (once; kept for later runs)");
        let started = Instant::now();
        let building = format!("{source}_building");
        env.drop(&building)?;
        env.create(&building, None)?;
        if d.script.starts_with("fixtures/demo") {
            env.psql(&building, "fixtures/demo/schema.sql", &[])?;
        }
        env.psql(&building, d.script, d.vars)?;
        env.rename(&building, &source)?;
        let size: String = env
            .connect("postgres")?
            .query_one(
                "SELECT pg_size_pretty(pg_database_size($1::text::name))",
                &[&source],
            )?
            .get(0);
        eprintln!(
            "bench: generated {source} in {:.0} s ({size})",
            started.elapsed().as_secs_f64()
        );
    }
    if !env.exists(&empty)? {
        env.create(&empty, None)?;
        if d.script.starts_with("fixtures/demo") {
            env.psql(&empty, "fixtures/demo/schema.sql", &[])?;
        } else {
            env.psql(&empty, d.script, d.empty_vars)?;
        }
    }
    if !env.exists(&owned)? {
        let building = format!("{owned}_building");
        env.drop(&building)?;
        env.create(&building, Some(&empty))?;
        env.psql(
            &building,
            "fixtures/bench/owned_by.sql",
            &[("owner", IMPORTER)],
        )?;
        env.rename(&building, &owned)?;
    }
    Ok(())
}

struct Timed {
    seconds: f64,
    peak_rss_kb: i64,
    stdout: String,
}

/// Runs seedsnap, timing it and reading its peak RSS while it runs.
fn run_seedsnap(bin: &Path, args: &[&str], target_env: (&str, &str)) -> Result<Timed> {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    // The project's seedsnap.toml describes the bundled demo; benchmarks measure the bare
    // tool, on every dataset alike.
    let child = Command::new(bin)
        .arg("--no-config")
        .args(args)
        .env(target_env.0, target_env.1)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.unwrap();
    let mut stderr = child.stderr.unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).ok();
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).ok();
        text
    });
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = {
        let done = done.clone();
        let name: String = bin
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(15).collect())
            .unwrap_or_default();
        std::thread::spawn(move || peak_rss_kb(pid, &name, &done))
    };
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let peak_rss_kb = peak.join().unwrap();
    anyhow::ensure!(rc == pid, "wait4 failed");
    let stdout = reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let exit = std::process::ExitStatus::from_raw(status);
    if !exit.success() {
        bail!("seedsnap {args:?} failed ({exit}): {stderr}");
    }
    Ok(Timed {
        seconds,
        peak_rss_kb,
        stdout,
    })
}

/// The child's peak resident set (`VmHWM` of `/proc/<pid>/status`), read every millisecond
/// until it exits. Not `wait4`'s `ru_maxrss`: Linux carries the spawning process's own high
/// water mark (this harness's, which holds whole snapshots in memory for the own floor)
/// across the child's `exec`, so every small run read as large as the harness. Read only
/// once the child runs `name` (after its exec); the last millisecond may be missed.
fn peak_rss_kb(pid: libc::pid_t, name: &str, done: &std::sync::atomic::AtomicBool) -> i64 {
    let mut peak = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
            if let Some(hwm) = hwm {
                peak = peak.max(hwm);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    peak
}

fn rows_read(env: &Env, db: &str) -> Result<i64> {
    // The exporting backend has exited and flushed its counters; make sure we read fresh ones.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut client = env.connect(db)?;
    client.batch_execute("SELECT pg_stat_clear_snapshot()")?;
    Ok(client
        .query_one(
            "SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)::int8
               FROM pg_stat_user_tables",
            &[],
        )?
        .get(0))
}

/// The floor: one COPY … ORDER BY key LIMIT 100 per table, then loading those rows with
/// foreign-key triggers off. Returns (export seconds, load seconds).
fn floor(env: &Env, source: &str, empty: &str) -> Result<(f64, f64)> {
    // The table list is not part of the floor: only connecting and the COPYs are timed.
    let catalog = {
        let mut client = env.connect(source)?;
        Catalog::read(&mut client, &[])?
    };
    let started = Instant::now();
    let mut client = env.connect(source)?;
    let mut txn = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let mut copies = Vec::new();
    for table in &catalog.tables {
        let columns: Vec<String> = table
            .stored_columns()
            .map(|c| seedsnap::catalog::quote_ident(&c.name))
            .collect();
        // A table without a key has no order to follow: its first 100 rows.
        let order = match table.row_key() {
            seedsnap::catalog::RowKey::AllColumns => String::new(),
            _ => format!(" ORDER BY {}", table.order_by("t.")),
        };
        let sql = format!(
            "COPY (SELECT {} FROM {} AS t{order} LIMIT 100) TO STDOUT",
            columns.join(", "),
            table.from_clause(),
        );
        let mut data = Vec::new();
        std::io::copy(&mut txn.copy_out(sql.as_str())?, &mut data)?;
        copies.push((table.name.sql(), columns.join(", "), data));
    }
    txn.commit()?;
    let export = started.elapsed().as_secs_f64();

    let load = load_replica(env, empty, "bench_floor_target", &copies)?;
    Ok((export, load))
}

/// Seconds to load `copies` (table, column list, COPY text without header) into a new clone of
/// `empty` named `target` with foreign-key triggers off; the clone is dropped afterwards.
fn load_replica(
    env: &Env,
    empty: &str,
    target: &str,
    copies: &[(String, String, Vec<u8>)],
) -> Result<f64> {
    env.drop(target)?;
    env.create(target, Some(empty))?;
    let started = Instant::now();
    let mut client = env.connect(target)?;
    let mut txn = client.transaction()?;
    txn.batch_execute("SET session_replication_role = replica")?;
    for (table, columns, data) in copies {
        let mut writer = txn.copy_in(format!("COPY {table} ({columns}) FROM STDIN").as_str())?;
        writer.write_all(data)?;
        writer.finish()?;
    }
    txn.commit()?;
    let load = started.elapsed().as_secs_f64();
    drop(client);
    env.drop(target)?;
    Ok(load)
}

/// The own floor: seedsnap's snapshot files, as they are, COPYed into an empty clone with
/// foreign-key triggers off and nothing staged or verified. Returns the load seconds.
fn own_floor(env: &Env, dir: &Path, empty: &str) -> Result<f64> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)?;
    let mut copies = Vec::new();
    for table in manifest["tables"].as_array().context("manifest: tables")? {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let name = format!(
            "{}.{}",
            seedsnap::catalog::quote_ident(&text(&table["schema"])),
            seedsnap::catalog::quote_ident(&text(&table["name"]))
        );
        let columns: Vec<String> = table["columns"]
            .as_array()
            .context("manifest: columns")?
            .iter()
            .map(|c| seedsnap::catalog::quote_ident(&text(&c["name"])))
            .collect();
        let mut data = std::fs::read(dir.join(text(&table["file"])))?;
        // The file's first line is its header.
        let header = data
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |n| n + 1);
        data.drain(..header);
        copies.push((name, columns.join(", "), data));
    }
    // Reading the files is not part of the floor, as the floor's own COPY out is not.
    load_replica(env, empty, "bench_own_floor_target", &copies)
}

/// Whether an import's `--json` report says it took the fast path (foreign-key triggers off,
/// every key checked afterwards, by the snapshot's files or by batched counting queries), which
/// a superuser, or a role granted
/// `SET` on [`REPLICATION_ROLE`], may take. Fails when the report names no load path, so that a
/// renamed field cannot pass for "not taken".
fn batched_key_checks(report: &str) -> Result<bool> {
    let report: serde_json::Value =
        serde_json::from_str(report).context("reading the import's --json report")?;
    if let Some(batched) = report.get("batched_key_checks") {
        return batched
            .as_bool()
            .context("the import's report: batched_key_checks is not a boolean");
    }
    if let Some(path) = report.get("load_path") {
        let path = path.to_string().to_lowercase();
        return Ok(path.contains("superuser") || path.contains("replica"));
    }
    bail!(
        "the import's --json report names no load path (neither batched_key_checks nor \
         load_path): update batched_key_checks in benches/seedsnap-bench.rs"
    )
}

/// One export and its imports (each into a fresh empty clone) with one binary.
struct Pass {
    export: Timed,
    /// By the bench role, a superuser.
    import: Timed,
    /// By [`IMPORTER`], who owns the tables; `None` through the latency proxy.
    owner_import: Option<Timed>,
    /// By [`IMPORTER`] granted `SET` on [`REPLICATION_ROLE`]; `None` through the latency proxy
    /// and on servers before PostgreSQL 15.
    granted_import: Option<Timed>,
    /// Whether the granted import took the fast path.
    granted_fast_path: bool,
    /// Whether the superuser import took its fast path.
    fast_path: bool,
    /// How the plain owner's import checked keys (its report's `key_checks`; `per_row` for a
    /// build that does not say).
    owner_key_checks: String,
    rows: f64,
    tables: usize,
    read_per_row: f64,
}

impl Pass {
    fn sample(&self) -> Sample {
        let mb = |t: &Timed| t.peak_rss_kb as f64 / 1024.0;
        let owner = self.owner_import.as_ref();
        let granted = self.granted_import.as_ref();
        Sample {
            export_s: self.export.seconds,
            import_s: self.import.seconds,
            owner_import_s: owner.map_or(0.0, |t| t.seconds),
            granted_import_s: granted.map_or(0.0, |t| t.seconds),
            export_rss_mb: mb(&self.export),
            import_rss_mb: mb(&self.import),
            owner_import_rss_mb: owner.map_or(0.0, mb),
            granted_import_rss_mb: granted.map_or(0.0, mb),
            rows: self.rows,
            read_per_row: self.read_per_row,
        }
    }
}

/// An export, the superuser import and the imports by [`IMPORTER`] (without, then with the
/// grant), with the binary `bin`.
fn pass(env: &Env, bin: &Path, d: &Dataset, dir: &Path, repeats: usize) -> Result<Pass> {
    let mut p = pass_via(env, &env.conn, bin, d, dir, repeats)?;
    let (owner, key_checks) = median_of(repeats, || owner_import(env, bin, d, dir))?;
    p.owner_import = Some(owner);
    p.owner_key_checks = key_checks;
    if env.set_grant {
        let (import, fast_path) = median_of(repeats, || granted_import(env, bin, d, dir))?;
        p.granted_import = Some(import);
        p.granted_fast_path = fast_path;
    }
    Ok(p)
}

/// An import shorter than this is timed [`SHORT_IMPORT_REPEATS`] times in every run, its
/// median kept (and the own floor likewise): a tenth of a second moves by a fifth from one
/// import to the next on a shared machine, more than a target's margin.
const SHORT_IMPORT_S: f64 = 0.5;
const SHORT_IMPORT_REPEATS: usize = 3;

/// `measure` run `repeats` times: the run of median seconds, with the highest peak RSS of all.
fn median_of<T>(
    repeats: usize,
    mut measure: impl FnMut() -> Result<(Timed, T)>,
) -> Result<(Timed, T)> {
    let mut runs = (0..repeats.max(1))
        .map(|_| measure())
        .collect::<Result<Vec<_>>>()?;
    let peak = runs.iter().map(|(t, _)| t.peak_rss_kb).max().unwrap_or(0);
    runs.sort_by(|a, b| a.0.seconds.total_cmp(&b.0.seconds));
    let (mut timed, value) = runs.swap_remove(runs.len() / 2);
    timed.peak_rss_kb = peak;
    Ok((timed, value))
}

/// The export and the superuser import, with seedsnap connecting through `conn` (the latency
/// proxy's address, or the cluster's).
fn pass_via(
    env: &Env,
    conn: &str,
    bin: &Path,
    d: &Dataset,
    dir: &Path,
    repeats: usize,
) -> Result<Pass> {
    let source = d.database(Db::Source);
    let empty = d.database(Db::Empty);
    let dir_text = dir.to_str().unwrap().to_string();
    let source_url = format!("{conn} dbname={source}");
    let target = d.database(Db::Target);
    let target_url = format!("{conn} dbname={target}");
    let export_args = ["export", "-q", "--json", "--dir", &dir_text];
    env.connect(&source)?
        .batch_execute("SELECT pg_stat_reset()")?;
    let export = run_seedsnap(bin, &export_args, ("SEEDSNAP_SOURCE", &source_url))?;
    let report: serde_json::Value = serde_json::from_str(&export.stdout)?;
    let rows = report["rows"].as_f64().unwrap_or(0.0);
    let tables = report["tables"].as_array().map_or(0, |t| t.len());
    let read = rows_read(env, &source)? as f64;
    let (import, fast_path) = median_of(repeats, || {
        env.drop(&target)?;
        env.create(&target, Some(&empty))?;
        let import = run_seedsnap(
            bin,
            &import_args(&dir_text),
            ("SEEDSNAP_TARGET", &target_url),
        );
        env.drop(&target)?;
        let import = import?;
        let fast_path = batched_key_checks(&import.stdout)?;
        Ok((import, fast_path))
    })?;
    Ok(Pass {
        export,
        import,
        owner_import: None,
        granted_import: None,
        granted_fast_path: false,
        fast_path,
        owner_key_checks: String::new(),
        rows,
        tables,
        read_per_row: read / rows.max(1.0),
    })
}

fn import_args(dir: &str) -> [&str; 5] {
    ["import", "-q", "--json", "--dir", dir]
}

/// The import by [`IMPORTER`] into a fresh clone whose tables it owns, without the grant, and
/// how it checked keys (`key_checks` of its report: `re_added` or `per_row`); fails if the
/// import took the fast path (batched key checks), which this figure is meant to leave out.
fn owner_import(env: &Env, bin: &Path, d: &Dataset, dir: &Path) -> Result<(Timed, String)> {
    if env.set_grant && importer_may_set(&mut env.connect("postgres")?)? {
        bail!(
            "{}: {IMPORTER} may set {REPLICATION_ROLE} before its plain import; the \"not \
             superuser\" figure would not measure what it says",
            d.name
        );
    }
    let (import, fast_path) = importer_import(env, bin, d, dir, Db::OwnedTarget)?;
    if fast_path {
        bail!(
            "{}: the import by {IMPORTER}, who is not a superuser and not granted SET on \
             {REPLICATION_ROLE}, reports batched key checks (triggers off); the \"not \
             superuser\" figure would not measure what it says",
            d.name
        );
    }
    let key_checks = key_checks(&import.stdout)?;
    Ok((import, key_checks))
}

/// The `key_checks` of an import's `--json` report; `per_row` when it has none (a build from
/// before that field, which checked a plain owner's keys row by row).
fn key_checks(report: &str) -> Result<String> {
    let report: serde_json::Value =
        serde_json::from_str(report).context("reading the import's --json report")?;
    Ok(report
        .get("key_checks")
        .and_then(|v| v.as_str())
        .unwrap_or("per_row")
        .to_string())
}

/// The import by [`IMPORTER`] into a fresh clone whose tables it owns, with `SET` on
/// [`REPLICATION_ROLE`] granted for this import only; returns it and whether it took the fast
/// path. Fails if this build's import did not (a `--compare` build may not know how to).
fn granted_import(env: &Env, bin: &Path, d: &Dataset, dir: &Path) -> Result<(Timed, bool)> {
    let grant = SetGrant::grant(env)?;
    let imported = importer_import(env, bin, d, dir, Db::GrantedTarget);
    drop(grant);
    let (import, fast_path) = imported?;
    if bin == env.seedsnap && !fast_path {
        bail!(
            "{}: the import by {IMPORTER}, granted SET on {REPLICATION_ROLE}, kept the per-row \
             foreign-key triggers (its report says batched_key_checks: false); the \"owner + \
             SET grant\" figure would not measure what it says",
            d.name
        );
    }
    Ok((import, fast_path))
}

/// An import by [`IMPORTER`] into a fresh clone (`target`) of the owned template, dropped
/// afterwards; returns it and whether its report says batched key checks.
fn importer_import(
    env: &Env,
    bin: &Path,
    d: &Dataset,
    dir: &Path,
    target: Db,
) -> Result<(Timed, bool)> {
    let owned = d.database(Db::Owned);
    let target = d.database(target);
    let dir_text = dir.to_str().unwrap().to_string();
    env.drop(&target)?;
    env.create(&target, Some(&owned))?;
    let url = env.importer_url(&target);
    let import = run_seedsnap(bin, &import_args(&dir_text), ("SEEDSNAP_TARGET", &url));
    env.drop(&target)?;
    let import = import?;
    let fast_path = batched_key_checks(&import.stdout)?;
    Ok((import, fast_path))
}

fn bench(env: &Env, d: &Dataset, runs: usize) -> Result<Figures> {
    ensure(env, d)?;
    let (source, empty) = (d.database(Db::Source), d.database(Db::Empty));
    let dir = env.scratch.join(format!("snapshot_{}", d.name));
    let old_dir = env.scratch.join(format!("snapshot_{}_previous", d.name));
    // Warm-up.
    let warm = pass(env, &env.seedsnap, d, &dir, 1)?;
    if let Some(old) = &env.previous {
        pass(env, old, d, &old_dir, 1)?;
    }
    floor(env, &source, &empty)?;
    own_floor(env, &dir, &empty)?;
    let repeats = match warm.import.seconds < SHORT_IMPORT_S {
        true => SHORT_IMPORT_REPEATS,
        false => 1,
    };

    let (mut this, mut previous) = (Vec::new(), Vec::new());
    let mut previous_granted_fast_path = true;
    let (mut floor_export, mut floor_load, mut own) = (Vec::new(), Vec::new(), Vec::new());
    let mut new_dir = Vec::new();
    let (mut every_row, mut every_row_previous) = (Vec::new(), Vec::new());
    let mut fast_path = true;
    let mut owner_key_checks: Vec<String> = Vec::new();
    let mut tables = 0;
    for run in 1..=runs {
        // The previous build, when compared, runs right before this one in every run, so that
        // both see the same load on a shared machine.
        if let Some(old) = &env.previous {
            let p = pass(env, old, d, &old_dir, repeats)?;
            eprintln!(
                "bench: {} run {run}: previous build: {}",
                d.name,
                describe(&p)
            );
            previous_granted_fast_path &= p.granted_fast_path;
            previous.push(p.sample());
        }
        let p = pass(env, &env.seedsnap, d, &dir, repeats)?;
        // Right beside the imports it is compared with, so that both see the same machine.
        let mut owns = (0..repeats)
            .map(|_| own_floor(env, &dir, &empty))
            .collect::<Result<Vec<_>>>()?;
        let own_s = median(&mut owns);
        tables = p.tables;
        fast_path &= p.fast_path;
        if !owner_key_checks.contains(&p.owner_key_checks) {
            owner_key_checks.push(p.owner_key_checks.clone());
        }
        let new_dir_s = export_into_new_directory(env, d)?;
        if d.name == EVERY_ROW_DATASET {
            if let Some(old) = &env.previous {
                every_row_previous.push(export_every_row(env, old, d)?);
            }
            let whole = export_every_row(env, &env.seedsnap, d)?;
            // Hundreds of MB just written: on disk before anything else is timed, so that
            // their write-back does not run under the next measurement.
            // SAFETY: sync(2) takes no arguments and cannot fail.
            unsafe { libc::sync() };
            eprintln!(
                "bench: {} run {run}: every row (--limit all): {} rows, {:.3} s, peak RSS {:.1} MB",
                d.name, whole.rows, whole.seconds, whole.peak_rss_mb
            );
            every_row.push(whole);
        }
        let (floor_e, floor_l) = floor(env, &source, &empty)?;
        let s = p.sample();
        eprintln!(
            "bench: {} run {run}: {}; into a new directory {new_dir_s:.3} s; floor \
             {floor_e:.3} s / {floor_l:.3} s, own floor {own_s:.3} s (import {:.1}x, not \
             superuser {:.1}x, owner + SET grant {:.1}x)",
            d.name,
            describe(&p),
            s.import_s / own_s,
            s.owner_import_s / own_s,
            s.granted_import_s / own_s,
        );
        this.push(s);
        floor_export.push(floor_e);
        floor_load.push(floor_l);
        own.push(own_s);
        new_dir.push(new_dir_s);
    }
    let remote = if d.name == REMOTE_DATASET {
        Some(remote(env, d, &dir, runs)?)
    } else {
        None
    };
    Ok(Figures {
        this: Sample::medians(&this),
        floor_export_s: median(&mut floor_export),
        floor_load_s: median(&mut floor_load),
        own_floor_s: median(&mut own),
        fast_path,
        owner_key_checks: owner_key_checks.join(" or "),
        remote,
        export_new_dir_s: median(&mut new_dir),
        every_row: EveryRow::medians(&every_row),
        every_row_previous: EveryRow::medians(&every_row_previous),
        previous: (!previous.is_empty()).then(|| Sample::medians(&previous)),
        previous_granted_fast_path,
        tables,
    })
}

/// Seconds of an export by this build into a directory that does not exist yet, so that no
/// file can be linked from a previous snapshot.
fn export_into_new_directory(env: &Env, d: &Dataset) -> Result<f64> {
    let (export, report) = export_into_fresh_directory(env, &env.seedsnap, d, "new", &[])?;
    if report["files_unchanged"].as_u64().unwrap_or(0) != 0 {
        bail!("{}: an export into a new directory linked files", d.name);
    }
    Ok(export.seconds)
}

/// An export by `bin` of every row of the dataset (`--limit all`) into a directory that does
/// not exist yet.
fn export_every_row(env: &Env, bin: &Path, d: &Dataset) -> Result<EveryRow> {
    let (export, report) =
        export_into_fresh_directory(env, bin, d, "every_row", &["--limit", "all"])?;
    Ok(EveryRow {
        rows: report["rows"]
            .as_u64()
            .context("the export's report: rows")?,
        seconds: export.seconds,
        peak_rss_mb: export.peak_rss_kb as f64 / 1024.0,
    })
}

/// An export by `bin` with `extra` arguments into the scratch directory `snapshot_<dataset>_
/// <suffix>`, emptied first and removed afterwards: the run and its `--json` report.
fn export_into_fresh_directory(
    env: &Env,
    bin: &Path,
    d: &Dataset,
    suffix: &str,
    extra: &[&str],
) -> Result<(Timed, serde_json::Value)> {
    let dir = env.scratch.join(format!("snapshot_{}_{suffix}", d.name));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let source_url = format!("{} dbname={}", env.conn, d.database(Db::Source));
    let dir_text = dir.to_str().unwrap().to_string();
    let mut args = vec!["export", "-q", "--json", "--dir", &dir_text];
    args.extend_from_slice(extra);
    let export = run_seedsnap(bin, &args, ("SEEDSNAP_SOURCE", &source_url));
    std::fs::remove_dir_all(&dir).ok();
    let export = export?;
    let report = serde_json::from_str(&export.stdout)?;
    Ok((export, report))
}

/// One pass's figures, for the progress lines.
fn describe(p: &Pass) -> String {
    let s = p.sample();
    let path = |fast: bool| {
        if fast {
            "fast path"
        } else {
            "per-row key checks"
        }
    };
    format!(
        "export {:.3} s, import {:.3} s ({}), not superuser {:.3} s ({}), owner + SET grant \
         {:.3} s ({}), peak RSS {:.1} / {:.1} / {:.1} / {:.1} MB, {:.2} rows read per row",
        s.export_s,
        s.import_s,
        path(p.fast_path),
        s.owner_import_s,
        p.owner_key_checks,
        s.granted_import_s,
        if p.granted_import.is_some() {
            path(p.granted_fast_path)
        } else {
            "not timed"
        },
        s.export_rss_mb,
        s.import_rss_mb,
        s.owner_import_rss_mb,
        s.granted_import_rss_mb,
        s.read_per_row,
    )
}

/// The export and the import through a proxy adding [`REMOTE_DELAY`] to each round trip, as a
/// server that is not on this machine: medians of up to 3 runs.
fn remote(env: &Env, d: &Dataset, dir: &Path, runs: usize) -> Result<(f64, f64)> {
    let socket =
        unix_socket(&env.conn).context("the remote row needs BENCH_CONN's host and port")?;
    let proxy = latency_proxy::LatencyProxy::start(socket, REMOTE_DELAY)?;
    let user = conn_field(&env.conn, "user").unwrap_or_default();
    let conn = format!("host=127.0.0.1 port={} user={user}", proxy.port);
    let (mut export, mut import) = (Vec::new(), Vec::new());
    for run in 1..=runs.min(3) {
        let p = pass_via(env, &conn, &env.seedsnap, d, dir, 1)?;
        eprintln!(
            "bench: {} run {run} through a {} ms proxy: export {:.3} s, import {:.3} s",
            d.name,
            REMOTE_DELAY.as_millis(),
            p.export.seconds,
            p.import.seconds
        );
        export.push(p.export.seconds);
        import.push(p.import.seconds);
    }
    Ok((median(&mut export), median(&mut import)))
}

/// `key=value` from a libpq keyword string.
fn conn_field(conn: &str, key: &str) -> Option<String> {
    conn.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(String::from))
}

/// The Unix socket a `host=/dir port=N` connection string names.
fn unix_socket(conn: &str) -> Option<PathBuf> {
    let host = conn_field(conn, "host").filter(|h| h.starts_with('/'))?;
    let port = conn_field(conn, "port").unwrap_or_else(|| "5432".into());
    Some(PathBuf::from(host).join(format!(".s.PGSQL.{port}")))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().next().and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or("?".into(), |kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0));
    format!("{cores} cores ({cpu}), {memory} memory")
}

fn main() -> Result<()> {
    let mut runs = 5;
    let mut only: Option<Vec<String>> = None;
    let mut write: Option<PathBuf> = None;
    let mut previous: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--only" => {
                only = Some(
                    args.next()
                        .context("--only a,b")?
                        .split(',')
                        .map(String::from)
                        .collect(),
                )
            }
            "--compare" => previous = Some(PathBuf::from(args.next().context("--compare BIN")?)),
            "--write" => write = Some(PathBuf::from(args.next().context("--write FILE")?)),
            // `cargo bench` passes it to every bench target.
            "--bench" => {}
            other => bail!(
                "unknown argument {other}; use --runs N, --only NAMES, --write FILE, --compare BIN"
            ),
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut env = Env {
        conn: std::env::var("BENCH_CONN").context("BENCH_CONN is not set (run make bench)")?,
        bindir: PathBuf::from(std::env::var("BENCH_BINDIR").context("BENCH_BINDIR is not set")?),
        seedsnap: std::env::var("SEEDSNAP_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target/release/seedsnap")),
        previous,
        scratch: std::env::temp_dir().join("seedsnap-bench"),
        root,
        set_grant: false,
    };
    std::fs::create_dir_all(&env.scratch)?;
    if !env.seedsnap.exists() {
        bail!(
            "{} is missing: cargo build --release",
            env.seedsnap.display()
        );
    }
    let (server_version, server_version_num): (String, String) = {
        let row = env.connect("postgres")?.query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')",
            &[],
        )?;
        (row.get(0), row.get(1))
    };
    env.set_grant = server_version_num.parse::<u32>()? >= 150_000;
    if !env.set_grant {
        eprintln!(
            "bench: PostgreSQL {server_version} has no GRANT SET ON PARAMETER (15+): the \
             \"owner + SET grant\" import is not timed"
        );
    }
    if let Some(unknown) = only
        .iter()
        .flatten()
        .find(|o| !DATASETS.iter().any(|d| d.name == o.as_str()))
    {
        let names: Vec<&str> = DATASETS.iter().map(|d| d.name).collect();
        bail!(
            "--only {unknown}: no such dataset; the datasets are {}",
            names.join(",")
        );
    }
    ensure_importer(&env)?;
    let mut datasets = Vec::new();
    for d in DATASETS {
        if let Some(only) = &only {
            if !only.iter().any(|o| o == d.name) {
                continue;
            }
        }
        let figures = bench(&env, d, runs)?;
        datasets.push((d.name, figures));
    }
    let report = render::render(&render::Results {
        datasets,
        runs,
        machine: machine(),
        server: server_version,
        remote_delay: REMOTE_DELAY,
        importer: IMPORTER,
        set_grant: env.set_grant,
    });
    print!("{report}");
    if let Some(path) = write {
        std::fs::write(&path, report)?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}
