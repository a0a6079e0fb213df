//! `completions SHELL` and `man`: generated from the clap definitions, so the release archives
//! ship completions and manual pages that match the binary's flags exactly.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::messages::{plural, Messages};
use crate::output::Target;
use crate::pipeline::Outcome;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<Outcome> {
    // Generated into memory first: clap_complete panics on a write error, and a reader
    // closing the pipe (`| head`) is the reader's choice, not a crash.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "keysweep", &mut script);
    Target::new(None).write(|out| Ok(out.write_all(&script)?))?;
    Ok(Outcome::default())
}

/// The top page to standard output, or with `dir` a page per command (`keysweep-github-org.1`).
pub fn man(dir: Option<&Path>, messages: &Messages) -> anyhow::Result<Outcome> {
    let command = crate::cli::versioned();
    let Some(dir) = dir else {
        Target::new(None).write(|out| Ok(clap_mangen::Man::new(command).render(out)?))?;
        return Ok(Outcome::default());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let written = write_pages(command, dir)?;
    messages.status(format_args!(
        "{} written to {}",
        plural(written, "manual page"),
        dir.display()
    ));
    Ok(Outcome::default())
}

/// Writes the page of `command` and of each subcommand below it; returns how many.
fn write_pages(mut command: clap::Command, dir: &Path) -> anyhow::Result<usize> {
    command.build();
    let mut written = 0;
    let mut stack = vec![command];
    while let Some(command) = stack.pop() {
        let name = command.get_display_name().unwrap_or(command.get_name());
        let path = dir.join(format!("{name}.1"));
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            stack.push(sub.clone());
        }
        Target::new(Some(&path)).write(|out| Ok(clap_mangen::Man::new(command).render(out)?))?;
        written += 1;
    }
    Ok(written)
}
