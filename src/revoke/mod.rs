//! Revocation by hash: which findings to revoke ([`plan`]), the key-service client
//! ([`client`]), the journal that makes reruns safe ([`journal`]) and the egress manifest
//! ([`egress`]). The contract is documented for users in `docs/revocation.md`.
//!
//! Safety rails, in the order a request meets them: only findings of revocable rules whose
//! prefix the configured service owns; one request per key however often it was found; the key
//! itself never leaves (only `secret_sha256`, which the scanner computed at the match); https
//! unless the endpoint is loopback; an fsynced `intent` before each request; a 401/403 stops
//! everything rather than hammering the service with a bad token.

pub mod client;
pub mod egress;
pub mod journal;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::finding::Finding;
use crate::rules::RuleSet;
use client::{Client, Token};
use journal::{Journal, JournalState, Record};

/// Where the journal goes when neither `--journal` nor `[revoke] journal` says: beside
/// `keysweep.toml`, in the directory keysweep keeps its state in.
pub const DEFAULT_JOURNAL: &str = ".keysweep/revocations.jsonl";
pub const DEFAULT_TOKEN_ENV: &str = "KEYSWEEP_REVOKE_TOKEN";

/// What the command line asks of a revocation (`--dry-run`, `--journal`, `--concurrency`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Send nothing: print exactly what would be sent.
    pub dry_run: bool,
    /// The journal, overriding `[revoke] journal`.
    pub journal: Option<PathBuf>,
    /// Requests in flight at once, overriding `[revoke] concurrency`.
    pub concurrency: Option<usize>,
}

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
    /// Seconds before the first retry; doubles per retry (with jitter) up to 30 s.
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
    fn line(&self, outcome: &KeyOutcome, note: &str) -> String {
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
    fn count(&mut self, outcome: &KeyOutcome) {
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
                "revocation (dry run): {} key{} would be sent, nothing sent",
                to_send,
                if to_send == 1 { "" } else { "s" }
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
                ", {} revocable finding{} not owned by this service",
                self.not_owned,
                if self.not_owned == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

/// Resolved settings: config merged with flags and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: reqwest::Url,
    pub token_env: String,
    pub owned: BTreeSet<String>,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub concurrency: usize,
    pub backoff: Duration,
    pub journal: PathBuf,
    pub proxy: Option<reqwest::Url>,
}

impl Settings {
    /// Default prefixes are the keywords of every revocable rule: a rule's keywords are the
    /// literal prefixes of what it finds (a pair rule lists its secret's `msk_` too).
    pub fn resolve(
        config: &Config,
        rules: &RuleSet,
        options: &Options,
    ) -> anyhow::Result<Settings> {
        let file = config.path.as_ref().map_or_else(
            || crate::config::FILE_NAME.into(),
            |p| p.display().to_string(),
        );
        let r = config.revoke.clone().unwrap_or_default();
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
            .map(|p| {
                reqwest::Url::parse(p).with_context(|| format!("[revoke] proxy {p:?} in {file}"))
            })
            .transpose()?;
        let owned: BTreeSet<String> = match &r.prefixes {
            Some(p) => p.iter().cloned().collect(),
            None => rules
                .rules()
                .iter()
                .filter(|rule| rule.spec.revocable)
                .flat_map(|rule| rule.spec.keywords.iter().cloned())
                .collect(),
        };
        anyhow::ensure!(
            !owned.is_empty(),
            "no key prefix to revoke: no revocable rule is loaded and `[revoke] prefixes` in {file} \
             is empty"
        );
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
        let concurrency = options.concurrency.unwrap_or(r.concurrency);
        anyhow::ensure!(
            (1..=256).contains(&concurrency),
            "revocation concurrency must be between 1 and 256"
        );
        let journal = match (&options.journal, &r.journal) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => config.resolve(p),
            (None, None) => config.resolve(DEFAULT_JOURNAL.as_ref()),
        };
        Ok(Settings {
            endpoint,
            token_env: r.token_env,
            owned,
            timeout: Duration::from_secs_f64(r.timeout),
            max_attempts: r.max_attempts,
            concurrency,
            backoff: Duration::from_secs_f64(r.backoff),
            journal,
            proxy,
        })
    }

    pub fn egress(&self) -> egress::Manifest<'_> {
        egress::Manifest { settings: self }
    }
}

/// A revocation ready to run: settings checked, token read, journal opened. Built before the
/// scan so that a missing token or a bad endpoint fails in a second, not after an hour of
/// scanning.
pub struct Revocation {
    pub settings: Settings,
    /// `None` in a dry run, which needs no token because it sends nothing.
    client: Option<Arc<Client>>,
    journal: Option<Arc<Journal>>,
    history: JournalState,
}

impl Revocation {
    pub fn prepare(
        config: &Config,
        rules: &RuleSet,
        options: &Options,
    ) -> anyhow::Result<Revocation> {
        let settings = Settings::resolve(config, rules, options)?;
        if options.dry_run {
            // A dry run reads the journal, to show what a real run would skip, and writes nothing.
            let history = JournalState::read(&settings.journal)?;
            return Ok(Revocation {
                settings,
                client: None,
                journal: None,
                history,
            });
        }
        let token = Token::from_env(&settings.token_env, &settings.endpoint)?;
        let client = Client::new(&settings, token)?;
        let (journal, history) = Journal::open(&settings.journal)?;
        Ok(Revocation {
            settings,
            client: Some(Arc::new(client)),
            journal: Some(Arc::new(journal)),
            history,
        })
    }

    pub fn is_dry_run(&self) -> bool {
        self.client.is_none()
    }

    /// Revokes what [`plan`] selects from `findings`, sets each finding's `revocation`, and
    /// writes one line per key (and the dry-run plan) to `log`. Failures are outcomes, not
    /// errors: the report still gets written, and the caller turns failures into exit 2.
    pub fn run(&self, findings: &mut [Finding], log: &mut dyn Write) -> anyhow::Result<Tally> {
        let endpoint = self.settings.endpoint.as_str();
        let plan = plan(findings, &self.settings.owned);
        let mut tally = Tally {
            keys: plan.targets.len() as u64,
            not_owned: plan.not_owned as u64,
            dry_run: self.is_dry_run(),
            ..Tally::default()
        };
        let mut pending = Vec::new();
        let mut resumed = 0;
        for target in plan.targets {
            match self.history.get(endpoint, &target.key_hash) {
                Some(journal::Entry::Settled(outcome)) => {
                    tally.from_journal += 1;
                    tally.count(outcome);
                    let _ = writeln!(log, "{}", target.line(outcome, " (journal)"));
                    set_outcome(findings, &target, outcome);
                }
                entry => {
                    resumed += usize::from(matches!(entry, Some(journal::Entry::Pending)));
                    pending.push(target);
                }
            }
        }
        if resumed > 0 {
            let _ = writeln!(
                log,
                "keysweep: resuming {resumed} revocation{} interrupted in an earlier run (intent \
                 without outcome in {}); the retry is safe, the request is idempotent",
                if resumed == 1 { "" } else { "s" },
                self.settings.journal.display()
            );
        }
        let (Some(client), Some(journal)) = (&self.client, &self.journal) else {
            self.print_dry_run(&pending, log)?;
            return Ok(tally);
        };
        if pending.is_empty() {
            return Ok(tally);
        }
        let outcomes = execute(
            client,
            journal,
            &pending,
            self.settings.concurrency,
            &mut |target, outcome| {
                let _ = writeln!(log, "{}", target.line(outcome, ""));
            },
        )?;
        for (target, outcome) in pending.iter().zip(&outcomes) {
            tally.count(outcome);
            set_outcome(findings, target, outcome);
        }
        Ok(tally)
    }

    fn print_dry_run(&self, targets: &[Target], log: &mut dyn Write) -> anyhow::Result<()> {
        let s = &self.settings;
        writeln!(
            log,
            "keysweep: dry run: {} revocation request{} would be sent, none was:",
            targets.len(),
            if targets.len() == 1 { "" } else { "s" }
        )?;
        for t in targets {
            writeln!(
                log,
                "POST {} Idempotency-Key: {} {}",
                s.endpoint,
                t.key_hash,
                serde_json::to_string(&t.request())?
            )?;
        }
        writeln!(log, "{}", s.egress().summary_line())?;
        Ok(())
    }
}

fn set_outcome(findings: &mut [Finding], target: &Target, outcome: &KeyOutcome) {
    for &i in &target.findings {
        findings[i].revocation = Some(outcome.to_string());
    }
}

/// Sends every target with at most `concurrency` requests in flight and returns their outcomes
/// in the order of `targets`. `report` sees each outcome as it arrives.
fn execute(
    client: &Arc<Client>,
    journal: &Arc<Journal>,
    targets: &[Target],
    concurrency: usize,
    report: &mut dyn FnMut(&Target, &KeyOutcome),
) -> anyhow::Result<Vec<KeyOutcome>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(concurrency.min(2))
        .enable_all()
        .build()
        .context("cannot start the revocation runtime")?;
    let next = Arc::new(Mutex::new(0..targets.len()));
    let stop: Arc<Mutex<Option<RevokeError>>> = Arc::default();
    let targets: Arc<[Target]> = targets.into();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..concurrency.min(targets.len()) {
        let (client, journal, next, stop, targets, tx) = (
            client.clone(),
            journal.clone(),
            next.clone(),
            stop.clone(),
            targets.clone(),
            tx.clone(),
        );
        runtime.spawn(async move {
            loop {
                let Some(i) = next.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                    break;
                };
                let outcome = revoke_one(&client, &journal, &targets[i], &stop).await;
                if tx.send((i, outcome)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut outcomes: Vec<Option<KeyOutcome>> = vec![None; targets.len()];
    runtime.block_on(async {
        while let Some((i, outcome)) = rx.recv().await {
            report(&targets[i], &outcome);
            outcomes[i] = Some(outcome);
        }
    });
    if let Some(err) = stop.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        eprintln!("keysweep: error: {err}");
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| KeyOutcome::Failed("not sent: revocation stopped".into())))
        .collect())
}

/// Intent (durable) → request with retries → outcome (durable). A key whose intent cannot be
/// written is not sent; once the run is stopped, nothing more is sent.
async fn revoke_one(
    client: &Client,
    journal: &Arc<Journal>,
    target: &Target,
    stop: &Mutex<Option<RevokeError>>,
) -> KeyOutcome {
    let stopped = |stop: &Mutex<Option<RevokeError>>| {
        stop.lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|e| match e {
                RevokeError::Unauthorized { status, .. } => {
                    format!("not sent: the key service rejected the token (HTTP {status})")
                }
                RevokeError::Journal { .. } => "not sent: the journal cannot be written".into(),
            })
    };
    let halt = |err: RevokeError| {
        stop.lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(err);
    };
    if let Some(reason) = stopped(stop) {
        return KeyOutcome::Failed(reason);
    }
    let endpoint = client.endpoint().as_str();
    if let Err(err) = append(journal, Record::intent(endpoint, target)).await {
        halt(err);
        return KeyOutcome::Failed("not sent: the journal cannot be written".into());
    }
    let (outcome, attempt) = match client.revoke(target, &|| stopped(stop)).await {
        Ok(done) => done,
        Err((err, attempt)) => {
            let reason = err.to_string();
            halt(err);
            (KeyOutcome::Failed(reason), attempt)
        }
    };
    if let Err(err) = append(
        journal,
        Record::outcome(endpoint, target, &outcome, &attempt),
    )
    .await
    {
        halt(err);
    }
    outcome
}

/// Journal writes fsync, which blocks: they run on the blocking pool, not on a worker thread
/// that other requests are waiting for.
async fn append(journal: &Arc<Journal>, record: Record) -> Result<(), RevokeError> {
    let j = journal.clone();
    let joined = tokio::task::spawn_blocking(move || j.append(&record)).await;
    let result = joined.unwrap_or_else(|e| Err(std::io::Error::other(e)));
    result.map_err(|source| RevokeError::Journal {
        path: journal.path().to_path_buf(),
        source,
    })
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

    fn config(toml: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keysweep.toml");
        std::fs::write(&path, toml).unwrap();
        Config::read(&path).unwrap()
    }

    fn rules() -> RuleSet {
        let text = "[[rule]]\nid = 'a'\ndescription = 'd'\nregex = 'sk_live_x'\n\
                    keywords = ['sk_live_']\nrevocable = true\n\n[[rule]]\nid = 'b'\n\
                    description = 'd'\nregex = 'pk_live_x'\nkeywords = ['pk_live_']\n";
        RuleSet::compile(crate::rules::parse_file("t", text).unwrap()).unwrap()
    }

    #[test]
    fn settings_default_to_revocable_prefixes_and_a_journal_beside_the_config() {
        let c = config("[revoke]\nendpoint = 'https://keys.example/v1/revocations'\n");
        let s = Settings::resolve(&c, &rules(), &Options::default()).unwrap();
        assert_eq!(s.owned, owned(&["sk_live_"]));
        assert_eq!(s.journal, c.dir.join(DEFAULT_JOURNAL));
        assert_eq!((s.max_attempts, s.concurrency), (5, 4));
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
                "[revoke]\nendpoint = 'https://k.example/r'\nprefixes = []\n",
                "no key prefix",
            ),
        ] {
            let err = Settings::resolve(&config(toml), &rules(), &Options::default())
                .map(|_| ())
                .unwrap_err();
            let msg = format!("{err:#}");
            assert!(
                msg.contains(expected) && msg.contains("keysweep.toml"),
                "{toml}: {msg}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keysweep.toml");
        std::fs::write(&path, "[revoke]\nendpiont = 'https://k.example/r'\n").unwrap();
        let err = format!("{:#}", Config::read(&path).unwrap_err());
        assert!(err.contains("endpiont"), "{err}");
    }

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
