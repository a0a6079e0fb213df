//! `ci`: plan from the GitHub event, resolve against the checkout, scan, and report for GitHub
//! Actions (SARIF, annotations, job summary, step outputs) besides the usual report.

use std::path::Path;

use anyhow::Context;

use crate::ci::{self, Checkout, Plan, Want};
use crate::cli::CiArgs;
use crate::messages::Messages;
use crate::output::Target;
use crate::pipeline::{Outcome, Pipeline};
use crate::report;
use crate::scan::Collector;
use crate::source::{self, dir::DirOptions, git::GitOptions};

pub fn run(args: &CiArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let repo = ci::workspace(args.repo.clone());
    let want = ci::want(args.mode, args.event_name.clone(), args.event_path.clone())?;
    let pipeline = Pipeline::build(&args.scan.pipeline(Some(&repo)), messages.clone())?;
    let collector = Collector::default();
    let scope = match want {
        None => {
            let options = DirOptions {
                threads: args.scan.threads,
                skip: vec![pipeline
                    .config
                    .journal(args.scan.revocation.journal.as_deref())],
                ..DirOptions::default()
            };
            source::dir::scan(
                &pipeline.scanner,
                std::slice::from_ref(&repo),
                &options,
                &collector,
            );
            "the working tree".to_string()
        }
        Some(want) => scan_history(&pipeline, &repo, want, args, &collector)?,
    };
    messages.status(format_args!("scanned {scope}"));

    let results = pipeline.conclude(collector)?;
    pipeline.emit(&results, &args.scan.report())?;
    if let Some(path) = &args.sarif {
        Target::File(path)
            .write(|out| {
                Ok(report::sarif::write(
                    &results.findings,
                    pipeline.rules(),
                    out,
                )?)
            })
            .with_context(|| format!("cannot write SARIF file {}", path.display()))?;
    }
    ci::publish(
        &results.findings,
        &results.summary,
        &scope,
        args.sarif.as_deref(),
    )?;
    Ok(results.outcome())
}

/// Resolves `want` against the checkout (deepening it as allowed) and scans the plan; returns
/// what was scanned, in words.
fn scan_history(
    pipeline: &Pipeline,
    repo: &Path,
    want: Want,
    args: &CiArgs,
    collector: &Collector,
) -> anyhow::Result<String> {
    let mut checkout = Checkout::new(repo, !args.no_deepen);
    let resolved = ci::resolve(want, &mut checkout);
    for note in &checkout.notes {
        pipeline.messages().note(note);
    }
    let git = |range: Option<String>, allow_empty: bool| {
        let options = GitOptions {
            range,
            allow_empty_range: allow_empty,
            all_objects: false,
            state: None,
            threads: args.scan.threads,
            max_delta_blob: None,
        };
        // Errors were counted in the messages: the outcome already says incomplete.
        source::git::scan(&pipeline.scanner, repo, &options, collector).map(drop)
    };
    Ok(match resolved? {
        Plan::Nothing { why } => {
            pipeline.messages().note(&why);
            format!("nothing ({why})")
        }
        Plan::Range { range, why } => {
            // Rewinding a branch is a legitimate empty range; nothing else is.
            git(Some(range.clone()), why == "force push")?;
            format!("{why}, commits {}", ci::short_range(&range))
        }
        Plan::Full { why } => {
            git(None, false)?;
            format!("the full history ({why})")
        }
    })
}
