//! Revocation by hash: which findings to revoke ([`plan`]), what the run is told
//! ([`settings`]), the key-service client ([`client`]), the journal that makes reruns safe
//! ([`journal`], replayed by [`replay`]), running it all ([`run`]) and the egress manifest ([`egress`]). The contract is
//! documented for users in `docs/revocation.md`.
//!
//! Safety rails, in the order a request meets them: only findings of revocable rules whose
//! prefix the configured service owns; one request per key however often it was found; the key
//! itself never leaves (only `secret_sha256`, which the scanner computed at the match); https
//! unless the endpoint is loopback; an fsynced `intent` before each request; a 401/403 stops
//! everything rather than hammering the service with a bad token.
//!
//! A library: it is handed a [`Section`] and [`Options`], never the command line or the whole
//! configuration.

pub mod client;
pub mod egress;
pub mod journal;
mod outcome;
mod plan;
mod replay;
mod run;
mod settings;

pub use outcome::{KeyOutcome, RevokeError, Tally};
pub use plan::{plan, FoundAt, Plan, RevokeRequest, Target};
pub use run::Revocation;
pub use settings::{
    Options, RevokeConfig, Section, Settings, DEFAULT_JOURNAL, DEFAULT_TOKEN_ENV, MAX_RETRY_AFTER,
};
