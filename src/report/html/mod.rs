//! The HTML report (`--format html`): one self-contained page a person opens from a CI
//! artifact or an e-mail, with no network access at all (no CDN, no web fonts): summary
//! charts drawn here as inline SVG, and a table of findings that the page's own script sorts
//! and filters.
//!
//! Safety: every piece of scanned or user-controlled text in the markup goes through
//! [`escape::html`]; the findings travel as JSON in a `<script type="application/json">`
//! element through [`escape::script_json`], and the script only ever puts them in the page as
//! text (`textContent`), never as markup. Links are only `http(s)` URLs. Values are the
//! redacted forms unless the run was given `--show-secrets`.
//!
//! Size: the charts count every finding; the table holds at most [`TABLE_ROWS_MAX`] (highest
//! severity first) and says how many it left out, so a 100,000-finding run still writes a
//! page a browser opens (about 6 MB) instead of one it cannot.

mod chart;

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::escape::{html, script_json, visible};
use crate::finding::Finding;
use crate::messages::{human_bytes, plural};
use crate::report::Summary;
use crate::rules::Severity;

/// The most findings the table holds (the charts count all of them).
pub const TABLE_ROWS_MAX: usize = 10_000;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Writes the page, with the ages of commits counted from now.
pub fn write(findings: &[Finding], summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    write_at(findings, summary, out, SystemTime::now())
}

fn write_at(
    findings: &[Finding],
    summary: &Summary,
    out: &mut dyn Write,
    now: SystemTime,
) -> io::Result<()> {
    let today = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <title>keysweep report: {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        html(&plural(summary.findings, "finding"))
    )?;
    write_header(findings, summary, out, now)?;
    chart::write_all(findings, today, out)?;
    write_table(findings, summary, out, today)?;
    write!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n")
}

fn write_header(
    findings: &[Finding],
    s: &Summary,
    out: &mut dyn Write,
    now: SystemTime,
) -> io::Result<()> {
    let by = |sev| findings.iter().filter(|f| f.severity == sev).count() as u64;
    writeln!(out, "<header>\n<h1>keysweep report</h1>")?;
    writeln!(
        out,
        "<p class=\"meta\">Generated {} by keysweep {}.</p>",
        html(&httpdate::fmt_http_date(now)),
        env!("CARGO_PKG_VERSION")
    )?;
    if s.incomplete {
        writeln!(
            out,
            "<p class=\"warn\" id=\"incomplete\">INCOMPLETE: some input could not be scanned \
             ({}; see the run's log). These results are a lower bound.</p>",
            html(&plural(s.errors, "error"))
        )?;
    }
    writeln!(out, "<dl class=\"summary\">")?;
    let mut item = |term: &str, value: String| {
        writeln!(out, "<div><dt>{}</dt><dd>{}</dd></div>", term, html(&value))
    };
    item("Findings", s.findings.to_string())?;
    item("High", by(Severity::High).to_string())?;
    item("Medium", by(Severity::Medium).to_string())?;
    item("Low", by(Severity::Low).to_string())?;
    item("Scanned", crate::report::text::scanned(s))?;
    item("Bytes", human_bytes(s.bytes))?;
    item("Suppressed", s.suppressed.to_string())?;
    item("Binary skipped", s.binary_skipped.to_string())?;
    item("Errors", s.errors.to_string())?;
    item("Time", format!("{:.2} s", s.elapsed_ms as f64 / 1000.0))?;
    writeln!(out, "</dl>")?;
    if let Some(tally) = &s.revocation {
        writeln!(
            out,
            "<p class=\"revocation\" id=\"revocation\">Revocation: {}</p>",
            html(&tally.to_string())
        )?;
    }
    writeln!(out, "</header>")
}

/// One finding as the page's script reads it. Text is [`visible`] (control characters shown
/// as escapes); the script puts it in the page as text only.
#[derive(Serialize)]
struct Row<'a> {
    sev: Severity,
    rule: &'a str,
    desc: &'a str,
    path: String,
    member: Option<String>,
    line: u64,
    col: u64,
    repo: Option<String>,
    commit: Option<&'a str>,
    date: Option<String>,
    age: &'static str,
    enc: Option<&'a str>,
    value: String,
    sha: &'a str,
    rev: Option<String>,
    url: Option<&'a str>,
    snip: String,
}

fn row<'a>(f: &'a Finding, today: i64) -> Row<'a> {
    let shown = |s: &Option<String>| s.as_deref().map(|s| visible(s).into_owned());
    Row {
        sev: f.severity,
        rule: &f.rule,
        desc: &f.description,
        path: visible(f.origin.path.as_deref().unwrap_or(&f.origin.source)).into_owned(),
        member: shown(&f.origin.member),
        line: f.line,
        col: f.column,
        repo: shown(&f.origin.repo),
        commit: f.origin.commit.as_deref(),
        date: shown(&f.origin.date),
        age: chart::age_bucket(f, today),
        enc: f.origin.encoding.as_deref(),
        value: visible(f.secret.as_deref().unwrap_or(&f.redacted)).into_owned(),
        sha: &f.secret_sha256,
        rev: shown(&f.revocation),
        url: f.origin.url.as_deref().filter(|u| web_link(u)),
        snip: visible(&f.snippet).into_owned(),
    }
}

/// Only web links become `href`s: a `javascript:` or `data:` URL from a hostile source must
/// not run in the reader's browser.
fn web_link(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

#[derive(Serialize)]
struct Data<'a> {
    total: usize,
    revocation: bool,
    rows: Vec<Row<'a>>,
}

fn write_table(
    findings: &[Finding],
    s: &Summary,
    out: &mut dyn Write,
    today: i64,
) -> io::Result<()> {
    let mut kept: Vec<&Finding> = findings.iter().collect();
    // Stable: within a severity the findings keep the report's order (by place).
    kept.sort_by_key(|f| std::cmp::Reverse(f.severity));
    kept.truncate(TABLE_ROWS_MAX);
    let data = Data {
        total: findings.len(),
        revocation: s.revocation.is_some() || findings.iter().any(|f| f.revocation.is_some()),
        rows: kept.into_iter().map(|f| row(f, today)).collect(),
    };
    let json = serde_json::to_string(&data).map_err(io::Error::other)?;
    out.write_all(TABLE.as_bytes())?;
    if data.rows.len() < data.total {
        writeln!(
            out,
            "<p class=\"warn\" id=\"truncated\">The table holds the first {} of {} findings, \
             highest severity first; the charts count all of them. Every finding is in \
             <code>--format json</code>.</p>",
            data.rows.len(),
            data.total
        )?;
    }
    writeln!(
        out,
        "<script type=\"application/json\" id=\"ks-data\">{}</script>",
        script_json(&json)
    )
}

const TABLE: &str = r#"<section id="table">
<h2>Findings</h2>
<noscript><p class="warn">The table needs JavaScript; the charts above do not.</p></noscript>
<div class="controls">
<label>Filter <input id="q" type="search" placeholder="rule, path, repository, sha256, …"></label>
<label>Severity <select id="sev"><option value="">all</option><option>high</option><option>medium</option><option>low</option></select></label>
<label>Rule <select id="rule"><option value="">all</option></select></label>
<span id="count" aria-live="polite"></span>
</div>
<table id="findings">
<thead><tr>
<th data-col="sev">Severity</th><th data-col="rule">Rule</th><th data-col="loc">Location</th>
<th data-col="repo">Repository</th><th data-col="date">Commit</th><th data-col="value">Value</th>
<th data-col="sha">SHA-256</th><th data-col="origin">Origin</th><th data-col="rev" class="rev">Revocation</th>
</tr></thead>
<tbody></tbody>
</table>
</section>
"#;

#[cfg(test)]
mod tests;
