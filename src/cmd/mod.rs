//! The command layer: the only code that reads clap structs. Each command family turns its
//! flags into library options, runs the [`pipeline`](crate::pipeline) or a library operation,
//! and returns an [`Outcome`] for `main` to map to an exit code.

mod baseline;
mod ci;
mod github;
mod hook;
mod manual;
mod report;
mod revoke;
mod rules;
mod scan;
mod serve;

use crate::cli::{BaselineCommand, Cli, Command, ReportCommand, RulesCommand};
use crate::messages::Messages;
use crate::pipeline::Outcome;

/// Runs a parsed command line. Every message goes through `messages`.
pub fn run(cli: Cli, messages: &Messages) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Dir(args) => scan::dir(&args, messages),
        Command::Stdin(args) => scan::stdin(&args, messages),
        Command::Git(args) => scan::git(&args, messages),
        Command::Staged(args) => match &args.files {
            Some(files) => hook::pre_commit(&args, files, messages),
            None => scan::staged(&args, messages),
        },
        Command::InstallHook(args) => hook::install(&args, messages),
        Command::Ci(args) => ci::run(&args, messages),
        Command::Rules(RulesCommand::List {
            rules,
            format,
            json,
        }) => rules::list(&rules, json || format == crate::cli::ListFormat::Json),
        Command::Rules(RulesCommand::Export { rules, .. }) => {
            rules::export_github_partner(&rules, messages)
        }
        Command::Rules(RulesCommand::Check { path }) => rules::check(path.as_deref(), messages),
        Command::Rules(RulesCommand::Convert { file, output }) => {
            rules::convert(&file, output.as_deref(), messages)
        }
        Command::Baseline(BaselineCommand::Create {
            paths,
            from,
            output,
            walk,
            rules,
        }) => baseline::create(&paths, from.as_deref(), &output, &walk, &rules, messages),
        Command::Revoke(args) => revoke::run(&args, messages),
        Command::Github(command) => github::run(command, messages),
        Command::Report(ReportCommand::Merge {
            inputs,
            format,
            output,
            rules,
        }) => report::merge(&inputs, format, output.as_deref(), &rules, messages),
        Command::Serve(args) => serve::run(&args, messages),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man { dir } => manual::man(dir.as_deref(), messages),
    }
}
