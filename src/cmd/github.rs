//! `github org|user|repo` (sweeps) and `github events` (the Events API poller).

use std::path::Path;

use crate::cli::{ApiArgs, EventsArgs, GithubCommand, SelectArgs};
use crate::github::client::Client;
use crate::github::repos::Target;
use crate::github::{self, events, sweep};
use crate::http::{Token, TokenError};
use crate::messages::Messages;
use crate::pipeline::{Outcome, Pipeline};

pub fn run(command: GithubCommand, messages: &Messages) -> anyhow::Result<Outcome> {
    let (target, select, sweep) = match command {
        GithubCommand::Org { name, sweep } => (Target::new_org(&name)?, sweep.select, sweep.sweep),
        GithubCommand::User { name, sweep } => {
            (Target::new_user(&name)?, sweep.select, sweep.sweep)
        }
        GithubCommand::Repo { full_name, sweep } => {
            (Target::new_repo(&full_name)?, SelectArgs::default(), sweep)
        }
        GithubCommand::Events(args) => return run_events(&args, messages),
    };
    let pipeline = Pipeline::build(&sweep.scan.pipeline(Some(Path::new("."))), messages.clone())?;
    let client = connect(&sweep.api, messages)?;
    sweep::run(
        target,
        &sweep.options(&select),
        &sweep.scan.report(),
        &pipeline,
        &client,
    )
}

fn run_events(args: &EventsArgs, messages: &Messages) -> anyhow::Result<Outcome> {
    let pipeline = Pipeline::build(&args.scan.pipeline(Some(Path::new("."))), messages.clone())?;
    let client = connect(&args.api, messages)?;
    // Checked after the pipeline and the client are built, whose errors and notes come first:
    // the order users and scripts have seen.
    let options = args.options()?;
    events::run(&options, &args.scan.report(), &pipeline, &client)
}

/// The API client, with the token from the environment variable the user named. The token is
/// read here and nowhere else, and never printed.
fn connect(args: &ApiArgs, messages: &Messages) -> anyhow::Result<Client> {
    let token = match Token::from_env(&args.token_env) {
        Ok(token) => Some(token),
        Err(TokenError::Missing(_) | TokenError::Empty(_)) => {
            messages.note(format_args!(
                "${} is not set: using the GitHub API without a token (public data only, 60 \
                 requests an hour)",
                args.token_env
            ));
            None
        }
        Err(err) => return Err(err.into()),
    };
    // An empty GITHUB_API_URL (set but blank in some CI setups) means the default.
    let api_url = match args.api_url.trim() {
        "" => github::DEFAULT_API_URL,
        url => url,
    };
    Client::new(api_url, token, messages)
}
