//! Revocation for a long-running receiver, on top of the pipeline's (same contract, same
//! journal as the CLI). What this adds: outcomes remembered for the life of the process, so a
//! key that arrives in a hundred alerts is sent once; and one batch at a time, so two
//! deliveries carrying the same key at the same moment do not both send it. Across restarts the
//! journal does the same job, and the key service's idempotency makes any overlap harmless.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::finding::Finding;
use crate::messages::Messages;
use crate::pipeline::Pipeline;
use crate::revoke::KeyOutcome;

use super::metrics::Metrics;

/// Settled keys remembered in memory; beyond this the map starts over (the journal still
/// knows them, so forgetting costs a replayed request, never a second revocation).
const SETTLED_MAX: usize = 100_000;

pub struct Revoker {
    pipeline: Arc<Pipeline>,
    settled: Mutex<HashMap<String, KeyOutcome>>,
    metrics: Arc<Metrics>,
    messages: Messages,
}

impl Revoker {
    pub fn new(pipeline: Arc<Pipeline>, metrics: Arc<Metrics>, messages: Messages) -> Revoker {
        Revoker {
            pipeline,
            settled: Mutex::default(),
            metrics,
            messages,
        }
    }

    /// Revokes the keys of `findings` if the server was started with `--revoke` (or plans
    /// them with `--dry-run`), setting each finding's `revocation`, and returns the outcome of
    /// each key sent or remembered, by `secret_sha256`. Blocking: call from a blocking thread.
    pub fn revoke(
        &self,
        findings: &mut [Finding],
        context: &str,
    ) -> anyhow::Result<HashMap<String, KeyOutcome>> {
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let mut outcomes = HashMap::new();
        let mut fresh: Vec<Finding> = Vec::new();
        for f in findings.iter_mut() {
            match settled.get(&f.secret_sha256) {
                Some(outcome) => {
                    f.revocation = Some(outcome.to_string());
                    outcomes.insert(f.secret_sha256.clone(), outcome.clone());
                }
                None => fresh.push(f.clone()),
            }
        }
        let started = Instant::now();
        if self.pipeline.revoke(&mut fresh)?.is_none() || fresh.is_empty() {
            return Ok(outcomes);
        }
        self.metrics.revocation_seconds.observe(started.elapsed());
        if settled.len() > SETTLED_MAX {
            settled.clear();
        }
        let mut logged = std::collections::HashSet::new();
        for f in &fresh {
            let Some(outcome) = f.revocation.as_deref().and_then(KeyOutcome::parse) else {
                continue;
            };
            if logged.insert(f.secret_sha256.clone()) {
                self.log(f, &outcome, context);
            }
            if outcome.is_final() {
                settled.insert(f.secret_sha256.clone(), outcome.clone());
            }
            outcomes.insert(f.secret_sha256.clone(), outcome);
        }
        for f in findings.iter_mut().filter(|f| f.revocation.is_none()) {
            f.revocation = outcomes.get(&f.secret_sha256).map(ToString::to_string);
        }
        Ok(outcomes)
    }

    /// One line per key: outcome, redacted form, hash, where it came from. Never the key.
    fn log(&self, f: &Finding, outcome: &KeyOutcome, context: &str) {
        self.metrics.revocation(match outcome {
            KeyOutcome::Revoked => "revoked",
            KeyOutcome::AlreadyRevoked => "already_revoked",
            KeyOutcome::UnknownKey => "unknown_key",
            KeyOutcome::Failed(_) => "failed",
        });
        let line = format_args!(
            "{context}: {outcome}: {} sha256:{} (rule {})",
            f.redacted, f.secret_sha256, f.rule
        );
        match outcome {
            KeyOutcome::Failed(_) => self.messages.error(line),
            _ => self.messages.status(line),
        }
    }
}
