//! The markdown `make bench` prints (and writes with `--write`): one table of the medians with
//! both floors and the ratios, the remote-server row, the export time per exported row at each
//! demo scale, the previous build's figures as before/after rows with `--compare`, and the
//! performance issue's targets, each compared with what was measured ("met" or "missed").

use std::time::Duration;

/// The figures of one binary in one run, or their medians over the runs.
#[derive(Default, Clone, Copy)]
pub struct Sample {
    pub export_s: f64,
    /// The import by the bench role, a superuser.
    pub import_s: f64,
    /// The import by a role that owns the tables but is not a superuser.
    pub owner_import_s: f64,
    /// The import by that role granted `SET` on `session_replication_role`.
    pub granted_import_s: f64,
    pub export_rss_mb: f64,
    pub import_rss_mb: f64,
    pub owner_import_rss_mb: f64,
    pub granted_import_rss_mb: f64,
    pub rows: f64,
    pub read_per_row: f64,
}

impl Sample {
    /// The median of each figure over `samples` (not empty).
    pub fn medians(samples: &[Sample]) -> Sample {
        let m = |figure: fn(&Sample) -> f64| {
            median(&mut samples.iter().map(figure).collect::<Vec<_>>())
        };
        Sample {
            export_s: m(|s| s.export_s),
            import_s: m(|s| s.import_s),
            owner_import_s: m(|s| s.owner_import_s),
            granted_import_s: m(|s| s.granted_import_s),
            export_rss_mb: m(|s| s.export_rss_mb),
            import_rss_mb: m(|s| s.import_rss_mb),
            owner_import_rss_mb: m(|s| s.owner_import_rss_mb),
            granted_import_rss_mb: m(|s| s.granted_import_rss_mb),
            rows: m(|s| s.rows),
            read_per_row: m(|s| s.read_per_row),
        }
    }

    /// Export seconds per exported row.
    fn export_per_row(&self) -> f64 {
        self.export_s / self.rows.max(1.0)
    }

    /// The highest peak RSS of the export and every import, MB.
    fn peak_rss_mb(&self) -> f64 {
        self.export_rss_mb
            .max(self.import_rss_mb)
            .max(self.owner_import_rss_mb)
            .max(self.granted_import_rss_mb)
    }

    /// The peak RSS of the export and each import, MB, as "a / b / c / d".
    fn rss_columns(&self, set_grant: bool) -> String {
        format!(
            "{:.1} / {:.1} / {:.1} / {}",
            self.export_rss_mb,
            self.import_rss_mb,
            self.owner_import_rss_mb,
            shown(set_grant, format!("{:.1}", self.granted_import_rss_mb))
        )
    }
}

/// `text`, or "–" for a figure that was not measured.
fn shown(measured: bool, text: String) -> String {
    if measured {
        text
    } else {
        "–".into()
    }
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// The medians of one dataset.
#[derive(Default, Clone)]
pub struct Figures {
    pub this: Sample,
    pub floor_export_s: f64,
    pub floor_load_s: f64,
    pub own_floor_s: f64,
    /// Whether the superuser import took the fast path (foreign-key triggers off, every key
    /// checked afterwards: by the snapshot's files or by batched counting queries) in every run.
    pub fast_path: bool,
    /// How the plain owner's import checked keys in the runs (`re_added`, `per_row`, or both
    /// joined by "or").
    pub owner_key_checks: String,
    /// Export and import seconds through the latency proxy (medians).
    pub remote: Option<(f64, f64)>,
    /// Seconds of an export into a new directory (median): the table's export replaces the
    /// previous run's snapshot, whose unchanged files it links instead of writing.
    pub export_new_dir_s: f64,
    /// The export of every row (`--limit all`) into a new directory, of the dataset measured
    /// so (medians).
    pub every_row: Option<EveryRow>,
    /// The same by the previous build, with `--compare`.
    pub every_row_previous: Option<EveryRow>,
    /// The previous build's medians, with `--compare`.
    pub previous: Option<Sample>,
    /// With `--compare`: whether the previous build's import by the role granted `SET` on
    /// `session_replication_role` took the fast path in every run (this build's must).
    pub previous_granted_fast_path: bool,
    pub tables: usize,
}

/// An export of every row of a dataset (`--limit all`).
#[derive(Default, Clone)]
pub struct EveryRow {
    pub rows: u64,
    pub seconds: f64,
    pub peak_rss_mb: f64,
}

impl EveryRow {
    /// The medians of some runs; `None` for none.
    pub fn medians(runs: &[EveryRow]) -> Option<EveryRow> {
        if runs.is_empty() {
            return None;
        }
        let mut seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
        let mut rss: Vec<f64> = runs.iter().map(|r| r.peak_rss_mb).collect();
        Some(EveryRow {
            rows: runs[0].rows,
            seconds: median(&mut seconds),
            peak_rss_mb: median(&mut rss),
        })
    }
}

/// The figures of each dataset measured, by name, in the order measured.
pub struct Results<'a> {
    pub datasets: Vec<(&'a str, Figures)>,
    pub runs: usize,
    pub machine: String,
    pub server: String,
    /// The latency the remote-server row adds to each round trip.
    pub remote_delay: Duration,
    /// The role of the "not superuser" imports.
    pub importer: &'a str,
    /// Whether the import by `importer` granted `SET` on `session_replication_role` was timed
    /// (PostgreSQL 15+).
    pub set_grant: bool,
}

impl Results<'_> {
    fn find(&self, name: &str) -> Option<&Figures> {
        self.datasets
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f)
    }
}

pub fn render(results: &Results) -> String {
    let mut out = format!(
        "Machine: {}; PostgreSQL {}; median of {} after a warm-up; seedsnap {}.\n\n",
        results.machine,
        results.server,
        if results.runs == 1 {
            "1 run".to_string()
        } else {
            format!("{} runs", results.runs)
        },
        env!("CARGO_PKG_VERSION")
    );
    out.push_str(&table(results));
    out.push_str(&new_directory(results));
    out.push_str(&every_row(results));
    out.push_str(&load_paths(results));
    out.push_str(&before_after(results));
    out.push_str(&per_row(results));
    out.push_str("\nTargets (each compared with the figures above):\n");
    for verdict in targets(results) {
        out.push_str(&format!(
            "- {}: {} — {}\n",
            verdict.target,
            verdict.measured,
            if verdict.met { "met" } else { "missed" }
        ));
    }
    out
}

fn table(results: &Results) -> String {
    let mut out = String::from(
        "| database | tables | rows exported | export s (floor, ratio) | import s, superuser (own floor, ratio) | \
         import s, not superuser (ratio to own floor) | import s, owner + SET grant (ratio to own floor) | floor load s | \
         peak RSS MB: export / import / not superuser / owner + SET grant | source rows read per exported row |\n\
         |---|---|---|---|---|---|---|---|---|---|\n"
    );
    for (name, f) in &results.datasets {
        let s = &f.this;
        let granted = shown(
            results.set_grant,
            format!(
                "{:.3} ({:.1}x)",
                s.granted_import_s,
                s.granted_import_s / f.own_floor_s
            ),
        );
        out.push_str(&format!(
            "| {name} | {} | {:.0} | {:.3} ({:.3}, {:.1}x) | {:.3} ({:.3}, {:.1}x) | {:.3} ({:.1}x) | {granted} | {:.3} | {} | {:.2} |\n",
            f.tables,
            s.rows,
            s.export_s,
            f.floor_export_s,
            s.export_s / f.floor_export_s,
            s.import_s,
            f.own_floor_s,
            s.import_s / f.own_floor_s,
            s.owner_import_s,
            s.owner_import_s / f.own_floor_s,
            f.floor_load_s,
            s.rss_columns(results.set_grant),
            s.read_per_row
        ));
    }
    for (name, f) in &results.datasets {
        if let Some((export, import)) = f.remote {
            out.push_str(&format!(
                "| {name}, through a {} ms proxy (a server that is not local) | {} | {:.0} | {export:.3} ({:.1}x local) | {import:.3} ({:.1}x local) | – | – | – | – | – |\n",
                results.remote_delay.as_millis(),
                f.tables,
                f.this.rows,
                export / f.this.export_s,
                import / f.this.import_s,
            ));
        }
    }
    out.push_str(&format!(
        "\nThe floor: one `COPY (SELECT … ORDER BY key LIMIT 100)` per table, and its rows loaded \
         with foreign-key checks off (floor load). The own floor: seedsnap's own snapshot files \
         COPYed into an empty clone with foreign-key checks off, nothing verified. \"Not \
         superuser\": the role `{0}` owns the clone's schemas, tables and sequences but is not a \
         superuser (seedsnap drops the keys for the load and re-adds them when the rows make that \
         cheaper than per-row checks). \"Owner + SET grant\": the same role into another such clone, with \
         `GRANT SET ON PARAMETER session_replication_role TO {0}` (PostgreSQL 15+) in force for \
         that import only, which lets it load as the superuser's fast path does (foreign-key \
         triggers off, then every key checked: proved by the snapshot's files, or by batched \
         counting queries); the plain \"not \
         superuser\" import runs without the grant.\n",
        results.importer
    ));
    out
}

/// How the superuser import loaded (the fast path is named in its report).
fn load_paths(results: &Results) -> String {
    let (fast, slow): (Vec<&str>, Vec<&str>) = {
        let fast = results
            .datasets
            .iter()
            .filter(|(_, f)| f.fast_path)
            .map(|(n, _)| *n);
        let slow = results
            .datasets
            .iter()
            .filter(|(_, f)| !f.fast_path)
            .map(|(n, _)| *n);
        (fast.collect(), slow.collect())
    };
    let mut out = String::from("\n");
    if !fast.is_empty() {
        out.push_str(&format!(
            "The superuser import loaded with foreign-key triggers off and checked every key \
             (its fast path: the keys the snapshot's files prove by the files, the others by \
             batched counting queries) on: {}.\n",
            fast.join(", ")
        ));
    }
    if !slow.is_empty() {
        out.push_str(&format!(
            "The superuser import kept the per-row foreign-key triggers on: {}.\n",
            slow.join(", ")
        ));
    }
    for (mode, says) in [
        (
            "re_added",
            "dropped the foreign keys for the load and added them back, each validated by the \
             server",
        ),
        ("per_row", "kept the per-row foreign-key triggers"),
    ] {
        let names: Vec<&str> = results
            .datasets
            .iter()
            .filter(|(_, f)| f.owner_key_checks == mode)
            .map(|(n, _)| *n)
            .collect();
        if !names.is_empty() {
            out.push_str(&format!(
                "The \"not superuser\" import {says} on: {}.\n",
                names.join(", ")
            ));
        }
    }
    out
}

/// With `--compare`: the previous build's medians over this build's, a before and an after row
/// per dataset, both measured in the same runs.
fn before_after(results: &Results) -> String {
    if results.datasets.iter().all(|(_, f)| f.previous.is_none()) {
        return String::new();
    }
    let mut out = String::from(
        "\nBefore/after: the previous build (`--compare`) and this one, alternated in every run:\n\n\
         | database | build | export s | import s, superuser | import s, not superuser | import s, owner + SET grant | \
         peak RSS MB: export / import / not superuser / owner + SET grant | source rows read per exported row |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let set_grant = results.set_grant;
    for (name, f) in &results.datasets {
        let Some(before) = &f.previous else { continue };
        let after = &f.this;
        out.push_str(&format!(
            "| {name} | before | {:.3} | {:.3} | {:.3} | {} | {} | {:.2} |\n",
            before.export_s,
            before.import_s,
            before.owner_import_s,
            shown(set_grant, format!("{:.3}", before.granted_import_s)),
            before.rss_columns(set_grant),
            before.read_per_row,
        ));
        out.push_str(&format!(
            "| {name} | after | {:.3} ({:.2}x) | {:.3} ({:.2}x) | {:.3} ({:.2}x) | {} | {} | {:.2} |\n",
            after.export_s,
            after.export_s / before.export_s,
            after.import_s,
            after.import_s / before.import_s,
            after.owner_import_s,
            after.owner_import_s / before.owner_import_s,
            shown(
                set_grant,
                format!(
                    "{:.3} ({:.2}x)",
                    after.granted_import_s,
                    after.granted_import_s / before.granted_import_s
                )
            ),
            after.rss_columns(set_grant),
            after.read_per_row,
        ));
    }
    let per_row: Vec<&str> = results
        .datasets
        .iter()
        .filter(|(_, f)| f.previous.is_some() && !f.previous_granted_fast_path)
        .map(|(n, _)| *n)
        .collect();
    if set_grant && !per_row.is_empty() {
        out.push_str(&format!(
            "\nThe previous build's \"owner + SET grant\" import kept the per-row foreign-key \
             triggers (no batched key checks) on: {}; this build's took the fast path.\n",
            per_row.join(", ")
        ));
    }
    out
}

/// The export into a new directory, next to the table's re-export into the previous run's.
fn new_directory(results: &Results) -> String {
    let each: Vec<String> = results
        .datasets
        .iter()
        .map(|(name, f)| {
            format!(
                "{name} {:.3} s ({:.1}x its floor)",
                f.export_new_dir_s,
                f.export_new_dir_s / f.floor_export_s
            )
        })
        .collect();
    format!(
        "\nThe table's exports replace the previous run's snapshot of the same source, so their \
         unchanged files are linked from it rather than written (as a re-export of an unchanged \
         demo does). An export into a new directory writes every file: {}.\n",
        each.join(", ")
    )
}

/// The export of every row, where measured, with the previous build's.
fn every_row(results: &Results) -> String {
    let mut out = String::new();
    for (name, f) in &results.datasets {
        let Some(this) = &f.every_row else {
            continue;
        };
        out.push_str(&format!(
            "\nEvery row of {name} (`--limit all`, {} rows) exported into a new directory: \
             {:.3} s, peak RSS {:.1} MB",
            thousands(this.rows),
            this.seconds,
            this.peak_rss_mb
        ));
        match &f.every_row_previous {
            Some(before) => out.push_str(&format!(
                "; the previous build {:.3} s, peak RSS {:.1} MB.\n",
                before.seconds, before.peak_rss_mb
            )),
            None => out.push_str(".\n"),
        }
    }
    out
}

/// `3342141` as `3,342,141`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The demo datasets at each scale, smallest first.
const SCALES: &[(&str, &str)] = &[("demo_0_1", "0.1"), ("demo_1", "1"), ("demo_10", "10")];

/// Export time per exported row at each demo scale measured, and the ratio of each scale to
/// the one below it.
fn per_row(results: &Results) -> String {
    let measured: Vec<(&str, f64)> = SCALES
        .iter()
        .filter_map(|(name, scale)| {
            results
                .find(name)
                .map(|f| (*scale, f.this.export_per_row()))
        })
        .collect();
    let mut out = String::new();
    if !measured.is_empty() {
        let each: Vec<String> = measured
            .iter()
            .map(|(scale, t)| format!("scale {scale} {:.1} µs", t * 1e6))
            .collect();
        out.push_str(&format!(
            "\nExport time per exported row: {}.\n",
            each.join(", ")
        ));
    }
    for pair in SCALES.windows(2) {
        if let (Some(small), Some(big)) = (results.find(pair[0].0), results.find(pair[1].0)) {
            out.push_str(&format!(
                "Export time per exported row, scale {} vs {}: {:.2}x.\n",
                pair[1].1,
                pair[0].1,
                big.this.export_per_row() / small.this.export_per_row()
            ));
        }
    }
    if let (Some(a), Some(b)) = (results.find("wide_1000"), results.find("wide_3000")) {
        out.push_str(&format!(
            "3,000 vs 1,000 tables: export {:.2}x, import {:.2}x (not superuser {:.2}x{}), peak RSS {:.2}x.\n",
            b.this.export_s / a.this.export_s,
            b.this.import_s / a.this.import_s,
            b.this.owner_import_s / a.this.owner_import_s,
            if results.set_grant {
                format!(
                    ", owner + SET grant {:.2}x",
                    b.this.granted_import_s / a.this.granted_import_s
                )
            } else {
                String::new()
            },
            b.this.peak_rss_mb() / a.this.peak_rss_mb(),
        ));
    }
    out
}

/// One target, compared with what was measured.
pub struct Verdict {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// What a measured value is, for showing it.
#[derive(Clone, Copy)]
enum Unit {
    Count,
    Ratio,
    Seconds,
    Megabytes,
}

/// `value` against the upper bound `limit`.
fn at_most(target: String, value: f64, limit: f64, unit: Unit) -> Verdict {
    let measured = match unit {
        Unit::Count => format!("{value:.2}"),
        Unit::Ratio => format!("{value:.2}x"),
        Unit::Seconds => format!("{value:.3} s"),
        Unit::Megabytes => format!("{value:.1} MB"),
    };
    Verdict {
        target,
        measured,
        met: value <= limit,
    }
}

/// Peak RSS from 1,000 to 3,000 tables counts as flat within this factor.
const FLAT_RSS: f64 = 1.2;

/// The performance issue's targets (and the earlier ones still listed), each for the datasets
/// measured in this run; a target whose datasets were not measured is left out.
pub fn targets(results: &Results) -> Vec<Verdict> {
    use Unit::{Megabytes, Ratio, Seconds};
    let one = |name: &str, figure: fn(&Figures) -> f64| results.find(name).map(figure);
    let two = |a: &str, b: &str, figure: fn(&Figures, &Figures) -> f64| {
        Some(figure(results.find(a)?, results.find(b)?))
    };
    let per_row = |a: &Figures, b: &Figures| b.this.export_per_row() / a.this.export_per_row();
    let remote = results.find("wide_1000").and_then(|f| {
        f.remote
            .map(|(export, import)| (export / f.this.export_s, import / f.this.import_s))
    });
    let granted = |name: &str| {
        one(name, |f| f.this.granted_import_s / f.own_floor_s).filter(|_| results.set_grant)
    };
    let ms = results.remote_delay.as_millis();
    let mut list: Vec<(String, Option<f64>, f64, Unit)> = results
        .datasets
        .iter()
        .map(|(name, f)| {
            let text = format!("source rows read per exported row ≤ 3, {name}");
            (text, Some(f.this.read_per_row), 3.0, Unit::Count)
        })
        .collect();
    list.extend([
        (
            "export time per exported row at demo scale 10 ≤ 1.3x scale 1".to_string(),
            two("demo_1", "demo_10", per_row),
            1.3,
            Ratio,
        ),
        (
            "import without superuser ≤ 2x the own floor, demo_1".into(),
            one("demo_1", |f| f.this.owner_import_s / f.own_floor_s),
            2.0,
            Ratio,
        ),
        (
            "import without superuser ≤ 3x the own floor, wide_1000".into(),
            one("wide_1000", |f| f.this.owner_import_s / f.own_floor_s),
            3.0,
            Ratio,
        ),
        (
            "import without superuser, owner granted SET on session_replication_role ≤ 2x the \
             own floor, demo_1"
                .into(),
            granted("demo_1"),
            2.0,
            Ratio,
        ),
        (
            "import without superuser, owner granted SET on session_replication_role ≤ 3x the \
             own floor, wide_1000"
                .into(),
            granted("wide_1000"),
            3.0,
            Ratio,
        ),
        (
            "import as a superuser ≤ 1.5x the own floor, demo_1".into(),
            one("demo_1", |f| f.this.import_s / f.own_floor_s),
            1.5,
            Ratio,
        ),
        (
            "import as a superuser ≤ 1.5x the own floor, wide_1000".into(),
            one("wide_1000", |f| f.this.import_s / f.own_floor_s),
            1.5,
            Ratio,
        ),
        (
            "export on 1,000 tables ≤ 4x its floor".into(),
            one("wide_1000", |f| f.this.export_s / f.floor_export_s),
            4.0,
            Ratio,
        ),
        (
            "export on 1,000 tables into a new directory (every file written) ≤ 4x its floor"
                .into(),
            one("wide_1000", |f| f.export_new_dir_s / f.floor_export_s),
            4.0,
            Ratio,
        ),
        (
            "export on 1,000 tables ≤ 2 s".into(),
            one("wide_1000", |f| f.this.export_s),
            2.0,
            Seconds,
        ),
        (
            "client peak RSS ≤ 20 MB on 1,000 tables (export and every import)".into(),
            one("wide_1000", |f| f.this.peak_rss_mb()),
            20.0,
            Megabytes,
        ),
        (
            format!("client peak RSS flat from 1,000 to 3,000 tables (≤ {FLAT_RSS}x)"),
            two("wide_1000", "wide_3000", |a, b| {
                b.this.peak_rss_mb() / a.this.peak_rss_mb()
            }),
            FLAT_RSS,
            Ratio,
        ),
        (
            format!("export of 1,000 tables through the {ms} ms proxy ≤ 3x local"),
            remote.map(|r| r.0),
            3.0,
            Ratio,
        ),
        (
            format!("import of 1,000 tables through the {ms} ms proxy ≤ 3x local"),
            remote.map(|r| r.1),
            3.0,
            Ratio,
        ),
        (
            "earlier target: demo_1 export ≤ 0.25 s".into(),
            one("demo_1", |f| f.this.export_s),
            0.25,
            Seconds,
        ),
        (
            "earlier target: demo_1 import ≤ 0.15 s (superuser)".into(),
            one("demo_1", |f| f.this.import_s),
            0.15,
            Seconds,
        ),
        (
            "earlier target: export time per exported row at scale 1 ≤ 1.3x scale 0.1".into(),
            two("demo_0_1", "demo_1", per_row),
            1.3,
            Ratio,
        ),
        (
            "earlier target: client peak RSS ≤ 20 MB, demo_0_1".into(),
            one("demo_0_1", |f| f.this.peak_rss_mb()),
            20.0,
            Megabytes,
        ),
        (
            "earlier target: client peak RSS ≤ 20 MB, demo_1".into(),
            one("demo_1", |f| f.this.peak_rss_mb()),
            20.0,
            Megabytes,
        ),
        (
            "earlier target: import on 1,000 tables ≤ 2 s (superuser)".into(),
            one("wide_1000", |f| f.this.import_s),
            2.0,
            Seconds,
        ),
        (
            "earlier target: 3,000 tables export ≤ 3x the 1,000-table time".into(),
            two("wide_1000", "wide_3000", |a, b| {
                b.this.export_s / a.this.export_s
            }),
            3.0,
            Ratio,
        ),
        (
            "earlier target: 3,000 tables import ≤ 3x the 1,000-table time".into(),
            two("wide_1000", "wide_3000", |a, b| {
                b.this.import_s / a.this.import_s
            }),
            3.0,
            Ratio,
        ),
    ]);
    list.into_iter()
        .filter_map(|(target, value, limit, unit)| value.map(|v| at_most(target, v, limit, unit)))
        .collect()
}
