//! When to try a request again and how long to wait first: one policy for every client.
//!
//! Backoff is exponential with full jitter (a uniform draw below the exponential ceiling; AWS
//! Architecture Blog, "Exponential Backoff and Jitter", 2015): of the jitter schemes it spreads
//! many clients retrying at once the most, which is the case of a revocation pool or a sweep's
//! threads meeting the same outage. A server's `Retry-After` replaces the draw. Every wait is
//! capped, and so is their sum, so a server that keeps refusing cannot hold a run forever.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries per request, the first included.
    pub max_attempts: u32,
    /// The ceiling of the first backoff; it doubles per failure.
    pub base: Duration,
    /// The backoff ceiling stops doubling here.
    pub backoff_cap: Duration,
    /// The longest server-requested wait honoured. A server asking for more is treated as down
    /// for this run rather than keeping the run alive for hours.
    pub max_retry_after: Duration,
    /// The sum of one request's waits stays within this.
    pub max_total_wait: Duration,
}

/// Why a request is not tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Every attempt was made: how many.
    Attempts(u32),
    /// The server asked for a wait longer than `max_retry_after`: the wait asked.
    WaitTooLong(Duration),
    /// The next wait would take the sum past `max_total_wait`: the time waited so far.
    TotalWait(Duration),
}

impl RetryPolicy {
    /// The backoff after the `failures`-th failed attempt (1-based), for `unit` uniform in
    /// [0, 1): uniform in [0, min(cap, base · 2^(failures-1))).
    pub fn backoff(&self, failures: u32, unit: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.backoff_cap);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The retry state of one request.
    pub fn start(&self) -> Retry {
        Retry {
            policy: *self,
            failures: 0,
            waited: Duration::ZERO,
        }
    }
}

/// One request's failures so far, against its policy.
#[derive(Debug, Clone)]
pub struct Retry {
    policy: RetryPolicy,
    failures: u32,
    waited: Duration,
}

impl Retry {
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Counts a failed attempt and says how long to wait before the next, or why there is
    /// none. `asked` is the server's `Retry-After`, if it sent one.
    pub fn failed(&mut self, asked: Option<Duration>) -> Result<Duration, GiveUp> {
        self.failed_with(asked, fastrand::f64())
    }

    fn failed_with(&mut self, asked: Option<Duration>, unit: f64) -> Result<Duration, GiveUp> {
        self.failures += 1;
        let p = &self.policy;
        if self.failures >= p.max_attempts {
            return Err(GiveUp::Attempts(self.failures));
        }
        let wait = match asked {
            Some(asked) if asked > p.max_retry_after => return Err(GiveUp::WaitTooLong(asked)),
            Some(asked) => asked,
            None => p.backoff(self.failures, unit),
        };
        if self.waited + wait > p.max_total_wait {
            return Err(GiveUp::TotalWait(self.waited));
        }
        self.waited += wait;
        Ok(wait)
    }
}

/// `Retry-After` in either form RFC 9110 allows: delay seconds, or an HTTP-date (a date already
/// past is no wait). `now` is the clock the date is read against.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 6,
        base: Duration::from_millis(100),
        backoff_cap: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(120),
        max_total_wait: Duration::from_secs(300),
    };

    #[test]
    fn backoff_doubles_its_ceiling_up_to_the_cap_and_draws_below_it() {
        for (failures, ceiling) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let ceiling = Duration::from_millis(ceiling);
            assert_eq!(POLICY.backoff(failures, 0.0), Duration::ZERO);
            assert_eq!(POLICY.backoff(failures, 0.5), ceiling / 2, "{failures}");
            let top = POLICY.backoff(failures, 0.999_999);
            assert!(
                top < ceiling && top > ceiling * 99 / 100,
                "{failures}: {top:?}"
            );
        }
        // Full jitter: draws spread over the whole range, not only its upper half.
        let draws: BTreeSet<_> = (0..200)
            .map(|_| POLICY.backoff(3, fastrand::f64()))
            .collect();
        assert!(draws.len() > 100, "{}", draws.len());
        assert!(draws.iter().any(|d| *d < Duration::from_millis(100)));
        assert!(draws.iter().all(|d| *d < Duration::from_millis(400)));
    }

    #[test]
    fn attempts_run_out_after_max_attempts_tries() {
        let mut r = POLICY.start();
        for n in 1..6 {
            let wait = r.failed_with(None, 0.5).unwrap();
            assert_eq!(wait, POLICY.backoff(n, 0.5));
        }
        assert_eq!(r.failed_with(None, 0.5), Err(GiveUp::Attempts(6)));
        assert_eq!(r.failures(), 6);
        let one = RetryPolicy {
            max_attempts: 1,
            ..POLICY
        };
        assert_eq!(one.start().failed(None), Err(GiveUp::Attempts(1)));
    }

    #[test]
    fn a_server_wait_replaces_the_draw_within_its_cap() {
        let mut r = POLICY.start();
        assert_eq!(
            r.failed_with(Some(Duration::from_secs(7)), 0.5),
            Ok(Duration::from_secs(7))
        );
        assert_eq!(
            r.failed_with(Some(Duration::from_secs(121)), 0.5),
            Err(GiveUp::WaitTooLong(Duration::from_secs(121)))
        );
    }

    #[test]
    fn the_sum_of_waits_is_bounded() {
        let mut r = POLICY.start();
        let minute = Some(Duration::from_secs(100));
        for _ in 0..3 {
            assert_eq!(r.failed(minute), Ok(Duration::from_secs(100)));
        }
        assert_eq!(
            r.failed(minute),
            Err(GiveUp::TotalWait(Duration::from_secs(300)))
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let at = httpdate::parse_http_date(date).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, at), None);
        h.insert(RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&h, at), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, date.parse().unwrap());
        let before = at - Duration::from_secs(90);
        assert_eq!(retry_after(&h, before), Some(Duration::from_secs(90)));
        // A date already past: go now.
        let after = at + Duration::from_secs(5);
        assert_eq!(retry_after(&h, after), Some(Duration::ZERO));
        // The obsolete forms RFC 9110 still asks recipients to read.
        h.insert(
            RETRY_AFTER,
            "Wednesday, 21-Oct-15 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, before), Some(Duration::from_secs(90)));
        for junk in ["-1", "soon", "1.5"] {
            h.insert(RETRY_AFTER, junk.parse().unwrap());
            assert_eq!(retry_after(&h, before), None, "{junk}");
        }
    }
}
