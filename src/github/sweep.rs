//! Sweeping repositories (`keysweep github org|user|repo`): list them, mirror each, scan each
//! mirror's history with the git engine, incrementally.
//!
//! Cost of a rerun: the listing (one API request per 100 repositories) and, for repositories
//! GitHub says were pushed to since the last complete sweep, one fetch and a scan of the new
//! blobs only. Untouched repositories cost nothing beyond their line in the listing.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::client::Client;
use super::history::{self, RepoName, Scope};
use super::mirror::{self, Credentials, Synced};
use super::repos::{self, Filter, Repo, Shard, Target, Visibility};
use super::state::{rules_digest, Cache, Pending, SweepRecord};
use crate::finding::Finding;
use crate::messages::{count, Messages};
use crate::pipeline::{Outcome, Pipeline, ReportSpec};
use crate::scan::{Collector, Scanner};
use crate::source::git::Completeness;

/// Everything the per-repository work shares, in a sweep and in the event handler.
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

    /// Sweeps `repos`, `concurrency` at a time, into `collector`.
    fn sweep_all(
        &self,
        repos: &[&Repo],
        depth: Depth,
        concurrency: usize,
        collector: &Collector,
        progress: &Progress,
    ) -> Tally {
        let tally = Tally::default();
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..concurrency.min(repos.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Relaxed);
                    let Some(repo) = repos.get(i) else { break };
                    progress.show(&tally, repos.len(), collector, &repo.full_name);
                    tally.add(self.sweep(repo, depth, &mut |f| collector.push(f)));
                });
            }
        });
        tally
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
        let skippable = depth == Depth::Incremental { fetch_all: false };
        if skippable && unchanged(repo, &mirror_path, &record_path, &record) {
            return Ok(RepoOutcome::Unchanged);
        }
        let synced = mirror::sync(&mirror_path, repo.fetch_url()?, &self.credentials)?;
        if synced == Synced::Empty {
            self.scanner.messages.note(format_args!(
                "{}: empty repository, nothing to scan",
                repo.full_name
            ));
            self.pending.write(&record_path, &record.to_bytes())?;
            return Ok(RepoOutcome::Empty);
        }
        let completeness = self.scan_mirror(repo, &mirror_path, depth, emit)?;
        // Only a clean scan vouches for the repository as of this push.
        if matches!(depth, Depth::Incremental { .. }) && completeness == Completeness::Complete {
            self.pending.write(&record_path, &record.to_bytes())?;
        }
        Ok(RepoOutcome::Scanned)
    }

    /// The history of the mirror of `repo` through the git engine: what its incremental state
    /// has not seen (staging the new state), or everything.
    fn scan_mirror(
        &self,
        repo: &Repo,
        mirror_path: &Path,
        depth: Depth,
        emit: &mut dyn FnMut(Finding),
    ) -> anyhow::Result<Completeness> {
        let (owner, name) = repo.owner_and_name()?;
        let state = match depth {
            Depth::Incremental { .. } => {
                Some(self.pending.stage(&self.cache.git_state(owner, name))?)
            }
            Depth::Full => None,
        };
        history::scan(
            self.scanner,
            mirror_path,
            Scope::Incremental(state.as_deref()),
            &RepoName {
                full_name: &repo.full_name,
                html_url: repo.html_url.as_deref(),
            },
            self.threads,
            emit,
        )
    }
}

/// Whether GitHub reports no push since the sweep `record` stands for (under the same rules),
/// with the mirror that sweep scanned still there.
fn unchanged(repo: &Repo, mirror: &Path, record_path: &Path, record: &SweepRecord) -> bool {
    repo.pushed_at.is_some()
        && mirror.join("HEAD").is_file()
        && SweepRecord::load(record_path).as_ref() == Some(record)
}

/// Which repositories of a listing a sweep takes, and how it runs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Globs a repository must match one of (none: every repository): against `OWNER/NAME`
    /// when the glob has a slash, else against the name.
    pub include: Vec<String>,
    /// Globs of repositories to leave out, matched like `include`.
    pub exclude: Vec<String>,
    pub include_forks: bool,
    pub include_archived: bool,
    pub visibility: Visibility,
    /// Only this shard of what the filters let through.
    pub shard: Option<Shard>,
    /// Repositories fetched and scanned at the same time.
    pub parallel_repos: usize,
    /// Fetch even repositories GitHub reports as not pushed to since the last complete sweep.
    pub fetch_all: bool,
    /// Mirrors and per-repository scan state.
    pub cache: PathBuf,
    /// Scanning threads per repository (0: the CPUs shared among the repositories in flight).
    pub threads: usize,
    /// No notes and no progress line.
    pub quiet: bool,
}

/// Sweeps the target's repositories that `options` select, then writes the report as `report`
/// says; only then does what was scanned count as seen.
pub fn run(
    target: Target,
    options: &SweepOptions,
    report: &ReportSpec,
    pipeline: &Pipeline,
    client: &Client,
) -> anyhow::Result<Outcome> {
    let listed = repos::list(client, &target)
        .with_context(|| format!("cannot list the repositories of {}", target.label()))?;
    let selection = Selection::new(&target, &listed, options)?;
    if !options.quiet {
        let note = selection.describe(&target, listed.len(), options.shard);
        pipeline.messages().note(note);
    }
    let concurrency = options.parallel_repos.max(1);
    let cache = Cache::new(&options.cache, &client.host_label());
    let threads = threads_per_repo(options.threads, concurrency);
    let sweeper = Sweeper::new(client, &pipeline.scanner, cache, threads);
    let collector = Collector::default();
    let started = Instant::now();
    let progress = Progress::start(
        !options.quiet && std::io::stderr().is_terminal(),
        pipeline.messages(),
    );
    let depth = Depth::Incremental {
        fetch_all: options.fetch_all,
    };
    let tally = sweeper.sweep_all(&selection.repos, depth, concurrency, &collector, &progress);
    progress.stop();
    if !options.quiet {
        pipeline.messages().note(format_args!(
            "swept {} in {:.1}s: {}; GitHub API: {}",
            count(selection.repos.len(), "repository", "repositories"),
            started.elapsed().as_secs_f64(),
            tally,
            super::usage_line(client),
        ));
    }
    let outcome = pipeline.finish(collector, report)?;
    // The report is out: what it covers may now count as seen.
    sweeper.pending.commit()?;
    Ok(outcome)
}

/// Scanning threads for one repository: as asked, or the CPUs shared among the repositories
/// swept at the same time.
fn threads_per_repo(asked: usize, concurrency: usize) -> usize {
    match asked {
        0 => {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cpus / concurrency).max(1)
        }
        n => n,
    }
}

/// The repositories of a listing a sweep takes, and what it left out.
struct Selection<'r> {
    repos: Vec<&'r Repo>,
    /// How many repositories each filter left out, by its reason.
    left_out: BTreeMap<&'static str, usize>,
    /// How many passed the filters, before the shard took its part.
    in_filter: usize,
}

impl<'r> Selection<'r> {
    fn new(target: &Target, listed: &'r [Repo], options: &SweepOptions) -> anyhow::Result<Self> {
        let filter = Filter::new(
            &options.include,
            &options.exclude,
            options.include_forks,
            options.include_archived,
            options.visibility,
        )?;
        let mut left_out = BTreeMap::new();
        let mut repos = Vec::new();
        for repo in listed {
            // A repository named on the command line is swept whatever the filters say.
            let rejected = match target {
                Target::Repo(_) => None,
                _ => filter.reject(repo),
            };
            match rejected {
                Some(why) => *left_out.entry(why).or_default() += 1,
                None => repos.push(repo),
            }
        }
        let in_filter = repos.len();
        if let Some(shard) = options.shard {
            repos.retain(|r| shard.takes(&r.full_name));
        }
        Ok(Selection {
            repos,
            left_out,
            in_filter,
        })
    }

    /// `acme: 12 repositories listed, left out: 2 fork; shard 1/2 takes 5 of 10`.
    fn describe(&self, target: &Target, listed: usize, shard: Option<Shard>) -> String {
        let mut line = format!(
            "{}: {} listed",
            target.label(),
            count(listed, "repository", "repositories")
        );
        if !self.left_out.is_empty() {
            let parts: Vec<String> = self
                .left_out
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            line.push_str(&format!(", left out: {}", parts.join(", ")));
        }
        if let Some(shard) = shard {
            line.push_str(&format!(
                "; shard {shard} takes {} of {}",
                self.repos.len(),
                self.in_filter
            ));
        }
        line
    }
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

/// `3 scanned, 1 unchanged since the last sweep, 0 empty, 0 failed`.
impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} scanned, {} unchanged since the last sweep, {} empty, {} failed",
            self.scanned.load(Relaxed),
            self.unchanged.load(Relaxed),
            self.empty.load(Relaxed),
            self.failed.load(Relaxed)
        )
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
