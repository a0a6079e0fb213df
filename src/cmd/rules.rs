//! `rules list`, `rules export` and `rules check`.

use std::io::{self, Write};
use std::path::Path;

use crate::cli::RuleArgs;
use crate::messages::{plural, Messages};
use crate::pipeline::Outcome;
use crate::rules::{self, Confidence};
use crate::serve::registration;

pub fn list(args: &RuleArgs, json: bool) -> anyhow::Result<Outcome> {
    let options = args.options();
    let rules = options.load(&options.config(None)?, &Messages::stderr())?;
    let mut out = io::stdout().lock();
    if json {
        let list: Vec<_> = rules
            .rules()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id(),
                    "description": r.spec.description,
                    "severity": r.spec.severity,
                    "confidence": r.spec.confidence.unwrap_or(Confidence::Medium),
                    "revocable": r.spec.revocable,
                    "keywords": r.spec.keywords,
                    "origin": r.origin,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
    } else {
        for r in rules.rules() {
            writeln!(
                out,
                "{:<40} {:<6} {:<6} {:<9} {}",
                r.id(),
                r.spec.severity,
                r.spec.confidence.unwrap_or(Confidence::Medium),
                if r.spec.revocable { "revocable" } else { "" },
                r.spec.description
            )?;
        }
        writeln!(out, "{} rules", rules.len())?;
    }
    Ok(Outcome::default())
}

/// `rules export --github-partner`: the token types to register with GitHub's partner program.
pub fn export_github_partner(args: &RuleArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let options = args.options();
    let rules = options.load(&options.config(None)?, messages)?;
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &registration::token_types(&rules))?;
    writeln!(out)?;
    Ok(Outcome::default())
}

/// `rules convert FILE`: a gitleaks-style file as a keysweep rule file. What could not be
/// carried over is warned about, and converting nothing usable is an error.
pub fn convert(file: &Path, output: Option<&Path>, messages: &Messages) -> anyhow::Result<Outcome> {
    let import = crate::gitleaks::read_if_gitleaks(file)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no [[rules]] table: not a gitleaks-style configuration",
            file.display()
        )
    })?;
    import.warn(file, messages);
    anyhow::ensure!(
        !import.rules.is_empty(),
        "{}: no rule could be converted",
        file.display()
    );
    let text = crate::gitleaks::to_keysweep_toml(&import.rules)?;
    crate::output::Target::new(output).write(|out| Ok(out.write_all(text.as_bytes())?))?;
    if output.is_some() {
        messages.status(format_args!(
            "{} written to {}",
            plural(import.rules.len(), "rule"),
            output.unwrap_or(file).display()
        ));
    }
    Ok(Outcome::default())
}

pub fn check(path: Option<&Path>, messages: &Messages) -> anyhow::Result<Outcome> {
    let specs = match path {
        Some(p) => rules::read_rule_path(p)?,
        None => rules::builtin_specs()?,
    };
    let report = crate::check::check(specs);
    for f in &report.failures {
        messages.plain(format_args!("FAIL {f}"));
    }
    println!(
        "{} rules, {} examples checked, {}",
        report.rules,
        report.examples,
        plural(report.failures.len(), "failure")
    );
    Ok(Outcome {
        failed: !report.failures.is_empty(),
        ..Default::default()
    })
}
