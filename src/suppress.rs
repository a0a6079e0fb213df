//! What the user has said is not a leak: inline `keysweep:allow`, a baseline of fingerprints,
//! and allowlists from `keysweep.toml`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;

use crate::rules::build_regex;

/// The baseline a scan picks up from its root when no configuration names one.
pub const BASELINE_FILE_NAME: &str = "keysweep.baseline";

/// The marker a developer writes on a line to accept what is on it.
pub const INLINE_ALLOW: &[u8] = b"keysweep:allow";

/// Compiled suppressions for one scan. Shared read-only by every scanning thread.
#[derive(Default)]
pub struct Suppressor {
    paths: Option<GlobSet>,
    secret_regexes: Vec<Regex>,
    stopwords: Vec<Vec<u8>>,
    baseline: BTreeSet<String>,
}

/// The allowlist section of `keysweep.toml`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistConfig {
    /// Globs over the path as reported (`fixtures/**`, `**/*.lock`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Regexes over the secret.
    #[serde(default)]
    pub regexes: Vec<String>,
    /// Case-insensitive substrings of the secret.
    #[serde(default)]
    pub stopwords: Vec<String>,
}

impl Suppressor {
    pub fn new(allow: &AllowlistConfig, baseline: Option<&Path>) -> anyhow::Result<Self> {
        let paths = if allow.paths.is_empty() {
            None
        } else {
            let mut b = GlobSetBuilder::new();
            for p in &allow.paths {
                b.add(Glob::new(p).with_context(|| format!("allowlist path glob {p:?}"))?);
            }
            Some(b.build()?)
        };
        let secret_regexes = allow
            .regexes
            .iter()
            .map(|r| build_regex(r).with_context(|| format!("allowlist regex {r:?}")))
            .collect::<anyhow::Result<_>>()?;
        let baseline = match baseline {
            Some(p) => read_baseline(p)?,
            None => BTreeSet::new(),
        };
        Ok(Suppressor {
            paths,
            secret_regexes,
            stopwords: allow
                .stopwords
                .iter()
                .map(|w| w.to_ascii_lowercase().into_bytes())
                .collect(),
            baseline,
        })
    }

    /// Whether any path is allowlisted: when none is, a walk need not spell out each path.
    pub fn allows_paths(&self) -> bool {
        self.paths.is_some()
    }

    pub fn path_allowed(&self, path: &str) -> bool {
        let path = path.strip_prefix("./").unwrap_or(path);
        self.paths.as_ref().is_some_and(|g| g.is_match(path))
    }

    pub fn secret_allowed(&self, secret: &[u8]) -> bool {
        self.secret_regexes.iter().any(|r| r.is_match(secret))
            || self.stopwords.iter().any(|w| {
                secret
                    .windows(w.len().max(1))
                    .any(|x| x.eq_ignore_ascii_case(w))
            })
    }

    pub fn baselined(&self, fingerprint: &str) -> bool {
        self.baseline.contains(fingerprint)
    }
}

/// True when the lines the match touches carry `keysweep:allow`.
pub fn inline_allowed(line_text: &[u8]) -> bool {
    memchr::memmem::find(line_text, INLINE_ALLOW).is_some()
}

/// A baseline is one fingerprint per line, sorted; `#` comments and blank lines are ignored.
/// No line numbers or paths, so it survives edits and merges cleanly.
pub fn read_baseline(path: &Path) -> anyhow::Result<BTreeSet<String>> {
    let text = crate::control::read_to_string(path, crate::control::CONTROL_FILE_MAX)
        .with_context(|| format!("cannot read baseline {}", path.display()))?;
    let mut set = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        anyhow::ensure!(
            line.len() == 64 && line.bytes().all(|b| b.is_ascii_hexdigit()),
            "baseline {}:{}: expected a 64-hex-digit fingerprint",
            path.display(),
            i + 1
        );
        set.insert(line.to_ascii_lowercase());
    }
    Ok(set)
}

/// Renders a baseline file: a header comment, then sorted unique fingerprints.
pub fn render_baseline<'a>(fingerprints: impl IntoIterator<Item = &'a str>) -> String {
    let set: BTreeSet<&str> = fingerprints.into_iter().collect();
    let mut out = String::from(
        "# keysweep baseline: fingerprints of accepted findings (sha256 of rule id and secret).\n",
    );
    for fp in set {
        out.push_str(fp);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_round_trips_sorted_and_deduplicated() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = render_baseline([b.as_str(), a.as_str(), b.as_str()]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bl");
        std::fs::write(&p, &text).unwrap();
        let set = read_baseline(&p).unwrap();
        assert_eq!(set.into_iter().collect::<Vec<_>>(), vec![a, b]);
        assert!(text.find('a').unwrap() < text.rfind('b').unwrap());
    }

    #[test]
    fn bad_baseline_line_is_an_error_with_its_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bl");
        std::fs::write(&p, "# c\nnot-a-fingerprint\n").unwrap();
        let err = read_baseline(&p).unwrap_err().to_string();
        assert!(err.contains(":2:"), "{err}");
    }

    #[test]
    fn path_globs_and_secret_allowlists() {
        let s = Suppressor::new(
            &AllowlistConfig {
                paths: vec!["fixtures/**".into()],
                regexes: vec!["^sk_test_".into()],
                stopwords: vec!["FAKE".into()],
            },
            None,
        )
        .unwrap();
        assert!(s.path_allowed("./fixtures/a/b.txt"));
        assert!(!s.path_allowed("src/a.rs"));
        assert!(s.secret_allowed(b"sk_test_abc"));
        assert!(s.secret_allowed(b"sk_live_isfakeok"));
        assert!(!s.secret_allowed(b"sk_live_abc"));
    }
}
