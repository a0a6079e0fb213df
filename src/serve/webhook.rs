//! `POST /github/webhook`: deliveries of a repository or organisation webhook, or of a GitHub
//! App. The signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with the shared
//! secret) is checked before anything of the body is parsed: an unsigned request costs an HMAC
//! and nothing else. A delivery acts once, whatever GitHub redelivers (`deliveries`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ring::hmac;

use serde_json::Value;

use super::deliveries::valid_id;
use super::queue::{Item, PushError};
use super::work::{self, Route};
use super::{header, reply, Shared};
use crate::github::handler::Kind;
use crate::github::repos::split_full_name;

/// The events keysweep names in metrics; any other is counted as `other`, so senders cannot
/// grow the label space.
const KNOWN_EVENTS: &[&str] = &[
    "ping",
    "push",
    "pull_request",
    "issues",
    "issue_comment",
    "pull_request_review",
    "pull_request_review_comment",
    "commit_comment",
    "discussion",
    "discussion_comment",
    "release",
    "gollum",
    "repository",
];

pub fn event_label(event: &str) -> &'static str {
    KNOWN_EVENTS
        .iter()
        .find(|&&e| e == event)
        .copied()
        .unwrap_or("other")
}

/// Checks `sha256=<hex>` against the HMAC of `body`, in constant time (ring's `verify`).
pub fn signature_matches(key: &hmac::Key, header: Option<&str>, body: &[u8]) -> bool {
    let Some(tag) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    hmac::verify(key, body, &tag).is_ok()
}

pub async fn receive(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse_unsigned(&shared, &headers, &body) {
        return refused;
    }
    let event = header(&headers, "x-github-event").unwrap_or_default();
    let label = event_label(&event);
    let Some(delivery) = header(&headers, "x-github-delivery").filter(|d| valid_id(d)) else {
        shared.metrics.delivery(label, "invalid");
        return reply(
            StatusCode::BAD_REQUEST,
            "missing or invalid X-GitHub-Delivery",
        );
    };
    if shared.deliveries.contains(&delivery) {
        shared.metrics.delivery(label, "duplicate");
        return reply(StatusCode::OK, "duplicate delivery: already handled");
    }
    // Parsed only now that it is known to come from GitHub. serde's message could quote the
    // payload (a leaked key in a comment): only the position is told.
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            shared.metrics.delivery(label, "invalid");
            let msg = format!(
                "malformed payload (line {}, column {})",
                e.line(),
                e.column()
            );
            return reply(StatusCode::BAD_REQUEST, &msg);
        }
    };
    let action = payload.get("action").and_then(Value::as_str);
    let route = work::route(&event, action);
    // The name ends up in logs, queue items and cache paths: checked, not trusted.
    let repo = payload
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        .filter(|r| split_full_name(r).is_ok());
    let (outcome, response) = match (label, route, repo) {
        ("ping", _, _) => ("ok", done(&shared, delivery, StatusCode::OK, "pong").await),
        (_, Route::Ignore, _) => ("ignored", reply(StatusCode::NO_CONTENT, "")),
        (_, _, None) => (
            "invalid",
            reply(
                StatusCode::BAD_REQUEST,
                "payload without a valid repository.full_name",
            ),
        ),
        (_, Route::Inline(kind), Some(repo)) => {
            let repo = repo.to_string();
            inline(&shared, kind, &event, repo, delivery, payload).await
        }
        (_, Route::Queue(_), Some(repo)) => {
            let item = work::item(&delivery, &event, action, repo, &payload);
            enqueue(&shared, item).await
        }
    };
    shared.metrics.delivery(label, outcome);
    response
}

/// The HMAC check every delivery passes before anything else is looked at: the refusal, if
/// the signature is missing or wrong.
fn refuse_unsigned(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let Some(key) = &shared.webhook_key else {
        shared.metrics.signature_failure("webhook");
        let msg = format!(
            "webhooks are not accepted: ${} was not set when keysweep serve started",
            shared.webhook_secret_env
        );
        return Some(reply(StatusCode::UNAUTHORIZED, &msg));
    };
    let signature = header(headers, "x-hub-signature-256");
    if !signature_matches(key, signature.as_deref(), body) {
        shared.metrics.signature_failure("webhook");
        return Some(reply(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-Hub-Signature-256 (HMAC-SHA256 of the body with the webhook secret)",
        ));
    }
    None
}

/// Scans a text-bearing delivery and revokes what it carries before answering; the delivery
/// is recorded only if every key was settled, so a redelivery retries a failure.
async fn inline(
    shared: &Arc<Shared>,
    kind: Kind,
    event: &str,
    repo: String,
    delivery: String,
    payload: Value,
) -> (&'static str, Response) {
    let s = shared.clone();
    let context = format!("webhook {event} {repo} ({delivery})");
    let result = tokio::task::spawn_blocking(move || {
        let mut findings = work::scan_inline(&s, kind, &repo, &payload)?;
        drop(payload);
        let failed = work::conclude(&s, &mut findings, &context)?;
        anyhow::Ok((findings.len(), failed))
    })
    .await;
    match result {
        Ok(Ok((found, 0))) => {
            let msg = format!("scanned: {found} finding(s)");
            (
                "scanned",
                done(shared, delivery, StatusCode::OK, &msg).await,
            )
        }
        Ok(Ok((_, failed))) => {
            let msg = format!("revocation failed for {failed} key(s); redeliver later");
            ("failed", retry_later(&msg))
        }
        Ok(Err(e)) => {
            shared
                .messages
                .error(format_args!("webhook {delivery}: {e:#}"));
            (
                "failed",
                reply(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
            )
        }
        Err(e) => (
            "failed",
            reply(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        ),
    }
}

/// Makes repository work durable, then acknowledges it (202).
async fn enqueue(shared: &Arc<Shared>, item: Item) -> (&'static str, Response) {
    let s = shared.clone();
    let delivery = item.delivery.clone();
    let pushed = tokio::task::spawn_blocking(move || s.queue.push(&item)).await;
    shared.metrics.queue_depth.store(
        shared.queue.len() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    match pushed {
        Ok(Ok(())) => (
            "queued",
            done(shared, delivery, StatusCode::ACCEPTED, "queued").await,
        ),
        Ok(Err(e @ PushError::Full(_))) => ("busy", retry_later(&e.to_string())),
        Ok(Err(e)) => {
            shared
                .messages
                .error(format_args!("webhook {delivery}: {e}"));
            ("failed", retry_later(&e.to_string()))
        }
        Err(e) => (
            "failed",
            reply(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        ),
    }
}

pub fn retry_later(message: &str) -> Response {
    let mut r = reply(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert("retry-after", axum::http::HeaderValue::from_static("60"));
    r
}

/// Records the delivery as handled, then answers `status` with `message`.
async fn done(
    shared: &Arc<Shared>,
    delivery: String,
    status: StatusCode,
    message: &str,
) -> Response {
    record(shared, delivery)
        .await
        .unwrap_or_else(|| reply(status, message))
}

/// Records a handled delivery; `Some(error response)` when it could not be made durable, so
/// GitHub delivers again rather than believing it done.
async fn record(shared: &Arc<Shared>, delivery: String) -> Option<Response> {
    let s = shared.clone();
    let result = tokio::task::spawn_blocking(move || s.deliveries.record(&delivery)).await;
    match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            shared
                .messages
                .error(format_args!("cannot record a webhook delivery: {e}"));
            Some(reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record the delivery",
            ))
        }
        Err(e) => Some(reply(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hmac_of_the_exact_body_is_accepted() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"It's a Secret to Everybody");
        // GitHub's documented example: this secret and body give this signature.
        let body = b"Hello, World!";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(&key, Some(good), body));
        assert!(!signature_matches(&key, Some(good), b"Hello, World?"));
        assert!(!signature_matches(
            &key,
            Some(&good.replace("sha256=", "sha1=")),
            body
        ));
        assert!(!signature_matches(&key, Some("sha256=zz"), body));
        assert!(!signature_matches(&key, None, body));
    }

    #[test]
    fn unknown_events_are_labelled_other() {
        assert_eq!(event_label("issue_comment"), "issue_comment");
        assert_eq!(event_label("star\"}"), "other");
    }
}
