//! keysweep: find leaked API keys and revoke them by hash.
//!
//! Data flow: a command ([`cmd`]) turns flags into options for the one [`pipeline`]; a source
//! ([`source`]) enumerates blobs → the [`scan::Scanner`] runs the [`matcher`] over them with the
//! [`rules`] in force → [`finding::Finding`]s (hashed and redacted at birth) → [`suppress`] →
//! one collector → [`revoke`] (opt-in) → [`report`]. Every message to the user goes through
//! [`messages`]. See docs/architecture.md.

pub mod atomic;
pub mod check;
pub mod ci;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod control;
pub mod decode;
pub mod escape;
pub mod finding;
pub mod github;
pub mod gitleaks;
pub mod hook;
pub mod http;
pub mod matcher;
pub mod messages;
pub mod output;
pub mod pem;
pub mod pipeline;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod scan;
pub mod serve;
pub mod source;
pub mod suppress;
