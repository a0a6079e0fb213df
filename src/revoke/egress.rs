//! What leaves the machine: the endpoint policy (https, or plain http to loopback only) and the
//! egress manifest printed by `keysweep revoke --print-egress` and by every dry run.

use std::fmt;

use reqwest::Url;

use super::Settings;
use crate::http::is_loopback;

/// The body fields, in contract order; a test holds this list to the serialised request.
pub const BODY_FIELDS: &[&str] = &[
    "key_hash",
    "hash_alg",
    "key_prefix",
    "key_id",
    "rule",
    "reason",
    "found_at",
];
pub const FOUND_AT_FIELDS: &[&str] = &["source", "repo", "commit", "path", "line", "url"];

/// Parses and vets the endpoint: https, or http to a loopback address (the local reference
/// service, a tunnel); no credentials in the URL, where they would show up in every message
/// that names it.
pub fn check_endpoint(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).map_err(|e| anyhow::anyhow!("{raw:?} is not a URL: {e}"))?;
    anyhow::ensure!(
        url.username().is_empty() && url.password().is_none(),
        "the endpoint must not carry credentials; the token comes from [revoke] token_env"
    );
    anyhow::ensure!(url.host().is_some(), "{raw:?} has no host");
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => anyhow::bail!(
            "{raw:?} is plain http: revocation sends a bearer token, so https is required \
             except to loopback (127.0.0.0/8, ::1, localhost)"
        ),
        other => anyhow::bail!("{raw:?}: unsupported scheme {other:?} (use https)"),
    }
}

fn host_port(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

/// Every host revocation contacts and exactly what each receives.
pub struct Manifest<'a> {
    pub settings: &'a Settings,
}

impl Manifest<'_> {
    fn hosts(&self) -> Vec<String> {
        let mut hosts = vec![host_port(&self.settings.endpoint)];
        if let Some(p) = &self.settings.proxy {
            hosts.push(format!("{} (proxy)", host_port(p)));
        }
        hosts
    }

    /// The one line a dry run ends with.
    pub fn summary_line(&self) -> String {
        format!(
            "egress: {} ← POST {}: headers Authorization (${}), Content-Type, Idempotency-Key \
             (= key_hash), User-Agent; body {{{} {{{}}}}}; never the key",
            self.hosts().join(", "),
            self.settings.endpoint,
            self.settings.token_env,
            BODY_FIELDS.join(", "),
            FOUND_AT_FIELDS.join(", ")
        )
    }
}

impl fmt::Display for Manifest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.settings;
        writeln!(f, "keysweep egress manifest (revocation)")?;
        writeln!(f, "hosts contacted: {}", self.hosts().join(", "))?;
        writeln!(
            f,
            "  nothing else: scans are offline, redirects are not followed, and"
        )?;
        writeln!(
            f,
            "  HTTP(S)_PROXY is ignored unless [revoke] proxy names a proxy"
        )?;
        writeln!(
            f,
            "request: POST {} (one per key, retried with the same body)",
            s.endpoint
        )?;
        writeln!(f, "headers:")?;
        writeln!(f, "  Authorization: Bearer <token from ${}>", s.token_env)?;
        writeln!(f, "  Content-Type: application/json")?;
        writeln!(f, "  Idempotency-Key: <key_hash>")?;
        writeln!(f, "  User-Agent: keysweep/{}", env!("CARGO_PKG_VERSION"))?;
        writeln!(f, "body (JSON):")?;
        writeln!(f, "  key_hash    hex SHA-256 of the exact key string")?;
        writeln!(f, "  hash_alg    \"sha256\"")?;
        writeln!(
            f,
            "  key_prefix  the key's type prefix, one of the owned prefixes"
        )?;
        writeln!(
            f,
            "  key_id      the public mk_live_ key id, only when found paired"
        )?;
        writeln!(f, "  rule        the id of the rule that found the key")?;
        writeln!(f, "  reason      \"leaked\"")?;
        writeln!(
            f,
            "  found_at    {{{}}} of the first place found",
            FOUND_AT_FIELDS.join(", ")
        )?;
        writeln!(
            f,
            "never sent: the key or any part of it beyond its prefix, snippets, author, email"
        )?;
        let owned: Vec<&str> = s.owned.iter().map(String::as_str).collect();
        write!(
            f,
            "keys sent: revocable findings with prefix {}",
            owned.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revoke::{FoundAt, Target};

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        for ok in [
            "https://keys.example.com/v1/revocations",
            "http://127.0.0.1:8080/revoke",
            "http://127.8.9.10/revoke",
            "http://[::1]:9/revoke",
            "http://LOCALHOST:1/revoke",
        ] {
            if let Err(e) = check_endpoint(ok) {
                panic!("{ok} refused: {e:#}");
            }
        }
        let plain_http = "is plain http: revocation sends a bearer token, so https is required";
        for (bad, why) in [
            ("http://keys.example.com/revoke", plain_http),
            ("http://10.0.0.1/revoke", plain_http),
            ("http://localhost.evil.com/revoke", plain_http),
            ("http://[::ffff:127.0.0.1]/revoke", plain_http),
            (
                "ftp://127.0.0.1/revoke",
                "unsupported scheme \"ftp\" (use https)",
            ),
            (
                "https://user:pw@keys.example.com/revoke",
                "the endpoint must not carry credentials",
            ),
            ("keys.example.com/revoke", "is not a URL"),
        ] {
            let err = match check_endpoint(bad) {
                Ok(url) => panic!("{bad} accepted as {url}"),
                Err(e) => format!("{e:#}"),
            };
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn manifest_fields_are_the_fields_of_the_request() {
        let t = Target {
            key_hash: "h".into(),
            key_prefix: "msk_".into(),
            key_id: Some("mk_live_x".into()),
            rule: "r".into(),
            redacted: String::new(),
            found_at: FoundAt {
                source: "git".into(),
                repo: Some("r".into()),
                commit: Some("c".into()),
                path: Some("p".into()),
                line: 1,
                url: Some("u".into()),
            },
            findings: vec![],
        };
        let body = serde_json::to_value(t.request()).unwrap();
        let sorted = |fields: &[&str]| {
            let mut v: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            v.sort_unstable();
            v
        };
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&body), sorted(BODY_FIELDS));
        assert_eq!(keys(&body["found_at"]), sorted(FOUND_AT_FIELDS));
    }
}
