//! The key-service client: one idempotent `POST` per key, retried by the rules of the contract.
//!
//! Retrying is safe because every request carries `Idempotency-Key: <key_hash>`: a service that
//! already revoked the key answers 200 again (replay) or 409/410, and keysweep counts both as
//! done. What is never retried: 404 (the service does not know the key), other 4xx (the request
//! is wrong and will stay wrong), and 401/403 (the token is wrong: every later request would
//! fail the same way, so the whole run stops).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use reqwest::blocking::Response;
use reqwest::header::{HeaderValue, AUTHORIZATION, LOCATION};
use reqwest::{StatusCode, Url};

use super::{KeyOutcome, RevokeError, Settings, Target};
use crate::http::{self, ClientOptions, GiveUp, Proxy, RetryPolicy, Token};
use crate::messages::plural;

/// What keysweep knows after the last attempt for a key, for the journal.
#[derive(Debug, Clone, Default)]
pub struct Attempts {
    pub count: u32,
    pub status: Option<u16>,
}

/// The result of one attempt.
enum Step {
    Done(KeyOutcome),
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    Fail(String),
    Unauthorized(u16),
}

pub struct Client {
    http: reqwest::blocking::Client,
    endpoint: Url,
    authorization: HeaderValue,
    token_env: String,
    retry: RetryPolicy,
    /// No request leaves before this instant. A 429 means the token is rate-limited, not one
    /// key, so every worker waits out the same `Retry-After`.
    not_before: Mutex<Option<Instant>>,
}

impl Client {
    pub fn new(settings: &Settings, token: Token) -> anyhow::Result<Client> {
        let mut options = ClientOptions::new(
            settings.timeout,
            settings.timeout.min(Duration::from_secs(5)),
        );
        // No redirects (the default): one would take the token, and the hashes, to a host the
        // egress manifest does not name. No proxy from the environment, for the same reason.
        options.proxy = match &settings.proxy {
            Some(proxy) => Proxy::Only(proxy.clone()),
            None => Proxy::Direct,
        };
        Ok(Client {
            http: options.build()?,
            endpoint: settings.endpoint.clone(),
            authorization: token.authorization(),
            token_env: settings.token_env.clone(),
            retry: settings.retry,
            not_before: Mutex::new(None),
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Revokes one key, retrying as the contract allows. `stopped` is asked before every
    /// attempt: once another key hit a bad token, this one stops too.
    pub fn revoke(
        &self,
        target: &Target,
        stopped: &dyn Fn() -> Option<KeyOutcome>,
    ) -> Result<(KeyOutcome, Attempts), (RevokeError, Attempts)> {
        let mut attempts = Attempts::default();
        let mut retry = self.retry.start();
        loop {
            if let Some(outcome) = stopped() {
                return Ok((outcome, attempts));
            }
            self.wait_turn();
            attempts.count += 1;
            let (reason, after) = match self.attempt(target, &mut attempts) {
                Step::Done(outcome) => return Ok((outcome, attempts)),
                Step::Fail(reason) => return Ok((KeyOutcome::Failed(reason), attempts)),
                Step::Unauthorized(status) => return Err((self.unauthorized(status), attempts)),
                Step::Retry { reason, after } => (reason, after),
            };
            match retry.failed(after) {
                Ok(wait) => {
                    if after.is_some() {
                        self.defer_all(wait);
                    }
                    std::thread::sleep(wait);
                }
                Err(give_up) => {
                    return Ok((KeyOutcome::Failed(gave_up(&reason, give_up)), attempts))
                }
            }
        }
    }

    fn attempt(&self, target: &Target, attempts: &mut Attempts) -> Step {
        let sent = self
            .http
            .post(self.endpoint.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header("Idempotency-Key", &target.key_hash)
            .json(&target.request())
            .send();
        match sent {
            Ok(response) => {
                attempts.status = Some(response.status().as_u16());
                classify(response)
            }
            // The request could not even be built: retrying cannot help.
            Err(err) if err.is_builder() => Step::Fail(http::describe(&err)),
            Err(err) => {
                attempts.status = None;
                Step::Retry {
                    reason: http::describe(&err),
                    after: None,
                }
            }
        }
    }

    fn unauthorized(&self, status: u16) -> RevokeError {
        RevokeError::Unauthorized {
            host: self.endpoint.host_str().unwrap_or_default().to_string(),
            status,
            token_env: self.token_env.clone(),
        }
    }

    fn wait_turn(&self) {
        loop {
            let until = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
            match until.map(|t| t.saturating_duration_since(Instant::now())) {
                Some(left) if !left.is_zero() => std::thread::sleep(left),
                _ => return,
            }
        }
    }

    fn defer_all(&self, by: Duration) {
        let until = Instant::now() + by;
        let mut slot = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none_or(|t| t < until) {
            *slot = Some(until);
        }
    }
}

/// The failure recorded for a key whose retries ran out, after the last attempt's `reason`.
fn gave_up(reason: &str, give_up: GiveUp) -> String {
    match give_up {
        GiveUp::Attempts(n) => format!("{reason} (gave up after {})", plural(n, "attempt")),
        GiveUp::WaitTooLong(asked) => format!(
            "{reason}: the service asks to wait {} s, more than the {} s keysweep waits; the \
             next run retries",
            asked.as_secs(),
            super::MAX_RETRY_AFTER.as_secs()
        ),
        GiveUp::TotalWait(waited) => format!(
            "{reason} (gave up after waiting {} s in all; the next run retries)",
            waited.as_secs()
        ),
    }
}

fn classify(response: Response) -> Step {
    let status = response.status();
    match status.as_u16() {
        200 | 201 | 204 => Step::Done(KeyOutcome::Revoked),
        409 | 410 => Step::Done(KeyOutcome::AlreadyRevoked),
        404 => Step::Done(KeyOutcome::UnknownKey),
        401 | 403 => Step::Unauthorized(status.as_u16()),
        429 => Step::Retry {
            after: http::retry_after(response.headers(), SystemTime::now()),
            reason: "HTTP 429 rate limited".into(),
        },
        // 408 is the server timing out on us: as retryable as our own timeout.
        408 | 500..=599 => Step::Retry {
            reason: format!("HTTP {}", status_text(status)),
            after: None,
        },
        // Only the target's origin: a `Location` is the server's text, and may carry what it
        // echoed (a token in a query string).
        _ if status.is_redirection() => Step::Fail(format!(
            "HTTP {}: redirect to {} not followed (the endpoint must be the revoke URL itself)",
            status_text(status),
            response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| Url::parse(l).ok())
                .map_or_else(
                    || "another URL".to_string(),
                    |u| u.origin().ascii_serialization()
                )
        )),
        _ => Step::Fail(format!(
            "HTTP {}: {}",
            status_text(status),
            body_kind(response.headers())
        )),
    }
}

/// What kind of error body the service sent, never its text: a service or a proxy in between
/// may echo the request (its `Authorization` header, the key's hash, a key it holds), and
/// whatever this returns reaches stderr, reports and the journal.
fn body_kind(headers: &reqwest::header::HeaderMap) -> &'static str {
    let kind = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if kind.contains("json") {
        "the service rejected the request (its JSON error body is not shown)"
    } else if kind.contains("html") {
        "the service or a proxy answered with an HTML error page (not shown)"
    } else {
        "the service rejected the request (its error body is not shown)"
    }
}

fn status_text(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn give_up_reasons_say_why_after_the_last_error() {
        let last = "HTTP 503 Service Unavailable";
        assert_eq!(
            gave_up(last, GiveUp::Attempts(3)),
            "HTTP 503 Service Unavailable (gave up after 3 attempts)"
        );
        assert_eq!(
            gave_up(last, GiveUp::Attempts(1)),
            "HTTP 503 Service Unavailable (gave up after 1 attempt)"
        );
        assert_eq!(
            gave_up(
                "HTTP 429 rate limited",
                GiveUp::WaitTooLong(Duration::from_secs(3600))
            ),
            "HTTP 429 rate limited: the service asks to wait 3600 s, more than the 120 s \
             keysweep waits; the next run retries"
        );
        assert_eq!(
            gave_up(last, GiveUp::TotalWait(Duration::from_secs(590))),
            "HTTP 503 Service Unavailable (gave up after waiting 590 s in all; the next run \
             retries)"
        );
    }

    #[test]
    fn an_error_body_is_classified_never_copied() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert!(body_kind(&headers).contains("error body is not shown"));
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        assert!(body_kind(&headers).contains("HTML error page"));
    }
}
