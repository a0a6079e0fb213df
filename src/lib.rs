//! keysweep: find leaked API keys and revoke them by hash.
//!
//! Data flow: a source ([`source`]) enumerates blobs → the [`scan::Scanner`] runs the
//! [`matcher`] over them with the [`rules`] in force → [`finding::Finding`]s (hashed and
//! redacted at birth) → [`suppress`] → one collector → [`revoke`] (opt-in) → [`report`].
//! See ARCHITECTURE.md.

pub mod app;
pub mod ci;
pub mod cli;
pub mod config;
pub mod finding;
pub mod github;
pub mod hook;
pub mod matcher;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod scan;
pub mod source;
pub mod suppress;
