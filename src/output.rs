//! Where a report goes: a file (`-o FILE`) or standard output. One place decides buffering,
//! error wording and that a closed pipe (`keysweep … | head`) is the reader's choice, not an
//! error.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use anyhow::Context;

/// When to colour text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// The destination of a report.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Stdout,
    File(&'a Path),
}

impl<'a> Target<'a> {
    pub fn new(path: Option<&'a Path>) -> Target<'a> {
        path.map_or(Target::Stdout, Target::File)
    }

    /// A terminal reads it (colour and progress make sense).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Target::Stdout) && io::stdout().is_terminal()
    }

    /// Whether text written here is coloured: `auto` means a terminal, unless `NO_COLOR` is set
    /// to anything non-empty (no-color.org).
    pub fn color(&self, choice: ColorChoice) -> bool {
        match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                self.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }

    /// Runs `write` on a buffered writer to the target and flushes it. A file is created (or
    /// truncated) first; errors name it.
    pub fn write(
        &self,
        write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        match self {
            Target::File(path) => {
                let file = File::create(path)
                    .with_context(|| format!("cannot create report {}", path.display()))?;
                let mut out = BufWriter::new(file);
                write(&mut out)
                    .and_then(|()| Ok(out.flush()?))
                    .with_context(|| format!("cannot write report {}", path.display()))
            }
            Target::Stdout => {
                let mut out = BufWriter::new(io::stdout().lock());
                match write(&mut out).and_then(|()| Ok(out.flush()?)) {
                    Err(e) if is_broken_pipe(&e) => Ok(()),
                    r => r.context("cannot write report"),
                }
            }
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_target_is_written_and_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        Target::new(Some(&path))
            .write(|out| Ok(out.write_all(b"{}\n")?))
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
    }

    #[test]
    fn an_uncreatable_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/r.json");
        let err = Target::new(Some(&path)).write(|_| Ok(())).unwrap_err();
        assert_eq!(
            format!("{err}"),
            format!("cannot create report {}", path.display())
        );
    }

    #[test]
    fn a_broken_pipe_is_not_an_error() {
        let e = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("x");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
