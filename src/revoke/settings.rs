//! What a revocation is told: the `[revoke]` section of `keysweep.toml`, the run's [`Options`],
//! and the two merged and checked into [`Settings`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use reqwest::Url;
use serde::Deserialize;

use super::egress;
use crate::http::RetryPolicy;
use crate::rules::RuleSet;

/// Where the journal goes when neither `--journal` nor `[revoke] journal` says: beside
/// `keysweep.toml`, in the directory keysweep keeps its state in.
pub const DEFAULT_JOURNAL: &str = ".keysweep/revocations.jsonl";
pub const DEFAULT_TOKEN_ENV: &str = "KEYSWEEP_REVOKE_TOKEN";

/// Backoff stops doubling here: a minute-long pause helps no one finish a revocation.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Longest `Retry-After` honoured. A service asking for more is treated as down for this run
/// (the key fails, and the next run retries it) rather than keeping a CI job alive for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// All of one key's waits together. Above what the defaults can reach (4 waits of at most
/// `MAX_RETRY_AFTER`), so it only bounds a configuration with many attempts.
const MAX_TOTAL_WAIT: Duration = Duration::from_secs(600);

/// The `[revoke]` section of `keysweep.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevokeConfig {
    /// The revoke endpoint (`POST`); https unless loopback.
    pub endpoint: Option<String>,
    /// The environment variable holding the bearer token. Never a flag: flags end up in shell
    /// history and process listings.
    pub token_env: String,
    /// Key prefixes this service owns (default: the prefixes of every revocable rule).
    pub prefixes: Option<Vec<String>>,
    /// Seconds per request, connection included.
    pub timeout: f64,
    /// Tries per key, the first included.
    pub max_attempts: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Seconds: the most the first retry waits; doubles per retry up to 30 s, each wait a
    /// random draw below that ceiling.
    pub backoff: f64,
    /// The journal, relative to this file (default [`DEFAULT_JOURNAL`]).
    pub journal: Option<PathBuf>,
    /// An explicit proxy for the endpoint. The environment's `HTTPS_PROXY` is deliberately not
    /// used, so that the egress manifest names every host keysweep talks to.
    pub proxy: Option<String>,
}

impl Default for RevokeConfig {
    fn default() -> Self {
        RevokeConfig {
            endpoint: None,
            token_env: DEFAULT_TOKEN_ENV.to_string(),
            prefixes: None,
            timeout: 10.0,
            max_attempts: 5,
            concurrency: 4,
            backoff: 0.5,
            journal: None,
            proxy: None,
        }
    }
}

/// The `[revoke]` section as read from its file: relative paths in it resolve against `dir`,
/// and messages about it name `file` (what the user would open to fix it).
#[derive(Debug, Clone)]
pub struct Section {
    pub config: RevokeConfig,
    pub dir: PathBuf,
    pub file: String,
}

impl Section {
    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

/// What the caller asks of this run, over the section's defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print what would be sent, send nothing, write no journal.
    pub dry_run: bool,
    /// The journal, over `[revoke] journal`.
    pub journal: Option<PathBuf>,
    /// Requests in flight, over `[revoke] concurrency`.
    pub concurrency: Option<usize>,
}

/// Resolved settings: the section merged with the options and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: Url,
    pub token_env: String,
    pub owned: BTreeSet<String>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub concurrency: usize,
    pub journal: PathBuf,
    pub proxy: Option<Url>,
}

impl Settings {
    pub fn resolve(
        section: &Section,
        rules: &RuleSet,
        options: &Options,
    ) -> anyhow::Result<Settings> {
        let (r, file) = (&section.config, &section.file);
        let endpoint = r.endpoint.as_deref().with_context(|| {
            format!(
                "revocation needs an endpoint: set `[revoke] endpoint = \"https://…\"` in {file} \
                 (or name the file with --config)"
            )
        })?;
        let endpoint = egress::check_endpoint(endpoint)
            .with_context(|| format!("[revoke] endpoint in {file}"))?;
        let proxy = r
            .proxy
            .as_deref()
            .map(|p| Url::parse(p).with_context(|| format!("[revoke] proxy {p:?} in {file}")))
            .transpose()?;
        let owned = owned_prefixes(r, rules);
        anyhow::ensure!(
            !owned.is_empty(),
            "no key prefix to revoke: no revocable rule is loaded and `[revoke] prefixes` in {file} \
             is empty"
        );
        check_limits(r, file)?;
        let concurrency = options.concurrency.unwrap_or(r.concurrency);
        anyhow::ensure!(
            (1..=256).contains(&concurrency),
            "revocation concurrency must be between 1 and 256"
        );
        let journal = match (&options.journal, &r.journal) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => section.resolve(p),
            (None, None) => section.resolve(DEFAULT_JOURNAL.as_ref()),
        };
        Ok(Settings {
            endpoint,
            token_env: r.token_env.clone(),
            owned,
            timeout: Duration::from_secs_f64(r.timeout),
            retry: RetryPolicy {
                max_attempts: r.max_attempts,
                base: Duration::from_secs_f64(r.backoff),
                backoff_cap: BACKOFF_CAP,
                max_retry_after: MAX_RETRY_AFTER,
                max_total_wait: MAX_TOTAL_WAIT,
            },
            concurrency,
            journal,
            proxy,
        })
    }

    pub fn egress(&self) -> egress::Manifest<'_> {
        egress::Manifest { settings: self }
    }
}

/// The prefixes the section names, else the keywords of every revocable rule: a rule's
/// keywords are the literal prefixes of what it finds (a pair rule lists its secret's `msk_`
/// too).
fn owned_prefixes(r: &RevokeConfig, rules: &RuleSet) -> BTreeSet<String> {
    match &r.prefixes {
        Some(p) => p.iter().cloned().collect(),
        None => rules
            .rules()
            .iter()
            .filter(|rule| rule.spec.revocable)
            .flat_map(|rule| rule.spec.keywords.iter().cloned())
            .collect(),
    }
}

fn check_limits(r: &RevokeConfig, file: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        r.timeout.is_finite() && r.timeout > 0.0 && r.timeout <= 600.0,
        "[revoke] timeout in {file} must be between 0 and 600 seconds"
    );
    anyhow::ensure!(
        r.backoff.is_finite() && (0.0..=60.0).contains(&r.backoff),
        "[revoke] backoff in {file} must be between 0 and 60 seconds"
    );
    anyhow::ensure!(
        (1..=100).contains(&r.max_attempts),
        "[revoke] max_attempts in {file} must be between 1 and 100"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section as `keysweep.toml` in `dir` would give it.
    fn section(toml: &str, dir: &Path) -> Section {
        #[derive(Deserialize)]
        struct File {
            revoke: Option<RevokeConfig>,
        }
        let file: File = toml::from_str(toml).unwrap();
        Section {
            config: file.revoke.unwrap_or_default(),
            dir: dir.to_path_buf(),
            file: "keysweep.toml".into(),
        }
    }

    fn rules() -> RuleSet {
        let text = "[[rule]]\nid = 'a'\ndescription = 'd'\nregex = 'sk_live_x'\n\
                    keywords = ['sk_live_']\nrevocable = true\n\n[[rule]]\nid = 'b'\n\
                    description = 'd'\nregex = 'pk_live_x'\nkeywords = ['pk_live_']\n";
        RuleSet::compile(crate::rules::parse_file("t", text).unwrap()).unwrap()
    }

    fn owned(p: &[&str]) -> BTreeSet<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn settings_default_to_revocable_prefixes_and_a_journal_beside_the_config() {
        let dir = Path::new("/projects/app");
        let c = section(
            "[revoke]\nendpoint = 'https://keys.example/v1/revocations'\n",
            dir,
        );
        let s = Settings::resolve(&c, &rules(), &Options::default()).unwrap();
        assert_eq!(s.owned, owned(&["sk_live_"]));
        assert_eq!(s.journal, dir.join(DEFAULT_JOURNAL));
        assert_eq!((s.retry.max_attempts, s.concurrency), (5, 4));
        assert_eq!(s.retry.base, Duration::from_millis(500));
        assert_eq!(s.token_env, DEFAULT_TOKEN_ENV);
        let flags = Options {
            journal: Some("/tmp/j.jsonl".into()),
            concurrency: Some(9),
            dry_run: false,
        };
        let s = Settings::resolve(&c, &rules(), &flags).unwrap();
        assert_eq!(
            (s.journal.to_str(), s.concurrency),
            (Some("/tmp/j.jsonl"), 9)
        );
        let c = section(
            "[revoke]\nendpoint = 'https://k.example/r'\njournal = 'state/j.jsonl'\n",
            dir,
        );
        let s = Settings::resolve(&c, &rules(), &Options::default()).unwrap();
        assert_eq!(s.journal, dir.join("state/j.jsonl"));
    }

    #[test]
    fn bad_settings_are_refused_with_the_file_named() {
        for (toml, expected) in [
            ("[revoke]\n", "needs an endpoint"),
            (
                "[revoke]\nendpoint = 'http://keys.example/r'\n",
                "https is required",
            ),
            (
                "[revoke]\nendpoint = 'https://k.example/r'\nmax_attempts = 0\n",
                "max_attempts",
            ),
            (
                "[revoke]\nendpoint = 'https://k.example/r'\ntimeout = 0\n",
                "timeout",
            ),
            (
                "[revoke]\nendpoint = 'https://k.example/r'\nbackoff = 61\n",
                "backoff",
            ),
            (
                "[revoke]\nendpoint = 'https://k.example/r'\nprefixes = []\n",
                "no key prefix",
            ),
        ] {
            let err = Settings::resolve(
                &section(toml, Path::new(".")),
                &rules(),
                &Options::default(),
            )
            .map(|_| ())
            .unwrap_err();
            let msg = format!("{err:#}");
            assert!(
                msg.contains(expected) && msg.contains("keysweep.toml"),
                "{toml}: {msg}"
            );
        }
        let c = section(
            "[revoke]\nendpoint = 'https://k.example/r'\n",
            Path::new("."),
        );
        let many = Options {
            concurrency: Some(257),
            ..Options::default()
        };
        let err = Settings::resolve(&c, &rules(), &many).unwrap_err();
        assert_eq!(
            err.to_string(),
            "revocation concurrency must be between 1 and 256"
        );
    }
}
