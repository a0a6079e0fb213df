//! The report's summary charts: horizontal bar charts drawn as inline SVG (no script, no
//! library), counted over every finding.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::escape::html;
use crate::finding::Finding;
use crate::rules::Severity;

/// Bars per chart; the rest are summed into one "N others" bar.
const BARS_MAX: usize = 12;
const WIDTH: usize = 460;
const LABEL: usize = 190;
const ROW: usize = 22;
/// Labels longer than this are cut (the full text is the bar's tooltip).
const LABEL_CHARS: usize = 28;

/// Age buckets of the introducing commit, youngest first, by upper bound in days.
const AGES: [(i64, &str); 6] = [
    (7, "under a week"),
    (30, "1-4 weeks"),
    (91, "1-3 months"),
    (365, "3-12 months"),
    (730, "1-2 years"),
    (i64::MAX, "over 2 years"),
];
const NO_DATE: &str = "no commit date";

pub fn write_all(findings: &[Finding], today: i64, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "<section id=\"charts\">")?;
    let severities = [Severity::High, Severity::Medium, Severity::Low]
        .map(|s| {
            let n = findings.iter().filter(|f| f.severity == s).count();
            (s.to_string(), n)
        })
        .to_vec();
    bars(out, "severity", "By severity", &severities)?;
    bars(
        out,
        "rule",
        "By rule",
        &top(findings, |f| Some(f.rule.clone())),
    )?;
    let repos = top(findings, |f| f.origin.repo.clone());
    if repos.is_empty() {
        note(
            out,
            "repo",
            "By repository",
            "No finding names a repository (not a history or GitHub scan).",
        )?;
    } else {
        bars(out, "repo", "By repository", &repos)?;
    }
    let ages = ages(findings, today);
    if ages.iter().all(|(label, n)| label == NO_DATE || *n == 0) {
        note(
            out,
            "age",
            "By age of the introducing commit",
            "No finding comes from a dated commit (not a history scan).",
        )?;
    } else {
        bars(out, "age", "By age of the introducing commit", &ages)?;
    }
    writeln!(out, "</section>")
}

/// The counts of `key` over `findings`, largest first (ties by name), cut to [`BARS_MAX`].
fn top(findings: &[Finding], key: impl Fn(&Finding) -> Option<String>) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for k in findings.iter().filter_map(key) {
        *counts.entry(k).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if v.len() > BARS_MAX {
        let rest: Vec<_> = v.split_off(BARS_MAX - 1);
        let n: usize = rest.iter().map(|(_, n)| n).sum();
        v.push((format!("{} others", rest.len()), n));
    }
    v
}

fn ages(findings: &[Finding], today: i64) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = AGES
        .iter()
        .map(|(_, label)| label.to_string())
        .chain([NO_DATE.to_string()])
        .map(|label| (label, 0))
        .collect();
    for f in findings {
        let label = age_bucket(f, today);
        if let Some(slot) = v.iter_mut().find(|(l, _)| l == label) {
            slot.1 += 1;
        }
    }
    v
}

/// The age bucket of the commit that introduced `f`, from its date (`YYYY-MM-DD…`).
pub fn age_bucket(f: &Finding, today: i64) -> &'static str {
    let Some(day) = f.origin.date.as_deref().and_then(days_since_epoch) else {
        return NO_DATE;
    };
    let age = (today - day).max(0);
    AGES.iter()
        .find(|(limit, _)| age < *limit)
        .map_or(NO_DATE, |(_, label)| label)
}

/// Days since 1970-01-01 of a date that starts `YYYY-MM-DD` (ISO 8601, as git and GitHub
/// write them; the time of day and zone do not matter for an age in buckets of weeks).
fn days_since_epoch(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| date.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn note(out: &mut dyn Write, id: &str, title: &str, text: &str) -> io::Result<()> {
    writeln!(
        out,
        "<figure class=\"chart\" id=\"chart-{id}\"><figcaption>{title}</figcaption>\
         <p class=\"empty\">{}</p></figure>",
        html(text)
    )
}

/// A horizontal bar chart of `bars` (label, count).
fn bars(out: &mut dyn Write, id: &str, title: &str, bars: &[(String, usize)]) -> io::Result<()> {
    let max = bars.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let height = bars.len().max(1) * ROW + 4;
    writeln!(
        out,
        "<figure class=\"chart\" id=\"chart-{id}\"><figcaption>{title}</figcaption>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{title}\">"
    )?;
    let span = WIDTH - LABEL - 60;
    for (i, (label, n)) in bars.iter().enumerate() {
        let y = i * ROW + 2;
        let w = if *n == 0 { 0 } else { (n * span / max).max(2) };
        let class = if id == "severity" {
            format!(" sev-{label}")
        } else {
            String::new()
        };
        writeln!(
            out,
            "<g class=\"bar{class}\"><title>{}: {n}</title>\
             <text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"{}\" rx=\"2\"></rect>\
             <text class=\"n\" x=\"{}\" y=\"{}\">{n}</text></g>",
            html(label),
            LABEL - 6,
            y + 15,
            html(&cut(label)),
            ROW - 6,
            LABEL + w + 5,
            y + 15,
        )?;
    }
    writeln!(out, "</svg></figure>")
}

fn cut(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let head: String = label.chars().take(LABEL_CHARS - 1).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_days_since_the_epoch() {
        assert_eq!(days_since_epoch("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(days_since_epoch("2000-03-01"), Some(11_017));
        assert_eq!(days_since_epoch("2024-02-29T23:59:59+02:00"), Some(19_782));
        assert_eq!(days_since_epoch("yesterday"), None);
        assert_eq!(days_since_epoch("2024-13-01"), None);
    }

    #[test]
    fn many_labels_end_in_one_bar_for_the_others() {
        let findings: Vec<Finding> = (0..20)
            .map(|i| {
                let mut f = super::super::tests::finding(&format!("rule.{i:02}"));
                f.origin.repo = Some("acme/app".into());
                f
            })
            .collect();
        let v = top(&findings, |f| Some(f.rule.clone()));
        assert_eq!(v.len(), BARS_MAX);
        assert_eq!(v[BARS_MAX - 1], ("9 others".to_string(), 9));
        assert_eq!(
            top(&findings, |f| f.origin.repo.clone()),
            vec![("acme/app".into(), 20)]
        );
    }
}
