//! GitHub's rate limits: telling a limit from a denial, how long each asks to wait, and the
//! shared pause when the hourly quota is spent.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::{unix_now, whole_secs, ApiError, Client};
use crate::http::{self, GiveUp, Retry, RetryPolicy};

/// Rate limits: each wait is a full rate-limit window or a server-requested pause, so the
/// number of waits (8) bounds a run that the server keeps refusing; the caps keep one odd
/// header (a reset hours away) from holding the run.
pub(super) const RATE_LIMITS: RetryPolicy = RetryPolicy {
    max_attempts: 9,
    base: SECONDARY_DEFAULT_WAIT,
    backoff_cap: SECONDARY_DEFAULT_WAIT,
    // The primary limit resets hourly; a minute of clock skew on top.
    max_retry_after: Duration::from_secs(3660),
    max_total_wait: Duration::from_secs(2 * 3600),
};
/// GitHub's advice for a secondary rate limit that names no wait: at least a minute.
const SECONDARY_DEFAULT_WAIT: Duration = Duration::from_secs(60);

impl Client {
    /// Waits out a rate limit, unless the policy says it has waited enough.
    pub(super) fn wait_rate_limit(
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
    pub(super) fn record_limit(&self, headers: &HeaderMap) {
        let remaining = header_u64(headers, "x-ratelimit-remaining");
        let reset = header_u64(headers, "x-ratelimit-reset");
        let mut until = self.lock_exhausted();
        match (remaining, reset) {
            (Some(0), Some(reset)) => *until = Some(reset),
            (Some(_), _) => *until = None,
            _ => {}
        }
    }

    pub(super) fn wait_if_exhausted(&self) {
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

pub(super) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
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
}
