//! `report merge`: join the reports of a sharded sweep.

use std::path::{Path, PathBuf};

use crate::cli::RuleArgs;
use crate::messages::{plural, Messages};
use crate::output::Target;
use crate::pipeline::Outcome;
use crate::report::merge::{self, Merged};
use crate::report::{self, Format, ReportOptions};

pub fn merge(
    inputs: &[PathBuf],
    format: Format,
    output: Option<&Path>,
    rule_args: &RuleArgs,
    messages: &Messages,
) -> anyhow::Result<Outcome> {
    let merged = merge::merge_files(inputs)?;
    anyhow::ensure!(
        format == Format::Sarif || !matches!(merged, Merged::Sarif { .. }),
        "SARIF inputs merge into SARIF only: add --format sarif"
    );
    let (count, incomplete, what) = match &merged {
        Merged::Findings {
            findings,
            incomplete,
        } => (findings.len(), *incomplete, "findings"),
        Merged::Sarif { results, .. } => (*results, false, "results (one per secret)"),
    };
    Target::new(output).write(|out| {
        match &merged {
            Merged::Sarif { sarif, .. } => {
                serde_json::to_writer_pretty(&mut *out, sarif)?;
                writeln!(out)?;
            }
            Merged::Findings {
                findings,
                incomplete,
            } => {
                // Rules only describe results (SARIF); a rule missing here is not an error.
                let options = rule_args.options();
                let rules = options.load(&options.config(None)?, messages)?;
                let summary = merge::summary(findings, rules.len(), *incomplete);
                let color = ReportOptions { color: false };
                report::write(format, findings, &summary, &rules, out, &color)?;
            }
        }
        Ok(())
    })?;
    messages.status(format_args!(
        "merged {} into {count} {what}",
        plural(inputs.len(), "report")
    ));
    Ok(Outcome {
        findings: count,
        incomplete,
        failed: false,
    })
}
