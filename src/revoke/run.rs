//! Running a revocation: the journal consulted, the dry-run plan printed, or each pending key
//! sent by a bounded pool of threads sharing one client.
//!
//! Threads, not async tasks: each key's work is an fsynced intent, a request, an fsynced
//! outcome; the journal commits the records of concurrent threads together (one fsync per
//! round, not per record), so more threads mean fewer fsyncs per key. The pool is at most `concurrency` threads (256 at the very most) for the
//! duration of one run.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use super::client::{Attempts, Client};
use super::journal::{self, Journal, JournalState, Record};
use super::{plan, KeyOutcome, Options, RevokeError, Section, Settings, Tally, Target};
use crate::finding::Finding;
use crate::http::{Token, TokenError};
use crate::messages::{plural, Messages};
use crate::rules::RuleSet;

/// A revocation ready to run: settings checked, token read, journal opened. Built before the
/// scan so that a missing token or a bad endpoint fails in a second, not after an hour of
/// scanning.
pub struct Revocation {
    pub settings: Settings,
    /// `None` in a dry run, which needs no token because it sends nothing.
    live: Option<(Client, Journal)>,
    history: JournalState,
    messages: Messages,
    /// Keys settled so far and keys to settle in the current [`Revocation::run`]: the
    /// progress line of a run that revokes many keys.
    settled: AtomicU64,
    keys: AtomicU64,
}

impl Revocation {
    pub fn prepare(
        section: &Section,
        rules: &RuleSet,
        options: &Options,
        messages: &Messages,
    ) -> anyhow::Result<Revocation> {
        let settings = Settings::resolve(section, rules, options)?;
        let messages = messages.clone();
        if options.dry_run {
            // A dry run reads the journal, to show what a real run would skip, and writes nothing.
            let history = JournalState::read(&settings.journal, &messages)?;
            return Ok(Revocation {
                settings,
                live: None,
                history,
                messages,
                settled: AtomicU64::new(0),
                keys: AtomicU64::new(0),
            });
        }
        let token = read_token(&settings)?;
        let client = Client::new(&settings, token)?;
        let (journal, history) = Journal::open(&settings.journal, &messages)?;
        Ok(Revocation {
            settings,
            live: Some((client, journal)),
            history,
            messages,
            settled: AtomicU64::new(0),
            keys: AtomicU64::new(0),
        })
    }

    /// `None` in a dry run (no journal is written); else whether the journal still takes records.
    pub fn journal_health(&self) -> Option<Result<(), String>> {
        self.live.as_ref().map(|(_, journal)| journal.health())
    }

    pub fn is_dry_run(&self) -> bool {
        self.live.is_none()
    }

    /// `revoking: 120 of 500 keys settled`, for the progress line while [`Revocation::run`] runs.
    pub fn progress(&self) -> String {
        format!(
            "revoking: {} of {} settled",
            self.settled.load(Ordering::Relaxed),
            plural(self.keys.load(Ordering::Relaxed), "key")
        )
    }

    /// Revokes what [`plan`] selects from `findings`, sets each finding's `revocation`, and
    /// writes one line per key (and the dry-run plan) to `log`. Failures are outcomes, not
    /// errors: the report still gets written, and the caller turns failures into exit 2.
    pub fn run(&self, findings: &mut [Finding], log: &mut dyn Write) -> anyhow::Result<Tally> {
        let plan = plan(findings, &self.settings.owned);
        let mut tally = Tally {
            keys: plan.targets.len() as u64,
            not_owned: plan.not_owned as u64,
            dry_run: self.is_dry_run(),
            ..Tally::default()
        };
        self.keys.store(tally.keys, Ordering::Relaxed);
        self.settled.store(0, Ordering::Relaxed);
        let pending = self.skip_settled(plan.targets, findings, &mut tally, log);
        self.settled
            .store(tally.keys - pending.len() as u64, Ordering::Relaxed);
        let Some((client, journal)) = &self.live else {
            self.print_dry_run(&pending, log)?;
            return Ok(tally);
        };
        if pending.is_empty() {
            return Ok(tally);
        }
        let concurrency = self.settings.concurrency;
        let (outcomes, stopped) = execute(client, journal, &pending, concurrency, &mut |t, o| {
            self.settled.fetch_add(1, Ordering::Relaxed);
            let _ = writeln!(log, "{}", t.line(o, ""));
        });
        if let Some(err) = stopped {
            self.messages.error(err);
        }
        for (target, outcome) in pending.iter().zip(&outcomes) {
            tally.count(outcome);
            set_outcome(findings, target, outcome);
        }
        Ok(tally)
    }

    /// Settles the targets the journal has a final outcome for and returns the others, saying
    /// how many of them an interrupted run left behind.
    fn skip_settled(
        &self,
        targets: Vec<Target>,
        findings: &mut [Finding],
        tally: &mut Tally,
        log: &mut dyn Write,
    ) -> Vec<Target> {
        let endpoint = self.settings.endpoint.as_str();
        let mut pending = Vec::new();
        let mut resumed = 0;
        for target in targets {
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
                "keysweep: resuming {} interrupted in an earlier run (intent without outcome in \
                 {}); the retry is safe, the request is idempotent",
                plural(resumed, "revocation"),
                self.settings.journal.display()
            );
        }
        pending
    }

    fn print_dry_run(&self, targets: &[Target], log: &mut dyn Write) -> anyhow::Result<()> {
        let s = &self.settings;
        writeln!(
            log,
            "keysweep: dry run: {} would be sent, none was:",
            plural(targets.len(), "revocation request")
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

/// The token, with the messages users have always seen for a missing or empty one.
fn read_token(settings: &Settings) -> anyhow::Result<Token> {
    let endpoint = &settings.endpoint;
    Token::from_env(&settings.token_env).map_err(|err| match err {
        TokenError::Missing(_) | TokenError::NotUnicode(_) => anyhow::anyhow!(
            "${} is not set: revocation at {endpoint} needs a token in that environment \
             variable (never on the command line)",
            settings.token_env
        ),
        TokenError::Empty(_) => anyhow::anyhow!("{err}: revocation at {endpoint} needs its token"),
        TokenError::NotHeader(_) => err.into(),
    })
}

fn set_outcome(findings: &mut [Finding], target: &Target, outcome: &KeyOutcome) {
    for &i in &target.findings {
        findings[i].revocation = Some(outcome.to_string());
    }
}

/// The first error that stopped the run; every later key is "not sent" because of it.
#[derive(Default)]
struct Halt(Mutex<Option<RevokeError>>);

impl Halt {
    fn outcome(&self) -> Option<KeyOutcome> {
        self.lock().as_ref().map(RevokeError::not_sent)
    }

    fn stop(&self, err: RevokeError) {
        self.lock().get_or_insert(err);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<RevokeError>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends every target from at most `concurrency` threads and returns their outcomes in the
/// order of `targets`, with the error that stopped the run if one did. `report` sees each
/// outcome as it arrives, on the calling thread.
fn execute(
    client: &Client,
    journal: &Journal,
    targets: &[Target],
    concurrency: usize,
    report: &mut dyn FnMut(&Target, &KeyOutcome),
) -> (Vec<KeyOutcome>, Option<RevokeError>) {
    let next = AtomicUsize::new(0);
    let halt = Halt::default();
    let mut outcomes: Vec<Option<KeyOutcome>> = vec![None; targets.len()];
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..concurrency.min(targets.len()) {
            let (tx, next, halt) = (tx.clone(), &next, &halt);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(target) = targets.get(i) else {
                    break;
                };
                if tx
                    .send((i, revoke_one(client, journal, target, halt)))
                    .is_err()
                {
                    break;
                }
            });
        }
        drop(tx);
        for (i, outcome) in rx {
            report(&targets[i], &outcome);
            outcomes[i] = Some(outcome);
        }
    });
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| KeyOutcome::Failed("not sent: revocation stopped".into())))
        .collect();
    (
        outcomes,
        halt.0.into_inner().unwrap_or_else(|e| e.into_inner()),
    )
}

/// Intent (durable) → request with retries → outcome (durable). A key whose intent cannot be
/// written is not sent; once the run is stopped, nothing more is sent.
fn revoke_one(client: &Client, journal: &Journal, target: &Target, halt: &Halt) -> KeyOutcome {
    if let Some(outcome) = halt.outcome() {
        return outcome;
    }
    let endpoint = client.endpoint().as_str();
    if let Err(err) = append(journal, &Record::intent(endpoint, target)) {
        let outcome = err.not_sent();
        halt.stop(err);
        return outcome;
    }
    let (outcome, attempts): (KeyOutcome, Attempts) =
        match client.revoke(target, &|| halt.outcome()) {
            Ok(done) => done,
            Err((err, attempts)) => {
                let reason = err.to_string();
                halt.stop(err);
                (KeyOutcome::Failed(reason), attempts)
            }
        };
    let record = Record::outcome(endpoint, target, &outcome, &attempts);
    if let Err(err) = append(journal, &record) {
        halt.stop(err);
    }
    outcome
}

fn append(journal: &Journal, record: &Record) -> Result<(), RevokeError> {
    journal
        .append(record)
        .map_err(|source| RevokeError::Journal {
            path: journal.path().to_path_buf(),
            source,
        })
}
