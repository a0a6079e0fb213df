//! Serialising findings. Reports only ever see what a [`Finding`] holds: the raw secret is in
//! it only when the user asked for `--show-secrets`.

pub mod github;
pub mod json;
pub mod merge;
pub mod sarif;
pub mod text;

use std::io::{self, Write};

use crate::cli::Format;
use crate::finding::Finding;
use crate::rules::RuleSet;
use crate::scan::Summary;

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
    }
}
