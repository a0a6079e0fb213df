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

use super::deliveries::valid_id;
use super::{header, reply, Shared};

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
    let Some(key) = &shared.webhook_key else {
        shared.metrics.signature_failure("webhook");
        let msg = format!(
            "webhooks are not accepted: ${} was not set when keysweep serve started",
            shared.webhook_secret_env
        );
        return reply(StatusCode::UNAUTHORIZED, &msg);
    };
    let signature = header(&headers, "x-hub-signature-256");
    if !signature_matches(key, signature.as_deref(), &body) {
        shared.metrics.signature_failure("webhook");
        return reply(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-Hub-Signature-256 (HMAC-SHA256 of the body with the webhook secret)",
        );
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
    match label {
        "ping" => {
            let done = record(&shared, delivery).await;
            shared.metrics.delivery(label, "ok");
            done.unwrap_or_else(|| reply(StatusCode::OK, "pong"))
        }
        _ => {
            shared.metrics.delivery(label, "ignored");
            reply(StatusCode::NO_CONTENT, "")
        }
    }
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
