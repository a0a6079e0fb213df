//! What revocation tells its callers: each key's [`KeyOutcome`], the [`Tally`] of a run, and the
//! [`RevokeError`]s that stop one.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::messages::plural;

/// What happened to one key. The strings are the `revocation` field of every report format and
/// the `outcome` of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOutcome {
    Revoked,
    AlreadyRevoked,
    UnknownKey,
    Failed(String),
}

impl KeyOutcome {
    /// Final outcomes are not retried by a later run; failures are.
    pub fn is_final(&self) -> bool {
        !matches!(self, KeyOutcome::Failed(_))
    }

    pub fn parse(s: &str) -> Option<KeyOutcome> {
        Some(match s {
            "revoked" => KeyOutcome::Revoked,
            "already_revoked" => KeyOutcome::AlreadyRevoked,
            "unknown_key" => KeyOutcome::UnknownKey,
            _ => KeyOutcome::Failed(s.strip_prefix("failed: ")?.to_string()),
        })
    }
}

impl fmt::Display for KeyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOutcome::Revoked => f.write_str("revoked"),
            KeyOutcome::AlreadyRevoked => f.write_str("already_revoked"),
            KeyOutcome::UnknownKey => f.write_str("unknown_key"),
            KeyOutcome::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

/// Why revocation stopped. Callers branch on it: an auth failure ends every revocation of the
/// run (the token is the problem, not the key), a journal failure too (no request may go out
/// without a durable intent).
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error(
        "the key service at {host} rejected the revocation token (HTTP {status}): check that \
         ${token_env} holds a valid token allowed to revoke keys; no further revocations were sent"
    )]
    Unauthorized {
        host: String,
        status: u16,
        token_env: String,
    },
    #[error(
        "cannot write the revocation journal {path}: {source}; no further revocations were sent"
    )]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RevokeError {
    /// The outcome of a key that was not sent because of this error.
    pub fn not_sent(&self) -> KeyOutcome {
        KeyOutcome::Failed(match self {
            RevokeError::Unauthorized { status, .. } => {
                format!("not sent: the key service rejected the token (HTTP {status})")
            }
            RevokeError::Journal { .. } => "not sent: the journal cannot be written".into(),
        })
    }
}

/// Counts for the summary line and the JSON summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Tally {
    /// Distinct keys planned for revocation.
    pub keys: u64,
    pub revoked: u64,
    pub already_revoked: u64,
    pub unknown_key: u64,
    pub failed: u64,
    /// Keys settled by an earlier run, per the journal, and not sent again.
    pub from_journal: u64,
    /// Revocable findings whose prefix the service does not own.
    pub not_owned: u64,
    pub dry_run: bool,
}

impl Tally {
    pub(super) fn count(&mut self, outcome: &KeyOutcome) {
        match outcome {
            KeyOutcome::Revoked => self.revoked += 1,
            KeyOutcome::AlreadyRevoked => self.already_revoked += 1,
            KeyOutcome::UnknownKey => self.unknown_key += 1,
            KeyOutcome::Failed(_) => self.failed += 1,
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            let to_send = self.keys - self.from_journal;
            write!(
                f,
                "revocation (dry run): {} would be sent, nothing sent",
                plural(to_send, "key")
            )?;
        } else {
            write!(
                f,
                "revocation: {} revoked, {} already revoked, {} unknown, {} failed",
                self.revoked, self.already_revoked, self.unknown_key, self.failed
            )?;
        }
        if self.from_journal > 0 {
            write!(f, ", {} settled earlier (journal)", self.from_journal)?;
        }
        if self.not_owned > 0 {
            write!(
                f,
                ", {} not owned by this service",
                plural(self.not_owned, "revocable finding")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_their_report_strings() {
        for o in [
            KeyOutcome::Revoked,
            KeyOutcome::AlreadyRevoked,
            KeyOutcome::UnknownKey,
            KeyOutcome::Failed("HTTP 500 after 5 attempts".into()),
        ] {
            assert_eq!(KeyOutcome::parse(&o.to_string()), Some(o.clone()));
        }
        assert_eq!(KeyOutcome::parse("maybe"), None);
        assert!(!KeyOutcome::Failed(String::new()).is_final());
    }

    #[test]
    fn the_summary_line_says_what_happened() {
        let mut t = Tally {
            keys: 4,
            from_journal: 1,
            not_owned: 1,
            ..Tally::default()
        };
        for o in [KeyOutcome::Revoked, KeyOutcome::Failed("x".into())] {
            t.count(&o);
        }
        assert_eq!(
            t.to_string(),
            "revocation: 1 revoked, 0 already revoked, 0 unknown, 1 failed, 1 settled earlier \
             (journal), 1 revocable finding not owned by this service"
        );
        t.dry_run = true;
        assert!(t
            .to_string()
            .starts_with("revocation (dry run): 3 keys would be sent"));
    }
}
