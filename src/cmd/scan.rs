//! `dir`, `stdin`, `git` and `staged`: one source each, the same pipeline.

use std::path::PathBuf;

use crate::cli::{DirArgs, GitArgs, ScanArgs, StagedArgs};
use crate::messages::Messages;
use crate::pipeline::{Outcome, Pipeline};
use crate::scan::Collector;
use crate::source::{self, git::GitOptions};

pub fn dir(args: &DirArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let root = args.paths.first().map(PathBuf::as_path);
    let pipeline = Pipeline::build(&args.scan.pipeline(root), messages.clone())?;
    let collector = Collector::default();
    let mut options = args.walk.options(args.scan.threads);
    let journal = args.scan.revocation.journal.as_deref();
    options.skip.push(pipeline.config.journal(journal));
    pipeline.run(&collector, || {
        source::dir::scan(&pipeline.scanner, &args.paths, &options, &collector)
    });
    pipeline.finish(collector, &args.scan.report())
}

pub fn stdin(args: &ScanArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let pipeline = Pipeline::build(&args.pipeline(None), messages.clone())?;
    let collector = Collector::default();
    pipeline.run(&collector, || {
        source::stdin::scan(&pipeline.scanner, &collector)
    });
    pipeline.finish(collector, &args.report())
}

pub fn git(args: &GitArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let pipeline = Pipeline::build(&args.scan.pipeline(Some(&args.repo)), messages.clone())?;
    let collector = Collector::default();
    let options = GitOptions {
        range: args.range.clone(),
        allow_empty_range: args.allow_empty_range,
        all_objects: args.all_objects,
        state: args.state.clone(),
        threads: args.scan.threads,
        max_delta_blob: args.max_delta_blob,
    };
    // A source that stops part-way still has findings: they are reported, beside the error.
    if let Err(e) = pipeline.run(&collector, || {
        source::git::scan(&pipeline.scanner, &args.repo, &options, &collector).map(drop)
    }) {
        messages.error(format_args!("{e:#}"));
    }
    pipeline.finish(collector, &args.scan.report())
}

pub fn staged(args: &StagedArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let pipeline = Pipeline::build(&args.scan.pipeline(Some(&args.repo)), messages.clone())?;
    let collector = Collector::default();
    source::staged::scan(&pipeline.scanner, &args.repo, &collector)?;
    let outcome = pipeline.finish(collector, &args.scan.report())?;
    if outcome.findings > 0 && !args.scan.quiet {
        messages.status(
            "commit blocked: remove the key (and rotate it: it may be in your shell history or \
             editor backups), or mark an intended line `keysweep:allow`",
        );
    }
    Ok(outcome)
}
