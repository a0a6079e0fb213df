//! Which findings become revocation requests: one [`Target`] per key, whatever number of
//! findings, rules and places name it, and the request body sent for it.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::KeyOutcome;
use crate::finding::Finding;

/// Where a key was first found, as sent in `found_at`. Author and email are never sent: the
/// key service needs to find the leak, not to learn who committed it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FoundAt {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One key to revoke, however many findings name it.
#[derive(Debug, Clone)]
pub struct Target {
    pub key_hash: String,
    pub key_prefix: String,
    pub key_id: Option<String>,
    pub rule: String,
    pub redacted: String,
    pub found_at: FoundAt,
    /// Indices of every finding of this key, which all get its outcome.
    pub findings: Vec<usize>,
}

/// The body of a revoke request, field for field the contract in `docs/revocation.md`.
#[derive(Debug, Serialize)]
pub struct RevokeRequest<'a> {
    pub key_hash: &'a str,
    pub hash_alg: &'static str,
    pub key_prefix: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<&'a str>,
    pub rule: &'a str,
    pub reason: &'static str,
    pub found_at: &'a FoundAt,
}

impl Target {
    pub fn request(&self) -> RevokeRequest<'_> {
        RevokeRequest {
            key_hash: &self.key_hash,
            hash_alg: "sha256",
            key_prefix: &self.key_prefix,
            key_id: self.key_id.as_deref(),
            rule: &self.rule,
            reason: "leaked",
            found_at: &self.found_at,
        }
    }

    /// One line per key for logs: outcome, then what identifies the key (never the key), then
    /// why it failed, if it did.
    pub(super) fn line(&self, outcome: &KeyOutcome, note: &str) -> String {
        let (label, reason) = match outcome {
            KeyOutcome::Failed(reason) => ("failed".to_string(), format!(": {reason}")),
            other => (other.to_string(), String::new()),
        };
        let mut s = format!("{label:<15} {}  sha256:{}", self.redacted, self.key_hash);
        if let Some(id) = &self.key_id {
            s.push_str(&format!("  key id {id}"));
        }
        s.push_str(note);
        s.push_str(&reason);
        s
    }
}

/// The keys to revoke, in the order their first findings were reported.
#[derive(Debug, Default)]
pub struct Plan {
    pub targets: Vec<Target>,
    /// Revocable findings this service does not own (other prefix, or none known).
    pub not_owned: usize,
}

/// Groups findings by key (`secret_sha256`: two rules matching one key are one key) and keeps
/// the keys that a revocable rule found with a prefix in `owned`. A pair's key id comes from
/// whichever finding of the key names it.
pub fn plan(findings: &[Finding], owned: &BTreeSet<String>) -> Plan {
    let mut by_hash: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let group = by_hash.entry(&f.secret_sha256).or_default();
        if group.is_empty() {
            order.push(&f.secret_sha256);
        }
        group.push(i);
    }
    let mut plan = Plan::default();
    for hash in order {
        let group = &by_hash[hash];
        let eligible: Vec<&Finding> = group
            .iter()
            .map(|&i| &findings[i])
            .filter(|f| f.revocable)
            .collect();
        let Some(prefix) = eligible
            .iter()
            .find_map(|f| f.key_prefix.as_ref().filter(|p| owned.contains(*p)))
        else {
            plan.not_owned += eligible.len();
            continue;
        };
        let named = eligible
            .iter()
            .find(|f| f.key_id.is_some())
            .unwrap_or(&eligible[0]);
        let o = &named.origin;
        plan.targets.push(Target {
            key_hash: hash.to_string(),
            key_prefix: prefix.clone(),
            key_id: named.key_id.clone(),
            rule: named.rule.clone(),
            redacted: named.redacted.clone(),
            found_at: FoundAt {
                source: o.source.clone(),
                repo: o.repo.clone(),
                commit: o.commit.clone(),
                path: o.path.clone(),
                line: named.line,
                url: o.url.clone(),
            },
            findings: group.clone(),
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Origin;
    use crate::rules::Severity;

    fn finding(hash: &str, prefix: &str, path: &str, line: u64) -> Finding {
        Finding {
            rule: "t.secret".into(),
            description: "d".into(),
            severity: Severity::High,
            secret_sha256: hash.into(),
            fingerprint: format!("fp-{hash}"),
            redacted: format!("{prefix}…(40)"),
            secret: None,
            key_prefix: Some(prefix.into()),
            key_id: None,
            revocable: true,
            line,
            column: 1,
            snippet: String::new(),
            origin: Origin::with_path("dir", path),
            revocation: None,
        }
    }

    fn owned(p: &[&str]) -> BTreeSet<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_key_found_a_thousand_times_is_one_target_found_at_its_first_place() {
        let mut findings: Vec<Finding> = (0..1000)
            .map(|i| finding("aa", "sk_live_", &format!("f{i:04}"), i + 1))
            .collect();
        findings.push(finding("bb", "sk_live_", "other", 7));
        let p = plan(&findings, &owned(&["sk_live_"]));
        assert_eq!(p.targets.len(), 2);
        assert_eq!(p.targets[0].findings.len(), 1000);
        assert_eq!(p.targets[0].found_at.path.as_deref(), Some("f0000"));
        assert_eq!(p.targets[0].found_at.line, 1);
        assert_eq!(p.targets[1].key_hash, "bb");
    }

    #[test]
    fn a_pair_names_its_key_id_whichever_finding_holds_it() {
        let alone = finding("cc", "msk_", "a", 1);
        let mut pair = finding("cc", "msk_", "b", 2);
        pair.rule = "t.pair".into();
        pair.key_id = Some("mk_live_0123456789abcdef".into());
        let p = plan(&[alone, pair], &owned(&["msk_"]));
        assert_eq!(p.targets.len(), 1);
        let t = &p.targets[0];
        assert_eq!(t.key_id.as_deref(), Some("mk_live_0123456789abcdef"));
        assert_eq!((t.rule.as_str(), t.key_prefix.as_str()), ("t.pair", "msk_"));
        assert_eq!(t.findings, vec![0, 1]);
    }

    #[test]
    fn only_revocable_findings_with_an_owned_prefix_are_planned() {
        let mut public = finding("dd", "pk_live_", "a", 1);
        public.revocable = false;
        let foreign = finding("ee", "ghp_", "b", 1);
        let mut unprefixed = finding("ff", "x", "c", 1);
        unprefixed.key_prefix = None;
        let p = plan(
            &[public, foreign, unprefixed],
            &owned(&["sk_live_", "pk_live_"]),
        );
        assert!(p.targets.is_empty());
        assert_eq!(p.not_owned, 2);
    }

    #[test]
    fn the_request_body_has_exactly_the_contract_fields() {
        let mut f = finding("ab12", "msk_", "src/a.py", 3);
        f.key_id = Some("mk_live_0123456789abcdef".into());
        f.origin.commit = Some("c0ffee".into());
        f.origin.author = Some("Someone".into());
        let p = plan(&[f], &owned(&["msk_"]));
        let body = serde_json::to_value(p.targets[0].request()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "key_hash": "ab12", "hash_alg": "sha256", "key_prefix": "msk_",
                "key_id": "mk_live_0123456789abcdef", "rule": "t.secret", "reason": "leaked",
                "found_at": {"source": "dir", "commit": "c0ffee", "path": "src/a.py", "line": 3}
            })
        );
    }
}
