//! The GitHub REST client: one place that knows about tokens, rate limits, retries, `Link`
//! pagination and conditional requests.
//!
//! Built on reqwest rather than octocrab (see docs/github.md, "Why not octocrab"): octocrab's
//! typed calls turn every non-2xx response into an error that has dropped the response headers,
//! so `Retry-After` and `X-RateLimit-Reset` are gone by the time we could wait on them, and its
//! ETag support hides `X-Poll-Interval`. Everything here goes through [`Client::send`], which
//! sees every header.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

pub use crate::http::Token;
use crate::http::{self, ClientOptions, GiveUp, Retry, RetryPolicy};
use crate::messages::Messages;

/// Server errors (5xx) and dropped connections: 4 attempts, waits drawn below 2, 4 and 8 s.
const TRANSIENT: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base: Duration::from_secs(2),
    backoff_cap: Duration::from_secs(32),
    max_retry_after: Duration::from_secs(32),
    max_total_wait: Duration::from_secs(60),
};
/// Rate limits: each wait is a full rate-limit window or a server-requested pause, so the
/// number of waits (8) bounds a run that the server keeps refusing; the caps keep one odd
/// header (a reset hours away) from holding the run.
const RATE_LIMITS: RetryPolicy = RetryPolicy {
    max_attempts: 9,
    base: SECONDARY_DEFAULT_WAIT,
    backoff_cap: SECONDARY_DEFAULT_WAIT,
    // The primary limit resets hourly; a minute of clock skew on top.
    max_retry_after: Duration::from_secs(3660),
    max_total_wait: Duration::from_secs(2 * 3600),
};
/// GitHub's advice for a secondary rate limit that names no wait: at least a minute.
const SECONDARY_DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// Why a request failed. Callers branch on these: a missing repository is skipped, a rejected
/// token stops everything, a missing compare base falls back to the mirror.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{url}: not found (deleted, renamed, or not visible to this token)")]
    NotFound { url: String },
    #[error(
        "{url}: GitHub rejected the token (401): check that it is valid, not expired, and \
         authorised for this organisation (SSO)"
    )]
    Unauthorized { url: String },
    #[error("{url}: access denied (403): {message}")]
    Forbidden { url: String, message: String },
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: still rate limited after {waits} waits; try again later")]
    RateLimited { url: String, waits: u32 },
    #[error("{url}: rate limited for {secs}s, longer than keysweep waits; try again later")]
    RateLimitedFor { url: String, secs: u64 },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: unexpected response: {message}")]
    Decode { url: String, message: String },
}

/// A successful (2xx or 304) response, with the headers callers need.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub etag: Option<String>,
    /// `X-Poll-Interval` in seconds (events endpoints).
    pub poll_interval: Option<u64>,
    /// The `rel="next"` URL of the `Link` header.
    pub next: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn not_modified(&self) -> bool {
        self.status == 304
    }

    pub fn json<T: DeserializeOwned>(&self, url: &str) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::Decode {
            url: url.to_string(),
            message: e.to_string(),
        })
    }
}

/// Counters for the closing summary and for the cost figures in docs/github.md.
#[derive(Debug, Default)]
pub struct Usage {
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
    pub rate_waits: AtomicU64,
}

pub struct Client {
    http: reqwest::blocking::Client,
    base: Url,
    token: Option<Token>,
    /// When the primary limit is spent: the reset time (unix seconds). Shared by every thread
    /// so a sweep stops all requests, not just the one that saw the 403.
    exhausted_until: Mutex<Option<u64>>,
    messages: Messages,
    pub usage: Usage,
}

impl Client {
    pub fn new(api_url: &str, token: Option<Token>, messages: &Messages) -> anyhow::Result<Client> {
        let base = Url::parse(api_url.trim_end_matches('/'))
            .map_err(|e| anyhow::anyhow!("--api-url {api_url:?} is not a URL: {e}"))?;
        anyhow::ensure!(
            matches!(base.scheme(), "https" | "http"),
            "--api-url must be an http(s) URL, not {api_url:?}"
        );
        anyhow::ensure!(
            base.scheme() == "https" || http::is_loopback(&base) || token.is_none(),
            "refusing to send the GitHub token over plain http to {}; use https",
            base.host_str().unwrap_or("?")
        );
        let mut options = ClientOptions::new(Duration::from_secs(120), Duration::from_secs(15));
        options.headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        options.headers.insert(
            "X-GitHub-Api-Version",
            HeaderValue::from_static("2022-11-28"),
        );
        // The token is attached per request and only for the API's own origin; reqwest also
        // drops it on a redirect to another host.
        options.redirects = 5;
        Ok(Client {
            http: options.build()?,
            base,
            token,
            exhausted_until: Mutex::new(None),
            messages: messages.clone(),
            usage: Usage::default(),
        })
    }

    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Host and port of the API, e.g. `api.github.com`: names the cache directory, so mirrors
    /// of github.com and of an Enterprise server never mix.
    pub fn host_label(&self) -> String {
        let host = self.base.host_str().unwrap_or("github");
        match self.base.port() {
            Some(p) => format!("{host}_{p}"),
            None => host.to_string(),
        }
    }

    /// The host git should present the token to: the API host, or for github.com-style
    /// `api.` hosts the web host that serves clones.
    pub fn git_hosts(&self) -> Vec<String> {
        let host = self.base.host_str().unwrap_or_default().to_string();
        let mut hosts = vec![host.clone()];
        if let Some(web) = host.strip_prefix("api.") {
            hosts.push(web.to_string());
        }
        hosts
    }

    /// `path` (starting with `/`) under the API base, or an absolute URL as given.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
        }
    }

    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let url = self.url(path);
        self.send(&url, None)?.json(&url)
    }

    /// Every page of a list endpoint, following `Link: rel="next"` until it ends.
    pub fn get_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        mut each: impl FnMut(Vec<T>),
    ) -> Result<(), ApiError> {
        let mut next = Some(self.url(path));
        while let Some(url) = next.take() {
            let reply = self.send(&url, None)?;
            each(reply.json(&url)?);
            next = reply.next;
        }
        Ok(())
    }

    /// One GET, with `If-None-Match` when an ETag is given (a 304 comes back as a [`Reply`]),
    /// waiting out rate limits and retrying transient failures.
    pub fn send(&self, url: &str, etag: Option<&str>) -> Result<Reply, ApiError> {
        let parsed = Url::parse(url).map_err(|e| ApiError::Transport {
            url: url.to_string(),
            message: format!("not a URL: {e}"),
        })?;
        let mut rate_limits = RATE_LIMITS.start();
        let mut transient = TRANSIENT.start();
        loop {
            self.wait_if_exhausted();
            self.usage.requests.fetch_add(1, Relaxed);
            let response = match self.request(&parsed, etag).send() {
                Ok(r) => r,
                Err(e) => {
                    let message = http::describe(&e);
                    let Ok(pause) = transient.failed(None) else {
                        let url = url.to_string();
                        return Err(ApiError::Transport { url, message });
                    };
                    self.pause(pause, format_args!("{url}: {message}"));
                    continue;
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.record_limit(&headers);
            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                if status == StatusCode::NOT_MODIFIED {
                    self.usage.not_modified.fetch_add(1, Relaxed);
                }
                return read_reply(url, status, &headers, response);
            }
            let body = response.text().unwrap_or_default();
            if let Some(wait) = rate_limit_wait(status, &headers, &body, unix_now()) {
                self.wait_rate_limit(url, &headers, wait, &mut rate_limits)?;
                // A new window: transient failures before it say nothing about after it.
                transient = TRANSIENT.start();
                continue;
            }
            if status.is_server_error() {
                if let Ok(pause) = transient.failed(None) {
                    self.pause(pause, format_args!("{url}: HTTP {}", status.as_u16()));
                    continue;
                }
            }
            return Err(status_error(url, status, &body));
        }
    }

    fn request(&self, url: &Url, etag: Option<&str>) -> RequestBuilder {
        let mut request = self.http.get(url.clone());
        if let Some(token) = self.token.as_ref().filter(|_| same_origin(url, &self.base)) {
            request = request.header(AUTHORIZATION, token.authorization());
        }
        if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
            request = request.header(IF_NONE_MATCH, tag);
        }
        request
    }

    /// Sleeps before a retry, saying why.
    fn pause(&self, pause: Duration, why: std::fmt::Arguments<'_>) {
        self.messages
            .note(format_args!("{why}; retrying in {}s", whole_secs(pause)));
        std::thread::sleep(pause);
    }

    /// Waits out a rate limit, unless the policy says it has waited enough.
    fn wait_rate_limit(
        &self,
        url: &str,
        headers: &HeaderMap,
        wait: Wait,
        retry: &mut Retry,
    ) -> Result<(), ApiError> {
        // Only a limit that gave no timing gets longer each time (GitHub's advice).
        let pause = match wait {
            Wait::Unspecified => SECONDARY_DEFAULT_WAIT * (retry.failures() + 1),
            Wait::For(d) => d,
        };
        let pause = retry.failed(Some(pause)).map_err(|give_up| {
            let url = url.to_string();
            match give_up {
                GiveUp::WaitTooLong(d) => ApiError::RateLimitedFor {
                    url,
                    secs: d.as_secs(),
                },
                GiveUp::Attempts(_) | GiveUp::TotalWait(_) => ApiError::RateLimited {
                    url,
                    waits: retry.failures() - 1,
                },
            }
        })?;
        if matches!(wait, Wait::For(_))
            && headers
                .get("x-ratelimit-remaining")
                .is_some_and(|v| v == "0")
        {
            *self.lock_exhausted() = Some(unix_now() + pause.as_secs());
        }
        self.usage.rate_waits.fetch_add(1, Relaxed);
        self.messages.note(format_args!(
            "GitHub rate limit reached ({}); waiting {}s before retrying",
            limit_kind(headers),
            whole_secs(pause)
        ));
        std::thread::sleep(pause);
        Ok(())
    }

    fn lock_exhausted(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        self.exhausted_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers a spent primary limit so every thread waits for the reset instead of
    /// spending a request to learn the same thing.
    fn record_limit(&self, headers: &HeaderMap) {
        let remaining = header_u64(headers, "x-ratelimit-remaining");
        let reset = header_u64(headers, "x-ratelimit-reset");
        let mut until = self.lock_exhausted();
        match (remaining, reset) {
            (Some(0), Some(reset)) => *until = Some(reset),
            (Some(_), _) => *until = None,
            _ => {}
        }
    }

    fn wait_if_exhausted(&self) {
        let until = *self.lock_exhausted();
        if let Some(reset) = until {
            let now = unix_now();
            if reset > now {
                let pause = reset - now + 1;
                self.usage.rate_waits.fetch_add(1, Relaxed);
                self.messages.note(format_args!(
                    "GitHub API rate limit spent; waiting {pause}s for it to reset"
                ));
                std::thread::sleep(Duration::from_secs(pause));
            }
            *self.lock_exhausted() = None;
        }
    }
}

/// A wait as the notes give it: whole seconds, rounded up so that a drawn 0.3 s is "1s".
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn read_reply(
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    response: Response,
) -> Result<Reply, ApiError> {
    let body = response.bytes().map_err(|e| ApiError::Transport {
        url: url.to_string(),
        message: http::describe(&e),
    })?;
    Ok(Reply {
        status: status.as_u16(),
        etag: headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        poll_interval: header_u64(headers, "x-poll-interval"),
        next: headers
            .get(LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link),
        body: body.to_vec(),
    })
}

fn status_error(url: &str, status: StatusCode, body: &str) -> ApiError {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let url = url.to_string();
    match status.as_u16() {
        401 => ApiError::Unauthorized { url },
        403 => ApiError::Forbidden { url, message },
        404 | 410 => ApiError::NotFound { url },
        code => ApiError::Status {
            url,
            status: code,
            message,
        },
    }
}

/// How long a rate-limit response asks us to wait.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    For(Duration),
    /// A limit that gave no timing: back off by GitHub's rule of thumb.
    Unspecified,
}

/// Whether a failed response is a rate limit, and for how long to wait. GitHub answers both
/// the primary limit (`X-RateLimit-Remaining: 0` with a reset time) and secondary limits
/// (`Retry-After`, or only a message) with 403 or 429; a 403 without either is a real denial.
pub fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: u64,
) -> Option<Wait> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    if let Some(after) = http::retry_after(headers, UNIX_EPOCH + Duration::from_secs(now)) {
        return Some(Wait::For(after.max(Duration::from_secs(1))));
    }
    if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
        return Some(match header_u64(headers, "x-ratelimit-reset") {
            // One extra second: the reset time is whole seconds and clocks differ a little.
            Some(reset) => Wait::For(Duration::from_secs(reset.saturating_sub(now).max(1) + 1)),
            None => Wait::Unspecified,
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS || body.to_ascii_lowercase().contains("rate limit") {
        return Some(Wait::Unspecified);
    }
    None
}

fn limit_kind(headers: &HeaderMap) -> &'static str {
    if headers.contains_key("retry-after") {
        "secondary limit, server asked for a pause"
    } else if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
        "hourly request quota spent"
    } else {
        "secondary limit"
    }
}

/// The `rel="next"` target of a `Link` header (RFC 8288, as GitHub writes it).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| target.to_string())
    })
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn link_header_next_is_found_among_others() {
        let h = r#"<https://api.github.com/organizations/1/repos?page=1>; rel="prev", <https://api.github.com/organizations/1/repos?page=3>; rel="next", <https://api.github.com/organizations/1/repos?page=9>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/organizations/1/repos?page=3")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="first""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn primary_limit_waits_until_reset_plus_a_second() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1010"),
        ]);
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, "", 1000),
            Some(Wait::For(Duration::from_secs(11)))
        );
        // A reset already past (clock skew) still pauses briefly rather than hammering.
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, "", 2000),
            Some(Wait::For(Duration::from_secs(2)))
        );
    }

    #[test]
    fn secondary_limits_and_plain_denials_are_told_apart() {
        let h = headers(&[("retry-after", "30")]);
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h, "", 0),
            Some(Wait::For(Duration::from_secs(30)))
        );
        let none = HeaderMap::new();
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &none,
                r#"{"message":"You have exceeded a secondary rate limit"}"#,
                0
            ),
            Some(Wait::Unspecified)
        );
        let h = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &h,
                r#"{"message":"Resource not accessible by integration"}"#,
                0
            ),
            None
        );
        assert_eq!(rate_limit_wait(StatusCode::NOT_FOUND, &none, "", 0), None);
    }

    #[test]
    fn a_retry_after_date_is_waited_for_like_seconds() {
        let h = headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        let at = 1_445_412_480; // that date, in unix seconds
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h, "", at - 30),
            Some(Wait::For(Duration::from_secs(30)))
        );
        // Already past: the shortest pause, as for `Retry-After: 0`.
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, "", at + 30),
            Some(Wait::For(Duration::from_secs(1)))
        );
    }

    #[test]
    fn waits_are_noted_in_whole_seconds_rounded_up() {
        assert_eq!(whole_secs(Duration::ZERO), 0);
        assert_eq!(whole_secs(Duration::from_millis(300)), 1);
        assert_eq!(whole_secs(Duration::from_secs(60)), 60);
    }

    #[test]
    fn token_is_refused_over_plain_http_except_loopback() {
        let t = || Some(Token::parse("GITHUB_TOKEN", "x").unwrap());
        let m = Messages::capture();
        let err = Client::new("http://example.com/api", t(), &m)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to send the GitHub token over plain http to example.com; use https"
        );
        assert!(Client::new("http://127.0.0.1:8080", t(), &m).is_ok());
        assert!(Client::new("http://LOCALHOST:8080", t(), &m).is_ok());
        assert!(Client::new("https://example.com/api/v3", t(), &m).is_ok());
        assert!(Client::new("http://example.com/api", None, &m).is_ok());
    }
}
