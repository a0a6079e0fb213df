//! `serve`: the webhook and partner-alert receiver (the server itself is `crate::serve`).

use crate::cli::ServeArgs;
use crate::messages::Messages;
use crate::pipeline::Outcome;
use crate::serve::{self, Options};

pub fn run(args: &ServeArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let options = Options {
        listen: args.listen.clone(),
        state_dir: args.state_dir.clone(),
        pipeline: args.pipeline(),
    };
    serve::run(&options, messages)
}
