//! Serialising findings. Reports only ever see what a [`Finding`] holds: the raw secret is in
//! it only when the user asked for `--show-secrets`.

pub mod github;
pub mod html;
pub mod json;
pub mod merge;
pub mod sarif;
pub mod text;

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::revoke::Tally;
use crate::rules::RuleSet;
use crate::scan::Counts;

/// A report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable, coloured on a terminal.
    Text,
    /// One JSON document: findings and summary.
    Json,
    /// One finding per line (the stable machine contract).
    Jsonl,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// One self-contained HTML page: summary charts and a sortable, filterable table.
    Html,
}

/// The numbers a report closes with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Text scanned: files (on disk, stdin, patches, texts), git blobs, commit and tag messages.
    pub files: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub blobs: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub messages: u64,
    pub bytes: u64,
    pub binary_skipped: u64,
    pub errors: u64,
    pub suppressed: u64,
    pub findings: u64,
    pub rules: u64,
    pub elapsed_ms: u64,
    /// True when something could not be scanned: the results are then a lower bound.
    pub incomplete: bool,
    /// Set when `--revoke` ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Tally>,
}

impl Summary {
    /// A scan's summary before revocation: its counts, the findings kept, the rules in force.
    pub fn of_scan(counts: Counts, findings: usize, rules: usize) -> Summary {
        Summary {
            files: counts.files,
            blobs: counts.blobs,
            messages: counts.messages,
            bytes: counts.bytes,
            binary_skipped: counts.binary_skipped,
            errors: counts.errors,
            suppressed: counts.suppressed,
            findings: findings as u64,
            rules: rules as u64,
            elapsed_ms: counts.elapsed_ms,
            incomplete: counts.errors > 0,
            revocation: None,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub struct ReportOptions {
    pub color: bool,
}

pub fn write(
    format: Format,
    findings: &[Finding],
    summary: &Summary,
    rules: &RuleSet,
    out: &mut dyn Write,
    options: &ReportOptions,
) -> io::Result<()> {
    match format {
        Format::Text => text::write(findings, summary, out, options.color),
        Format::Json => json::write_document(findings, summary, out),
        Format::Jsonl => json::write_lines(findings, out),
        Format::Sarif => sarif::write(findings, rules, out),
        Format::Html => html::write(findings, summary, out),
    }
}
