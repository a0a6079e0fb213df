//! `baseline create`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{RuleArgs, WalkArgs};
use crate::messages::{plural, Messages};
use crate::pipeline::{Options, Outcome, Pipeline};
use crate::report;
use crate::scan::Collector;
use crate::source;
use crate::suppress;

pub fn create(
    paths: &[PathBuf],
    from: Option<&Path>,
    output: &Path,
    walk: &WalkArgs,
    rules: &RuleArgs,
    messages: &Messages,
) -> anyhow::Result<Outcome> {
    let (findings, incomplete) = match from {
        Some(report) => (report::json::read_findings_file(report)?, false),
        None => {
            let options = Options {
                rules: rules.options(),
                root: paths.first().cloned(),
                // A new baseline holds everything that is there now.
                no_baseline: true,
                quiet: true,
                ..Options::default()
            };
            let pipeline = Pipeline::build(&options, messages.clone())?;
            let collector = Collector::default();
            source::dir::scan(&pipeline.scanner, paths, &walk.options(0), &collector);
            let findings = collector.into_sorted();
            let incomplete = pipeline.summary(findings.len()).incomplete;
            (findings, incomplete)
        }
    };
    let text = suppress::render_baseline(findings.iter().map(|f| f.fingerprint.as_str()));
    std::fs::write(output, &text)
        .with_context(|| format!("cannot write baseline {}", output.display()))?;
    let count = text.lines().filter(|l| !l.starts_with('#')).count();
    messages.status(format_args!(
        "wrote {} to {}",
        plural(count, "fingerprint"),
        output.display()
    ));
    Ok(Outcome {
        incomplete,
        ..Default::default()
    })
}
