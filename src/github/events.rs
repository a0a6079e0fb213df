//! Polling an events feed ([`super::feed`]) and scanning what each new event brings
//! ([`super::handler`]): one pass, or with `watch` a loop that writes each poll's findings as
//! they are known.
//!
//! The position (last event id, ETag) lives in a state file that only moves after the findings
//! of the events it covers are written, so a restart neither misses nor repeats events. Events
//! missed because the feed no longer reaches back to the last one make the run incomplete.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::client::{ApiError, Client};
use super::feed::{self, Batch, Event, Feed};
use super::handler::{Handler, Kind};
use super::repos;
use super::state::{Cache, EventsState, Retry};
use super::sweep::Sweeper;
use crate::finding::Finding;
use crate::messages::plural;
use crate::pipeline::{Outcome, Pipeline, ReportSpec};
use crate::report::{self, Format, ReportOptions};
use crate::scan::Collector;

/// When GitHub sends no `X-Poll-Interval`: its documented default.
const DEFAULT_POLL_INTERVAL: u64 = 60;
/// Passes an event whose handling fails is tried in, before it is given up with an error.
const MAX_ATTEMPTS: u32 = 5;

/// What became of one event of a batch, in the batch's order.
enum Handled {
    Done(String),
    /// Failed; to be tried again (the id, and the passes tried so far).
    Retry(Retry),
}

/// Which feed to poll, and where the poller keeps what it remembers.
#[derive(Debug, Clone)]
pub struct EventsOptions {
    pub feed: Feed,
    /// The position file [default: under `cache`, one file per feed].
    pub state: Option<PathBuf>,
    /// Keep polling, as often as GitHub allows; otherwise one pass.
    pub watch: bool,
    /// Mirrors, per-repository scan state and the default position file.
    pub cache: PathBuf,
    /// No note after each poll.
    pub quiet: bool,
}

/// Polls the feed once, or forever with `watch`, scanning every new event. The report goes where
/// `report` says: at the end of a single pass, or appended after each poll while watching.
pub fn run(
    options: &EventsOptions,
    report: &ReportSpec,
    pipeline: &Pipeline,
    client: &Client,
) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        !options.watch || matches!(report.format, Format::Text | Format::Jsonl),
        "--watch writes findings as they are found: use --format text or jsonl"
    );
    let mut feed = options.feed.clone();
    if let Feed::Org { member, .. } = &mut feed {
        // Same events and ids, plus private repositories' when the token's user is a member.
        *member = repos::token_login(client).context("cannot check whose token this is")?;
    }
    let cache = Cache::new(&options.cache, &client.host_label());
    let state_path = options
        .state
        .clone()
        .unwrap_or_else(|| cache.events_state(&feed.label().replace('/', "-")));
    let state = EventsState::load(&state_path, &feed.label())?;
    let sweeper = Sweeper::new(client, &pipeline.scanner, cache, 0);
    let mut poller = Poller {
        feed,
        state,
        state_path,
        handler: Handler::new(&sweeper),
        handled: Vec::new(),
        pipeline,
        client,
        options,
    };
    if options.watch {
        poller.watch(report)
    } else {
        poller.once(report)
    }
}

/// The feed's position and what handles its events.
struct Poller<'a> {
    /// With the member resolved (see [`Feed::Org`]).
    feed: Feed,
    state: EventsState,
    state_path: PathBuf,
    handler: Handler<'a>,
    /// The last batch's events, oldest first, as [`Poller::handle`] left them.
    handled: Vec<Handled>,
    pipeline: &'a Pipeline,
    client: &'a Client,
    options: &'a EventsOptions,
}

impl Poller<'_> {
    fn once(&mut self, report: &ReportSpec) -> anyhow::Result<Outcome> {
        let batch = self.poll().map_err(|e| self.feed_error(e))?;
        let collector = Collector::default();
        for f in self.handle(&batch) {
            collector.push(f);
        }
        let outcome = self.pipeline.finish(collector, report)?;
        self.advance(&batch)?;
        Ok(outcome)
    }

    fn watch(&mut self, report: &ReportSpec) -> anyhow::Result<Outcome> {
        let mut sink = Sink::open(report)?;
        loop {
            let batch = match self.poll() {
                Ok(b) => b,
                // A watcher outlives outages: after the client's own retries, try again at the
                // next poll. A rejected token will not get better by waiting.
                Err(e) if !matches!(e, ApiError::Unauthorized { .. }) => {
                    self.pipeline.messages().error(format_args!(
                        "cannot read the {} events feed: {e}; trying again in {DEFAULT_POLL_INTERVAL}s",
                        self.feed.label()
                    ));
                    std::thread::sleep(Duration::from_secs(DEFAULT_POLL_INTERVAL));
                    continue;
                }
                Err(e) => return Err(self.feed_error(e)),
            };
            let mut found = self.handle(&batch);
            crate::scan::sort_findings(&mut found);
            self.revoke(&mut found)?;
            sink.write(&found, self.pipeline)?;
            self.advance(&batch)?;
            let interval = batch.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL).max(1);
            std::thread::sleep(Duration::from_secs(interval));
        }
    }

    fn poll(&self) -> Result<Batch, ApiError> {
        feed::poll(self.client, &self.feed, &self.state)
    }

    fn feed_error(&self, e: ApiError) -> anyhow::Error {
        anyhow::Error::new(e).context(format!("cannot read the {} events feed", self.feed.label()))
    }

    /// Scans the batch's events and returns their findings; says what was missed and, unless
    /// quiet, what the poll brought.
    fn handle(&mut self, batch: &Batch) -> Vec<Finding> {
        let pipeline = self.pipeline;
        let messages = pipeline.messages();
        if batch.gap {
            messages.error(format_args!(
                "the {} feed no longer reaches back to event {} (GitHub keeps 300 events, 30 \
                 days): events in between were missed; sweep the affected repositories",
                self.feed.label(),
                self.state.last_event_id.as_deref().unwrap_or("?")
            ));
        }
        for why in &batch.skipped {
            messages.error(format_args!("{why}: skipped"));
        }
        let mut found = Vec::new();
        self.handled.clear();
        for event in &batch.events {
            if self.state.done.contains(&event.id) {
                self.handled.push(Handled::Done(event.id.clone()));
                continue;
            }
            let errors = messages.errors();
            self.handle_event(event, &mut |f| found.push(f));
            let handled = match messages.errors() > errors {
                true => self.failed(event),
                false => Handled::Done(event.id.clone()),
            };
            self.handled.push(handled);
        }
        // A watcher is quiet while nothing happens; a single pass always says what it did.
        if !self.options.quiet && (!self.options.watch || !batch.events.is_empty()) {
            messages.note(format_args!(
                "{}: {}, {}; GitHub API: {}",
                self.feed.label(),
                plural(batch.events.len(), "new event"),
                plural(found.len(), "finding"),
                super::usage_line(self.client)
            ));
        }
        found
    }

    /// Scans one event; its findings carry the event's id and actor.
    fn handle_event(&mut self, event: &Event, emit: &mut dyn FnMut(Finding)) {
        let Some(repo) = event.repo() else {
            return;
        };
        if repos::split_full_name(repo).is_err() {
            self.pipeline.messages().error(format_args!(
                "event {}: unexpected repository name {repo:?}",
                event.id
            ));
            return;
        }
        let Some(kind) = Kind::from_events_api(&event.kind) else {
            return;
        };
        let mut stamped = |mut f: Finding| {
            f.origin.event_id = Some(event.id.clone());
            f.origin.actor = event.actor().map(str::to_string);
            emit(f)
        };
        if let Err(e) = self
            .handler
            .handle(kind, repo, &event.payload, &mut stamped)
        {
            self.pipeline.messages().error(format_args!(
                "event {} ({} on {repo}): {e:#}",
                event.id, event.kind
            ));
        }
    }

    /// An event whose handling reported an error: tried again on the next pass (the position
    /// stays before it), up to [`MAX_ATTEMPTS`] passes, each one said.
    fn failed(&self, event: &Event) -> Handled {
        let attempts = 1 + self
            .state
            .retry
            .iter()
            .find(|r| r.id == event.id)
            .map_or(0, |r| r.attempts);
        let messages = self.pipeline.messages();
        let repo = event.repo().unwrap_or("?");
        if attempts >= MAX_ATTEMPTS {
            messages.error(format_args!(
                "event {} ({} on {repo}) failed {attempts} passes: given up; sweep {repo} to \
                 cover what it brought",
                event.id, event.kind
            ));
            return Handled::Done(event.id.clone());
        }
        messages.note(format_args!(
            "event {} ({} on {repo}) will be tried again on the next pass (attempt {attempts} of \
             {MAX_ATTEMPTS})",
            event.id, event.kind
        ));
        Handled::Retry(Retry {
            id: event.id.clone(),
            attempts,
        })
    }

    /// A watcher revokes as each poll's findings are known, not at an end that never comes.
    fn revoke(&self, found: &mut [Finding]) -> anyhow::Result<()> {
        if found.is_empty() {
            return Ok(());
        }
        if let Some(tally) = self.pipeline.revoke(found)? {
            if tally.failed > 0 {
                self.pipeline.messages().error(format_args!("{tally}"));
            }
        }
        Ok(())
    }

    /// Moves the position past `batch`, now that its findings are written, and puts in force the
    /// repository state its events staged.
    fn advance(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let mut next = EventsState {
            feed: self.feed.label(),
            last_event_id: self.state.last_event_id.clone(),
            ..EventsState::default()
        };
        // The position moves up to the oldest event to try again; what was handled after it
        // is remembered by id, so the next pass neither misses nor repeats anything.
        for handled in self.handled.drain(..) {
            match handled {
                Handled::Retry(r) => next.retry.push(r),
                Handled::Done(id) if next.retry.is_empty() => next.last_event_id = Some(id),
                Handled::Done(id) => next.done.push(id),
            }
        }
        // An unchanged feed answers 304 with no events: events to retry must be read again.
        if next.retry.is_empty() {
            next.etag = batch.etag.clone();
        }
        self.handler.sweeper().pending.commit()?;
        next.save(&self.state_path)?;
        self.state = next;
        Ok(())
    }
}

/// Where a watcher writes each poll's findings as soon as they are known.
struct Sink {
    out: Box<dyn Write>,
    format: Format,
}

impl Sink {
    fn open(report: &ReportSpec) -> anyhow::Result<Sink> {
        let out: Box<dyn Write> = match &report.output {
            Some(path) => Box::new(BufWriter::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open report {}", path.display()))?,
            )),
            None => Box::new(io::stdout()),
        };
        Ok(Sink {
            out,
            format: report.format,
        })
    }

    fn write(&mut self, findings: &[Finding], pipeline: &Pipeline) -> anyhow::Result<()> {
        if findings.is_empty() {
            return Ok(());
        }
        let summary = pipeline.summary(findings.len());
        report::write(
            self.format,
            findings,
            &summary,
            pipeline.rules(),
            &mut self.out,
            &ReportOptions { color: false },
        )
        .and_then(|()| self.out.flush())
        .context("cannot write findings")
    }
}
