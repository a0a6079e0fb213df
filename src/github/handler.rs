//! What one GitHub event brought, scanned: the texts of issues, comments, pull requests,
//! reviews and releases; a push through the compare API (or the mirror when the compare response
//! is cut); a wiki edit; a new branch or repository; a repository made public (a full sweep).
//!
//! The events poller ([`super::events`]) feeds it Events API events, and a webhook receiver can
//! feed it webhook deliveries: their payloads have the same shapes (a push's new tip is `head`
//! in one and `after` in the other; either is taken), only the names of the kinds differ
//! ([`Kind::from_events_api`], [`Kind::from_webhook`]). The handler neither loops nor writes
//! reports: findings go to the caller's `emit`, problems to the scanner's `Messages`.

use std::collections::HashMap;

use anyhow::Context;
use serde_json::Value;

use super::client::{ApiError, Client};
use super::compare::Compare;
use super::history::{self, RepoName, Scope};
use super::mirror;
use super::repos::{self, Repo};
use super::sweep::{Depth, Sweeper};
use super::text;
use crate::finding::{uri_path, Finding, Origin};
use crate::scan::{Scanner, Scratch};

/// The kinds of event that can bring something to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Push,
    /// A repository made public: everything in it is newly visible.
    Public,
    /// A new repository, branch or tag.
    Create,
    /// Wiki pages created or edited.
    Gollum,
    Issues,
    IssueComment,
    PullRequest,
    PullRequestReview,
    PullRequestReviewComment,
    CommitComment,
    Release,
    /// Webhooks only: the Events API has no discussion events.
    Discussion,
    DiscussionComment,
}

impl Kind {
    /// The kind of an Events API event (its `type`); `None` for kinds that bring nothing new.
    pub fn from_events_api(kind: &str) -> Option<Kind> {
        Some(match kind {
            "PushEvent" => Kind::Push,
            "PublicEvent" => Kind::Public,
            "CreateEvent" => Kind::Create,
            "GollumEvent" => Kind::Gollum,
            "IssuesEvent" => Kind::Issues,
            "IssueCommentEvent" => Kind::IssueComment,
            "PullRequestEvent" => Kind::PullRequest,
            "PullRequestReviewEvent" => Kind::PullRequestReview,
            "PullRequestReviewCommentEvent" => Kind::PullRequestReviewComment,
            "CommitCommentEvent" => Kind::CommitComment,
            "ReleaseEvent" => Kind::Release,
            _ => return None,
        })
    }

    /// The kind of a webhook delivery (its `X-GitHub-Event` header and the payload's `action`);
    /// `None` for kinds that bring nothing new.
    pub fn from_webhook(event: &str, action: Option<&str>) -> Option<Kind> {
        Some(match (event, action) {
            ("push", _) => Kind::Push,
            ("public", _) | ("repository", Some("publicized")) => Kind::Public,
            ("create", _) => Kind::Create,
            ("gollum", _) => Kind::Gollum,
            ("issues", _) => Kind::Issues,
            ("issue_comment", _) => Kind::IssueComment,
            ("pull_request", _) => Kind::PullRequest,
            ("pull_request_review", _) => Kind::PullRequestReview,
            ("pull_request_review_comment", _) => Kind::PullRequestReviewComment,
            ("commit_comment", _) => Kind::CommitComment,
            ("release", _) => Kind::Release,
            ("discussion", _) => Kind::Discussion,
            ("discussion_comment", _) => Kind::DiscussionComment,
            _ => return None,
        })
    }
}

/// Turns events into scans. One per thread: it keeps the repository objects it fetched and a
/// scanning buffer.
pub struct Handler<'a> {
    sweeper: &'a Sweeper<'a>,
    /// Repository objects fetched so far (clone URL, html URL), by full name.
    repos: HashMap<String, Repo>,
    scratch: Scratch,
}

impl<'a> Handler<'a> {
    pub fn new(sweeper: &'a Sweeper<'a>) -> Self {
        Handler {
            sweeper,
            repos: HashMap::new(),
            scratch: Scratch::default(),
        }
    }

    /// The sweeper whose pending state the handled events have staged: commit it once their
    /// findings are written.
    pub fn sweeper(&self) -> &'a Sweeper<'a> {
        self.sweeper
    }

    fn client(&self) -> &'a Client {
        self.sweeper.client
    }

    fn scanner(&self) -> &'a Scanner {
        self.sweeper.scanner
    }

    /// Scans what an event of `kind` on `repo` (`OWNER/NAME`) brought, handing each finding,
    /// named after `repo`, to `emit`. A part that cannot be scanned (a text that cannot be
    /// fetched, a repository that fails to sweep) is reported and the rest goes on; an error
    /// returned stopped the event.
    pub fn handle(
        &mut self,
        kind: Kind,
        repo: &str,
        payload: &Value,
        emit: &mut dyn FnMut(Finding),
    ) -> anyhow::Result<()> {
        // The name becomes directories in the cache: checked, not trusted.
        repos::split_full_name(repo)?;
        let emit = &mut |mut f: Finding| {
            f.origin.repo = Some(repo.to_string());
            emit(f)
        };
        match kind {
            Kind::Push => self.push(repo, payload, emit),
            Kind::Public => self.sweep(repo, Depth::Full, emit),
            // Whatever the mirror has not scanned yet.
            Kind::Create => self.sweep(repo, Depth::Incremental { fetch_all: true }, emit),
            Kind::Gollum => self.wiki(repo, payload, emit),
            _ => {
                let scanner = self.scanner();
                for t in text::texts(self.client(), &scanner.messages, kind, payload) {
                    self.scan_text(&t.text, &t.path, t.url.as_deref(), emit);
                }
                Ok(())
            }
        }
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
        self.sweeper
            .scanner
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
        let compare: Compare = match self.client().get_json(&path) {
            Ok(c) => c,
            // The old tip is gone (force push and garbage collection) or unknown to GitHub.
            Err(ApiError::NotFound { .. } | ApiError::Status { status: 422, .. }) => {
                return self.sweep(repo, Depth::Incremental { fetch_all: true }, emit)
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(why) = compare.truncated() {
            self.scanner().messages.note(format_args!(
                "{repo}: push {}..{}: {why}; scanning the range in the mirror instead",
                short(before),
                short(head)
            ));
            return self.range(repo, before, head, emit);
        }
        compare.scan(self.sweeper.scanner, &mut self.scratch, head, emit);
        Ok(())
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
        mirror::sync(&mirror_path, info.fetch_url()?, &self.sweeper.credentials)?;
        if !mirror::has_commit(&mirror_path, before) {
            return self.sweep(repo, Depth::Incremental { fetch_all: true }, emit);
        }
        history::scan(
            self.scanner(),
            &mirror_path,
            Scope::Range { base: before, head },
            &RepoName {
                full_name: &info.full_name,
                html_url: info.html_url.as_deref(),
            },
            0,
            emit,
        )
        // What could not be read was reported as an error; repeating the event reads no more.
        .map(drop)
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
        let wiki = wiki_repo(&info)?;
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
                    f.origin.url = Some(format!("{html}/{}", uri_path(page)));
                }
                emit(f)
            },
        );
        Ok(())
    }

    /// The repository object (clone and html URLs), fetched once per handler.
    fn repo(&mut self, full_name: &str) -> anyhow::Result<Repo> {
        if let Some(r) = self.repos.get(full_name) {
            return Ok(r.clone());
        }
        let repo: Repo = self.client().get_json(&format!("/repos/{full_name}"))?;
        self.repos.insert(full_name.to_string(), repo.clone());
        Ok(repo)
    }
}

/// The wiki of `repo` as a repository of its own (`OWNER/NAME.wiki`, cloned from
/// `NAME.wiki.git`), so the sweeper mirrors and remembers it like any other.
fn wiki_repo(repo: &Repo) -> anyhow::Result<Repo> {
    let clone_url = repo.fetch_url()?;
    Ok(Repo {
        full_name: format!("{}.wiki", repo.full_name),
        clone_url: Some(format!(
            "{}.wiki.git",
            clone_url.strip_suffix(".git").unwrap_or(clone_url)
        )),
        html_url: None,
        pushed_at: None,
        ..repo.clone()
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_api_and_webhook_names_map_to_the_same_kinds() {
        let pairs = [
            ("PushEvent", "push", Kind::Push),
            ("PublicEvent", "public", Kind::Public),
            ("CreateEvent", "create", Kind::Create),
            ("GollumEvent", "gollum", Kind::Gollum),
            ("IssuesEvent", "issues", Kind::Issues),
            ("IssueCommentEvent", "issue_comment", Kind::IssueComment),
            ("PullRequestEvent", "pull_request", Kind::PullRequest),
            (
                "PullRequestReviewEvent",
                "pull_request_review",
                Kind::PullRequestReview,
            ),
            (
                "PullRequestReviewCommentEvent",
                "pull_request_review_comment",
                Kind::PullRequestReviewComment,
            ),
            ("CommitCommentEvent", "commit_comment", Kind::CommitComment),
            ("ReleaseEvent", "release", Kind::Release),
        ];
        for (api, hook, kind) in pairs {
            assert_eq!(Kind::from_events_api(api), Some(kind), "{api}");
            assert_eq!(
                Kind::from_webhook(hook, Some("opened")),
                Some(kind),
                "{hook}"
            );
        }
        assert_eq!(
            Kind::from_webhook("repository", Some("publicized")),
            Some(Kind::Public)
        );
        assert_eq!(Kind::from_webhook("repository", Some("renamed")), None);
        assert_eq!(Kind::from_events_api("WatchEvent"), None);
        assert_eq!(Kind::from_webhook("star", Some("created")), None);
    }

    #[test]
    fn a_wiki_is_mirrored_as_a_repository_of_its_own() {
        let repo: Repo = serde_json::from_value(json!({
            "full_name": "acme/api",
            "clone_url": "https://github.com/acme/api.git",
            "html_url": "https://github.com/acme/api",
            "pushed_at": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        let wiki = wiki_repo(&repo).unwrap();
        assert_eq!(wiki.full_name, "acme/api.wiki");
        assert_eq!(
            wiki.clone_url.as_deref(),
            Some("https://github.com/acme/api.wiki.git")
        );
        assert_eq!((wiki.html_url, wiki.pushed_at), (None, None));
        let no_url = Repo {
            clone_url: None,
            ..repo
        };
        assert_eq!(
            wiki_repo(&no_url).unwrap_err().to_string(),
            "GitHub gave no clone URL"
        );
    }

    #[test]
    fn push_heads_are_commit_ids() {
        assert!(is_commit_id(&"a".repeat(40)) && is_commit_id(&"0".repeat(64)));
        assert!(!is_commit_id("main") && !is_commit_id(&"g".repeat(40)));
        assert!(is_zero(&"0".repeat(40)) && !is_zero(&"01".repeat(20)));
        assert_eq!(short(&"ab".repeat(20)), "abababababab");
    }
}
