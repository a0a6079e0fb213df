//! The key-service client: one idempotent `POST` per key, retried by the rules of the contract.
//!
//! Retrying is safe because every request carries `Idempotency-Key: <key_hash>`: a service that
//! already revoked the key answers 200 again (replay) or 409/410, and keysweep counts both as
//! done. What is never retried: 404 (the service does not know the key), other 4xx (the request
//! is wrong and will stay wrong), and 401/403 (the token is wrong: every later request would
//! fail the same way, so the whole run stops).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::{KeyOutcome, RevokeError, Settings, Target};

/// Backoff stops doubling here: a minute-long pause helps no one finish a revocation.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Longest `Retry-After` honoured. A service asking for more is treated as down for this run
/// (the key fails, and the next run retries it) rather than keeping a CI job alive for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Response bytes kept for an error message.
const ERROR_BODY_MAX: usize = 200;

/// The bearer token. Its `Debug` and `Display` never show it, so no error or log line can.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn from_env(var: &str, endpoint: &Url) -> anyhow::Result<Token> {
        match std::env::var(var) {
            Ok(t) if t.trim().is_empty() => {
                anyhow::bail!("${var} is empty: revocation at {endpoint} needs its token")
            }
            // Checked here, once, with a message that names the variable, rather than as a
            // request-building error on every key.
            Ok(t) if reqwest::header::HeaderValue::from_str(t.trim()).is_err() => anyhow::bail!(
                "${var} holds characters that cannot go in an HTTP header (a newline?)"
            ),
            Ok(t) => Ok(Token(t.trim().to_string())),
            Err(_) => anyhow::bail!(
                "${var} is not set: revocation at {endpoint} needs a token in that environment \
                 variable (never on the command line)"
            ),
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries of
/// many keys spread out yet never retry at once.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The wait after the `failures`-th failed attempt (1-based); `unit` is uniform in [0, 1).
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.cap);
        exp / 2 + exp.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
    }
}

/// `Retry-After` in seconds (the form the key service sends). The HTTP-date form is rare for
/// 429 and is left to the backoff.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

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
    http: reqwest::Client,
    endpoint: Url,
    token: Token,
    token_env: String,
    max_attempts: u32,
    backoff: Backoff,
    /// No request leaves before this instant. A 429 means the token is rate-limited, not one
    /// key, so every worker waits out the same `Retry-After`.
    not_before: Mutex<Option<Instant>>,
}

impl Client {
    pub fn new(settings: &Settings, token: Token) -> anyhow::Result<Client> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("keysweep/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            // A redirect would take the token, and the hashes, to a host the egress manifest
            // does not name.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(proxy) = &settings.proxy {
            builder = builder.proxy(reqwest::Proxy::all(proxy.clone()).context("[revoke] proxy")?);
        }
        Ok(Client {
            http: builder.build().context("cannot build the HTTP client")?,
            endpoint: settings.endpoint.clone(),
            token,
            token_env: settings.token_env.clone(),
            max_attempts: settings.max_attempts,
            backoff: Backoff {
                base: settings.backoff,
                cap: BACKOFF_CAP,
            },
            not_before: Mutex::new(None),
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Revokes one key, retrying as the contract allows. `stopped` is asked before every
    /// attempt: once another key hit a bad token, this one stops too.
    pub async fn revoke(
        &self,
        target: &Target,
        stopped: &(dyn Fn() -> Option<String> + Sync),
    ) -> Result<(KeyOutcome, Attempts), (RevokeError, Attempts)> {
        let mut attempts = Attempts::default();
        let mut last = String::new();
        while attempts.count < self.max_attempts {
            if let Some(reason) = stopped() {
                return Ok((KeyOutcome::Failed(reason), attempts));
            }
            self.wait_turn().await;
            attempts.count += 1;
            let step = match self.send(target).await {
                Ok(response) => {
                    attempts.status = Some(response.status().as_u16());
                    classify(response).await
                }
                // The request could not even be built: retrying cannot help.
                Err(err) if err.is_builder() => Step::Fail(describe(&err)),
                Err(err) => {
                    attempts.status = None;
                    Step::Retry {
                        reason: describe(&err),
                        after: None,
                    }
                }
            };
            match step {
                Step::Done(outcome) => return Ok((outcome, attempts)),
                Step::Fail(reason) => return Ok((KeyOutcome::Failed(reason), attempts)),
                Step::Unauthorized(status) => {
                    let err = RevokeError::Unauthorized {
                        host: self.endpoint.host_str().unwrap_or_default().to_string(),
                        status,
                        token_env: self.token_env.clone(),
                    };
                    return Err((err, attempts));
                }
                Step::Retry { reason, after } => {
                    last = reason;
                    if attempts.count >= self.max_attempts {
                        break;
                    }
                    let wait = match after {
                        Some(after) if after > MAX_RETRY_AFTER => {
                            let reason = format!(
                                "{last}: the service asks to wait {} s, more than the {} s keysweep \
                                 waits; the next run retries",
                                after.as_secs(),
                                MAX_RETRY_AFTER.as_secs()
                            );
                            return Ok((KeyOutcome::Failed(reason), attempts));
                        }
                        Some(after) => {
                            self.defer_all(after);
                            after
                        }
                        None => self.backoff.delay(attempts.count, fastrand::f64()),
                    };
                    tokio::time::sleep(wait).await;
                }
            }
        }
        let failure = format!(
            "{last} (gave up after {} attempt{})",
            attempts.count,
            if attempts.count == 1 { "" } else { "s" }
        );
        Ok((KeyOutcome::Failed(failure), attempts))
    }

    async fn send(&self, target: &Target) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(self.endpoint.clone())
            .bearer_auth(&self.token.0)
            .header("Idempotency-Key", &target.key_hash)
            .json(&target.request())
            .send()
            .await
    }

    async fn wait_turn(&self) {
        loop {
            let until = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
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

async fn classify(response: reqwest::Response) -> Step {
    let status = response.status();
    match status.as_u16() {
        200 | 201 | 204 => Step::Done(KeyOutcome::Revoked),
        409 | 410 => Step::Done(KeyOutcome::AlreadyRevoked),
        404 => Step::Done(KeyOutcome::UnknownKey),
        401 | 403 => Step::Unauthorized(status.as_u16()),
        429 => Step::Retry {
            after: retry_after(response.headers()),
            reason: "HTTP 429 rate limited".into(),
        },
        // 408 is the server timing out on us: as retryable as our own timeout.
        408 | 500..=599 => Step::Retry {
            reason: format!("HTTP {}", status_text(status)),
            after: None,
        },
        _ if status.is_redirection() => Step::Fail(format!(
            "HTTP {}: redirect to {} not followed (the endpoint must be the revoke URL itself)",
            status_text(status),
            response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
        )),
        _ => {
            let body = response.text().await.unwrap_or_default();
            let mut excerpt: String = body
                .chars()
                .take(ERROR_BODY_MAX)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if excerpt.len() < body.len() {
                excerpt.push('…');
            }
            Step::Fail(format!("HTTP {}: {}", status_text(status), excerpt.trim()))
        }
    }
}

fn status_text(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

/// A transport error with its causes ("error sending request" alone says nothing). reqwest
/// errors carry the URL but never headers, so the token cannot appear here.
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_builder() {
        "cannot build the request"
    } else if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "connection error"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    causes.dedup();
    if causes.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", causes.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_stops_at_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for (failures, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let full = Duration::from_millis(full);
            assert_eq!(b.delay(failures, 0.0), full / 2, "failures {failures}");
            let top = b.delay(failures, 0.999_999);
            assert!(
                top < full && top > full * 99 / 100,
                "failures {failures}: {top:?}"
            );
        }
        // Jitter spreads the waits: 100 draws are not all the same.
        let draws: std::collections::BTreeSet<_> =
            (0..100).map(|_| b.delay(3, fastrand::f64())).collect();
        assert!(draws.len() > 50, "{}", draws.len());
    }

    #[test]
    fn retry_after_takes_seconds_and_leaves_dates_to_the_backoff() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn the_token_never_prints() {
        let t = Token("s3cr3t-token".into());
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }
}
