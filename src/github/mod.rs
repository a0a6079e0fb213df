//! GitHub, as a library: org/user/repo sweeps through bare mirrors and the git engine, and a
//! poller of the Events API that scans what each event brings. Commands (`cmd/github.rs`) turn
//! flags into [`sweep::SweepOptions`] and [`events::EventsOptions`]; nothing here knows clap.
//!
//! One responsibility per file: [`client`] (HTTP, tokens, rate limits, pagination, ETags),
//! [`repos`] (listing, filters, shards), [`mirror`] (bare mirrors with gix), [`history`] (a
//! mirror through the git engine), [`state`] (what runs remember), [`sweep`] (sweeping
//! repositories), [`feed`] (an events feed and one poll of it), [`handler`] (what one event
//! brought, scanned: shared by the poller and a webhook receiver), [`text`] (the texts an event
//! carries), [`compare`] and [`patch`]
//! (a push as the compare API shows it), [`events`] (the polling loop and `--watch` output).

pub mod client;
pub mod compare;
pub mod events;
pub mod feed;
pub mod handler;
pub mod history;
pub mod mirror;
pub mod patch;
pub mod repos;
pub mod state;
pub mod sweep;
pub mod text;

use std::sync::atomic::Ordering::Relaxed;

use crate::messages::plural;
use client::Client;

pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// `12 requests (3 not modified, 0 rate-limit waits)`, for closing notes.
pub fn usage_line(client: &Client) -> String {
    format!(
        "{} ({} not modified, {})",
        plural(client.usage.requests.load(Relaxed), "request"),
        client.usage.not_modified.load(Relaxed),
        plural(client.usage.rate_waits.load(Relaxed), "rate-limit wait"),
    )
}
