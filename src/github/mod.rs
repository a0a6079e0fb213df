//! GitHub: org/user/repo sweeps through bare mirrors and the git engine, and a poller of the
//! Events API that scans what each event brings.
//!
//! One responsibility per file: [`client`] (HTTP, tokens, rate limits, pagination, ETags),
//! [`repos`] (listing, filters, shards), [`mirror`] (bare mirrors with gix), [`history`] (a
//! mirror through the git engine), [`state`] (what runs remember), [`patch`] (added lines of a
//! compare patch), [`sweep`] and [`events`] (sweeping repositories, polling the events feed).

pub mod client;
pub mod events;
pub mod history;
pub mod mirror;
pub mod patch;
pub mod repos;
pub mod state;
pub mod sweep;

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
