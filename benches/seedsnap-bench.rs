//! `make bench`: seedsnap's export and import timed against a floor, on the bundled demo at
//! scale 0.1 and 1, on a self-referencing table over 500,000 rows (`fixtures/bench/selfref.sql`)
//! and on generated wide schemas of 1,000 and 3,000 tables.
//!
//! Databases live in the throwaway local cluster of `scripts/local-pg.sh` and are generated
//! once (delete them, or `make clean-local-db`, to regenerate). For each database, after a
//! warm-up, every figure is the median of `--runs` runs (default 5):
//! - export and import wall time (import includes verification, into a fresh empty clone);
//! - the client's peak RSS (`wait4` rusage);
//! - rows exported, and source rows read per exported row (`pg_stat_user_tables`:
//!   `seq_tup_read + idx_tup_fetch`, reset before each export);
//! - the floor: one `COPY (SELECT * … ORDER BY key LIMIT 100)` per table on one connection, no
//!   parents, and loading those rows with `session_replication_role = replica` (no FK checks);
//! - the own floor: a COPY of seedsnap's own snapshot files into an empty clone with
//!   `session_replication_role = replica` (no FK checks, nothing verified), which is what the
//!   import's time is compared with.
//!
//! On the 1,000-table schema it also times the export and the import through a proxy of its
//! own (`support/latency_proxy.rs`, loopback only) that adds 5 ms to each round trip: the
//! remote-server row.
//!
//! Environment: `BENCH_CONN` (libpq string without dbname), `BENCH_BINDIR` (server binaries,
//! for psql), set by the Makefile; `SEEDSNAP_BIN` to time another seedsnap binary. `--compare BIN`
//! also times a previous build, alternating with this one in every run (for before/after rows).

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use postgres::{Client, NoTls};

use seedsnap::catalog::Catalog;

#[path = "support/latency_proxy.rs"]
mod latency_proxy;

/// The latency the remote-server row adds to each round trip.
const REMOTE_DELAY: Duration = Duration::from_millis(5);
/// The dataset measured through the latency proxy.
const REMOTE_DATASET: &str = "wide_1000";

struct Dataset {
    name: &'static str,
    /// Generator: (script, psql variables).
    script: &'static str,
    vars: &'static [(&'static str, &'static str)],
    empty_vars: &'static [(&'static str, &'static str)],
    /// The targets for this dataset, as text.
    targets: &'static str,
}

const DATASETS: &[Dataset] = &[
    Dataset {
        name: "demo_0_1",
        script: "fixtures/demo/generate.sql",
        vars: &[("scale", "0.1")],
        empty_vars: &[],
        targets: "rows read <= 3 per exported row; RSS <= 20 MB",
    },
    Dataset {
        name: "demo_1",
        script: "fixtures/demo/generate.sql",
        vars: &[("scale", "1")],
        empty_vars: &[],
        targets: "export <= 0.25 s; import <= 0.15 s; rows read <= 3 per row; export time per row <= 1.3x scale 0.1; RSS <= 20 MB",
    },
    Dataset {
        name: "selfref",
        script: "fixtures/bench/selfref.sql",
        vars: &[("rows", "500000")],
        empty_vars: &[("rows", "0")],
        targets: "rows read <= 3 per exported row (a users.referred_by chain over 500,000 users)",
    },
    Dataset {
        name: "wide_1000",
        script: "fixtures/bench/wide.sql",
        vars: &[("tables", "1000"), ("rows", "1000")],
        empty_vars: &[("tables", "1000"), ("rows", "0")],
        targets: "export <= 2 s; import <= 2 s; RSS <= 20 MB",
    },
    Dataset {
        name: "wide_3000",
        script: "fixtures/bench/wide.sql",
        vars: &[("tables", "3000"), ("rows", "1000")],
        empty_vars: &[("tables", "3000"), ("rows", "0")],
        targets: "at most 3x the 1,000-table times; RSS <= 20 MB",
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
}

impl Env {
    fn url(&self, db: &str) -> String {
        format!("{} dbname={db}", self.conn)
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
}

/// Builds the source and the empty-schema template of a dataset, once.
fn ensure(env: &Env, d: &Dataset) -> Result<(String, String)> {
    let source = format!("bench_{}", d.name);
    let empty = format!("bench_{}_empty", d.name);
    if !env.exists(&source)? {
        eprintln!("bench: generating {source} (once; kept for later runs)");
        let building = format!("{source}_building");
        env.drop(&building)?;
        env.create(&building, None)?;
        if d.script.starts_with("fixtures/demo") {
            env.psql(&building, "fixtures/demo/schema.sql", &[])?;
        }
        env.psql(&building, d.script, d.vars)?;
        env.connect("postgres")?
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {source}"))?;
    }
    if !env.exists(&empty)? {
        env.create(&empty, None)?;
        if d.script.starts_with("fixtures/demo") {
            env.psql(&empty, "fixtures/demo/schema.sql", &[])?;
        } else {
            env.psql(&empty, d.script, d.empty_vars)?;
        }
    }
    Ok((source, empty))
}

struct Timed {
    seconds: f64,
    peak_rss_kb: i64,
    stdout: String,
}

/// Runs seedsnap, timing it and reading its peak RSS from wait4.
fn run_seedsnap(bin: &std::path::Path, args: &[&str], target_env: (&str, &str)) -> Result<Timed> {
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
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(rc == pid, "wait4 failed");
    let stdout = reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let exit = std::process::ExitStatus::from_raw(status);
    if !exit.success() {
        bail!("seedsnap {args:?} failed ({exit}): {stderr}");
    }
    Ok(Timed {
        seconds,
        peak_rss_kb: usage.ru_maxrss,
        stdout,
    })
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
fn own_floor(env: &Env, dir: &std::path::Path, empty: &str) -> Result<f64> {
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

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

#[derive(Default, Clone)]
struct Figures {
    export_s: f64,
    import_s: f64,
    export_rss_mb: f64,
    import_rss_mb: f64,
    rows: f64,
    read_per_row: f64,
    floor_export_s: f64,
    floor_load_s: f64,
    own_floor_s: f64,
    /// Export and import seconds through the latency proxy (medians).
    remote: Option<(f64, f64)>,
    /// The previous build's (export s, import s, rows read per row), with `--compare`.
    previous: Option<(f64, f64, f64)>,
    tables: usize,
}

/// One export and one import (into a fresh empty clone) with the binary `bin`.
struct Pass {
    export: Timed,
    import: Timed,
    rows: f64,
    tables: usize,
    read_per_row: f64,
}

fn pass(env: &Env, bin: &std::path::Path, d: &Dataset, dir: &std::path::Path) -> Result<Pass> {
    pass_via(env, &env.conn, bin, d, dir)
}

/// [`pass`], with seedsnap connecting through `conn` (the latency proxy's address).
fn pass_via(
    env: &Env,
    conn: &str,
    bin: &std::path::Path,
    d: &Dataset,
    dir: &std::path::Path,
) -> Result<Pass> {
    let source = format!("bench_{}", d.name);
    let empty = format!("bench_{}_empty", d.name);
    let dir_text = dir.to_str().unwrap().to_string();
    let source_url = format!("{conn} dbname={source}");
    let target = format!("bench_{}_test", d.name);
    let target_url = format!("{conn} dbname={target}");
    let export_args = ["export", "-q", "--json", "--dir", &dir_text];
    let import_args = ["import", "-q", "--json", "--dir", &dir_text];
    env.connect(&source)?
        .batch_execute("SELECT pg_stat_reset()")?;
    let export = run_seedsnap(bin, &export_args, ("SEEDSNAP_SOURCE", &source_url))?;
    let report: serde_json::Value = serde_json::from_str(&export.stdout)?;
    let rows = report["rows"].as_f64().unwrap_or(0.0);
    let tables = report["tables"].as_array().map_or(0, |t| t.len());
    let read = rows_read(env, &source)? as f64;
    env.drop(&target)?;
    env.create(&target, Some(&empty))?;
    let import = run_seedsnap(bin, &import_args, ("SEEDSNAP_TARGET", &target_url))?;
    env.drop(&target)?;
    Ok(Pass {
        export,
        import,
        rows,
        tables,
        read_per_row: read / rows.max(1.0),
    })
}

fn bench(env: &Env, d: &Dataset, runs: usize) -> Result<Figures> {
    let (source, empty) = ensure(env, d)?;
    let dir = env.scratch.join(format!("snapshot_{}", d.name));
    let old_dir = env.scratch.join(format!("snapshot_{}_previous", d.name));
    // Warm-up.
    pass(env, &env.seedsnap, d, &dir)?;
    if let Some(old) = &env.previous {
        pass(env, old, d, &old_dir)?;
    }
    floor(env, &source, &empty)?;
    own_floor(env, &dir, &empty)?;

    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); 12];
    let mut tables = 0;
    for run in 1..=runs {
        // The previous build, when compared, runs right before this one in every run, so that
        // both see the same load on a shared machine.
        let (old_export, old_import, old_read) = match &env.previous {
            Some(old) => {
                let p = pass(env, old, d, &old_dir)?;
                eprintln!(
                    "bench: {} run {run}: previous build: export {:.3} s, import {:.3} s, \
                     peak RSS {:.1} / {:.1} MB, {:.2} rows read per row",
                    d.name,
                    p.export.seconds,
                    p.import.seconds,
                    p.export.peak_rss_kb as f64 / 1024.0,
                    p.import.peak_rss_kb as f64 / 1024.0,
                    p.read_per_row,
                );
                (p.export.seconds, p.import.seconds, p.read_per_row)
            }
            None => (0.0, 0.0, 0.0),
        };
        let p = pass(env, &env.seedsnap, d, &dir)?;
        tables = p.tables;
        let (floor_export, floor_load) = floor(env, &source, &empty)?;
        let own = own_floor(env, &dir, &empty)?;
        eprintln!(
            "bench: {} run {run}: export {:.3} s, import {:.3} s, floor {:.3} s / {:.3} s, \
             own floor {own:.3} s (import {:.1}x), peak RSS {:.1} / {:.1} MB, {:.2} rows read per row",
            d.name,
            p.export.seconds,
            p.import.seconds,
            floor_export,
            floor_load,
            p.import.seconds / own,
            p.export.peak_rss_kb as f64 / 1024.0,
            p.import.peak_rss_kb as f64 / 1024.0,
            p.read_per_row,
        );
        for (i, v) in [
            p.export.seconds,
            p.import.seconds,
            p.export.peak_rss_kb as f64 / 1024.0,
            p.import.peak_rss_kb as f64 / 1024.0,
            p.rows,
            p.read_per_row,
            floor_export,
            floor_load,
            own,
            old_export,
            old_import,
            old_read,
        ]
        .into_iter()
        .enumerate()
        {
            columns[i].push(v);
        }
    }
    let m: Vec<f64> = columns.iter_mut().map(|c| median(c)).collect();
    let remote = if d.name == REMOTE_DATASET {
        Some(remote(env, d, &dir, runs)?)
    } else {
        None
    };
    Ok(Figures {
        remote,
        export_s: m[0],
        import_s: m[1],
        export_rss_mb: m[2],
        import_rss_mb: m[3],
        rows: m[4],
        read_per_row: m[5],
        floor_export_s: m[6],
        floor_load_s: m[7],
        own_floor_s: m[8],
        previous: env.previous.as_ref().map(|_| (m[9], m[10], m[11])),
        tables,
    })
}

/// The export and the import through a proxy adding [`REMOTE_DELAY`] to each round trip, as a
/// server that is not on this machine: medians of up to 3 runs.
fn remote(env: &Env, d: &Dataset, dir: &std::path::Path, runs: usize) -> Result<(f64, f64)> {
    let socket =
        unix_socket(&env.conn).context("the remote row needs BENCH_CONN's host and port")?;
    let proxy = latency_proxy::LatencyProxy::start(socket, REMOTE_DELAY)?;
    let user = conn_field(&env.conn, "user").unwrap_or_default();
    let conn = format!("host=127.0.0.1 port={} user={user}", proxy.port);
    let (mut export, mut import) = (Vec::new(), Vec::new());
    for run in 1..=runs.min(3) {
        let p = pass_via(env, &conn, &env.seedsnap, d, dir)?;
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
    let env = Env {
        conn: std::env::var("BENCH_CONN").context("BENCH_CONN is not set (run make bench)")?,
        bindir: PathBuf::from(std::env::var("BENCH_BINDIR").context("BENCH_BINDIR is not set")?),
        seedsnap: std::env::var("SEEDSNAP_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target/release/seedsnap")),
        previous,
        scratch: std::env::temp_dir().join("seedsnap-bench"),
        root,
    };
    std::fs::create_dir_all(&env.scratch)?;
    if !env.seedsnap.exists() {
        bail!(
            "{} is missing: cargo build --release",
            env.seedsnap.display()
        );
    }
    let server_version: String = env
        .connect("postgres")?
        .query_one("SELECT current_setting('server_version')", &[])?
        .get(0);
    let mut results = Vec::new();
    for d in DATASETS {
        if let Some(only) = &only {
            if !only.iter().any(|o| o == d.name) {
                continue;
            }
        }
        let figures = bench(&env, d, runs)?;
        results.push((d, figures));
    }
    let report = render(&results, runs, &machine(), &server_version);
    print!("{report}");
    if let Some(path) = write {
        std::fs::write(&path, report)?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

fn render(results: &[(&Dataset, Figures)], runs: usize, machine: &str, server: &str) -> String {
    let mut out = format!(
        "Machine: {machine}; PostgreSQL {server}; median of {runs} runs after a warm-up; \
         seedsnap {}.\n\n",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str(
        "| database | tables | rows exported | export s (floor, ratio) | import s (floor, ratio) | import / own floor (s) | export / import peak RSS MB | source rows read per exported row |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for (d, f) in results {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.3} ({:.3}, {:.1}x) | {:.3} ({:.3}, {:.1}x) | {:.1}x ({:.3}) | {:.1} / {:.1} | {:.2} |\n",
            d.name,
            f.tables,
            f.rows,
            f.export_s,
            f.floor_export_s,
            f.export_s / f.floor_export_s,
            f.import_s,
            f.floor_load_s,
            f.import_s / f.floor_load_s,
            f.import_s / f.own_floor_s,
            f.own_floor_s,
            f.export_rss_mb,
            f.import_rss_mb,
            f.read_per_row
        ));
    }
    for (d, f) in results {
        if let Some((export, import, read)) = f.previous {
            out.push_str(&format!(
                "\n{}, previous build (alternated in the same runs): export {export:.3} s \
                 ({:.2}x this build), import {import:.3} s ({:.2}x), {read:.2} rows read per row.\n",
                d.name,
                export / f.export_s,
                import / f.import_s,
            ));
        }
    }
    for (d, f) in results {
        if let Some((export, import)) = f.remote {
            out.push_str(&format!(
                "\n{}, through a proxy adding {} ms to each round trip (a server that is not \
                 local): export {export:.3} s ({:.1}x local), import {import:.3} s ({:.1}x local).\n",
                d.name,
                REMOTE_DELAY.as_millis(),
                export / f.export_s,
                import / f.import_s,
            ));
        }
    }
    out.push_str("\nTargets:\n");
    for (d, _) in results {
        out.push_str(&format!("- {}: {}\n", d.name, d.targets));
    }
    let find = |name: &str| {
        results
            .iter()
            .find(|(d, _)| d.name == name)
            .map(|(_, f)| f.clone())
    };
    if let (Some(small), Some(big)) = (find("demo_0_1"), find("demo_1")) {
        out.push_str(&format!(
            "\nExport time per exported row: scale 0.1 {:.1} µs, scale 1 {:.1} µs ({:.2}x).\n",
            small.export_s / small.rows * 1e6,
            big.export_s / big.rows * 1e6,
            (big.export_s / big.rows) / (small.export_s / small.rows)
        ));
    }
    if let (Some(a), Some(b)) = (find("wide_1000"), find("wide_3000")) {
        out.push_str(&format!(
            "3,000 vs 1,000 tables: export {:.2}x, import {:.2}x.\n",
            b.export_s / a.export_s,
            b.import_s / a.import_s
        ));
    }
    out
}
