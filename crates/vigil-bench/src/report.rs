//! Samples, percentiles and the Markdown report.

use std::fmt::Write as _;
use std::time::Duration;

/// Timings of one operation, sorted once for percentiles.
#[derive(Debug, Clone)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Wraps the samples (at least one).
    pub fn new(mut v: Vec<Duration>) -> Self {
        v.sort();
        Self(v)
    }

    /// The `p`-th percentile (0-100), nearest rank on the sorted samples.
    pub fn pct(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    /// The arithmetic mean.
    pub fn mean(&self) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.iter().sum::<Duration>() / self.0.len() as u32
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Milliseconds with three significant digits or so.
pub fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else if v >= 1.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.3} ms")
    }
}

/// A count with thin thousands separators (`123 456`).
pub fn count(n: f64) -> String {
    let s = format!("{:.0}", n.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// Bytes as MiB.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Whether a target was met, or there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Met.
    Met,
    /// Missed.
    Missed,
    /// Informational row.
    None,
}

impl Verdict {
    /// From a condition.
    pub fn of(ok: bool) -> Self {
        if ok { Verdict::Met } else { Verdict::Missed }
    }
}

/// One row: | measure | Vigil | plain | ratio | target | met? |.
#[derive(Debug, Clone)]
pub struct Row {
    measure: String,
    vigil: String,
    plain: String,
    ratio: String,
    target: String,
    verdict: Verdict,
}

impl Row {
    /// A row comparing two durations (ratio Vigil / plain).
    pub fn time(measure: impl Into<String>, vigil: Duration, plain: Option<Duration>) -> Self {
        Self {
            measure: measure.into(),
            vigil: ms(vigil),
            plain: plain.map_or_else(|| "—".to_owned(), ms),
            ratio: plain.map_or_else(
                || "—".to_owned(),
                |p| ratio(vigil.as_secs_f64(), p.as_secs_f64()),
            ),
            target: "—".to_owned(),
            verdict: Verdict::None,
        }
    }

    /// A row with preformatted values and a ratio of `v / p`.
    pub fn values(
        measure: impl Into<String>,
        vigil: String,
        plain: String,
        v: f64,
        p: f64,
    ) -> Self {
        Self {
            measure: measure.into(),
            vigil,
            plain,
            ratio: ratio(v, p),
            target: "—".to_owned(),
            verdict: Verdict::None,
        }
    }

    /// Sets the target and whether it was met.
    pub fn target(mut self, target: impl Into<String>, verdict: Verdict) -> Self {
        self.target = target.into();
        self.verdict = verdict;
        self
    }
}

fn ratio(v: f64, p: f64) -> String {
    if p > 0.0 {
        format!("{:.2}×", v / p)
    } else {
        "—".to_owned()
    }
}

/// The whole report, built section by section.
#[derive(Debug, Default)]
pub struct Report {
    text: String,
    missed: Vec<String>,
}

impl Report {
    /// Adds raw Markdown.
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Adds a section with a table and the sentence saying what was measured.
    pub fn table(&mut self, title: &str, rows: &[Row], note: &str) {
        let _ = writeln!(self.text, "\n## {title}\n");
        self.text.push_str(
            "| measure | Vigil (SQLCipher) | plain SQLite | ratio | target | met? |\n\
             |---|--:|--:|--:|---|---|\n",
        );
        for r in rows {
            let met = match r.verdict {
                Verdict::Met => "met",
                Verdict::Missed => {
                    self.missed.push(format!("{title}: {}", r.measure));
                    "**MISSED**"
                }
                Verdict::None => "—",
            };
            let _ = writeln!(
                self.text,
                "| {} | {} | {} | {} | {} | {} |",
                r.measure, r.vigil, r.plain, r.ratio, r.target, met
            );
        }
        let _ = writeln!(self.text, "\n{note}");
    }

    /// Appends the list of missed targets and returns the text.
    pub fn finish(mut self) -> String {
        if self.missed.is_empty() {
            self.text.push_str("\n## Summary\n\nAll targets met.\n");
        } else {
            self.text.push_str("\n## Summary\n\nTargets missed:\n\n");
            for m in &self.missed {
                let _ = writeln!(self.text, "- {m}");
            }
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let s = Samples::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(s.pct(50.0), Duration::from_millis(50));
        assert_eq!(s.pct(99.0), Duration::from_millis(99));
        assert_eq!(s.pct(100.0), Duration::from_millis(100));
        assert_eq!(s.pct(0.0), Duration::from_millis(1));
        assert_eq!(s.mean(), Duration::from_micros(50_500));
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(count(1234567.0), "1\u{202f}234\u{202f}567");
        assert_eq!(count(999.0), "999");
    }
}
