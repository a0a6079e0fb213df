use std::process::ExitCode;

use keysweep::messages::Messages;
use keysweep::pipeline::EXIT_ERROR;

fn main() -> ExitCode {
    // `keysweep -` reads standard input, like most Unix filters.
    let mut args: Vec<_> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "-") {
        args[1] = "stdin".into();
    }
    let messages = Messages::stderr();
    match keysweep::cmd::run(keysweep::cli::parse(args), &messages) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) => {
            messages.error(format_args!("{err:#}"));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
