//! The GitHub REST client: one place that knows about tokens, rate limits, retries, `Link`
//! pagination and conditional requests.
//!
//! Built on reqwest rather than octocrab (see docs/github.md, "Why not octocrab"): octocrab's
//! typed calls turn every non-2xx response into an error that has dropped the response headers,
//! so `Retry-After` and `X-RateLimit-Reset` are gone by the time we could wait on them, and its
//! ETag support hides `X-Poll-Interval`. Everything here goes through [`Client::send`], which
//! sees every header.

mod limits;
mod pages;
mod reply;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::blocking::RequestBuilder;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, IF_NONE_MATCH};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

pub use crate::http::Token;
use crate::http::{self, ClientOptions, RetryPolicy};
use crate::messages::Messages;
use limits::RATE_LIMITS;
pub use limits::{rate_limit_wait, Wait};
pub use pages::{Pages, MAX_PAGES};
pub use reply::{next_link, Reply};
use reply::{read_reply, status_error};

/// Server errors (5xx) and dropped connections: 4 attempts, waits drawn below 2, 4 and 8 s.
const TRANSIENT: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base: Duration::from_secs(2),
    backoff_cap: Duration::from_secs(32),
    max_retry_after: Duration::from_secs(32),
    max_total_wait: Duration::from_secs(60),
};
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
        let mut url = self.url(path);
        let mut pages = Pages::new(&url, MAX_PAGES);
        loop {
            let reply = self.send(&url, None)?;
            each(reply.json(&url)?);
            let Some(next) = reply.next else {
                return Ok(());
            };
            pages.follow(&url, &next)?;
            url = next;
        }
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
            let body = reply::read_body(url, response, reply::MAX_ERROR_BODY).unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
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
            let token: Vec<&str> = self.token.iter().map(Token::expose).collect();
            return Err(status_error(url, status, &body, &token));
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
}

/// A wait as the notes give it: whole seconds, rounded up so that a drawn 0.3 s is "1s".
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
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
        for (url, token) in [
            ("http://127.0.0.1:8080", t()),
            ("http://LOCALHOST:8080", t()),
            ("https://example.com/api/v3", t()),
            ("http://example.com/api", None),
        ] {
            if let Err(e) = Client::new(url, token, &m) {
                panic!("{url} refused: {e:#}");
            }
        }
    }
}
