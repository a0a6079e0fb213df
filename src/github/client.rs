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

// The crate is renamed in Cargo.toml (two reqwest versions are built; see there).
use reqwest13 as reqwest;

use reqwest::blocking::Response;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

/// Waits on one request before giving up: each wait is a full rate-limit window or a
/// server-requested pause, so this bounds a run that the server keeps refusing.
const MAX_RATE_WAITS: u32 = 8;
/// Attempts for server errors (5xx) and dropped connections, with backoff between them.
const MAX_ATTEMPTS: u32 = 4;
/// GitHub's advice for a secondary rate limit that names no wait: at least a minute.
const SECONDARY_DEFAULT_WAIT: Duration = Duration::from_secs(60);
const USER_AGENT: &str = concat!("keysweep/", env!("CARGO_PKG_VERSION"));

/// A GitHub token. Its `Debug` never shows the value, so it cannot leak through a `{:?}`.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Self {
        Token(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

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
    pub usage: Usage,
}

impl Client {
    pub fn new(api_url: &str, token: Option<Token>) -> anyhow::Result<Client> {
        install_crypto_provider();
        let base = Url::parse(api_url.trim_end_matches('/'))
            .map_err(|e| anyhow::anyhow!("--api-url {api_url:?} is not a URL: {e}"))?;
        anyhow::ensure!(
            matches!(base.scheme(), "https" | "http"),
            "--api-url must be an http(s) URL, not {api_url:?}"
        );
        anyhow::ensure!(
            base.scheme() == "https" || is_loopback(&base) || token.is_none(),
            "refusing to send the GitHub token over plain http to {}; use https",
            base.host_str().unwrap_or("?")
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "X-GitHub-Api-Version",
            HeaderValue::from_static("2022-11-28"),
        );
        let http = reqwest::blocking::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            // The token is attached per request and only for the API's own origin; reqwest also
            // drops it on a redirect to another host.
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        Ok(Client {
            http,
            base,
            token,
            exhausted_until: Mutex::new(None),
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
        let mut rate_waits = 0;
        let mut attempt = 0;
        loop {
            self.wait_if_exhausted();
            attempt += 1;
            let mut request = self.http.get(parsed.clone());
            if let Some(token) = self
                .token
                .as_ref()
                .filter(|_| same_origin(&parsed, &self.base))
            {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| ApiError::Transport {
                        url: url.to_string(),
                        message: "the token contains characters not allowed in a header".into(),
                    })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            if let Some(tag) = etag {
                if let Ok(v) = HeaderValue::from_str(tag) {
                    request = request.header(IF_NONE_MATCH, v);
                }
            }
            self.usage.requests.fetch_add(1, Relaxed);
            let response = match request.send() {
                Ok(r) => r,
                Err(e) if attempt < MAX_ATTEMPTS => {
                    let pause = backoff(attempt);
                    eprintln!(
                        "keysweep: note: {url}: {}; retrying in {}s",
                        describe(&e),
                        pause.as_secs()
                    );
                    std::thread::sleep(pause);
                    continue;
                }
                Err(e) => {
                    return Err(ApiError::Transport {
                        url: url.to_string(),
                        message: describe(&e),
                    })
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
                rate_waits += 1;
                if rate_waits > MAX_RATE_WAITS {
                    return Err(ApiError::RateLimited {
                        url: url.to_string(),
                        waits: MAX_RATE_WAITS,
                    });
                }
                // Only a limit that gave no timing gets longer each time (GitHub's advice).
                let pause = match wait {
                    Wait::Unspecified => SECONDARY_DEFAULT_WAIT * rate_waits,
                    Wait::For(d) => d,
                };
                if let Wait::For(_) = wait {
                    if headers
                        .get("x-ratelimit-remaining")
                        .is_some_and(|v| v == "0")
                    {
                        *self.lock_exhausted() = Some(unix_now() + pause.as_secs());
                    }
                }
                self.usage.rate_waits.fetch_add(1, Relaxed);
                eprintln!(
                    "keysweep: note: GitHub rate limit reached ({}); waiting {}s before retrying",
                    limit_kind(&headers),
                    pause.as_secs()
                );
                std::thread::sleep(pause);
                attempt = 0;
                continue;
            }
            if status.is_server_error() && attempt < MAX_ATTEMPTS {
                let pause = backoff(attempt);
                eprintln!(
                    "keysweep: note: {url}: HTTP {}; retrying in {}s",
                    status.as_u16(),
                    pause.as_secs()
                );
                std::thread::sleep(pause);
                continue;
            }
            return Err(status_error(url, status, &body));
        }
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
                eprintln!(
                    "keysweep: note: GitHub API rate limit spent; waiting {pause}s for it to reset"
                );
                std::thread::sleep(Duration::from_secs(pause));
            }
            *self.lock_exhausted() = None;
        }
    }
}

fn read_reply(
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    response: Response,
) -> Result<Reply, ApiError> {
    let body = response.bytes().map_err(|e| ApiError::Transport {
        url: url.to_string(),
        message: describe(&e),
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
    if let Some(secs) = header_u64(headers, "retry-after") {
        return Some(Wait::For(Duration::from_secs(secs.max(1))));
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

pub fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1 << attempt.min(5))
}

/// A transport error without the request details (reqwest's `Display` can be long); the URL is
/// added by the caller. Never includes headers, so never the token.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_decode() || e.is_body() {
        "response body could not be read"
    } else if e.is_redirect() {
        "too many redirects"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// reqwest is built without a default crypto provider (see Cargo.toml); rustls needs one
/// chosen once per process before any TLS client exists, including gix's.
pub fn install_crypto_provider() {
    // An error means one is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    fn token_never_shows_in_debug() {
        let t = Token::new("ghp_secretvalue".into());
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn token_is_refused_over_plain_http_except_loopback() {
        let t = || Some(Token::new("x".into()));
        match Client::new("http://example.com/api", t()) {
            Ok(_) => panic!("a token would go over plain http"),
            Err(e) => assert_eq!(
                format!("{e:#}"),
                "refusing to send the GitHub token over plain http to example.com; use https"
            ),
        }
        for (url, token) in [
            ("http://127.0.0.1:8080", t()),
            ("https://example.com/api/v3", t()),
            ("http://example.com/api", None),
        ] {
            if let Err(e) = Client::new(url, token) {
                panic!("{url} refused: {e:#}");
            }
        }
    }
}
