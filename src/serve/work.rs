//! What a verified webhook delivery leads to, through the GitHub event handler the events
//! poller uses (`github::handler`): texts (issues, comments, pull requests, reviews, releases)
//! are scanned inline, in milliseconds, before the answer; repository work (a push, a pull
//! request's new commits, a wiki edit, a new branch, a repository made public) may need a fetch,
//! so it becomes a durable queue item that a worker thread handles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::finding::Finding;
use crate::github::handler::{Handler, Kind};
use crate::github::state::Cache;
use crate::github::sweep::Sweeper;
use crate::revoke::KeyOutcome;

use super::queue::Item;
use super::Shared;

/// Tries of a queue item whose scan or revocation failed, before it is given up with an error.
const MAX_TRIES: u32 = 5;
/// Wait before a failed item is tried again (GitHub or the key service may be down).
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Where a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Inline(Kind),
    Queue(Kind),
    Ignore,
}

pub fn route(event: &str, action: Option<&str>) -> Route {
    match (event, action) {
        // New commits on a pull request: what they added, exactly like a push.
        ("pull_request", Some("synchronize")) => Route::Queue(Kind::Push),
        _ => match Kind::from_webhook(event, action) {
            Some(k @ (Kind::Push | Kind::Public | Kind::Create | Kind::Gollum)) => Route::Queue(k),
            Some(k) => Route::Inline(k),
            None => Route::Ignore,
        },
    }
}

/// The queue item of a delivery: references only (repository, commit ids, ref), never text.
pub fn item(delivery: &str, event: &str, action: Option<&str>, repo: &str, p: &Value) -> Item {
    let commit = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_string);
    Item {
        delivery: delivery.to_string(),
        event: event.to_string(),
        action: action.map(str::to_string),
        repo: repo.to_string(),
        before: commit("before"),
        after: commit("after"),
        git_ref: commit("ref"),
        received_ms: crate::github::client::unix_now() * 1000,
    }
}

fn sweeper(shared: &Shared) -> Sweeper<'_> {
    let cache = Cache::new(
        &shared.state_dir.join("github"),
        &shared.client.host_label(),
    );
    Sweeper::new(&shared.client, &shared.pipeline.scanner, cache, 1)
}

/// Scans what a text-bearing delivery carries. Blocking.
pub fn scan_inline(
    shared: &Shared,
    kind: Kind,
    repo: &str,
    p: &Value,
) -> anyhow::Result<Vec<Finding>> {
    let started = Instant::now();
    let sweeper = sweeper(shared);
    let mut handler = Handler::new(&sweeper);
    let mut findings = Vec::new();
    handler.handle(kind, repo, p, &mut |f| findings.push(f))?;
    shared.metrics.scan_seconds.observe(started.elapsed());
    Ok(findings)
}

/// Revokes (if asked) and logs the findings of one delivery; the number of keys whose
/// revocation failed. Blocking.
pub fn conclude(shared: &Shared, findings: &mut [Finding], context: &str) -> anyhow::Result<usize> {
    let outcomes = shared.revoker.revoke(findings, context)?;
    if let Some(notifier) = &shared.notifier {
        notifier.findings(findings, context);
    }
    for f in findings.iter() {
        shared.messages.status(format_args!(
            "{context}: found {} {} sha256:{}{}",
            f.rule,
            f.redacted,
            f.secret_sha256,
            f.origin
                .url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default()
        ));
    }
    Ok(outcomes
        .values()
        .filter(|o| matches!(o, KeyOutcome::Failed(_)))
        .count())
}

/// The queue worker: handles items oldest first until the queue is closed; the item in hand is
/// finished first, so shutdown drains it. Failed items are retried, then given up loudly.
pub fn worker(shared: Arc<Shared>) {
    let sweeper = sweeper(&shared);
    let mut handler = Handler::new(&sweeper);
    let mut tries = 0;
    while let Some(next) = shared.queue.next(Duration::from_secs(1)) {
        let Some((path, item)) = next else { continue };
        let done = match item {
            Ok(item) => handle_item(&shared, &mut handler, &item),
            Err(e) => {
                shared.messages.error(format_args!(
                    "unreadable queue item {}: {e}",
                    path.display()
                ));
                true
            }
        };
        tries += 1;
        if done || tries >= MAX_TRIES {
            if !done {
                shared.messages.error(format_args!(
                    "giving up queue item {} after {tries} tries",
                    path.display()
                ));
            }
            if let Err(e) = shared.queue.done(&path) {
                shared.messages.error(format_args!(
                    "cannot remove queue item {}: {e}",
                    path.display()
                ));
            }
            shared.metrics.queue_depth.store(
                shared.queue.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            tries = 0;
        } else {
            shared.queue.pause(RETRY_AFTER);
        }
    }
}

/// True when the item is finished: scanned, and every key settled (or nothing to revoke).
fn handle_item(shared: &Shared, handler: &mut Handler<'_>, item: &Item) -> bool {
    let kind = match route(&item.event, item.action.as_deref()) {
        Route::Queue(kind) => kind,
        _ => return true,
    };
    let payload = json!({"before": item.before, "after": item.after, "ref": item.git_ref});
    let context = format!("webhook {} {} ({})", item.event, item.repo, item.delivery);
    let started = Instant::now();
    let mut findings = Vec::new();
    if let Err(e) = handler.handle(kind, &item.repo, &payload, &mut |f| findings.push(f)) {
        shared.messages.error(format_args!("{context}: {e:#}"));
        return false;
    }
    shared.metrics.scan_seconds.observe(started.elapsed());
    match conclude(shared, &mut findings, &context) {
        Ok(0) => {}
        Ok(_) => return false,
        Err(e) => {
            shared.messages.error(format_args!("{context}: {e:#}"));
            return false;
        }
    }
    // The mirror's incremental state, staged by the sweep, is kept once the keys are settled.
    if let Err(e) = handler.sweeper().pending.commit() {
        shared.messages.error(format_args!("{context}: {e:#}"));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_inline_repository_work_queued_the_rest_ignored() {
        assert_eq!(
            route("issue_comment", Some("created")),
            Route::Inline(Kind::IssueComment)
        );
        assert_eq!(
            route("pull_request", Some("opened")),
            Route::Inline(Kind::PullRequest)
        );
        assert_eq!(
            route("pull_request", Some("synchronize")),
            Route::Queue(Kind::Push)
        );
        assert_eq!(route("push", None), Route::Queue(Kind::Push));
        assert_eq!(
            route("repository", Some("publicized")),
            Route::Queue(Kind::Public)
        );
        assert_eq!(route("repository", Some("renamed")), Route::Ignore);
        assert_eq!(route("gollum", None), Route::Queue(Kind::Gollum));
        assert_eq!(route("star", Some("created")), Route::Ignore);
    }

    #[test]
    fn a_queue_item_holds_references_and_no_text() {
        let p = json!({"before": "a", "after": "b", "ref": "refs/heads/main",
                       "head_commit": {"message": "sk_live_secret"}});
        let i = item("d", "push", None, "o/r", &p);
        let text = serde_json::to_string(&i).unwrap();
        assert!(
            !text.contains("sk_live_") && text.contains("refs/heads/main"),
            "{text}"
        );
    }
}
