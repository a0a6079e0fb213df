//! GitHub: org/user/repo sweeps through bare mirrors and the git engine, and a poller of the
//! Events API that scans what each event brings.
//!
//! One responsibility per file: [`client`] (HTTP, tokens, rate limits, pagination, ETags),
//! [`repos`] (listing, filters, shards), [`mirror`] (bare mirrors with gix), [`state`] (what
//! runs remember), [`patch`] (added lines of a compare patch).

pub mod client;
pub mod mirror;
pub mod patch;
pub mod repos;
pub mod state;
