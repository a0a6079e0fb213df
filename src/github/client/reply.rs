//! A successful response as callers see it, and an unsuccessful one as an [`ApiError`].

use reqwest::blocking::Response;
use reqwest::header::{HeaderMap, ETAG, LINK};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use super::limits::header_u64;
use super::ApiError;
use crate::http;

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
            // serde quotes the value it did not expect: only the text before that is kept.
            message: http::scrub(&e.to_string(), &[]),
        })
    }
}

pub(super) fn read_reply(
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    response: Response,
) -> Result<Reply, ApiError> {
    let body = read_body(url, response, MAX_BODY)?;
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
        body,
    })
}

/// Larger than any page, compare or object GitHub sends (a compare is cut at 300 files).
const MAX_BODY: u64 = 256 << 20;
/// An error body is read for its `message` only.
pub(super) const MAX_ERROR_BODY: u64 = 1 << 20;

/// The body, if it holds at most `max` bytes: a server cannot make keysweep hold more.
pub(super) fn read_body(url: &str, response: Response, max: u64) -> Result<Vec<u8>, ApiError> {
    use std::io::Read;
    let mut body = Vec::new();
    response
        .take(max + 1)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::Transport {
            url: url.to_string(),
            message: format!("reading the response: {e}"),
        })?;
    if body.len() as u64 > max {
        return Err(ApiError::Decode {
            url: url.to_string(),
            message: format!("the response is larger than {} MiB: refused", max >> 20),
        });
    }
    Ok(body)
}

/// The error for a failed request; GitHub's `message` is kept only scrubbed (see
/// [`http::scrub`]): the token sent, and anything secret-shaped, never reach a message.
pub(super) fn status_error(url: &str, status: StatusCode, body: &str, token: &[&str]) -> ApiError {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(|m| http::scrub(m, token))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
