use std::process::ExitCode;

use clap::Parser;
use keysweep::cli::Cli;

fn main() -> ExitCode {
    // `keysweep -` reads standard input, like most Unix filters.
    let mut args: Vec<_> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "-") {
        args[1] = "stdin".into();
    }
    match keysweep::app::run(Cli::parse_from(args)) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) => {
            eprintln!("keysweep: error: {err:#}");
            ExitCode::from(keysweep::app::EXIT_ERROR)
        }
    }
}
