//! Integration tests: the `seedsnap` binary against a real, throwaway PostgreSQL cluster.

mod cluster;
mod config;
mod connection;
mod drift;
mod export;
mod faults;
mod import;
mod key_values;
mod large_tables;
mod lossless;
// The bench's proxy that adds latency on loopback: a remote source for the tests too.
#[path = "../../benches/support/latency_proxy.rs"]
mod latency_proxy;
mod masking;
mod orphans;
mod shapes;
mod unique_keys;
mod workflow;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub use cluster::{cluster, TestDb};

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "seedsnap failed:\n{}\n{}",
            self.stderr, self.stdout
        );
        self
    }

    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code, expected,
            "expected exit code {expected}:\n{}\n{}",
            self.stderr, self.stdout
        );
        self
    }

    pub fn stderr_has(self, text: &str) -> Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs seedsnap with a clean environment: no PG* or SEEDSNAP_* variables, a fresh HOME.
pub fn seedsnap(args: &[&str]) -> Run {
    seedsnap_env(args, &[])
}

pub fn seedsnap_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    seedsnap_in(&scratch_dir("home"), args, env)
}

/// Runs seedsnap in `dir` (also its HOME), with a clean environment plus `env`.
pub fn seedsnap_in(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = seedsnap_command(home, args)
        .envs(env.iter().copied())
        .output()
        .expect("running seedsnap");
    Run::from_output(out)
}

/// The one way tests start the binary: `args` in a [`controlled`] environment with `home`.
pub fn seedsnap_command<S: AsRef<std::ffi::OsStr>>(home: &Path, args: &[S]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seedsnap"));
    controlled(&mut command, home).args(args);
    command
}

/// A controlled environment for a seedsnap process (or a wrapper that starts one): no PG* or
/// SEEDSNAP_* variables (but a throwaway SEEDSNAP_MASK_KEY for the bundled demo's masking) and
/// `home` as HOME and working directory, so that the developer's own
/// ~/.pg_service.conf, ~/.pgpass, ~/.postgresql/, PGSSLMODE or ./seedsnap.toml never leak in;
/// tests that want a config file pass --config or write one there.
pub fn controlled<'a>(command: &'a mut Command, home: &Path) -> &'a mut Command {
    for (key, _) in std::env::vars() {
        if key.starts_with("PG") || key.starts_with("SEEDSNAP_") {
            command.env_remove(key);
        }
    }
    // The bundled demo's config masks columns: a throwaway key stands in for the team's secret.
    command
        .env("HOME", home)
        .env("SEEDSNAP_MASK_KEY", "a throwaway key for the bundled demo")
        .current_dir(home)
}

/// A fresh directory under this test process's scratch root, which is removed when the tests
/// end (or by the next run, if this one was killed).
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(&format!("seedsnap-{prefix}-"))
        .tempdir_in(cluster::scratch_root())
        .expect("temp dir");
    dir.keep()
}

/// The bundled demo's config file (virtual keys, limits, filters), as an absolute path.
pub fn demo_config() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/demo/seedsnap.toml")
        .display()
        .to_string()
}

pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The bundled demo schema, as a template database with data at the default scale, and an
/// empty one with the schema only. Created once per test run.
pub struct Templates {
    pub demo: String,
    pub empty: String,
}

pub fn templates() -> &'static Templates {
    static TEMPLATES: OnceLock<Templates> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let c = cluster();
        let schema = fixture("fixtures/demo/schema.sql");
        let demo = c.unique_name("tpl_demo");
        let empty = c.unique_name("tpl_empty");
        let mut admin = c.connect("postgres").unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {demo}"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {empty}"))
            .unwrap();
        c.connect(&empty).unwrap().batch_execute(&schema).unwrap();
        c.connect(&demo).unwrap().batch_execute(&schema).unwrap();
        // The generator is a psql script; run it with psql, as the make targets do.
        let out = Command::new(c.bindir.join("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-v",
                "scale=0.01",
                "-d",
            ])
            .arg(c.url(&demo))
            .arg("-f")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/generate.sql"))
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "generating demo data: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Templates { demo, empty }
    })
}

/// A copy of the demo database (name without "test", like a real demo database).
pub fn demo_db() -> TestDb {
    cluster().create_db("demo", Some(&templates().demo), "")
}

/// An empty database with the demo schema, named like a test database.
pub fn empty_test_db() -> TestDb {
    cluster().create_db("seed_test", Some(&templates().empty), "")
}

/// Every file of a directory, by name, with the SHA-256 of its bytes.
pub fn read_dir_files(dir: &Path) -> Vec<(String, String)> {
    use sha2::Digest;
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let digest = sha2::Sha256::digest(std::fs::read(e.path()).unwrap());
            (
                e.file_name().to_string_lossy().into_owned(),
                digest.iter().map(|b| format!("{b:02x}")).collect(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The first column of each row of a snapshot's data file for `table` ("schema.table"), in
/// file order (the header line skipped).
pub fn first_column(dir: &Path, table: &str) -> Vec<String> {
    let path = dir.join(format!("{table}.tsv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines()
        .skip(1)
        .map(|line| line.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

/// How many rows a snapshot's manifest lists, over all tables.
pub fn snapshot_rows(dir: &Path) -> u64 {
    manifest(dir)["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum()
}

/// A run's `--json` output.
pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The sum of one count over an import report's tables.
pub fn total(report: &serde_json::Value, field: &str) -> u64 {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[field].as_u64().unwrap())
        .sum()
}

/// The element of a JSON array whose `field` is `value`.
pub fn element<'a>(
    array: &'a serde_json::Value,
    field: &str,
    value: &str,
) -> &'a serde_json::Value {
    array
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[field] == value)
        .unwrap_or_else(|| panic!("no {field} = {value} in {array}"))
}

/// `table key columns` of every row an import's report says it brought back, in its order.
pub fn drifted(report: &serde_json::Value) -> Vec<String> {
    report["drifted_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["table"].as_str().unwrap(),
                r["key"][0].as_str().unwrap(),
                r["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect()
}

pub fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// Exports `db` into a new scratch directory and returns it.
pub fn export_to_scratch(db: &TestDb, extra: &[&str]) -> PathBuf {
    let dir = scratch_dir("snap").join("snapshot");
    export_into(&db.url(), &dir, extra);
    dir
}

/// Exports the database at `url` into `dir` (replacing the snapshot there).
pub fn export_into(url: &str, dir: &Path, extra: &[&str]) {
    let dir_text = dir.to_str().unwrap().to_string();
    let mut args = vec!["export", "-q", "--source", url, "--dir", &dir_text];
    args.extend_from_slice(extra);
    seedsnap(&args).ok();
}

/// The arguments of `seedsnap import -q --target <db> --dir <dir> <extra…>`.
pub fn import_args(target: &TestDb, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["import", "-q", "--target", &target.url(), "--dir"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(dir.to_str().unwrap().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Runs `seedsnap import -q --target <db> --dir <dir> <extra…>`.
pub fn import(target: &TestDb, dir: &Path, extra: &[&str]) -> Run {
    let args = import_args(target, dir, extra);
    seedsnap(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// [`import`] as another login `role` of the cluster.
pub fn import_as(target: &TestDb, role: &str, dir: &Path, extra: &[&str]) -> Run {
    let url = target
        .url()
        .replace("user=seedsnap", &format!("user={role}"));
    let mut args = vec!["import", "-q", "--target", &url, "--dir"];
    args.push(dir.to_str().unwrap());
    args.extend_from_slice(extra);
    seedsnap(&args)
}
