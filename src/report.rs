//! What a person or a machine reads: progress lines on stderr, summary tables, JSON.

use std::time::Instant;

/// Progress lines on stderr, one per table for long work; silent with `--quiet`.
pub struct Progress {
    enabled: bool,
    started: Instant,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress {
            enabled,
            started: Instant::now(),
        }
    }

    pub fn line(&self, text: &str) {
        if self.enabled {
            eprintln!("seedsnap: {text}");
        }
    }

    /// A line that must show even with `--quiet` (which database, what was refused).
    pub fn always(&self, text: &str) {
        eprintln!("seedsnap: {text}");
    }

    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
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
