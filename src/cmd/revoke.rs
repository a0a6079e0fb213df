//! `revoke --from REPORT`: the keys of an earlier report, without scanning again.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;

use crate::cli::RevokeCommand;
use crate::finding::Finding;
use crate::messages::{Messages, Progress};
use crate::output::Target;
use crate::pipeline::Outcome;
use crate::report::{self, Format, ReportOptions, Summary};
use crate::revoke::{Revocation, Settings};

/// Exit 2 if any revocation failed, else 0: the findings are the input here, not news.
pub fn run(args: &RevokeCommand, messages: &Messages) -> anyhow::Result<Outcome> {
    let rule_options = args.rules.options();
    let config = rule_options.config(Some(Path::new(".")))?;
    // Rules give the default prefixes; a `[revoke] prefixes` list makes them unnecessary, so an
    // empty set is no error here.
    let rules = config.load_rules(&rule_options.paths, rule_options.no_builtin, messages)?;
    let options = args.options.options();
    if args.print_egress {
        let settings = Settings::resolve(&config.revoke_section(), &rules, &options)?;
        println!("{}", settings.egress());
        return Ok(Outcome::default());
    }
    let from = args
        .from
        .as_deref()
        .context("--from REPORT names the report to revoke from")?;
    let mut findings = report::json::read_findings_file(from)?;
    // Revocation needs only the hashes; a report made with `--show-secrets` must not hand its
    // raw keys on to this command's output.
    findings.iter_mut().for_each(Finding::forget_secret);
    let revocation = Revocation::prepare(&config.revoke_section(), &rules, &options, messages)?;
    let text = args.format == Format::Text;
    let mut log: Box<dyn Write> = match (args.quiet, text) {
        (true, _) => Box::new(io::sink()),
        (false, true) => Box::new(io::stdout()),
        (false, false) => Box::new(messages.lines()),
    };
    // Text goes to stdout line by line, which is its own progress; a progress line on stderr
    // would be drawn into it.
    let progress = Progress::new(messages, args.quiet || text);
    let tally = progress.run(
        || revocation.progress(),
        || revocation.run(&mut findings, &mut log),
    )?;
    if !args.quiet {
        writeln!(log, "keysweep: {tally}")?;
    }
    drop(log);
    if !text {
        let summary = Summary {
            findings: findings.len() as u64,
            rules: rules.len() as u64,
            revocation: Some(tally.clone()),
            ..Summary::default()
        };
        let options = ReportOptions { color: false };
        Target::Stdout.write(|out| {
            Ok(report::write(
                args.format,
                &findings,
                &summary,
                &rules,
                out,
                &options,
            )?)
        })?;
    }
    Ok(Outcome {
        incomplete: tally.failed > 0,
        ..Outcome::default()
    })
}
