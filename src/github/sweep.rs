//! `keysweep github org|user|repo`: list the repositories, mirror each, scan each mirror's
//! history with the git engine, incrementally.
//!
//! Cost of a rerun: the listing (one API request per 100 repositories) and, for repositories
//! GitHub says were pushed to since the last complete sweep, one fetch and a scan of the new
//! blobs only. Untouched repositories cost nothing beyond their line in the listing.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::client::Client;
use super::history::{self, RepoName, Scope};
use super::mirror::{self, Credentials, Synced};
use super::repos::{self, Filter, Repo, Target};
use super::state::{rules_digest, Cache, Pending, SweepRecord};
use crate::cli::SweepArgs;
use crate::finding::Finding;
use crate::messages::{count, Messages};
use crate::pipeline::{Outcome, Pipeline};
use crate::scan::{Collector, Scanner};

/// Everything the per-repository work shares, in a sweep and in the events poller.
pub struct Sweeper<'a> {
    pub client: &'a Client,
    pub scanner: &'a Scanner,
    pub cache: Cache,
    pub credentials: Credentials,
    pub pending: Pending,
    pub rules: String,
    /// Scanning threads the git engine gets for one repository.
    pub threads: usize,
}

/// What happened to one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoOutcome {
    Scanned,
    /// GitHub reports no push since the last complete sweep under the same rules.
    Unchanged,
    Empty,
    Failed,
}

/// How much history to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// What the per-repository state has not seen; skip the fetch if nothing was pushed.
    Incremental { fetch_all: bool },
    /// Everything, whatever the state says (a repository just made public: findings already
    /// reported while it was private are news again). The state is left alone.
    Full,
}

impl<'a> Sweeper<'a> {
    pub fn new(client: &'a Client, scanner: &'a Scanner, cache: Cache, threads: usize) -> Self {
        Sweeper {
            client,
            scanner,
            cache,
            credentials: Credentials {
                token: client.token().cloned(),
                hosts: client.git_hosts(),
            },
            pending: Pending::default(),
            rules: rules_digest(&scanner.rules),
            threads,
        }
    }

    /// Mirrors and scans one repository; errors are reported (and make the run incomplete),
    /// never returned, so one bad repository does not stop a sweep.
    pub fn sweep(&self, repo: &Repo, depth: Depth, emit: &mut dyn FnMut(Finding)) -> RepoOutcome {
        match self.try_sweep(repo, depth, emit) {
            Ok(outcome) => outcome,
            Err(e) => {
                self.scanner
                    .messages
                    .error(format_args!("{}: {e:#}", repo.full_name));
                RepoOutcome::Failed
            }
        }
    }

    fn try_sweep(
        &self,
        repo: &Repo,
        depth: Depth,
        emit: &mut dyn FnMut(Finding),
    ) -> anyhow::Result<RepoOutcome> {
        let (owner, name) = repo.owner_and_name()?;
        let mirror_path = self.cache.mirror(owner, name);
        let record_path = self.cache.sweep_record(owner, name);
        let record = SweepRecord {
            pushed_at: repo.pushed_at.clone(),
            rules: self.rules.clone(),
        };
        if let Depth::Incremental { fetch_all: false } = depth {
            let unchanged = repo.pushed_at.is_some()
                && mirror_path.join("HEAD").is_file()
                && SweepRecord::load(&record_path).as_ref() == Some(&record);
            if unchanged {
                return Ok(RepoOutcome::Unchanged);
            }
        }
        let url = repo
            .clone_url
            .as_deref()
            .context("GitHub gave no clone URL")?;
        let synced = mirror::sync(&mirror_path, url, &self.credentials)?;
        if synced == Synced::Empty {
            self.scanner.messages.note(format_args!(
                "{}: empty repository, nothing to scan",
                repo.full_name
            ));
            self.pending.write(&record_path, &record.to_bytes())?;
            return Ok(RepoOutcome::Empty);
        }
        let errors_before = self.scanner.messages.errors();
        let state = match depth {
            Depth::Incremental { .. } => {
                Some(self.pending.stage(&self.cache.git_state(owner, name))?)
            }
            Depth::Full => None,
        };
        history::scan(
            self.scanner,
            &mirror_path,
            Scope::Incremental(state.as_deref()),
            &RepoName {
                full_name: &repo.full_name,
                html_url: repo.html_url.as_deref(),
            },
            self.threads,
            emit,
        )?;
        // Only a clean scan vouches for the repository as of this push.
        if matches!(depth, Depth::Incremental { .. })
            && self.scanner.messages.errors() == errors_before
        {
            self.pending.write(&record_path, &record.to_bytes())?;
        }
        Ok(RepoOutcome::Scanned)
    }
}

pub fn run(
    target: Target,
    args: &SweepArgs,
    pipeline: &Pipeline,
    client: &Client,
) -> anyhow::Result<Outcome> {
    let scanner = &pipeline.scanner;
    let listed = repos::list(client, &target)
        .with_context(|| format!("cannot list the repositories of {}", target.label()))?;
    let filter = Filter::new(
        &args.include,
        &args.exclude,
        args.include_forks,
        args.include_archived,
        args.visibility,
    )?;
    let mut left_out: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut chosen = Vec::new();
    for repo in &listed {
        // A repository named on the command line is swept whatever the filters say.
        let rejected = match target {
            Target::Repo(_) => None,
            _ => filter.reject(repo),
        };
        match rejected {
            Some(why) => *left_out.entry(why).or_default() += 1,
            None => chosen.push(repo),
        }
    }
    let in_filter = chosen.len();
    if let Some(shard) = args.shard {
        chosen.retain(|r| shard.takes(&r.full_name));
    }
    if !args.scan.quiet {
        let mut line = format!(
            "{}: {} listed",
            target.label(),
            count(listed.len(), "repository", "repositories")
        );
        if !left_out.is_empty() {
            let parts: Vec<String> = left_out.iter().map(|(k, v)| format!("{v} {k}")).collect();
            line.push_str(&format!(", left out: {}", parts.join(", ")));
        }
        if let Some(shard) = args.shard {
            line.push_str(&format!(
                "; shard {shard} takes {} of {in_filter}",
                chosen.len()
            ));
        }
        scanner.messages.note(line);
    }

    let concurrency = args.parallel_repos.max(1);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match args.scan.threads {
        0 => (cpus / concurrency).max(1),
        n => n,
    };
    let sweeper = Sweeper::new(
        client,
        scanner,
        Cache::new(&args.api.cache, &client.host_label()),
        threads,
    );
    let collector = Collector::default();
    let tally = Tally::default();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let progress = Progress::start(
        !args.scan.quiet && std::io::stderr().is_terminal(),
        &scanner.messages,
    );
    std::thread::scope(|s| {
        for _ in 0..concurrency.min(chosen.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Relaxed);
                let Some(repo) = chosen.get(i) else { break };
                progress.show(&tally, chosen.len(), &collector, &repo.full_name);
                let outcome = sweeper.sweep(
                    repo,
                    Depth::Incremental {
                        fetch_all: args.fetch_all,
                    },
                    &mut |f| collector.push(f),
                );
                tally.add(outcome);
            });
        }
    });
    progress.stop();
    if !args.scan.quiet {
        scanner.messages.note(format_args!(
            "swept {} in {:.1}s: {} scanned, {} unchanged since the last sweep, {} empty, {} \
             failed; GitHub API: {}",
            count(chosen.len(), "repository", "repositories"),
            started.elapsed().as_secs_f64(),
            tally.scanned.load(Relaxed),
            tally.unchanged.load(Relaxed),
            tally.empty.load(Relaxed),
            tally.failed.load(Relaxed),
            super::usage_line(client),
        ));
    }
    let outcome = pipeline.finish(collector, &args.scan.report())?;
    // The report is out: what it covers may now count as seen.
    sweeper.pending.commit()?;
    Ok(outcome)
}

#[derive(Default)]
struct Tally {
    scanned: AtomicUsize,
    unchanged: AtomicUsize,
    empty: AtomicUsize,
    failed: AtomicUsize,
}

impl Tally {
    fn add(&self, outcome: RepoOutcome) {
        match outcome {
            RepoOutcome::Scanned => &self.scanned,
            RepoOutcome::Unchanged => &self.unchanged,
            RepoOutcome::Empty => &self.empty,
            RepoOutcome::Failed => &self.failed,
        }
        .fetch_add(1, Relaxed);
    }

    fn done(&self) -> usize {
        self.scanned.load(Relaxed)
            + self.unchanged.load(Relaxed)
            + self.empty.load(Relaxed)
            + self.failed.load(Relaxed)
    }
}

/// One status line on a terminal, redrawn at most a few times a second.
struct Progress {
    on: bool,
    last: Mutex<Option<Instant>>,
    messages: Messages,
}

impl Progress {
    fn start(on: bool, messages: &Messages) -> Self {
        Progress {
            on,
            last: Mutex::new(None),
            messages: messages.clone(),
        }
    }

    fn show(&self, tally: &Tally, total: usize, collector: &Collector, current: &str) {
        if !self.on {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_millis(200)) {
            return;
        }
        *last = Some(Instant::now());
        self.messages.progress(format_args!(
            "sweeping: {}/{total} repositories, {} failed, {} findings; {current}",
            tally.done(),
            tally.failed.load(Relaxed),
            collector.len()
        ));
    }

    fn stop(&self) {
        self.messages.clear_progress();
    }
}
