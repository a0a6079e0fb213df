//! Reading keysweep's JSON reports and picking findings out by their secret's hash.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// JSON Lines, blank lines skipped; a line that is not JSON fails the test.
pub fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A JSON Lines file; one not written (yet) is empty.
pub fn jsonl_file(path: &Path) -> Vec<Value> {
    jsonl(&std::fs::read_to_string(path).unwrap_or_default())
}

/// The `secret_sha256` a finding of `key` carries.
pub fn sha(key: &str) -> String {
    keysweep::finding::secret_sha256(key.as_bytes())
}

/// The distinct secrets (by hash) of `findings`.
pub fn hashes(findings: &[Value]) -> BTreeSet<String> {
    findings
        .iter()
        .map(|f| {
            f["secret_sha256"]
                .as_str()
                .expect("secret_sha256")
                .to_string()
        })
        .collect()
}

/// The finding of `key`; fails the test, listing the findings, when there is none.
pub fn find<'a>(findings: &'a [Value], key: &str) -> &'a Value {
    let h = sha(key);
    findings
        .iter()
        .find(|f| f["secret_sha256"] == h.as_str())
        .unwrap_or_else(|| panic!("no finding for the key; findings: {findings:#?}"))
}
