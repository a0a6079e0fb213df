//! `keysweep github events`: poll a GitHub events feed and scan what each new event brings.
//!
//! Polling follows GitHub's rules: `If-None-Match` with the last ETag (a 304 costs no rate
//! limit), never more often than `X-Poll-Interval`. The position (last event id, ETag) lives in
//! a state file that only moves after the findings of the events it covers are written, so a
//! restart neither misses nor repeats events. The feed holds the last 300 events (30 days);
//! when the newest known event is no longer in it, events were missed, and the run says so and
//! counts as incomplete.

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;

use super::client::{ApiError, Client};
use super::history::{self, RepoName, Scope};
use super::mirror;
use super::patch;
use super::repos::{self, Repo};
use super::state::{Cache, EventsState};
use super::sweep::{Depth, Sweeper};
use crate::cli::{EventsArgs, Format};
use crate::finding::{Finding, Origin};
use crate::messages::plural;
use crate::pipeline::{Outcome, Pipeline};
use crate::report::{self, ReportOptions};
use crate::scan::{Collector, Scanner, Scratch};

/// When GitHub sends no `X-Poll-Interval`: its documented default.
const DEFAULT_POLL_INTERVAL: u64 = 60;
/// GitHub's compare API lists at most this many files; a longer list is cut.
const COMPARE_MAX_FILES: usize = 300;
/// Actions whose event carries new or changed text. Other actions (closed, labeled, assigned…)
/// repeat text already scanned when it was written.
const TEXT_ACTIONS: &[&str] = &[
    "opened",
    "edited",
    "created",
    "published",
    "submitted",
    "prereleased",
    "released",
];

/// Which events feed to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// An organisation's events. `member`: the token's user, whose dashboard feed
    /// (`/users/{member}/events/orgs/{org}`) includes private repositories; the public feed
    /// (`/orgs/{org}/events`) has only public ones.
    Org {
        org: String,
        member: Option<String>,
    },
    Repo(String),
    User(String),
    Public,
}

impl Feed {
    pub fn from_args(args: &EventsArgs) -> anyhow::Result<Feed> {
        Ok(match (&args.org, &args.repo, &args.user) {
            (Some(org), _, _) => {
                anyhow::ensure!(
                    repos::valid_name(org),
                    "{org:?} is not an organisation name"
                );
                Feed::Org {
                    org: org.clone(),
                    member: None,
                }
            }
            (_, Some(repo), _) => {
                repos::split_full_name(repo)?;
                Feed::Repo(repo.clone())
            }
            (_, _, Some(user)) => {
                anyhow::ensure!(repos::valid_name(user), "{user:?} is not a user name");
                Feed::User(user.clone())
            }
            _ => Feed::Public,
        })
    }

    /// The feed's name in state files: `orgs/acme`, `repos/acme/api`, `users/bob`, `public`.
    pub fn label(&self) -> String {
        match self {
            Feed::Org { org, .. } => format!("orgs/{org}"),
            Feed::Repo(r) => format!("repos/{r}"),
            Feed::User(u) => format!("users/{u}"),
            Feed::Public => "public".into(),
        }
    }

    fn path(&self) -> String {
        match self {
            Feed::Public => "/events".into(),
            Feed::Org {
                org,
                member: Some(user),
            } => format!("/users/{user}/events/orgs/{org}"),
            other => format!("/{}/events", other.label()),
        }
    }
}

/// One event, leniently: GitHub has trimmed payloads before (PushEvent lost its commit list,
/// PullRequestEvent its body), so the payload stays untyped and every field is optional.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    actor: Option<Login>,
    #[serde(default)]
    repo: Option<EventRepo>,
    #[serde(default)]
    payload: Value,
}

#[derive(Debug, Clone, Deserialize)]
struct Login {
    login: String,
}

#[derive(Debug, Clone, Deserialize)]
struct EventRepo {
    name: String,
}

/// The new events of one poll, oldest first.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub etag: Option<String>,
    pub poll_interval: Option<u64>,
    /// The last known event was not found: events between it and the oldest here are lost.
    pub gap: bool,
}

/// Event ids grow; compare them as numbers (as strings of different lengths they would not).
fn newer(id: &str, than: &str) -> bool {
    match (id.parse::<u64>(), than.parse::<u64>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => (id.len(), id) > (than.len(), than),
    }
}

/// Fetches the events newer than `state`'s, following pages until the known event shows up.
pub fn poll(client: &Client, feed: &Feed, state: &EventsState) -> Result<Batch, ApiError> {
    let first = client.url(&format!("{}?per_page=100", feed.path()));
    let reply = client.send(&first, state.etag.as_deref())?;
    let mut batch = Batch {
        etag: reply.etag.clone().or_else(|| state.etag.clone()),
        poll_interval: reply.poll_interval,
        ..Default::default()
    };
    if reply.not_modified() {
        return Ok(batch);
    }
    let last = state.last_event_id.as_deref();
    let mut seen = HashSet::new();
    let mut reached = false;
    let mut page = reply;
    let mut url = first;
    loop {
        let events: Vec<Event> = page.json(&url)?;
        for e in events {
            if last.is_some_and(|l| !newer(&e.id, l)) {
                reached = true;
                continue;
            }
            // Pages shift while new events arrive: the same event can show up twice.
            if seen.insert(e.id.clone()) {
                batch.events.push(e);
            }
        }
        match page.next.take() {
            Some(next) if !reached => {
                page = client.send(&next, None)?;
                url = next;
            }
            _ => break,
        }
    }
    batch.gap = last.is_some() && !reached;
    batch.events.sort_by(|a, b| {
        if newer(&a.id, &b.id) {
            std::cmp::Ordering::Greater
        } else if newer(&b.id, &a.id) {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Equal
        }
    });
    Ok(batch)
}

pub fn run(args: &EventsArgs, pipeline: &Pipeline, client: &Client) -> anyhow::Result<Outcome> {
    let mut feed = Feed::from_args(args)?;
    anyhow::ensure!(
        !args.watch || matches!(args.scan.format, Format::Text | Format::Jsonl),
        "--watch writes findings as they are found: use --format text or jsonl"
    );
    let scanner = &pipeline.scanner;
    if let Feed::Org { member, .. } = &mut feed {
        // Same events and ids, plus private repositories' when the token's user is a member.
        *member = repos::token_login(client).context("cannot check whose token this is")?;
    }
    let cache = Cache::new(&args.api.cache, &client.host_label());
    let state_path = args
        .state
        .clone()
        .unwrap_or_else(|| cache.events_state(&feed.label().replace('/', "-")));
    let mut state = EventsState::load(&state_path, &feed.label())?;
    let sweeper = Sweeper::new(client, scanner, cache, 0);
    let mut handler = Handler {
        client,
        scanner,
        sweeper: &sweeper,
        repos: HashMap::new(),
        scratch: Scratch::default(),
    };
    let mut sink = if args.watch {
        Some(Sink::open(args)?)
    } else {
        None
    };
    let collector = Collector::default();
    loop {
        let batch = match poll(client, &feed, &state) {
            Ok(b) => b,
            // A watcher outlives outages: after the client's own retries, try again at the
            // next poll. A rejected token will not get better by waiting.
            Err(e) if args.watch && !matches!(e, ApiError::Unauthorized { .. }) => {
                scanner.messages.error(format_args!(
                    "cannot read the {} events feed: {e}; trying again in {DEFAULT_POLL_INTERVAL}s",
                    feed.label()
                ));
                std::thread::sleep(Duration::from_secs(DEFAULT_POLL_INTERVAL));
                continue;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the {} events feed", feed.label()))
            }
        };
        if batch.gap {
            scanner.messages.error(format_args!(
                "the {} feed no longer reaches back to event {} (GitHub keeps 300 events, 30 \
                 days): events in between were missed; sweep the affected repositories",
                feed.label(),
                state.last_event_id.as_deref().unwrap_or("?")
            ));
        }
        let mut found = Vec::new();
        for event in &batch.events {
            handler.handle(event, &mut |f| found.push(f));
        }
        // A watcher is quiet while nothing happens; a single pass always says what it did.
        if !args.scan.quiet && (!args.watch || !batch.events.is_empty()) {
            scanner.messages.note(format_args!(
                "{}: {}, {}; GitHub API: {}",
                feed.label(),
                plural(batch.events.len(), "new event"),
                plural(found.len(), "finding"),
                super::usage_line(client)
            ));
        }
        let next_state = EventsState {
            feed: feed.label(),
            last_event_id: batch
                .events
                .last()
                .map(|e| e.id.clone())
                .or_else(|| state.last_event_id.clone()),
            etag: batch.etag.clone(),
        };
        let Some(sink) = sink.as_mut() else {
            for f in found {
                collector.push(f);
            }
            let outcome = pipeline.finish(collector, &args.scan.report())?;
            sweeper.pending.commit()?;
            next_state.save(&state_path)?;
            return Ok(outcome);
        };
        crate::scan::sort_findings(&mut found);
        // A watcher revokes as each poll's findings are known, not at an end that never comes.
        if !found.is_empty() {
            if let Some(tally) = pipeline.revoke(&mut found)? {
                if tally.failed > 0 {
                    scanner.messages.error(format_args!("{tally}"));
                }
            }
        }
        sink.write(&found, pipeline)?;
        sweeper.pending.commit()?;
        next_state.save(&state_path)?;
        state = next_state;
        let interval = batch.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL).max(1);
        std::thread::sleep(Duration::from_secs(interval));
    }
}

/// Where `--watch` writes each poll's findings as soon as they are known.
struct Sink {
    out: Box<dyn Write>,
    format: Format,
}

impl Sink {
    fn open(args: &EventsArgs) -> anyhow::Result<Sink> {
        let out: Box<dyn Write> = match &args.scan.output {
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
            format: args.scan.format,
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

/// Turns one event into scans.
struct Handler<'a> {
    client: &'a Client,
    scanner: &'a Scanner,
    sweeper: &'a Sweeper<'a>,
    /// Repository objects fetched this run (clone URL, html URL), by full name.
    repos: HashMap<String, Repo>,
    scratch: Scratch,
}

/// Who and what an event was, stamped on every finding it yields.
struct Stamp<'e> {
    event_id: &'e str,
    actor: Option<&'e str>,
    repo: &'e str,
}

impl Stamp<'_> {
    fn apply(&self, f: &mut Finding) {
        f.origin.event_id = Some(self.event_id.to_string());
        f.origin.actor = self.actor.map(str::to_string);
        f.origin.repo = Some(self.repo.to_string());
    }
}

impl Handler<'_> {
    fn handle(&mut self, event: &Event, emit: &mut dyn FnMut(Finding)) {
        let Some(repo) = event.repo.as_ref().map(|r| r.name.as_str()) else {
            return;
        };
        if repos::split_full_name(repo).is_err() {
            self.scanner.messages.error(format_args!(
                "event {}: unexpected repository name {repo:?}",
                event.id
            ));
            return;
        }
        let stamp = Stamp {
            event_id: &event.id,
            actor: event.actor.as_ref().map(|a| a.login.as_str()),
            repo,
        };
        let mut stamped = |mut f: Finding| {
            stamp.apply(&mut f);
            emit(f);
        };
        let p = &event.payload;
        let result = match event.kind.as_str() {
            "PushEvent" => self.push(repo, p, &mut stamped),
            "PublicEvent" => self.sweep(repo, Depth::Full, &mut stamped),
            // A new repository, branch or tag: whatever the mirror has not scanned yet.
            "CreateEvent" => self.sweep(repo, Depth::Incremental { fetch_all: true }, &mut stamped),
            "GollumEvent" => self.wiki(repo, p, &mut stamped),
            kind => {
                let texts = self.texts(kind, p);
                for (path, url, text) in texts {
                    self.scan_text(&text, &path, url.as_deref(), &mut stamped);
                }
                Ok(())
            }
        };
        if let Err(e) = result {
            self.scanner.messages.error(format_args!(
                "event {} ({} on {repo}): {e:#}",
                event.id, event.kind
            ));
        }
    }

    /// The text bodies an issue, comment, pull request, review or release event carries, as
    /// `(path, html url, text)`. A body GitHub trimmed from the payload is fetched from the
    /// object's API URL.
    fn texts(&self, kind: &str, p: &Value) -> Vec<(String, Option<String>, String)> {
        let action = p.get("action").and_then(Value::as_str);
        if action.is_some_and(|a| !TEXT_ACTIONS.contains(&a)) {
            return Vec::new();
        }
        let num = |key: &str| {
            p.pointer(&format!("/{key}/number"))
                .and_then(Value::as_u64)
                .map_or_else(|| "?".to_string(), |n| n.to_string())
        };
        let id = |obj: &Value| {
            obj.get("id")
                .and_then(Value::as_u64)
                .map_or_else(|| "?".to_string(), |n| n.to_string())
        };
        let (object, fields, path): (&str, &[&str], String) = match kind {
            "IssuesEvent" => (
                "issue",
                &["title", "body"],
                format!("issues/{}", num("issue")),
            ),
            "IssueCommentEvent" => (
                "comment",
                &["body"],
                format!("issues/{}/comments/{}", num("issue"), id(&p["comment"])),
            ),
            "PullRequestEvent" => (
                "pull_request",
                &["title", "body"],
                format!("pulls/{}", num("pull_request")),
            ),
            "PullRequestReviewEvent" => (
                "review",
                &["body"],
                format!("pulls/{}/reviews/{}", num("pull_request"), id(&p["review"])),
            ),
            "PullRequestReviewCommentEvent" => (
                "comment",
                &["body"],
                format!(
                    "pulls/{}/comments/{}",
                    num("pull_request"),
                    id(&p["comment"])
                ),
            ),
            "CommitCommentEvent" => (
                "comment",
                &["body"],
                format!(
                    "commits/{}/comments/{}",
                    p.pointer("/comment/commit_id")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    id(&p["comment"])
                ),
            ),
            "ReleaseEvent" => (
                "release",
                &["name", "body"],
                format!(
                    "releases/{}",
                    p.pointer("/release/tag_name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                ),
            ),
            _ => return Vec::new(),
        };
        let Some(obj) = p.get(object) else {
            return Vec::new();
        };
        let full;
        let obj = if fields.iter().any(|f| obj.get(*f).is_none()) {
            match obj.get("url").and_then(Value::as_str) {
                Some(url) => match self
                    .client
                    .send(url, None)
                    .and_then(|r| r.json::<Value>(url))
                {
                    Ok(v) => {
                        full = v;
                        &full
                    }
                    Err(e) => {
                        self.scanner
                            .messages
                            .error(format_args!("cannot fetch the text of {path}: {e}"));
                        obj
                    }
                },
                None => obj,
            }
        } else {
            obj
        };
        let url = obj
            .get("html_url")
            .and_then(Value::as_str)
            .map(str::to_string);
        fields
            .iter()
            .filter_map(|f| obj.get(*f).and_then(Value::as_str))
            .filter(|t| !t.is_empty())
            .map(|t| (path.clone(), url.clone(), t.to_string()))
            .collect()
    }

    fn scan_text(
        &mut self,
        text: &str,
        path: &str,
        url: Option<&str>,
        emit: &mut dyn FnMut(Finding),
    ) {
        let origin = Origin {
            path: Some(path.to_string()),
            url: url.map(str::to_string),
            ..Origin::new("github")
        };
        self.scanner
            .scan_bytes(text.as_bytes(), &origin, &mut self.scratch, emit);
    }

    /// A push: the compare API's patches when they are complete, the mirror and the git engine
    /// when they are not (or when there is nothing to compare against: a new branch).
    fn push(&mut self, repo: &str, p: &Value, emit: &mut dyn FnMut(Finding)) -> anyhow::Result<()> {
        let head = p
            .get("head")
            .or_else(|| p.get("after"))
            .and_then(Value::as_str)
            .context("push event without a head commit")?;
        anyhow::ensure!(
            is_commit_id(head),
            "push event head {head:?} is not a commit id"
        );
        if is_zero(head) {
            return Ok(()); // a branch deletion: nothing added
        }
        let before = p
            .get("before")
            .and_then(Value::as_str)
            .filter(|b| is_commit_id(b) && !is_zero(b));
        let Some(before) = before else {
            return self.sweep(repo, Depth::Incremental { fetch_all: true }, emit);
        };
        let path = format!("/repos/{repo}/compare/{before}...{head}");
        let compare: Compare = match self.client.get_json(&path) {
            Ok(c) => c,
            // The old tip is gone (force push and garbage collection) or unknown to GitHub.
            Err(ApiError::NotFound { .. } | ApiError::Status { status: 422, .. }) => {
                return self.sweep(repo, Depth::Incremental { fetch_all: true }, emit)
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(why) = compare.truncated() {
            self.scanner.messages.note(format_args!(
                "{repo}: push {}..{}: {why}; scanning the range in the mirror instead",
                short(before),
                short(head)
            ));
            return self.range(repo, before, head, emit);
        }
        self.scan_compare(&compare, head, emit);
        Ok(())
    }

    fn scan_compare(&mut self, compare: &Compare, head: &str, emit: &mut dyn FnMut(Finding)) {
        for file in compare.files.iter().flatten() {
            let Some(text) = file.patch.as_deref().and_then(patch::added_lines) else {
                continue;
            };
            let origin = Origin {
                path: Some(file.filename.clone()),
                commit: Some(head.to_string()),
                ..Origin::new("github")
            };
            let blob_url = file.blob_url.clone();
            self.scanner
                .scan_bytes(&text, &origin, &mut self.scratch, &mut |mut f| {
                    f.origin.url = blob_url.as_ref().map(|u| format!("{u}#L{}", f.line));
                    emit(f)
                });
        }
        for c in &compare.commits {
            let origin = Origin {
                commit: Some(c.sha.clone()),
                author: c.commit.author.as_ref().and_then(|a| a.name.clone()),
                email: c.commit.author.as_ref().and_then(|a| a.email.clone()),
                date: c.commit.author.as_ref().and_then(|a| a.date.clone()),
                url: c.html_url.clone(),
                ..Origin::new("commit-message")
            };
            self.scanner.scan_bytes(
                c.commit.message.as_bytes(),
                &origin,
                &mut self.scratch,
                emit,
            );
        }
    }

    /// `before..head` scanned by the git engine in the repository's mirror (fetched first). When
    /// the mirror cannot have `before` (a first fetch after a force push), the incremental
    /// state decides instead, which never misses and at worst repeats.
    fn range(
        &mut self,
        repo: &str,
        before: &str,
        head: &str,
        emit: &mut dyn FnMut(Finding),
    ) -> anyhow::Result<()> {
        let info = self.repo(repo)?;
        let (owner, name) = info.owner_and_name()?;
        let mirror_path = self.sweeper.cache.mirror(owner, name);
        let url = info
            .clone_url
            .as_deref()
            .context("GitHub gave no clone URL")?;
        mirror::sync(&mirror_path, url, &self.sweeper.credentials)?;
        if !has_commit(&mirror_path, before) {
            return self.sweep(repo, Depth::Incremental { fetch_all: true }, emit);
        }
        history::scan(
            self.scanner,
            &mirror_path,
            Scope::Range { base: before, head },
            &RepoName {
                full_name: &info.full_name,
                html_url: info.html_url.as_deref(),
            },
            0,
            emit,
        )
    }

    fn sweep(
        &mut self,
        repo: &str,
        depth: Depth,
        emit: &mut dyn FnMut(Finding),
    ) -> anyhow::Result<()> {
        let info = self.repo(repo)?;
        // A failure is reported by the sweeper itself, as in a sweep.
        self.sweeper.sweep(&info, depth, emit);
        Ok(())
    }

    /// A wiki edit: the page titles and summaries the event carries, then the wiki's own git
    /// repository (the event does not carry page content), incrementally like a branch push.
    fn wiki(&mut self, repo: &str, p: &Value, emit: &mut dyn FnMut(Finding)) -> anyhow::Result<()> {
        for page in p
            .get("pages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = page.get("page_name").and_then(Value::as_str).unwrap_or("?");
            let url = page.get("html_url").and_then(Value::as_str);
            for field in ["title", "summary"] {
                if let Some(text) = page.get(field).and_then(Value::as_str) {
                    self.scan_text(text, &format!("wiki/{name}"), url, emit);
                }
            }
        }
        let info = self.repo(repo)?;
        let Some(clone_url) = info.clone_url.as_deref() else {
            anyhow::bail!("GitHub gave no clone URL");
        };
        let wiki = Repo {
            full_name: format!("{}.wiki", info.full_name),
            clone_url: Some(format!(
                "{}.wiki.git",
                clone_url.strip_suffix(".git").unwrap_or(clone_url)
            )),
            html_url: None,
            pushed_at: None,
            ..info.clone()
        };
        let wiki_html = info.html_url.as_deref().map(|h| format!("{h}/wiki"));
        self.sweeper.sweep(
            &wiki,
            Depth::Incremental { fetch_all: true },
            &mut |mut f| {
                // Wiki pages are files named after the page; link to the page, not the blob.
                if let (Some(html), Some(path)) = (&wiki_html, &f.origin.path) {
                    let page = path
                        .rsplit_once('.')
                        .map_or(path.as_str(), |(stem, _)| stem);
                    f.origin.url = Some(format!("{html}/{}", crate::finding::uri_path(page)));
                }
                emit(f)
            },
        );
        Ok(())
    }

    /// The repository object (clone and html URLs), fetched once per run.
    fn repo(&mut self, full_name: &str) -> anyhow::Result<Repo> {
        if let Some(r) = self.repos.get(full_name) {
            return Ok(r.clone());
        }
        let repo: Repo = self.client.get_json(&format!("/repos/{full_name}"))?;
        self.repos.insert(full_name.to_string(), repo.clone());
        Ok(repo)
    }
}

/// The parts of GitHub's compare response used here.
#[derive(Debug, Deserialize)]
struct Compare {
    #[serde(default)]
    total_commits: usize,
    #[serde(default)]
    commits: Vec<CompareCommit>,
    #[serde(default)]
    files: Option<Vec<CompareFile>>,
}

#[derive(Debug, Deserialize)]
struct CompareCommit {
    sha: String,
    #[serde(default)]
    html_url: Option<String>,
    commit: CommitDetail,
}

#[derive(Debug, Deserialize)]
struct CommitDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    author: Option<Person>,
}

#[derive(Debug, Deserialize)]
struct Person {
    name: Option<String>,
    email: Option<String>,
    date: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CompareFile {
    filename: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    additions: u64,
    #[serde(default)]
    patch: Option<String>,
    #[serde(default)]
    blob_url: Option<String>,
}

impl Compare {
    /// Why this response does not show everything the push added, if it does not. GitHub cuts
    /// the file list at 300, leaves out the patch of a large file, and lists at most 250
    /// commits.
    fn truncated(&self) -> Option<String> {
        let files = self.files.as_deref().unwrap_or_default();
        if self.files.is_none() && self.total_commits > 0 {
            return Some("the compare response has no file list".into());
        }
        if files.len() >= COMPARE_MAX_FILES {
            return Some(format!("the compare API lists only {} files", files.len()));
        }
        if let Some(f) = files
            .iter()
            .find(|f| f.patch.is_none() && f.additions > 0 && f.status != "removed")
        {
            return Some(format!(
                "the compare API left out the patch of {}",
                f.filename
            ));
        }
        if self.commits.len() < self.total_commits {
            return Some(format!(
                "the compare API lists {} of {} commits",
                self.commits.len(),
                self.total_commits
            ));
        }
        None
    }
}

fn is_commit_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn has_commit(mirror: &Path, id: &str) -> bool {
    let Ok(repo) = gix::open(mirror) else {
        return false;
    };
    let Ok(oid) = gix::ObjectId::from_hex(id.as_bytes()) else {
        return false;
    };
    repo.has_object(oid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_compare_as_numbers() {
        assert!(newer("10000000000", "9999999999"));
        assert!(!newer("42", "42"));
        assert!(!newer("41", "42"));
    }

    fn file(name: &str, additions: u64, patch: Option<&str>) -> CompareFile {
        CompareFile {
            filename: name.into(),
            status: "modified".into(),
            additions,
            patch: patch.map(str::to_string),
            blob_url: None,
        }
    }

    #[test]
    fn truncated_compare_responses_are_recognised() {
        let complete = Compare {
            total_commits: 0,
            commits: vec![],
            files: Some(vec![
                file("a", 1, Some("@@ -0,0 +1 @@\n+x")),
                file("logo.png", 0, None),
            ]),
        };
        assert_eq!(complete.truncated(), None);
        let big_file = Compare {
            files: Some(vec![file("huge.sql", 90_000, None)]),
            ..complete
        };
        assert!(big_file.truncated().unwrap().contains("huge.sql"));
        let many = Compare {
            total_commits: 0,
            commits: vec![],
            files: Some(
                (0..300)
                    .map(|i| file(&format!("f{i}"), 1, Some("@@ -1 +1 @@\n+x")))
                    .collect(),
            ),
        };
        assert!(many.truncated().is_some());
        let commits = Compare {
            total_commits: 300,
            commits: vec![],
            files: Some(vec![]),
        };
        assert!(commits.truncated().is_some());
    }

    #[test]
    fn feeds_name_their_endpoints() {
        let org = |member: Option<&str>| Feed::Org {
            org: "acme".into(),
            member: member.map(str::to_string),
        };
        assert_eq!(org(None).path(), "/orgs/acme/events");
        assert_eq!(org(Some("bob")).path(), "/users/bob/events/orgs/acme");
        assert_eq!(org(Some("bob")).label(), "orgs/acme");
        assert_eq!(
            Feed::Repo("acme/api".into()).path(),
            "/repos/acme/api/events"
        );
        assert_eq!(Feed::Public.path(), "/events");
    }
}
