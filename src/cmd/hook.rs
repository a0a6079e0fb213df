//! `install-hook`.

use crate::cli::InstallHookArgs;
use crate::messages::Messages;
use crate::pipeline::Outcome;

pub fn install(args: &InstallHookArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let (hook, backup) = crate::hook::install(&args.repo, args.force, &args.staged_args)?;
    if let Some(kept) = backup {
        messages.status(format_args!("kept the previous hook as {}", kept.display()));
    }
    messages.status(format_args!("installed {}", hook.display()));
    Ok(Outcome::default())
}
