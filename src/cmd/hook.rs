//! `install-hook`, and `staged --files` (the pre-commit framework's hooks).

use std::path::PathBuf;

use crate::cli::{InstallHookArgs, StagedArgs};
use crate::messages::Messages;
use crate::pipeline::{Outcome, Pipeline};
use crate::scan::Collector;

pub fn install(args: &InstallHookArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let (hook, backup) = crate::hook::install(&args.repo, args.force, &args.staged_args)?;
    if let Some(kept) = backup {
        messages.status(format_args!("kept the previous hook as {}", kept.display()));
    }
    messages.status(format_args!("installed {}", hook.display()));
    Ok(Outcome::default())
}

/// The pre-commit framework names files: on a commit, the ones it changes (then only the staged
/// lines are scanned, as the git hook does, in milliseconds); on `pre-commit run --all-files`
/// or `--files`, others too, and then every named file is scanned whole, so a key committed
/// with `--no-verify` is found.
pub fn pre_commit(
    args: &StagedArgs,
    files: &[PathBuf],
    messages: &Messages,
) -> anyhow::Result<Outcome> {
    let changed = crate::source::staged::changed_paths(&args.repo)?;
    if crate::hook::only_changed(&args.repo, files, &changed)? {
        return super::scan::staged(args, messages);
    }
    let pipeline = Pipeline::build(&args.scan.pipeline(Some(&args.repo)), messages.clone())?;
    let collector = Collector::default();
    let options = crate::source::dir::DirOptions {
        no_ignore: true,
        follow: false,
        threads: args.scan.threads,
        // The revocation journal is never scanned (its lines hold hashes named like keys).
        skip: vec![pipeline
            .config
            .journal(args.scan.revocation.journal.as_deref())],
    };
    pipeline.run(&collector, || {
        crate::source::dir::scan(&pipeline.scanner, files, &options, &collector)
    });
    pipeline.finish(collector, &args.scan.report())
}
