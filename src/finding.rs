//! What a scan reports: [`Finding`], where it was ([`Origin`]), and the two ids.
//!
//! A finding never holds the raw secret unless the user asked for it (`--show-secrets`): the
//! scanner hashes and redacts at the moment of the match, so nothing downstream (reports,
//! journals, revocation) can leak what it never received.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::Severity;

/// Where bytes came from. Sources fill what they know; the rest stays `None` and is omitted
/// from every report format.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Origin {
    /// `dir`, `stdin`, `git`, `staged`, `github`, … .
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The path's exact bytes, only when they are not UTF-8 (`path` then shows U+FFFD in
    /// their place): machine readers can still name the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<Vec<u8>>,
    /// The member of the archive at `path` (`config/.env`; nested: `inner.zip!config/.env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// How the secret was encoded where it was found (`base64`; nested: `base64,base64`):
    /// line and column are those of the encoded run, the hashes those of the decoded key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// History sources: the git object id of the blob holding the secret (`git cat-file -p`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// History sources: how many other places (commit and path) introduced the same blob. The
    /// blob is scanned and reported once, at the first place; this says how far it spread.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_places: u64,
    /// The first of those other places, oldest first (a long tail is only counted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Place>,
    /// The GitHub event that carried the content (`github events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Who caused that event (GitHub login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// A commit that introduced a blob at a path.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Place {
    pub commit: String,
    pub path: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Origin {
    pub fn new(source: &str) -> Self {
        Origin {
            source: source.to_string(),
            ..Default::default()
        }
    }

    pub fn with_path(source: &str, path: impl Into<String>) -> Self {
        Origin {
            path: Some(path.into()),
            ..Origin::new(source)
        }
    }

    /// An origin at a path given as bytes: `path` for people, and the bytes themselves when
    /// they are not UTF-8, so nothing is lost.
    pub fn with_path_bytes(source: &str, path: &[u8]) -> Self {
        match std::str::from_utf8(path) {
            Ok(p) => Origin::with_path(source, p),
            Err(_) => Origin {
                path_bytes: Some(path.to_vec()),
                ..Origin::with_path(source, String::from_utf8_lossy(path))
            },
        }
    }
}

/// One occurrence of a secret. The JSON Lines field names (`rule`, `secret_sha256`,
/// `fingerprint`, `redacted`, `path`, `line`, `column`) are a stable machine contract.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub rule: String,
    pub description: String,
    pub severity: Severity,
    pub secret_sha256: String,
    pub fingerprint: String,
    pub redacted: String,
    /// The raw secret: present only with `--show-secrets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The literal type prefix of the secret (`sk_live_`, `msk_`), which names the key type and
    /// is what a key service's revocation endpoint routes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// The public key id found paired with the secret (`mk_live_…`): public by design.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub revocable: bool,
    pub line: u64,
    pub column: u64,
    /// The line with every secret on it redacted, trimmed around the match.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub snippet: String,
    #[serde(flatten)]
    pub origin: Origin,
    /// Set by revocation: `revoked`, `already_revoked`, `unknown_key`, `failed: reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<String>,
}

impl Finding {
    /// Drops what only `--show-secrets` puts in a finding: the raw secret, and a snippet that
    /// may show it or other secrets of its line raw (a report read back, e.g. by `revoke
    /// --from`, must not pass them on). `redacted` and the hashes stay.
    pub fn forget_secret(&mut self) {
        if self.secret.take().is_some() {
            self.snippet.clear();
        }
    }

    /// Display location: `path:line:column` (`archive.zip!member:line:column` inside an
    /// archive), or `<source>:line:column` when there is no path.
    pub fn location(&self) -> String {
        let path = self.origin.path.as_deref().unwrap_or(&self.origin.source);
        match &self.origin.member {
            Some(member) => format!("{path}!{member}:{}:{}", self.line, self.column),
            None => format!("{path}:{}:{}", self.line, self.column),
        }
    }
}

/// Hex SHA-256 of the exact secret bytes: what a key service stores and revocation sends.
pub fn secret_sha256(secret: &[u8]) -> String {
    hex::encode(Sha256::digest(secret))
}

/// Hex SHA-256 over rule id and secret: one leak in ten commits is one fingerprint. The NUL
/// separator keeps `("ab", "c")` and `("a", "bc")` apart.
pub fn fingerprint(rule_id: &str, secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(secret);
    hex::encode(h.finalize())
}

/// Characters of the random part kept visible: enough to tell two keys apart in a report,
/// too few to matter (4 base62 characters are ~24 bits of a 190-bit key).
const VISIBLE: usize = 4;

/// The prefix (if any) plus the first few characters, then an ellipsis and the length:
/// `sk_live_kWZn…(32)`. Secrets too short to spare any characters show only the prefix.
/// A PEM private key shows its type and fingerprint instead (see [`crate::pem`]).
pub fn redact(secret: &[u8], prefix: Option<&[u8]>) -> String {
    if let Some(described) = crate::pem::describe(secret) {
        return format!("{described} ({} bytes)", secret.len());
    }
    let prefix = prefix.unwrap_or_default();
    let rest = &secret[prefix.len()..];
    let visible = if rest.len() >= 4 * VISIBLE {
        &rest[..VISIBLE]
    } else {
        &[][..]
    };
    // Multi-line secrets (PEM) show their first line only.
    let head: Vec<u8> = prefix
        .iter()
        .chain(visible)
        .copied()
        .take_while(|&b| b != b'\n' && b != b'\r')
        .collect();
    format!("{}…({})", String::from_utf8_lossy(&head), secret.len())
}

/// A path as a URI path: `/` and unreserved characters kept, everything else percent-encoded.
pub fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(
            secret_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(fingerprint("a", b"bc"), fingerprint("ab", b"c"));
        assert_eq!(fingerprint("r", b"s"), fingerprint("r", b"s"));
    }

    #[test]
    fn redaction_keeps_prefix_and_hides_the_rest() {
        let key = b"sk_live_kWZnwWKFOPzPEQZI8zBr18bV";
        let r = redact(key, Some(b"sk_live_"));
        assert_eq!(r, "sk_live_kWZn…(32)");
        assert!(!r.contains("HqLyjWDarjtT1zdp7dc"));
        assert_eq!(redact(b"short_secret", None), "…(12)");
    }
}
