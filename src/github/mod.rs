//! GitHub: org/user/repo sweeps through bare mirrors and the git engine, and a poller of the
//! Events API that scans what each event brings.
//!
//! One responsibility per file: [`client`] (HTTP, tokens, rate limits, pagination, ETags),
//! [`repos`] (listing, filters, shards), [`mirror`] (bare mirrors with gix), [`history`] (a
//! mirror through the git engine), [`state`] (what runs remember), [`patch`] (added lines of a
//! compare patch), [`sweep`] and [`events`] (the two commands).

pub mod client;
pub mod events;
pub mod history;
pub mod mirror;
pub mod patch;
pub mod repos;
pub mod state;
pub mod sweep;

use std::sync::atomic::Ordering::Relaxed;

use crate::app::Outcome;
use crate::cli::{ApiArgs, GithubCommand};
use client::{Client, Token};
use repos::Target;

pub fn run(command: GithubCommand) -> anyhow::Result<Outcome> {
    match command {
        GithubCommand::Org { name, sweep } => sweep::run(Target::new_org(&name)?, &sweep),
        GithubCommand::User { name, sweep } => sweep::run(Target::new_user(&name)?, &sweep),
        GithubCommand::Repo { full_name, sweep } => {
            sweep::run(Target::new_repo(&full_name)?, &sweep)
        }
        GithubCommand::Events(args) => events::run(&args),
    }
}

/// The API client, with the token from the environment variable the user named. The token is
/// read here and nowhere else, and never printed.
pub fn connect(args: &ApiArgs) -> anyhow::Result<Client> {
    let token = match std::env::var(&args.token_env) {
        Ok(v) if !v.trim().is_empty() => Some(Token::new(v.trim().to_string())),
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            eprintln!(
                "keysweep: note: ${} is not set: using the GitHub API without a token (public \
                 data only, 60 requests an hour)",
                args.token_env
            );
            None
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("${} does not hold a valid token", args.token_env)
        }
    };
    // An empty GITHUB_API_URL (set but blank in some CI setups) means the default.
    let api_url = match args.api_url.trim() {
        "" => DEFAULT_API_URL,
        url => url,
    };
    Client::new(api_url, token)
}

pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// `12 requests (3 not modified, 0 rate-limit waits)`, for closing notes.
pub fn usage_line(client: &Client) -> String {
    format!(
        "{} request{} ({} not modified, {} rate-limit wait{})",
        client.usage.requests.load(Relaxed),
        if client.usage.requests.load(Relaxed) == 1 {
            ""
        } else {
            "s"
        },
        client.usage.not_modified.load(Relaxed),
        client.usage.rate_waits.load(Relaxed),
        if client.usage.rate_waits.load(Relaxed) == 1 {
            ""
        } else {
            "s"
        },
    )
}
