//! Human output: one block per finding, then a summary line.

use std::io::{self, Write};

use crate::escape::visible;
use crate::finding::Finding;
use crate::messages::{human_bytes, plural};
use crate::report::Summary;
use crate::rules::Severity;

struct Paint {
    on: bool,
}

impl Paint {
    /// `s` (escaped: it comes from scanned content) in colour `code` when colour is on.
    fn paint(&self, code: &str, s: &str) -> String {
        let s = visible(s);
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

pub fn write(
    findings: &[Finding],
    summary: &Summary,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    let p = Paint { on: color };
    for f in findings {
        let sev = match f.severity {
            Severity::High => p.paint("1;31", "high  "),
            Severity::Medium => p.paint("33", "medium"),
            Severity::Low => p.paint("36", "low   "),
        };
        writeln!(
            out,
            "{sev} {}  {}",
            p.paint("1", &f.rule),
            p.paint("35", &f.location())
        )?;
        let secret = f.secret.as_deref().unwrap_or(&f.redacted);
        write!(
            out,
            "       {}  sha256:{}",
            p.paint("32", secret),
            &f.secret_sha256[..16]
        )?;
        if let Some(id) = &f.key_id {
            write!(out, "  key id {}", visible(id))?;
        }
        if let Some(encoding) = &f.origin.encoding {
            write!(out, "  {encoding}-encoded")?;
        }
        writeln!(out)?;
        if let Some(commit) = &f.origin.commit {
            let short = &commit[..commit.len().min(12)];
            let who = f.origin.author.as_deref().unwrap_or("");
            let when = f.origin.date.as_deref().unwrap_or("");
            let line = format!("commit {short} {who} {when}");
            writeln!(out, "       {}", visible(&line))?;
        }
        if f.origin.other_places > 0 {
            writeln!(out, "       {}", visible(&also_line(f)))?;
        }
        if !f.snippet.is_empty() {
            writeln!(out, "       {}", p.paint("2", &f.snippet))?;
        }
        if let Some(r) = &f.revocation {
            writeln!(out, "       revocation: {}", visible(r))?;
        }
    }
    writeln!(out, "{}", summary_line(findings, summary))
}

/// `also in 3 other places: 1a2b3c4d5e6f:path, …`: a few places, the rest counted.
fn also_line(f: &Finding) -> String {
    const SHOWN: usize = 3;
    let n = f.origin.other_places;
    let mut parts: Vec<String> = f
        .origin
        .also
        .iter()
        .take(SHOWN)
        .map(|p| format!("{}:{}", &p.commit[..p.commit.len().min(12)], p.path))
        .collect();
    if n > parts.len() as u64 {
        parts.push(format!("{} more", n - parts.len() as u64));
    }
    format!("also in {}: {}", plural(n, "other place"), parts.join(", "))
}

/// What was scanned, each kind by its name: `12 files`, `3400 blobs and 210
/// messages` (a history's blobs and commit messages are not files).
pub fn scanned(s: &Summary) -> String {
    scanned_counts(s.files, s.blobs, s.messages)
}

/// [`scanned`] from the three counts (progress lines have counts, not a summary).
pub fn scanned_counts(files: u64, blobs: u64, messages: u64) -> String {
    let mut parts = Vec::new();
    if files > 0 || (blobs == 0 && messages == 0) {
        parts.push(plural(files, "file"));
    }
    if blobs > 0 {
        parts.push(plural(blobs, "blob"));
    }
    if messages > 0 {
        parts.push(plural(messages, "message"));
    }
    match parts.len() {
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} and {last}", parts.join(", "))
        }
    }
}

pub fn summary_line(findings: &[Finding], s: &Summary) -> String {
    let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
    let mut line = format!(
        "{} ({} high, {} medium, {} low) in {} ({}), {} binary skipped, {} suppressed, {}, {:.2} s",
        plural(s.findings, "finding"),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        scanned(s),
        human_bytes(s.bytes),
        s.binary_skipped,
        s.suppressed,
        plural(s.errors, "error"),
        s.elapsed_ms as f64 / 1000.0
    );
    if s.incomplete {
        line.push_str(" — INCOMPLETE: some input could not be scanned (see errors above)");
    }
    if let Some(r) = &s.revocation {
        line.push_str(&format!("; {r}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_scanned_is_named_by_kind() {
        assert_eq!(scanned_counts(0, 0, 0), "0 files");
        assert_eq!(scanned_counts(1, 0, 0), "1 file");
        assert_eq!(scanned_counts(0, 3400, 0), "3400 blobs");
        assert_eq!(scanned_counts(0, 3400, 1), "3400 blobs and 1 message");
        assert_eq!(scanned_counts(2, 5, 7), "2 files, 5 blobs and 7 messages");
    }
}
