//! What a person or a machine reads: progress lines on stderr, summary tables, JSON.
//!
//! While a table is being read or loaded, [`Progress::rows`] shows how far it got: a bar with
//! rows and rate when stderr is a terminal (drawn by `indicatif`), else a line every few
//! seconds (`SEEDSNAP_PROGRESS_INTERVAL_MS`, default 5000) for tables that take that long;
//! nothing with `--quiet`. Bars of tables read at once (the export's parallel readers) stack
//! under one another, and lines print above them.

use std::cell::Cell;
use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress lines on stderr, one per table for long work; silent with `--quiet`.
pub struct Progress {
    enabled: bool,
    started: Instant,
    terminal: bool,
    interval: Duration,
    /// Where the bars are drawn, one line each.
    bars: MultiProgress,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        let interval = std::env::var("SEEDSNAP_PROGRESS_INTERVAL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(5), Duration::from_millis);
        Progress {
            enabled,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            interval,
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        }
    }

    /// Live progress of `what` (`loading app.users`) over `total` rows, when known.
    pub fn rows(&self, what: &str, total: Option<u64>) -> RowProgress {
        let bar = (self.enabled && self.terminal).then(|| {
            let bar = self.bars.add(ProgressBar::with_draw_target(
                total,
                ProgressDrawTarget::hidden(),
            ));
            let template = if total.is_some() {
                "seedsnap: {msg} [{bar:20}] {human_pos}/{human_len} rows, {rate}"
            } else {
                "seedsnap: {spinner} {msg} {human_pos} rows, {rate}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("a valid template")
                    .with_key(
                        "rate",
                        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{:.0} rows/s", state.per_sec());
                        },
                    )
                    .progress_chars("=> "),
            );
            bar.set_message(what.to_string());
            bar
        });
        RowProgress {
            what: what.to_string(),
            total,
            bar,
            lines: self.enabled && !self.terminal,
            interval: self.interval,
            started: Instant::now(),
            last: Cell::new(Instant::now()),
            rows: Cell::new(0),
        }
    }

    /// A spinner for a step without a row count (`inserting into app.users`), on a terminal.
    pub fn step(&self, what: &str) -> RowProgress {
        let progress = self.rows(what, None);
        if let Some(bar) = &progress.bar {
            bar.set_style(
                ProgressStyle::with_template("seedsnap: {spinner} {msg} ({elapsed})")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        progress
    }

    pub fn line(&self, text: &str) {
        if self.enabled {
            self.always(text);
        }
    }

    /// A line that must show even with `--quiet` (which database, what was refused); above
    /// the bars being drawn, if any.
    pub fn always(&self, text: &str) {
        if self.terminal {
            self.bars.suspend(|| eprintln!("seedsnap: {text}"));
        } else {
            eprintln!("seedsnap: {text}");
        }
    }

    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
    }
}

/// The progress of one table; cleared when dropped.
pub struct RowProgress {
    what: String,
    total: Option<u64>,
    bar: Option<ProgressBar>,
    lines: bool,
    interval: Duration,
    started: Instant,
    last: Cell<Instant>,
    rows: Cell<u64>,
}

impl RowProgress {
    pub fn add(&self, rows: u64) {
        let done = self.rows.get() + rows;
        self.rows.set(done);
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        } else if self.lines && self.last.get().elapsed() >= self.interval {
            self.last.set(Instant::now());
            eprintln!("seedsnap: {}", self.line(done));
        }
    }

    /// `loading app.users: 120000 of 750000 rows (24000 rows/s)`.
    fn line(&self, done: u64) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "{}: {done}{} rows ({:.0} rows/s)",
            self.what,
            self.total.map(|t| format!(" of {t}")).unwrap_or_default(),
            done as f64 / seconds
        )
    }
}

impl Drop for RowProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A reader that counts the lines (rows) passing through it into a [`RowProgress`].
pub struct CountingReader<'a, R> {
    pub inner: R,
    pub progress: &'a RowProgress,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress
            .add(buf[..n].iter().filter(|&&b| b == b'\n').count() as u64);
        Ok(n)
    }
}

/// A writer that counts the lines (rows) passing through it into a [`RowProgress`].
pub struct CountingWriter<'a, W> {
    pub inner: W,
    pub progress: &'a RowProgress,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress
            .add(buf[..n].iter().filter(|&&b| b == b'\n').count() as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Milliseconds as a short human string.
pub fn ms(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} s", value / 1e3)
    } else if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// A plain-text table: the first column left-aligned, the others right-aligned.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let format_row = |cells: Vec<&str>| -> String {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        line.trim_end().to_string()
    };
    let mut out = format_row(headers.to_vec());
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format_row(rule.iter().map(String::as_str).collect()));
    out.push('\n');
    for row in rows {
        out.push_str(&format_row(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_reader_counts_rows_and_lines_name_the_rate() {
        let progress = Progress {
            enabled: true,
            started: Instant::now(),
            terminal: false,
            interval: Duration::from_secs(3600),
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        };
        let rows = progress.rows("loading app.users", Some(3));
        let mut reader = CountingReader {
            inner: &b"1\ta\n2\tb\n3\tc\n"[..],
            progress: &rows,
        };
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        assert_eq!(rows.rows.get(), 3);
        let line = rows.line(3);
        assert!(
            line.starts_with("loading app.users: 3 of 3 rows ("),
            "{line}"
        );
        assert!(line.ends_with(" rows/s)"), "{line}");
    }

    #[test]
    fn table_aligns_columns() {
        let text = render_table(
            &["table", "rows"],
            &[
                vec!["public.users".into(), "100".into()],
                vec!["x".into(), "7".into()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "table         rows");
        assert_eq!(lines[2], "public.users   100");
        assert_eq!(lines[3], "x                7");
    }
}
