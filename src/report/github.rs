//! GitHub Actions output: workflow annotations (`::error file=…::`) and the Markdown job
//! summary written to `GITHUB_STEP_SUMMARY`. Both carry redacted secrets only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::finding::Finding;
use crate::report::Summary;
use crate::rules::Severity;

/// GitHub shows at most 10 error and 10 warning annotations per step and 50 per job; more
/// are dropped by the runner, so past this the rest are counted in one notice instead.
pub const MAX_ANNOTATIONS: usize = 50;
/// The job summary is capped at 1 MiB by GitHub; the table stops well before that.
const MAX_SUMMARY_ROWS: usize = 500;

/// Where links in the summary point: `{server}/{repository}/blob/{sha}/{path}#L{line}`.
#[derive(Debug, Clone, Default)]
pub struct LinkBase {
    pub server: String,
    pub repository: String,
    /// The commit a finding without its own commit is linked at (`GITHUB_SHA`).
    pub sha: String,
}

impl LinkBase {
    pub fn from_env() -> Option<LinkBase> {
        let get = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        Some(LinkBase {
            server: get("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            repository: get("GITHUB_REPOSITORY")?,
            sha: get("GITHUB_SHA").unwrap_or_default(),
        })
    }

    fn link(&self, f: &Finding) -> Option<String> {
        let path = f.origin.path.as_deref()?;
        let sha = f.origin.commit.as_deref().unwrap_or(&self.sha);
        if sha.is_empty() {
            return None;
        }
        Some(format!(
            "{}/{}/blob/{sha}/{path}#L{}",
            self.server.trim_end_matches('/'),
            self.repository,
            f.line
        ))
    }
}

pub fn write_annotations(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    for f in findings.iter().take(MAX_ANNOTATIONS) {
        let level = match f.severity {
            Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low => "notice",
        };
        let file = f.origin.path.as_deref().unwrap_or(&f.origin.source);
        let mut msg = format!(
            "{}: {} (sha256 {})",
            f.description,
            f.redacted,
            &f.secret_sha256[..16]
        );
        if let Some(c) = &f.origin.commit {
            let _ = write!(msg, " in commit {}", &c[..c.len().min(12)]);
        }
        if let Some(r) = &f.revocation {
            let _ = write!(msg, "; revocation: {r}");
        }
        writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            escape_property(file),
            f.line,
            f.column,
            escape_property(&format!("keysweep {}", f.rule)),
            escape_data(&msg)
        )?;
    }
    if findings.len() > MAX_ANNOTATIONS {
        writeln!(
            out,
            "::notice title=keysweep::{} more findings are in the SARIF report and the job summary",
            findings.len() - MAX_ANNOTATIONS
        )?;
    }
    Ok(())
}

/// Workflow-command escaping: data escapes `%`, CR and LF; properties also `:` and `,`.
fn escape_data(s: &str) -> String {
    // Percent-escapes first (a `%` of ours must not be read back as one), then every other
    // control character a hostile file name or snippet could carry into the runner's log.
    crate::escape::visible_lines(&s.replace('%', "%25"))
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The Markdown job summary: a headline, counts by rule, and a table of findings.
pub fn summary_markdown(
    findings: &[Finding],
    summary: &Summary,
    scope: &str,
    links: Option<&LinkBase>,
) -> String {
    let mut md = String::new();
    let n = findings.len();
    let headline = match (n, summary.incomplete) {
        (_, true) => format!("## ⚠️ keysweep: scan INCOMPLETE ({n} finding(s) so far)"),
        (0, false) => "## ✅ keysweep: no leaked secrets".to_string(),
        (1, false) => "## ❌ keysweep: 1 leaked secret found".to_string(),
        _ => format!("## ❌ keysweep: {n} leaked secrets found"),
    };
    let _ = writeln!(md, "{headline}\n");
    let _ = writeln!(
        md,
        "Scanned {scope}: {}, {}, {} binary skipped, {} suppressed, {} error(s), {:.2} s.\n",
        crate::report::text::scanned(summary),
        crate::messages::human_bytes(summary.bytes),
        summary.binary_skipped,
        summary.suppressed,
        summary.errors,
        summary.elapsed_ms as f64 / 1000.0
    );
    if n == 0 {
        return md;
    }
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        *by_rule.entry(&f.rule).or_default() += 1;
    }
    md.push_str("| Rule | Findings |\n|---|---:|\n");
    for (rule, count) in &by_rule {
        let _ = writeln!(md, "| `{rule}` | {count} |");
    }
    md.push_str(
        "\n| Severity | Rule | Location | Secret (redacted) | SHA-256 | Commit | Revocation |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|\n");
    for f in findings.iter().take(MAX_SUMMARY_ROWS) {
        md.push_str(&row(f, links));
    }
    if n > MAX_SUMMARY_ROWS {
        let _ = writeln!(
            md,
            "\n…and {} more: see the SARIF report.",
            n - MAX_SUMMARY_ROWS
        );
    }
    md.push_str(&revocation_line(findings));
    md
}

/// One finding's table row: redacted value and a hash prefix only, linked to its line.
fn row(f: &Finding, links: Option<&LinkBase>) -> String {
    let place = cell(&f.location());
    let location = match links.and_then(|l| l.link(f)) {
        Some(url) => format!("[{place}]({url})"),
        None => place,
    };
    let commit = f
        .origin
        .commit
        .as_deref()
        .map(|c| format!("`{}`", &c[..c.len().min(12)]))
        .unwrap_or_default();
    format!(
        "| {} | `{}` | {location} | `{}` | `{}` | {commit} | {} |\n",
        f.severity,
        f.rule,
        cell(&f.redacted),
        &f.secret_sha256[..16],
        cell(f.revocation.as_deref().unwrap_or("")),
    )
}

/// `**Revocation:** failed 1, revoked 2`: outcomes counted by kind, or nothing.
fn revocation_line(findings: &[Finding]) -> String {
    let revoked: BTreeMap<&str, usize> = findings
        .iter()
        .filter_map(|f| f.revocation.as_deref())
        .fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.split(':').next().unwrap_or(r)).or_default() += 1;
            m
        });
    if revoked.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = revoked.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("\n**Revocation:** {}\n", parts.join(", "))
}

/// Table cells must not break the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Origin;

    fn finding(path: &str) -> Finding {
        Finding {
            rule: "keyservice.secret-live".into(),
            description: "Live secret key".into(),
            severity: Severity::High,
            secret_sha256: "ab".repeat(32),
            fingerprint: "cd".repeat(32),
            redacted: "sk_live_kWZn…(51)".into(),
            secret: None,
            key_prefix: Some("sk_live_".into()),
            key_id: None,
            revocable: true,
            line: 7,
            column: 3,
            snippet: String::new(),
            origin: Origin {
                commit: Some("0123456789abcdef0123".into()),
                ..Origin::with_path("git", path)
            },
            revocation: None,
        }
    }

    #[test]
    fn annotations_escape_properties_and_cap_the_count() {
        let mut out = Vec::new();
        write_annotations(&[finding("a,b:c.py")], &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.starts_with("::error file=a%2Cb%3Ac.py,line=7,col=3,title=keysweep keyservice.secret-live::Live secret key: sk_live_kWZn…(51)"),
            "{s}"
        );
        let many: Vec<_> = (0..MAX_ANNOTATIONS + 5).map(|_| finding("x")).collect();
        let mut out = Vec::new();
        write_annotations(&many, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.lines().count(), MAX_ANNOTATIONS + 1);
        assert!(s.lines().last().unwrap().contains("5 more findings"));
    }

    #[test]
    fn summary_links_findings_at_their_commit() {
        let links = LinkBase {
            server: "https://github.example".into(),
            repository: "acme/app".into(),
            sha: "ffff".into(),
        };
        let md = summary_markdown(
            &[finding("src/a.py")],
            &Summary::default(),
            "range",
            Some(&links),
        );
        assert!(md.contains("1 leaked secret found"));
        assert!(md.contains(
            "[src/a.py:7:3](https://github.example/acme/app/blob/0123456789abcdef0123/src/a.py#L7)"
        ), "{md}");
        assert!(md.contains("| `keyservice.secret-live` | 1 |"));
    }
}
