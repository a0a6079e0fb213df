//! JSON (one document) and JSON Lines (one finding per line: the stable machine contract).

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::report::Summary;

#[derive(Serialize, Deserialize)]
pub struct Document {
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

pub fn write_document(
    findings: &[Finding],
    summary: &Summary,
    out: &mut dyn Write,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        findings: &'a [Finding],
        summary: &'a Summary,
    }
    serde_json::to_writer_pretty(&mut *out, &Borrowed { findings, summary })?;
    writeln!(out)
}

pub fn write_lines(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    for f in findings {
        serde_json::to_writer(&mut *out, f)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Reads findings back from a keysweep JSON document or JSON Lines report (for baselines,
/// revocation from a report, and merging shard outputs).
/// The findings of a keysweep JSON or JSON Lines report file.
pub fn read_findings_file(path: &std::path::Path) -> anyhow::Result<Vec<Finding>> {
    use anyhow::Context;
    let text = crate::control::read_to_string(path, crate::control::REPORT_FILE_MAX)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    read_findings(&text).with_context(|| format!("cannot read findings from {}", path.display()))
}

pub fn read_findings(text: &str) -> anyhow::Result<Vec<Finding>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') && serde_json::from_str::<Document>(trimmed).is_ok() {
        return Ok(serde_json::from_str::<Document>(trimmed)?.findings);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| anyhow::anyhow!("line {}: not a keysweep finding: {e}", i + 1))
        })
        .collect()
}
